"""Nothing the default lab or its seed writes uses a code the NCIC tables do not hold.

The walk goes through every coded field of every seeded NCIC record (and the default lab's
qualified-entity criteria, and the seeded Nlets vehicles and III arrests), looking each value up
in the table the dictionary checks that field against for the record's own MKE.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from formats.codes import COMMON_CODES, STATE_LAB_TABLES, CodeBook
from formats.dictionary import Dictionary
from formats.grammar import Parser
from lems.demo import init_lab
from lems.endpoints.seed import seed_lab

DICT = Dictionary.default()
CODES = CodeBook.builtin()


def _table_of(mke: str, code: str) -> tuple[str, tuple[str, ...]] | None:
    """(table, inline values) the field ``code`` is checked against under ``mke``."""
    defs = DICT.defs_for(mke) if mke in DICT.keys else DICT.fields
    fd = defs.get(code)
    if fd is None or fd.type != "code":
        return None
    return fd.table, fd.values


def _bad_codes(mke: str, fields: list[tuple[str, str]]) -> list[str]:
    bad = []
    for code, value in fields:
        where = _table_of(mke, code)
        if where is None:
            continue
        table, values = where
        if not (value in values if values else CODES.has(table, value)):
            bad.append(f"{mke} {code}/{value} not in {table or values}")
    return bad


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("codes-world")
    seed_lab(d, 3000, 11, ["OR0240000", "OR0260000"])
    return d


def test_every_seeded_ncic_record_uses_real_codes(world: Path) -> None:
    conn = sqlite3.connect(world / "ncic.db")
    rows = conn.execute("SELECT mke, fields FROM record").fetchall()
    conn.close()
    assert len({mke for mke, _ in rows}) >= 6  # the walk saw the seeded files, not one
    bad = [b for mke, fields in rows for b in _bad_codes(mke, json.loads(fields))]
    assert bad == []


def test_every_seeded_entry_parses_as_the_entry_it_claims(world: Path) -> None:
    """Stronger than a code walk: each seeded record, sent back as its own entry message,
    is accepted by the parser (values, mandatory fields and all)."""
    parser = Parser()
    conn = sqlite3.connect(world / "ncic.db")
    rows = conn.execute("SELECT mke, ori, fields FROM record").fetchall()
    conn.close()
    refused = []
    for mke, ori, fields in rows:
        if mke not in DICT.keys:
            continue  # entered by another system (NICS enters the NDTF): codes walked above
        text = f"{mke}.{ori}." + ".".join(f"{c}/{v}" for c, v in json.loads(fields))
        result = parser.check(text)
        if not hasattr(result, "fields"):
            refused.append((text, result))
    assert refused == []


def test_seeded_nlets_vehicles_and_iii_arrests_use_real_codes(world: Path) -> None:
    nl = sqlite3.connect(world / "nlets.db")
    makes = (
        {m for (m,) in nl.execute("SELECT DISTINCT vma FROM vehicle")}
        if _has(nl, "vehicle", "vma")
        else set()
    )
    nl.close()
    assert all(CODES.has("VMA", m) for m in makes), makes - set(CODES.table("VMA"))
    ncic = sqlite3.connect(world / "ncic.db")
    offences = (
        {o for (o,) in ncic.execute("SELECT DISTINCT off FROM iii_arrest")}
        if _has(ncic, "iii_arrest", "off")
        else set()
    )
    ncic.close()
    assert all(CODES.has("OFF", o) for o in offences), offences - set(CODES.table("OFF"))


def _has(conn: sqlite3.Connection, table: str, column: str) -> bool:
    return any(row[1] == column for row in conn.execute(f"PRAGMA table_info({table})"))


def test_default_lab_criteria_are_real_offence_codes(tmp_path: Path) -> None:
    lab = init_lab(tmp_path / "lab")
    criteria = [(a.ori, c) for a in lab.agencies.values() for c in a.criteria]
    assert criteria, "the default lab has a qualified entity with criteria"
    assert [(ori, c) for ori, c in criteria if not CODES.has("OFF", c)] == []


def test_the_common_core_is_a_subset_of_the_real_tables() -> None:
    from formats.codes import packaged_tables

    real = packaged_tables()
    for table, codes in COMMON_CODES.items():
        if table in STATE_LAB_TABLES:
            continue
        assert set(codes) <= set(real[table]), (table, set(codes) - set(real[table]))


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101", True),
        ("EG.OR0240000.SER/AB1.MAK/SW.CAL/9.TYP/PI.DOT/20260101.OCA/1", False),  # PI: no such type
        ("EG.OR0240000.SER/AB1.MAK/SW.CAL/9.TYP/P.DOT/20260101.OCA/1", True),
        ("EA.OR0240000.TYP/RTELEVI.SER/TV1.DOT/20260101.OCA/1", True),  # article types: TYPA
        ("EA.OR0240000.TYP/P.SER/TV1.DOT/20260101.OCA/1", False),  # a gun type is no article
        ("EB.OR0240000.BTY/OB.REG/OR1.RES/OR.DOT/20260101.OCA/1", False),  # OB: no such boat type
        ("EB.OR0240000.BTY/RUN.REG/WN1.RES/WN.DOT/20260101.OCA/1", True),  # WN: Washington (boats)
        (
            "EV.OR0240000.VIN/5YJ3E1EA7KF000001.VYR/2019.VMA/TESL.VST/4D.VCO/RED.DOT/20260101.OCA/1",
            True,
        ),
    ],
)
def test_codes_the_issue_names(text: str, ok: bool) -> None:
    assert hasattr(Parser().check(text), "fields") is ok


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("OFF", "1001", "1002X"),
        ("OFF", "2304", "9998"),
        ("CMC", "05", "02"),
        ("EXL", "B", "F"),
        ("BTY", "SAL", "OB"),
        ("VMA", "TESL", "TSLA"),
        ("SMT", "TAT L ARM", "TAT"),
        ("PCO", "07", "10"),
        ("VMO", "CIV", "QQQ"),
    ],
)
def test_coded_fields_check_the_real_table(field: str, good: str, bad: str) -> None:
    check = DICT.fields[field].check
    assert check(good, False) is None
    assert check(bad, False) is not None


def test_a_lab_may_add_codes_and_the_mock_ncic_uses_them(tmp_path: Path) -> None:
    from twisted.internet.task import Clock

    from lems.clock import LabClock
    from lems.endpoints.install import make_system
    from lems.lab import load_lab

    init_lab(tmp_path / "lab")
    codes = tmp_path / "lab" / "codes"
    codes.mkdir()
    (codes / "VMA.csv").write_text("code,description\nZZMK,LAB TRAINING MAKE\n", "utf-8")
    toml = tmp_path / "lab" / "lab.toml"
    toml.write_text(
        toml.read_text("utf-8").replace("seed = 1\n", 'seed = 1\ncodes = "codes"\n', 1), "utf-8"
    )
    lab = load_lab(toml)
    ncic = make_system("ncic", lab, LabClock(Clock(), 1.0))
    try:
        ev = "EV.OR0240000.VIN/1HGCM82633A004352.VYR/2020.VMA/{}.VST/4D.VCO/BLK.DOT/20260101.OCA/Z9"
        assert ncic.handle(ev.format("ZZMK"), "OR0240000", "T01").bodies[0].startswith("ACC.")
        # the packaged tables are still there under the lab's
        assert ncic.codes.has("VMA", "TESL")
    finally:
        ncic.close()
