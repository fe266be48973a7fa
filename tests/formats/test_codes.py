"""Tests for formats.codes: the built-in core, the CSV loader and the module-level code sets.

The shared-data tests run against the real public lists in ``shared/data/ncic-codes`` because the
point of the built-in core is to agree with them: a typo in a built-in code or description would
otherwise only show up when a lab runs without the data directory.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import pytest

from formats.codes import (
    ALIASES,
    NLETS_SPECIAL_DESTINATIONS,
    STATE_LAB_TABLES,
    US_STATE_CODES,
    CodeBook,
)
from formats.errors import ConfigError

SHARED_CODES = Path(__file__).resolve().parents[3] / "shared" / "data" / "ncic-codes"


@pytest.fixture(scope="module")
def shared_dir() -> Path:
    if not SHARED_CODES.is_dir():
        pytest.skip(f"shared code directory missing: {SHARED_CODES}")
    return SHARED_CODES


@pytest.fixture(scope="module")
def loaded(shared_dir: Path) -> CodeBook:
    return CodeBook.load_dir(shared_dir)


def _raw_sources(root: Path) -> dict[str, list[dict[str, str]]]:
    """Table name -> the {CODE: description} of every file that feeds it, read independently."""
    out: dict[str, list[dict[str, str]]] = {}
    for path in sorted(root.rglob("*.csv")):
        stem = path.stem.upper()
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
        table = {r[0].strip().upper(): r[1].strip() for r in rows[1:] if r}
        out.setdefault(ALIASES.get(stem, stem), []).append(table)
    return out


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")
    return path


# ---------------------------------------------------------------------------------- built-in


def test_builtin_is_cached() -> None:
    assert CodeBook.builtin() is CodeBook.builtin()


def test_builtin_table_names() -> None:
    """The hand-written core's tables and every generated NCIC table (CMC, BTY, EXL …)."""
    names = set(CodeBook.builtin().names())
    assert {
        "CAL",
        "DSP",
        "EYE",
        "HAI",
        "IDT",
        "LIS",
        "LIT",
        "MAK",
        "OCL",
        "OFF",
        "PCA",
        "POB",
        "PRI",
        "PUR",
        "RAC",
        "RTY",
        "SEX",
        "SKN",
        "TYP",
        "VCO",
        "VMA",
        "VST",
    } <= names
    assert {
        "CMC",
        "BTY",
        "BMA",
        "EXL",
        "PCO",
        "SMT",
        "TYPA",
        "TYPS",
        "DEN",
        "VMO",
        "RES",
        "MNU",
        "ECR",
        "BOAT",
    } <= names


@pytest.mark.parametrize(
    ("table", "code", "description"),
    [
        ("OFF", "0902", "HOMICIDE - WILLFUL KILL-FAMILY-WEAPON"),
        ("OFF", "5404", "DRIVING UNDER INFLUENCE ALCOHOL"),
        ("OFF", "5015", "FAILURE TO APPEAR - SEE MIS"),
        ("SEX", "F", "FEMALE"),
        ("RAC", "W", "WHITE"),
        ("RAC", "H", "HISPANIC OR LATINO"),
        ("RAC", "P", "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER"),
        ("LIS", "OR", "OREGON"),
        ("LIS", "NB", "NEBRASKA"),
        ("LIS", "NE", "NETHERLANDS (HOLLAND)"),
        ("LIS", "PQ", "QUEBEC"),
        ("LIS", "MM", "MEXICO"),
        ("VMA", "TOYT", "TOYOTA"),
        ("LIT", "PC", "REGULAR PASSENGER AUTOMOBILE PLATES"),
        ("LIT", "CO", "COMMERCIAL"),
        ("TYP", "P", "PISTOL"),
        ("MAK", "SW", "SMITH & WESSON"),
        ("PCA", "D", "ADJUDICATED MENTAL DEFECTIVE / COMMITTED TO MENTAL INSTITUTION"),
        ("PRI", "U", "URGENT - CONFIRM WITHIN 10 MINUTES"),
    ],
)
def test_builtin_known_codes(table: str, code: str, description: str) -> None:
    book = CodeBook.builtin()
    assert book.has(table, code)
    assert book.describe(table, code) == description


