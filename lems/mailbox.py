"""Mailboxes: each terminal's durable, ordered queue of messages not yet acknowledged.

Every message for a terminal gets the next output sequence number (OSN) of that terminal and a
mailbox row in the same commit as its journal row. It is sent once committed (if the terminal is
on line) and again after each sign-on until the terminal answers ``ACK.<osn>``; the OSN lets the
terminal drop a duplicate. Memory holds a copy of what is pending so delivery never reads the
database on the reactor thread.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict

from lems.store import Statement

PUT = "INSERT INTO mailbox (terminal, osn, seq, body) VALUES (?,?,?,?)"
TAKE = "DELETE FROM mailbox WHERE terminal = ? AND osn = ?"


class Mailboxes:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._osn: dict[str, int] = dict(conn.execute(
            "SELECT terminal, MAX(osn) FROM journal WHERE direction = 'out' GROUP BY terminal"))
        # terminal -> {osn: [frame, committed]} in OSN order (dicts keep insertion order)
        self._pending: dict[str, dict[int, list]] = defaultdict(dict)
        for terminal, osn, body in conn.execute(
                "SELECT terminal, osn, body FROM mailbox ORDER BY terminal, osn"):
            self._pending[terminal][osn] = [body, True]

    def next_osn(self, terminal: str) -> int:
        osn = self._osn.get(terminal, 0) + 1
        self._osn[terminal] = osn
        return osn

    def put(self, terminal: str, osn: int, seq: int, frame: str) -> Statement:
        """Hold ``frame`` (uncommitted until ``committed``) and return the row to write."""
        self._pending[terminal][osn] = [frame, False]
        return (PUT, (terminal, osn, seq, frame))

    def committed(self, terminal: str, osn: int) -> str | None:
        """Mark durable; the frame to send, or None if it was acknowledged meanwhile."""
        entry = self._pending.get(terminal, {}).get(osn)
        if entry is None:
            return None
        entry[1] = True
        return entry[0]

    def pending(self, terminal: str) -> list[tuple[int, str]]:
        """Committed, unacknowledged frames in OSN order."""
        return [(osn, e[0]) for osn, e in self._pending.get(terminal, {}).items() if e[1]]

    def count(self, terminal: str) -> int:
        return len(self._pending.get(terminal, ()))

    def ack(self, terminal: str, osn: int) -> Statement | None:
        """Remove an acknowledged frame; the row delete to write, or None if unknown."""
        box = self._pending.get(terminal)
        if not box or osn not in box:
            return None
        del box[osn]
        if not box:
            del self._pending[terminal]
        return (TAKE, (terminal, osn))
