"""The lab database: the group-commit writer, migrations, mailboxes and directory state."""

from __future__ import annotations

import json
import signal
import sqlite3
import sys

import pytest
from support import demo_lab, until, wait
from twisted.internet.defer import DeferredList, gatherResults

from lems import store
from lems.directory import Directory
from lems.mailbox import DEAD_AFTER, OSN_MARK, Mailboxes, last_osns, osn_mark
from lems.store import StoreError, Writer, when_committed

CREATE = ("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)", ())
INSERT = "INSERT INTO t (id, v) VALUES (?, ?)"


def rows(path) -> list[tuple[int, str]]:
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute("SELECT id, v FROM t ORDER BY id").fetchall()
    finally:
        conn.close()


@pytest.fixture
async def writer(tmp_path, reactor):
    w = Writer(tmp_path / "lab.db", reactor)
    await wait(when_committed(w, [CREATE]))
    w.commits = w.rows = 0
    yield w
    await wait(w.stop())


# ---------------------------------------------------------------------- Writer


async def test_submits_commit_and_fire_in_order(writer, tmp_path):
    order: list[int] = []
    ds = []
    for i in range(500):
        d = when_committed(writer, [(INSERT, (i, f"row {i}"))])
        d.addCallback(lambda _, i=i: order.append(i))
        ds.append(d)
    await wait(gatherResults(ds))
    assert order == list(range(500))
    assert writer.rows == 500
    assert rows(tmp_path / "lab.db") == [(i, f"row {i}") for i in range(500)]


async def test_a_fired_deferred_means_committed(writer, tmp_path):
    await wait(when_committed(writer, [(INSERT, (1, "a")), (INSERT, (2, "b"))]))
    assert rows(tmp_path / "lab.db") == [(1, "a"), (2, "b")]  # visible to another connection


async def test_group_commit_groups(writer, tmp_path):
    ds = [when_committed(writer, [(INSERT, (i, "x"))]) for i in range(2000)]
    await wait(gatherResults(ds))
    assert writer.rows == 2000
    assert writer.commits < 200, writer.commits  # far fewer commits than writes
    assert len(rows(tmp_path / "lab.db")) == 2000


async def test_commit_calls_done_with_its_arguments_once_committed_in_order(writer, tmp_path):
    """The one way to be told (``Writer.commit``): ``done(error, *args)``, error None when the
    rows are durable, the commit's exception when they are not; in the order queued."""
    calls: list[tuple[object, ...]] = []
    seen: list[list[tuple[int, str]]] = []

    def done(error, *args):
        calls.append((None if error is None else type(error), *args))
        seen.append(rows(tmp_path / "lab.db"))

    writer.commit([(INSERT, (1, "a"))], done, "first", 1)
    writer.commit([(INSERT, (1, "again"))], done, "second")
    writer.commit([], done)
    await until(lambda: len(calls) == 3)
    assert calls == [(None, "first", 1), (sqlite3.IntegrityError, "second"), (None,)]
    assert seen[0] == [(1, "a")]  # committed, visible to another connection, when done runs


async def test_submit_nowait_is_committed_in_order(writer, tmp_path):
    writer.submit_nowait([(INSERT, (1, "first"))])
    await wait(when_committed(writer, [(INSERT, (2, "second"))]))
    assert rows(tmp_path / "lab.db") == [(1, "first"), (2, "second")]


