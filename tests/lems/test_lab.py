"""lab.toml: the demo lab loads, and every kind of mistake is refused with file, key and line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from support import TODAY, demo_lab

from formats.errors import ConfigError
from lems.demo import demo_text
from lems.lab import CATEGORIES, load_lab


def test_demo_lab_loads(tmp_path):
    lab = demo_lab(tmp_path)
    assert lab.path == tmp_path / "lab.toml"
    assert lab.database == tmp_path / "lab.db" and lab.database.exists()
    assert lab.state == "OR" and lab.clock_speed == 1.0
    assert lab.switch.ori == "ORLEDS000" and lab.switch.max_frame == 16384
    assert lab.switch.listen == ("tcp:0:interface=127.0.0.1",)
    assert lab.switch.lockout_after == 5

    assert list(lab.terminals) == [*(f"T{i:02d}" for i in range(12)), "T13"]
    assert {a.category for a in lab.agencies.values()} == {
        "cj",
        "designated",
        "riss",
        "qe",
        "noncj",
    }
    assert set(CATEGORIES) >= {a.category for a in lab.agencies.values()}
    assert [t.id for t in lab.terminals.values() if t.radio] == ["T05"]
    assert [t.id for t in lab.terminals.values() if t.control] == ["T00"]
    assert lab.terminals["T00"].oris == ("ORLEDS000",)
    assert lab.agencies["ORSIR0000"].cch_entry
    assert [o for o, a in lab.agencies.items() if a.cch_entry] == ["ORSIR0000"]
    assert lab.agencies["OR024902Z"].criteria == ("0901", "1101", "1301", "3501")
    assert lab.agencies["OR024903Z"].agreement_expires == TODAY - timedelta(days=1)
    assert lab.agencies["OR0240000"].keys is None and lab.agencies["OR0240000"].agreement
    assert lab.agencies["OR024905Z"].keys == frozenset({"FCK", "FSG"})  # the firearms dealer
    assert lab.terminals["T13"].oris == ("OR024905Z",)

    assert len(lab.operators) == 15
    assert lab.operators["OP05"].terminals == ("T05",)
    assert lab.operators["OP05"].password == "train-05"
    assert not lab.operators["NOCHECK"].cleared and lab.operators["SUPER1"].supervisor
    assert lab.groups["ORALLSO00"].members == ("OR0240000", "OR0260000")
    assert set(lab.endpoints) == {"ncic", "nlets", "nics"}
    assert lab.endpoints["nlets"].latency_ms == 200.0


def test_nlets_member_settings(tmp_path):
    demo_lab(tmp_path)
    path = tmp_path / "lab.toml"
    text = path.read_text("utf-8").replace(
        'name = "nlets"',
        'name = "nlets"\nout_of_service = ["TX", "CN"]\n'
        'slow = { UT = 30, NY = 90.5 }\nformat = "xml"',
        1,
    )
    path.write_text(text, "utf-8")
    nlets = load_lab(path).endpoints["nlets"]
    assert nlets.out_of_service == ("TX", "CN") and nlets.format == "xml"
    assert dict(nlets.slow) == {"UT": 30.0, "NY": 90.5}


def test_load_lab_accepts_the_directory(tmp_path):
    demo_lab(tmp_path)
    assert load_lab(tmp_path).path == tmp_path / "lab.toml"


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_lab(tmp_path / "nowhere.toml")
    assert e.value.file == str(tmp_path / "nowhere.toml")
    assert "cannot read" in e.value.reason


# ---------------------------------------------------------------------- refusals


def refused(tmp: Path, edit) -> tuple[ConfigError, str]:
    """Write the demo lab changed by ``edit(text) -> text`` and load it: the error and the text."""
    text = edit(demo_text(tmp, TODAY))
    path = tmp / "lab.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as e:
        load_lab(path)
    err = e.value
    assert err.file == str(path)
    assert str(path) in str(err)
    return err, text


def sub(old: str, new: str, count: int = 1):
    """An edit replacing the first ``count`` occurrences of ``old`` (which must be there)."""

    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, count)

    return edit


def line_of(text: str, needle: str, nth: int = 0) -> int:
    """1-based line of the ``nth`` line that starts with ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if line.startswith(needle)]
    return hits[nth]


def header_above(text: str, needle: str) -> int:
    """Line of the table header above the (first) line starting with ``needle``."""
    lines = text.splitlines()
    i = line_of(text, needle) - 1
    while not lines[i].startswith("["):
        i -= 1
    return i + 1


def test_bad_toml_syntax_gives_the_line(tmp_path):
    err, text = refused(tmp_path, sub("seed = 1", "seed = = 1"))
    assert err.line == line_of(text, "seed = = 1")
    assert err.key is None
    assert f":{err.line}:" in str(err)


