"""``training.db``, beside the lab database: the grades of exercise runs (one row per run, the
grade as JSON in ``body``) and which class each belongs to (``lems.training.run``,
``lems.training.classroom``).

Not in the lab database, whose schema belongs to the switch: a class's results outlive the
``lems lab reset`` that follows it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS grade (id INTEGER PRIMARY KEY, exercise TEXT, "
    "trainee TEXT, terminal TEXT, started TEXT, passed INTEGER, score REAL, "
    "body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS class_grade (class TEXT NOT NULL, grade INTEGER NOT NULL)",
)


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the grades at ``path``, its tables made if missing."""
    conn = sqlite3.connect(path)
    for statement in SCHEMA:
        conn.execute(statement)
    return conn


def save(
    conn: sqlite3.Connection,
    *,
    exercise: str,
    trainee: str,
    terminal: str,
    started: str,
    passed: bool,
    score: float,
    body: str,
    klass: str = "",
) -> int:
    """Keep one run's grade (``body``: the whole grade as JSON; ``klass``: the class it was part
    of, or ""), committed; its id."""
    with conn:
        cur = conn.execute(
            "INSERT INTO grade (exercise, trainee, terminal, started, passed, score, body) "
            "VALUES (?,?,?,?,?,?,?)",
            (exercise, trainee, terminal, started, int(passed), score, body),
        )
        gid = int(cur.lastrowid or 0)
        if klass:
            conn.execute("INSERT INTO class_grade (class, grade) VALUES (?, ?)", (klass, gid))
    return gid


def bodies(conn: sqlite3.Connection, trainee: str = "", klass: str = "") -> list[str]:
    """The kept grades (JSON) of ``trainee`` and of class ``klass`` (""; any), oldest first."""
    return [
        body
        for (body,) in conn.execute(
            "SELECT body FROM grade WHERE (? = '' OR trainee = ?) AND (? = '' OR id IN "
            "(SELECT grade FROM class_grade WHERE class = ?)) ORDER BY id",
            (trainee, trainee, klass, klass),
        )
    ]
