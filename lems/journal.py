"""The journal: every frame in and every message out, numbered and written before it counts.

Sequence numbers are handed out on the reactor thread the moment a frame arrives (so ordering is
the arrival order); the row becomes durable through the group-commit writer, and the caller acts
only when that commit has fired.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from lems.store import Statement, Writer

if TYPE_CHECKING:
    from lems.clock import LabClock

INSERT = (
    "INSERT INTO journal (seq, time, direction, link, terminal, operator, ori, key, "
    "disposition, reason, osn, ref, text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


ISN_PUT = "INSERT OR REPLACE INTO input_seq (terminal, isn, seq, time) VALUES (?,?,?,?)"
"""Remember the input sequence number of a numbered message (``Switch._receive_numbered``)."""


COLUMNS = (
    "seq, time, direction, link, terminal, operator, ori, key, disposition, reason, osn, ref, text"
)
"""Every column of a journal row, in the order of ``INSERT`` (and of ``rows``)."""


def top_seq(conn: sqlite3.Connection) -> int:
    """The highest seq journaled (0 for an empty journal)."""
    return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0])


def rows(
    conn: sqlite3.Connection,
    after: int = 0,
    upto: int | None = None,
    since: str = "",
    until: str = "",
) -> sqlite3.Cursor:
    """Journal rows (all ``COLUMNS``) with ``after < seq <= upto`` and a time between ``since``
    and ``until`` (ISO, either may be empty), in order."""
    sql = f"SELECT {COLUMNS} FROM journal WHERE seq > ?"
    params: list[object] = [after]
    if upto is not None:
        sql += " AND seq <= ?"
        params.append(upto)
    if since:
        sql += " AND time >= ?"
        params.append(since)
    if until:
        sql += " AND time <= ?"
        params.append(until)
    return conn.execute(sql + " ORDER BY seq", params)


class Journal:
    """Numbers and writes rows (through the writer); reads back what recovery and resends need
    (through ``conn``, the switch's reader connection)."""

    def __init__(self, writer: Writer, clock: LabClock, conn: sqlite3.Connection) -> None:
        self.writer = writer
        self.clock = clock
        self.conn = conn
        self._seq: int = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0]

    @property
    def last_seq(self) -> int:
        """The last sequence number handed out."""
        return self._seq

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def row(
        self,
        seq: int,
        direction: str,
        text: str,
        *,
        link: str = "",
        terminal: str = "",
        operator: str = "",
        ori: str = "",
        key: str = "",
        disposition: str = "",
        reason: str = "",
        osn: int = 0,
        ref: int = 0,
        time: str = "",
    ) -> Statement:
        """The statement that journals one message; ``time`` (``clock.stamp()``) defaults to
        now: the rows of one frame and its answers share the frame's time."""
        return (
            INSERT,
            (
                seq,
                time or self.clock.stamp(),
                direction,
                link,
                terminal,
                operator,
                ori,
                key,
                disposition,
                reason,
                osn,
                ref,
                text,
            ),
        )

    def append(self, direction: str, text: str, **kw: object) -> int:
        """Journal one row nobody waits for (a failure is logged by the writer); its seq."""
        seq = self.next_seq()
        self.writer.submit_nowait([self.row(seq, direction, text, **kw)])  # type: ignore[arg-type]
        return seq

    # ------------------------------------------------------------ reading back (recovery)

    def answered_since(self, floor: int) -> set[int]:
        """The inputs after ``floor`` that have an answer row (a ``recovered`` trace is no
        answer: a crash right after a restart leaves requests recovered but unanswered)."""
        return {
            ref
            for (ref,) in self.conn.execute(
                "SELECT ref FROM journal WHERE seq > ? AND ref > 0 AND disposition != 'recovered'",
                (floor,),
            )
        }

    def accepted_since(self, floor: int) -> list[tuple[int, str]]:
        """(seq, key) of every input accepted after ``floor``, in order."""
        return self.conn.execute(
            "SELECT seq, key FROM journal WHERE seq > ? AND direction = 'in' "
            "AND disposition = 'accepted' ORDER BY seq",
            (floor,),
        ).fetchall()

    def answers_since(self, floor: int) -> list[tuple[int, str, str]]:
        """(ref, key, text) of every row sent out after ``floor`` in answer to an input."""
        return self.conn.execute(
            "SELECT ref, key, text FROM journal WHERE seq > ? AND direction = 'out' AND ref > 0",
            (floor,),
        ).fetchall()

    def inbound(self, seq: int) -> tuple[str, str, str, str, str] | None:
        """(time, terminal, operator, link, text) of the input journaled as ``seq``, or None."""
        row = self.conn.execute(
            "SELECT time, terminal, operator, link, text FROM journal "
            "WHERE seq = ? AND direction = 'in'",
            (seq,),
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2], row[3], row[4])

    def answers_to(self, original: int, terminal: str, window: int) -> list[str]:
        """The frames sent to ``terminal`` in answer to input ``original`` (looking at most
        ``window`` rows on), in order: what a duplicate of it is answered with again."""
        return [
            frame
            for (frame,) in self.conn.execute(
                "SELECT text FROM journal WHERE seq > ? AND seq <= ? AND ref = ? AND "
                "direction = 'out' AND terminal = ? ORDER BY seq",
                (original, original + window, original, terminal),
            )
        ]

    def isn_seq(self, terminal: str, isn: int, since: str) -> int:
        """The journal seq of the message ``terminal`` numbered ``isn`` at or after ``since``
        (an ISO time), 0 if none."""
        row = self.conn.execute(
            "SELECT seq FROM input_seq WHERE terminal = ? AND isn = ? AND time >= ?",
            (terminal, isn, since),
        ).fetchone()
        return row[0] if row else 0
