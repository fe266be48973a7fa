"""Mailboxes: each terminal's durable, ordered queue of messages not yet acknowledged.

Every message for a terminal gets the next output sequence number (OSN) of that terminal and a
mailbox row in the same commit as its journal row. It is sent once committed (if the terminal is
on line) and again after each sign-on until the terminal acknowledges it; the OSN lets the
terminal drop a duplicate. ``ACK.<osn>`` is cumulative, as in a session protocol: it
acknowledges every message up to and including that OSN.

The mailbox lives on disk: memory holds one small entry per queued message (its OSN, and its
frame only until the commit that makes it durable, when it is sent); redelivery at sign-on reads
the frames back from the database.

A message whose sends fail ``DEAD_AFTER`` times in a row (a link that cannot carry it) becomes a
*dead letter*: it leaves the queue, so it blocks nothing, is never counted as waiting and is not
redelivered, but stays on disk until an instructor resends or drops it (``lems mail``).
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict, defaultdict

from lems.store import Statement

PUT = "INSERT INTO mailbox (terminal, osn, seq, body) VALUES (?,?,?,?)"
TAKE_UPTO = "DELETE FROM mailbox WHERE terminal = ? AND osn <= ? AND dead = 0"
KILL = "UPDATE mailbox SET dead = 1 WHERE terminal = ? AND osn = ?"
READ = "SELECT osn, body FROM mailbox WHERE terminal = ? AND dead = 0 ORDER BY osn"

DEAD_AFTER = 3
"""Failed sends in a row after which a message is dead-lettered."""


class Mailboxes:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._osn: dict[str, int] = dict(conn.execute(
            "SELECT terminal, MAX(osn) FROM journal WHERE direction = 'out' GROUP BY terminal"))
        # terminal -> {osn: frame until committed, then None}, in OSN order
        self._pending: dict[str, OrderedDict[int, str | None]] = defaultdict(OrderedDict)
        self._dead: dict[str, set[int]] = defaultdict(set)
        self._failures: dict[tuple[str, int], int] = {}
        for terminal, osn, dead in conn.execute(
                "SELECT terminal, osn, dead FROM mailbox ORDER BY terminal, osn"):
            if dead:
                self._dead[terminal].add(osn)
            else:
                self._pending[terminal][osn] = None

    def next_osn(self, terminal: str) -> int:
        osn = self._osn.get(terminal, 0) + 1
        self._osn[terminal] = osn
        return osn

    def last_osn(self, terminal: str) -> int:
        """The last OSN handed out for ``terminal`` (0 if none)."""
        return self._osn.get(terminal, 0)

    def put(self, terminal: str, osn: int, seq: int, frame: str) -> Statement:
        """Hold ``frame`` (uncommitted until ``committed``) and return the row to write."""
        self._pending[terminal][osn] = frame
        return (PUT, (terminal, osn, seq, frame))

    def committed(self, terminal: str, osn: int) -> str | None:
        """Mark durable; the frame to send, or None if it was acknowledged meanwhile. From now
        on the frame is read from the database when it must be sent again."""
        box = self._pending.get(terminal)
        if not box:
            return None
        frame = box.get(osn)
        if frame is not None:
            box[osn] = None
        return frame

    def pending(self, terminal: str) -> list[tuple[int, str]]:
        """Committed, unacknowledged, live frames in OSN order (read from the database)."""
        box = self._pending.get(terminal)
        if not box:
            return []
        return [(osn, body) for osn, body in self._conn.execute(READ, (terminal,))
                if osn in box and box[osn] is None]

    def count(self, terminal: str) -> int:
        """Messages waiting that will really be delivered (dead letters not counted)."""
        return len(self._pending.get(terminal, ()))

    def dead(self, terminal: str) -> int:
        return len(self._dead.get(terminal, ()))

    def ack(self, terminal: str, osn: int) -> tuple[Statement | None, int]:
        """Acknowledge every committed message up to ``osn``: the row delete to write (None if
        nothing was waiting) and how many messages it took."""
        box = self._pending.get(terminal)
        if not box:
            return None, 0
        taken = 0
        last = 0
        while box:
            first, frame = next(iter(box.items()))
            if first > osn or frame is not None:  # later, or not durable yet
                break
            box.popitem(last=False)
            self._failures.pop((terminal, first), None)
            last = first
            taken += 1
        if not box:
            del self._pending[terminal]
        return ((TAKE_UPTO, (terminal, last)) if taken else None), taken

    def failed(self, terminal: str, osn: int) -> Statement | None:
        """A send of ``osn`` failed: the row update that dead-letters it once it has failed
        ``DEAD_AFTER`` times, else None."""
        key = (terminal, osn)
        n = self._failures.get(key, 0) + 1
        if n < DEAD_AFTER:
            self._failures[key] = n
            return None
        self._failures.pop(key, None)
        box = self._pending.get(terminal)
        if box is None or osn not in box:
            return None
        del box[osn]
        if not box:
            del self._pending[terminal]
        self._dead[terminal].add(osn)
        return (KILL, (terminal, osn))

    def reload_dead(self) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """Take in what an instructor did to dead letters (``lems mail resend|drop`` write the
        database): the (terminal, OSN) resent (back in the queue, in OSN order) and dropped."""
        resent, dropped = [], []
        for terminal, osns in list(self._dead.items()):
            marks = ",".join("?" * len(osns))
            rows = dict(self._conn.execute(
                f"SELECT osn, dead FROM mailbox WHERE terminal = ? AND osn IN ({marks})",
                (terminal, *osns)))
            for osn in sorted(osns):
                if osn not in rows:
                    dropped.append((terminal, osn))
                    osns.discard(osn)
                elif not rows[osn]:
                    resent.append((terminal, osn))
                    osns.discard(osn)
                    box = self._pending[terminal]
                    box[osn] = None
                    for later in [k for k in box if k > osn]:
                        box.move_to_end(later)
            if not osns:
                del self._dead[terminal]
        return resent, dropped
