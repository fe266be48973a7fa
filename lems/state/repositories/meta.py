"""The ``meta`` table of ``state.db``: what the state services note about the lab.

``clock_wall``, ``clock_lab``, ``clock_speed``: the running switch's clock anchor (wall time,
lab time and speed at its start), from which an offline command computes the lab time;
``cch_seeded``: how many people the CCH was seeded with (set once, at the lab's first start or by
``lems seed``).
"""

from __future__ import annotations

import sqlite3

from lems.store import Statement

PUT = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"


def clock_anchor(wall: float, lab: str, speed: float) -> list[Statement]:
    """The switch's clock at its start: ``wall`` (``time.time()``), ``lab`` (ISO), ``speed``."""
    return [
        (PUT, ("clock_wall", repr(wall))),
        (PUT, ("clock_lab", lab)),
        (PUT, ("clock_speed", repr(speed))),
    ]


def cch_seeded(people: int) -> Statement:
    """The CCH holds the records of the lab's first ``people`` people."""
    return (PUT, ("cch_seeded", str(people)))


def get(conn: sqlite3.Connection, key: str) -> str | None:
    """The value under ``key``, or None when there is none."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]