@pytest.mark.parametrize(
    ("table", "codes"),
    [
        ("SEX", "F M U"),
        ("RAC", "A B H I P U W"),
        ("EYE", "BLK BLU BRO GRN GRY HAZ MAR MUL PNK XXX"),
        ("HAI", "BLD BLK BLN BLU BRO GRN GRY ONG PLE PNK RED SDY WHI XXX"),  # BLD: NIEM 5.0.1
        ("SKN", "ALB BLK DRK DBR FAR LGT LBR MED MBR OLV RUD SAL YEL"),
        ("PUR", "A C D F H I J R S V X"),
        ("PCA", "A1 A2 B C D E F G H I J"),
        ("RTY", "SV WP PO MP SL SG SA SS SB SP"),
        ("PRI", "U R"),
        ("DSP", "CONV ACQ DISM DIVD NOPR SETA PEND EXPG"),
        ("IDT", "DL ID PP MIL"),
        ("OCL", "FA FB FC MA MB MC FU VI"),
    ],
)
def test_builtin_exact_code_sets(table: str, codes: str) -> None:
    assert set(CodeBook.builtin().table(table)) == set(codes.split())


def test_builtin_descriptions_are_upper_case() -> None:
    book = CodeBook.builtin()
    for name in book.names():
        for code, desc in book.table(name).items():
            assert desc == desc.upper() and desc.strip() == desc and desc, (name, code)


def test_unknown_code_and_table() -> None:
    book = CodeBook.builtin()
    assert not book.has("SEX", "Q")
    assert book.describe("SEX", "Q") is None
    assert not book.has("NOPE", "F")
    assert book.describe("NOPE", "F") is None
    assert book.table("NOPE") == {}
    assert "NOPE" not in book
    assert "SEX" in book
    assert 42 not in book  # type: ignore[operator]


def test_lookup_is_case_and_space_insensitive() -> None:
    book = CodeBook.builtin()
    assert book.has("sex", "f")
    assert book.describe(" off ", " 0902 ") == "HOMICIDE - WILLFUL KILL-FAMILY-WEAPON"
    assert "vma" in book


def test_tables_are_read_only() -> None:
    table = CodeBook.builtin().table("SEX")
    with pytest.raises(TypeError):
        table["X"] = "SOMETHING"  # type: ignore[index]
    assert "X" not in CodeBook.builtin().table("SEX")


def test_pob_is_lis() -> None:
    book = CodeBook.builtin()
    assert "POB" in book
    assert book.table("POB") is book.table("LIS")
    assert book.describe("POB", "XX") == book.describe("LIS", "XX")


def test_constructor_normalises_and_derives_pob() -> None:
    book = CodeBook({"lis": {" or ": "OREGON"}, "sex": {"f": "FEMALE"}})
    assert book.names() == ["LIS", "POB", "SEX"]
    assert book.has("POB", "OR")
    explicit = CodeBook({"LIS": {"OR": "OREGON"}, "POB": {"XX": "UNKNOWN"}})
    assert not explicit.has("POB", "OR")
    assert CodeBook({"SEX": {"F": "FEMALE"}}).names() == ["SEX"]


def test_state_lab_tables_are_builtin() -> None:
    assert set(CodeBook.builtin().names()) >= STATE_LAB_TABLES


# ----------------------------------------------------------------------- module-level code sets


def test_us_state_codes() -> None:
    assert len(US_STATE_CODES) == 56  # 50 states, DC, PR VI GM AM MK
    assert {"NB", "GM", "AM", "MK", "OR", "WA", "DC", "PR", "VI"} <= US_STATE_CODES
    # USPS codes that are something else in NCIC (NE Netherlands, GU Guanajuato, AS Australia,
    # MP Madagascar), Canadian provinces, Mexico and countries are not ORI prefixes.
    assert not {"NE", "GU", "AS", "MP", "BC", "PQ", "MM", "MX", "US", "CD"} & US_STATE_CODES
    lis = CodeBook.builtin().table("LIS")
    assert set(lis) >= US_STATE_CODES
    assert all(len(c) == 2 and c.isalpha() and c.isupper() for c in US_STATE_CODES)