@pytest.mark.parametrize(
    "bad",
    [
        ((INSERT, (1, "duplicate")), sqlite3.IntegrityError),
        ((INSERT, (99, None)), sqlite3.IntegrityError),
        (("INSERT INTO nowhere VALUES (?)", (1,)), sqlite3.OperationalError),
        (("INSERT INTO t (id, v) VALUES (?, ?)", (1,)), sqlite3.ProgrammingError),
    ],
    ids=["primary-key", "not-null", "no-such-table", "wrong-parameter-count"],
)
async def test_a_bad_statement_fails_only_its_own_deferred(writer, tmp_path, bad):
    statement, error = bad
    await wait(when_committed(writer, [(INSERT, (1, "original"))]))
    # Hold the database's write lock so everything below queues up and lands in one group.
    blocker = sqlite3.connect(str(tmp_path / "lab.db"), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        ds = [when_committed(writer, [(INSERT, (i, f"good {i}"))]) for i in (10, 11)]
        ds.append(when_committed(writer, [(INSERT, (12, "same caller")), statement]))
        ds += [when_committed(writer, [(INSERT, (i, f"good {i}"))]) for i in (13, 14)]
    finally:
        blocker.execute("COMMIT")
        blocker.close()
    results = await wait(DeferredList(ds, consumeErrors=True))
    assert [ok for ok, _ in results] == [True, True, False, True, True]
    failure = results[2][1]
    assert failure.check(error), failure
    # the bad caller's other row is rolled back with it; the others are committed
    assert rows(tmp_path / "lab.db") == [
        (1, "original"),
        (10, "good 10"),
        (11, "good 11"),
        (13, "good 13"),
        (14, "good 14"),
    ]
    await wait(when_committed(writer, [(INSERT, (20, "after"))]))  # the writer is still working
    assert rows(tmp_path / "lab.db")[-1] == (20, "after")


async def test_stop_commits_what_was_queued(tmp_path, reactor):
    w = Writer(tmp_path / "lab.db", reactor)
    w.submit_nowait([CREATE])
    ds = [when_committed(w, [(INSERT, (i, "q"))]) for i in range(300)]
    w.submit_nowait([(INSERT, (300, "nowait"))])
    stopped = w.stop()
    with pytest.raises(StoreError):
        when_committed(w, [(INSERT, (1000, "late"))])
    w.submit_nowait([(INSERT, (1001, "late"))])  # ignored, not an error
    await wait(stopped)
    assert w._process.poll() == 0  # the writer process is gone, cleanly
    assert len(rows(tmp_path / "lab.db")) == 301
    await wait(gatherResults(ds))  # and every caller hears about it
    await wait(w.stop())  # twice is fine
    assert len(rows(tmp_path / "lab.db")) == 301


async def test_a_killed_writer_process_fails_callers_instead_of_hanging(tmp_path, reactor):
    w = Writer(tmp_path / "lab.db", reactor)
    await wait(when_committed(w, [CREATE]))
    w._process.kill()
    ds = [when_committed(w, [(INSERT, (i, "q"))]) for i in range(3)]
    results = await wait(DeferredList(ds, consumeErrors=True), timeout=10)
    assert [ok for ok, _ in results] == [False, False, False]
    assert all(f.check(StoreError) for _, f in results)
    assert "writer process ended" in w.error
    with pytest.raises(StoreError, match="writer process ended"):
        when_committed(w, [(INSERT, (9, "late"))])
    await wait(w.stop())


async def test_the_wal_is_checkpointed_and_reused_not_grown(tmp_path, reactor):
    """The writer process turns SQLite's automatic checkpoint off and checkpoints from a thread
    of its own: the WAL must still be copied back and started again, not grow for ever."""
    w = Writer(tmp_path / "lab.db", reactor)
    await wait(when_committed(w, [CREATE]))
    wal = tmp_path / "lab.db-wal"
    text = "x" * 4000  # about one page a row

    shm = tmp_path / "lab.db-shm"

    def backfilled() -> bool:
        """The checkpointer has copied every frame of the WAL back into the database: the
        WAL index's ``nBackfill`` (offset 96) has reached its ``mxFrame`` (offset 16), both in
        the machine's byte order (sqlite.org/walformat.html, "The WAL-Index Header")."""
        head = shm.read_bytes()[:100]
        frames = int.from_bytes(head[16:20], sys.byteorder)
        return frames > 0 and int.from_bytes(head[96:100], sys.byteorder) == frames

    async def burst(first: int) -> int:
        await wait(
            gatherResults(
                [when_committed(w, [(INSERT, (i, text))]) for i in range(first, first + 1500)]
            )
        )
        await until(backfilled, 30)
        return wal.stat().st_size

    size = await burst(0)
    assert size > 1500 * 4096  # the burst did go through the WAL
    for first in (1500, 3000):
        assert await burst(first) <= size * 1.1  # written from the start again
    await wait(w.stop())
    assert len(rows(tmp_path / "lab.db")) == 4500


async def test_ctrl_c_does_not_reach_the_writer_process(tmp_path, reactor):
    """SIGINT goes to the whole foreground process group: the writer must outlive it so the
    switch's clean shutdown can still commit."""
    w = Writer(tmp_path / "lab.db", reactor)
    await wait(when_committed(w, [CREATE]))
    w._process.send_signal(signal.SIGINT)
    await wait(when_committed(w, [(INSERT, (1, "after ctrl-c"))]))
    await wait(w.stop())
    assert rows(tmp_path / "lab.db") == [(1, "after ctrl-c")]


# ---------------------------------------------------------------------- migrations


def test_migration_sets_user_version(tmp_path):
    conn = store.connect(tmp_path / "lab.db")
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"meta", "journal", "mailbox", "agency_state", "operator_state"} <= tables
        assert conn.execute("SELECT value FROM meta WHERE key='directory_version'").fetchone() == (
            "0",
        )
    finally:
        conn.close()
    store.connect(tmp_path / "lab.db").close()  # opening again migrates nothing


