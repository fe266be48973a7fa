"""Endpoint strings: one way to name a link everywhere (lab.toml, ``--listen``, clients).

``tcp:5020:interface=127.0.0.1:framing=line`` — Twisted's own endpoint syntax for ``tcp:``,
``tls:``/``ssl:`` and ``unix:``, plus the project's options ``framing=line|stx|length`` and
``max_frame=N``, which are taken out before Twisted sees the string.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import endpoints
from twisted.internet.defer import Deferred

from formats.errors import LemsError
from hardware.link import FramedFactory, FramedProtocol, LinkHandler

TWISTED_KINDS = ("tcp", "tls", "ssl", "unix")
PROJECT_OPTIONS = ("framing", "max_frame")


class EndpointError(LemsError):
    """An endpoint string that cannot be used."""


def split(description: str) -> tuple[str, str, dict[str, str]]:
    """(kind, the string without project options, the project options)."""
    kind = description.split(":", 1)[0].lower()
    parts = description.split(":")
    kept, options = [], {}
    for part in parts:
        name, eq, value = part.partition("=")
        if eq and name in PROJECT_OPTIONS:
            options[name] = value
        else:
            kept.append(part)
    return kind, ":".join(kept), options


def _framing(options: dict[str, str], default_max: int) -> tuple[str, int]:
    framing = options.get("framing", "line")
    try:
        max_frame = int(options.get("max_frame", default_max))
    except ValueError:
        raise EndpointError(f"max_frame must be a number, not {options['max_frame']!r}") from None
    return framing, max_frame


def listen(reactor: Any, description: str, handler_factory: Callable[[], LinkHandler],
           max_frame: int = 16384) -> Deferred[Any]:
    """Listen on ``description``; each connection gets a new handler from ``handler_factory``."""
    kind, rest, options = split(description)
    if kind not in TWISTED_KINDS:
        raise EndpointError(f"unknown link kind {kind!r} in {description!r}; "
                            f"known: {', '.join(TWISTED_KINDS)}")
    framing, max_len = _framing(options, max_frame)
    try:
        ep = endpoints.serverFromString(reactor, rest)
        factory = FramedFactory(handler_factory, framing, max_len, kind)
    except (ValueError, TypeError, LemsError) as e:
        raise EndpointError(f"bad endpoint {description!r}: {e}") from e
    return ep.listen(factory)


def connect(reactor: Any, description: str, handler: LinkHandler,
            max_frame: int = 1 << 22) -> Deferred[FramedProtocol]:
    """Connect to ``description`` (client syntax: ``tcp:host=127.0.0.1:port=5020``)."""
    from formats.framing import make_framer

    kind, rest, options = split(description)
    if kind not in TWISTED_KINDS:
        raise EndpointError(f"unknown link kind {kind!r} in {description!r}")
    framing, max_len = _framing(options, max_frame)
    try:
        ep = endpoints.clientFromString(reactor, rest)
    except (ValueError, TypeError) as e:
        raise EndpointError(f"bad endpoint {description!r}: {e}") from e
    proto = FramedProtocol(handler, make_framer(framing, max_length=max_len), kind)
    return endpoints.connectProtocol(ep, proto)


def client_for(server: str) -> str:
    """The client string that reaches a server string on this machine.

    ``tcp:5020:interface=127.0.0.1:framing=stx`` becomes
    ``tcp:host=127.0.0.1:port=5020:framing=stx``; a client string is returned unchanged.
    """
    kind, rest, options = split(server)
    parts = rest.split(":")
    if kind != "tcp" or "host=" in rest:
        return server
    port, host = "", "127.0.0.1"
    for part in parts[1:]:
        name, eq, value = part.partition("=")
        if not eq:
            port = part
        elif name == "port":
            port = value
        elif name == "interface" and value not in ("", "0.0.0.0", "::"):
            host = value
    extra = "".join(f":{k}={v}" for k, v in options.items())
    return f"tcp:host={host}:port={port}{extra}"
