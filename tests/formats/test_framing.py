"""Tests for link framing: each rule of each framer, then properties over arbitrary streams.

The properties matter most: a link feeds whatever the network delivered, split wherever TCP or a
serial driver split it, so a framer must never raise, must not care about the split points, must
hold bounded memory and must find its feet again after damage.
"""

from __future__ import annotations

import functools
import itertools
import operator
import struct
import zlib
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from formats.errors import FormatError
from formats.framing import (
    DEFAULT_MAX_LENGTH,
    FRAMERS,
    HEADER,
    HEADER_SIZE,
    RAW_LIMIT,
    STX_FRAME,
    BadFrame,
    Control,
    DleFramer,
    Event,
    Frame,
    Framer,
    LengthFramer,
    LineFramer,
    PrefixFramer,
    StxEtxFramer,
    block_check,
    make_framer,
)

FAST = settings(max_examples=200, deadline=None)
NAMES = sorted(FRAMERS)


def feed_all(framer: Framer, chunks: Sequence[bytes]) -> list[Event]:
    events: list[Event] = []
    for chunk in chunks:
        events.extend(framer.feed(chunk))
    return events


def bytewise(framer: Framer, data: bytes) -> list[Event]:
    return feed_all(framer, [data[i : i + 1] for i in range(len(data))])


def split(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points)]


def length_frame(
    payload: bytes,
    *,
    version: int = 1,
    length: int | None = None,
    crc: int | None = None,
    flags: int = 0,
) -> bytes:
    """A length frame built by hand, so tests can break any field."""
    header = struct.pack(
        ">2sBBII",
        b"LM",
        version,
        flags,
        len(payload) if length is None else length,
        zlib.crc32(payload) if crc is None else crc,
    )
    return header + payload


def stx_frame(payload: bytes, bcc: int | None = None) -> bytes:
    return b"\x02" + payload + b"\x03" + bytes([block_check(payload) if bcc is None else bcc])


def reasons(events: Sequence[Event]) -> list[str]:
    return [e.reason for e in events if isinstance(e, BadFrame)]


# --- registry and common interface -------------------------------------------------------------


def test_registry_names_match_classes() -> None:
    assert {n: f.factory for n, f in FRAMERS.items() if not f.params} == {
        "line": LineFramer,
        "stx": StxEtxFramer,
        "length": LengthFramer,
        "dle": DleFramer,
    }
    assert {n for n, f in FRAMERS.items() if f.factory is PrefixFramer} == {
        "ascii4",
        "ascii5",
        "ascii6",
        "ascii4-incl",
        "ascii5-incl",
        "ascii6-incl",
        "bin2",
        "bin4",
        "bin2-incl",
        "bin4-incl",
    }
    for name, spec in FRAMERS.items():
        framer = make_framer(name)
        assert isinstance(framer, spec.factory)
        assert framer.name == name
        assert framer.max_length == min(
            DEFAULT_MAX_LENGTH,
            {
                "ascii4": 9999,
                "ascii4-incl": 9995,
                "ascii5-incl": 99995,
                "bin2": 65535,
                "bin2-incl": 65533,
            }.get(name, 65536),
        )


def test_make_framer_passes_options() -> None:
    assert make_framer("stx", max_length=10).max_length == 10


def test_make_framer_unknown_name_lists_known_ones() -> None:
    with pytest.raises(FormatError, match=r"known framers are ascii4, ascii4-incl, .*dle.*length"):
        make_framer("slip")


def test_make_framer_unknown_option_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="maxlen"):
        make_framer("line", maxlen=5)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_bad_max_length_refused(name: str, bad: object) -> None:
    with pytest.raises(FormatError, match="max_length"):
        make_framer(name, max_length=bad)


def test_length_max_length_must_fit_the_header() -> None:
    with pytest.raises(FormatError, match="32-bit"):
        LengthFramer(max_length=2**32)


def test_ack_and_nak() -> None:
    assert StxEtxFramer().ack() == b"\x06"
    assert StxEtxFramer().nak() == b"\x15"
    for cls in (LineFramer, LengthFramer):
        assert cls().ack() == b""
        assert cls().nak() == b""


@pytest.mark.parametrize("name", NAMES)
def test_encode_refuses_empty_and_non_bytes(name: str) -> None:
    framer = make_framer(name)
    with pytest.raises(FormatError, match="empty"):
        framer.encode(b"")
    with pytest.raises(FormatError, match="bytes"):
        framer.encode("TEXT")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", NAMES)
def test_encode_length_boundary(name: str) -> None:
    framer = make_framer(name, max_length=8)
    assert framer.feed(framer.encode(b"A" * 8)) == [Frame(b"A" * 8)]
    with pytest.raises(FormatError, match="longer than 8"):
        framer.encode(b"A" * 9)


@pytest.mark.parametrize("name", NAMES)
def test_feed_accepts_bytearray_and_memoryview(name: str) -> None:
    framer = make_framer(name)
    wire = framer.encode(b"HELLO")
    assert framer.feed(bytearray(wire)) == [Frame(b"HELLO")]
    assert framer.feed(memoryview(wire)) == [Frame(b"HELLO")]
    assert framer.feed(b"") == []


@pytest.mark.parametrize("name", NAMES)
def test_reset_drops_partial_data(name: str) -> None:
    framer = make_framer(name)
    wire = framer.encode(b"HELLO")
    assert framer.feed(wire[:3]) == []
    assert framer.buffered > 0
    framer.reset()
    assert framer.buffered == 0
    assert framer.feed(wire) == [Frame(b"HELLO")]


