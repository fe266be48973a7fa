"""A framed link: a Twisted protocol that turns bytes into frames for a handler.

The protocol stays thin, like ``twisted.protocols.basic``: ``dataReceived`` feeds the framer and
dispatches its events; the handler (a switch session, a terminal client) decides what they mean.
A handler that raises is logged and the link goes on: one bad message must not kill a link,
still less another terminal's.
"""

from __future__ import annotations

from typing import Protocol

from twisted.internet import protocol
from twisted.internet.interfaces import ITransport
from twisted.logger import Logger
from twisted.python.failure import Failure

from formats.framing import BadFrame, Control, Frame, Framer, make_framer

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


class FramedProtocol(protocol.Protocol):
    """A byte stream with a framer in front of a handler; works on any Twisted transport."""

    def __init__(self, handler: LinkHandler, framer: Framer, kind: str = "tcp") -> None:
        self.handler = handler
        self.framer = framer
        self.kind = kind
        self.peer = ""
        self.closed = False

    def connectionMade(self) -> None:
        t: ITransport = self.transport
        try:
            p = t.getPeer()
            self.peer = f"{self.kind}:{getattr(p, 'host', '')}:{getattr(p, 'port', '')}".rstrip(":")
        except Exception:
            self.peer = self.kind
        self._call(self.handler.link_made, self)

    def dataReceived(self, data: bytes) -> None:
        for event in self.framer.feed(data):
            if self.closed:
                return
            if type(event) is Frame:
                self._call(self.handler.frame_received, event.payload)
            elif type(event) is BadFrame:
                self._call(self.handler.bad_frame, event.reason, event.raw)
            elif type(event) is Control:
                self._call(self.handler.control_received, event.code)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.closed = True
        self._call(self.handler.link_lost, reason.getErrorMessage())

    def send(self, payload: bytes) -> None:
        if not self.closed:
            self.transport.write(self.framer.encode(payload))

    def send_raw(self, data: bytes) -> None:
        if not self.closed and data:
            self.transport.write(data)

    def ack(self) -> None:
        """Link-level positive reply for the last frame (nothing on framings without one)."""
        self.send_raw(self.framer.ack())

    def nak(self) -> None:
        """Link-level negative reply: the peer should retransmit."""
        self.send_raw(self.framer.nak())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.loseConnection()

    def _call(self, fn: object, *args: object) -> None:
        try:
            fn(*args)  # type: ignore[operator]
        except Exception:
            log.failure("link handler failed on {peer}; the link goes on", peer=self.peer)


class FramedFactory(protocol.Factory):
    """Makes one framed protocol and one handler per accepted connection."""

    def __init__(self, handler_factory: object, framing: str = "line", max_length: int = 16384,
                 kind: str = "tcp") -> None:
        self.handler_factory = handler_factory
        self.framing = framing
        self.max_length = max_length
        self.kind = kind
        make_framer(framing, max_length=max_length)  # refuse a bad framing at start

    def buildProtocol(self, addr: object) -> FramedProtocol:
        p = FramedProtocol(self.handler_factory(),  # type: ignore[operator]
                           make_framer(self.framing, max_length=self.max_length), self.kind)
        p.factory = self
        return p
