"""The mailbox's session-protocol sender (``Outflow``) on a real SQLite mailbox and Twisted's
fake clock: window, cumulative acknowledgement, in-session resend after a timeout, its limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock

from lems import store
from lems.mailbox import Mailboxes, Outflow, Queue


@pytest.fixture
def boxes(tmp_path):
    conn = store.connect(tmp_path / "lab.db")
    yield Mailboxes(conn)
    conn.close()


def queue(boxes: Mailboxes, n: int, terminal: str = "T01") -> list[tuple[int, str]]:
    """``n`` messages made durable (as the switch does: row written, then ``committed``)."""
    out = []
    for _ in range(n):
        osn = boxes.next_osn(terminal)
        boxes._conn.execute(*boxes.put(terminal, osn, osn, f"M{osn}"))
        out.append((osn, boxes.committed(terminal, osn)))
    return out


def ack(boxes: Mailboxes, flow: Outflow, osn: int) -> int:
    take, taken = boxes.ack(flow.terminal, osn)
    if take:
        boxes._conn.execute(*take)
    if taken:
        flow.acked()
    return taken


class Wire:
    def __init__(self) -> None:
        self.sent: list[int] = []

    def __call__(self, osn: int, frame: str) -> None:
        assert frame == f"M{osn}"
        self.sent.append(osn)


def test_window_holds_messages_until_acknowledgements_make_room(boxes):
    clock, wire = Clock(), Wire()
    flow = Outflow(boxes, "T01", wire, clock, window=3)
    queue(boxes, 5)  # waiting before sign-on
    flow.start()
    assert wire.sent == [1, 2, 3]
    for osn, frame in queue(boxes, 2):  # new mail while the window is full: held on disk
        flow.offer(osn, frame)
    assert wire.sent == [1, 2, 3]
    assert ack(boxes, flow, 2) == 2  # cumulative: 1 and 2
    assert wire.sent == [1, 2, 3, 4, 5]
    assert ack(boxes, flow, 5) == 3
    assert wire.sent == [1, 2, 3, 4, 5, 6, 7]
    assert ack(boxes, flow, 7) == 2 and boxes.count("T01") == 0


def test_no_window_sends_everything_at_once(boxes):
    wire = Wire()
    flow = Outflow(boxes, "T01", wire, Clock())
    queue(boxes, 4)
    flow.start()
    for osn, frame in queue(boxes, 3):
        flow.offer(osn, frame)
    assert wire.sent == list(range(1, 8))


def test_unacknowledged_output_is_resent_after_the_timeout_a_limited_number_of_times(boxes):
    clock, wire = Clock(), Wire()
    flow = Outflow(boxes, "T01", wire, clock, resend_s=30, resend_limit=2)
    for osn, frame in queue(boxes, 3):
        flow.offer(osn, frame)
    assert wire.sent == [1, 2, 3]
    clock.advance(29)
    assert wire.sent == [1, 2, 3]
    clock.advance(1)  # 30 s without any acknowledgement: go back and send them again
    assert wire.sent == [1, 2, 3] * 2
    clock.advance(30)
    assert wire.sent == [1, 2, 3] * 3
    clock.advance(300)  # the limit: a terminal that never acknowledges is not flooded
    assert wire.sent == [1, 2, 3] * 3
    assert not clock.getDelayedCalls()
    # an acknowledgement starts the cycle again for what is left
    ack(boxes, flow, 1)
    clock.advance(30)
    assert wire.sent[-2:] == [2, 3]


def test_acknowledgement_progress_postpones_the_resend(boxes):
    clock, wire = Clock(), Wire()
    flow = Outflow(boxes, "T01", wire, clock, resend_s=30)
    for osn, frame in queue(boxes, 3):
        flow.offer(osn, frame)
    clock.advance(20)
    ack(boxes, flow, 1)
    clock.advance(10)  # 30 s since the first send, but an ACK came 10 s ago
    assert wire.sent == [1, 2, 3]
    clock.advance(30)  # a full period without progress
    assert wire.sent == [1, 2, 3, 2, 3]
    ack(boxes, flow, 3)
    clock.advance(120)
    assert wire.sent == [1, 2, 3, 2, 3]
    assert not clock.getDelayedCalls()


def test_resend_off_and_stop_leave_no_timer(boxes):
    clock, wire = Clock(), Wire()
    off = Outflow(boxes, "T01", wire, clock, resend_s=0)
    for osn, frame in queue(boxes, 2):
        off.offer(osn, frame)
    assert not clock.getDelayedCalls()
    on = Outflow(boxes, "T01", wire, clock, resend_s=5)
    on.start()
    assert len(clock.getDelayedCalls()) == 1
    on.stop()
    assert not clock.getDelayedCalls()


def test_resend_respects_the_window_and_skips_dead_letters(boxes):
    clock, wire = Clock(), Wire()
    flow = Outflow(boxes, "T01", wire, clock, window=2, resend_s=10)
    queue(boxes, 4)
    flow.start()
    assert wire.sent == [1, 2]
    for _ in range(3):
        kill = boxes.failed("T01", 1)
    boxes._conn.execute(*kill)
    clock.advance(10)
    assert wire.sent == [1, 2, 2]  # OSN 1 is a dead letter; 3 was never sent on this link


def turn(clock: Clock, after: float = 0.0) -> None:
    """One reactor turn ``after`` seconds from now: the calls due then, not those they schedule
    for "now" (``advance`` would run those too, where a reactor runs them in its next turn)."""
    clock.rightNow += after
    for call in [c for c in clock.calls if c.getTime() <= clock.seconds()]:
        clock.calls.remove(call)
        call.called = 1
        call.func(*call.args, **call.kw)


def test_a_backlog_is_sent_a_page_a_turn_in_osn_order_with_new_mail_after_it(boxes):
    """A terminal coming back to a large mailbox must not hold the reactor for the whole read:
    ``PAGE`` frames a turn; what arrives meanwhile follows the backlog, in OSN order."""
    clock, wire = Clock(), Wire()
    flow = Outflow(boxes, "T01", wire, clock)
    backlog = 3 * Outflow.PAGE + 5
    queue(boxes, backlog)
    flow.start()
    assert wire.sent == list(range(1, Outflow.PAGE + 1))  # one page in this turn
    for osn, frame in queue(boxes, 2):  # new mail while the backlog drains: held, in order
        flow.offer(osn, frame)
    assert len(wire.sent) == Outflow.PAGE
    turns = 0
    while clock.getDelayedCalls():
        turn(clock)
        turns += 1
        assert len(wire.sent) <= (turns + 1) * Outflow.PAGE
    assert turns == 3  # 64 at sign-on, then 64, 64 and the last 7 (5 + the 2 new ones)
    assert wire.sent == list(range(1, backlog + 3))
    flow.offer(*queue(boxes, 1)[0])  # drained: new mail goes straight out again
    assert wire.sent[-1] == backlog + 3


def test_a_backlog_waits_while_the_peer_does_not_read_and_goes_on_when_it_does(boxes):
    """A peer that does not read is handed no more of its backlog (it would only be buffered,
    then the link dropped for not reading, and the backlog sent again at the next sign-on)."""
    clock, wire = Clock(), Wire()
    reading = [True]
    flow = Outflow(boxes, "T01", wire, clock, ready=lambda: reading[0])
    queue(boxes, 3 * Outflow.PAGE)
    flow.start()
    reading[0] = False  # the first page filled the peer's socket
    turn(clock)
    assert len(wire.sent) == 2 * Outflow.PAGE  # the page already due went; none after it
    assert not clock.getDelayedCalls()
    flow.offer(*queue(boxes, 1)[0])  # new mail waits behind the backlog, on disk
    assert len(wire.sent) == 2 * Outflow.PAGE
    reading[0] = True
    flow.resume()
    turn(clock)  # the third page of the backlog
    turn(clock)  # then the new one
    assert wire.sent == list(range(1, 3 * Outflow.PAGE + 2))
    flow.resume()  # nothing waits: no call made
    assert not clock.getDelayedCalls()


def test_a_resend_of_many_messages_is_paged_too_and_stop_cancels_the_rest(boxes):
    clock, wire = Clock(), Wire()
    flow = Outflow(boxes, "T01", wire, clock, resend_s=10)
    n = 2 * Outflow.PAGE + 1
    for osn, frame in queue(boxes, n):
        flow.offer(osn, frame)
    assert wire.sent == list(range(1, n + 1))
    turn(clock, 10)  # no acknowledgement: go back, a page this turn
    assert wire.sent[n:] == list(range(1, Outflow.PAGE + 1))
    flow.offer(*queue(boxes, 1)[0])  # new mail waits for the resend to finish
    turn(clock)
    assert len(wire.sent) == n + 2 * Outflow.PAGE
    turn(clock)
    assert wire.sent[n:] == [*range(1, n + 1), n + 1]
    wire.sent.clear()
    turn(clock, 10)  # again; the terminal signs off after the first page
    assert len(wire.sent) == Outflow.PAGE
    flow.stop()
    assert not clock.getDelayedCalls()


@given(
    st.lists(
        st.tuples(st.sampled_from(["put", "commit", "dead", "resend", "ack"]), st.integers(1, 40)),
        max_size=120,
    )
)
def test_the_queue_of_runs_holds_what_a_set_of_osns_would(ops):
    """``Queue`` (OSNs as runs, O(1) memory per message) against the obvious model: a dict of
    OSN -> committed, for every order of puts, commits, dead letters, resends and acks."""
    q, model, dead, nxt = Queue(), {}, set(), 0
    for op, n in ops:
        if op == "put":
            nxt += 1
            q.add(nxt)
            q.frames[nxt] = f"M{nxt}"
            model[nxt] = False
        elif op == "commit" and n in model and not model[n]:
            assert q.frames.pop(n) == f"M{n}"
            model[n] = True
        elif op == "dead" and n in model:
            q.remove(n)
            del model[n]
            dead.add(n)
        elif op == "resend" and n in dead:
            q.add(n)
            model[n] = True
            dead.discard(n)
        elif op == "ack":
            expect = []
            for osn in sorted(model):
                if osn > n or not model[osn]:
                    break
                expect.append(osn)
            taken, last = q.take_upto(n)
            assert taken == len(expect) and last == (expect[-1] if expect else 0)
            for osn in expect:
                del model[osn]
        assert list(q) == sorted(model) and len(q) == len(model)
        assert all(osn in q for osn in model) and not any(osn in q for osn in dead)
        assert q.upto(n) == sum(1 for osn in model if osn <= n)
        assert all(b[0] > a[1] + 1 for a, b in zip(q.runs, q.runs[1:], strict=False))  # disjoint
