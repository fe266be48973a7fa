"""Outbound stream links that reconnect by themselves: Twisted's ``ClientService`` with its
``backoffPolicy``, in front of a link handler.

Why Twisted's: ``ClientService`` already has the state machine a reconnector needs (connecting,
waiting, connected, stopping while any of those) and is tested by Twisted; a hand-made loop
had to get every one of those transitions right again. Serial lines and MQTT brokers reopen
themselves inside their adapters (``hardware.serial_link``, ``hardware.mqtt_link``); this is for
the kinds whose adapter has a Twisted client endpoint (``tcp:``, ``unix:``, ``ssl:``, ``tls:``).

This module sits above ``hardware.endpoints``: nothing in ``hardware`` imports it.
"""

from __future__ import annotations

import random
from typing import Any

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet import protocol
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress, IProtocol, IReactorTime

from hardware import registry
from hardware.endpoints import STREAM, kind_of, options_of, split
from hardware.health import Backoff
from hardware.link import FramedProtocol, LinkHandler
from hardware.registry import EndpointError, LinkOptions


class _LinkFactory(protocol.Factory):
    """A new framed link for the same handler on every connection."""

    def __init__(
        self, reactor: IReactorTime, handler: LinkHandler, options: LinkOptions, kind: str
    ) -> None:
        self.reactor = reactor
        self.handler = handler
        self.options = options
        self.kind = kind

    def buildProtocol(self, addr: IAddress | None) -> FramedProtocol:
        link = STREAM.protocol(self.reactor, self.handler, self.options, self.kind)
        link.factory = self
        return link


class Reconnecting:
    """A link kept connected until ``stop()``; ``connections`` counts the connections made."""

    def __init__(self, service: ClientService) -> None:
        self.service = service
        self.connections = 0

    def _made(self, link: IProtocol) -> None:
        self.connections += 1

    def when_connected(self) -> Deferred[IProtocol]:
        """The link now, or the next one made."""
        return self.service.whenConnected()

    def stop(self) -> Deferred[None]:
        """Close the link and make no more attempts; fires once the link is closed."""
        d: Deferred[None] = self.service.stopService()
        return d


def policy(backoff: Backoff) -> Any:
    """Twisted's ``backoffPolicy`` with ``backoff``'s figures (its jitter, a fraction of the
    delay in ``Backoff``, becomes up to that fraction of the first delay)."""
    return backoffPolicy(
        initialDelay=backoff.initial,
        maxDelay=backoff.maximum,
        factor=backoff.factor,
        jitter=lambda: random.uniform(0, backoff.jitter * backoff.initial),
    )


def keep_connected(
    reactor: IReactorTime, description: str, handler: LinkHandler, backoff: Backoff | None = None
) -> Reconnecting:
    """Connect ``handler`` to ``description`` and reconnect with back-off whenever the link is
    lost or cannot be made. The same handler sees ``link_made``/``link_lost`` once per
    connection. ``EndpointError`` if the link kind has no Twisted client endpoint."""
    kind, rest, options = split(description)
    adapter = registry.load(kind)
    endpoint_of = getattr(adapter, "client_endpoint", None)
    if endpoint_of is None:
        raise EndpointError(
            f"link kind {kind!r} does not reconnect through keep_connected "
            "(its adapter reopens the link itself)"
        )
    endpoint = endpoint_of(reactor, rest)
    factory = _LinkFactory(reactor, handler, options_of(options, 1 << 22), kind_of(rest))
    keeper: Reconnecting
    service = ClientService(
        endpoint,
        factory,
        retryPolicy=policy(backoff or Backoff()),
        clock=reactor,
        prepareConnection=lambda p: keeper._made(p),
    )
    keeper = Reconnecting(service)
    service.startService()
    return keeper
