"""Running an exercise: set the world up with scripted terminals, let the trainee work (a person
at ``lems terminal`` or a scripted trainee), then grade the journal window and keep the grade.

Grades are kept in ``training.db`` beside the lab database (one row per run), not in the lab
database, whose schema belongs to the switch.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from formats.errors import LemsError
from lems.lab import LabConfig
from lems.repositories import training_grades
from lems.training.exercise import Exercise
from lems.training.grading import Grade, grade, last_seq
from terminals.script import Credentials, Script, parse_script, run_terminal

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime


class ExerciseError(LemsError):
    """The exercise could not be set up (a setup script failed, a terminal is unknown)."""


def lab_credentials(lab: LabConfig, terminal: str) -> Credentials:
    term = lab.terminals.get(terminal)
    if term is None:
        raise ExerciseError(f"terminal {terminal} is not in {lab.path}")
    op = next((o for o in lab.operators.values() if terminal in o.terminals and o.cleared), None)
    if op is None:
        raise ExerciseError(f"no cleared operator for terminal {terminal} in {lab.path}")
    return Credentials(terminal, op.id, op.password)


def scripted_credentials(lab: LabConfig, terminal: str) -> Credentials:
    """Credentials a scripted terminal signs on with: it needs a password in clear."""
    cred = lab_credentials(lab, terminal)
    if not cred.password:
        raise ExerciseError(
            f"operator {cred.operator} of terminal {terminal} has only a password hash in "
            f"{lab.path}: a scripted terminal cannot sign on to a switch running elsewhere; run "
            "the exercise without --switch (it then runs its own switch), or write the lab "
            "with lems init --training-passwords"
        )
    return cred


def session_passwords(lab: LabConfig, terminals: Iterable[str]) -> None:
    """Give the operators of ``terminals`` whose lab.toml keeps only a hash a random password
    for this run.

    Only for a switch the exercise runs itself (``lems exercise run`` / ``lems class start``
    without ``--switch``) and only for the scripted terminals (the setup terminals, a scripted
    trainee): that switch and those terminals share this process, so a password made up here
    and never written anywhere signs them on, while people sign on with their own passwords and
    lab.toml's hashes stay the only record of them (issue 16)."""
    wanted = {t.upper() for t in terminals}
    for oid, op in list(lab.operators.items()):
        if op.password_hash and not op.password and wanted & set(op.terminals):
            lab.operators[oid] = replace(op, password=secrets.token_urlsafe(12), password_hash="")


async def setup(
    reactor: IReactorTime, endpoint: str, lab: LabConfig, exercise: Exercise, trainee: str
) -> None:
    """Run the exercise's setup scripts, in order; a failing step stops the exercise."""
    exercise = exercise.with_vars(
        {"TRAINEE_ORI": lab.terminals[trainee].oris[0], "TRAINEE": trainee}
    )
    for step in exercise.setup:
        cred = scripted_credentials(lab, step.terminal)
        text = step.script
        result = await run_terminal(
            reactor, endpoint, cred, parse_script(text, f"{exercise.id} setup {step.terminal}")
        )
        if not result.passed:
            raise ExerciseError(
                f"setup at {step.terminal} failed at line {result.line}: {result.reason}"
            )


async def run_exercise(
    reactor: IReactorTime,
    endpoint: str,
    lab: LabConfig,
    exercise: Exercise,
    *,
    trainee: str = "",
    terminal: str = "",
    script: Script | None = None,
    until: Any = None,
    settle: Any = None,
    case: str = "",
    klass: str = "",
    setup_lock: asyncio.Lock | None = None,
) -> Grade:
    """Set up, let the trainee work, grade. With ``script`` the trainee is scripted; otherwise
    ``until`` (a coroutine function) returns when the person is done. ``settle`` (a coroutine
    function) waits until the switch has committed everything (in-process switches)."""
    terminal = (terminal or exercise.trainee).upper()
    cred = lab_credentials(lab, terminal)
    start = last_seq(lab.database)
    case = case or case_number(lab, start, terminal)
    exercise = exercise.with_vars({"CASE": case})
    if setup_lock is not None:  # a class: one setup at a time (they share setup terminals)
        async with setup_lock:
            await setup(reactor, endpoint, lab, exercise, terminal)
    else:
        await setup(reactor, endpoint, lab, exercise, terminal)
    if script is not None:
        await run_terminal(
            reactor, endpoint, scripted_credentials(lab, terminal), script, variables={"CASE": case}
        )
    elif until is not None:
        await until()
    await asyncio.sleep(0.3)  # answers in flight reach the journal
    if settle is not None:
        await settle()
    g = grade(
        exercise,
        lab.database,
        start,
        terminal,
        lab.terminals[terminal].oris[0],
        trainee or cred.operator,
    )
    save_grade(lab, g, klass)
    return g


def case_number(lab: LabConfig, start_seq: int, terminal: str) -> str:
    """A case number no earlier run on this lab used: ``YY-TTNNNNN`` from the lab year, the
    trainee terminal's number and the journal position (which only grows, also across
    ``lems lab reset`` to a later snapshot; a reset to an earlier one restores its entries too)."""
    digits = "".join(c for c in terminal if c.isdigit())[-2:].rjust(2, "0")
    year = lab.start.year if lab.start else 2026
    return f"{year % 100:02d}-{digits}{start_seq % 100000:05d}"


def results_path(lab: LabConfig) -> Path:
    return lab.database.with_name("training.db")


def save_grade(lab: LabConfig, g: Grade, klass: str = "") -> int:
    """Keep a grade (``klass``: the class it was part of); its id."""
    conn = training_grades.connect(results_path(lab))
    try:
        return training_grades.save(
            conn,
            exercise=g.exercise,
            trainee=g.trainee,
            terminal=g.terminal,
            started=g.started,
            passed=g.passed,
            score=g.score,
            body=json.dumps(g.to_dict()),
            klass=klass,
        )
    finally:
        conn.close()


def load_grades(lab: LabConfig, trainee: str = "", klass: str = "") -> list[Grade]:
    if not results_path(lab).exists():
        return []
    conn = training_grades.connect(results_path(lab))
    try:
        found = training_grades.bodies(conn, trainee, klass)
    finally:
        conn.close()
    return [Grade.from_dict(json.loads(body)) for body in found]