def test_newer_database_is_refused(tmp_path):
    path = tmp_path / "lab.db"
    conn = sqlite3.connect(str(path))
    conn.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this program"):
        store.connect(path)


def test_failed_migration_is_rolled_back(tmp_path, monkeypatch):
    path = tmp_path / "lab.db"
    store.connect(path).close()
    monkeypatch.setattr(store, "SCHEMA_VERSION", store.SCHEMA_VERSION + 1)
    monkeypatch.setitem(
        store.MIGRATIONS, store.SCHEMA_VERSION, "CREATE TABLE extra (x);\nTHIS IS NOT SQL;"
    )
    with pytest.raises(StoreError, match=f"migration {store.SCHEMA_VERSION} failed"):
        store.connect(path)
    conn = sqlite3.connect(str(path))
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION - 1
        assert conn.execute("SELECT name FROM sqlite_master WHERE name='extra'").fetchone() is None
    finally:
        conn.close()


def test_bump_directory_version(tmp_path):
    conn = store.connect(tmp_path / "lab.db")
    try:
        store.bump_directory_version(conn)
        store.bump_directory_version(conn)
        assert (
            conn.execute("SELECT value FROM meta WHERE key='directory_version'").fetchone()[0]
            == "2"
        )
    finally:
        conn.close()


# ---------------------------------------------------------------------- mailboxes


@pytest.fixture
def conn(tmp_path):
    c = store.connect(tmp_path / "lab.db")
    yield c
    c.close()


