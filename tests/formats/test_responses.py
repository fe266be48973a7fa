"""Tests for formats.responses: the layout of everything the switch and the systems send back."""

from __future__ import annotations

from datetime import datetime

import pytest

from formats import responses as r
from formats.codes import CodeBook
from formats.errors import Reject
from formats.grammar import Parser
from formats.ori import NLETS_ORI

CODES = CodeBook.builtin()
ORI = "OR0240000"
CLOCK = r.NletsClock(
    in_time=datetime(2026, 3, 9, 14, 32),
    in_seq=412,
    out_time=datetime(2026, 3, 9, 14, 32, 40),
    out_seq=977,
)
RECORD = [
    ("ORI", ORI),
    ("NAM", "SMITH,JOHN J"),
    ("SEX", "M"),
    ("RAC", "W"),
    ("POB", "TX"),
    ("DOB", "19511012"),
    ("HGT", "510"),
    ("WGT", "175"),
    ("EYE", "BRO"),
    ("HAI", "BRO"),
    ("FBI", "123456789"),
    ("SKN", "DRK"),
    ("OFF", "0902"),
    ("DOW", "20240301"),
    ("OCA", "24-00017"),
    ("AKA", "DOE,JACK"),
    (
        "MIS",
        "SUBJECT IS KNOWN TO CARRY A KNIFE IN HIS LEFT BOOT AND HAS FLED ON FOOT "
        "FROM OFFICERS TWICE; APPROACH WITH CAUTION AND REQUEST COVER",
    ),
    ("NIC", "W123456789"),
]


def _lines_fit(text: str) -> None:
    for line in text.split("\n"):
        assert len(line) <= r.WIDTH, line


def test_print_name() -> None:
    assert r.print_name("SMITH,JOHN J") == "SMITH, JOHN J"
    assert r.print_name("SMITH, JOHN") == "SMITH, JOHN"
    assert r.print_name("SMITH") == "SMITH"


def test_layout_packs_and_wraps() -> None:
    pairs = [(f"C{i:02d}", "V" * 10) for i in range(12)]
    lines = r.layout(pairs)
    assert all(len(line) <= r.WIDTH for line in lines)
    assert " ".join(lines) == " ".join(f"{c}/{v}" for c, v in pairs)
    long = r.layout([("SEX", "M"), ("MIS", "WORD " * 40), ("NIC", "W123456789")])
    assert long[0] == "SEX/M"
    assert long[1].startswith("MIS/WORD")
    assert long[-1].endswith("NIC/W123456789")
    assert all(len(line) <= r.WIDTH for line in long)
    assert r.layout([]) == []
    assert r.layout([("MIS", "X" * 100)]) == ["MIS/" + "X" * 68, "X" * 32]


def test_reject_layout() -> None:
    text = "EW.OR0240000.SEX/M"
    rej = Parser().check(text)
    assert isinstance(rej, Reject)
    out = r.reject(rej, ORI)
    assert out.split("\n") == [
        "REJ.OR0240000",
        "REJECT CODE/MISSING-FIELD FLD/NAM",
        "MISSING MANDATORY FIELD NAM",
        "ORIGINAL MESSAGE",
        text,
    ]
    assert r.first_line_key(out) == ("REJ", ORI)
    no_field = r.reject(Reject("BAD-FORMAT", "EMPTY MESSAGE"), "")
    assert no_field.split("\n")[:2] == ["REJ.UNKNOWN", "REJECT CODE/BAD-FORMAT"]


