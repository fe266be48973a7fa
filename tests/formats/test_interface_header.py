"""The NCIC interface header reader: an input header is split off whole or refused by name,
anything else passes untouched; an output header line is passed over when reading the key."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from formats import ncic_header
from formats.errors import Reject
from formats.responses import first_line_key

HEADER = st.text(
    st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters="."),
    max_size=ncic_header.MAX_HEADER,
)


@given(HEADER, st.text(max_size=200))
def test_a_header_is_split_off_whole(header, message):
    assert ncic_header.split(f"1N01{header}.{message}") == (header, message)


@given(st.text(max_size=300))
def test_any_text_gives_a_split_or_a_named_reject(text):
    out = ncic_header.split(text)
    if isinstance(out, Reject):
        assert text.startswith("1N01") and out.field == "HDR" and out.input == text[:100]
    elif not text.startswith("1N01"):
        assert out == (None, text)
    else:
        header, rest = out
        assert text == f"1N01{header}.{rest}" and len(header) <= ncic_header.MAX_HEADER


def test_refusals_say_why():
    assert "PERIOD" in ncic_header.split("1N01ABC").reason
    assert "PERIOD" in ncic_header.split("1N01AB\nC.QW").reason
    assert "LONGER THAN 40" in ncic_header.split("1N01" + "X" * 41 + ".QW").reason
    assert "NOT PRINTABLE" in ncic_header.split("1N01A\tB.QW").reason


def test_the_output_line_is_passed_over_for_the_key():
    body = f"{ncic_header.line('ORLEDS')}\nHIT.OR0240000\nMKE/WANTED PERSON"
    assert body.startswith("1L01ORLEDS\n")
    assert first_line_key(body) == ("HIT", "OR0240000")
    assert first_line_key("1L01ORLEDS") == ("", "")
