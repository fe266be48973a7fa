"""``lems init DIR --state XX``: a lab for any state, DC or territory (issue 22, item 1)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from support import TODAY

from formats.codes import US_STATE_CODES
from formats.errors import ConfigError
from formats.ori import is_valid_ori
from lems.demo import init_lab
from lems.endpoints.seed import seed_lab
from lems.lab import load_lab


@pytest.mark.parametrize("st", sorted(US_STATE_CODES))
def test_every_state_gets_its_own_lab(tmp_path, st) -> None:
    lab = init_lab(tmp_path, state=st, today=TODAY)
    assert lab.state == st
    assert lab.rules == ("oregon" if st == "OR" else "generic")
    assert lab.switch.ori[:2] == st
    for a in lab.agencies.values():
        assert a.ori[:2] == st and is_valid_ori(a.ori), a.ori
    assert len(lab.terminals) >= 10 and all(lab.agencies[t.oris[0]] for t in lab.terminals.values())
    # every terminal has a cleared operator who can sign on there
    for t in lab.terminals:
        assert any(t in o.terminals and o.cleared for o in lab.operators.values()), t
    names = {a.name for a in lab.agencies.values()}
    assert any("SHERIFF" in n for n in names) and any("POLICE" in n for n in names)


@pytest.mark.parametrize("st", ["WA", "UT", "PR"])
def test_a_states_lab_and_the_mock_nlets_name_the_same_agencies(tmp_path, st) -> None:
    """One table (formats.nlets_members.local_agencies): the sheriffs and police departments a
    lab made for a state holds are the ones the mock Nlets' ORION lists for that state, so a
    message to one of them finds it whether that state runs a node or is simulated."""
    from lems.endpoints.nlets import orion_agencies

    lab = init_lab(tmp_path, state=st, today=TODAY)
    orion = {a.ori: a.name for a in orion_agencies() if a.state == st}
    local = {o: a.name for o, a in lab.agencies.items() if a.type in ("SO", "PD")}
    assert len(local) == 4 and all(orion.get(o) == name for o, name in local.items()), (
        local,
        orion,
    )


def test_oregon_lab_keeps_oregon_rules_and_agencies(tmp_path) -> None:
    lab = init_lab(tmp_path, today=TODAY)
    assert lab.rules == "oregon" and "OR0240000" in lab.agencies and lab.switch.ori == "ORLEDS000"


def test_unknown_state_and_rule_set_are_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match="XX"):
        init_lab(tmp_path, state="XX")
    init_lab(tmp_path, state="UT")
    path = tmp_path / "lab.toml"
    path.write_text(path.read_text().replace('rules = "generic"', 'rules = "texas"'))
    with pytest.raises(ConfigError, match=r"rules.*oregon, generic"):
        load_lab(path)


@pytest.mark.parametrize("st", ["UT", "OR", "PR"])
def test_a_states_lab_holds_its_own_dmv_and_criminal_history(tmp_path, st) -> None:
    """The home state's own DMV and criminal-history files (home.db: what its node answers
    other states from); the simulated Nlets world is the same whatever the lab's state."""
    seed_lab(tmp_path / st, 400, 1, [f"{st}0010000"], home=st)
    seed_lab(tmp_path / "WA", 400, 1, ["WA0010000"], home="WA")
    conn = sqlite3.connect(tmp_path / st / "home.db")
    drivers = conn.execute("SELECT COUNT(*) FROM driver WHERE state = ?", (st,)).fetchone()[0]
    chri = conn.execute("SELECT COUNT(*) FROM chri WHERE state = ?", (st,)).fetchone()[0]
    assert drivers > 20 and chri > 5
    assert all(oln.startswith(st) for (oln,) in conn.execute("SELECT oln FROM driver"))
    assert conn.execute("SELECT COUNT(*) FROM driver WHERE state != ?", (st,)).fetchone()[0] == 0
    wa_home = sqlite3.connect(tmp_path / "WA" / "home.db")
    wa_nlets = sqlite3.connect(tmp_path / "WA" / "nlets.db")
    query = "SELECT * FROM driver WHERE state = 'WA' ORDER BY oln"
    assert wa_home.execute(query).fetchall() == wa_nlets.execute(query).fetchall() != []
    world = "SELECT * FROM driver ORDER BY state, oln"
    assert (
        sqlite3.connect(tmp_path / st / "nlets.db").execute(world).fetchall()
        == wa_nlets.execute(world).fetchall()
    )


def test_init_state_from_the_command_line(tmp_path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "lems.cli", "init", str(tmp_path / "wa"), "--state", "wa"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "WA0010000" in out.stdout and "QW.WA0010000" in out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "lems.cli", "init", str(tmp_path / "x"), "--state", "QQ"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0 and "--state QQ" in bad.stderr
