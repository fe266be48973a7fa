"""Tests for formats.grammar: every key read and written back, the rejects, and fuzzing.

The round trip is generated from the dictionary itself (``valid_message``), so a key added to
``keys.toml`` is covered without touching this file; the property tests start from the same
messages and break them.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from formats import errors
from formats.dictionary import Dictionary, KeySpec
from formats.errors import NLETS_ERRORS, Reject, RejectError
from formats.fields import FieldDef
from formats.grammar import Parser, build, clean, parse
from formats.message import Message
from formats.nic import make_nic
from formats.rejects import RejectCode

D = Dictionary.default()
P = Parser()
ORI = "OR0240000"
ALL_KEYS = sorted(D.keys)

FORMAT_CODES = frozenset(
    {
        RejectCode.BAD_FORMAT,
        RejectCode.BAD_KEY,
        RejectCode.BAD_ORI,
        RejectCode.MISSING_FIELD,
        RejectCode.BAD_VALUE,
        RejectCode.FIELD_NOT_ALLOWED,
        RejectCode.DUPLICATE_FIELD,
    }
)

# ------------------------------------------------------------------------- message generator

_TEXT = "ABC 123"
_ALNUM = "A1B2C3D4E5F6G7H8J9K0L1M2N3"
_ARGS = {"TERMINAL": "T01", "OPERATOR": "JDOE", "PASSWORD": "Secret9", "OSN": "00042"}


def value_for(fd: FieldDef, nlets: bool = False) -> str:
    """A valid value for field ``fd`` (as a key reads it: ``Dictionary.defs_for``), whatever its
    type (in an Nlets-style key if ``nlets``)."""
    t = fd.type
    if t == "code":
        return fd.values[0] if fd.values else next(iter(D.codes.table(fd.table)))
    if t == "name":
        return "SMITH,JOHN J"
    if t == "date":
        return "19800229"
    if t == "digits":
        return "7" * max(fd.min, 1)
    if t == "alnum":
        return _ALNUM[: max(fd.min, 1)]
    if t == "text":
        return _TEXT[: fd.max or len(_TEXT)]
    if t == "hgt":
        return "510"
    if t == "ori":
        return "WA0170000"
    if t == "nic":
        return make_nic("W", 1234567)
    if t == "year":
        return "2025"
    raise AssertionError(f"no generator for field type {t}")


def _destinations(spec: KeySpec) -> list[str]:
    return {"state": ["WA", "ID"], "ori": ["WA0170000"], "any": ["WA", "ID0010000"]}[spec.dest][
        : spec.max_dest
    ]


def valid_message(spec: KeySpec, *, full: bool = False, control: str = "") -> Message:
    """A message ``spec`` accepts: mandatory fields plus the first identifier set.

    ``full`` adds every other field the key allows (repeatable ones twice), so that every
    field definition is exercised through every key that uses it.
    """
    key, _, suffix = spec.key.partition("-")
    if spec.style == "positional":
        args = [_ARGS[a] for a in spec.args]
        return Message(key=key, suffix=suffix, ori=args[0] if args else "", args=args)
    codes = list(spec.mandatory)
    for code in spec.one_of[0] if spec.one_of else ():
        if code not in codes:
            codes.append(code)
    if full:
        for code in sorted(spec.allowed):
            if code not in codes:
                codes.append(code)
        codes += [c for c in sorted(spec.repeat)]
    fields = [(c, value_for(D.defs_for(spec.key)[c], spec.style == "nlets")) for c in codes]
    if spec.style == "ncic":
        return Message(key=key, suffix=suffix, ori=ORI, fields=fields)
    dests = _destinations(spec)
    if spec.body == "text":
        return Message(
            key=key,
            suffix=suffix,
            ori=ORI,
            destinations=dests,
            control=control,
            text="ALL UNITS\nSubject last seen, northbound I5",
        )
    return Message(
        key=key, suffix=suffix, ori=ORI, destinations=dests, control=control, fields=fields
    )


def valid_text(key: str) -> str:
    return build(valid_message(D.keys[key]))


def same(a: Message, b: Message) -> None:
    assert (a.key, a.suffix, a.ori, a.destinations, a.control, a.fields, a.text, a.args) == (
        b.key,
        b.suffix,
        b.ori,
        b.destinations,
        b.control,
        b.fields,
        b.text,
        b.args,
    )


def rejected(text: str, parser: Parser = P) -> Reject:
    result = parser.check(text)
    assert isinstance(result, Reject), f"accepted: {text!r} -> {result}"
    return result


def assert_reject(text: str, code: str, field: str | None, reason: str) -> Reject:
    rej = rejected(text)
    assert (rej.code, rej.field, rej.reason) == (code, field, reason)
    assert rej.input == text[:100]
    return rej


# ---------------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("key", ALL_KEYS)
def test_round_trip_every_key(key: str) -> None:
    spec = D.keys[key]
    for msg in (
        valid_message(spec),
        valid_message(spec, full=True),
        valid_message(spec, control="CTL01"),
    ):
        text = build(msg)
        parsed = parse(text)
        same(parsed, msg)
        assert parsed.raw == text
        assert parsed.full_key == key
        assert build(parsed) == text
        same(parse(build(parsed)), parsed)


def test_round_trip_covers_every_field_type() -> None:
    used = {D.fields[c].type for spec in D.keys.values() for c in spec.allowed}
    assert used == {fd.type for fd in D.fields.values()}


def test_build_layouts() -> None:
    assert (
        build(Message(key="QW", ori=ORI, fields=[("NAM", "SMITH,JOHN"), ("DOB", "19800101")]))
        == "QW.OR0240000.NAM/SMITH,JOHN.DOB/19800101"
    )
    assert (
        build(
            Message(
                key="RQ",
                ori=ORI,
                destinations=["WA", "ID"],
                control="A1",
                fields=[("VIN", "1HGCM")],
            )
        )
        == "RQ.OR0240000.WA.ID.*A1.TXT\nVIN/1HGCM"
    )
    assert build(Message(key="EV", suffix="P", ori=ORI)) == "EV-P.OR0240000"
    assert build(Message(key="LOGON", args=["T01", "jdoe", "pw"])) == "LOGON.T01.jdoe.pw"
    assert build(Message(key="AM", ori=ORI, destinations=["WA"])) == "AM.OR0240000.WA.TXT"
    # keys the dictionary does not know: the style follows from the destinations
    assert build(Message(key="ZZ", ori=ORI, fields=[("A", "B")])) == "ZZ.OR0240000.A/B"
    assert (
        build(Message(key="ZZ", ori=ORI, destinations=["WA"], text="HI"))
        == "ZZ.OR0240000.WA.TXT\nHI"
    )


def test_parse_examples_from_the_reference() -> None:
    m = parse("QW.OR0240000.NAM/SMITH,JOHN.DOB/19800101.SEX/M")
    assert (m.key, m.ori, m.fields) == (
        "QW",
        ORI,
        [("NAM", "SMITH,JOHN"), ("DOB", "19800101"), ("SEX", "M")],
    )
    m = parse("RQ.OR0240000.WA.ID.*CTL01.TXT\nLIC/9ABC123.LIY/2025.LIT/PC")
    assert (m.destinations, m.control, m.get("LIC"), m.get("LIT")) == (
        ["WA", "ID"],
        "CTL01",
        "9ABC123",
        "PC",
    )
    # -P: the vehicle is to be held for latent prints (NCIC Vehicle File, MKE codes)
    m = parse(
        "EV-P.OR0240000.VIN/1HGCM82633A004352.VYR/2020.VMA/HOND.VST/4D.VCO/BLK.DOT/20250101.OCA/1"
    )
    assert (m.key, m.suffix, m.full_key) == ("EV", "P", "EV-P")


# ------------------------------------------------------------------------------------ rejects

QW = "QW.OR0240000.NAM/SMITH,JOHN.DOB/19800101"


def test_missing_mandatory_field() -> None:
    assert_reject(
        "EW.OR0240000.SEX/M", RejectCode.MISSING_FIELD, "NAM", "MISSING MANDATORY FIELD NAM"
    )


def test_invalid_code() -> None:
    assert_reject(QW + ".SEX/X", RejectCode.BAD_VALUE, "SEX", "INVALID SEX CODE X")


def test_bad_date() -> None:
    assert_reject(
        "QW.OR0240000.NAM/SMITH,JOHN.DOB/19801345",
        RejectCode.BAD_VALUE,
        "DOB",
        "DOB/19801345 NOT A VALID DATE",
    )
    for bad in ("19810229", "19800431", "18000000", "2000010", "1980O101"):
        assert rejected(f"QW.OR0240000.NAM/SMITH,JOHN.DOB/{bad}").field == "DOB"
    assert isinstance(P.check("QW.OR0240000.NAM/SMITH,JOHN.DOB/20000229"), Message)


def test_field_not_allowed_for_key() -> None:
    assert_reject(
        "QV.OR0240000.LIC/ABC123.NAM/SMITH,JOHN",
        RejectCode.FIELD_NOT_ALLOWED,
        "NAM",
        "FIELD NAM NOT VALID FOR MKE QV",
    )


def test_unknown_field() -> None:
    assert_reject(QW + ".ZZZ/1", RejectCode.FIELD_NOT_ALLOWED, "ZZZ", "UNKNOWN FIELD CODE ZZZ")
    rej = rejected(QW + ".ABCDEFGHIJKLMN/1")
    assert rej.field == "ABCDEFGHIJ" and rej.reason == "UNKNOWN FIELD CODE ABCDEFGHIJ"


def test_duplicate_field() -> None:
    assert_reject(
        QW + ".NAM/JONES,MARY",
        RejectCode.DUPLICATE_FIELD,
        "NAM",
        "FIELD NAM ENTERED MORE THAN ONCE",
    )


def test_repeatable_field_allowed_twice() -> None:
    msg = valid_message(D.keys["EW"])
    msg.fields += [("AKA", "DOE,JOHN"), ("AKA", "ROE,JACK")]
    parsed = parse(build(msg))
    assert parsed.get_all("AKA") == ["DOE,JOHN", "ROE,JACK"]
    assert parsed.get("AKA") == "DOE,JOHN"


def test_trailing_period() -> None:
    assert_reject(QW + ".", RejectCode.BAD_FORMAT, None, "MESSAGE MUST NOT END WITH A PERIOD")


@pytest.mark.parametrize("text", ["", "   ", "\r\n\x00\x07", "\t"])
def test_empty_message(text: str) -> None:
    assert_reject(text, RejectCode.BAD_FORMAT, None, "EMPTY MESSAGE")


def test_unknown_key() -> None:
    assert_reject("ZZ.OR0240000.NAM/SMITH,JOHN", RejectCode.BAD_KEY, None, "INVALID MESSAGE KEY ZZ")
    assert rejected("ABCDEFGHIJKLMNOP.OR0240000").reason == "INVALID MESSAGE KEY ABCDEFGHIJ"


def test_bad_key_suffix() -> None:
    assert_reject(
        "EV-X.OR0240000.LIC/ABC", RejectCode.BAD_KEY, None, "INVALID MESSAGE KEY SUFFIX EV-X"
    )


@pytest.mark.parametrize(
    ("ori", "reason"),
    [
        ("OR02400", "ORI/OR02400 MUST BE 9 CHARACTERS"),
        ("OR02400000", "ORI/OR02400000 MUST BE 9 CHARACTERS"),
        ("", "ORI/ MUST BE 9 CHARACTERS"),
        ("O10240000", "ORI/O10240000 MUST BE 2 LETTERS AND 7 LETTERS OR DIGITS"),
        ("OR024-000", "ORI/OR024-000 MUST BE 2 LETTERS AND 7 LETTERS OR DIGITS"),
        ("NE0240000", "ORI/NE0240000 NE IS NOT AN NCIC STATE CODE"),
    ],
)
def test_bad_ori(ori: str, reason: str) -> None:
    assert_reject(f"QW.{ori}.NAM/SMITH,JOHN.DOB/19800101", RejectCode.BAD_ORI, "ORI", reason)


def test_key_without_ori() -> None:
    assert_reject(
        "QW", RejectCode.BAD_FORMAT, None, "MESSAGE KEY MUST BE FOLLOWED BY A PERIOD AND THE ORI"
    )
    assert_reject("RQ", ".01.", None, "MESSAGE KEY MUST BE FOLLOWED BY A PERIOD AND THE ORI")


def test_missing_identifiers_on_qw() -> None:
    assert_reject(
        "QW.OR0240000.NAM/SMITH,JOHN.SEX/M",
        RejectCode.MISSING_FIELD,
        "DOB",
        "MISSING IDENTIFIERS - ENTER ONE OF NAM+DOB, NAM+SOC, NAM+FBI, NAM+MNU, NAM+OLN, "
        "FBI, SOC, MNU, OLN, NIC",
    )
    assert rejected("QW.OR0240000").reason.startswith("MISSING IDENTIFIERS")


def test_field_shape_errors() -> None:
    assert_reject(
        "QW.OR0240000.NAMSMITH", RejectCode.BAD_FORMAT, None, "NAMSMITH IS NOT A CODE/VALUE FIELD"
    )
    assert_reject(
        "QW.OR0240000.NAM/SMITH,JOHN..DOB/19800101",
        RejectCode.BAD_FORMAT,
        None,
        "EMPTY FIELD BETWEEN PERIODS",
    )
    assert_reject(
        "QW.OR0240000.NAM/.DOB/19800101", RejectCode.MISSING_FIELD, "NAM", "FIELD NAM HAS NO VALUE"
    )
    xw = "XW.OR0240000.NAM/SMITH,JOHN.NIC/" + make_nic("W", 5)
    for last, code, field, reason in [
        (".RSN/", RejectCode.MISSING_FIELD, "RSN", "FIELD RSN HAS NO VALUE"),
        (".RSN/  ", RejectCode.MISSING_FIELD, "RSN", "FIELD RSN HAS NO VALUE"),
        (".RSN", RejectCode.BAD_FORMAT, None, "RSN IS NOT A CODE/VALUE FIELD"),
        (
            ".RSN/ OK.RSN/AGAIN",
            RejectCode.DUPLICATE_FIELD,
            "RSN",
            "FIELD RSN ENTERED MORE THAN ONCE",
        ),
        (". RSN /GONE", None, None, None),
    ]:
        if code is None:
            assert parse(xw + last).get("RSN") == "GONE"
        else:
            assert_reject(xw + last, code, field, reason)
    # the first problem in the order typed wins
    assert rejected("QW.OR0240000.NAM/A,B.NAM/C,D.SEX/Q").code == RejectCode.DUPLICATE_FIELD
    assert rejected("QW.OR0240000.NAM/A,B.SEX/Q.NAM/C,D").code == RejectCode.BAD_VALUE
    assert rejected("QW.OR0240000.NAM/A,B.SEX/Q.ZZZ/1").code == RejectCode.BAD_VALUE
    assert rejected("QW.OR0240000.NAM/A,B.ZZZ/1.SEX/Q").code == RejectCode.FIELD_NOT_ALLOWED


def test_positional_rejects() -> None:
    assert_reject(
        "LOGON.T01", RejectCode.BAD_FORMAT, None, "LOGON TAKES TERMINAL.OPERATOR.PASSWORD"
    )
    assert_reject(
        "LOGON.T01..pw", RejectCode.BAD_FORMAT, None, "LOGON TAKES TERMINAL.OPERATOR.PASSWORD"
    )
    assert_reject("ACK", RejectCode.BAD_FORMAT, None, "ACK TAKES OSN")


def test_field_type_rejects() -> None:
    cases = {
        "QW.OR0240000.NAM/SMITH JOHN.DOB/19800101": "NAM/SMITH JOHN NOT A VALID NAME - USE "
        "LAST,FIRST MIDDLE",
        "QW.OR0240000.NAM/" + "A" * 20 + "," + "B" * 10 + ".DOB/19800101": "NAM/"
        + "A" * 20
        + ","
        + "B" * 10
        + " LONGER THAN 30 CHARACTERS",
        "QW.OR0240000.SOC/12345678": "SOC/12345678 MUST BE 9 DIGITS",
        "QV.OR0240000.LIC/ABC-123": "LIC/ABC-123 MUST BE 1 TO 10 LETTERS OR DIGITS",
        "QV.OR0240000.LIC/ABC.LIY/1799": "LIY/1799 NOT A VALID YEAR",
        "QW.OR0240000.NIC/W123456789": "NIC/W123456789 NOT A VALID NIC",
        "QU.OR0240000.SEX/M.RAC/W.HGT/512": "HGT/512 NOT A VALID HEIGHT - USE FEET AND INCHES "
        "(510)",
        "QU.OR0240000.SEX/M.RAC/W.HGT/060": "HGT/060 NOT A VALID HEIGHT - USE FEET AND INCHES "
        "(510)",
        "TQ.OR0240000.OD.TXT\nORI/NE0000000": "ORI/NE0000000 NE IS NOT AN NCIC STATE CODE",
        "XW.OR0240000.NAM/SMITH,JOHN.NIC/" + make_nic("W", 5) + ".RSN/" + "R" * 61: "RSN/"
        + "R" * 20
        + "... LONGER THAN 60 CHARACTERS",
    }
    for text, reason in cases.items():
        assert rejected(text).reason == reason, text


def test_non_ascii_digits_are_not_numbers() -> None:
    arabic_2020 = "\u0662\u0660\u0662\u0660"
    assert rejected(f"QV.OR0240000.LIC/ABC.LIY/{arabic_2020}").field == "LIY"
    assert (
        rejected(
            "QW.OR0240000.NAM/SMITH,JOHN.DOB/\u0661\u0669\u0668\u0660\u0660\u0661\u0660\u0661"
        ).field
        == "DOB"
    )
    assert rejected("QW.OR0240000.SOC/\u0661" * 1 + "23456789").field == "SOC"


# ---------------------------------------------------------------------------------- Nlets

RQ_HEAD = "RQ.OR0240000.WA.TXT\n"


def test_nlets_txt_not_found() -> None:
    assert_reject("RQ.OR0240000.WA.LIC/ABC123.LIY/2025.LIT/PC", ".03.", None, "TXT NOT FOUND")


def test_nlets_no_destination() -> None:
    assert_reject("RQ.OR0240000.TXT\nVIN/1HGCM", ".01.", None, "NO DESTINATION IN HEADER")
    assert_reject("RQ.OR0240000.*CTL.TXT\nVIN/1HGCM", ".01.", None, "NO DESTINATION IN HEADER")


def test_nlets_too_many_destinations() -> None:
    assert_reject(
        "RQ.OR0240000.WA.ID.CA.NV.AZ.TX.TXT\nVIN/1HGCM",
        ".01.",
        None,
        "TOO MANY DESTINATIONS - RQ ALLOWS 5",
    )
    assert_reject(
        "KQ.OR0240000.WA.ID.TXT\nPUR/C.OLN/123", ".01.", None, "TOO MANY DESTINATIONS - KQ ALLOWS 1"
    )


def test_nlets_bad_header_ori() -> None:
    assert_reject("RQ.OR024.WA.TXT\nVIN/1HGCM", ".01.", "ORI", "ORI/OR024 MUST BE 9 CHARACTERS")
    assert_reject("RQ.TXT\nVIN/1HGCM", ".01.", "ORI", "ORI/ MUST BE 9 CHARACTERS")


def test_nlets_ori_not_allowed_to_state_only_key() -> None:
    assert_reject(
        "IQ.OR0240000.WA0170000.TXT\nPUR/C.ATN/DET SMITH.SID/1234",
        ".02.",
        "DEST",
        "DESTINATION WA0170000 MUST BE A 2-CHARACTER STATE CODE - IQ",
    )
    assert_reject(
        "YQ.OR0240000.WA.TXT\nRTY/WP",
        ".02.",
        "DEST",
        "DESTINATION WA MUST BE A 9-CHARACTER ORI - YQ",
    )


@pytest.mark.parametrize(
    ("dest", "reason"),
    [
        ("XQ", "DESTINATION XQ IS NOT A VALID STATE OR NLETS CODE - RQ"),
        ("WAX", "DESTINATION WAX MUST BE A 2-CHARACTER CODE OR A 9-CHARACTER ORI - RQ"),
        ("", "DESTINATION  MUST BE A 2-CHARACTER CODE OR A 9-CHARACTER ORI - RQ"),
    ],
)
def test_nlets_bad_destination(dest: str, reason: str) -> None:
    assert_reject(f"RQ.OR0240000.{dest}.TXT\nVIN/1HGCM", ".19.", "DEST", reason)


def test_nlets_bad_destination_ori() -> None:
    assert_reject(
        "YQ.OR0240000.NE0170000.TXT\nRTY/WP",
        ".19.",
        "DEST",
        "ORI/NE0170000 NE IS NOT AN NCIC STATE CODE - YQ",
    )


def test_nlets_special_destinations() -> None:
    for dest in ("NL", "Z1", "FB", "CN"):
        assert parse(f"RQ.OR0240000.{dest}.TXT\nVIN/1HGCM").destinations == [dest]


def test_nlets_bad_dob() -> None:
    assert_reject(
        "DQ.OR0240000.WA.TXT\nNAM/SMITH,JOHN.DOB/19801345.SEX/M",
        ".05.",
        "DOB",
        "DOB/19801345 NOT A VALID DATE",
    )


def test_nlets_bad_year() -> None:
    assert_reject(
        RQ_HEAD + "LIC/ABC123.LIY/20X5.LIT/PC", ".10.", "LIY", "LIY/20X5 NOT A VALID YEAR"
    )
    assert parse(RQ_HEAD + "LIC/ABC123.LIY/NX.LIT/PC").get("LIY") == "NX"


def test_nlets_options_listed() -> None:
    rej = assert_reject(
        RQ_HEAD + "LIC/ABC123.LIT/PC",
        ".22.",
        "LIY",
        "INVALID MESSAGE FORMAT - REFER TO RQ MKE OPTIONS BELOW\n1. LIC, LIY, LIT\n2. VIN",
    )
    assert "1. LIC, LIY, LIT" in rej.reason.splitlines()
    assert "2. VIN" in rej.reason.splitlines()


def test_nlets_missing_mandatory() -> None:
    assert_reject(
        "IQ.OR0240000.WA.TXT\nSOC/123456789.ATN/DET ROE",
        ".14.",
        "PUR",
        "MISSING MANDATORY FIELD PUR",
    )


def test_nlets_field_errors_use_nlets_numbers() -> None:
    dq = "DQ.OR0240000.WA.TXT\n"
    assert_reject(dq + "OLN/123.SEX/X", ".22.", "SEX", "INVALID SEX CODE X")
    assert_reject(dq + "OLN/123.OLN/456", ".22.", "OLN", "FIELD OLN ENTERED MORE THAN ONCE")
    assert_reject(dq + "OLN/123.ZZZ/1", ".22.", "ZZZ", "UNKNOWN FIELD CODE ZZZ")
    assert_reject(dq + "OLN/123.LIC/1", ".22.", "LIC", "FIELD LIC NOT VALID FOR MKE DQ")
    assert_reject(dq + "OLN/123..SEX/M", ".00.", None, "EMPTY FIELD BETWEEN PERIODS")
    assert_reject(dq + "NAM/SMITH,JOHN.DOB/.SEX/M", ".05.", "DOB", "FIELD DOB HAS NO VALUE")
    assert_reject("AM.OR0240000.WA.TXT", ".14.", None, "MESSAGE TEXT MISSING")


def test_control_field() -> None:
    m = parse("RQ.OR0240000.WA.*CTL01.TXT\nVIN/1HGCM")
    assert (m.control, m.destinations) == ("CTL01", ["WA"])
    assert parse("RQ.OR0240000.WA.*a1.TXT\nVIN/1HGCM").control == "A1"
    assert_reject(
        "RQ.OR0240000.WA.*ABCDEFGHIJK.TXT\nVIN/1HGCM",
        ".01.",
        None,
        "CONTROL FIELD *ABCDEFGHIJK MUST BE 1 TO 10 LETTERS OR DIGITS",
    )
    for bad in ("*", "*A-1", "*\u00c4B"):
        assert rejected(f"RQ.OR0240000.WA.{bad}.TXT\nVIN/1HGCM").code == ".01.", bad


def test_nlets_short_dates() -> None:
    m = parse("DQ.OR0240000.WA.TXT\nNAM/SMITH,JOHN.DOB/011580.SEX/M")
    assert m.get("DOB") == "011580"
    assert rejected("DQ.OR0240000.WA.TXT\nNAM/SMITH,JOHN.DOB/023180.SEX/M").code == ".05."
    assert_reject(
        "QW.OR0240000.NAM/SMITH,JOHN.DOB/011580",
        RejectCode.BAD_VALUE,
        "DOB",
        "DOB/011580 NOT A VALID DATE",
    )


def test_txt_forms() -> None:
    for text in (
        "RQ.OR0240000.WA.TXT\nVIN/1HGCM",
        "RQ.OR0240000.WA.TXT VIN/1HGCM",
        "RQ.OR0240000.WA.TXTVIN/1HGCM",
        "rq.or0240000.wa.txt\nvin/1hgcm",
        "RQ.OR0240000.WA.TXT\r\n\r\nVIN/1HGCM",
    ):
        m = parse(text)
        assert (m.destinations, m.fields) == (["WA"], [("VIN", "1HGCM")]), text
    # an ORI that starts with TXT is an ORI, not the TXT marker
    m = parse(
        "YQ.OR0240000.TXT000000.TXT\nRTY/WP.RNO/1.PRI/U.RNA/JONES.RAG/SO.OCA/1.NIC/"
        + make_nic("W", 1)
    )
    assert m.destinations == ["TXT000000"]


# ----------------------------------------------------------------------------- text handling


def test_multi_line_text_body_kept() -> None:
    body = "ATTN: RECORDS\nPlease confirm warrant / OCA 24-17\n  indented line\nEND"
    m = parse(f"AM.OR0240000.WA.ID.TXT\n{body}")
    assert m.text == body
    assert m.fields == []
    assert build(m) == f"AM.OR0240000.WA.ID.TXT\n{body}"


def test_fields_over_several_lines() -> None:
    for text in (
        "QW.OR0240000.NAM/SMITH,JOHN\nDOB/19800101\nSEX/M",
        "QW.OR0240000.NAM/SMITH,JOHN.\nDOB/19800101.\nSEX/M",
        "QW.OR0240000.NAM/SMITH,JOHN\r\nDOB/19800101\r\nSEX/M\r\n",
    ):
        assert parse(text).fields == [("NAM", "SMITH,JOHN"), ("DOB", "19800101"), ("SEX", "M")]


def test_control_characters_ignored() -> None:
    m = parse("QW.OR02\x0040000.NAM/SMITH,\x07JOHN.DOB/1980\x1b0101\x7f")
    assert (m.ori, m.fields) == (ORI, [("NAM", "SMITH,JOHN"), ("DOB", "19800101")])
    assert parse("QW.OR0240000.NAM/SMITH,\tJOHN.DOB/19800101").get("NAM") == "SMITH, JOHN"
    assert clean("\x02AB\tC\r\nD\x03 ") == "AB C\nD"
    assert clean("  plain  ") == "plain"


def test_lowercase_upper_cased() -> None:
    m = parse("qw.or0240000.nam/smith,john.dob/19800101.sex/m")
    assert (m.key, m.ori, m.fields) == (
        "QW",
        ORI,
        [("NAM", "SMITH,JOHN"), ("DOB", "19800101"), ("SEX", "M")],
    )
    m = parse("rq.or0240000.wa.*ab1.txt\nlic/abc123.liy/nx.lit/pc")
    assert (m.destinations, m.control, m.fields) == (
        ["WA"],
        "AB1",
        [("LIC", "ABC123"), ("LIY", "NX"), ("LIT", "PC")],
    )
    assert (
        parse(
            "ev-p.or0240000.vin/1hgcm82633a004352.vyr/2020.vma/hond.vst/4d.vco/blk"
            ".dot/20250101.oca/1"
        ).suffix
        == "P"
    )


def test_positional_keeps_case() -> None:
    m = parse("LOGON.T01.jdoe.S3cret")
    assert (m.key, m.ori, m.args) == ("LOGON", "T01", ["T01", "jdoe", "S3cret"])
    assert parse("logon.t01.jdoe.S3cret").args == ["t01", "jdoe", "S3cret"]
    assert parse("ACK.00042").args == ["00042"]


def test_raw_kept_and_echo_is_first_100() -> None:
    text = "QW.OR0240000.NAM/SMITH,JOHN.MIS/" + "X" * 200 + ".SEX/Q"
    rej = rejected(text)
    assert rej.input == text[:100] and len(rej.input) == 100
    assert errors.echo(text) == text[:100]
    assert parse(QW).raw == QW
    with pytest.raises(RejectError) as exc:
        parse(text)
    assert exc.value.reject == rej


def test_message_field_order() -> None:
    """The parser builds ``Message`` positionally (cheaper than keywords): keep them in step."""
    assert [f.name for f in dataclasses.fields(Message)] == [
        "key",
        "ori",
        "destinations",
        "control",
        "fields",
        "text",
        "suffix",
        "args",
        "raw",
    ]


def test_parser_with_own_dictionary() -> None:
    assert Parser(D).dictionary is D
    assert isinstance(Parser().check(QW), Message)


# ------------------------------------------------------------------------------- properties

_SEPARATORS = "./,*\n -"
_NOISE = st.sampled_from([*_SEPARATORS, *"AZ09az", "TXT", "\x00", "\t", "\u00e9", "\u0662"])


def _check_result(text: str) -> Message | Reject:
    result = P.check(text)
    assert isinstance(result, Message | Reject)
    if isinstance(result, Reject):
        assert result.reason.strip()
        assert result.code in FORMAT_CODES or result.code in NLETS_ERRORS, result
        assert len(result.input) <= 100
        assert result.input == text[:100]
    else:
        # whatever is accepted is written back to a text that reads the same
        same(parse(build(result)), result)
    return result


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    _check_result(text)


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    _check_result(data.decode("ascii", errors="replace"))
    _check_result(data.decode("utf-8", errors="replace"))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(ALL_KEYS),
    st.text(
        alphabet=st.sampled_from(list("./,*\n -ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")), max_size=80
    ),
)
def test_key_then_noise_never_raises(key: str, rest: str) -> None:
    _check_result(f"{key}.{rest}")


@st.composite
def mutated(draw: st.DrawFn) -> str:
    spec = D.keys[draw(st.sampled_from(ALL_KEYS))]
    text = build(valid_message(spec, full=draw(st.booleans())))
    for _ in range(draw(st.integers(1, 4))):
        how = draw(
            st.sampled_from(["insert", "delete", "replace", "drop", "duplicate", "swap", "period"])
        )
        n = len(text)
        if how == "insert":
            i = draw(st.integers(0, n))
            text = text[:i] + draw(_NOISE) + text[i:]
        elif how == "delete" and n:
            i = draw(st.integers(0, n - 1))
            text = text[:i] + text[i + 1 :]
        elif how == "replace" and n:
            i = draw(st.integers(0, n - 1))
            text = text[:i] + draw(_NOISE) + text[i + 1 :]
        elif how in ("drop", "duplicate"):
            parts = text.split(".")
            if len(parts) > 2:
                i = draw(st.integers(2, len(parts) - 1))
                if how == "drop":
                    del parts[i]
                else:
                    parts.insert(i, parts[i])
            text = ".".join(parts)
        elif how == "swap":
            dots = [i for i, c in enumerate(text) if c == "."]
            if dots:
                i = draw(st.sampled_from(dots))
                j = min(i + 1, n - 1)
                chars = list(text)
                chars[i], chars[j] = chars[j], chars[i]
                text = "".join(chars)
        elif how == "period":
            dots = [i for i, c in enumerate(text) if c == "."]
            if dots:
                i = draw(st.sampled_from(dots))
                text = text[:i] + draw(st.sampled_from(["/", ",", " ", "\n", ".."])) + text[i + 1 :]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_messages_only_reject(text: str) -> None:
    _check_result(text)
