"""A seeded lab of 10,000 people is believable: coherent people, dates in the past and in order,
numbers the switch accepts, and the same person in CCH, III, NCIC, Nlets and NICS; and
``lems population`` lists it."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import pytest
from support import demo_lab

from formats.dictionary import Dictionary
from formats.errors import Reject
from formats.grammar import Parser
from lems import people
from lems.cli import main
from lems.endpoints import nlets
from lems.endpoints.seed import seed_lab
from lems.state import db as state_db
from lems.state.seed import seed_world

N = 10_000
SEED = 7


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("world")
    seed_lab(d, N, SEED, ["OR0240000", "OR0260000"])
    conn = state_db.connect(d / "state.db")
    seed_world(conn, N, SEED)
    conn.close()
    dbs = {name: sqlite3.connect(d / f"{name}.db") for name in ("ncic", "nlets", "nics", "state")}
    yield d, dbs
    for c in dbs.values():
        c.close()


def ymd(s: str) -> date:
    return date(int(s[:4]), int(s[4:6]), int(s[6:8]))


def test_people_are_coherent():
    pools = people.pools()
    male, female = set(pools["M"]), set(pools["F"])
    for n in range(1, N + 1):
        p = people.person(SEED, n)
        given = p.given
        assert given in (male if p.sex == "M" else female), (p.nam, p.sex)
        assert given not in (female if p.sex == "M" else male) or given in male & female
        born = ymd(p.dob)
        age = (people.REFERENCE - born).days / 365.25
        assert 18 <= age <= 81, p
        doas = [a.doa for a in p.arrests]
        assert doas == sorted(doas)
        for a in p.arrests:
            assert (ymd(a.doa) - born).days >= 18 * 365 and ymd(a.doa) < people.REFERENCE
            if a.dsp:
                assert a.doa < a.dod and ymd(a.dod) < people.REFERENCE
            else:
                assert a.dod == ""
        assert bool(p.fbi) == bool(p.arrests)


def test_numbers_pass_the_switchs_own_edits(world):
    _, dbs = world
    parser = Parser(Dictionary.default())
    rows = dbs["state"].execute("SELECT sid, fbi FROM subject").fetchall()
    assert len(rows) > 1000
    for sid, fbi in rows[:3000]:
        for text in (
            f"QCH.OR0240000.SID/{sid}.PUR/C",
            f"QCH.OR0240000.FBI/{fbi}.PUR/C",
            f"QH.OR0240000.FBI/{fbi}.PUR/C",
        ):
            assert not isinstance(parser.check(text), Reject), text


def test_the_same_person_everywhere(world):
    _, dbs = world
    iii = {
        r[0]: r[1:]
        for r in dbs["ncic"].execute("SELECT fbi, nam, dob, sex, holders FROM iii_identity")
    }
    sids = {r[0]: (r[1], r[2]) for r in dbs["ncic"].execute("SELECT sid, state, fbi FROM iii_sid")}
    cch = dbs["state"].execute("SELECT sid, fbi, name, dob, sex, last_arrest FROM subject")
    seen = 0
    for sid, fbi, name, dob, sex, last in cch:
        seen += 1
        assert fbi in iii, sid  # every CCH subject is in III ...
        nam, idob, isex, holders = iii[fbi]
        assert (nam, idob, isex) == (name, dob, sex)
        assert "OR" in holders.split()  # ... which names Oregon as a holder ...
        assert sids[sid] == ("OR", fbi)  # ... under the same SID
        assert ymd(last) < people.REFERENCE
        cycles = (
            dbs["state"]
            .execute("SELECT cyc, doa FROM cycle WHERE sid = ? ORDER BY cyc", (sid,))
            .fetchall()
        )
        assert [d for _, d in cycles] == sorted(d for _, d in cycles) and cycles
        for dsp, dod, doa in dbs["state"].execute(
            "SELECT c.dsp, c.dod, y.doa FROM charge c JOIN cycle y ON y.sid = c.sid AND "
            "y.cyc = c.cyc WHERE c.sid = ?",
            (sid,),
        ):
            assert (dsp == "" and dod == "") or dod > doa
    assert seen > 1000
    # every III record that names Oregon has its CCH subject; every other state it names holds
    # at least one arrest cycle of it (no "no arrest cycles held")
    cch_fbis = {r[0] for r in dbs["state"].execute("SELECT fbi FROM subject")}
    chri = {
        (r[0], r[1]): json.loads(r[2])
        for r in dbs["nlets"].execute("SELECT state, fbi, arrests FROM chri")
    }
    for fbi, (_nam, _dob, _sex, holders) in iii.items():
        for h in holders.split():
            if h == "OR":
                assert fbi in cch_fbis
            elif h in nlets.STATES:
                assert chri[(h, fbi)], (h, fbi)
        arrests = dbs["ncic"].execute("SELECT doa FROM iii_arrest WHERE fbi = ?", (fbi,)).fetchall()
        assert arrests and all(ymd(d) < people.REFERENCE for (d,) in arrests)
    # NCIC person records carry the person's own name, DOB, sex and FBI number
    for (fields,) in dbs["ncic"].execute("SELECT fields FROM record WHERE file = 'wanted'"):
        f = dict(json.loads(fields))
        if "FBI" in f:
            nam, dob, sex, _ = iii[f["FBI"]]
            assert (f["NAM"], f["DOB"], f["SEX"]) == (nam, dob, sex)


def test_population_command_lists_the_world(world, capsys):
    d, _ = world
    demo_lab(d)  # a lab around the seeded world
    assert main(["population", str(d), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["cch"] > 1000 and found["wanted"] > 100 and found["iii"] > found["cch"]
    assert main(["population", str(d), "--file", "cch", "--limit", "3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 3 and {"SID", "FBI", "NAM", "DOB"} <= set(rows[0])
    assert main(["population", str(d), "--file", "wanted", "--limit", "2"]) == 0
    assert "NIC" in capsys.readouterr().out
