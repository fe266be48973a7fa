"""formats.outbound: whatever a peer sends, the switch's answers are fit for every framing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from formats import outbound, responses
from formats.dictionary import Dictionary
from formats.errors import Reject
from formats.framing import FRAMERS, Frame, link_framer, make_framer
from formats.grammar import Parser

MAX_FRAME = 512
PARSER = Parser(Dictionary.default())

# arbitrary bytes, weighted towards control characters, framing bytes and long runs
nasty = st.one_of(
    st.binary(max_size=MAX_FRAME * 2),
    st.lists(
        st.sampled_from(
            [
                b"\x00",
                b"\x02",
                b"\x03",
                b"\r",
                b"\n",
                b"\\",
                b"\\\n",
                b"\xff",
                b"QW.",
                b"AM.OR0240000.OR0260000.TXT\n",
                b"NAM/",
                b"LM",
                b"\x7f",
                b" ",
                b"A" * 100,
            ]
        ),
        max_size=40,
    ).map(b"".join),
)


def round_trip(framing: str, text: str) -> bytes:
    framer = make_framer(framing, max_length=MAX_FRAME)
    wire = framer.encode(text.encode("latin-1"))
    # the switch writes, a terminal reads (a line link is not symmetric: docs/WIRE.md)
    events = link_framer(framing, MAX_FRAME, role="terminal").feed(wire)
    assert events == [Frame(text.encode("latin-1"))]
    return wire


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=MAX_FRAME * 2))
def test_any_text_fits_and_every_framing_carries_it(text):
    out = outbound.fit(text, MAX_FRAME)
    assert outbound.is_fit(out, MAX_FRAME)
    assert outbound.fit(out, MAX_FRAME) == out  # idempotent
    for framing in FRAMERS:
        round_trip(framing, out)


@settings(max_examples=200, deadline=None)
@given(nasty)
def test_every_answer_to_any_input_frame_round_trips_on_every_framing(payload):
    """What the switch does with a frame it cannot take: parse, reject, envelope, fit."""
    text = payload.decode("latin-1")
    result = PARSER.check(text)
    rej = result if isinstance(result, Reject) else Reject("X", "ACCEPTED", None, text[:100])
    ori = text.split(".", 2)[1][:9] if text.count(".") >= 1 else "UNKNOWN"
    envelope = "OSN/0000001 TRM/T01 DTE/20261123 TIM/143211\n"
    for body in (
        responses.reject(rej, ori),
        text,
        responses.er(
            Reject(".00.", "FORMAT ERROR", None, text[:100]), responses.NletsClock(*_clock()), ori
        ),
    ):
        frame = envelope + outbound.fit(body, MAX_FRAME - len(envelope))
        assert len(frame) <= MAX_FRAME
        for framing in FRAMERS:
            round_trip(framing, frame)


def _clock():
    from datetime import datetime

    now = datetime(2026, 11, 23, 14, 32, 11)
    return now, 1, now, 1


def test_notation_is_visible_and_documented():
    assert (
        outbound.fit("A\x02B\x03C\rD\x7fE\xe9F\u20ac", 100)
        == "A<STX>B<ETX>C<CR>D<DEL>E<xE9>F<U+20AC>"
    )
    assert outbound.fit("PATH C:\\\nNEXT\\", 100) == "PATH C:<x5C>\nNEXT<x5C>"
    assert outbound.fit("\n\nONE\n\n\nTWO\n", 100) == "ONE\nTWO"
    assert outbound.fit("", 100) == "<EMPTY>" and outbound.fit("\n\n", 100) == "<EMPTY>"
    text = "REJ.OR0240000\nREJECT CODE/BAD-FORMAT"
    assert outbound.fit(text, 100) is text  # already fit: untouched


def test_a_long_message_is_cut_at_a_line_with_a_visible_marker():
    body = "\n".join(f"LINE {i:04d} " + "X" * 60 for i in range(100))
    out = outbound.fit(body, 1000)
    assert len(out) <= 1000
    lines = out.split("\n")
    assert lines[-1].startswith("*** MESSAGE TRUNCATED - ") and f"OF {len(body)} " in lines[-1]
    assert all(line.startswith("LINE ") and len(line) == 70 for line in lines[:-1])
    sent = int(lines[-1].split()[4])
    assert sent == len("\n".join(lines[:-1]))


def test_a_limit_too_small_for_the_marker_is_refused():
    with pytest.raises(ValueError, match="at least 80"):
        outbound.fit("x", 10)
