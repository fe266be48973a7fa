"""What every mock national system shares: its clock, its own parser, unsolicited output.

A national system re-reads the text it is sent (the real NCIC does not trust a state switch's
validation), answers with whole message bodies, and may later send unsolicited traffic to an ORI
(``emit``). Time comes from a lab clock so tests and fast labs drive deadlines.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from formats import responses
from formats.codes import CodeBook
from formats.dictionary import Dictionary
from formats.errors import Reject
from formats.grammar import Parser
from formats.rejects import RejectCode
from lems import committer
from lems.clock import LabClock

CATCH_UP_PAGES = 2000
"""WAL pages (8 MB) above which a WAL that passive checkpoints did not start again since the
last pass is caught up with the writer's lock held (``_checkpoints``)."""

Emit = Callable[[str, str, str, str], None]
"""``emit(ori, body, terminal, sensitive)``: send unsolicited traffic to an ORI."""


@dataclass(slots=True)
class Answer:
    """The bodies answering one request; ``sensitive`` marks criminal history (``iii``)."""

    bodies: list[str]
    sensitive: str = ""


class _Group:
    """The process's group commit (``group_commit``): how deep inside one, and the connections
    whose commit waits for ``commit_group``."""

    depth = 0
    waiting: dict[GroupConnection, None] = {}


class GroupConnection(sqlite3.Connection):
    """A system's connection whose ``commit`` may wait for the end of the reactor turn.

    A system commits each request (an entry, a cancel) on its own; served in the switch's
    process, those commits were a large part of a national transaction's cost, one per
    request. Inside ``group_commit`` (the endpoint server handling a request) ``commit`` only
    marks the connection; ``commit_group`` commits them all once per turn, before any answer of
    that turn leaves (``lems.endpoints.server``), so no terminal hears of a record that is not
    durable. One writer at a time per file: a connection with a commit waiting is committed
    before any other connection runs a statement (NICS writes NCIC's file through a connection
    of its own), so none waits on another's lock.
    """

    _checkpointer: tuple[threading.Thread, threading.Event] | None = None

    def checkpoint_in_thread(self, path: str) -> None:
        """Turn SQLite's automatic checkpoint off and copy the WAL back from a thread instead.

        The automatic checkpoint runs inside whichever commit crosses 1,000 WAL pages, on the
        reactor thread here: measured alone, NCIC's commits stalled up to 836 ms on it (40 ms
        without; docs/BENCHMARKS.md, issue 20). ``_checkpoints`` runs them from a connection
        of its own; once one has caught up the next commit starts the WAL again from its
        beginning, cut back to ``committer.WAL_LIMIT``.
        """
        self.execute("PRAGMA wal_autocheckpoint=0").fetchall()
        self.execute(f"PRAGMA journal_size_limit={committer.WAL_LIMIT}").fetchall()
        stop = threading.Event()
        thread = threading.Thread(
            target=_checkpoints, args=(path, stop), name=f"checkpoint {path}", daemon=True
        )
        thread.start()
        self._checkpointer = (thread, stop)

    def close(self) -> None:
        """Stop the checkpoint thread first (closing the last connection checkpoints anyway)."""
        if self._checkpointer is not None:
            thread, stop = self._checkpointer
            self._checkpointer = None
            stop.set()
            thread.join()
        super().close()

    def commit(self) -> None:
        if _Group.depth:
            _Group.waiting[self] = None
            return
        if _Group.waiting:
            commit_group()
        super().commit()

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        if _Group.waiting and self not in _Group.waiting:
            commit_group()
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        if _Group.waiting and self not in _Group.waiting:
            commit_group()
        return super().executemany(sql, parameters)

    def executescript(self, script: str, /) -> sqlite3.Cursor:
        if _Group.waiting:
            commit_group()
        return super().executescript(script)