def test_mailbox_put_commit_pending_ack(conn):
    mb = Mailboxes(conn)
    assert [mb.next_osn("T01") for _ in range(3)] == [1, 2, 3]
    assert mb.next_osn("T02") == 1
    row = mb.put("T01", 1, 10, "one")
    assert row == (
        "INSERT INTO mailbox (terminal, osn, seq, body) VALUES (?,?,?,?)",
        ("T01", 1, 10, "one"),
    )
    conn.execute(*row)
    conn.execute(*mb.put("T01", 2, 11, "two"))
    conn.execute(*mb.put("T01", 3, 12, "three"))
    assert mb.pending("T01") == []  # nothing is sent before it is durable
    assert mb.count("T01") == 3
    assert mb.committed("T01", 3) == "three"
    assert mb.committed("T01", 3) is None  # the frame is sent once, then read from disk
    assert mb.committed("T01", 1) == "one"
    assert mb.pending("T01") == [(1, "one"), (3, "three")]  # OSN order, committed only
    # a cumulative acknowledgement stops at a message that is not durable yet
    assert mb.ack("T01", 3) == (
        ("DELETE FROM mailbox WHERE terminal = ? AND osn <= ? AND dead = 0", ("T01", 1)),
        1,
    )
    conn.execute("DELETE FROM mailbox WHERE terminal = 'T01' AND osn = 1")
    assert mb.committed("T01", 2) == "two"
    assert mb.pending("T01") == [(2, "two"), (3, "three")]
    assert mb.ack("T01", 2)[1] == 1
    assert mb.ack("T01", 2) == (None, 0)  # twice
    assert mb.ack("T09", 1) == (None, 0)
    assert mb.count("T01") == 1 and mb.last_osn("T01") == 3
    assert mb.ack("T01", 99)[1] == 1  # everything up to 99
    assert mb.count("T01") == 0
    assert mb.pending("T02") == [] and mb.count("T02") == 0


def test_mailbox_dead_letters_leave_the_queue_until_resent(conn):
    mb = Mailboxes(conn)
    for osn in (1, 2, 3):
        assert mb.next_osn("T01") == osn
        conn.execute(*mb.put("T01", osn, osn, f"m{osn}"))
        mb.committed("T01", osn)
    for _ in range(DEAD_AFTER - 1):
        assert mb.failed("T01", 2) is None
    kill = mb.failed("T01", 2)
    assert kill == ("UPDATE mailbox SET dead = 1 WHERE terminal = ? AND osn = ?", ("T01", 2))
    conn.execute(*kill)
    assert mb.count("T01") == 2 and mb.dead("T01") == 1
    assert mb.pending("T01") == [(1, "m1"), (3, "m3")]
    # a cumulative ACK past a dead letter leaves it for the instructor
    conn.execute(*mb.ack("T01", 3)[0])
    assert conn.execute("SELECT osn, dead FROM mailbox").fetchall() == [(2, 1)]
    again = Mailboxes(conn)
    assert again.count("T01") == 0 and again.dead("T01") == 1
    assert again.reload_dead() == ([], [])
    conn.execute("UPDATE mailbox SET dead = 0")  # `lems mail resend`
    assert again.reload_dead() == ([("T01", 2)], [])
    assert again.pending("T01") == [(2, "m2")] and again.dead("T01") == 0


def test_last_osns_read_the_mark_and_the_rows_after_it(conn):
    """A clean stop's OSN mark spares the next start a scan of the whole journal: the rows up
    to its seq are not read (here one such row claims OSN 99 and is not seen), the rows after
    it raise what it says, and without a readable mark the whole journal counts."""
    journal = (
        "INSERT INTO journal (seq, time, direction, terminal, osn, text) "
        "VALUES (?, '', ?, ?, ?, '')"
    )
    conn.execute(journal, (1, "out", "T01", 5))
    conn.execute(journal, (2, "out", "T02", 99))  # covered by the mark below
    conn.execute(journal, (3, "in", "T01", 0))
    assert last_osns(conn) == {"T01": 5, "T02": 99}
    conn.execute(*osn_mark(3, {"T01": 5, "T02": 7, "T03": 2}))
    conn.execute(journal, (4, "out", "T01", 6))
    conn.execute(journal, (5, "out", "T03", 1))  # lower than the mark: the mark stands
    assert last_osns(conn) == {"T01": 6, "T02": 7, "T03": 2}
    mb = Mailboxes(conn)
    assert mb.next_osn("T02") == 8 and mb.next_osn("T04") == 1
    assert json.loads(mb.mark(5)[1][1]) == {
        "seq": 5,
        "osn": {"T01": 6, "T02": 8, "T03": 2, "T04": 1},
    }
    conn.execute("UPDATE meta SET value = 'not json' WHERE key = ?", (OSN_MARK,))
    assert last_osns(conn) == {"T01": 6, "T02": 99, "T03": 1}