# --- line --------------------------------------------------------------------------------------


def test_line_simple_and_crlf() -> None:
    f = LineFramer()
    assert f.feed(b"QH.OR0260000.NAM/SMITH,JOHN\nQV.LIC/ABC123\r\n") == [
        Frame(b"QH.OR0260000.NAM/SMITH,JOHN"),
        Frame(b"QV.LIC/ABC123"),
    ]


def test_line_continuation_example_from_the_convention() -> None:
    f = LineFramer()
    assert f.feed(b"AM.OR0240000.OR0260000.TXT\\\nHELLO\n") == [
        Frame(b"AM.OR0240000.OR0260000.TXT\nHELLO")
    ]


def test_line_continuation_with_crlf_and_several_lines() -> None:
    f = LineFramer()
    assert f.feed(b"A\\\r\nB\\\nC\r\n") == [Frame(b"A\nB\nC")]


def test_line_continuation_ended_by_empty_line() -> None:
    assert LineFramer().feed(b"A\\\n\n") == [Frame(b"A\n")]


def test_line_empty_lines_are_keepalives() -> None:
    f = LineFramer()
    assert f.feed(b"\n\r\n\n") == []
    assert f.feed(b"X\n\n") == [Frame(b"X")]


def test_line_cr_alone_and_crlf_end_lines_too() -> None:
    assert LineFramer().feed(b"A\rB\r\r\nC\n\rD\r") == [
        Frame(b"A"),
        Frame(b"B"),
        Frame(b"C"),
        Frame(b"D"),
    ]


def test_line_crlf_split_between_chunks_is_one_line_end() -> None:
    f = LineFramer()
    assert f.feed(b"AM.OR0240000.OR0260000.TXT\r") == []
    assert f.feed(b"\nHELLO\r") == []
    assert f.feed(b"\n") == []
    assert f.feed(b"\r\n") == [Frame(b"AM.OR0240000.OR0260000.TXT\nHELLO")]


def test_line_partial_line_waits() -> None:
    f = LineFramer()
    assert f.feed(b"QV.LIC/") == []
    assert f.feed(b"ABC\\") == []
    assert f.feed(b"\r") == []
    assert f.feed(b"\nX\r") == [Frame(b"QV.LIC/ABC\nX")]


def test_line_natural_form_single_lines_and_a_txt_block() -> None:
    """What a vendor types into nc: an NCIC line is answered at its end, an Nlets header line
    ending in .TXT takes the text lines after it up to an empty line."""
    wire = (
        b"QW.OR0240000.NAM/DOE,JOHN.DOB/19800101\r\n"
        b"AM.OR0240000.OR0260000.TXT\r\nMEET AT THE COUNTY LINE\r\nAT 1400\r\n\r\n"
        b"KQ.OR0240000.WA.TXT  \nOLN/WDL1234567.PUR/C\n\n"
        b"QV.OR0240000.LIC/ABC123\n"
    )
    expected = [
        Frame(b"QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"),
        Frame(b"AM.OR0240000.OR0260000.TXT\nMEET AT THE COUNTY LINE\nAT 1400"),
        Frame(b"KQ.OR0240000.WA.TXT  \nOLN/WDL1234567.PUR/C"),
        Frame(b"QV.OR0240000.LIC/ABC123"),
    ]
    assert LineFramer().feed(wire) == expected
    assert bytewise(LineFramer(), wire) == expected
    assert bytewise(LineFramer(), wire.replace(b"\r\n", b"\r")) == expected


def test_line_txt_with_text_on_the_header_line_is_one_line() -> None:
    assert LineFramer().feed(b"RQ.OR0240000.WA.TXTLIC/ABC123.LIT/PC\nX\n") == [
        Frame(b"RQ.OR0240000.WA.TXTLIC/ABC123.LIT/PC"),
        Frame(b"X"),
    ]


def test_line_backslash_continuation_still_accepted_also_inside_a_block() -> None:
    assert LineFramer().feed(b"AM.A.B.TXT\\\nHELLO\nQW.X\n") == [
        Frame(b"AM.A.B.TXT\nHELLO"),
        Frame(b"QW.X"),
    ]
    assert LineFramer().feed(b"AM.A.B.TXT\nONE\\\n\\\nTWO\n\n") == [
        Frame(b"AM.A.B.TXT\nONE\n\nTWO")
    ]


def test_line_finish_ends_a_block_at_the_end_of_a_file() -> None:
    f = LineFramer()
    assert f.feed(b"AM.A.B.TXT\nHELLO") == []
    assert f.finish() == [Frame(b"AM.A.B.TXT\nHELLO")]
    assert f.buffered == 0


def test_line_output_ends_each_message_with_an_empty_line_and_no_backslashes() -> None:
    out = LineFramer(eol=b"\r\n")
    assert out.encode(b"OSN/0000001 TRM/T01\nSON.T01\nA\\B\\") == (
        b"OSN/0000001 TRM/T01\r\nSON.T01\r\nA\\B\\\r\n\r\n"
    )
    assert LineFramer().encode(b"A\n\nB") == b"A\n \nB\n\n"  # an empty line inside: one space
    assert LineFramer(eol=b"\r").encode(b"A\nB") == b"A\rB\r\r"
    terminal = LineFramer(role="terminal")
    assert terminal.feed(out.encode(b"OSN/1\nSON.T01") + out.encode(b"OSN/2\nNRC")) == [
        Frame(b"OSN/1\nSON.T01"),
        Frame(b"OSN/2\nNRC"),
    ]
    assert terminal.feed(b"\n\r\n") == []  # keepalives


