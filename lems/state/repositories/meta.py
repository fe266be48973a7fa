"""The ``meta`` table of ``state.db``: what the state services note about the lab.

``clock_wall``, ``clock_lab``, ``clock_speed``: the running switch's clock anchor (wall time,
lab time and speed at its start), from which an offline command computes the lab time;
``cch_seeded``: how many people the CCH was seeded with (set once, at the lab's first start or by
``lems seed``).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import NamedTuple

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


class ClockAnchor(NamedTuple):
    """The lab clock as the switch started it: lab time ``lab`` at wall time ``wall``
    (``time.time()``), running ``speed`` times as fast as the wall clock."""

    wall: float
    lab: datetime
    speed: float


def read_clock_anchor(conn: sqlite3.Connection) -> ClockAnchor | None:
    """The anchor ``clock_anchor`` wrote, or None when no switch ever ran on these files."""
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    if "clock_lab" not in meta:
        return None
    return ClockAnchor(
        float(meta["clock_wall"]),
        datetime.fromisoformat(meta["clock_lab"]),
        float(meta["clock_speed"]),
    )