def test_mailbox_reloads_from_the_database(conn):
    mb = Mailboxes(conn)
    journal = (
        "INSERT INTO journal (seq, time, direction, terminal, osn, text) "
        "VALUES (?, '', 'out', ?, ?, ?)"
    )
    for seq, (terminal, body) in enumerate(
        [("T01", "a"), ("T01", "b"), ("T01", "c"), ("T04", "d")], 1
    ):
        osn = mb.next_osn(terminal)
        conn.execute(*mb.put(terminal, osn, seq, body))
        conn.execute(journal, (seq, terminal, osn, body))
        mb.committed(terminal, osn)
    conn.execute(*mb.ack("T01", 2)[0])

    again = Mailboxes(conn)
    assert again.pending("T01") == [(3, "c")]
    assert again.pending("T04") == [(1, "d")]
    assert again.count("T01") == 1
    assert again.next_osn("T01") == 4  # OSNs continue after a restart
    assert again.next_osn("T04") == 2
    assert again.next_osn("T02") == 1
    conn.execute(*again.ack("T01", 3)[0])
    assert Mailboxes(conn).pending("T01") == []


async def test_mailbox_rows_through_the_writer(tmp_path, reactor):
    w = Writer(tmp_path / "lab.db", reactor)
    try:
        conn = store.connect(tmp_path / "lab.db")
        mb = Mailboxes(conn)
        ds = [when_committed(w, [mb.put("T01", osn, osn, f"frame {osn}")]) for osn in (1, 2, 3)]
        await wait(gatherResults(ds))
        for osn in (1, 2, 3):
            assert mb.committed("T01", osn) == f"frame {osn}"
        await wait(when_committed(w, [mb.ack("T01", 1)[0]]))
        assert Mailboxes(conn).pending("T01") == [(2, "frame 2"), (3, "frame 3")]
        conn.close()
    finally:
        await wait(w.stop())


# ---------------------------------------------------------------------- directory state


def test_directory_reloads_only_when_the_version_moves(tmp_path):
    lab = demo_lab(tmp_path)
    conn = store.connect(lab.database)
    try:
        d = Directory(lab)
        assert d.load_state(conn) is True  # first load
        assert d.suspended == {} and d.version == 0
        assert d.load_state(conn) is False

        conn.execute(
            "INSERT INTO agency_state (ori, suspended, reason) VALUES ('OR0240000', 1, 'AUDIT')"
        )
        conn.execute(
            "INSERT INTO operator_state (operator, failures, locked) VALUES ('OP01', 5, 1)"
        )
        assert d.load_state(conn) is False  # not announced: not read
        assert d.suspended == {} and not d.operator_state["OP01"].locked

        store.bump_directory_version(conn)
        assert d.load_state(conn) is True
        assert d.suspended == {"OR0240000": "AUDIT"}
        assert d.operator_state["OP01"].locked and d.operator_state["OP01"].failures == 5
        assert d.operator_state["OP02"].failures == 0  # unknown operators start clean
        assert d.load_state(conn) is False

        conn.execute("UPDATE agency_state SET suspended = 0")
        conn.execute("DELETE FROM operator_state")
        store.bump_directory_version(conn)
        assert d.load_state(conn) is True
        assert d.suspended == {} and not d.operator_state["OP01"].locked
    finally:
        conn.close()


def test_directory_lookups(tmp_path):
    d = Directory(demo_lab(tmp_path))
    assert d.terminals_by_ori["OR0240000"] == ["T01", "T02"]
    assert d.control_terminals() == ["T00"]
    assert d.is_cj("OR0240000") and not d.is_cj("OR024901Z") and not d.is_cj("OR0990000")
    assert d.terminal_is_cj("T01") and not d.terminal_is_cj("T10")
    assert not d.terminal_is_cj("T99")
    assert len(d.in_state_terminals()) == 13  # T13, the firearms dealer, is in Oregon too