def test_line_terminal_writes_the_natural_form() -> None:
    t = LineFramer(role="terminal", eol=b"\r\n")
    assert t.encode(b"QW.A.NAM/X") == b"QW.A.NAM/X\r\n"
    assert t.encode(b"AM.A.B.TXT\nHI\nTHERE") == b"AM.A.B.TXT\r\nHI\r\nTHERE\r\n\r\n"
    # no .TXT header, or an empty text line: backslash continuation carries it
    assert t.encode(b"QW.A\nB") == b"QW.A\\\r\nB\r\n"
    assert t.encode(b"AM.A.B.TXT\n\nB") == b"AM.A.B.TXT\\\r\n\\\r\nB\r\n"


@pytest.mark.parametrize("payload", [b"A\rB", b"A\\", b"A\\\nB", b"A\nB\\"])
def test_line_terminal_encode_refuses_what_it_cannot_carry(payload: bytes) -> None:
    with pytest.raises(FormatError):
        LineFramer(role="terminal").encode(payload)


def test_line_options_are_checked() -> None:
    with pytest.raises(FormatError, match="eol"):
        LineFramer(eol=b"\n\r")
    with pytest.raises(FormatError, match="role"):
        LineFramer(role="both")


def test_line_too_long_block_skips_to_the_empty_line() -> None:
    f = LineFramer(max_length=12)
    assert bytewise(f, b"AM.A.B.TXT\nLONG TEXT LINE\nMORE\n\nOK\n") == [
        BadFrame("frame longer than 12 bytes", b"AM.A.B.TXT\nLO"),
        Frame(b"OK"),
    ]
    f = LineFramer(max_length=8)
    assert bytewise(f, b"AM.OR0240000.TXT\nTEXT\n\nOK\n") == [
        BadFrame("frame longer than 8 bytes", b"AM.OR0240"),
        Frame(b"OK"),
    ]


def test_line_max_length_boundary() -> None:
    f = LineFramer(max_length=10)
    assert f.feed(b"A" * 10 + b"\r\n") == [Frame(b"A" * 10)]
    assert f.feed(b"B" * 11 + b"\nOK\n") == [
        BadFrame("frame longer than 10 bytes", b"B" * 11),
        Frame(b"OK"),
    ]


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (b"A" * 10 + b"\r\n", Frame(b"A" * 10)),
        (b"A" * 9 + b"\\\r\n\n", Frame(b"A" * 9 + b"\n")),
        (b"A" * 9 + b"\\\r\r", Frame(b"A" * 9 + b"\n")),
        (b"A" * 11 + b"\r\n", BadFrame("frame longer than 10 bytes", b"A" * 11)),
        (b"A" * 10 + b"\\\n\n", BadFrame("frame longer than 10 bytes", b"A" * 10 + b"\n")),
    ],
)
def test_line_boundary_whatever_the_chunks(wire: bytes, expected: Event) -> None:
    """The trailing CR or backslash of a partial line must not be counted before the LF."""
    assert LineFramer(max_length=10).feed(wire + b"OK\n") == [expected, Frame(b"OK")]
    assert bytewise(LineFramer(max_length=10), wire + b"OK\n") == [expected, Frame(b"OK")]


def test_line_max_length_counts_the_joining_newlines() -> None:
    f = LineFramer(max_length=5)
    assert f.feed(b"AB\\\nCD\n") == [Frame(b"AB\nCD")]  # 5 bytes
    assert f.feed(b"AB\\\nCDE\nOK\n") == [
        BadFrame("frame longer than 5 bytes", b"AB\nCDE"),
        Frame(b"OK"),
    ]


def test_line_too_long_skips_the_rest_of_the_frame_including_continuations() -> None:
    f = LineFramer(max_length=4)
    events = bytewise(f, b"ABCDEFGH\\\nMORE\\\r\nEVEN MORE\nOK\n")
    assert events == [BadFrame("frame longer than 4 bytes", b"ABCDE"), Frame(b"OK")]


def test_line_too_long_during_continuation_fed_whole() -> None:
    f = LineFramer(max_length=4)
    assert f.feed(b"ABCD\\\nE\\\nF\nOK\n") == [
        BadFrame("frame longer than 4 bytes", b"ABCD\n"),
        Frame(b"OK"),
    ]


def test_line_too_long_raw_is_bounded() -> None:
    f = LineFramer(max_length=1000)
    (bad,) = f.feed(b"X" * 5000 + b"\n")
    assert bad == BadFrame("frame longer than 1000 bytes", b"X" * RAW_LIMIT)


