"""A framed link: a Twisted protocol that turns bytes into frames for a handler.

The protocol stays thin, like ``twisted.protocols.basic``: ``dataReceived`` feeds the framer and
dispatches its events; the handler (a switch session, a terminal client) decides what they mean.
A handler that raises is logged and the link goes on: one bad message must not kill a link,
still less another terminal's.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet import protocol
from twisted.internet.interfaces import (
    IAddress,
    IHalfCloseableProtocol,
    IPushProducer,
    IReactorTime,
    ITransport,
)
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from formats.framing import BadFrame, Control, Frame, Framer, link_framer
from hardware import direct, fair
from hardware.health import Watchdog
from hardware.turns import at_turn_end

log = Logger()

DEFAULT_WRITE_LIMIT = 1 << 20
"""Bytes a link may have waiting in its output buffer before the peer counts as stuck."""


class Link(Protocol):
    """What a handler can do with its link."""

    kind: str
    peer: str

    def send(self, payload: bytes) -> None: ...
    def send_raw(self, data: bytes) -> None: ...
    def ack(self) -> None: ...
    def nak(self) -> None: ...
    def close(self) -> None: ...


class LinkHandler(Protocol):
    """What a link tells its handler."""

    def link_made(self, link: Link) -> None: ...
    def frame_received(self, payload: bytes) -> None: ...
    def bad_frame(self, reason: str, raw: bytes) -> None: ...
    def control_received(self, code: int) -> None: ...
    def link_lost(self, reason: str) -> None: ...


class DrainingHandler(LinkHandler, Protocol):
    """A handler that wants to hear that the peer shut its write side (a half-close, as
    ``nc -N`` and socat do): it answers what it got, then closes the link itself. A handler
    without ``input_ended`` has the link closed once what was written is sent."""

    def input_ended(self) -> None: ...


class WritableHandler(LinkHandler, Protocol):
    """A handler that holds output back while the peer does not read (a mailbox backlog is
    sent a page at a time, and only while the peer takes it): ``link_writable`` tells it the
    peer reads again. A handler without it is not told."""

    def link_writable(self) -> None: ...


class RelayHandler:
    """A handler in front of another: passes every event on, then ``after_lost`` when the link
    is gone (reconnectors and listeners that reopen a device hook in there)."""

    def __init__(self, inner: LinkHandler) -> None:
        self.inner = inner
        self.link: Any = None

    def link_made(self, link: Any) -> None:
        self.link = link
        self.inner.link_made(link)

    def frame_received(self, payload: bytes) -> None:
        self.inner.frame_received(payload)

    def bad_frame(self, reason: str, raw: bytes) -> None:
        self.inner.bad_frame(reason, raw)

    def control_received(self, code: int) -> None:
        self.inner.control_received(code)

    def link_writable(self) -> None:
        writable = getattr(self.inner, "link_writable", None)
        if writable is not None:
            writable()

    def input_ended(self) -> None:
        ended = getattr(self.inner, "input_ended", None)
        if ended is not None:
            ended()
        elif self.link is not None:
            self.link.close()

    def link_lost(self, reason: str) -> None:
        try:
            self.inner.link_lost(reason)
        finally:
            self.after_lost()

    def after_lost(self) -> None:
        """Called once the inner handler has heard of the loss."""


@implementer(IHalfCloseableProtocol, IPushProducer)
class FramedProtocol(protocol.Protocol):
    """A byte stream with a framer in front of a handler; works on any Twisted transport.

    Health (``hardware.health``): the protocol is a streaming producer for its transport, so it
    knows when the peer stops reading; bytes written while paused are counted and a peer owing
    more than ``write_limit`` is dropped instead of growing the switch's memory. ``watch`` adds
    an idle timeout and heartbeats.
    """

    framing = "line"
    write_limit = DEFAULT_WRITE_LIMIT
    transport: ITransport
    """Set by ``makeConnection`` before any event reaches the protocol (never None here)."""

    def __init__(self, handler: LinkHandler, framer: Framer, kind: str = "tcp") -> None:
        self.handler = handler
        self.framer = framer
        self.kind = kind
        self.peer = ""
        self.closed = False
        self.paused = False
        self.owed = 0
        """Bytes written since the transport last asked us to pause (0 while not paused)."""
        self.watchdog: Watchdog | None = None
        self.lost_reason = ""
        self.direct = False
        """A plain TCP or UNIX socket: frames are sent by ``_send_pending`` at the end of the
        reactor turn (see ``Outbox``) instead of through the transport's queue."""
        self._outbox: Outbox | None = None
        """The reactor's outbox (direct links only)."""
        self._pending: list[bytes] | None = None
        """Frames written this reactor turn, not yet sent (direct links only)."""
        self.holds: set[str] = set()
        """Why the link is not read now (``hardware.fair``); read again when empty."""
        self.backlog: fair.Backlog | None = None
        """Frames past this turn's share, handled in the next turns (``hardware.fair``)."""
        self.stall: Any = None
        """The call that drops the link if its peer reads nothing for a while."""

    @property
    def identity(self) -> str | None:
        """Who the peer's verified certificate names (TLS links): its first subjectAltName DNS
        name, else its common name; None without a certificate."""
        handle = getattr(self.transport, "getHandle", lambda: None)()
        get = getattr(handle, "get_peer_certificate", None)
        if get is None:
            return None
        try:
            cert = get(as_cryptography=True)
        except Exception:
            return None
        if cert is None:
            return None
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        try:  # the subjectAltName first (RFC 6125), then the common name
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns = san.get_values_for_type(x509.DNSName)
            if dns:
                return str(dns[0])
        except x509.ExtensionNotFound:
            pass
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[0].value) if names else None

    def watch(self, clock: IReactorTime, idle: float = 0.0, heartbeat: float = 0.0) -> None:
        """Close the link after ``idle`` silent seconds; send a keepalive after ``heartbeat``
        seconds without output (0 turns either off). Call before the connection is made."""
        if idle > 0 or heartbeat > 0:
            keepalive = self.framer.keepalive()
            self.watchdog = Watchdog(
                clock,
                idle,
                heartbeat,
                self._idle,
                lambda: self._write(keepalive) if keepalive else None,
            )

    def connectionMade(self) -> None:
        t = self.transport
        try:
            p = t.getPeer()
            self.peer = f"{self.kind}:{getattr(p, 'host', '')}:{getattr(p, 'port', '')}".rstrip(":")
        except Exception:
            self.peer = self.kind
        # a transport that takes no producer has no back-pressure to watch. registerProducer is
        # IConsumer's; TLS has it without declaring IConsumer, so it is looked up, not adapted
        with contextlib.suppress(Exception):
            self.transport.registerProducer(self, True)  # type: ignore[attr-defined]
        if direct.usable(t) and IReactorTime.providedBy(t.reactor):
            self.direct = True
            self._outbox = Outbox.of(t.reactor)
        if self.watchdog is not None:
            self.watchdog.start()
        self._call(self.handler.link_made, self)

    # IPushProducer: the transport tells us when the peer stops and starts reading again.
    def pauseProducing(self) -> None:
        """The peer does not read: read nothing more from it meanwhile, so it cannot make the
        switch produce answers it will not take (``hardware.fair``). Plain sockets only: TLS
        pauses its producer during a handshake, which needs reading to finish."""
        self.paused = True
        if self.direct:
            fair.hold(self, fair.NOT_READING)

    def resumeProducing(self) -> None:
        self.paused = False
        self.owed = 0
        fair.release(self, fair.NOT_READING)
        writable = getattr(self.handler, "link_writable", None)
        if writable is not None:
            self._call(writable)

    def stopProducing(self) -> None:
        self.paused = False

    def _write(self, data: bytes) -> None:
        if self.closed:
            return
        if self.paused:
            self.owed += len(data)
            if self.owed > self.write_limit:
                log.warn(
                    "peer {peer} does not read: {owed} bytes owed, link dropped",
                    peer=self.peer,
                    owed=self.owed,
                )
                self.lost_reason = fair.NOT_READING
                self.abort()
                return
        if self._outbox is None:
            self.transport.write(data)
        elif self._pending is None:
            self._pending = [data]
            self._outbox.add(self)
        else:
            self._pending.append(data)
        if self.watchdog is not None:
            self.watchdog.sent()

    def _send_pending(self) -> None:
        """Send this turn's frames in one write (``hardware.direct``: straight to the socket
        when the transport holds nothing, so order, back-pressure and error handling stay the
        transport's)."""
        frames, self._pending = self._pending, None
        if not frames or not self.connected:
            return
        direct.send(self.transport, frames[0] if len(frames) == 1 else b"".join(frames))

    def _idle(self) -> None:
        log.info("link {peer} idle too long, closed", peer=self.peer)
        self.lost_reason = "idle timeout"
        self.abort()

    def abort(self) -> None:
        """Drop the link now, discarding what is buffered for the peer."""
        if not self.closed:
            self.closed = True
            self._pending = None
            abort = getattr(self.transport, "abortConnection", None)
            if abort is not None:
                abort()
            else:
                self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        if self.watchdog is not None:
            self.watchdog.received()
        fair.Backlog.feed(self, self.framer.feed(data))

    def handle(self, events: list[Any]) -> None:
        """Pass framer events to the handler (``hardware.fair`` decides when)."""
        handler = self.handler
        for event in events:
            if self.closed:
                return
            try:  # (free in CPython 3.11 until something raises)
                if type(event) is Frame:
                    handler.frame_received(event.payload)
                elif type(event) is BadFrame:
                    handler.bad_frame(event.reason, event.raw)
                elif type(event) is Control:
                    handler.control_received(event.code)
            except Exception:
                log.failure("link handler failed on {peer}; the link goes on", peer=self.peer)

    # IHalfCloseableProtocol: a peer that shuts its write side still reads the answers.
    def readConnectionLost(self) -> None:
        ended = getattr(self.handler, "input_ended", None)
        if ended is None:
            self.close()
        else:
            self._call(ended)

    def writeConnectionLost(self) -> None:
        self.abort()

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        backlog = self.backlog
        if backlog is not None and backlog.events and not self.closed:
            # frames read before the peer closed are handled, not dropped with the backlog (a
            # transport that cannot stop reading, as loopback, reports the close at once)
            events = list(backlog.events)
            backlog.events.clear()
            self.handle(events)
        self.closed = True
        self._pending = None
        fair.release(self, fair.NOT_READING)  # (its timer)
        if self.watchdog is not None:
            self.watchdog.stop()
        self._call(self.handler.link_lost, self.lost_reason or reason.getErrorMessage())

    def send(self, payload: bytes) -> None:
        if not self.closed:
            self._write(self.framer.encode(payload))

    def send_raw(self, data: bytes) -> None:
        if not self.closed and data:
            self._write(data)

    def ack(self) -> None:
        """Link-level positive reply for the last frame (nothing on framings without one)."""
        self.send_raw(self.framer.ack())

    def nak(self) -> None:
        """Link-level negative reply: the peer should retransmit."""
        self.send_raw(self.framer.nak())

    def close(self) -> None:
        if fair.NOT_READING in self.holds:  # what is buffered would never go: do not wait on it
            self.abort()
        if not self.closed:
            self._send_pending()  # what was written before the close still goes
            self.closed = True
            # TLS waits for a registered producer before it shuts down: unregister first
            with contextlib.suppress(Exception):
                self.transport.unregisterProducer()  # type: ignore[attr-defined]
            self.transport.loseConnection()

    def _call(self, fn: object, *args: object) -> None:
        try:
            fn(*args)  # type: ignore[operator]
        except Exception:
            log.failure("link handler failed on {peer}; the link goes on", peer=self.peer)


