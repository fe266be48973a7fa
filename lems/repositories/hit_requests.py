"""The ``hit_request`` table of ``state.db``, as the command line reads it: the hit
confirmations (YQ) the state service tracks, with their deadlines (``lems hits``)."""

from __future__ import annotations

import sqlite3
from typing import NamedTuple


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