def test_line_flood_without_newline_keeps_memory_bounded() -> None:
    f = LineFramer(max_length=1024)
    chunk = b"Z" * 4096
    events: list[Event] = []
    for _ in range(10 * 1024 * 1024 // len(chunk)):
        events.extend(f.feed(chunk))
        assert f.buffered <= f.max_length + 16
    assert events == [BadFrame("frame longer than 1024 bytes", b"Z" * RAW_LIMIT)]
    assert f.feed(b"\nAFTER\n") == [Frame(b"AFTER")]


def test_line_one_bad_frame_per_too_long_frame_whatever_the_chunks() -> None:
    wire = b"Q" * 50 + b"\\\n" + b"R" * 50 + b"\nOK\n"
    whole = LineFramer(max_length=20).feed(wire)
    assert whole == [BadFrame("frame longer than 20 bytes", b"Q" * 21), Frame(b"OK")]
    assert bytewise(LineFramer(max_length=20), wire) == whole


# --- STX/ETX -----------------------------------------------------------------------------------


def test_block_check_is_xor_of_payload_and_etx() -> None:
    assert block_check(b"") == 0x03
    assert block_check(b"HELLO") == 0x48 ^ 0x45 ^ 0x4C ^ 0x4C ^ 0x4F ^ 0x03


@FAST
@given(st.binary(max_size=600))
def test_block_check_matches_a_plain_loop(payload: bytes) -> None:
    assert block_check(payload) == functools.reduce(operator.xor, payload, 0x03)


def test_stx_encode_layout_and_construct_struct_agree() -> None:
    wire = StxEtxFramer().encode(b"QV.LIC/ABC123")
    assert wire == stx_frame(b"QV.LIC/ABC123")
    assert STX_FRAME.parse(wire).payload == b"QV.LIC/ABC123"


@pytest.mark.parametrize("payload", [b"A\x02B", b"A\x03B"])
def test_stx_encode_refuses_stx_and_etx(payload: bytes) -> None:
    with pytest.raises(FormatError, match="STX"):
        StxEtxFramer().encode(payload)


def test_stx_frame_and_split_at_every_point() -> None:
    wire = stx_frame(b"QV.LIC/ABC123")
    for cut in range(len(wire) + 1):
        f = StxEtxFramer()
        assert f.feed(wire[:cut]) + f.feed(wire[cut:]) == [Frame(b"QV.LIC/ABC123")]


def test_stx_bcc_may_be_any_byte_including_stx() -> None:
    payload = b"\x01"  # 0x01 ^ ETX == 0x02 == STX
    assert block_check(payload) == 0x02
    wire = stx_frame(payload) + stx_frame(b"NEXT")
    assert StxEtxFramer().feed(wire) == [Frame(b"\x01"), Frame(b"NEXT")]
    assert bytewise(StxEtxFramer(), wire) == [Frame(b"\x01"), Frame(b"NEXT")]


def test_stx_bad_block_check() -> None:
    good = block_check(b"HELLO")
    wire = stx_frame(b"HELLO", bcc=good ^ 0xFF)
    assert StxEtxFramer().feed(wire + stx_frame(b"OK")) == [
        BadFrame(f"block check mismatch: expected 0x{good:02x} got 0x{good ^ 0xFF:02x}", wire),
        Frame(b"OK"),
    ]


def test_stx_control_bytes_between_frames_and_garbage_skipped() -> None:
    wire = b"\x06noise\x15" + stx_frame(b"A") + b"\x04\x03\xff\x05" + stx_frame(b"B") + b"\x06"
    expected = [
        Control(0x06),
        Control(0x15),
        Frame(b"A"),
        Control(0x04),
        Control(0x05),
        Frame(b"B"),
        Control(0x06),
    ]
    assert StxEtxFramer().feed(wire) == expected
    assert bytewise(StxEtxFramer(), wire) == expected


def test_stx_control_bytes_inside_a_frame_are_payload() -> None:
    assert StxEtxFramer().feed(stx_frame(b"\x06\x15\x04\x05")) == [Frame(b"\x06\x15\x04\x05")]


def test_stx_inside_frame_abandons_it() -> None:
    wire = b"\x02PARTIAL" + stx_frame(b"WHOLE")
    assert StxEtxFramer().feed(wire) == [
        BadFrame("STX inside frame", b"\x02PARTIAL"),
        Frame(b"WHOLE"),
    ]


def test_stx_max_length_boundary() -> None:
    f = StxEtxFramer(max_length=8)
    assert f.feed(stx_frame(b"A" * 8)) == [Frame(b"A" * 8)]
    too_long = stx_frame(b"B" * 9)
    assert f.feed(too_long + b"\x06" + stx_frame(b"OK")) == [
        BadFrame("frame longer than 8 bytes", b"\x02" + b"B" * 9),
        Frame(b"OK"),
    ]


def test_stx_too_long_skips_to_next_stx_and_memory_stays_bounded() -> None:
    f = StxEtxFramer(max_length=1024)
    events = f.feed(b"\x02")
    for _ in range(2560):
        events += f.feed(b"Y" * 4096)  # 10 MB
        assert f.buffered <= f.max_length
    events += f.feed(b"\x03\x00" + stx_frame(b"OK"))
    assert events == [BadFrame("frame longer than 1024 bytes", b"\x02" + b"Y" * 255), Frame(b"OK")]


def test_stx_empty_frame_is_a_keepalive() -> None:
    assert StxEtxFramer().feed(stx_frame(b"")) == []


def test_stx_many_stx_bytes_take_linear_time() -> None:
    events = StxEtxFramer().feed(b"\x02" * 200_000)
    assert len(events) == 199_999
    assert all(e == BadFrame("STX inside frame", b"\x02") for e in events)


# --- length-prefixed ---------------------------------------------------------------------------


def test_length_encode_matches_the_construct_header() -> None:
    wire = LengthFramer().encode(b"QV.LIC/ABC123")
    assert wire == length_frame(b"QV.LIC/ABC123")
    header = HEADER.parse(wire)
    assert (header.version, header.flags, header.length) == (1, 0, 13)
    assert header.crc32 == zlib.crc32(b"QV.LIC/ABC123")
    assert HEADER_SIZE == 12


@FAST
@given(
    st.integers(0, 255), st.integers(0, 255), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)
)
def test_length_header_struct_and_construct_agree(
    version: int, flags: int, length: int, crc: int
) -> None:
    built = HEADER.build({"version": version, "flags": flags, "length": length, "crc32": crc})
    assert built == struct.pack(">2sBBII", b"LM", version, flags, length, crc)


