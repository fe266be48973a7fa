"""Grading: an exercise's checks evaluated against the journal.

The journal is the record of what really happened (every frame in, every message out, with lab
time), so grading needs nothing from the trainee's terminal: it reads the rows of the exercise's
window (``seq > start_seq``) from the lab database. Check types:

``sent``
    the trainee sent ``key``, accepted by the switch, with ``fields`` present, ``values``
    (``{CODE = "value"}``) equal, ``dest`` among the destinations, ``within`` lab seconds of the
    start (0: any time).
``answered``
    every ``after`` message delivered to the trainee (``YQ``, ``HIT``) was answered with ``key``
    (``YR``, ``YQ``): accepted, ``match`` fields equal to the delivered ones, addressed to the
    sender (``to_origin``; for a HIT, the record's ``ORI/``), within ``within`` lab seconds or,
    with ``priority_deadline``, the hit-confirmation deadline of its ``PRI/`` (U 10 minutes,
    R 1 hour).
``received``
    a ``key`` message (``contains`` text) was delivered to the trainee.
``no_unfixed_rejects``
    every refused ``key`` message (``*``: any) of the trainee (``scope = "ori"``: of any terminal
    of the trainee's ORI) was followed by an accepted one of the same key.
``not_sent``
    the trainee sent no accepted ``key``.
``not_refused``
    no ``key`` message (``*``: any) of the trainee was refused with a reason starting with
    ``contains`` (a reject code such as ``SPOOF``; empty: any refusal) - misuse the audit flags.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from formats.dictionary import Dictionary
from formats.errors import Reject
from formats.grammar import Parser
from formats.message import Message
from lems import journal
from lems.training.exercise import Check, Exercise
from terminals.client import Output, parse_output
from terminals.script import pairs_of

PRIORITY_DEADLINES = {"U": 600.0, "R": 3600.0}
"""Hit confirmation: the owner answers within 10 minutes (urgent) or 1 hour (routine)."""


@dataclass(slots=True)
class Entry:
    """One journal row, with the message parsed (inbound) or split (outbound)."""

    seq: int
    time: datetime
    direction: str
    terminal: str
    operator: str
    ori: str
    key: str
    disposition: str
    reason: str
    text: str
    msg: Message | None = None
    out: Output | None = None

    @property
    def accepted(self) -> bool:
        return self.disposition == "accepted"

    @property
    def refused(self) -> bool:
        return self.disposition in ("rejected", "refused")


def last_seq(database: str | Path) -> int:
    """The journal's highest seq: an exercise run grades the rows after it."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return journal.top_seq(conn)
    finally:
        conn.close()


def read_journal(
    database: str | Path, after_seq: int = 0, parser: Parser | None = None
) -> list[Entry]:
    """Journal rows after ``after_seq``, oldest first (read-only; WAL lets the switch write)."""
    parser = parser or Parser(Dictionary.default())
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = journal.rows(conn, after=after_seq).fetchall()
    finally:
        conn.close()
    entries = []
    for row in rows:
        seq, time, direction, terminal, operator, ori, key, disposition, reason, text = (
            journal.VIEW(row)
        )
        e = Entry(
            seq,
            datetime.fromisoformat(time),
            direction,
            terminal,
            operator,
            ori,
            key,
            disposition,
            reason,
            text,
        )
        if direction == "in" and disposition == "accepted":
            parsed = parser.check(text)
            e.msg = None if isinstance(parsed, Reject) else parsed
        elif direction == "out":
            e.out = parse_output(text)
            e.key = e.out.key or key
        entries.append(e)
    return entries


@dataclass(slots=True)
class CheckResult:
    type: str
    key: str
    passed: bool
    detail: str


@dataclass(slots=True)
class TaskResult:
    id: str
    text: str
    passed: bool
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float | None = None
    """Lab seconds from the start of the run to the message that did the task (None: not
    done, or a task about what was not sent)."""

    @property
    def reasons(self) -> list[str]:
        return [c.detail for c in self.checks if not c.passed]


