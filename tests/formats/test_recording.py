"""The recording format, masking rules, plain-text import and the comparison of outputs."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from formats.recording import (
    DEFAULT_RULES,
    FORMAT,
    VERSION,
    Comparison,
    Header,
    Masker,
    Record,
    RecordingError,
    decode,
    decode_header,
    decode_lines,
    encode,
    encode_header,
    from_bytes,
    parse_plain,
)

ENV = "OSN/0000042 TRM/T01 DTE/20261123 TIM/143211"

records = st.builds(
    Record,
    seq=st.integers(0, 2**53),
    time=st.just("2026-11-23T14:32:11.000001+00:00"),
    direction=st.sampled_from(["in", "out", "sys"]),
    text=st.binary(max_size=300).map(from_bytes),
    link=st.text(max_size=20),
    terminal=st.text(max_size=8),
    ori=st.text(max_size=9),
    key=st.text(max_size=6),
    osn=st.integers(0, 10**7),
    ref=st.integers(0, 10**9),
)


@given(records)
def test_encode_decode_round_trip_keeps_every_byte(r):
    line = encode(r)
    assert line.endswith("\n") and line.count("\n") == 1
    assert line.isascii()
    back = decode(line)
    assert back == r and back.payload == r.payload


@given(st.binary(max_size=500))
def test_payload_bytes_survive(payload):
    r = Record(1, "2026-11-23T00:00:00+00:00", "in", from_bytes(payload))
    assert decode(encode(r)).payload == payload


def test_header_and_versions():
    line = encode_header(Header(created="2026-11-23T00:00:00+00:00", source="x"))
    h = decode_header(line)
    assert h.format == FORMAT and h.version == VERSION and h.source == "x"
    with pytest.raises(RecordingError, match="version 99"):
        decode_header(json.dumps({"format": FORMAT, "version": 99}))
    with pytest.raises(RecordingError, match="not a lems-recording"):
        decode_header('{"seq": 1}')
    _header, recs = decode_lines([line, "", encode(Record(1, "t", "in", "QW"))])
    assert [r.text for r in recs] == ["QW"]


def test_bad_records_name_the_line():
    with pytest.raises(RecordingError, match="line 3"):
        decode("{not json", 3)
    with pytest.raises(RecordingError, match="seq, osn and ref must be integers"):
        decode('{"seq": "1", "time": "t", "direction": "in", "text": ""}')
    with pytest.raises(RecordingError, match="direction"):
        decode('{"seq": 1, "time": "t", "direction": "up", "text": ""}')
    with pytest.raises(RecordingError, match="above U\\+00FF"):
        encode(Record(1, "t", "in", "caf\u20ac"))
    # a line with every member (as encode writes it) is checked member by member too
    full = json.loads(encode(Record(1, "t", "in", "x", link="L1")))
    for name, bad in (("link", 5), ("ori", None), ("osn", "7"), ("ref", True), ("text", 1)):
        with pytest.raises(RecordingError, match="must be"):
            decode(json.dumps({**full, name: bad}))
    with pytest.raises(RecordingError, match="direction"):
        decode(json.dumps({**full, "direction": "up"}))
    # an unknown member (a later minor addition) is ignored
    assert decode('{"seq": 1, "time": "t", "direction": "in", "text": "x", "new": 1}').text == "x"


def test_default_masks_what_differs_between_runs():
    m = Masker()
    a = (
        f"{ENV}\nACC.OR0240000\nWANTED PERSON ENTERED\nNAM/DOE, JOHN NIC/W123456789\n"
        "DTE/20261123 1432"
    )
    b = (
        "OSN/0000977 TRM/T01 DTE/20261124 TIM/010203\nACC.OR0240000\nWANTED PERSON ENTERED\n"
        "NAM/DOE, JOHN NIC/W987654321\nDTE/20261124 0102"
    )
    assert m.mask(a) == m.mask(b)
    nlets = "AM.OR0240000\n14:32 11/23/2026 00412\n14:32 11/23/2026 00977 OR0260000\nTXT\nHI"
    other = "AM.OR0240000\n09:01 11/24/2026 00001\n09:01 11/24/2026 00002 OR0260000\nTXT\nHI"
    assert m.mask(nlets) == m.mask(other)
    assert m.mask("NTN/ABC123") == "NTN/#"
    # what is data stays: a different name or receiver is a difference
    assert m.mask(a) != m.mask(a.replace("DOE", "ROE"))
    assert m.mask(nlets) != m.mask(nlets.replace("OR0260000", "OR0260200"))
    assert m.mask(a).startswith("OSN/# TRM/T01 DTE/# TIM/#")


WORD_START_RULES = {  # the default rules as first written, \b first (slow to search)
    "dte": r"\bDTE/\d{8}(?: \d{4}(?: [A-Z]{3})?)?",
    "dlu": r"\bDLU/\d{8}",
    "nic": r"\bNIC/[A-Z]\d{9}\b",
    "ntn": r"\bNTN/[A-Z0-9]+",
}


# texts of words that start with a rule's literal, after a word or non-word character
masked_words = st.tuples(
    st.sampled_from(["", "X", "_", "\u00e9", "0", " ", ".", "\n", "/"]),
    st.sampled_from(["DTE/", "DLU/", "NIC/", "NTN/"]),
    st.sampled_from(["", "20261123", "20261123 1432", "20261123 1432 PST", "W123456789"])
    | st.sampled_from(["W1234567890", "A1", "x", "1"]),
).map("".join)


@given(st.lists(masked_words, max_size=6).map("".join))
def test_default_rules_written_literal_first_mask_as_the_word_start_forms(text):
    for rule in DEFAULT_RULES:
        if rule.name in WORD_START_RULES:
            plain = re.compile(WORD_START_RULES[rule.name], re.M)
            assert rule.compile().sub(rule.replace, text) == plain.sub(rule.replace, text)


def test_user_rules_extend_or_replace_the_defaults():
    m = Masker.from_toml(
        'ignore_keys = ["ntf"]\n[[rule]]\nname = "case"\n'
        "pattern = 'OCA/\\d+'\nreplace = \"OCA/#\"\n"
    )
    assert len(m.rules) == len(DEFAULT_RULES) + 1
    assert m.mask(f"{ENV}\nOCA/24-1") == "OSN/# TRM/T01 DTE/# TIM/#\nOCA/#-1"
    only = Masker.from_toml("defaults = false\n[[rule]]\npattern = 'X+'\n")
    assert only.mask(ENV + "XX") == ENV + "#"
    with pytest.raises(RecordingError, match="bad pattern"):
        Masker.from_toml("[[rule]]\npattern = '('\n")
    with pytest.raises(RecordingError, match="unknown keys"):
        Masker.from_toml("rulez = 1\n")
    c = Comparison(m)
    c.expect("T01", f"{ENV}\nNTF.OR0240000\n$.L.")
    assert c.finish().ok and c.ignored == 1


def out(osn: int, body: str, terminal: str = "T01") -> str:
    return f"OSN/{osn:07d} TRM/{terminal} DTE/20261123 TIM/1432{osn % 60:02d}\n{body}"


def test_comparison_matches_in_any_order_per_channel():
    c = Comparison()
    c.expect("T01", out(1, "REJ.OR0240000\nA"))
    c.expect("T01", out(2, "AM.OR0260000\nB"))
    c.expect("T02", out(1, "AM.OR0260000\nB", "T02"))
    assert c.outstanding(["T01", "T02"]) == 3
    assert c.receive("T01", out(7, "AM.OR0260000\nB"))
    assert c.receive("T02", out(9, "AM.OR0260000\nB", "T02"))
    assert not c.receive("T02", out(8, "REJ.OR0240000\nA", "T02"))  # wrong channel
    assert c.outstanding(["T01"]) == 1
    report = c.finish()
    assert report.matched == 2
    assert [i.channel for i in report.missing] == ["T01"]
    assert [i.channel for i in report.unexpected] == ["T02"]
    assert not report.ok


def test_received_before_expected_still_matches():
    c = Comparison()
    c.receive("link:a", out(0, "SON.T01"))
    c.expect("link:a", out(0, "SON.T01"))
    assert c.finish().ok and c.matched == 1


def test_difference_pairs_same_key_and_shows_a_diff():
    c = Comparison()
    c.expect("T01", out(1, "REJ.OR0240000\nREJECT CODE/SPOOF FLD/ORI\nX"), "QW.OR0260000")
    c.receive("T01", out(1, "REJ.OR0240000\nREJECT CODE/SPOOF FLD/ORI\nY"))
    report = c.finish()
    (d,) = report.differences
    assert "-X" in d.diff and "+Y" in d.diff
    text = "\n".join(report.lines())
    assert "DIFFERENT on T01" in text and "QW.OR0260000" in text
    assert report.as_dict()["differences"][0]["diff"] == d.diff


def test_unobserved_channels_are_not_failures():
    c = Comparison()
    c.expect("T09", out(1, "AM.OR0240000\nX", "T09"))
    r = c.finish(observed={"T01"})
    assert r.ok and r.unobserved == 1
    assert not c.finish(observed={"T09"}).ok


PLAIN = """\
# a log from a terminal emulator
LOGON.T01.OP01.train-01

