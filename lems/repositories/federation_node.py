"""The tables a federation node keeps in its lab database (``lems.federation.node``), and the
node's reads of the journal for its recovery.

* ``federation_meta``: ``epoch`` (a random word, part of every message id this lab sends, so
  that two labs' ids never meet) and ``since`` (the journal sequence number when the lab first
  became a node: older requests are never published again);
* ``federation_seen``: the message id of every network message the node has journaled, written
  in the same commit as the journal rows, so a redelivery is recognised and dropped;
* ``federation_status``: the network as the node sees it, one row per state, rewritten every
  second (read by ``lems watch`` and ``lems federation up``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from lems.store import Statement

SCHEMA = """
CREATE TABLE IF NOT EXISTS federation_seen (msg_id TEXT PRIMARY KEY, seq INTEGER, kind TEXT);
CREATE TABLE IF NOT EXISTS federation_meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS federation_status (state TEXT PRIMARY KEY, up INTEGER, backlog INTEGER,
    rtt_p50_ms REAL, rtt_p99_ms REAL, sent INTEGER, received INTEGER, updated REAL);
"""
SEEN = "INSERT OR IGNORE INTO federation_seen (msg_id, seq, kind) VALUES (?, ?, ?)"
STATUS = "INSERT OR REPLACE INTO federation_status VALUES (?,?,?,?,?,?,?,?)"


def prepare(conn: sqlite3.Connection, epoch: str, last_seq: int) -> tuple[str, int, set[str]]:
    """Create the tables if missing; returns the lab's epoch and ``since`` (set to ``epoch`` and
    ``last_seq`` the first time) and the states seen on the network before. Commits."""
    conn.executescript(SCHEMA)
    row = conn.execute("SELECT value FROM federation_meta WHERE key = 'epoch'").fetchone()
    if row is None:
        row = (epoch,)
        conn.execute("INSERT INTO federation_meta VALUES ('epoch', ?)", row)
    since = conn.execute("SELECT value FROM federation_meta WHERE key = 'since'").fetchone()
    if since is None:
        since = (str(last_seq),)
        conn.execute("INSERT INTO federation_meta VALUES ('since', ?)", since)
    known = {st for (st,) in conn.execute("SELECT state FROM federation_status")}
    conn.commit()
    return str(row[0]), int(since[0]), known


def seen(msg_id: str, seq: int, kind: str) -> Statement:
    """``msg_id`` journaled at ``seq`` (``kind``: req, rel or rsp)."""
    return (SEEN, (msg_id, seq, kind))


def was_seen(conn: sqlite3.Connection, msg_id: str) -> bool:
    """Whether a message with this id has been journaled already."""
    return (
        conn.execute("SELECT 1 FROM federation_seen WHERE msg_id = ?", (msg_id,)).fetchone()
        is not None
    )


def forget_seen(below: int) -> Statement:
    """Drop the ids journaled before journal sequence number ``below``."""
    return ("DELETE FROM federation_seen WHERE seq < ?", (below,))


def status(
    state: str,
    up: bool,
    backlog: int,
    rtt_p50_ms: float | None,
    rtt_p99_ms: float | None,
    sent: int,
    received: int,
    updated: float,
) -> Statement:
    """The row of ``state`` in ``federation_status``."""
    return (STATUS, (state, int(up), backlog, rtt_p50_ms, rtt_p99_ms, sent, received, updated))


def network_traces(conn: sqlite3.Connection, after: int) -> Iterator[tuple[int, str]]:
    """(request seq, trace text) of the journal's ``network`` trace rows after ``after``: one
    per request and destination state the broker took."""
    yield from conn.execute(
        "SELECT ref, text FROM journal WHERE seq > ? AND direction = 'sys' AND "
        "disposition = 'network'",
        (after,),
    )


def accepted_requests(conn: sqlite3.Connection, after: int, keys: tuple[str, ...]) -> list[int]:
    """Journal sequence numbers of the requests with one of ``keys`` accepted after ``after``,
    in order."""
    marks = ",".join("?" * len(keys))
    return [
        seq
        for (seq,) in conn.execute(
            f"SELECT seq FROM journal WHERE seq > ? AND direction = 'in' AND disposition = "
            f"'accepted' AND key IN ({marks}) ORDER BY seq",
            (after, *keys),
        ).fetchall()
    ]