def test_nlets_special_destinations() -> None:
    expected = {"NL", "FB", "CN", "FA", "NA", "CG", "OD", "Z1"} | {f"R{n}" for n in range(1, 9)}
    assert set(NLETS_SPECIAL_DESTINATIONS) == expected
    assert not set(NLETS_SPECIAL_DESTINATIONS) & US_STATE_CODES
    assert "INFERRED" in NLETS_SPECIAL_DESTINATIONS["R1"]
    assert isinstance(NLETS_SPECIAL_DESTINATIONS, Mapping)


def test_aliases_are_upper_case() -> None:
    assert all(k == k.upper() and v == v.upper() for k, v in ALIASES.items())
    assert ALIASES["RACE"] == "RAC" and ALIASES["COUNTRY"] == "LIS"
    assert "BOAT" not in ALIASES  # pre-1995 boat codes clash with LIS


# ------------------------------------------------------------------------- shared public data


def test_load_shared_grows_tables(loaded: CodeBook) -> None:
    assert len(loaded.table("OFF")) >= 400
    assert len(loaded.table("VMA")) >= 5000
    assert len(loaded.table("MAK")) >= 2000
    assert len(loaded.table("LIS")) >= 403
    assert loaded.builtin() is CodeBook.builtin()


def test_load_shared_keeps_builtin_codes(loaded: CodeBook) -> None:
    builtin = CodeBook.builtin()
    for name in builtin.names():
        missing = set(builtin.table(name)) - set(loaded.table(name))
        assert not missing, (name, missing)


def test_load_shared_applies_aliases(loaded: CodeBook) -> None:
    assert loaded.has("RAC", "H") and loaded.has("RAC", "P")
    assert loaded.has("HAI", "BLD")  # only in the 5.0.1 HAIR file
    assert loaded.has("LIS", "XN") and loaded.has("LIS", "KV")  # Canadian / Country files
    assert loaded.table("POB") is loaded.table("LIS")
    assert "RACE" not in loaded and "COUNTRY" not in loaded
    # BOAT stays apart: merged into LIS it would make MI Mississippi.
    assert loaded.describe("BOAT", "MI") == "MISSISSIPPI"
    assert "MICHIGAN" in (loaded.describe("LIS", "MI") or "")
    assert "NETHERLANDS" in (loaded.describe("LIS", "NE") or "")


def test_load_shared_is_deterministic(shared_dir: Path) -> None:
    """Two loads give the same tables (how fast is a benchmark's business, not a test's: a
    timed assertion fails on a busy machine, not on slow code)."""
    first = CodeBook.load_dir(shared_dir)
    second = CodeBook.load_dir(shared_dir)
    assert first.names() == second.names()
    for name in first.names():
        assert dict(first.table(name)) == dict(second.table(name))


def test_builtin_agrees_with_public_lists(shared_dir: Path) -> None:
    """Every built-in code exists in the CSVs (but the generator's sourced supplement); OFF
    texts are exact, others the upper-cased name part of a CSV text (the CSVs mix case and run
    notes into descriptions; the generator also folds runs of blanks)."""
    import gzip
    import json

    from formats.codes import PACKAGED

    supplement = json.loads(gzip.decompress(PACKAGED.read_bytes()))["supplement"]
    sources = _raw_sources(shared_dir)
    builtin = CodeBook.builtin()
    for name in builtin.names():
        if name in STATE_LAB_TABLES or name == "POB":
            assert name not in sources or name == "POB"
            continue
        assert name in sources, name
        for code, desc in builtin.table(name).items():
            if f"{name}/{code}" in supplement:
                continue
            texts = [" ".join(src[code].split()) for src in sources[name] if code in src]
            assert texts, (name, code)
            if name == "OFF":
                assert desc in texts, (code, desc, texts)
            else:
                assert any(desc in (t.upper() or code) for t in texts), (name, code, desc, texts)


def test_us_state_codes_match_public_list(shared_dir: Path) -> None:
    path = shared_dir / "niem-5.0.1-update" / "UnitedStates.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        states = {row["code"] for row in csv.DictReader(fh)}
    assert states | {"PR", "VI", "GM", "AM", "MK"} == US_STATE_CODES
    lis = _raw_sources(shared_dir)["LIS"]
    assert all(any(code in src for src in lis) for code in US_STATE_CODES)


# ------------------------------------------------------------------------- load_dir on tmp


