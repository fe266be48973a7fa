"""The pure rules of the state services: dissemination filters (R5-R7), set-aside bars, the purge
cutoffs, PPF reconciliation, FICS answers, and the state CLI commands."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date

from lems.cli import main
from lems.state.cch import (
    COMPUTERIZED,
    FILTERED,
    FULL,
    Charge,
    Cycle,
    Record,
    fitness,
    form_for,
    purge_cutoffs,
    visible,
)
from lems.state.fics import classify
from lems.state.ppf import discrepancies, may_submit, parse_report
from lems.state.removal import set_aside_bar

TODAY = date(2026, 11, 23)


def record() -> Record:
    rec = Record("OR00000001", "", "DOE,JOHN", "M", "W", "19800101", [], True, False)
    rec.cycles = [
        Cycle(1, "20100101", charges=[Charge(1, "2303", "MA", "CONV", "20100301")]),
        Cycle(2, "20200101", charges=[Charge(1, "1313", "MA", "ACQ", "20200301")]),
        Cycle(3, "20260901", charges=[Charge(1, "0901", "FA")]),  # open, recent
        Cycle(4, "20240101", charges=[Charge(1, "2202", "FB")]),  # open, old
        Cycle(5, "19700101", manual=True, charges=[Charge(1, "2404", "FC", "CONV", "1970")]),
        Cycle(6, "20150101", sealed=True, charges=[Charge(1, "2589", "FC", "SETA", "2016")]),
    ]
    return rec


def test_forms_by_requester_and_purpose():
    assert form_for("cj", "C") == FULL and form_for("cj", "H") == FILTERED
    assert form_for("designated", "I") == FULL and form_for("riss", "C") == COMPUTERIZED
    assert form_for("noncj", "C") == FILTERED


def test_filters():
    rec = record()
    assert [c.cyc for c in visible(rec, FULL, TODAY)] == [1, 2, 3, 4, 5]
    assert [c.cyc for c in visible(rec, COMPUTERIZED, TODAY)] == [1, 2, 3, 4]
    assert [c.cyc for c in visible(rec, FILTERED, TODAY)] == [1, 3, 5]


def test_qualified_entity_criteria():
    rec = record()
    assert fitness(rec, ("0901",), TODAY) == [(3, "0901")]
    assert fitness(rec, ("1313", "2202", "2589"), TODAY) == []  # acquitted, old, sealed


def test_set_aside_bars():
    assert set_aside_bar(Cycle(1, "2020", charges=[Charge(1, "2303", "MA")])) is None
    assert "CLASS A" in set_aside_bar(Cycle(1, "2020", charges=[Charge(1, "0901", "FA")]))
    assert "TRAFFIC" in set_aside_bar(Cycle(1, "2020", charges=[Charge(1, "5401", "MA")]))
    assert "DIVERSION" in set_aside_bar(Cycle(1, "2020", charges=[Charge(1, "5404", "MA", "DIVD")]))


def test_purge_cutoffs():
    assert purge_cutoffs(TODAY) == ("19271123", "20161123")
    assert purge_cutoffs(date(2028, 2, 29))[0] == "19290228"


def test_ppf_rules():
    assert may_submit("designated", "NJ", "OR024901Z") and may_submit("cj", "JJ", "OR024015J")
    assert not may_submit("cj", "SO", "OR0240000")
    nics = parse_report(
        [
            "NRR.ORLEDS000\nNICS INDEX ENTRIES FOR STATE/OR COUNT/2\n"
            "NRI/1 NAM/A,B DOB/19700101 SEX/M ORI/OR024015J PCA/D DTE/2026-01-01\n"
            "NRI/2 NAM/C,D DOB/19700101 SEX/F ORI/OR024015J PCA/D DTE/2026-01-01"
        ]
    )
    ppf = {
        "1": {
            "PPN": "P1",
            "NAM": "A,B",
            "DOB": "19700102",
            "SEX": "M",
            "PCA": "D",
            "ORI": "OR024015J",
        },
        "3": {
            "PPN": "P3",
            "NAM": "E,F",
            "DOB": "19700101",
            "SEX": "M",
            "PCA": "D",
            "ORI": "OR024901Z",
        },
    }
    found = discrepancies(ppf, nics)
    assert [(o, i.split()[-1]) for o, i, _ in found] == [
        ("OR024015J", "NRI/1"),
        ("OR024901Z", "NRI/3"),
        ("OR024015J", "NRI/2"),
    ]
    assert "DOB/19700102 NICS DOB/19700101" in found[0][2]


def test_fics_classify():
    assert classify(None) == "unavailable" and classify([]) == "unavailable"
    assert classify(["NRC.X\nNO RECORD"]) == "clear"
    assert classify(["NCR.X\nNTN/1 STATUS/PROCEED"]) == "clear"
    assert classify(["NCR.X\nNTN/1 STATUS/DELAYED"]) == "delayed"
    assert classify(["NCR.X\nNTN/1 STATUS/DENIED"]) == "hit"
    assert classify(["HIT.X\nMKE/STOLEN GUN"]) == "hit"
    assert classify(["REJ.X\nREJECT CODE/NOT-AVAILABLE"]) == "unavailable"


def test_state_commands(tmp_path, capsys):
    from lems.demo import init_lab

    init_lab(tmp_path, listen="tcp:0:interface=127.0.0.1")
    assert main(["cch", "seed", str(tmp_path), "--subjects", "300"]) == 0
    assert main(["cch", "seed", str(tmp_path), "--subjects", "10"]) == 0
    out = capsys.readouterr().out  # SIDs are the people's numbers: sparse, in order
    assert re.search(r"seeded 10 fictitious subjects SID/OR\d{8} onward", out)
    conn = sqlite3.connect(tmp_path / "state.db")
    assert conn.execute("SELECT COUNT(*) FROM subject").fetchone()[0] == 310
    conn.close()
    assert main(["hits", str(tmp_path)]) == 0
    assert "Hit confirmations (0)" in capsys.readouterr().out
    out = tmp_path / "a.json"
    assert (
        main(
            [
                "audit",
                str(tmp_path),
                "--ori",
                "OR0240000",
                "--json",
                str(out),
                "--csv",
                str(tmp_path / "a.csv"),
            ]
        )
        == 0
    )
    assert json.loads(out.read_text()) == {"transactions": [], "summary": {}}
    for cmd in (["hits", "--help"], ["audit", "--help"], ["cch", "seed", "--help"]):
        try:
            main(cmd)
        except SystemExit as e:
            assert e.code == 0