def test_reject_long_reason_and_echo_fit() -> None:
    text = (
        "QW.OR0240000.NAM/SMITH,JOHNATHAN ALEXANDER.SEX/M.RAC/W.OLS/WA.EXD/Y"
        ".LIC/ABCDEFGHIJ.VIN/ABCDEFGHIJKLMNOPQRST"
    )
    assert len(text) > 100
    rej = Parser().check(text)
    assert isinstance(rej, Reject) and rej.reason.startswith("MISSING IDENTIFIERS")
    out = r.reject(rej, ORI)
    _lines_fit(out)
    lines = out.split("\n")
    echo = lines[lines.index("ORIGINAL MESSAGE") + 1 :]
    assert "".join(echo) == text[:100]
    reason = lines[2 : lines.index("ORIGINAL MESSAGE")]
    assert " ".join(reason) == rej.reason


def test_er_header_and_options() -> None:
    text = "RQ.OR0240000.WA.TXT\nLIC/9ABC123.LIT/PC"
    rej = Parser().check(text)
    assert isinstance(rej, Reject)
    out = r.er(rej, CLOCK, ORI)
    assert out.split("\n") == [
        "ER.NL0000000",
        "14:32 03/09/2026 00412",
        "14:32 03/09/2026 00977 OR0240000",
        "TXT",
        ".22. INVALID MESSAGE FORMAT - REFER TO RQ MKE OPTIONS BELOW",
        "1. LIC, LIY, LIT",
        "2. VIN",
        "ORIGINAL MESSAGE",
        "RQ.OR0240000.WA.TXT",
        "LIC/9ABC123.LIT/PC",
    ]
    assert r.first_line_key(out) == ("ER", NLETS_ORI)


def test_er_adds_the_title() -> None:
    out = r.er(Reject(".14.", "MISSING MANDATORY FIELD PUR", "PUR", "KQ.X"), CLOCK, ORI)
    assert out.split("\n")[4] == ".14. FIELDS MISSING - MISSING MANDATORY FIELD PUR"
    out = r.er(Reject(".03.", "TXT NOT FOUND", None, "RQ.X"), CLOCK, ORI)
    assert out.split("\n")[4] == ".03. TXT NOT FOUND OR IMPROPERLY FORMED XML"
    out = r.er(Reject(".19.", "", None, "RQ.X"), CLOCK, ORI)
    assert out.split("\n")[4] == ".19. INVALID DESTINATION ORIS"
    out = r.er(Reject(".99.", "ODD", None, "X" * 100), CLOCK, ORI)
    assert out.split("\n")[4] == ".99. ODD"
    _lines_fit(out)


def test_nlets_header_zero_padded() -> None:
    clock = r.NletsClock(datetime(2026, 1, 2, 3, 4), 7, datetime(2026, 1, 2, 3, 5), 12345)
    assert r.nlets_header("DR", "WAOLN0000", clock, ORI) == [
        "DR.WAOLN0000",
        "03:04 01/02/2026 00007",
        "03:05 01/02/2026 12345 OR0240000",
        "TXT",
    ]
    msg = r.nlets_message("DR", "WAOLN0000", clock, ORI, ["NAM/SMITH, JOHN"])
    assert msg.split("\n")[4:] == ["NAM/SMITH, JOHN"]


def test_sm_layouts() -> None:
    out = r.sm(".01.", "WA", CLOCK, ORI).split("\n")
    assert out[0] == "SM.NL0000000" and out[3] == "TXT"
    assert out[4] == ".01. WA USER DOES NOT RESPOND TO MSG TYPE, NLETS WILL NOT FORWARD"
    assert (
        r.sm(".02.", "ID", CLOCK, ORI).split("\n")[4]
        == ".02. ID USER OUT OF SERVICE FOR MSG TYPE, NLETS WILL FORWARD"
    )
    out = r.sm("IN SERVICE", "NLETS", CLOCK, ORI, detail="SINCE 14:30").split("\n")
    assert out[4:] == ["NLETS IN SERVICE", "SINCE 14:30"]