def _checkpoints(path: str, stop: threading.Event) -> None:
    """Checkpoint ``path``'s WAL every ``committer.CHECKPOINT_EVERY`` seconds, off the reactor.

    A passive checkpoint (as ``lems.committer.checkpoints`` does for the lab database) never
    blocks the writer, but under commits with little pause between them it never catches up:
    each copies what was committed before it began while more is appended, so the WAL is never
    started again and grows without end (200 MB for 16 MB of rows in a tight loop). When it
    has passed ``CATCH_UP_PAGES`` and grown since the last pass, a RESTART checkpoint takes the
    writer's lock to copy the rest, which the passive pass left small: a commit may then wait
    for those few pages, not for the whole WAL as with SQLite's automatic checkpoint. Results
    are read to the end (``fetchall``) so no statement stays open. A failure is said once and
    retried."""
    conn: sqlite3.Connection | None = None
    failing = ""
    last = 0
    try:
        while not stop.wait(committer.CHECKPOINT_EVERY):
            try:
                if conn is None:
                    conn = committer.open_db(path)
                pages = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0][1]
                if last > CATCH_UP_PAGES and pages > last:
                    conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
                    pages = 0
                last = pages
            except sqlite3.Error as e:
                why = committer.describe(e)
                if why != failing:
                    committer.say("ERROR", f"checkpoint of {path} failed: {why}; retrying")
                failing = why
                if conn is not None:
                    conn.close()
                    conn = None
                continue
            if failing:
                committer.say("WARNING", f"checkpoint of {path} works again")
                failing = ""
    finally:
        if conn is not None:
            conn.close()


class group_commit:  # a context manager, used as ``with group_commit():``
    """Within: systems' commits wait for ``commit_group``."""

    def __enter__(self) -> None:
        _Group.depth += 1

    def __exit__(self, *exc: object) -> None:
        _Group.depth -= 1


def grouping() -> bool:
    """True inside ``group_commit``: what a system writes now is not committed yet."""
    return _Group.depth > 0


def commit_group() -> None:
    """Commit every connection whose commit waits; raises the first failure (after rolling
    back the connections it could not commit)."""
    waiting = list(_Group.waiting)
    _Group.waiting.clear()
    error: BaseException | None = None
    for conn in waiting:
        try:
            sqlite3.Connection.commit(conn)
        except sqlite3.Error as e:
            error = error or e
            with contextlib.suppress(sqlite3.Error):
                conn.rollback()
    if error is not None:
        raise error


def open_db(path: str | Path, schema: str) -> sqlite3.Connection:
    """One system's own database file (WAL, autocommit off: the system commits per request,
    or once per reactor turn inside ``group_commit``; its WAL is checkpointed from a thread,
    ``GroupConnection.checkpoint_in_thread``)."""
    conn = sqlite3.connect(str(path), check_same_thread=False, factory=GroupConnection)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(schema)
    conn.commit()
    assert isinstance(conn, GroupConnection)
    conn.checkpoint_in_thread(str(path))
    return conn


class System:
    """Base of NCIC, Nlets and NICS: ``handle(text, ori, terminal) -> Answer``."""

    name = "system"
    words = "SYSTEM"

    def __init__(
        self, clock: LabClock, dictionary: Dictionary | None = None, codes: CodeBook | None = None
    ) -> None:
        self.clock = clock
        self.dictionary = dictionary or Dictionary.default()
        self.parser = Parser(self.dictionary)
        self.codes = codes or CodeBook.builtin()
        self.emit: Emit = lambda ori, body, terminal, sensitive: None

    def now(self) -> datetime:
        now: datetime = self.clock.now()
        return now

    def call_later(self, lab_seconds: float, fn: Callable[..., Any], *args: Any) -> Any:
        return self.clock.call_later(lab_seconds, fn, *args)

    def handle(self, text: str, ori: str, terminal: str) -> Answer:
        raise NotImplementedError

    def error_body(self, text: str, ori: str) -> str:
        """The system error a terminal sees when the system fails a request (error faults)."""
        rej = Reject(
            RejectCode.SYSTEM_ERROR,
            f"{self.words} SYSTEM ERROR - MESSAGE NOT PROCESSED - RESUBMIT",
            None,
            text[:100],
        )
        return responses.reject(rej, ori)

    def close(self) -> None:
        """Close the system's database."""
