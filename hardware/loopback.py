"""In-process loopback links (``loop:NAME``): two framed ends joined inside one process.

The national endpoints run in the switch's own process by default, yet the switch must be able to
lose them, time out and queue exactly as against a TCP peer. So the loopback is a real link: both
ends are ``FramedProtocol`` objects with a framer, bytes pass through ``Framer.encode``/``feed``,
and writes arrive at the end of the reactor turn (never re-entrantly), like python-can's virtual
bus or pymodbus' NULLMODEM. ``listen_loop`` names a listener in a per-process table;
``connect_loop`` finds it by name, or fails like a refused TCP connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from formats.framing import link_framer
from hardware.link import FramedProtocol, LinkHandler
from hardware.turns import at_turn_end

_LISTENERS: dict[str, LoopPort] = {}
"""Listening loop names in this process."""


@dataclass(frozen=True, slots=True)
class LoopAddress:
    """What ``getPeer``/``getHost`` give for a loop link (``host`` is the loop name)."""

    host: str
    port: int


class _LoopTransport:
    """One direction of a loopback pair: ``write`` feeds the peer protocol on a later turn."""

    def __init__(self, reactor: IReactorTime, name: str, number: int) -> None:
        self.reactor = reactor
        self.address = LoopAddress(name, number)
        self.protocol: FramedProtocol | None = None
        self.peer: _LoopTransport | None = None
        self.disconnecting = False
        self.lost = False
        self._outgoing: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        """Queue ``data`` for the peer. The writes of one reactor turn reach it together at the
        turn's end (``hardware.turns``), as one read, the way TCP coalesces a burst: one call
        per turn, not a timer per frame (a switch under load sends the simulated NCIC
        thousands of frames a second)."""
        if self.disconnecting or self.peer is None or not data:
            return
        if self._outgoing is None:
            self._outgoing = [bytes(data)]
            at_turn_end(self.reactor, self._flush)
        else:
            self._outgoing.append(bytes(data))

    def writeSequence(self, seq: list[bytes]) -> None:
        self.write(b"".join(seq))

    def _flush(self) -> None:
        chunks, self._outgoing = self._outgoing, None
        if chunks and self.peer is not None:
            self.peer._receive(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def _receive(self, data: bytes) -> None:
        if not self.lost and self.protocol is not None:
            self.protocol.dataReceived(data)

    def loseConnection(self) -> None:
        if self.disconnecting:
            return
        self.disconnecting = True
        self.reactor.callLater(0, self._lose)
        if self.peer is not None and not self.peer.disconnecting:
            self.peer.disconnecting = True
            self.reactor.callLater(0, self.peer._lose)

    abortConnection = loseConnection

    def _lose(self) -> None:
        if self.lost:
            return
        self.lost = True
        if self.protocol is not None:
            self.protocol.connectionLost(Failure(ConnectionDone("loop link closed")))

    def getPeer(self) -> LoopAddress:
        return self.peer.address if self.peer is not None else self.address

    def getHost(self) -> LoopAddress:
        return self.address


class LoopPort:
    """A listening loop name; ``stopListening`` removes it and closes its links."""

    def __init__(
        self,
        reactor: IReactorTime,
        name: str,
        handler_factory: Callable[[], LinkHandler],
        framing: str,
        max_length: int,
    ) -> None:
        self.reactor = reactor
        self.name = name
        self.handler_factory = handler_factory
        self.framing = framing
        self.max_length = max_length
        self.eol = b"\n"
        self.links: list[_LoopTransport] = []
        self.count = 0

    def getHost(self) -> LoopAddress:
        return LoopAddress(self.name, 0)

    def stopListening(self) -> Deferred[None]:
        if _LISTENERS.get(self.name) is self:
            del _LISTENERS[self.name]
        for t in self.links:
            t.loseConnection()
        self.links.clear()
        return succeed(None)


def listen_loop(
    reactor: IReactorTime,
    name: str,
    handler_factory: Callable[[], LinkHandler],
    framing: str = "line",
    max_length: int = 16384,
    eol: bytes = b"\n",
) -> Deferred[LoopPort]:
    """Listen on ``loop:NAME``; each connection gets a new handler from ``handler_factory``."""
    if name in _LISTENERS:
        from twisted.internet.error import CannotListenError

        return fail(CannotListenError("loop", name, "loop name already in use"))
    link_framer(framing, max_length, eol=eol)  # refuse a bad framing at once
    port = LoopPort(reactor, name, handler_factory, framing, max_length)
    port.eol = eol
    _LISTENERS[name] = port
    return succeed(port)


def connect_loop(
    reactor: IReactorTime,
    name: str,
    handler: LinkHandler,
    framing: str = "line",
    max_length: int = 1 << 22,
    eol: bytes = b"\n",
) -> Deferred[FramedProtocol]:
    """Connect to ``loop:NAME``; fires with the client end once both ends are made."""
    port = _LISTENERS.get(name)
    if port is None:
        return fail(ConnectionRefusedError(f"no loop listener named {name!r}"))
    port.count += 1
    server_t = _LoopTransport(reactor, name, port.count)
    client_t = _LoopTransport(reactor, f"{name}-client", port.count)
    server_t.peer, client_t.peer = client_t, server_t
    server = FramedProtocol(
        port.handler_factory(), link_framer(port.framing, port.max_length, eol=port.eol), "loop"
    )
    client = FramedProtocol(
        handler, link_framer(framing, max_length, eol=eol, role="terminal"), "loop"
    )
    server_t.protocol, client_t.protocol = server, client
    port.links.append(server_t)
    # Twisted's makeConnection has no annotations (untyped_calls_exclude misses inherited ones)
    server.makeConnection(server_t)  # type: ignore[no-untyped-call]
    client.makeConnection(client_t)  # type: ignore[no-untyped-call]
    return succeed(client)
