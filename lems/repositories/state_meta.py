"""The ``meta`` table of ``state.db`` (the state files): what the state services leave there for
the command line.

Keys: ``clock_wall``, ``clock_lab`` and ``clock_speed`` (the lab clock's anchor, written by the
switch at start: an offline command works the lab time out from it, ``lems hits``);
``cch_seeded`` (how many fictitious CCH subjects the state files were seeded with: the switch
seeds them at its first start unless ``lems seed`` did).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import NamedTuple

from lems.store import Statement

CCH_SEEDED = "INSERT OR REPLACE INTO meta (key, value) VALUES ('cch_seeded', ?)"


class ClockAnchor(NamedTuple):
    """The lab clock as the switch started it: lab time ``lab`` at wall time ``wall``
    (``time.time()``), running ``speed`` times as fast as the wall clock."""

    wall: float
    lab: datetime
    speed: float


def cch_seeded(subjects: int) -> Statement:
    """Record that CCH holds ``subjects`` seeded subjects."""
    return (CCH_SEEDED, (str(subjects),))


def clock_anchor(conn: sqlite3.Connection) -> ClockAnchor | None:
    """The lab clock's anchor, or None when no switch ever ran on these state files."""
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    if "clock_lab" not in meta:
        return None
    return ClockAnchor(
        float(meta["clock_wall"]),
        datetime.fromisoformat(meta["clock_lab"]),
        float(meta["clock_speed"]),
    )
