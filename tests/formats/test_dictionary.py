"""Tests for formats.dictionary: the shipped keys.toml, lab overlays and the loader's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from formats.codes import CodeBook
from formats.dictionary import BODIES, DEST_KINDS, STYLES, Dictionary, KeySpec
from formats.errors import ConfigError, Reject
from formats.fields import FIELD_TYPES, FieldDef
from formats.grammar import Parser
from formats.message import Message
from formats.nic import make_nic

D = Dictionary.default()


def _write(tmp_path: Path, text: str, name: str = "lab.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ shipped file


def test_default_is_built_once() -> None:
    assert Dictionary.default() is D
    assert D.codes is CodeBook.builtin()


def test_reference_keys_present() -> None:
    for key in (
        "EW",
        "EWJ",
        "MW",
        "XW",
        "CW",
        "LW",
        "QW",
        "QM",
        "QU",
        "EV",
        "EV-P",
        "QV",
        "QG",
        "QA",
        "QB",
        "EPO",
        "QPO",
        "QND",
        "QH",
        "QR",
        "AM",
        "AML",
        "DQ",
        "KQ",
        "RQ",
        "IQ",
        "FQ",
        "AQ",
        "YQ",
        "YR",
        "TQ",
        "LOGON",
        "LOGOFF",
        "ACK",
    ):
        assert key in D.keys, key
        assert D.spec(key) is D.keys[key]
    assert D.spec("NOPE") is None


def test_every_key_is_consistent() -> None:
    for key, spec in D.keys.items():
        assert spec.key == key
        assert spec.style in STYLES and spec.dest in DEST_KINDS and spec.body in BODIES
        assert spec.label
        for code in spec.allowed | spec.repeat:
            assert code in D.fields, (key, code)
        assert spec.repeat <= spec.allowed, key
        if spec.style == "positional":
            assert spec.args and not spec.allowed, key
        elif spec.body == "fields":
            assert spec.mandatory or spec.one_of, f"{key} accepts an empty message"
        assert 1 <= spec.max_dest <= 5, key


def test_every_field_is_checkable() -> None:
    for code, fd in D.fields.items():
        assert fd.code == code and fd.type in FIELD_TYPES
        assert fd.describe()
        if fd.type == "code" and not fd.values:
            assert D.codes.table(fd.table), f"{code}: empty code table {fd.table}"
        if fd.type in ("digits", "alnum"):
            assert 1 <= fd.min <= fd.max, code
        assert fd.er in (".05.", ".10.", ".16.", ".22."), code


def test_keyspec_allowed_and_options() -> None:
    rq = D.keys["RQ"]
    assert rq.allowed == {"LIC", "LIY", "LIT", "VIN", "VYR", "VMA", "RSN"}
    assert rq.options_text() == ["1. LIC, LIY, LIT", "2. VIN"]
    spec = KeySpec(
        key="ZZ", label="Z", mandatory=("NAM",), one_of=(("DOB",), ("SOC",)), optional=("SEX",)
    )
    assert spec.allowed == {"NAM", "DOB", "SOC", "SEX"}


def test_groups_expanded_without_duplicates() -> None:
    ew = D.keys["EW"]
    assert len(ew.optional) == len(set(ew.optional))
    assert {"SMT", "AKA", "MIS", "EXL"} <= set(ew.optional)
    assert ew.repeat == {"AKA", "SMT", "MNU", "CMC"}


def test_describe_each_type() -> None:
    assert D.fields["SEX"].describe() == "code from table SEX"
    assert D.fields["EXT"].describe() == "one of Y N"
    assert D.fields["SOC"].describe() == "9 digits"
    assert D.fields["LIC"].describe() == "1-10 letters or digits"
    assert D.fields["LIY"].describe() == "year CCYY or NX"
    assert D.fields["NAM"].describe() == "LAST,FIRST MIDDLE (at most 30)"
    assert FieldDef(code="ZZ", type="date").describe() == "date CCYYMMDD"


# ---------------------------------------------------------------------------------- overlays

OVERLAY = """
[fields]
SEX = { type = "code", values = ["F", "M", "U", "X"], label = "SEX (LAB)" }
BAD = { type = "alnum", min = 3, max = 5, label = "BADGE NUMBER" }

[keys.QZZ]
label = "LAB TEST INQUIRY"
verb = "query"
file = "lab"
mandatory = ["NAM", "BAD"]
optional = ["@person"]

