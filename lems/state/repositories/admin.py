"""The ``admin_action`` table of ``state.db``: administrative actions, written by the admin
commands (their own processes, on their own connection), copied into the running switch's
journal and read by the audit (``lems.state.adminlog``)."""

from __future__ import annotations

import sqlite3
from typing import Any

COLUMNS = ("id", "time", "action", "target", "detail", "by")
"""The keys of an ``actions`` row."""


def add(
    conn: sqlite3.Connection, time: str, action: str, target: str, detail: str, by: str
) -> None:
    """Log one action on ``conn`` (the caller commits)."""
    conn.execute(
        "INSERT INTO admin_action (time, action, target, detail, by) VALUES (?,?,?,?,?)",
        (time, action, target, detail, by),
    )


def actions(
    conn: sqlite3.Connection, start: str = "", end: str = "", target: str = ""
) -> list[dict[str, Any]]:
    """The actions with a time in ``[start, end)`` (either may be empty) on ``target`` (any
    when empty), in order, as dicts keyed by ``COLUMNS``."""
    where, args = ["1"], []
    if start:
        where.append("time >= ?")
        args.append(start)
    if end:
        where.append("time < ?")
        args.append(end)
    if target:
        where.append("target = ?")
        args.append(target)
    rows = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM admin_action WHERE {' AND '.join(where)} ORDER BY id",
        args,
    ).fetchall()
    return [dict(zip(COLUMNS, r, strict=True)) for r in rows]


def last_id(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT COALESCE(MAX(id), 0) FROM admin_action").fetchone()
    return row[0] if row else 0


def after(conn: sqlite3.Connection, last: int) -> list[tuple[int, str, str, str, str, str]]:
    """(id, time, action, target, detail, by) of the actions logged after id ``last``."""
    return conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM admin_action WHERE id > ? ORDER BY id", (last,)
    ).fetchall()
