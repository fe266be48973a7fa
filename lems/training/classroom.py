"""A class: several trainees, each at a terminal of their own, doing the same exercise at once
(``lems class start``), and the class report (``lems class report``: HTML and CSV).

The roster is a CSV file with a header row and the columns ``trainee`` and ``terminal``
(``operator`` optional, checked against the lab); every trainee gets the exercise's setup on their
own terminal's ORI and a case number of their own, so twelve trainees entering "the same" warrant
do not collide. Grades go to ``training.db`` like single runs, tagged with the class id.

The class report has one row per trainee and exercise: attempts, the last attempt's result and
score, rejects drawn over all attempts, and the lab seconds from the start to each task done.
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from formats.errors import ConfigError
from lems.lab import LabConfig
from lems.training.exercise import Exercise
from lems.training.grading import Grade, last_seq
from lems.training.run import case_number, run_exercise
from terminals.script import Script

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime


@dataclass(frozen=True, slots=True)
class Seat:
    trainee: str
    terminal: str


def read_roster(path: Path, lab: LabConfig) -> list[Seat]:
    """The roster's seats; every problem names the row and column."""
    try:
        text = path.read_text("utf-8-sig")
    except OSError as e:
        raise ConfigError(f"cannot read roster: {e.strerror}", file=str(path)) from e
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise ConfigError("the roster has no trainees (header: trainee,terminal)", file=str(path))
    seats: list[Seat] = []
    for i, row in enumerate(rows, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        trainee, terminal = row.get("trainee", ""), row.get("terminal", "").upper()
        if not trainee:
            raise ConfigError("trainee is empty", file=str(path), key="trainee", line=i)
        if terminal not in lab.terminals:
            raise ConfigError(
                f"terminal {terminal or '(none)'} is not in {lab.path}",
                file=str(path),
                key="terminal",
                line=i,
            )
        if any(s.terminal == terminal for s in seats):
            raise ConfigError(
                f"terminal {terminal} is given to two trainees",
                file=str(path),
                key="terminal",
                line=i,
            )
        if any(s.trainee == trainee for s in seats):
            raise ConfigError(
                f"trainee {trainee} is listed twice", file=str(path), key="trainee", line=i
            )
        seats.append(Seat(trainee, terminal))
    return seats


async def run_class(
    reactor: IReactorTime,
    endpoint: str,
    lab: LabConfig,
    exercise: Exercise,
    seats: list[Seat],
    klass: str,
    *,
    scripts: dict[str, Script] | None = None,
    until: Any = None,
    settle: Any = None,
    cases: dict[str, str] | None = None,
) -> list[Grade]:
    """Every seat does ``exercise`` at once; ``scripts`` (by terminal) are scripted trainees,
    the others are people, and ``until`` returns when the instructor ends the exercise."""
    busy = {s.terminal for s in exercise.setup} & {s.terminal for s in seats}
    if busy:
        raise ConfigError(
            f"terminal(s) {', '.join(sorted(busy))} set the exercise up; seat "
            "the trainees elsewhere",
            key="roster",
        )
    done: asyncio.Future[None] | None = None
    lock = asyncio.Lock()

    async def wait_for_people() -> None:
        nonlocal done
        if done is None:
            done = asyncio.ensure_future(until() if until else asyncio.sleep(0))
        await asyncio.shield(done)

    cases = cases or case_numbers(lab, seats)
    runs = [
        run_exercise(
            reactor,
            endpoint,
            lab,
            exercise,
            trainee=s.trainee,
            terminal=s.terminal,
            script=(scripts or {}).get(s.terminal),
            until=wait_for_people,
            settle=settle,
            klass=klass,
            setup_lock=lock,
            case=cases[s.terminal],
        )
        for s in seats
    ]
    return list(await asyncio.gather(*runs))


def case_numbers(lab: LabConfig, seats: list[Seat]) -> dict[str, str]:
    """Each seat's case number for this run (by terminal): told to the trainee, used by the
    setup and the checks."""
    start = last_seq(lab.database) if lab.database.exists() else 0
    return {s.terminal: case_number(lab, start, s.terminal) for s in seats}


@dataclass(slots=True)
class Line:
    trainee: str
    terminal: str
    exercise: str
    attempts: int
    passed: bool
    score: float
    rejects: int
    times: list[tuple[str, float | None]]


def lines(grades: list[Grade]) -> list[Line]:
    """One line per trainee and exercise (grades oldest first: the last attempt counts)."""
    out: dict[tuple[str, str], Line] = {}
    for g in grades:
        key = (g.trainee, g.exercise)
        line = out.get(key)
        if line is None:
            line = out[key] = Line(g.trainee, g.terminal, g.exercise, 0, False, 0.0, 0, [])
        line.attempts += 1
        line.passed, line.score, line.terminal = g.passed, g.score, g.terminal
        line.rejects += g.rejects
        line.times = [(t.id, t.seconds) for t in g.tasks]
    return sorted(out.values(), key=lambda x: (x.trainee, x.exercise))


COLUMNS = (
    "trainee",
    "terminal",
    "exercise",
    "attempts",
    "result",
    "score",
    "rejects",
    "time to each task (lab s)",
)


def _row(x: Line) -> list[str]:
    return [
        x.trainee,
        x.terminal,
        x.exercise,
        str(x.attempts),
        "PASS" if x.passed else "FAIL",
        f"{x.score:.0%}",
        str(x.rejects),
        " ".join(f"{t}:{'-' if s is None else f'{s:g}'}" for t, s in x.times),
    ]


def report_csv(grades: list[Grade]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for x in lines(grades):
        w.writerow(_row(x))
    return buf.getvalue()


def report_html(grades: list[Grade], title: str) -> str:
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in _row(x)) + "</tr>" for x in lines(grades)
    )
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>"
        f"{escape(title)}</title><style>@page{{size:letter landscape;margin:0.5in}}"
        "body{font:10pt sans-serif}table{border-collapse:collapse;width:100%}"
        "thead{display:table-header-group}tr{break-inside:avoid}"
        "td,th{border:0.5pt solid #555;padding:2pt 4pt;text-align:left}</style></head>"
        f"<body><h1>{escape(title)}</h1><p>All data is fictitious.</p>"
        f"<table class='class'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        "</body></html>"
    )