@pytest.mark.parametrize("header", ["[extras]", "[[extras]]", "  [extras]"])
def test_unknown_top_level_section(tmp_path, header):
    err, text = refused(tmp_path, lambda t: t + f"\n{header}\nfoo = 1\n")
    assert err.key == "extras"
    assert "unknown section" in err.reason and "extras" in err.reason
    assert err.line == line_of(text, header)


def test_unknown_top_level_key_has_no_line(tmp_path):
    err, _ = refused(tmp_path, lambda t: "colour = 1\n" + t)
    assert err.key == "colour" and err.line is None


def test_unknown_key_in_a_table(tmp_path):
    err, text = refused(tmp_path, sub('ori = "OR0240100"\n', 'ori = "OR0240100"\ncolour = "x"\n'))
    assert err.key == "agency[2]"
    assert "unknown key(s) colour" in err.reason
    assert err.line == header_above(text, "colour =")


def test_unknown_key_in_lab_table(tmp_path):
    err, text = refused(tmp_path, sub("seed = 1", "seed = 1\nspeed = 2"))
    assert err.key == "lab" and "speed" in err.reason
    assert err.line == line_of(text, "[lab]")


# (edit, key, needle for the line or None, words of the reason)
CASES = {
    "ori-too-short": (
        sub('ori = "OR0240100"', 'ori = "OR02401"'),
        "agency[2].ori",
        'ori = "OR02401"',
        "MUST BE 9 CHARACTERS",
    ),
    "ori-not-ncic-state": (
        sub('ori = "OR0240100"', 'ori = "NE0240100"'),
        "agency[2].ori",
        'ori = "NE0240100"',
        "NE IS NOT AN NCIC STATE CODE",
    ),
    "ori-bad-characters": (
        sub('ori = "OR0240100"', 'ori = "OR024-100"'),
        "agency[2].ori",
        'ori = "OR024-100"',
        "2 LETTERS AND 7",
    ),
    "duplicate-ori": (
        sub('ori = "OR0240100"', 'ori = "OR0240000"'),
        "agency[2].ori",
        'name = "WILLOW CREEK POLICE',
        "defined twice",
    ),
    "unknown-category": (
        sub('category = "riss"', 'category = "press"'),
        "agency[8].category",
        'category = "press"',
        "must be one of cj, designated",
    ),
    "bad-orion-type": (
        sub('type = "PD"', 'type = "XX"'),
        "agency[2].type",
        'type = "XX"',
        "ORION type",
    ),
    "agency-without-name": (
        sub('name = "WILLOW CREEK POLICE DEPARTMENT"\n', ""),
        "agency[2].name",
        'ori = "OR0240100"',
        "missing",
    ),
    "terminal-unknown-ori": (
        sub('oris = ["ORLEDS000"]', 'oris = ["OR0990000"]'),
        "terminal[0].oris",
        'oris = ["OR0990000"]',
        "ORI OR0990000 is not an [[agency]]",
    ),
    "terminal-without-oris": (
        sub('oris = ["ORLEDS000"]', "oris = []"),
        "terminal[0].oris",
        "oris = []",
        "at least one ORI",
    ),
    "terminal-oris-missing": (
        sub('oris = ["ORLEDS000"]\n', ""),
        "terminal[0].oris",
        'id = "T00"',
        "missing",
    ),
    "terminal-oris-not-strings": (
        sub('oris = ["ORLEDS000"]', "oris = [1]"),
        "terminal[0].oris",
        "oris = [1]",
        "list of strings",
    ),
    "duplicate-terminal": (
        sub('id = "T02"', 'id = "T01"'),
        "terminal[2].id",
        'description = "Cascade SO records"',
        "twice",
    ),
    "operator-unknown-terminal": (
        sub('terminals = ["T01"]', 'terminals = ["T99"]'),
        "operator[2].terminals",
        'terminals = ["T99"]',
        "terminal T99 is not a [[terminal]]",
    ),
    "password-hash-not-scrypt": (
        sub('password = "super-pass"', 'password_hash = "super-pass"'),
        "operator[0].password_hash",
        "[[operator]]",
        "must be scrypt",
    ),
    "password-and-hash": (
        sub('password = "super-pass"', 'password = "a"\npassword_hash = "b"'),
        "operator[0].password",
        "[[operator]]",
        "not both",
    ),
    "password-with-period": (
        sub('password = "super-pass"', 'password = "super.pass"'),
        "operator[0].password",
        'password = "super.pass"',
        "no period",
    ),
    "empty-password": (
        sub('password = "super-pass"', 'password = ""'),
        "operator[0].password",
        'password = ""',
        "non-empty",
    ),
    "group-name-not-ori": (
        sub('name = "ORALLSO00"', 'name = "ALLSHERIFFS"'),
        "group[0].name",
        'name = "ALLSHERIFFS"',
        "addressed like an ORI",
    ),
    "group-name-is-agency": (
        sub('name = "ORALLSO00"', 'name = "OR0240000"'),
        "group[0].name",
        'name = "OR0240000"',
        "already an agency",
    ),
    "group-member-unknown": (
        sub('members = ["OR0240000", "OR0260000"]', 'members = ["OR0240000", "OR0990000"]'),
        "group[0].members",
        "members = [",
        "ORI OR0990000 is not an [[agency]]",
    ),
    "endpoint-drop-rate-2": (
        sub('name = "ncic"', 'name = "ncic"\ndrop_rate = 2'),
        "endpoint[0].drop_rate",
        "drop_rate = 2",
        "between 0 and 1",
    ),
    "endpoint-unknown-name": (
        sub('name = "nics"', 'name = "fbi"'),
        "endpoint[2].name",
        'name = "fbi"',
        "ncic, nlets or nics",
    ),
    "nlets-member-unknown": (
        sub('name = "nlets"', 'name = "nlets"\nout_of_service = ["TX", "ZZ"]'),
        "endpoint[1].out_of_service",
        'name = "nlets"',
        "ZZ is not an Nlets member code",
    ),
    "nlets-slow-negative": (
        sub('name = "nlets"', 'name = "nlets"\nslow = { UT = -1 }'),
        "endpoint[1].slow",
        'name = "nlets"',
        "UT: must be a number",
    ),
    "nlets-format-odd": (
        sub('name = "nlets"', 'name = "nlets"\nformat = "json"'),
        "endpoint[1].format",
        'name = "nlets"',
        "legacy or xml",
    ),
    "nlets-setting-on-ncic": (
        sub('name = "ncic"', 'name = "ncic"\nslow = { UT = 1 }'),
        "endpoint[0].slow",
        'name = "ncic"',
        "only the nlets endpoint",
    ),
    "switch-iak-unknown": (
        sub("lockout_after = 5 ", 'iak = "some"\nlockout_after = 5 '),
        "switch.iak",
        'iak = "some"',
        "must be one of numbered, all",
    ),
    "switch-ori-not-agency": (
        sub('ori = "ORLEDS000"       #', 'ori = "OR0990000"       #'),
        "switch.ori",
        "[switch]",
        "must also be an [[agency]]",
    ),
    "switch-ori-invalid": (
        sub('ori = "ORLEDS000"       #', 'ori = "LEDS"       #'),
        "switch.ori",
        "[switch]",
        "MUST BE 9 CHARACTERS",
    ),
    "max-frame-too-small": (
        sub("max_frame = 16384", "max_frame = 10"),
        "switch.max_frame",
        "[switch]",
        "between 64 and",
    ),
    "max-frame-boolean": (
        sub("max_frame = 16384", "max_frame = true"),
        "switch.max_frame",
        "[switch]",
        "not a boolean",
    ),
    "max-frame-string": (
        sub("max_frame = 16384", 'max_frame = "16k"'),
        "switch.max_frame",
        "[switch]",
        "must be a int, not str",
    ),
    "clock-speed-zero": (
        sub("clock_speed = 1.0", "clock_speed = 0"),
        "lab.clock_speed",
        "[lab]",
        "greater than 0",
    ),
    "clock-speed-negative": (
        sub("clock_speed = 1.0", "clock_speed = -2.5"),
        "lab.clock_speed",
        "[lab]",
        "greater than 0",
    ),
    "clock-speed-boolean": (
        sub("clock_speed = 1.0", "clock_speed = true"),
        "lab.clock_speed",
        "[lab]",
        "not a boolean",
    ),
    "seed-boolean": (sub("seed = 1", "seed = false"), "lab.seed", "[lab]", "not a boolean"),
    "agreement-boolean-string": (
        sub('type = "PD"', 'type = "PD"\nagreement = "yes"'),
        "agency[2].agreement",
        'ori = "OR0240100"',
        "must be a bool",
    ),
    "agreement-expires-words": (
        sub("agreement_expires = 20", 'agreement_expires = "next week"#'),
        "agency[10].agreement_expires",
        'ori = "OR024903Z"',
        "must be a date",
    ),
    "agreement-expires-bad-day": (
        sub("agreement_expires = 20", 'agreement_expires = "2026-02-30"#'),
        "agency[10].agreement_expires",
        'ori = "OR024903Z"',
        "must be a date",
    ),
    "agreement-expires-number": (
        sub("agreement_expires = 20", "agreement_expires = 20261231#"),
        "agency[10].agreement_expires",
        'ori = "OR024903Z"',
        "must be a date or str, not int",
    ),
    "agreement-expires-datetime": (
        sub("agreement_expires = 20", "agreement_expires = 2026-12-31T12:00:00#"),
        "agency[10].agreement_expires",
        'ori = "OR024903Z"',
        "must be a date",
    ),
    "keys-not-list": (
        sub('type = "PD"', 'type = "PD"\nkeys = "QW"'),
        "agency[2].keys",
        'ori = "OR0240100"',
        "must be a list",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_refusal_names_file_key_and_line(tmp_path, case):
    edit, key, needle, words = CASES[case]
    err, text = refused(tmp_path, edit)
    assert err.key == key
    assert f"[{key}]" in str(err)
    assert words in err.reason
    if needle.startswith("["):
        assert err.line == line_of(text, needle)
    else:
        assert err.line == header_above(text, needle)
    assert f"{err.file}:{err.line}:" in str(err)


def test_group_name_repeated(tmp_path):
    extra = '\n[[group]]\nname = "ORALLSO00"\nmembers = ["OR0240000"]\n'
    err, text = refused(tmp_path, lambda t: t + extra)
    assert err.key == "group[1].name" and "already an agency or group" in err.reason
    assert err.line == line_of(text, "[[group]]", 1)


def test_minimal_lab_uses_defaults(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text(
        '[[agency]]\nori = "ORLEDS000"\nname = "CONTROL"\n\n'
        '[[terminal]]\nid = "T00"\noris = ["ORLEDS000"]\n'
    )
    lab = load_lab(path)
    assert lab.name == "LEMS training lab" and lab.database == tmp_path / "lab.db"
    assert lab.switch.max_frame == 16384 and lab.clock_speed == 1.0
    assert lab.switch.iak == "numbered"  # only ISN/-numbered input is acknowledged
    assert lab.agencies["ORLEDS000"].category == "cj" and lab.agencies["ORLEDS000"].type == "LE"
    assert lab.operators == {} and lab.groups == {} and lab.endpoints == {}


def test_switch_iak_all_is_read(tmp_path):
    demo_lab(tmp_path)
    path = tmp_path / "lab.toml"
    path.write_text(
        path.read_text("utf-8").replace("lockout_after = 5 ", 'iak = "all"\nlockout_after = 5 '),
        "utf-8",
    )
    assert load_lab(path).switch.iak == "all"


def test_agency_written_as_a_single_table(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text('[lab]\nname = "x"\n\n[agency]\nori = "ORLEDS000"\nname = "CONTROL"\n')
    with pytest.raises(ConfigError) as e:
        load_lab(path)
    assert e.value.key == "agency" and e.value.line == 4
    assert "[[agency]]" in e.value.reason


def test_minimal_lab_without_switch_agency(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text('[[agency]]\nori = "OR0240000"\nname = "SO"\n')
    with pytest.raises(ConfigError) as e:
        load_lab(path)
    assert e.value.key == "switch.ori" and e.value.line is None


def test_timezone_is_an_iana_zone(tmp_path):
    err, _ = refused(tmp_path, sub('timezone = "America/Los_Angeles"', 'timezone = "Mars/Base"'))
    assert err.key == "lab.timezone" and "unknown time zone" in err.reason


def test_demo_lab_prints_ncic_times_in_pacific_time(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text(demo_text(tmp_path, TODAY), "utf-8")
    assert load_lab(path).timezone == "America/Los_Angeles"


def test_ncic_header_lab_wide_and_per_terminal(tmp_path):
    demo_lab(tmp_path)
    path = tmp_path / "lab.toml"
    text = path.read_text("utf-8").replace(
        'ori = "ORLEDS000"', 'ori = "ORLEDS000"\nncic_header = "ORLEDS"', 1
    )
    path.write_text(text.replace('id = "T04"', 'id = "T04"\nncic_header = ""', 1), "utf-8")
    lab = load_lab(path)
    assert lab.switch.ncic_header == "ORLEDS"
    assert lab.terminals["T04"].ncic_header == "" and lab.terminals["T01"].ncic_header is None


def test_ncic_header_must_fit_a_line(tmp_path):
    err, _ = refused(
        tmp_path, sub('ori = "ORLEDS000"', f'ori = "ORLEDS000"\nncic_header = "{"H" * 69}"')
    )
    assert err.key == "switch.ncic_header" and "68 printable" in err.reason
    err, _ = refused(tmp_path, sub('id = "T04"', 'id = "T04"\nncic_header = "A\\tB"'))
    assert err.key.endswith("ncic_header") and "printable" in err.reason
