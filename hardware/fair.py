"""Fair reading: one link's burst cannot hold the reactor, and a link is read only while nobody
holds its reading.

Why: a peer that writes two thousand frames at once hands the switch, in one ``recv``, work for
a whole second; handled in one reactor turn, every other terminal waits that second
(tools/bench_guardrails.py: the honest terminals' p99 went from 12 ms to over 1 s). Here a link
handles at most ``FRAMES_PER_TURN`` frames a turn; the rest wait, in order, for the next turns
(after the other links' input, as ``callLater(0)`` runs after the next turn's I/O), and the link
is not read meanwhile, so the peer's own socket holds what it sends next.

Several parties stop a link's reading for reasons of their own: this backlog, the switch's rate
limit (``lems.limits``: not read for a second), a peer that does not read what it is sent
(``FramedProtocol.pauseProducing``: it gets no more answers to make, so none is made). Each holds
the reading under its reason (``hold``/``release``); the transport is read again only when no
reason is left, so one party cannot undo another's pause.
"""

from __future__ import annotations

import contextlib
import socket
from collections import deque
from typing import Any

from twisted.logger import Logger

log = Logger()

FRAMES_PER_TURN = 16
"""Frames one link may have handled in one reactor turn. A frame costs the switch ~70 µs, so 16
are ~1 ms that another terminal may wait behind one busy link (64 were ~4.5 ms: with a signed-on
terminal bursting, tools/bench_guardrails.py --realtime gave the honest terminals' p99 ratio
1.49-2.73x at 64 and 1.25-1.64x at 16, alternated). A link with many frames pays one more
reactor turn per 16, a few µs each."""

NOT_READING = "peer does not read"
"""The hold of a peer that does not read what it is sent, and the reason its link is dropped."""

STALL_DROP = 30.0
"""Seconds a peer may read nothing before its link is dropped. Its reading is held meanwhile, so
it makes no work; a peer that writes everything before it reads anything would otherwise wait
on a switch that waits on it."""


SEND_BUFFER = 128 * 1024
"""The kernel send buffer of a link the switch accepted (Linux doubles it for its bookkeeping)."""


def bound_send_buffer(link: Any) -> None:
    """Cap a TCP link's kernel send buffer, which Linux otherwise grows up to 4 MB: a peer that
    does not read is then noticed (the transport pauses the link) after a few hundred kilobytes
    of answers, not after megabytes of work the switch did for nobody."""
    transport = getattr(link, "transport", None)  # an MQTT link has none: the broker's socket
    handle = getattr(transport, "getHandle", lambda: None)()
    if isinstance(handle, socket.socket) and handle.type == socket.SOCK_STREAM:
        with contextlib.suppress(OSError):
            handle.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)


def hold(link: Any, reason: str) -> None:
    """Stop reading ``link`` (a ``FramedProtocol``) for ``reason`` until ``release``."""
    holds: set[str] = link.holds
    if not holds:
        pause = getattr(link.transport, "pauseProducing", None)
        if pause is not None:
            pause()
    holds.add(reason)
    reactor = getattr(link.transport, "reactor", None)
    if reason == NOT_READING and reactor is not None and link.stall is None:
        link.stall = reactor.callLater(STALL_DROP, _stalled, link)


def _stalled(link: Any) -> None:
    link.stall = None
    if not link.closed:
        log.warn(
            "peer {peer} does not read: nothing read for {s:g} s, link dropped",
            peer=link.peer,
            s=STALL_DROP,
        )
        link.lost_reason = NOT_READING
        link.abort()


def release(link: Any, reason: str) -> None:
    """Drop ``reason``'s hold; read the link again once no hold is left."""
    holds: set[str] = link.holds
    if reason not in holds:
        return
    holds.discard(reason)
    if reason == NOT_READING and link.stall is not None:
        if link.stall.active():
            link.stall.cancel()
        link.stall = None
    if reason == NOT_READING and link.backlog is not None:
        link.backlog.wake()
    if not holds and not link.closed:
        resume = getattr(link.transport, "resumeProducing", None)
        if resume is not None:
            with contextlib.suppress(Exception):  # the connection is going: nothing to resume
                resume()


class Backlog:
    """The frames (framer events) of one link past its share of a turn, handled in later turns."""

    def __init__(self, link: Any) -> None:
        self.link = link
        self.events: deque[Any] = deque()
        self.waiting = False
        """Stopped because the peer does not read (``wake`` goes on)."""

    @staticmethod
    def feed(link: Any, events: list[Any]) -> None:
        """Handle ``events`` for ``link``: its share now, the rest in later turns."""
        backlog: Backlog | None = link.backlog
        if backlog is not None:  # a transport that cannot pause delivered more: keep the order
            backlog.events.extend(events)
            return
        if len(events) <= FRAMES_PER_TURN or getattr(link.transport, "reactor", None) is None:
            link.handle(events)
            return
        backlog = link.backlog = Backlog(link)
        backlog.events.extend(events)
        hold(link, "backlog")
        backlog.run()

    def wake(self) -> None:
        if self.waiting:
            self.waiting = False
            self.link.transport.reactor.callLater(0, self.run)

    def run(self) -> None:
        link = self.link
        events = self.events
        if NOT_READING in link.holds and not link.closed:
            self.waiting = True  # its answers would not be read either
            return
        share = [events.popleft() for _ in range(min(FRAMES_PER_TURN, len(events)))]
        link.handle(share)
        if events and not link.closed:
            link.transport.reactor.callLater(0, self.run)
            return
        link.backlog = None
        release(link, "backlog")
