"""The mailbox's bookkeeping (``lems.mailbox.Mailboxes``) on a real SQLite file, without a
switch: output sequence numbers per terminal, durability before sending, cumulative
acknowledgement, dead letters after failed sends, and what survives a restart."""

from __future__ import annotations

import pytest

from lems import mailbox, store
from lems.mailbox import Mailboxes


@pytest.fixture
def conn(tmp_path):
    c = store.connect(tmp_path / "lab.db")
    yield c
    c.close()


def put(boxes: Mailboxes, terminal: str, body: str, *, commit: bool = True) -> int:
    """One message for ``terminal`` as the switch queues it: the next OSN, the row written,
    then marked durable (``commit``)."""
    osn = boxes.next_osn(terminal)
    boxes._conn.execute(*boxes.put(terminal, osn, osn, body))
    if commit:
        assert boxes.committed(terminal, osn) == body  # the frame to send, once
        assert boxes.committed(terminal, osn) is None
    return osn


def ack(boxes: Mailboxes, terminal: str, osn: int) -> int:
    take, taken = boxes.ack(terminal, osn)
    if take is not None:
        boxes._conn.execute(*take)
    return taken


def rows(conn, terminal: str) -> list[tuple[int, int]]:
    return conn.execute(
        "SELECT osn, dead FROM mailbox WHERE terminal = ? ORDER BY osn", (terminal,)
    ).fetchall()


def test_osns_count_up_per_terminal(conn):
    boxes = Mailboxes(conn)
    assert [boxes.next_osn("T01") for _ in range(3)] == [1, 2, 3]
    assert boxes.next_osn("T02") == 1
    assert boxes.last_osn("T01") == 3 and boxes.last_osn("T09") == 0


def test_an_ack_is_cumulative_and_takes_only_what_it_names(conn):
    boxes = Mailboxes(conn)
    osns = [put(boxes, "T01", f"M{i}") for i in range(5)]
    assert boxes.count("T01") == 5 and boxes.unacked_upto("T01", 3) == 3
    assert ack(boxes, "T01", osns[2]) == 3  # ACK.3 acknowledges 1, 2 and 3
    assert [osn for osn, _ in boxes.pending("T01")] == osns[3:]
    assert [osn for osn, _ in rows(conn, "T01")] == osns[3:]
    assert ack(boxes, "T01", osns[2]) == 0  # again: nothing left to take
    assert ack(boxes, "T01", 99) == 2
    assert boxes.count("T01") == 0 and rows(conn, "T01") == []


def test_an_ack_never_takes_a_message_not_yet_durable(conn):
    """An ACK that names a message whose row is not committed yet (the terminal guessed, or
    acknowledged a resend of the same OSN early) leaves it: it is sent once committed."""
    boxes = Mailboxes(conn)
    first = put(boxes, "T01", "DURABLE")
    second = put(boxes, "T01", "IN FLIGHT", commit=False)
    assert ack(boxes, "T01", second) == 1
    assert boxes.count("T01") == 1 and boxes.pending("T01") == []  # held, not yet sendable
    assert boxes.committed("T01", second) == "IN FLIGHT"
    assert boxes.pending("T01") == [(second, "IN FLIGHT")]
    assert first < second


def test_pending_reads_after_an_osn_and_up_to_a_limit(conn):
    boxes = Mailboxes(conn)
    osns = [put(boxes, "T01", f"M{i}") for i in range(6)]
    assert boxes.pending("T01", after=osns[1], limit=2) == [(osns[2], "M2"), (osns[3], "M3")]
    assert boxes.pending("T02") == []


def test_a_message_that_fails_to_send_is_dead_lettered_after_dead_after_tries(conn):
    boxes = Mailboxes(conn)
    osns = [put(boxes, "T01", f"M{i}") for i in range(3)]
    for _ in range(mailbox.DEAD_AFTER - 1):
        assert boxes.failed("T01", osns[1]) is None
    kill = boxes.failed("T01", osns[1])
    assert kill is not None
    conn.execute(*kill)
    # it leaves the queue (blocks nothing, is not counted) but stays on disk
    assert boxes.count("T01") == 2 and boxes.dead("T01") == 1
    assert [osn for osn, _ in boxes.pending("T01")] == [osns[0], osns[2]]
    assert rows(conn, "T01") == [(osns[0], 0), (osns[1], 1), (osns[2], 0)]
    # a cumulative ACK past it does not delete the dead letter
    assert ack(boxes, "T01", osns[2]) == 2
    assert rows(conn, "T01") == [(osns[1], 1)]


def test_a_successful_ack_forgets_earlier_send_failures(conn):
    boxes = Mailboxes(conn)
    osn = put(boxes, "T01", "M")
    assert boxes.failed("T01", osn) is None
    assert ack(boxes, "T01", osn) == 1
    again = put(boxes, "T02", "N")
    for _ in range(mailbox.DEAD_AFTER - 1):
        assert boxes.failed("T02", again) is None
    assert boxes.failed("T02", again) is not None


def test_dead_letters_resent_or_dropped_by_an_instructor_are_taken_in(conn):
    boxes = Mailboxes(conn)
    osns = [put(boxes, "T01", f"M{i}") for i in range(4)]
    for osn in (osns[0], osns[2]):
        kill = None
        for _ in range(mailbox.DEAD_AFTER):
            kill = boxes.failed("T01", osn)
        assert kill is not None
        conn.execute(*kill)
    # `lems mail resend` clears the mark of one, `lems mail drop` deletes the other
    conn.execute("UPDATE mailbox SET dead = 0 WHERE terminal = 'T01' AND osn = ?", (osns[0],))
    conn.execute("DELETE FROM mailbox WHERE terminal = 'T01' AND osn = ?", (osns[2],))
    resent, dropped = boxes.reload_dead()
    assert resent == [("T01", osns[0])] and dropped == [("T01", osns[2])]
    assert boxes.dead("T01") == 0
    # the resent one is back in OSN order, before the later live ones
    assert [osn for osn, _ in boxes.pending("T01")] == [osns[0], osns[1], osns[3]]


def test_a_restart_finds_the_queue_the_dead_letters_and_the_next_osn(conn, tmp_path):
    boxes = Mailboxes(conn)
    osns = [put(boxes, "T01", f"M{i}") for i in range(3)]
    for osn in osns:  # the switch journals each output row with its OSN
        conn.execute(
            "INSERT INTO journal (seq, time, direction, terminal, osn, text) "
            "VALUES (?, '2026-11-23T10:00:00+00:00', 'out', 'T01', ?, 'x')",
            (osn, osn),
        )
    kill = None
    for _ in range(mailbox.DEAD_AFTER):
        kill = boxes.failed("T01", osns[0])
    conn.execute(*kill)
    assert ack(boxes, "T01", osns[1]) == 1  # the dead one is skipped, the live one taken
    again = Mailboxes(conn)
    assert again.count("T01") == 1 and again.dead("T01") == 1
    assert again.pending("T01") == [(osns[2], "M2")]
    assert again.next_osn("T01") == osns[-1] + 1  # never an OSN the terminal saw before