OSN/0000000 TRM/T01 DTE/20261123 TIM/143211
SON.T01
SIGN-ON ACCEPTED TERMINAL/T01 OPERATOR/OP01

#@ time=2026-11-23T14:33:00Z
QW.OR0240000.NAM/DOE,JOHN.DOB/19800101


OSN/0000001 TRM/T01 DTE/20261123 TIM/143300
REJ.OR0240000
REJECT CODE/NOT-AVAILABLE FLD/MKE
"""


def test_plain_text_import_reads_the_natural_form():
    """What a terminal emulator's log holds with CR line ends: an NCIC line with its answer
    right after it, an AM typed as a .TXT block, outputs ended by an empty line."""
    log = (
        "QW.OR0240000.NAM/DOE,JOHN.DOB/19800101\r"
        "OSN/0000001 TRM/T01 DTE/20261123 TIM/143300\rNRC.OR0240000\rNO NCIC WANT\r\r"
        "AM.OR0240000.OR0260000.TXT\rMEET AT\rTHE LINE\r\r"
        "QV.OR0240000.LIC/ABC123\r"
    )
    recs = list(parse_plain(log, terminal="T01"))
    assert [(r.direction, r.key) for r in recs] == [
        ("in", "QW"),
        ("out", "NRC"),
        ("in", "AM"),
        ("in", "QV"),
    ]
    assert recs[2].text == "AM.OR0240000.OR0260000.TXT\nMEET AT\nTHE LINE"
    assert recs[1].text.endswith("NO NCIC WANT") and recs[1].ref == recs[0].seq


def test_plain_text_import():
    recs = list(parse_plain(PLAIN))
    assert [(r.direction, r.key, r.terminal, r.osn) for r in recs] == [
        ("in", "LOGON", "T01", 0),
        ("out", "SON", "T01", 0),
        ("in", "QW", "T01", 0),
        ("out", "REJ", "T01", 1),
    ]
    assert recs[0].text == "LOGON.T01.OP01.********"
    assert recs[2].ori == "OR0240000" and recs[2].time.startswith("2026-11-23T14:33:00")
    assert recs[3].ref == recs[2].seq and recs[1].ref == recs[0].seq
    assert recs[3].text.endswith("FLD/MKE") and recs[1].channel == "link:T01"
    assert recs[3].channel == "T01"
    # every imported record survives the format
    assert [decode(encode(r)) for r in recs] == recs
