"""Exercise files: a training exercise as data (TOML).

```toml
[exercise]
id = "answer-yq"
title = "Answer an incoming hit confirmation request"
rules = ["Hit confirmation: answer a YQ within 10 minutes (PRI/U) or 1 hour (PRI/R)"]
trainee = "T01"          # the terminal the trainee works at (default T01)
clock_speed = 1.0        # lab clock speed while the exercise runs
time_limit = 900         # lab seconds the trainee has

[[setup]]                # scripted terminals that prepare the world (terminals/script.py)
terminal = "T04"
script = '''
send YQ.${ORI}.${TRAINEE_ORI}.TXT\\
RTY/WP.RNO/1.PRI/U.OCA/26-00211.NIC/W000018426.NAM/PRUITT,DALE.RNA/DISPATCH OLSEN.RAG/JUNIPER CO SO
'''

[[task]]
id = "answer"
text = "Answer the YQ from Juniper County SO: the warrant is confirmed."
[[task.check]]
type = "answered"        # see lems/training/grading.py for every check type
after = "YQ"
key = "YR"
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from formats.errors import ConfigError

CHECK_TYPES = ("sent", "answered", "received", "no_unfixed_rejects", "not_sent", "not_refused")
CHECK_ATTRS = {
    "type",
    "key",
    "after",
    "fields",
    "values",
    "dest",
    "within",
    "match",
    "to_origin",
    "priority_deadline",
    "contains",
    "scope",
    "accepted",
    "why",
}


@dataclass(frozen=True, slots=True)
class Check:
    """One thing the journal must show (or must not); ``why`` is said when it fails."""

    type: str
    key: str = ""
    after: str = ""
    fields: tuple[str, ...] = ()
    values: dict[str, str] = field(default_factory=dict)
    dest: str = ""
    within: float = 0.0
    match: tuple[str, ...] = ()
    to_origin: bool = False
    priority_deadline: bool = False
    contains: str = ""
    scope: str = "terminal"
    accepted: bool = True
    why: str = ""


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    text: str
    checks: tuple[Check, ...]


@dataclass(frozen=True, slots=True)
class Setup:
    terminal: str
    script: str


@dataclass(frozen=True, slots=True)
class Exercise:
    id: str
    title: str
    text: str
    rules: tuple[str, ...]
    trainee: str
    clock_speed: float
    time_limit: float
    setup: tuple[Setup, ...]
    tasks: tuple[Task, ...]
    path: str = ""
    needs: tuple[str, ...] = ()
    """Services the exercise needs besides the switch (``ncic``, ``cch``…)."""

    def with_vars(self, variables: dict[str, str]) -> Exercise:
        """This exercise with ``${NAME}`` replaced in its text, setup scripts and check values
        (``${CASE}``: this run's fresh case number, so an exercise runs again on the same lab
        without its entries colliding with the last run's)."""

        def sub(text: str) -> str:
            for name, value in variables.items():
                text = text.replace("${" + name + "}", value)
            return text

        tasks = tuple(
            Task(
                t.id,
                sub(t.text),
                tuple(
                    replace(
                        c, values={k: sub(v) for k, v in c.values.items()}, contains=sub(c.contains)
                    )
                    for c in t.checks
                ),
            )
            for t in self.tasks
        )
        return replace(
            self,
            text=sub(self.text),
            tasks=tasks,
            setup=tuple(Setup(s.terminal, sub(s.script)) for s in self.setup),
        )


def _fail(path: str, where: str, reason: str) -> ConfigError:
    return ConfigError(reason, file=path, key=where)


def parse_exercise(doc: dict[str, Any], path: str = "<exercise>") -> Exercise:
    head = doc.get("exercise")
    if not isinstance(head, dict):
        raise _fail(path, "exercise", "an exercise file needs an [exercise] table")
    for attr in ("id", "title"):
        if not isinstance(head.get(attr), str) or not head[attr]:
            raise _fail(path, f"exercise.{attr}", f"{attr} is required")
    setup = []
    for i, s in enumerate(doc.get("setup", [])):
        if not isinstance(s.get("terminal"), str) or not isinstance(s.get("script"), str):
            raise _fail(path, f"setup[{i}]", "a setup step needs terminal and script")
        setup.append(Setup(s["terminal"].upper(), s["script"]))
    tasks = []
    for i, t in enumerate(doc.get("task", [])):
        where = f"task[{i}]"
        if not isinstance(t.get("id"), str) or not isinstance(t.get("text"), str):
            raise _fail(path, where, "a task needs id and text")
        checks = []
        for j, c in enumerate(t.get("check", [])):
            cw = f"{where}.check[{j}]"
            extra = set(c) - CHECK_ATTRS
            if extra:
                raise _fail(path, cw, f"unknown attribute(s) {sorted(extra)}")
            if c.get("type") not in CHECK_TYPES:
                raise _fail(path, cw, f"type must be one of {', '.join(CHECK_TYPES)}")
            if not c.get("key"):
                raise _fail(path, cw, "key is required")
            if c["type"] == "answered" and not c.get("after"):
                raise _fail(path, cw, "an answered check needs after (the key answered)")
            checks.append(
                Check(
                    type=c["type"],
                    key=c["key"].upper(),
                    after=c.get("after", "").upper(),
                    fields=tuple(c.get("fields", ())),
                    values=dict(c.get("values", {})),
                    dest=c.get("dest", ""),
                    within=float(c.get("within", 0)),
                    match=tuple(c.get("match", ())),
                    to_origin=bool(c.get("to_origin", False)),
                    priority_deadline=bool(c.get("priority_deadline", False)),
                    contains=c.get("contains", ""),
                    scope=c.get("scope", "terminal"),
                    accepted=bool(c.get("accepted", True)),
                    why=c.get("why", ""),
                )
            )
        if not checks:
            raise _fail(path, where, "a task needs at least one [[task.check]]")
        tasks.append(Task(t["id"], t["text"].strip(), tuple(checks)))
    if not tasks:
        raise _fail(path, "task", "an exercise needs at least one [[task]]")
    speed = float(head.get("clock_speed", 1.0))
    if speed <= 0:
        raise _fail(path, "exercise.clock_speed", "clock_speed must be greater than 0")
    return Exercise(
        id=head["id"],
        title=head["title"],
        text=head.get("text", "").strip(),
        rules=tuple(head.get("rules", ())),
        trainee=head.get("trainee", "T01").upper(),
        clock_speed=speed,
        time_limit=float(head.get("time_limit", 900)),
        setup=tuple(setup),
        tasks=tuple(tasks),
        path=path,
        needs=tuple(head.get("needs", ())),
    )


def load_exercise(path: str | Path) -> Exercise:
    """An exercise file, or a shipped exercise by id (``answer-yq``)."""
    p = Path(path)
    if not p.exists() and p.suffix != ".toml" and p.name in shipped_ids():
        p = Path(str(resources.files("lems.training") / "exercises" / f"{p.name}.toml"))
    try:
        text = p.read_text("utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read exercise: {e.strerror}", file=str(p)) from e
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(e), file=str(p)) from e
    return parse_exercise(doc, str(p))


def shipped_ids() -> list[str]:
    folder = resources.files("lems.training") / "exercises"
    return sorted(f.name[:-5] for f in folder.iterdir() if f.name.endswith(".toml"))


def shipped() -> list[Exercise]:
    return [load_exercise(i) for i in shipped_ids()]
