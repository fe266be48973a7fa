"""Endpoint strings: one way to name a link everywhere (lab.toml, ``--listen``, clients).

The string starts with the link kind, which picks an adapter from the registry
(``hardware.registry``); then come the adapter's own parts, then the project's options, which
are valid on every kind and taken out before the adapter sees the string:

========================================================  =========================================
``tcp:5020:interface=127.0.0.1``                          Twisted endpoint syntax (``tcp``,
``tcp:host=127.0.0.1:port=5020``                          ``unix``, ``ssl``), server / client
``tls:5021:certKey=pki/server.pem:caCerts=pki/ca.pem``    TLS with client certificates
``serial:/dev/ttyUSB0:baudrate=9600:bytesize=7:parity=E``  serial line (``hardware.serial_link``)
``mqtt://127.0.0.1:1883/lems``                            MQTT broker and topic prefix
``loop:NAME``                                             in-process loopback
========================================================  =========================================

Project options: ``framing=`` (a name from ``formats.framing.framings()``: ``line``, ``stx``,
``dle``, ``ascii4``…, ``bin2``…, ``length``), ``max_frame=N``, ``idle=SECONDS``,
``heartbeat=SECONDS``, ``write_limit=BYTES`` (see ``hardware.health``), ``eol=crlf|lf|cr`` (the
line ending a line-framed link writes; CR LF by default on serial lines, LF elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import endpoints, protocol
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint

from formats.errors import LemsError
from formats.framing import EOLS, framings, link_framer
from hardware import registry
from hardware.arq import ArqLink, uses_arq
from hardware.link import FramedFactory, FramedProtocol, LinkHandler, framed
from hardware.registry import EndpointError, LinkOptions

__all__ = [
    "PROJECT_OPTIONS",
    "EndpointError",
    "client_for",
    "connect",
    "kind_of",
    "listen",
    "options_of",
    "split",
]

PROJECT_OPTIONS = (
    "framing",
    "max_frame",
    "idle",
    "heartbeat",
    "write_limit",
    "eol",
    "arq",
    "ack_timeout",
    "retries",
)


def kind_of(description: str) -> str:
    """The link kind: the text before the first colon (``mqtt://…`` gives ``mqtt``)."""
    return description.split(":", 1)[0].strip().lower()


def split(description: str) -> tuple[str, str, dict[str, str]]:
    """(kind, the string without project options, the project options)."""
    kind = kind_of(description)
    parts = description.split(":")
    kept, options = [], {}
    for part in parts:
        name, eq, value = part.partition("=")
        if eq and name in PROJECT_OPTIONS:
            options[name] = value
        else:
            kept.append(part)
    return kind, ":".join(kept), options


def options_of(options: dict[str, str], default_max: int) -> LinkOptions:
    """Check and convert the project options."""

    def number(name: str, cast: Any, default: Any) -> Any:
        raw = options.get(name)
        if raw is None:
            return default
        try:
            value = cast(raw)
        except ValueError:
            raise EndpointError(f"{name} must be a number, not {raw!r}") from None
        if value < 0:
            raise EndpointError(f"{name} must not be negative, not {raw!r}")
        return value

    framing = options.get("framing", "line")
    known = framings()
    if framing not in known:
        raise EndpointError(f"unknown framing {framing!r}; known: {', '.join(sorted(known))}")
    max_frame = number("max_frame", int, default_max)
    if max_frame < 1:
        raise EndpointError("max_frame must be at least 1")
    eol = options.get("eol", "").lower()
    if eol and eol not in EOLS:
        raise EndpointError(f"eol must be crlf, lf or cr, not {options['eol']!r}")
    arq = options.get("arq")
    if arq is not None and arq.lower() not in ("0", "1", "on", "off", "true", "false"):
        raise EndpointError(f"arq must be 0 or 1, not {arq!r}")
    timeout = number("ack_timeout", float, None)
    if timeout is not None and timeout <= 0:
        raise EndpointError("ack_timeout must be greater than 0")
    return LinkOptions(
        framing=framing,
        max_frame=max_frame,
        eol=eol,
        arq=None if arq is None else arq.lower() in ("1", "on", "true"),
        ack_timeout=timeout,
        retries=number("retries", int, None),
        idle=number("idle", float, 0.0),
        heartbeat=number("heartbeat", float, 0.0),
        write_limit=number("write_limit", int, registry.DEFAULT_WRITE_LIMIT),
    )


def listen(
    reactor: IReactorTime,
    description: str,
    handler_factory: Callable[[], LinkHandler],
    max_frame: int = 16384,
) -> Deferred[Any]:
    """Listen on ``description``; each connection gets a new handler from ``handler_factory``.

    The Deferred fires with a port (``stopListening()``, ``getHost()``)."""
    return _through_adapter("listen", reactor, description, handler_factory, max_frame)


def connect(
    reactor: IReactorTime, description: str, handler: LinkHandler, max_frame: int = 1 << 22
) -> Deferred[FramedProtocol]:
    """Connect ``handler`` to ``description`` (client syntax: ``tcp:host=127.0.0.1:port=5020``).

    The Deferred fires with the link once it is connected."""
    return _through_adapter("connect", reactor, description, handler, max_frame)


def _through_adapter(
    action: str, reactor: IReactorTime, description: str, handler: Any, max_frame: int
) -> Deferred[Any]:
    """Find the adapter for the string's kind and call its ``listen`` or ``connect``; a bad
    string becomes an ``EndpointError`` that names it."""
    kind, rest, options = split(description)
    adapter = registry.load(kind)
    opts = options_of(options, max_frame)
    try:
        d: Deferred[Any] = getattr(adapter, action)(reactor, rest, handler, opts)
        return d
    except EndpointError:
        raise
    except (ValueError, TypeError, LemsError) as e:
        raise EndpointError(f"bad endpoint {description!r}: {e}") from e


def client_for(server: str) -> str:
    """The client string that reaches a server string on this machine.

    ``tcp:5020:interface=127.0.0.1:framing=stx`` becomes
    ``tcp:host=127.0.0.1:port=5020:framing=stx``; ``tls:`` likewise (the client still needs its
    own ``certKey``); other kinds (``loop:``, ``mqtt://``, ``serial:``) are returned unchanged.
    """
    kind, rest, options = split(server)
    parts = rest.split(":")
    if kind not in ("tcp", "tls") or "host=" in rest:
        return server
    port, host = "", "127.0.0.1"
    kept = []
    for part in parts[1:]:
        name, eq, value = part.partition("=")
        if not eq:
            port = part
        elif name == "port":
            port = value
        elif name == "interface":
            if value not in ("", "0.0.0.0", "::"):
                host = value
        elif name == "caCerts":
            kept.append(part)
    extra = "".join(f":{p}" for p in kept) + "".join(f":{k}={v}" for k, v in options.items())
    return f"{kind}:host={host}:port={port}{extra}"


# ---------------------------------------------------------------------- built-in adapters


class StreamAdapter:
    """``tcp:``, ``unix:``, ``ssl:``: Twisted's endpoint strings, framed."""

    def __init__(self, summary: str, requires: tuple[tuple[str, str], ...] = ()) -> None:
        self.summary = summary
        self.requires = requires

    def listen(
        self,
        reactor: IReactorTime,
        address: str,
        handler_factory: Callable[[], LinkHandler],
        options: LinkOptions,
    ) -> Deferred[Any]:
        ep = endpoints.serverFromString(reactor, address)
        listening: Deferred[Any] = ep.listen(
            self.factory(reactor, handler_factory, options, kind_of(address))
        )
        return listening

    def factory(
        self,
        reactor: IReactorTime,
        handler_factory: Callable[[], LinkHandler],
        options: LinkOptions,
        kind: str,
    ) -> FramedFactory | ArqFactory:
        if uses_arq(link_framer(options.framing, options.max_frame)) and options.arq is not False:
            return ArqFactory(reactor, handler_factory, options, kind)
        return FramedFactory(
            handler_factory,
            options.framing,
            options.max_frame,
            kind,
            clock=reactor,
            idle=options.idle,
            heartbeat=options.heartbeat,
            write_limit=options.write_limit,
            eol=options.eol_bytes(),
        )

    def connect(
        self, reactor: IReactorTime, address: str, handler: LinkHandler, options: LinkOptions
    ) -> Deferred[FramedProtocol]:
        connected: Deferred[FramedProtocol] = endpoints.connectProtocol(
            self.client_endpoint(reactor, address),
            self.protocol(reactor, handler, options, kind_of(address)),
        )
        return connected

    def client_endpoint(self, reactor: IReactorTime, address: str) -> IStreamClientEndpoint:
        """The Twisted endpoint ``connect`` uses (``hardware.reconnect`` connects it again
        and again)."""
        ep: IStreamClientEndpoint = endpoints.clientFromString(reactor, address)
        return ep

    def protocol(
        self, reactor: IReactorTime, handler: LinkHandler, options: LinkOptions, kind: str
    ) -> FramedProtocol:
        if uses_arq(link_framer(options.framing, options.max_frame)) and options.arq is not False:
            return arq_link(reactor, handler, options, kind, "terminal")
        return framed(
            handler,
            options.framing,
            options.max_frame,
            kind,
            clock=reactor,
            idle=options.idle,
            heartbeat=options.heartbeat,
            write_limit=options.write_limit,
            eol=options.eol_bytes(),
            role="terminal",
        )


def arq_link(
    reactor: IReactorTime, handler: LinkHandler, options: LinkOptions, kind: str, role: str
) -> ArqLink:
    """A stream link with stop-and-wait ARQ (``hardware.arq``), as a serial line has."""
    link = ArqLink(
        handler,
        link_framer(options.framing, options.max_frame, role=role),
        kind,
        reactor,
        ack_timeout=options.ack_timeout or 1.0,
        retries=5 if options.retries is None else options.retries,
        role=role,
    )
    link.framing = options.framing
    link.write_limit = options.write_limit
    link.watch(reactor, options.idle, options.heartbeat)
    return link


class ArqFactory(protocol.Factory):
    """One ARQ link and one handler per accepted connection (``stx``/``dle`` over TCP, TLS)."""

    def __init__(
        self,
        reactor: IReactorTime,
        handler_factory: Callable[[], LinkHandler],
        options: LinkOptions,
        kind: str,
    ) -> None:
        self.reactor = reactor
        self.handler_factory = handler_factory
        self.options = options
        self.kind = kind

    def buildProtocol(self, addr: object) -> ArqLink:
        link = arq_link(self.reactor, self.handler_factory(), self.options, self.kind, "switch")
        link.factory = self
        return link


TCP = StreamAdapter("TCP (Twisted endpoints)")
UNIX = StreamAdapter("Unix domain socket (Twisted endpoints)")
SSL = StreamAdapter(
    "TLS, Twisted's own ssl: syntax, no client certificates", (("OpenSSL", "pyOpenSSL"),)
)
STREAM = TCP
"""The stream adapter other modules build on (``hardware.tls``, ``hardware.reconnect``)."""


class LoopAdapter:
    """``loop:NAME``: in-process links (``hardware.loopback``), imported when first used."""

    requires = ()
    summary = "in-process loopback (demos, tests)"

    @staticmethod
    def _name(address: str) -> str:
        name = address.split(":", 1)[1] if ":" in address else ""
        if not name:
            raise EndpointError(f"loop endpoint needs a name: loop:NAME, not {address!r}")
        return name

    def listen(
        self,
        reactor: IReactorTime,
        address: str,
        handler_factory: Callable[[], LinkHandler],
        options: LinkOptions,
    ) -> Deferred[Any]:
        from hardware.loopback import listen_loop

        return listen_loop(
            reactor,
            self._name(address),
            handler_factory,
            options.framing,
            options.max_frame,
            options.eol_bytes(),
        )

    def connect(
        self, reactor: IReactorTime, address: str, handler: LinkHandler, options: LinkOptions
    ) -> Deferred[Any]:
        from hardware.loopback import connect_loop

        return connect_loop(
            reactor,
            self._name(address),
            handler,
            options.framing,
            options.max_frame,
            options.eol_bytes(),
        )


LOOP = LoopAdapter()
