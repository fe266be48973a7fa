"""Fair reading (``hardware.fair``): a burst is handled a share per reactor turn with the link
not read meanwhile, and holds for different reasons do not undo one another."""

from __future__ import annotations

from support import Recorder
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from hardware import fair
from hardware.link import framed


class Transport(StringTransport):
    """A transport with a reactor, as Twisted's TCP connections have."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.reactor = clock


def link(clock: Clock):
    handler = Recorder()
    p = framed(handler)
    t = Transport(clock)
    p.makeConnection(t)
    return p, t, handler


def test_a_burst_is_handled_a_share_per_turn_with_the_link_not_read_meanwhile():
    clock = Clock()
    p, t, handler = link(clock)
    p.dataReceived(b"".join(b"F%03d\n" % i for i in range(200)))
    assert len(handler.frames) == fair.FRAMES_PER_TURN
    assert t.producerState == "paused"  # the peer's socket holds what it sends next
    assert len(clock.getDelayedCalls()) == 1  # the rest: in the next turns, after their I/O
    # another link read meanwhile is handled before this one's backlog
    other, _, other_handler = link(clock)
    other.dataReceived(b"OTHER\n")
    assert other_handler.frames == [b"OTHER"] and len(handler.frames) == fair.FRAMES_PER_TURN
    clock.advance(0)  # (a fake clock runs the following turns' calls at once)
    assert handler.frames == [b"F%03d" % i for i in range(200)]  # all, in order
    assert t.producerState == "producing" and p.backlog is None


def test_a_link_may_be_given_a_bigger_share():
    clock = Clock()
    p, t, handler = link(clock)
    p.frames_per_turn = 64  # (a replay link: terminals.replay)
    p.dataReceived(b"".join(b"F%03d\n" % i for i in range(200)))
    assert len(handler.frames) == 64 and t.producerState == "paused"
    clock.advance(0)
    assert len(handler.frames) == 200 and t.producerState == "producing"


def test_a_small_read_is_handled_at_once():
    clock = Clock()
    p, t, handler = link(clock)
    p.dataReceived(b"A\nB\n")
    assert handler.frames == [b"A", b"B"] and t.producerState == "producing"


def test_a_hold_for_another_reason_outlasts_the_backlog():
    clock = Clock()
    p, t, handler = link(clock)
    p.dataReceived(b"X\n" * (fair.FRAMES_PER_TURN + 1))
    fair.hold(p, "rate")  # e.g. the switch's rate limit, while the backlog is handled
    clock.advance(0)
    assert len(handler.frames) == fair.FRAMES_PER_TURN + 1
    assert t.producerState == "paused"  # the backlog is done, the rate hold is not
    fair.release(p, "rate")
    assert t.producerState == "producing"


def test_closing_a_link_whose_peer_does_not_read_aborts_it():
    """What is buffered for such a peer would never go: a graceful close would wait on it (and
    keep the socket) for ever."""
    clock = Clock()
    p, t, _ = link(clock)
    fair.hold(p, fair.NOT_READING)
    assert len(clock.getDelayedCalls()) == 1  # the drop after STALL_DROP
    p.close()
    assert t.disconnected  # aborted, not a graceful close
    p.connectionLost()
    assert clock.getDelayedCalls() == []


def test_a_peer_that_reads_nothing_for_a_while_is_dropped():
    clock = Clock()
    p, t, _ = link(clock)
    fair.hold(p, fair.NOT_READING)
    clock.advance(fair.STALL_DROP - 1)
    fair.release(p, fair.NOT_READING)  # it read: no drop
    clock.advance(10)
    assert not t.disconnecting
    fair.hold(p, fair.NOT_READING)
    clock.advance(fair.STALL_DROP)
    assert t.disconnected and p.lost_reason == fair.NOT_READING