[keys.QV]
label = "INQUIRY VEHICLE (LAB: PLATE ONLY)"
verb = "query"
file = "vehicle"
mandatory = ["LIC"]
optional = ["LIS"]
"""


def test_overlay_adds_key_and_overrides_field(tmp_path: Path) -> None:
    lab = Dictionary.load([_write(tmp_path, OVERLAY)])
    assert lab is not D
    assert lab.fields["SEX"].label == "SEX (LAB)"
    assert lab.keys["QZZ"].mandatory == ("NAM", "BAD")
    assert lab.keys["QZZ"].style == "ncic"
    parser = Parser(lab)
    msg = parser.check("QZZ.OR0240000.NAM/SMITH,JOHN.BAD/A12.SEX/X")
    assert isinstance(msg, Message)
    assert msg.fields == [("NAM", "SMITH,JOHN"), ("BAD", "A12"), ("SEX", "X")]
    rej = parser.check("QZZ.OR0240000.NAM/SMITH,JOHN.BAD/A1")
    assert isinstance(rej, Reject) and rej.field == "BAD"
    # the overridden key replaces the shipped one as a whole
    assert lab.keys["QV"].allowed == {"LIC", "LIS"}
    rej = parser.check("QV.OR0240000.VIN/1HGCM")
    assert isinstance(rej, Reject) and rej.reason == "FIELD VIN NOT VALID FOR MKE QV"
    # the overridden SEX field applies to every shipped key that uses it
    assert isinstance(parser.check("QW.OR0240000.NAM/SMITH,JOHN.DOB/19800101.SEX/X"), Message)
    # and the shipped dictionary is untouched
    assert "QZZ" not in D.keys
    rej = Parser().check("QW.OR0240000.NAM/SMITH,JOHN.DOB/19800101.SEX/X")
    assert isinstance(rej, Reject) and rej.reason == "INVALID SEX CODE X"


def test_overlays_apply_in_order(tmp_path: Path) -> None:
    first = _write(tmp_path, '[fields]\nMIS = { type = "text", max = 10 }\n', "a.toml")
    second = _write(tmp_path, '[fields]\nMIS = { type = "text", max = 20 }\n', "b.toml")
    assert Dictionary.load([first, second]).fields["MIS"].max == 20
    assert Dictionary.load([second, first]).fields["MIS"].max == 10


def test_overlay_group_and_own_codebook(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[groups]
lab = ["SEX", "RAC"]
[fields]
FLV = { type = "code", table = "FLAVOR" }
[keys.QLB]
label = "LAB"
mandatory = ["FLV"]
optional = ["@lab"]
""",
    )
    codes = CodeBook({"FLAVOR": {"VAN": "VANILLA"}, "SEX": {"M": "MALE"}, "RAC": {"W": "WHITE"}})
    with pytest.raises(ConfigError):  # the shipped dictionary needs the full built-in book
        Dictionary.load([path], codes)
    book = CodeBook(
        {
            **{n: dict(CodeBook.builtin().table(n)) for n in CodeBook.builtin().names()},
            "FLAVOR": {"VAN": "VANILLA"},
        }
    )
    lab = Dictionary.load([path], book)
    assert lab.keys["QLB"].optional == ("SEX", "RAC")
    assert isinstance(Parser(lab).check("QLB.OR0240000.FLV/VAN.SEX/M"), Message)
    assert Parser(lab).check("QLB.OR0240000.FLV/CHO").reason == "INVALID FLV CODE CHO"


def test_key_tables_one_or_a_union(tmp_path: Path) -> None:
    """A key's ``tables`` re-codes a field for that key only: one table, or any of several."""
    path = _write(
        tmp_path,
        '[keys.QZA]\nlabel = "X"\nmandatory = ["TYP"]\ntables = { TYP = "TYPS" }\n'
        '[keys.QZB]\nlabel = "X"\nmandatory = ["TYP"]\ntables = { TYP = ["TYPS", "TYP"] }\n'
        '[keys.QZC]\nlabel = "X"\nmandatory = ["TYP"]\n',
    )
    lab = Dictionary.load([path])
    p = Parser(lab)
    security = next(iter(lab.codes.table("TYPS")))
    gun = next(c for c in lab.codes.table("TYP") if c not in lab.codes.table("TYPS"))
    assert isinstance(p.check(f"QZA.OR0240000.TYP/{security}"), Message)
    assert p.check(f"QZA.OR0240000.TYP/{gun}").reason == f"INVALID TYP CODE {gun}"
    assert isinstance(p.check(f"QZB.OR0240000.TYP/{security}"), Message)
    assert isinstance(p.check(f"QZB.OR0240000.TYP/{gun}"), Message)
    assert p.check("QZB.OR0240000.TYP/ZZZZZ").reason == "INVALID TYP CODE ZZZZZ"
    assert isinstance(p.check(f"QZC.OR0240000.TYP/{gun}"), Message)  # the field's own table
    assert p.check(f"QZC.OR0240000.TYP/{security}").reason == f"INVALID TYP CODE {security}"