def test_length_frame_split_at_every_point() -> None:
    wire = length_frame(b"QV.LIC/ABC123")
    for cut in range(len(wire) + 1):
        f = LengthFramer()
        assert f.feed(wire[:cut]) + f.feed(wire[cut:]) == [Frame(b"QV.LIC/ABC123")]


def test_length_flags_are_ignored() -> None:
    assert LengthFramer().feed(length_frame(b"X", flags=0x80)) == [Frame(b"X")]


def test_length_bad_magic_one_bad_frame_per_run() -> None:
    wire = b"garbage" * 100 + length_frame(b"A") + b"more junk L" + length_frame(b"B")
    events = LengthFramer().feed(wire)
    assert events == [
        BadFrame("bad header magic", (b"garbage" * 100)[:RAW_LIMIT]),
        Frame(b"A"),
        BadFrame("bad header magic", b"more junk L"),
        Frame(b"B"),
    ]
    chunked = bytewise(LengthFramer(), wire)
    assert [type(e) for e in chunked] == [type(e) for e in events]
    assert reasons(chunked) == reasons(events)


def test_length_lone_l_waits_for_the_next_byte() -> None:
    f = LengthFramer()
    assert f.feed(b"xL") == [BadFrame("bad header magic", b"x")]
    assert f.feed(length_frame(b"A")[1:]) == [Frame(b"A")]


def test_length_unknown_version_resyncs_after_the_header() -> None:
    bad = length_frame(b"PAYLOAD", version=2)
    assert LengthFramer().feed(bad + length_frame(b"OK")) == [
        BadFrame("unsupported version 2", bad[:HEADER_SIZE]),
        Frame(b"OK"),
    ]


def test_length_too_long_does_not_wait_for_the_payload() -> None:
    f = LengthFramer(max_length=8)
    header = length_frame(b"", length=1_000_000)
    assert f.feed(header) == [BadFrame("frame longer than 8 bytes", header)]
    assert f.feed(length_frame(b"OK")) == [Frame(b"OK")]


def test_length_max_length_boundary() -> None:
    f = LengthFramer(max_length=8)
    assert f.feed(length_frame(b"A" * 8)) == [Frame(b"A" * 8)]
    bad = length_frame(b"B" * 9)
    assert f.feed(bad + length_frame(b"OK")) == [
        BadFrame("frame longer than 8 bytes", bad[:HEADER_SIZE]),
        Frame(b"OK"),
    ]


def test_length_crc_mismatch_continues_after_the_frame() -> None:
    bad = length_frame(b"LMLMLM", crc=0)
    assert LengthFramer().feed(bad + length_frame(b"OK")) == [
        BadFrame("crc mismatch", bad),
        Frame(b"OK"),
    ]


def test_length_zero_length_is_a_keepalive() -> None:
    assert LengthFramer().feed(length_frame(b"") + length_frame(b"A")) == [Frame(b"A")]


def test_length_floods_keep_memory_bounded() -> None:
    f = LengthFramer(max_length=1024)
    events = []
    for _ in range(2560):
        events += f.feed(b"\x00" * 4096)  # 10 MB without a magic
        assert f.buffered <= 1
    assert events == [BadFrame("bad header magic", b"\x00" * RAW_LIMIT)]
    assert f.feed(length_frame(b"A" * 1000)[:-1]) == []
    for _ in range(100):
        assert f.feed(b"") == []
        assert f.buffered <= f.max_length + HEADER_SIZE
    assert f.feed(b"A") == [Frame(b"A" * 1000)]


# --- properties --------------------------------------------------------------------------------

SPECIAL = [0x00, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0A, 0x0D, 0x15, 0x5C, ord("L"), ord("M"), 0x01]


def bytes_of(
    byte: st.SearchStrategy[int], *, min_size: int = 0, max_size: int = 40
) -> st.SearchStrategy[bytes]:
    return st.lists(byte, min_size=min_size, max_size=max_size).map(bytes)


ANY_BYTE = st.one_of(st.sampled_from(SPECIAL), st.integers(0, 255))


def _fix_line(payload: bytes) -> bytes:
    lines = payload.split(b"\n")
    return b"\n".join(line + b"x" if line.endswith(b"\\") else line for line in lines)


def _no_empty_line(payload: bytes) -> bytes:
    return b"\n".join(line or b"x" for line in payload.split(b"\n"))


_LINE = bytes_of(ANY_BYTE.filter(lambda b: b != 0x0D), min_size=1)
_TXT_HEADERS = st.sampled_from([b"AM.OR0240000.OR0260000.TXT", b"KQ.OR0240000.WA.TXT  "])