class Outbox:
    """The direct links written to during one reactor turn; at its end (``at_turn_end``) each
    sends what it was given in one write.

    Why: a Twisted transport queues every write and sends it on a later turn after asking the
    poller to watch the socket for room and then to stop: two ``epoll_ctl`` calls and one more
    event per frame, about a fifth of the switch's reactor time per transaction. Sending at once
    instead (as asyncio's own transports do) pays one system call per frame on a link that
    carries many frames a turn (it halved tools/bench_links.py's pipelined rate); collecting
    them to the end of the turn pays one per link per turn.
    """

    _by_reactor: weakref.WeakKeyDictionary[Any, Outbox] = weakref.WeakKeyDictionary()

    def __init__(self, reactor: IReactorTime) -> None:
        self.reactor = reactor
        self.links: list[FramedProtocol] = []

    @classmethod
    def of(cls, reactor: IReactorTime) -> Outbox:
        outbox = cls._by_reactor.get(reactor)
        if outbox is None:
            outbox = cls._by_reactor[reactor] = cls(reactor)
        return outbox

    def add(self, link: FramedProtocol) -> None:
        if not self.links:
            at_turn_end(self.reactor, self.send)
        self.links.append(link)

    def send(self) -> None:
        links, self.links = self.links, []
        for link in links:
            try:
                link._send_pending()
            except Exception:
                log.failure("sending to {peer} failed", peer=link.peer)


