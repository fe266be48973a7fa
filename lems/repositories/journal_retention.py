"""The journal's reads and its one delete for bounding it (``lems.retention``): how old and how
big it is, which rows must stay, and the delete of what an archive holds.

Only ``lems.retention`` deletes journal rows, and only after it has written them to an archive
and read them back (docs/RECORDING.md).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from lems.store import Statement


def newest(conn: sqlite3.Connection) -> tuple[int, str] | None:
    """(seq, time) of the newest row, or None for an empty journal."""
    row: tuple[int, str] | None = conn.execute(
        "SELECT seq, time FROM journal ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return row


def first_seq(conn: sqlite3.Connection) -> int:
    """The oldest row's seq (0 for an empty journal)."""
    return int(conn.execute("SELECT MIN(seq) FROM journal").fetchone()[0] or 0)


def last_before(conn: sqlite3.Connection, time: str) -> int:
    """The highest seq of a row older than ``time`` (ISO text in the lab clock's offset, which
    compares in time order), 0 when there is none."""
    return int(
        conn.execute("SELECT MAX(seq) FROM journal WHERE time < ?", (time,)).fetchone()[0] or 0
    )


def sizes_newest_first(conn: sqlite3.Connection) -> Iterator[tuple[int, int]]:
    """(seq, characters of message text) of every row, newest first (read lazily: the caller
    stops where its budget runs out)."""
    yield from conn.execute("SELECT seq, LENGTH(text) FROM journal ORDER BY seq DESC")


def last_outputs(conn: sqlite3.Connection) -> list[int]:
    """The seq of each terminal's output row with the highest OSN."""
    return [
        s
        for (s,) in conn.execute(
            "SELECT MAX(j.seq) FROM journal j JOIN (SELECT terminal, MAX(osn) AS osn FROM journal "
            "WHERE direction = 'out' GROUP BY terminal) t ON j.terminal = t.terminal "
            "AND j.osn = t.osn WHERE j.direction = 'out' GROUP BY j.terminal"
        )
    ]


def delete(upto: int, kept: tuple[int, ...] = ()) -> Statement:
    """The statement that deletes the rows up to ``upto`` but those of ``kept``."""
    marks = ",".join("?" * len(kept))
    where = f" AND seq NOT IN ({marks})" if kept else ""
    return (f"DELETE FROM journal WHERE seq <= ?{where}", (upto, *kept))
