"""A bounded journal: old rows archived to a compressed recording, then deleted.

``[journal]`` in ``lab.toml`` keeps the newest ``keep_days`` days (counted back from the newest
row, in lab time) and/or the newest ``keep_mb`` megabytes of message text. What is older is
written to ``<lab>/archive/journal-<first seq>-<last seq>.jsonl.gz`` (a recording,
docs/RECORDING.md: ``lems replay`` and ``lems record`` tooling read it), read back and counted,
and only then deleted from the database. A running switch does this every ``archive_every``
seconds (the export in a thread, the delete through its writer); ``lems journal archive`` does
it for a stopped switch, and ``lems journal vacuum`` gives the freed pages back to the file
system.

Kept whatever their age: each terminal's output row with the highest output sequence number
(OSNs continue from it after a restart) and the newest row of all (the journal's sequence
numbers continue from it).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from formats.recording import Header, Record
from lems import journal
from lems.repositories import journal_retention
from lems.store import Statement
from terminals.recording_io import RecordingWriter, read


@dataclass(frozen=True, slots=True)
class Archived:
    """What one archive pass did."""

    rows: int
    first: int
    last: int
    path: Path | None
    kept: tuple[int, ...]
    """Rows at or below ``last`` that were kept (see the module docstring)."""


def cutoff(conn: sqlite3.Connection, keep_days: float = 0.0, keep_mb: float = 0.0) -> int:
    """The highest seq that the policy lets go (0: nothing)."""
    top = journal_retention.newest(conn)
    if top is None:
        return 0
    limits = []
    if keep_days > 0:
        newest = datetime.fromisoformat(top[1])
        before = (newest - timedelta(days=keep_days)).isoformat()
        # times are the lab clock's, one offset per lab: ISO strings compare in time order
        limits.append(journal_retention.last_before(conn, before))
    if keep_mb > 0:
        budget = keep_mb * 1_000_000
        total = 0
        seq = 0
        for s, n in journal_retention.sizes_newest_first(conn):
            total += n
            if total > budget:
                seq = s
                break
        limits.append(seq)
    top_seq: int = top[0]
    return min(max(limits, default=0), top_seq - 1)


def protected(conn: sqlite3.Connection, upto: int) -> tuple[int, ...]:
    """Rows at or below ``upto`` that must stay: each terminal's output with the highest OSN
    (the mailbox takes the next OSN from it at start; a newer session answer has OSN 0)."""
    return tuple(s for s in journal_retention.last_outputs(conn) if s <= upto)


def export(conn: sqlite3.Connection, upto: int, directory: Path, note: str = "") -> Archived:
    """Write the rows up to ``upto`` (but the protected ones) to a new archive file, read it back
    and check the count. Deletes nothing (``delete_statement`` does)."""
    kept = protected(conn, upto)
    first = journal_retention.first_seq(conn)
    if upto <= 0 or first > upto:
        return Archived(0, 0, 0, None, kept)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"journal-{first:012d}-{upto:012d}.jsonl.gz"
    tmp = path.with_name("." + path.name)  # hidden until it is complete (still ``.gz``)
    header = Header(
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        source=f"journal archive seq {first}-{upto}",
        note=note,
    )
    skip = set(kept)
    with RecordingWriter(tmp, header) as w:
        for row in journal.rows(conn, upto=upto):
            if row[0] in skip:
                continue
            w.write(Record.from_row(row))
        count = w.count
    _, records = read(tmp)  # read back before anything is deleted
    back = sum(1 for _ in records)
    if back != count:
        tmp.unlink()
        raise OSError(f"archive {tmp} reads back {back} rows, not {count}: nothing deleted")
    tmp.replace(path)
    return Archived(count, first, upto, path, kept)


def delete_statement(done: Archived) -> Statement:
    """The statement that deletes what ``done`` archived (and nothing it kept)."""
    return journal_retention.delete(done.last, done.kept)


def archive_directory(database: Path) -> Path:
    return database.parent / "archive"