def framed(
    handler: LinkHandler,
    framing: str = "line",
    max_length: int = 16384,
    kind: str = "tcp",
    *,
    clock: IReactorTime | None = None,
    idle: float = 0.0,
    heartbeat: float = 0.0,
    write_limit: int = DEFAULT_WRITE_LIMIT,
    eol: bytes = b"\n",
    role: str = "switch",
) -> FramedProtocol:
    """A framed protocol for ``handler`` with the health settings applied; ``role`` says which
    end it is (a line link reads a terminal's input on the switch's end, output on the other)."""
    p = FramedProtocol(handler, link_framer(framing, max_length, eol=eol, role=role), kind)
    p.framing = framing
    p.write_limit = write_limit
    if clock is not None:
        p.watch(clock, idle, heartbeat)
    return p


class FramedFactory(protocol.Factory):
    """Makes one framed protocol and one handler per accepted connection."""

    def __init__(
        self,
        handler_factory: Callable[[], LinkHandler],
        framing: str = "line",
        max_length: int = 16384,
        kind: str = "tcp",
        *,
        clock: IReactorTime | None = None,
        idle: float = 0.0,
        heartbeat: float = 0.0,
        write_limit: int = DEFAULT_WRITE_LIMIT,
        eol: bytes = b"\n",
    ) -> None:
        self.handler_factory = handler_factory
        self.framing = framing
        self.max_length = max_length
        self.kind = kind
        self.clock = clock
        self.idle = idle
        self.heartbeat = heartbeat
        self.write_limit = write_limit
        self.eol = eol
        link_framer(framing, max_length, eol=eol)  # refuse a bad framing at start

    def buildProtocol(self, addr: IAddress | None) -> FramedProtocol:
        p = framed(
            self.handler_factory(),
            self.framing,
            self.max_length,
            self.kind,
            clock=self.clock,
            idle=self.idle,
            heartbeat=self.heartbeat,
            write_limit=self.write_limit,
            eol=self.eol,
        )
        p.factory = self
        return p