def test_accepted_layout() -> None:
    out = r.accepted(
        "enter",
        "wanted",
        ORI,
        [("NAM", "SMITH,JOHN J"), ("OCA", "24-00017")],
        "W123456789",
        datetime(2026, 3, 9, 14, 32),
        CODES,
    )
    assert out.split("\n") == [
        "ACC.OR0240000",
        "WANTED PERSON ENTERED",
        "NAM/SMITH, JOHN J OCA/24-00017 NIC/W123456789",
        "DTE/20260309 1432",
    ]
    out = r.accepted("probe", "lab", ORI, [], "X123456789", datetime(2026, 3, 9), CODES)
    assert out.split("\n")[1] == "LAB PROBE"


@pytest.mark.parametrize("verb", ["enter", "modify", "cancel", "clear", "locate"])
def test_accepted_verbs(verb: str) -> None:
    out = r.accepted(
        verb, "vehicle", ORI, [("LIC", "ABC123")], "V123456789", datetime(2026, 3, 9), CODES
    )
    assert out.split("\n")[1] == f"STOLEN VEHICLE {r.VERB_WORDS[verb]}"


def test_hit_layout() -> None:
    out = r.hit("wanted", ORI, RECORD, CODES)
    lines = out.split("\n")
    assert lines[0] == "HIT.OR0240000"
    assert lines[1].startswith("WARNING - DO NOT ARREST OR DETAIN")
    assert "MKE/WANTED PERSON" in lines
    body = " ".join(lines)
    assert "NAM/SMITH, JOHN J" in body and "AKA/DOE, JACK" in body
    assert f"OFF/{CODES.describe('OFF', '0902')}" in body
    assert "OFF/0902" not in body
    assert "NIC/W123456789" in body
    assert lines[-1] == r.CONFIRM_TRAILER
    _lines_fit(out)
    # the caveat is wrapped, not lost
    caveat = lines[1 : lines.index("MKE/WANTED PERSON")]
    assert " ".join(caveat) == r.ARREST_CAVEAT


def test_hit_unknown_offence_and_custom_caveats() -> None:
    out = r.hit("ndtf", ORI, [("OFF", "9999"), ("CHG", "1299")], CODES, caveats=(), trailer=())
    assert out.split("\n") == [
        "HIT.OR0240000",
        "MKE/NICS DENIED TRANSACTION FILE",
        "OFF/9999 CHG/ROBBERY",
    ]


def test_no_record() -> None:
    out = r.no_record(ORI, [("NAM", "SMITH,JOHN"), ("DOB", "19511012")])
    assert out.split("\n") == ["NRC.OR0240000", "NO NCIC WANT NAM/SMITH,JOHN DOB/19511012"]
    assert r.no_record(ORI, [], "RECORD").split("\n")[1] == "NO RECORD"
    many = r.no_record(ORI, [(f"C{i:02d}", "V" * 12) for i in range(10)])
    _lines_fit(many)


def test_notification() -> None:
    out = r.notification(
        "L", ORI, ["LOCATE PLACED ON YOUR RECORD NIC/W123456789 BY WA0170000", "X " * 60]
    )
    lines = out.split("\n")
    assert lines[:3] == [
        "NTF.OR0240000",
        "$.L.",
        "LOCATE PLACED ON YOUR RECORD NIC/W123456789 BY WA0170000",
    ]
    _lines_fit(out)


def test_first_line_key() -> None:
    assert r.first_line_key("HIT.OR0240000\nMKE/X") == ("HIT", ORI)
    assert r.first_line_key("") == ("", "")
    assert r.first_line_key("NOKEY") == ("NOKEY", "")


def test_wrap_helpers() -> None:
    assert r.wrap("SHORT") == ["SHORT"]
    assert r.wrap("") == [""]
    assert r.wrap(" " * 80) == [""]
    assert r.wrap("X" * 150) == ["X" * 72, "X" * 72, "X" * 6]
    assert r.cut("Y" * 150) == ["Y" * 72, "Y" * 72, "Y" * 6]
    assert r.cut("") == [""]
    assert r.page(["A\nB", "C"]) == ["A", "B", "C"]
