"""The ``meta`` table of the switch database: what a running switch says about itself.

Keys written by the switch: ``alive`` (lab time of the last heartbeat commit), ``online``
(``<wall seconds> T01,T04``, saved every second, ``0`` once stopped: a fresh time means the
switch runs), ``lab_time`` (the lab clock, so that a restart never sends it back). Written by
admin commands: ``directory_version`` (bumped when suspensions or operator state change: the
switch re-reads them).
"""

from __future__ import annotations

import sqlite3

from lems.store import Statement

ALIVE = "INSERT OR REPLACE INTO meta (key, value) VALUES ('alive', ?)"
ONLINE = "INSERT OR REPLACE INTO meta (key, value) VALUES ('online', ?)"
LAB_TIME = "INSERT OR REPLACE INTO meta (key, value) VALUES ('lab_time', ?)"


def alive(stamp: str) -> Statement:
    """The heartbeat row (``stamp``: the lab clock's ``stamp()``)."""
    return (ALIVE, (stamp,))


def online(wall: float, terminals: str) -> Statement:
    """Which terminals are signed on, as of wall time ``wall`` (0: the switch stopped)."""
    return (ONLINE, (f"{wall:.3f} {terminals}",))


def lab_time(iso: str) -> Statement:
    """The lab clock's time (``clock.now().isoformat()``)."""
    return (LAB_TIME, (iso,))


def get(conn: sqlite3.Connection, key: str) -> str | None:
    """The value under ``key``, or None when there is none."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def last_journal_time(conn: sqlite3.Connection) -> str | None:
    """The time of the journal's last row, or None for an empty journal (the lab clock resumes
    from the later of it and ``lab_time``: here, below the journal, for the clock to read)."""
    row = conn.execute("SELECT time FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
    return None if row is None else row[0]
