"""The journal: every frame in and every message out, numbered and written before it counts.

Sequence numbers are handed out on the reactor thread the moment a frame arrives (so ordering is
the arrival order); the row becomes durable through the group-commit writer, and the caller acts
only when that commit has fired.
"""

from __future__ import annotations

import sqlite3

from twisted.internet.defer import Deferred

from lems.clock import LabClock
from lems.store import Statement, Writer

INSERT = ("INSERT INTO journal (seq, time, direction, link, terminal, operator, ori, key, "
          "disposition, reason, osn, ref, text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")


class Journal:
    def __init__(self, writer: Writer, clock: LabClock, conn: sqlite3.Connection) -> None:
        self.writer = writer
        self.clock = clock
        self._seq: int = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0]

    @property
    def last_seq(self) -> int:
        """The last sequence number handed out."""
        return self._seq

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def row(self, seq: int, direction: str, text: str, *, link: str = "", terminal: str = "",
            operator: str = "", ori: str = "", key: str = "", disposition: str = "",
            reason: str = "", osn: int = 0, ref: int = 0, time: str = "") -> Statement:
        """The statement that journals one message; ``time`` (``clock.stamp()``) defaults to
        now: the rows of one frame and its answers share the frame's time."""
        return (INSERT, (seq, time or self.clock.stamp(), direction, link, terminal, operator,
                         ori, key, disposition, reason, osn, ref, text))

    def append(self, direction: str, text: str, **kw: object) -> tuple[int, Deferred[None]]:
        seq = self.next_seq()
        return seq, self.writer.submit([self.row(seq, direction, text, **kw)])  # type: ignore[arg-type]
