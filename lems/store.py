"""The lab database: one SQLite file in WAL mode, schema migrations, and one group-commit writer.

Writes never run on the reactor thread: they go to a single writer process
(``lems/committer.py``) that takes everything queued since its last commit, runs it in one
transaction and commits, then answers; the reactor calls each caller back. Under load that
batches hundreds of rows per commit (SQLite does ~270 k rows/s in batches vs ~37 k/s committing
per row); when idle a write commits at once. Reads stay in process (WAL: readers never wait).
``synchronous=NORMAL`` in WAL mode survives a killed process (the WAL is written before the
commit returns); only a power cut can lose the last commits, which a simulator accepts.
"""

from __future__ import annotations

import collections
import marshal
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReadDescriptor, IWriteDescriptor
from twisted.internet.main import CONNECTION_DONE
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from formats.errors import LemsError
from hardware.turns import at_turn_end
from lems.committer import HEADER, frames

if TYPE_CHECKING:
    from lems.reactor import IWriterReactor

log = Logger()

SCHEMA_VERSION = 5

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
    4: """
    -- a message no link could carry after mailbox.DEAD_AFTER attempts: kept, not redelivered,
    -- until an instructor resends or drops it (`lems mail`)
    ALTER TABLE mailbox ADD COLUMN dead INTEGER NOT NULL DEFAULT 0;
    """,
    5: """
    -- input sequence numbers a terminal put on its messages (ISN/<n>): a resend of the same
    -- number is recognised as a duplicate and answered with the original result
    CREATE TABLE input_seq (
        terminal TEXT NOT NULL,
        isn INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        time TEXT NOT NULL,
        PRIMARY KEY (terminal, isn)
    ) WITHOUT ROWID;
    """,
}


class StoreError(LemsError):
    """The database could not be opened or migrated."""


class StorageFailed(StoreError):
    """The database can no longer be written (the writer process died, the file became
    read-only, an I/O error, corruption): nothing more can be journaled."""


TABLES = ("meta", "journal", "mailbox", "agency_state", "operator_state", "endpoint_state")
"""Tables a lab database must hold once migrated (a file of another program is refused)."""

FATAL_ERRORS = (
    "SQLITE_READONLY",
    "SQLITE_IOERR",
    "SQLITE_CORRUPT",
    "SQLITE_NOTADB",
    "SQLITE_CANTOPEN",
)
"""SQLite error names (prefixes) after which no later commit can succeed: the switch stops.
``SQLITE_FULL`` is not one of them: when space returns the next commit succeeds."""


def problem(name: str, text: str) -> str:
    """A SQLite error in the words an operator needs (``name``: ``sqlite_errorname``)."""
    if name.startswith("SQLITE_FULL"):
        return f"disk full ({text})"
    if name.startswith("SQLITE_READONLY"):
        return f"read-only: the file or its directory cannot be written ({text})"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return f"locked by another process ({text})"
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return f"corrupt or not a LEMS database ({text})"
    if name.startswith("SQLITE_CANTOPEN"):
        return f"cannot be opened ({text})"
    if name.startswith("SQLITE_IOERR"):
        return f"I/O error ({text})"
    return text


def read_only(path: Path) -> str:
    """Why ``path`` (a database in WAL mode: the file and its directory) cannot be written, or
    "" (SQLite says only "unable to open database file" when it cannot make the ``-shm``)."""
    where = path if path.exists() else path.parent
    try:
        if os.statvfs(where).f_flag & os.ST_RDONLY:
            return "read-only: the file system is mounted read-only"
    except OSError:
        return ""
    for p in (path, path.parent):
        if p.exists() and not os.access(p, os.W_OK):
            return f"read-only: {p} cannot be written (permissions)"
    return ""


def is_fatal(name: str) -> bool:
    return name.startswith(FATAL_ERRORS)


