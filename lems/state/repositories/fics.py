"""The ``fics_check`` table of ``state.db``: one row per firearm check (FICS), its outcome and
reasons (for the audit), and whether a PENDING check waits for a recheck (so a restart resumes
it); rows are purged after five years (``lems.state.jobs``)."""

from __future__ import annotations

import sqlite3
from typing import Any

from lems.repositories.audit import Filter
from lems.store import Statement

AUDIT = ("ftn", "time", "dealer_ori", "terminal", "name", "dob", "result", "reason")
"""The keys of an ``audited`` row."""


def awaiting_recheck(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """(ftn, journal seq of the dealer's request) of every PENDING check with a recheck due."""
    return conn.execute(
        "SELECT ftn, seq FROM fics_check WHERE result = 'PENDING' AND recheck = 1 AND seq > 0"
    ).fetchall()


def numbered(conn: sqlite3.Connection, prefix: str) -> int:
    """How many transaction numbers (FTN) start with ``prefix``."""
    row = conn.execute("SELECT COUNT(*) FROM fics_check WHERE ftn LIKE ?", (f"{prefix}%",))
    return int(row.fetchone()[0])


def older_than(conn: sqlite3.Connection, cutoff: str) -> int:
    """How many checks were made before ``cutoff`` (ISO, UTC like the stored times)."""
    return int(
        conn.execute("SELECT COUNT(*) FROM fics_check WHERE time < ?", (cutoff,)).fetchone()[0]
    )


def audited(conn: sqlite3.Connection, start: str, end: str) -> list[dict[str, Any]]:
    """The checks of ``[start, end)`` in time order, as dicts keyed by ``AUDIT``."""
    where, args = Filter(start=start, end=end).where()
    rows = conn.execute(
        f"SELECT {', '.join(AUDIT)} FROM fics_check WHERE {where} ORDER BY time", args
    ).fetchall()
    return [dict(zip(AUDIT, r, strict=True)) for r in rows]


def checked(
    ftn: str,
    time: str,
    dealer_ori: str,
    terminal: str,
    dlr: str | None,
    name: str | None,
    dob: str | None,
    ser: str,
    result: str,
    reason: str,
    seq: int,
    recheck: bool,
) -> Statement:
    """A check made (``seq``: the journal seq of the dealer's request)."""
    return (
        "INSERT INTO fics_check (ftn, time, dealer_ori, terminal, dlr, name, dob, ser, "
        "result, reason, seq, recheck) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (ftn, time, dealer_ori, terminal, dlr, name, dob, ser, result, reason, seq, int(recheck)),
    )


def resolved(ftn: str, result: str, reason: str) -> Statement:
    """A PENDING check's final outcome: no more rechecks."""
    return (
        "UPDATE fics_check SET result = ?, reason = ?, recheck = 0 WHERE ftn = ?",
        (result, reason, ftn),
    )


def purge(cutoff: str) -> Statement:
    """Forget the checks made before ``cutoff`` (see ``older_than``)."""
    return ("DELETE FROM fics_check WHERE time < ?", (cutoff,))