PEERS: dict[str, tuple[Callable[..., Framer], Callable[..., Framer]]] = {
    # CR alone is the hardest line end (CR LF split between reads must count once): the
    # terminal writes CR, the switch CR LF; LF is covered by the unit tests.
    "line": (LineFramer, functools.partial(LineFramer, role="terminal", eol=b"\r")),
    "line-out": (
        functools.partial(LineFramer, role="terminal"),
        functools.partial(LineFramer, eol=b"\r\n"),
    ),
    "stx": (StxEtxFramer, StxEtxFramer),
    "length": (LengthFramer, LengthFramer),
    "dle": (DleFramer, DleFramer),
    **{
        n: (functools.partial(make_framer, n), functools.partial(make_framer, n))
        for n in ("ascii4", "ascii6-incl", "bin2", "bin4-incl")
    },
}
"""Each case: (the framer that reads, the peer whose ``encode`` it reads). A line link is not
symmetric: the switch reads what a terminal types and a terminal reads the switch's output."""

CASES = sorted(PEERS)


def decoder(name: str, **options: object) -> Framer:
    return PEERS[name][0](**options)


def encoder(name: str) -> Framer:
    return PEERS[name][1]()


_TERMINAL_INPUT = st.one_of(
    _LINE.map(_fix_line),
    # a header line and its text, kept within the 64 bytes the framers are given
    st.tuples(_TXT_HEADERS, _LINE.map(lambda b: b[:30]))
    .map(lambda t: _fix_line(t[0] + b"\n" + t[1]))
    .filter(lambda p: len(p) <= 64),
)
_SWITCH_OUTPUT = _LINE.filter(lambda p: p[:1] != b"\n" and p[-1:] != b"\n").map(_no_empty_line)

PAYLOADS: dict[str, st.SearchStrategy[bytes]] = {
    "line": _TERMINAL_INPUT,
    "line-out": _SWITCH_OUTPUT,
    "stx": bytes_of(ANY_BYTE.filter(lambda b: b not in (0x02, 0x03)), min_size=1),
    "length": bytes_of(ANY_BYTE, min_size=1),
    "dle": bytes_of(ANY_BYTE, min_size=1),
    **{n: bytes_of(ANY_BYTE, min_size=1) for n in ("ascii4", "ascii6-incl", "bin2", "bin4-incl")},
}
"""Payloads each framer can carry (at most 40 bytes)."""

_KEEPALIVES = st.sampled_from([b"", b"\n", b"\r\n", b"\n\n\r\n", b"\r"])

GARBAGE: dict[str, st.SearchStrategy[bytes]] = {
    "line": _KEEPALIVES,  # keepalives only
    "line-out": _KEEPALIVES,
    "stx": bytes_of(ANY_BYTE.filter(lambda b: b != 0x02), max_size=10),
    "length": bytes_of(ANY_BYTE.filter(lambda b: b != ord("L")), max_size=10),
    "dle": bytes_of(ANY_BYTE.filter(lambda b: b != 0x10), max_size=10),
    # nothing may stand between length-prefixed frames but empty frames (keepalives)
    "ascii4": st.sampled_from([b"", b"0000", b"00000000"]),
    "ascii6-incl": st.sampled_from([b"", b"000006"]),
    "bin2": st.sampled_from([b"", b"\x00\x00"]),
    "bin4-incl": st.sampled_from([b"", b"\x00\x00\x00\x04"]),
}
"""Bytes between frames that cannot look like the start of a frame."""


def pieces(name: str) -> st.SearchStrategy[bytes]:
    """Valid frames, damaged frames and noise, to reach every state of a framer."""
    frame = PAYLOADS[name].map(encoder(name).encode)
    damaged = st.tuples(frame, st.integers(0, 10**6), st.integers(1, 255)).map(
        lambda t: (
            t[0][: t[1] % len(t[0])]
            + bytes([t[0][t[1] % len(t[0])] ^ t[2]])
            + t[0][t[1] % len(t[0]) + 1 :]
        )
    )
    truncated = st.tuples(frame, st.integers(0, 10**6)).map(lambda t: t[0][: t[1] % len(t[0])])
    return st.one_of(frame, damaged, truncated, bytes_of(ANY_BYTE, max_size=60))


def streams(name: str) -> st.SearchStrategy[bytes]:
    return st.lists(pieces(name), max_size=8).map(b"".join)


def comparable(name: str, events: Sequence[Event]) -> list[object]:
    """Events as they must be whatever the chunking.

    The length framer reports a run of garbage as soon as it starts, with the garbage it has at
    hand, so only that report's raw bytes may depend on the split points.
    """
    out: list[object] = []
    for e in events:
        assert isinstance(e, Frame | BadFrame | Control)
        if isinstance(e, BadFrame):
            assert len(e.raw) <= RAW_LIMIT
            assert e.reason
            if (name == "length" and e.reason == "bad header magic") or (
                e.reason == "bad length prefix"
            ):
                out.append(e.reason)
                continue
        if isinstance(e, Frame):
            assert e.payload
        if isinstance(e, Control):
            assert name in ("stx", "dle")
        out.append(e)
    return out


@pytest.mark.parametrize(
    ("name", "max_length"),
    [
        (name, max_length)
        for name in CASES
        for max_length in (
            (6, 40, DEFAULT_MAX_LENGTH) if name in ("line", "stx", "length") else (6, 40)
        )
    ],
)
@FAST
@given(data=st.data())
def test_any_bytes_any_chunks_never_raise_and_chunking_does_not_matter(
    name: str, max_length: int, data: st.DataObject
) -> None:
    stream = data.draw(st.one_of(streams(name), st.binary(max_size=300)), label="stream")
    cuts = data.draw(st.lists(st.integers(0, 10**6), max_size=20), label="cuts")
    whole = decoder(name, max_length=max_length).feed(stream)
    framer = decoder(name, max_length=max_length)
    chunked: list[Event] = []
    for chunk in split(stream, cuts):
        chunked.extend(framer.feed(chunk))
        assert framer.buffered <= max_length + HEADER_SIZE
    assert comparable(name, chunked) == comparable(name, whole)


