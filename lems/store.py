"""The lab database: one SQLite file in WAL mode, schema migrations, and one group-commit writer.

Writes never run on the reactor thread: they go to a single writer thread that takes everything
queued since its last commit, runs it in one transaction and commits, then fires each caller's
Deferred on the reactor. Under load that batches hundreds of rows per commit (SQLite does ~270 k
rows/s in batches vs ~37 k/s committing per row); when idle a write commits at once.
``synchronous=NORMAL`` in WAL mode survives a killed process (the WAL is written before the
commit returns); only a power cut can lose the last commits, which a simulator accepts.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from formats.errors import LemsError

SCHEMA_VERSION = 3

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE journal (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        direction TEXT NOT NULL,          -- 'in' from a link, 'out' to a terminal, 'sys'
        link TEXT NOT NULL DEFAULT '',
        terminal TEXT NOT NULL DEFAULT '',
        operator TEXT NOT NULL DEFAULT '',
        ori TEXT NOT NULL DEFAULT '',
        key TEXT NOT NULL DEFAULT '',
        disposition TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        osn INTEGER NOT NULL DEFAULT 0,
        ref INTEGER NOT NULL DEFAULT 0,   -- seq of the inbound message this answers
        text TEXT NOT NULL
    );
    CREATE INDEX journal_ori ON journal (ori, time);
    CREATE INDEX journal_terminal ON journal (terminal, osn);
    CREATE TABLE mailbox (
        terminal TEXT NOT NULL,
        osn INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (terminal, osn)
    ) WITHOUT ROWID;
    CREATE TABLE agency_state (
        ori TEXT PRIMARY KEY,
        suspended INTEGER NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT '',
        changed TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE operator_state (
        operator TEXT PRIMARY KEY,
        failures INTEGER NOT NULL DEFAULT 0,
        locked INTEGER NOT NULL DEFAULT 0,
        changed TEXT NOT NULL DEFAULT ''
    );
    INSERT OR IGNORE INTO meta VALUES ('directory_version', '0');
    """,
    2: """
    -- national endpoints taken down / brought up by `lems endpoint down|up` (polled by the switch)
    CREATE TABLE endpoint_state (
        name TEXT PRIMARY KEY,
        down INTEGER NOT NULL DEFAULT 0,
        changed TEXT NOT NULL DEFAULT ''
    );
    """,
    3: """
    -- The journal is written for every message and read rarely (audit, export, start-up): its
    -- two secondary indexes doubled the pages each commit writes and halved the switch's
    -- throughput (docs/BENCHMARKS.md). Readers scan by seq instead.
    DROP INDEX IF EXISTS journal_ori;
    DROP INDEX IF EXISTS journal_terminal;
    """,
}


class StoreError(LemsError):
    """The database could not be opened or migrated."""


def connect(path: str | Path, migrations: dict[int, str] | None = None) -> sqlite3.Connection:
    """A connection with the lab's pragmas; migrates the schema to the current version.

    ``migrations`` (version -> SQL script) defaults to the lab database's; a separate system's
    database (the state services' ``state.db``) passes its own."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    migrate(conn, migrations)
    return conn


def migrate(conn: sqlite3.Connection, migrations: dict[int, str] | None = None) -> None:
    steps = MIGRATIONS if migrations is None else migrations
    latest = max(steps)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > latest:
        raise StoreError(f"database schema {version} is newer than this program ({latest})")
    for v in range(version + 1, latest + 1):
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{steps[v]}\nPRAGMA user_version={v};\n"
                               "COMMIT;")
        except sqlite3.Error as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"schema migration {v} failed: {e}") from e


def bump_directory_version(conn: sqlite3.Connection) -> None:
    """Tell a running switch that agency or operator state changed (it polls this)."""
    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                 "WHERE key = 'directory_version'")


Statement = tuple[str, Sequence[Any]]


class Writer:
    """The one writer: a thread that commits queued statements in groups.

    ``submit`` returns a Deferred that fires (on the reactor) once the statements are committed,
    so a caller can acknowledge or forward only what is durable.
    """

    def __init__(self, path: str | Path, reactor: Any,
                 migrations: dict[int, str] | None = None) -> None:
        self.reactor = reactor
        self._conn = connect(path, migrations)
        self._queue: queue.SimpleQueue[tuple[list[Statement], Deferred[None] | None] | None] = (
            queue.SimpleQueue())
        self._thread = threading.Thread(target=self._run, name="lems-writer", daemon=True)
        self._stopped = False
        self.commits = 0
        self.rows = 0
        self._thread.start()

    def submit(self, statements: list[Statement]) -> Deferred[None]:
        if self._stopped:
            raise StoreError("writer is stopped")
        d: Deferred[None] = Deferred()
        self._queue.put((statements, d))
        return d

    def submit_nowait(self, statements: list[Statement]) -> None:
        """Queue statements whose commit nobody waits for (counters, state)."""
        if not self._stopped:
            self._queue.put((statements, None))

    def stop(self) -> None:
        """Commit everything queued and stop the thread (blocks until done)."""
        if self._stopped:
            return
        self._stopped = True
        self._queue.put(None)
        self._thread.join()
        self._conn.close()

    def _run(self) -> None:
        q = self._queue
        while True:
            item = q.get()
            batch = [item]
            while True:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            stop = None in batch
            work = [b for b in batch if b is not None]
            if work:
                self._commit(work)
            if stop:
                return

    def _commit(self, work: list[tuple[list[Statement], Deferred[None] | None]]) -> None:
        try:
            self._transaction([statements for statements, _ in work])
            results: list[BaseException | None] = [None] * len(work)
        except Exception:
            # One bad statement must not fail everybody's writes: retry each caller alone.
            results = []
            for statements, _ in work:
                try:
                    self._transaction([statements])
                    results.append(None)
                except Exception as e:  # reported to that caller's Deferred
                    results.append(e)
        fire = [(d, r) for (_, d), r in zip(work, results, strict=True) if d is not None]
        if fire:
            self.reactor.callFromThread(_fire, fire)

    def _transaction(self, groups: list[list[Statement]]) -> None:
        conn = self._conn
        conn.execute("BEGIN")
        try:
            n = 0
            for statements in groups:
                for sql, params in statements:
                    conn.execute(sql, params)
                    n += 1
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.commits += 1
        self.rows += n


def _fire(results: list[tuple[Deferred[None], BaseException | None]]) -> None:
    for d, error in results:
        if error is None:
            d.callback(None)
        else:
            d.errback(Failure(error))

