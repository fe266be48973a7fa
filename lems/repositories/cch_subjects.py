"""Reads of the state CCH's subjects (``subject`` and ``cycle`` in ``state.db``) for listings:
what ``lems population`` shows an instructor. The CCH's own reads and writes are in
``lems.state.cch``."""

from __future__ import annotations

import sqlite3
from typing import Any


def subjects(conn: sqlite3.Connection, limit: int = -1) -> list[tuple[Any, ...]]:
    """(sid, fbi, name, sex, rac, dob, number of arrest cycles, last arrest) of every subject,
    by SID (at most ``limit``; -1: all)."""
    return conn.execute(
        "SELECT s.sid, s.fbi, s.name, s.sex, s.rac, s.dob, (SELECT COUNT(*) FROM cycle "
        "y WHERE y.sid = s.sid), s.last_arrest FROM subject s ORDER BY s.sid LIMIT ?",
        (limit,),
    ).fetchall()


def subject_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM subject").fetchone()[0])
