"""The ``hit_request`` table of ``state.db``: hit-confirmation requests (YQ) and where each
stands (``lems.state.hits``), so ``lems hits`` can list them and a restarted switch re-arms
their timers."""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from lems.store import Statement

Stored = tuple[int, str, str, str, str, str, str, str, str, str, str, int, str]
"""A request as stored: (id, requester, terminal, owner, nic, oca, rty, pri, rno, opened,
deadline, stage, next_at), times ISO, ``next_at`` '' when no step is due."""
COLUMNS = (
    "id, requester, terminal, owner, nic, oca, rty, pri, rno, opened, deadline, stage, next_at"
)


def last_id(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT COALESCE(MAX(id), 0) FROM hit_request").fetchone()
    return row[0] if row else 0


def still_open(conn: sqlite3.Connection) -> list[Stored]:
    """Every request not closed yet."""
    return conn.execute(f"SELECT {COLUMNS} FROM hit_request WHERE closed = ''").fetchall()


def opened(r: Stored) -> Statement:
    """A new request (stored as open, whatever ``r``'s stage says)."""
    return (
        "INSERT INTO hit_request (id, requester, terminal, owner, nic, oca, rty, pri, "
        "rno, opened, deadline, next_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (*r[:11], r[12]),
    )


def extended(rid: int, deadline: str, next_at: str) -> Statement:
    return (
        "UPDATE hit_request SET deadline = ?, next_at = ? WHERE id = ?",
        (deadline, next_at, rid),
    )


def staged(rid: int, stage: int, next_at: str) -> Statement:
    return ("UPDATE hit_request SET stage = ?, next_at = ? WHERE id = ?", (stage, next_at, rid))


def closed(rid: int, when: str, outcome: str) -> Statement:
    return (
        "UPDATE hit_request SET closed = ?, outcome = ?, next_at = '' WHERE id = ?",
        (when, outcome, rid),
    )


class HitRequest(NamedTuple):
    """One tracked hit confirmation request; times are the lab clock's ISO text."""

    id: int
    requester: str
    terminal: str
    owner: str
    nic: str
    oca: str
    rty: str
    pri: str
    rno: str
    opened: str
    deadline: str
    stage: int
    closed: str
    outcome: str


def listing(conn: sqlite3.Connection, closed_too: bool = False) -> list[HitRequest]:
    """The open requests (every request with ``closed_too``), soonest deadline first."""
    where = "1" if closed_too else "closed = ''"
    return [
        HitRequest._make(row)
        for row in conn.execute(
            "SELECT id, requester, terminal, owner, nic, oca, rty, pri, rno, opened, deadline, "
            f"stage, closed, outcome FROM hit_request WHERE {where} ORDER BY deadline"
        )
    ]