def _expected_between(name: str, garbage: bytes) -> list[object]:
    if name in ("stx", "dle"):
        return [Control(b) for b in garbage if b in (0x04, 0x05, 0x06, 0x15)]
    if name == "length" and garbage:
        return ["bad header magic"]
    return []


@pytest.mark.parametrize("name", CASES)
@FAST
@given(data=st.data())
def test_round_trip_with_garbage_between_frames_and_any_chunks(
    name: str, data: st.DataObject
) -> None:
    framer, peer = decoder(name), encoder(name)
    payloads = data.draw(st.lists(PAYLOADS[name], max_size=8), label="payloads")
    garbage = data.draw(
        st.lists(GARBAGE[name], min_size=len(payloads) + 1, max_size=len(payloads) + 1),
        label="garbage",
    )
    wire = b"".join(g + peer.encode(p) for g, p in zip(garbage, payloads, strict=False))
    wire += garbage[-1]
    cuts = data.draw(st.lists(st.integers(0, 10**6), max_size=30), label="cuts")
    expected: list[object] = []
    for g, p in zip(garbage, payloads, strict=False):
        expected += _expected_between(name, g)
        expected.append(Frame(p))
    events = feed_all(framer, split(wire, cuts))
    got = comparable(name, events)
    trailing = _expected_between(name, garbage[-1])
    # A length framer reports trailing garbage at once; an STX framer its control bytes.
    assert got == expected + trailing
    assert [e.payload for e in events if isinstance(e, Frame)] == payloads


RESYNC: dict[str, Callable[[int], bytes]] = {
    # Ends any line, then any continuation or block.
    "line": lambda max_length: b"\n\n",
    "line-out": lambda max_length: b"\n\n",
    # One byte that is neither STX nor a control: consumed as a BCC, skipped, or ended by STX.
    "stx": lambda max_length: b"\x00",
    # Enough filler to complete the longest frame a corrupted header may still be waiting for.
    "length": lambda max_length: b"\x00" * (max_length + HEADER_SIZE),
    # Ends a pending escape or block check; a DLE STX after it starts the next block.
    "dle": lambda max_length: b"\x00",
}
"""Bytes after which each framer is in step again. A length prefix without magic has none: a
damaged length can only be left behind by a new connection (``reset``)."""


@pytest.mark.parametrize("name", CASES)
@FAST
@given(data=st.data())
def test_single_byte_corruption_then_resync(name: str, data: st.DataObject) -> None:
    framer, peer = decoder(name, max_length=64), encoder(name)
    payloads = data.draw(st.lists(PAYLOADS[name], min_size=1, max_size=5), label="payloads")
    wire = bytearray(b"".join(peer.encode(p) for p in payloads))
    index = data.draw(st.integers(0, len(wire) - 1), label="index")
    wire[index] = data.draw(st.integers(0, 255).filter(lambda b: b != wire[index]), label="byte")
    last = data.draw(PAYLOADS[name], label="last")
    cuts = data.draw(st.lists(st.integers(0, 10**6), max_size=10), label="cuts")
    if name not in RESYNC:  # a length prefix without magic: in step again after a reconnect
        events = feed_all(framer, split(bytes(wire), cuts))
        comparable(name, events)
        assert framer.buffered <= framer.max_length + HEADER_SIZE
        framer.reset()
        assert framer.feed(peer.encode(last)) == [Frame(last)]
        return
    stream = bytes(wire) + RESYNC[name](framer.max_length) + peer.encode(last)
    events = feed_all(framer, split(stream, cuts))
    comparable(name, events)
    assert events[-1] == Frame(last)


def test_messages_in_reads_typed_text_by_the_one_rule() -> None:
    from formats.framing import messages_in

    assert messages_in("QW.OR0240000.NAM/DOE,JOHN\nAM.A.B.TXT\nHELLO\nTHERE\n\nQV.X.LIC/A") == [
        "QW.OR0240000.NAM/DOE,JOHN",
        "AM.A.B.TXT\nHELLO\nTHERE",
        "QV.X.LIC/A",
    ]
    assert messages_in("AM.A.B.TXT\r\nAT THE END") == ["AM.A.B.TXT\nAT THE END"]
    assert messages_in("EW.A.NAM/X\\\nRAC/W") == ["EW.A.NAM/X\nRAC/W"]
    assert messages_in("\n\n") == []


# --- declared framings: ASCII / binary length prefixes, DLE-transparent blocks ----------------


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("ascii4", b"0005HELLO"),
        ("ascii4-incl", b"0009HELLO"),
        ("ascii5", b"00005HELLO"),
        ("ascii6-incl", b"000011HELLO"),
        ("bin2", b"\x00\x05HELLO"),
        ("bin2-incl", b"\x00\x07HELLO"),
        ("bin4", b"\x00\x00\x00\x05HELLO"),
        ("bin4-incl", b"\x00\x00\x00\x09HELLO"),
        ("dle", b"\x10\x02HELLO\x10\x03" + bytes([block_check(b"HELLO")])),
    ],
)
def test_declared_framings_byte_level_examples(name: str, wire: bytes) -> None:
    """The examples docs/WIRE.md shows, both ways."""
    assert make_framer(name).encode(b"HELLO") == wire
    assert bytewise(make_framer(name), wire * 2) == [Frame(b"HELLO")] * 2