def test_nlets_keys_take_nlets_codes() -> None:
    """RSN is free text in an NCIC cancel and one of Nlets' reason codes in a DQ; PUR in an IQ
    is one of Nlets' purpose codes, not every III purpose."""
    p = Parser()
    xw = "XW.OR0240000.NAM/SMITH,JOHN.NIC/" + make_nic("W", 5)
    assert isinstance(p.check(xw + ".RSN/RECORD ENTERED IN ERROR"), Message)
    dq = "DQ.OR0240000.WA.TXT\nOLN/A123.RSN/"
    assert isinstance(p.check(dq + "N"), Message)
    assert p.check(dq + "GONE").reason == "INVALID RSN CODE GONE"
    iq = "IQ.OR0240000.WA.TXT\nSOC/123456789.ATN/SGT ROE.PUR/"
    assert isinstance(p.check(iq + "E"), Message)
    assert p.check(iq + "X").reason == "INVALID PUR CODE X"  # a III purpose, not an Nlets one


# ---------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ('[fields]\nZZZ = { type = "blob" }\n', "fields.ZZZ", "type must be one of"),
        ("[fields]\nZZZ = { max = 3 }\n", "fields.ZZZ", "type must be one of"),
        (
            '[keys.QZZ]\nlabel = "X"\nmandatory = ["QQQ"]\n',
            "keys.QZZ",
            "field QQQ is not defined in [fields]",
        ),
        (
            '[keys.QZZ]\nlabel = "X"\none_of = [["NAM"], ["QQQ"]]\n',
            "keys.QZZ",
            "field QQQ is not defined in [fields]",
        ),
        ('[keys.QZZ]\nlabel = "X"\noptional = ["@nope"]\n', "keys.QZZ", "unknown group @nope"),
        (
            '[keys.QZZ]\nlabel = "X"\ncolour = "red"\n',
            "keys.QZZ",
            "unknown attribute(s) ['colour']",
        ),
        (
            '[fields]\nZZZ = { type = "text", colour = "red" }\n',
            "fields.ZZZ",
            "unknown attribute(s) ['colour']",
        ),
        (
            '[fields]\nZZZ = { type = "code", table = "NOPE" }\n',
            "fields.ZZZ",
            "code table 'NOPE' is not in the code book",
        ),
        (
            '[fields]\nZZZ = { type = "code" }\n',
            "fields.ZZZ",
            "code table '' is not in the code book",
        ),
        (
            '[fields]\nzz1 = { type = "text" }\n',
            "fields.zz1",
            "a field code is 2 to 4 capital letters",
        ),
        ('[keys.QZZ]\nlabel = "X"\nstyle = "fancy"\n', "keys.QZZ", "style must be one of"),
        (
            '[keys.QZZ]\nlabel = "X"\nstyle = "nlets"\ndest = "moon"\n',
            "keys.QZZ",
            "dest must be one of",
        ),
        ('[keys.QZZ]\nlabel = "X"\nbody = "xml"\n', "keys.QZZ", "body must be one of"),
        ('[keys.Q1]\nlabel = "X"\n', "keys.Q1", "a key is up to 6 capital letters"),
        (
            '[keys.QZZ]\nlabel = "X"\noptional = ["TYP"]\ntables = { TYP = ["TYPA", "NOPE"] }\n',
            "keys.QZZ",
            "tables: code table 'NOPE' is not in the code book",
        ),
        (
            '[keys.QZZ]\nlabel = "X"\noptional = ["TYP"]\ntables = { TYP = 5 }\n',
            "keys.QZZ",
            "tables: TYP must name a code table or a list of them",
        ),
        (
            '[keys.QZZ]\nlabel = "X"\noptional = ["TYP"]\ntables = { TYP = [] }\n',
            "keys.QZZ",
            "tables: TYP must name a code table or a list of them",
        ),
    ],
)
def test_config_errors_name_file_and_key(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        Dictionary.load([path])
    err = exc.value
    assert err.file == str(path)
    assert err.key == key
    assert err.reason.startswith(reason), err.reason
    assert str(path) in str(err) and f"[{key}]" in str(err)


def test_config_error_unknown_section(tmp_path: Path) -> None:
    path = _write(tmp_path, "[colours]\nred = 1\n")
    with pytest.raises(ConfigError, match=r"unknown section\(s\) \['colours'\]") as exc:
        Dictionary.load([path])
    assert exc.value.file == str(path)


def test_config_error_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = _write(tmp_path, "[keys.QZZ\nlabel = 1\n")
    with pytest.raises(ConfigError) as exc:
        Dictionary.load([bad])
    assert exc.value.file == str(bad)
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match="cannot read dictionary") as exc:
        Dictionary.load([missing])
    assert exc.value.file == str(missing)
