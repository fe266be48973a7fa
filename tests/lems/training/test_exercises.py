"""Every shipped exercise, performed by a scripted trainee against a real switch: passes when
done right, fails with a clear reason when done wrong; plus the deadline, the report formats and
the exercise file checks."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from support import demo_lab, running_switch, wait

from formats.errors import ConfigError
from lems.store import when_committed
from lems.training.exercise import load_exercise, parse_exercise, shipped_ids
from lems.training.report import report_html, report_json
from lems.training.run import run_exercise
from terminals.script import load_script

TRAINEES = Path(__file__).with_name("trainees")

WRONG = {
    "answer-yq": "YR went to OR0260200, not to OR0260000 (who sent the YQ)",
    "wanted-entry-packed": "EW lacks SOC, OLN, OLS, EYE, SMT, AKA - pack every identifier",
    "correct-rejected-entry": "EV refused (MISSING-FIELD VCO MISSING MANDATORY FIELD VCO) and "
    "never corrected",
    "designated-consent": "every QCH was refused (last: CONSENT-REQUIRED PUR",
    "broadcast-aml": "no AML was sent",
    "plate-hit-confirm": "the HIT received at",
    "modify-wanted": "XW was sent",
    "locate-wanted": "no LW was sent",
    "clear-wanted": "XW was sent",
    "cancel-wanted": "CW was sent",
    "gun-hit": "no HIT containing 'TX4471902' was received",
    "iii-record": "QR refused (",
    "ppf-minimum": "EPP refused (",
    "radio-rules": "QCH was sent",
    "misuse-spoof": "QV refused (SPOOF",
    "fics-dealer-check": "no FCR containing 'STATUS/DENIED' was received",
}


def test_at_least_fifteen_exercises_ship_each_with_trainees():
    ids = shipped_ids()
    assert len(ids) >= 15
    for i in ids:
        ex = load_exercise(i)
        assert ex.tasks and ex.rules
        assert (TRAINEES / f"{i}.good").exists() and (TRAINEES / f"{i}.bad").exists()
    assert set(WRONG) == set(ids)


async def _run(tmp_path, reactor, exercise_id, trainee_script, speed=None):
    lab = demo_lab(tmp_path)
    exercise = load_exercise(exercise_id)
    lab.clock_speed = speed or exercise.clock_speed
    async with running_switch(lab, reactor) as switch:

        async def settle():
            await wait(when_committed(switch.writer, []))

        coro = run_exercise(
            reactor,
            switch.endpoint,
            lab,
            exercise,
            script=load_script(TRAINEES / trainee_script),
            settle=settle,
        )
        return lab, await asyncio.wait_for(coro, 30)


# Every shipped exercise done right and done wrong, with a reset between: test_rerun.py.


async def test_late_answer_misses_the_urgent_deadline(tmp_path, reactor):
    slow = tmp_path / "slow.script"
    slow.write_text(
        (TRAINEES / "answer-yq.good").read_text().replace("send YR", "wait 1.2\nsend YR", 1)
    )
    lab = demo_lab(tmp_path / "lab")
    exercise = load_exercise("answer-yq")
    lab.clock_speed = 600.0  # one real second is ten lab minutes
    async with running_switch(lab, reactor) as switch:

        async def settle():
            await wait(when_committed(switch.writer, []))

        grade = await run_exercise(
            reactor, switch.endpoint, lab, exercise, script=load_script(slow), settle=settle
        )
    assert not grade.passed
    reason = next(r for r in grade.reasons() if r.startswith("answer-in-time"))
    assert "after the YQ; deadline 10 minutes for PRI/U" in reason


async def test_reports_json_and_html(tmp_path, reactor):
    _, good = await _run(tmp_path / "a", reactor, "broadcast-aml", "broadcast-aml.good")
    _, bad = await _run(tmp_path / "b", reactor, "broadcast-aml", "broadcast-aml.bad")
    data = json.loads(report_json([good, bad]))
    assert [g["passed"] for g in data["OP01"]] == [True, False]
    page = report_html([good, bad])
    assert "Trainee OP01" in page and "1 of 2 passed" in page and "no AML was sent" in page


async def test_fics_dealer_is_told_the_outcome_never_the_prohibitor(tmp_path, reactor):
    lab, good = await _run(tmp_path, reactor, "fics-dealer-check", "fics-dealer-check.good")
    assert good.passed, good.reasons()
    conn = sqlite3.connect(lab.database)
    try:
        told = conn.execute(
            "SELECT text FROM journal WHERE direction = 'out' AND terminal = 'T13' AND key = 'FCR'"
        ).fetchall()
        kept = conn.execute(
            "SELECT reason FROM journal WHERE key = 'FCK' AND disposition = 'fics-denied'"
        ).fetchall()
    finally:
        conn.close()
    assert len(told) == 1 and "STATUS/DENIED" in told[0][0] and "FTN/F" in told[0][0]
    for word in ("WANTED", "NIC/", "NICS DENIAL", "REASON/", "WARRANT"):
        assert word not in told[0][0], (word, told[0][0])
    assert len(kept) == 1 and "WANTED PERSON" in kept[0][0], kept


def test_bad_exercise_files_are_refused_with_the_place():
    with pytest.raises(ConfigError, match=r"\[task\[0\]\.check\[0\]\]: type must be one of"):
        parse_exercise(
            {
                "exercise": {"id": "x", "title": "y"},
                "task": [{"id": "t", "text": "x", "check": [{"type": "sendt", "key": "EW"}]}],
            }
        )
    with pytest.raises(ConfigError, match="an exercise needs at least one"):
        parse_exercise({"exercise": {"id": "x", "title": "y"}})