def test_prefix_too_long_is_skipped_without_holding_it() -> None:
    f = make_framer("ascii4", max_length=10)
    events = feed_all(f, [b"0020", b"A" * 7, b"B" * 13 + b"0002OK"])
    assert events == [BadFrame("frame longer than 10 bytes", b"0020"), Frame(b"OK")]
    assert f.buffered == 0
    f = make_framer("bin4", max_length=100)
    assert f.feed(b"\xff\xff\xff\xff") == [
        BadFrame("frame longer than 100 bytes", b"\xff\xff\xff\xff")
    ]
    for _ in range(100):
        assert f.feed(b"Z" * 65536) == []
        assert f.buffered == 0


def test_ascii_prefix_damage_is_one_report_then_the_next_digits() -> None:
    f = make_framer("ascii4")
    assert bytewise(f, b"XY-0002OK0003ABC") == [
        BadFrame("bad length prefix", b"XY-0"),
        Frame(b"OK"),
        Frame(b"ABC"),
    ]
    assert make_framer("ascii4-incl").feed(b"0002") == [
        BadFrame("length 2 is shorter than its prefix", b"0002")
    ]


def test_prefix_capacity_bounds_max_length_and_encode() -> None:
    assert make_framer("ascii4", max_length=16384).max_length == 9999
    with pytest.raises(FormatError, match="longer than 9999"):
        make_framer("ascii4").encode(b"A" * 10000)
    with pytest.raises(FormatError, match="width"):
        PrefixFramer(width=3)
    with pytest.raises(FormatError, match="size"):
        PrefixFramer(size=3)


def test_dle_transparency_carries_every_byte_and_a_heading_is_read() -> None:
    f = DleFramer()
    payload = bytes(range(256))
    wire = f.encode(payload)
    assert wire.count(b"\x10\x10") == 1 and wire.startswith(b"\x10\x02")
    assert bytewise(DleFramer(), b"\x06" + wire + b"\x15") == [
        Control(0x06),
        Frame(payload),
        Control(0x15),
    ]
    heading = b"\x10\x01T01\x10\x10007\x10\x02"  # SOH heading with a doubled DLE
    assert DleFramer().feed(heading + wire[2:]) == [Frame(payload)]


def test_dle_damage() -> None:
    good = DleFramer().encode(b"OK")
    assert DleFramer().feed(b"\x10\x02AB\x10\x03\x01" + good) == [
        BadFrame("block check mismatch: expected 0x00 got 0x01", b"\x10\x02AB\x10\x03\x01"),
        Frame(b"OK"),
    ]
    assert DleFramer().feed(b"\x10\x02AB\x10X" + good) == [
        BadFrame("DLE then 0x58 inside a block", b"\x10\x02AB"),
        Frame(b"OK"),
    ]
    assert DleFramer().feed(b"\x10\x02AB" + good) == [
        BadFrame("DLE STX inside a block", b"\x10\x02AB"),
        Frame(b"OK"),
    ]
    f = DleFramer(max_length=4)
    assert bytewise(f, b"\x10\x02ABCDEFG\x10\x03\x00" + good) == [
        BadFrame("frame longer than 4 bytes", b"\x10\x02ABCDE"),
        Frame(b"OK"),
    ]


def test_third_party_framing_through_an_entry_point(tmp_path, monkeypatch) -> None:
    """A package declaring ``[project.entry-points."lems.framings"]`` is found by name."""
    from formats import framing

    (tmp_path / "lems_rev.py").write_text(
        "from formats.framing import LineFramer\n"
        "class Reversed(LineFramer):\n"
        "    def encode(self, payload):\n"
        "        return super().encode(payload[::-1])\n"
    )
    dist = tmp_path / "lems_rev-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: lems-rev\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[lems.framings]\nrev = lems_rev:Reversed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    framing._plugins.cache_clear()
    try:
        assert "rev" in framing.framings()
        f = make_framer("rev", max_length=100)
        assert type(f).__name__ == "Reversed" and f.encode(b"AB") == b"BA\n\n"
        from hardware.endpoints import options_of

        assert options_of({"framing": "rev"}, 100).framing == "rev"
    finally:
        framing._plugins.cache_clear()


@pytest.mark.parametrize("name", NAMES)
def test_keepalive_is_taken_as_one_by_the_peer(name: str) -> None:
    framer = make_framer(name)
    assert framer.keepalive()
    assert framer.feed(framer.keepalive() * 3 + framer.encode(b"X")) == [Frame(b"X")]


def test_line_an_isn_line_carries_the_message_after_it() -> None:
    """Input sequence numbers (docs/WIRE.md): the ISN line and the message after it are one
    message, the message following the one rule."""
    assert LineFramer().feed(
        b"ISN/0000012\r\nQW.OR0240000.NAM/DOE,JOHN\r\nISN/13\nAM.A.B.TXT\nHI\n\nQV.X\n"
    ) == [
        Frame(b"ISN/0000012\nQW.OR0240000.NAM/DOE,JOHN"),
        Frame(b"ISN/13\nAM.A.B.TXT\nHI"),
        Frame(b"QV.X"),
    ]
    t = LineFramer(role="terminal")
    for payload in (b"ISN/1\nQW.A", b"ISN/2\nAM.A.B.TXT\nHI", b"ISN/3\nQW.A\nB"):
        assert LineFramer().feed(t.encode(payload)) == [Frame(payload)]