@dataclass(slots=True)
class Grade:
    """One trainee's result on one exercise run."""

    exercise: str
    title: str
    trainee: str
    terminal: str
    operator: str
    started: str
    tasks: list[TaskResult]
    rejects: int = 0
    """Messages of the trainee's terminal the switch refused during the run."""

    @property
    def passed(self) -> bool:
        return all(t.passed for t in self.tasks)

    @property
    def score(self) -> float:
        return sum(t.passed for t in self.tasks) / len(self.tasks) if self.tasks else 0.0

    def reasons(self) -> list[str]:
        return [f"{t.id}: {r}" for t in self.tasks for r in t.reasons]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passed"], d["score"] = self.passed, round(self.score, 3)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Grade:
        tasks = [
            TaskResult(
                t["id"],
                t["text"],
                t["passed"],
                [CheckResult(**c) for c in t["checks"]],
                t.get("seconds"),
            )
            for t in d["tasks"]
        ]
        return cls(
            d["exercise"],
            d["title"],
            d["trainee"],
            d["terminal"],
            d["operator"],
            d["started"],
            tasks,
            d.get("rejects", 0),
        )


class Grader:
    """Evaluates an exercise's checks for one trainee terminal over journal entries."""

    def __init__(self, entries: list[Entry], terminal: str, ori: str) -> None:
        self.entries = entries
        self.terminal = terminal
        self.ori = ori
        self.start = entries[0].time if entries else datetime.now()
        self._when: float | None = None
        """Set by a check that passes on a message: lab seconds from the start to it."""

    def grade(self, exercise: Exercise, trainee: str = "") -> Grade:
        operator = next(
            (
                e.operator
                for e in self.entries
                if e.terminal == self.terminal and e.direction == "in" and e.operator
            ),
            "",
        )
        tasks = []
        for task in exercise.tasks:
            results: list[CheckResult] = []
            times: list[float] = []
            for c in task.checks:
                self._when = None
                results.append(self.check(c))
                if self._when is not None:
                    times.append(self._when)
            done = all(r.passed for r in results)
            tasks.append(
                TaskResult(
                    task.id,
                    task.text,
                    done,
                    results,
                    round(max(times), 1) if done and times else None,
                )
            )
        rejects = sum(
            1
            for e in self.entries
            if e.direction == "in" and e.refused and e.terminal == self.terminal
        )
        return Grade(
            exercise.id,
            exercise.title,
            trainee or operator or self.terminal,
            self.terminal,
            operator,
            self.start.isoformat(timespec="seconds"),
            tasks,
            rejects,
        )

    def check(self, c: Check) -> CheckResult:
        detail = getattr(self, f"_{c.type}")(c)
        if detail and c.why:
            detail = f"{detail} - {c.why}"
        return CheckResult(c.type, c.key, not detail, detail or "ok")

    # -------------------------------------------------------------- helpers

    def _sent_by(self, key: str, scope: str = "terminal") -> list[Entry]:
        def mine(e: Entry) -> bool:
            return e.terminal == self.terminal if scope == "terminal" else e.ori == self.ori

        return [
            e
            for e in self.entries
            if e.direction == "in"
            and mine(e)
            and (key == "*" or e.key == key)
            and e.key not in ("ACK", "LOGON", "LOGOFF")
        ]

    def _delivered(self, key: str) -> list[Entry]:
        return [
            e
            for e in self.entries
            if e.direction == "out" and e.terminal == self.terminal and e.key == key
        ]

    def _seconds(self, e: Entry, since: datetime | None = None) -> float:
        return (e.time - (since or self.start)).total_seconds()

    def _problem(self, c: Check, e: Entry) -> str:
        msg = e.msg
        if msg is None:
            return f"{c.key} could not be read back from the journal"
        missing = [code for code in c.fields if not msg.has(code)]
        if missing:
            return f"{c.key} lacks {', '.join(missing)}"
        for code, want in c.values.items():
            got = msg.get(code)
            if not same(code, got, want):
                return f"{c.key} {code}/{got or '(none)'} should be {code}/{want}"
        if c.dest and c.dest not in msg.destinations:
            return f"{c.key} went to {' '.join(msg.destinations) or 'no destination'}, not {c.dest}"
        if c.within and self._seconds(e) > c.within:
            return f"{c.key} sent {self._seconds(e):.0f} s after the start; limit {c.within:g} s"
        return ""

    # -------------------------------------------------------------- checks

    def _sent(self, c: Check) -> str:
        sent = self._sent_by(c.key, c.scope)
        if not sent:
            return f"no {c.key} was sent"
        accepted = [e for e in sent if e.accepted]
        if not accepted:
            return f"every {c.key} was refused (last: {sent[-1].reason})"
        problems = [self._problem(c, e) for e in accepted]
        if "" in problems:
            self._when = self._seconds(accepted[problems.index("")])
            return ""
        return problems[-1]

    def _not_sent(self, c: Check) -> str:
        sent = [e for e in self._sent_by(c.key, c.scope) if e.accepted]
        return f"{c.key} was sent (seq {sent[0].seq})" if sent else ""

    def _not_refused(self, c: Check) -> str:
        for e in self._sent_by(c.key, c.scope):
            if e.refused and (e.reason or "").startswith(c.contains):
                return f"{e.key} refused ({e.reason})"
        return ""

    def _received(self, c: Check) -> str:
        got = [e for e in self._delivered(c.key) if not c.contains or c.contains in e.text]
        if got:
            self._when = self._seconds(got[0])
            return ""
        what = f" containing {c.contains!r}" if c.contains else ""
        return f"no {c.key}{what} was received"

    def _no_unfixed_rejects(self, c: Check) -> str:
        sent = self._sent_by(c.key, c.scope)
        for i, e in enumerate(sent):
            if e.refused and not any(
                later.accepted and later.key == e.key for later in sent[i + 1 :]
            ):
                return f"{e.key} refused ({e.reason}) and never corrected"
        return ""

    def _answered(self, c: Check) -> str:
        delivered = self._delivered(c.after)
        if not delivered:
            return f"no {c.after} reached the trainee's terminal {self.terminal}"
        answers = [e for e in self._sent_by(c.key) if e.accepted]
        for d in delivered:
            problem = self._answer_problem(c, d, [a for a in answers if a.seq > d.seq])
            if problem:
                return problem
        return ""

    def _answer_problem(self, c: Check, d: Entry, answers: list[Entry]) -> str:
        assert d.out is not None
        pairs = pairs_of(d.out)
        origin = pairs.get("ORI", "") if d.key == "HIT" else d.out.ori
        limit, why = c.within, f"limit {c.within:g} s"
        if c.priority_deadline:
            pri = pairs.get("PRI", "R")
            limit = PRIORITY_DEADLINES.get(pri, 3600.0)
            why = f"deadline {limit / 60:g} minutes for PRI/{pri}"
        if not answers:
            return f"the {c.after} received at {d.time:%H:%M:%S} was never answered with {c.key}"
        problems = []
        for a in answers:
            msg = a.msg
            if msg is None:
                continue
            if c.to_origin and origin and origin not in msg.destinations:
                problems.append(
                    f"{c.key} went to {' '.join(msg.destinations)}, not to "
                    f"{origin} (who sent the {c.after})"
                )
                continue
            wrong = [
                f"{code}/{msg.get(code) or '(none)'} (the {c.after} has {code}/{pairs.get(code)})"
                for code in c.match
                if not same(code, msg.get(code), pairs.get(code))
            ]
            if wrong:
                problems.append(f"{c.key} does not match: {', '.join(wrong)}")
                continue
            took = self._seconds(a, d.time)
            if limit and took > limit:
                problems.append(f"{c.key} sent {took:.0f} s after the {c.after}; {why}")
                continue
            self._when = max(self._when or 0.0, self._seconds(a))
            return ""
        return problems[-1] if problems else f"no readable {c.key} answer"


def normal(code: str, value: str | None) -> str:
    """A field value as NCIC compares it: upper case, runs of spaces as one, and in a name no
    space after the comma (``HARTWELL, VERNON LEE`` is ``HARTWELL,VERNON LEE``)."""
    v = " ".join((value or "").upper().split())
    if code in ("NAM", "AKA", "RNA"):
        v = v.replace(", ", ",")
    return v


def same(code: str, got: str | None, want: str | None) -> bool:
    """Whether a trainee's field value is the expected one, compared as parsed values."""
    return normal(code, got) == normal(code, want)


def grade(
    exercise: Exercise,
    database: str | Path,
    start_seq: int,
    terminal: str,
    ori: str,
    trainee: str = "",
) -> Grade:
    """Grade ``terminal`` (whose first ORI is ``ori``) on the journal after ``start_seq``."""
    return Grader(read_journal(database, start_seq), terminal, ori).grade(exercise, trainee)