def open_for_writing(
    path: str | Path, migrations: dict[int, str] | None = None, tables: tuple[str, ...] = TABLES
) -> sqlite3.Connection:
    """``connect`` for a process that will write: migrated, the expected tables present and one
    write committed, so a read-only, locked, corrupt or foreign file is refused now, in one
    ``StoreError`` naming the file and the problem, instead of a switch that serves silence."""
    try:
        conn = connect(path, migrations)
    except StoreError as e:
        raise StoreError(f"{path}: {e}") from e
    except sqlite3.Error as e:
        why = read_only(Path(path)) or problem(getattr(e, "sqlite_errorname", ""), str(e))
        raise StoreError(f"{path}: {why}") from e
    try:
        have = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = [t for t in tables if t not in have]
        if missing:
            raise StoreError(
                f"{path}: wrong schema: no table {', '.join(missing)} "
                "(not a database of this program)"
            )
        conn.execute("PRAGMA busy_timeout=2000")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('opened', datetime('now'))")
        conn.execute("COMMIT")
        conn.execute("PRAGMA busy_timeout=5000")
    except sqlite3.Error as e:
        conn.close()
        why = read_only(Path(path)) or problem(getattr(e, "sqlite_errorname", ""), str(e))
        raise StoreError(f"{path}: {why}") from e
    except StoreError:
        conn.close()
        raise
    return conn


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
            conn.executescript(f"BEGIN IMMEDIATE;\n{steps[v]}\nPRAGMA user_version={v};\nCOMMIT;")
        except sqlite3.Error as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            why = problem(getattr(e, "sqlite_errorname", ""), str(e))
            raise StoreError(f"schema migration {v} failed: {why}") from e


def bump_directory_version(conn: sqlite3.Connection) -> None:
    """Tell a running switch that agency or operator state changed (it polls this)."""
    conn.execute(
        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'directory_version'"
    )


Statement = tuple[str, Sequence[Any]]


Committed = Callable[..., None]
"""Called on the reactor as ``fn(error, *args)`` once a commit is done (``error`` None on
success)."""

COMMITTER = Path(__file__).with_name("committer.py")