def test_load_merges_over_base(tmp_path: Path) -> None:
    base = CodeBook({"SEX": {"F": "FEMALE", "M": "MALE"}, "LIS": {"OR": "OREGON"}})
    _write(tmp_path / "sex.csv", "code,description\nM,MALE PERSON\nX,UNSPECIFIED\n")
    _write(tmp_path / "sub" / "dir" / "Widget.csv", "code,description\nw1,First widget\n")
    _write(tmp_path / "Country.csv", "code,description\nZZ,NOWHERELAND\n")
    _write(tmp_path / "notes.txt", "not a table\n")
    book = CodeBook.load_dir(tmp_path, base=base)
    assert dict(book.table("SEX")) == {"F": "FEMALE", "M": "MALE PERSON", "X": "UNSPECIFIED"}
    assert book.describe("WIDGET", "W1") == "First widget"  # description case kept
    assert set(book.table("LIS")) == {"OR", "ZZ"}
    assert book.has("POB", "ZZ")
    assert book.names() == ["LIS", "POB", "SEX", "WIDGET"]
    assert dict(base.table("SEX")) == {"F": "FEMALE", "M": "MALE"}  # base untouched


def test_load_default_base_is_builtin(tmp_path: Path) -> None:
    _write(tmp_path / "OFF.csv", "code,description\n9999,LAB TEST OFFENSE\n")
    book = CodeBook.load_dir(str(tmp_path))
    assert book.describe("OFF", "9999") == "LAB TEST OFFENSE"
    assert book.describe("OFF", "0902") == "HOMICIDE - WILLFUL KILL-FAMILY-WEAPON"
    assert book.has("SEX", "F") and book.has("POB", "OR")


def test_load_quoted_commas_bom_blank_lines_and_spaces(tmp_path: Path) -> None:
    _write(
        tmp_path / "VST.csv",
        '\ufeffcode,description\r\n 4d ,"SEDAN, 4 DOOR"\r\n\r\nQQ,"SAYS ""HI"", TWICE"\r\n',
    )
    book = CodeBook.load_dir(tmp_path, base=CodeBook({}))
    assert dict(book.table("VST")) == {"4D": "SEDAN, 4 DOOR", "QQ": 'SAYS "HI", TWICE'}


def test_load_order_is_by_path(tmp_path: Path) -> None:
    _write(tmp_path / "b" / "SEX.csv", "code,description\nF,FROM B\n")
    _write(tmp_path / "a" / "SEX.csv", "code,description\nF,FROM A\n")
    _write(tmp_path / "a" / "RACE.csv", "code,description\nZ,FROM RACE\n")
    book = CodeBook.load_dir(tmp_path, base=CodeBook({}))
    assert book.describe("SEX", "F") == "FROM B"
    assert book.describe("RAC", "Z") == "FROM RACE"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("code,description\nA,ONE\nB,TWO, UNQUOTED\n", 3, "expected 2 fields"),
        ("code,description\nA\n", 2, "expected 2 fields"),
        ("kode,desc\nA,ONE\n", 1, "bad header"),
        ("code,description,extra\nA,ONE,X\n", 1, "bad header"),
        ("", 1, "empty file"),
        ("code,description\nA,ONE\n ,EMPTY\n", 3, "empty code"),
        ("code,description\nA,ONE\nB,TWO\na,AGAIN\n", 4, "duplicate code 'A'"),
        ('code,description\nA,ONE\nB,"TWO" AND MORE\n', 3, "unreadable row"),
    ],
)
def test_load_malformed_file_names_file_and_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    _write(tmp_path / "ok.csv", "code,description\nA,FINE\n")
    bad = _write(tmp_path / "bad" / "BROKEN.csv", text)
    with pytest.raises(ConfigError) as info:
        CodeBook.load_dir(tmp_path)
    err = info.value
    assert err.file == str(bad)
    assert err.line == line
    assert err.key == "BROKEN"
    assert words in err.reason
    assert f"BROKEN.csv:{line}" in str(err)


def test_load_non_utf8_names_line(tmp_path: Path) -> None:
    bad = tmp_path / "LATIN.csv"
    bad.write_bytes(b"code,description\nA,ONE\nB,CAF\xc9\n")
    with pytest.raises(ConfigError) as info:
        CodeBook.load_dir(tmp_path)
    assert info.value.file == str(bad) and info.value.line == 3


def test_load_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        CodeBook.load_dir(tmp_path / "absent")
    assert info.value.file == str(tmp_path / "absent")
