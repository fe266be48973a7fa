"""Classes on one lab: snapshot the stopped lab, run every shipped exercise with a good and a bad
scripted trainee with a reset in between, run an entry exercise twice without a reset (fresh case
numbers), grade by parsed field values; snapshot/reset refuse while the switch runs."""

from __future__ import annotations

import asyncio

import pytest
from support import demo_lab, running_switch, until, wait
from test_exercises import TRAINEES, WRONG

from formats.errors import LemsError
from lems.cli import main
from lems.lab import load_lab
from lems.snapshot import reset, running, snapshot, snapshots
from lems.store import when_committed
from lems.training.exercise import load_exercise
from lems.training.run import load_grades, run_exercise
from terminals.script import load_script


async def run_once(lab, reactor, exercise_id, script_path):
    exercise = load_exercise(exercise_id)
    lab.clock_speed = exercise.clock_speed
    async with running_switch(lab, reactor) as switch:

        async def settle():
            await wait(when_committed(switch.writer, []))

        return await asyncio.wait_for(
            run_exercise(
                reactor,
                switch.endpoint,
                lab,
                exercise,
                script=load_script(script_path),
                settle=settle,
            ),
            30,
        )


@pytest.mark.parametrize("exercise_id", sorted(WRONG))
async def test_reset_then_rerun_good_and_bad(exercise_id, tmp_path, reactor):
    lab = demo_lab(tmp_path)
    async with running_switch(lab, reactor):
        await until(lambda: running(load_lab(tmp_path)))  # its first save has committed
        with pytest.raises(LemsError, match="switch is running"):
            snapshot(load_lab(tmp_path), "before-class")
    assert main(["lab", "snapshot", str(tmp_path), "before-class"]) == 0
    first = await run_once(
        load_lab(tmp_path), reactor, exercise_id, TRAINEES / f"{exercise_id}.good"
    )
    assert first.passed, first.reasons()
    assert main(["lab", "reset", str(tmp_path), "before-class"]) == 0
    bad = await run_once(load_lab(tmp_path), reactor, exercise_id, TRAINEES / f"{exercise_id}.bad")
    assert not bad.passed and any(WRONG[exercise_id] in r for r in bad.reasons()), bad.reasons()
    assert load_grades(load_lab(tmp_path))[-1].reasons() == bad.reasons()
    assert snapshots(load_lab(tmp_path)) == ["before-class"]


async def test_entry_exercise_runs_twice_on_the_same_lab(tmp_path, reactor):
    lab = demo_lab(tmp_path)
    good = TRAINEES / "wanted-entry-packed.good"
    one = await run_once(lab, reactor, "wanted-entry-packed", good)
    two = await run_once(load_lab(tmp_path), reactor, "wanted-entry-packed", good)
    assert one.passed and two.passed, (one.reasons(), two.reasons())


async def test_grading_compares_parsed_values(tmp_path, reactor):
    spaced = tmp_path / "spaced.script"
    spaced.write_text(
        (TRAINEES / "wanted-entry-packed.good")
        .read_text()
        .replace("NAM/HARTWELL,VERNON LEE", "NAM/HARTWELL, VERNON  LEE")
    )
    g = await run_once(demo_lab(tmp_path / "lab"), reactor, "wanted-entry-packed", spaced)
    assert g.passed, g.reasons()


def test_reset_without_a_snapshot_name_gives_a_fresh_lab(tmp_path):
    lab = demo_lab(tmp_path)
    assert lab.database.exists()
    with pytest.raises(LemsError, match="no snapshot nope"):
        reset(lab, "nope")
    with pytest.raises(LemsError, match="name"):
        snapshot(lab, "../escape")
    reset(lab)
    assert not lab.database.exists()


async def test_the_audit_catches_the_misuse_exercise(tmp_path, reactor):
    from lems.state.audit import Filter, agency_findings
    from lems.state.db import path_for

    lab = demo_lab(tmp_path)
    g = await run_once(lab, reactor, "misuse-spoof", TRAINEES / "misuse-spoof.bad")
    assert not g.passed
    [found] = agency_findings(lab, path_for(lab.database), Filter(ori="OR0240000"))
    [flag] = found.misuse
    assert flag["terminal"] == "T01" and "CLAIMED ORI/OR0260000" in flag["reason"]