class Writer:
    """The one writer: a child process (``lems/committer.py``) that commits in groups.

    ``commit`` calls ``done(error, *args)`` back on the reactor once the statements are
    committed, so a caller can acknowledge or forward only what is durable: the one way to be
    told. It is a plain call because the switch commits for every message it receives, and a
    Deferred per commit costs its reactor ~3 µs more than the call (~0.4 µs). Code that
    composes (a service's chain of steps, ``await`` in asyncio) wraps a commit in a Deferred
    with ``when_committed``; ``submit_nowait`` is for rows nobody waits for. What is queued
    during one reactor turn (or every ``FLUSH_AT`` items) goes to the process as one batch; the
    process takes every batch waiting into one transaction. Call from the reactor thread only.
    """

    def __init__(
        self,
        path: str | Path,
        reactor: IWriterReactor,
        migrations: dict[int, str] | None = None,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.reactor = reactor
        self.path = Path(path)
        # migrated and proved writable here: the process only writes
        open_for_writing(path, migrations, TABLES if migrations is None else ()).close()
        self.on_failure = on_failure
        """Called once, on the reactor, with the reason when nothing more can be written (the
        process died, or a commit failed in a way no retry can mend): the owner stops."""
        self.disk_full = False
        """The last commit failed for want of space (cleared by the next one that succeeds)."""
        ours, theirs = socket.socketpair()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", str(COMMITTER), str(path), str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        self._link = _CommitterLink(self, ours)
        self._queued: list[_Item] = []
        self._flush_due = False
        """A flush is asked for at the end of this reactor turn."""
        self._inflight: collections.deque[list[_Item]] = collections.deque()
        self._stopped = False
        self._closed: Deferred[None] = Deferred()
        self.error: str = ""
        """Why the writer process ended early (empty while it runs)."""
        self.commits = 0
        self.rows = 0

    def commit(self, statements: list[Statement], done: Committed, *args: Any) -> None:
        """Queue ``statements``; ``done(error, *args)`` runs on the reactor after the commit."""
        self._queue((statements, done, args))

    def submit_nowait(self, statements: list[Statement]) -> None:
        """Queue statements whose commit nobody waits for (counters, state)."""
        if not self._stopped:
            self._queue((statements, None, ()))

    def _queue(self, item: _Item) -> None:
        if self._stopped:
            raise StoreError(f"writer is stopped{': ' + self.error if self.error else ''}")
        self._queued.append(item)
        if len(self._queued) >= self.FLUSH_AT:
            self._flush()
        elif not self._flush_due:
            self._flush_due = True
            at_turn_end(self.reactor, self._turn_ended)

    FLUSH_AT = 24
    """Items sent to the process at once, without waiting for the end of the reactor turn: a
    busy turn (many terminals ready together) lasts milliseconds, and the process would sit idle
    meanwhile while every terminal waits for that one commit, then the reactor would sit idle
    while the process commits. Small batches keep both busy; too small, and the process's share
    of each commit grows. At 50 terminals (tools/bench_switch.py, 3 rounds interleaved, 8 s
    each): 26.8 k tx/s on average with 16, 27.9 k with 24, 28.0 k with 32, 25.8 k with 48
    (where the reactor idles 12-15 % of the time, waiting for commits)."""

    def _turn_ended(self) -> None:
        self._flush_due = False
        self._flush()

    def _flush(self) -> None:
        """Send what was queued (this reactor turn, or FLUSH_AT items) as one batch."""
        items, self._queued = self._queued, []
        if not items:
            return
        if not self._link.connected:  # the process is gone: say so to every caller
            _fire([(item, StoreError(self.error or "writer is stopped")) for item in items])
            return
        try:
            payload = marshal.dumps([statements for statements, _, _ in items])
        except ValueError:  # a value marshal cannot carry: fail that caller alone
            good = []
            for item in items:
                try:
                    marshal.dumps(item[0])
                    good.append(item)
                except ValueError as e:
                    self.reactor.callLater(
                        0, _fire, [(item, StoreError(f"cannot store value: {e}"))]
                    )
            items = good
            payload = marshal.dumps([statements for statements, _, _ in items])
        self._inflight.append(items)
        self._link.send(HEADER.pack(len(payload)) + payload)

    def _answered(self, answer: Any) -> None:
        items = self._inflight.popleft()
        self.commits, errors = answer
        if errors is None:
            self.rows += sum(len(statements) for statements, _, _ in items)
            if self.disk_full:
                self.disk_full = False
                log.warn("{path}: disk space is back, commits succeed again", path=self.path)
            _fire([(item, None) for item in items])
            return
        names = [e[2] for e in errors if e is not None and len(e) > 2]
        if any(n.startswith("SQLITE_FULL") for n in names) and not self.disk_full:
            self.disk_full = True
            log.error("{path}: disk full - commits fail until space is freed", path=self.path)
        fatal = next((e for e in errors if e is not None and is_fatal(e[2])), None)
        _fire(
            [
                (item, None if e is None else _error(*e))
                for item, e in zip(items, errors, strict=True)
            ]
        )
        if fatal is not None:
            self._failed(f"{self.path}: {problem(fatal[2], fatal[1])}")

    def _failed(self, reason: str) -> None:
        """Nothing more can be written: say so once, to the log and to the owner."""
        if self.error:
            return
        self.error = reason
        log.critical("storage failed: {error}; nothing more can be journaled", error=reason)
        if self.on_failure is not None:
            try:
                self.on_failure(reason)
            except Exception:
                log.failure("storage failure handler failed")

    def _lost(self, reason: str) -> None:
        if not self._stopped:
            try:  # a killed process has closed its socket before it can be reaped: wait a bit
                code = self._process.wait(0.5)
            except subprocess.TimeoutExpired:
                code = None
            how = (
                f"killed by signal {-code}"
                if code is not None and code < 0
                else f"exit status {code}"
                if code is not None
                else reason
            )
            self._failed(f"writer process ended ({how}); database {self.path}")
        self._stopped = True
        pending = [*(i for batch in self._inflight for i in batch), *self._queued]
        self._inflight.clear()
        self._queued = []
        _fire([(item, StoreError(self.error or "writer is stopped")) for item in pending])
        self._reap()

    def _reap(self) -> None:
        """Fire ``stop``'s Deferred once the process has exited (it closes its socket first)."""
        if self._process.poll() is None:
            self.reactor.callLater(0.01, self._reap)
        elif not self._closed.called:
            self._closed.callback(None)

    def stop(self) -> Deferred[None]:
        """Commit everything queued, end the process; fires when it is gone."""
        if not self._stopped:
            self._flush()
            self._stopped = True
            if self._link.connected:
                stop = marshal.dumps(None)
                self._link.send(HEADER.pack(len(stop)) + stop)
        return self._closed


_Item = tuple[list[Statement], Committed | None, tuple[Any, ...]]


ANSWER_READ = 1 << 16
"""Bytes read at once from the writer process (its answers are a few bytes each). Not more:
``recv`` allocates that much first, and from 128 KiB on the C library maps and unmaps fresh
memory for every read (three system calls and a page fault each: with 1 MiB these reads took
~3 % of the reactor's time at 50 terminals, py-spy)."""


@implementer(IReadDescriptor, IWriteDescriptor)
class _CommitterLink:
    """The switch's end of the socket to the writer process, on the reactor without a transport:
    a Twisted transport holds what is written until the next reactor turn, and a batch should
    leave the moment it is flushed. Answers are length-prefixed like the batches."""

    def __init__(self, writer: Writer, sock: socket.socket) -> None:
        self.writer = writer
        self.reactor = writer.reactor
        self.sock = sock
        sock.setblocking(False)
        self.connected = True
        self._out = bytearray()
        self._in = bytearray()
        self.reactor.addReader(self)

    def fileno(self) -> int:
        return self.sock.fileno() if self.connected else -1

    def logPrefix(self) -> str:
        return "lems-writer"

    def send(self, data: bytes) -> None:
        if not self.connected:
            return
        if self._out:  # still waiting for room: keep the order
            self._out += data
            return
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as e:
            self.reactor.callLater(0, self._disconnect, Failure(e))
            return
        if sent < len(data):
            self._out += data[sent:]
            self.reactor.addWriter(self)

    def doWrite(self) -> Any:
        try:
            sent = self.sock.send(self._out)
        except BlockingIOError:
            return None
        except OSError as e:
            return e
        del self._out[:sent]
        if not self._out:
            self.reactor.removeWriter(self)
        return None

    def doRead(self) -> Any:
        try:
            data = self.sock.recv(ANSWER_READ)
        except BlockingIOError:
            return None
        except OSError as e:
            return e
        if not data:
            return CONNECTION_DONE
        self._in += data
        for answer in frames(self._in):
            self.writer._answered(answer)
        return None

    def _disconnect(self, reason: Failure) -> None:
        if self.connected:
            self.reactor.removeReader(self)
            self.reactor.removeWriter(self)
            self.connectionLost(reason)

    def connectionLost(self, reason: Failure) -> None:
        if not self.connected:
            return
        self.connected = False
        self.sock.close()
        self.writer._lost(reason.getErrorMessage())


def _fire(results: list[tuple[_Item, BaseException | None]]) -> None:
    for (_, done, args), error in results:
        if done is None:
            if error is not None:
                log.failure("write failed", Failure(error))
            continue
        try:
            done(error, *args)
        except Exception:
            log.failure("commit callback {fn} failed", fn=done)


def _error(name: str, text: str, code: str = "") -> Exception:
    """The writer process's error as the sqlite3 exception it was (callers may test for
    ``sqlite3.IntegrityError``; ``sqlite_errorname`` is kept), else a ``StoreError``."""
    cls = getattr(sqlite3, name, None)
    if isinstance(cls, type) and issubclass(cls, sqlite3.Error):
        e = cls(text)
        e.sqlite_errorname = code
        return e
    return StoreError(f"{name}: {text}")


def when_committed(writer: Writer, statements: list[Statement]) -> Deferred[None]:
    """``writer.commit(statements)`` as a Deferred that fires on the reactor after the commit
    (or fails with the commit's error): for code that composes steps. The switch's paths per
    message call ``Writer.commit`` with their own callback instead."""
    d: Deferred[None] = Deferred()
    writer.commit(statements, _settle, d)
    return d


def _settle(error: BaseException | None, d: Deferred[None]) -> None:
    if error is None:
        d.callback(None)
    else:
        d.errback(Failure(error))
