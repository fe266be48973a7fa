"""formats.envelope: what the switch builds, a terminal and a recording read back unchanged."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from formats import envelope
from formats.recording import body_key
from terminals.client import parse_output

terminals = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12)
bodies = st.text(max_size=300)
moments = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31))


def test_the_wire_text_is_the_documented_one():
    frame = envelope.build(
        42, "T01", envelope.stamp(datetime(2026, 11, 23, 14, 32, 11)), "SON.T01\nSIGN-ON ACCEPTED"
    )
    assert frame == "OSN/0000042 TRM/T01 DTE/20261123 TIM/143211\nSON.T01\nSIGN-ON ACCEPTED"
    assert envelope.build(0, "", "DTE/20261123 TIM/143211", "") == (
        "OSN/0000000 TRM/NONE DTE/20261123 TIM/143211\n"
    )


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**12), terminals, moments, bodies)
def test_build_then_parse_gives_everything_back(osn, terminal, when, body):
    frame = envelope.build(osn, terminal, envelope.stamp(when), body)
    head, rest = envelope.parse(frame)
    assert head == envelope.Envelope(osn, terminal or "NONE", f"{when:%Y%m%d}", f"{when:%H%M%S}")
    assert rest == body
    assert envelope.is_enveloped(frame)
    # the readers outside formats go through the same codec
    out = parse_output(frame)
    assert (out.osn, out.terminal, out.body, out.frame) == (osn, terminal or "NONE", body, frame)
    assert body_key(frame) == body.partition("\n")[0].partition(".")[0].strip()


@given(bodies)
def test_a_frame_without_an_envelope_is_all_body(body):
    frame = "X" + body  # whatever follows, it does not start with OSN/
    assert envelope.parse(frame) == (None, frame)
    assert parse_output(frame).osn == 0


def test_an_osn_that_is_not_digits_reads_as_zero():
    head, body = envelope.parse("OSN/12X TRM/T01\nAM.X")
    assert head == envelope.Envelope(0, "T01") and body == "AM.X"
