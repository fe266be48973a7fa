"""The accept gate: a connection from an address over its limits is closed as it is accepted.

Why here and not in the session: a flooding peer that reconnects whenever it is closed makes
the switch accept thousands of connections a second. Refused after a protocol, a session, a
sign-on deadline and a journal row were made, each cost the honest terminals latency
(tools/bench_guardrails.py measured 3.5x their p99). Refused in the listening port's
``buildProtocol`` (Twisted then just closes the accepted socket), a refused connection costs an
``accept`` and a ``close``, nothing else.

Two limits per source address, both from ``lab.toml``:

* its rate (``source_frames``): every new link costs its address one frame of the rate the
  address has before sign-on (``lems.limits``), taken here, at accept; and an address whose
  links had a frame refused for that rate (frames or bytes) in the last second gets no new link;
* ``source_links``: links from one address not signed on at once (IBM MQ's ``MAXINST`` per
  channel is the same idea); a link that signs on no longer counts.

Refusals are counted (``stats``), and journaled and logged once per ``SUMMARY_EVERY`` seconds
per address as one summary row, never one row per connection.

A refused connection is held for ``HOLD`` seconds, unread, then dropped (a tarpit, as mail servers
do to spammers), up to ``HELD_PER_ADDRESS`` per address and ``HELD_MAX`` in all; past that it is
closed at once. A peer that reconnects as soon as it is closed then waits out its refusal instead
of making the switch accept and close its connections thousands of times a second
(tools/bench_guardrails.py: ~2,300 a second from four flooding connections).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet import protocol
from twisted.logger import Logger

from lems.limits import Rates

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime

log = Logger()

SUMMARY_EVERY = 10.0
"""Seconds between two summary rows (and log lines) for one address."""

HOLD = 1.0
"""Seconds a refused connection is held, unread, before it is dropped."""

HELD_PER_ADDRESS = 16
HELD_MAX = 256
"""Refused connections held at once, per address and in all (each holds a file descriptor)."""

MAX_ADDRESSES = 10_000
"""Addresses tracked at once; beyond that the oldest entries are forgotten (bounded memory)."""


def framed(protocol: Any) -> Any:
    """The framed link inside what a factory built (TLS wraps it in a protocol of its own)."""
    return getattr(protocol, "wrappedProtocol", protocol)


def kind_of(factory: Any) -> str:
    """The link kind a factory's links name their peers with (``tcp``, ``tls``)."""
    kind = getattr(factory, "kind", None) or getattr(
        getattr(factory, "wrappedFactory", None), "kind", None
    )
    return kind if isinstance(kind, str) else "tcp"


class AcceptGate:
    """Decides at accept, from the source address alone, whether a connection gets a link.

    ``signed_on(protocol)`` tells whether a link made earlier has signed on; ``summary(host,
    text)`` journals one summary row of refusals.
    """

    def __init__(
        self,
        rates: Rates,
        max_unsigned: int,
        reactor: IReactorTime,
        signed_on: Callable[[Any], bool],
        summary: Callable[[str, str], None],
        stats: Counter[str],
    ) -> None:
        self.rates = rates
        self.max_unsigned = max_unsigned
        self.reactor = reactor
        self.signed_on = signed_on
        self.summary = summary
        self.unsigned: dict[str, list[Any]] = {}
        """Per address, the links made that may still be open and not signed on."""
        self.refused: dict[str, Counter[str]] = {}
        """Per address, refusals not summarised yet, by reason."""
        self.stats = stats
        self._flush: Any = None
        self.held: Counter[str] = Counter()
        """Refused connections being held, per address."""
        self.tarpits: set[Tarpit] = set()

    def guard(self, port: Any) -> bool:
        """Put the gate in front of a listening port's factory; False if the port has none
        (in-process or broker links: the switch's own per-link checks apply)."""
        factory = getattr(port, "factory", None)
        if factory is None or isinstance(factory, GatedFactory):
            return False
        port.factory = GatedFactory(factory, self)
        return True

    def admit(self, host: str) -> str:
        """'' if a new connection from ``host`` may have a link, else why not."""
        if not host:
            return ""
        links = self.unsigned.get(host)
        if links is not None:
            links[:] = [p for p in links if not p.closed and not self.signed_on(p)]
            if not links:
                del self.unsigned[host]
            elif 0 < self.max_unsigned <= len(links):
                return "unsigned"
        bucket = self.rates.buckets.get(host)
        if bucket is not None and self.rates.now() - bucket.refused_at < 1.0:
            return "rate"  # its links were refused a frame for its rate within the second
        if self.rates.allow(host, 0) is not None:
            return "rate"
        return ""

    def admitted(self, host: str, protocol: Any) -> None:
        if not host or self.max_unsigned <= 0:
            return
        if host not in self.unsigned and len(self.unsigned) >= MAX_ADDRESSES:
            self.unsigned.pop(next(iter(self.unsigned)))
        self.unsigned.setdefault(host, []).append(framed(protocol))

    def refuse(self, host: str, reason: str) -> None:
        self.stats[f"links_refused_{reason}"] += 1
        counts = self.refused.get(host)
        if counts is None:
            if len(self.refused) >= MAX_ADDRESSES:
                host = "OTHER ADDRESSES"
            counts = self.refused.setdefault(host, Counter())
        counts[reason] += 1
        if self._flush is None:
            self._flush = self.reactor.callLater(SUMMARY_EVERY, self.flush)

    def hold(self, host: str) -> Tarpit | None:
        """A protocol that holds a refused connection from ``host``; None: close it at once."""
        if self.held[host] >= HELD_PER_ADDRESS or sum(self.held.values()) >= HELD_MAX:
            if not self.held[host]:
                del self.held[host]
            return None
        self.held[host] += 1
        self.stats["links_held"] += 1
        pit = Tarpit(self, host)
        self.tarpits.add(pit)
        return pit

    def flush(self) -> None:
        """One summary row and one log line per address refused since the last flush."""
        self._flush = None
        refused, self.refused = self.refused, {}
        for host, counts in refused.items():
            parts = []
            if counts["rate"]:
                parts.append(f"{counts['rate']} OVER ITS RATE ({self.rates.describe()})")
            if counts["unsigned"]:
                parts.append(
                    f"{counts['unsigned']} OVER {self.max_unsigned} LINKS NOT SIGNED ON AT ONCE"
                )
            text = (
                f"LINKS REFUSED AT ACCEPT FROM {host.upper()} IN THE LAST "
                f"{SUMMARY_EVERY:g} SECONDS: {'; '.join(parts)}"
            )
            log.warn("{text}", text=text)
            self.summary(host, text)

    def stop(self) -> None:
        """Drop the connections held; summarise what is pending now (the switch stops)."""
        for pit in list(self.tarpits):
            pit._drop()
        if self._flush is not None and self._flush.active():
            self._flush.cancel()
            self.flush()
        self._flush = None


class GatedFactory:
    """A listening port's factory behind the gate: ``buildProtocol`` returns None (Twisted then
    closes the accepted socket) for an address over its limits; the rest is the inner
    factory's."""

    def __init__(self, inner: Any, gate: AcceptGate) -> None:
        self.inner = inner
        self.gate = gate
        self.kind = kind_of(inner)

    def buildProtocol(self, addr: Any) -> Any:
        ip = getattr(addr, "host", None)
        host = f"{self.kind}:{ip}" if ip else ""  # as the switch names a link's address
        why = self.gate.admit(host)
        if why:
            self.gate.refuse(host, why)
            return self.gate.hold(host)
        p = self.inner.buildProtocol(addr)
        if p is not None:
            framed(p).gated = True  # the switch does not charge the rate a second time
            self.gate.admitted(host, p)
        return p

    def __getattr__(self, name: str) -> Any:  # doStart, doStop, logPrefix, ...
        return getattr(self.inner, name)


class Tarpit(protocol.Protocol):
    """A refused connection: not read, nothing sent, dropped after ``HOLD`` seconds."""

    def __init__(self, gate: AcceptGate, host: str) -> None:
        self.gate = gate
        self.host = host
        self.drop: Any = None

    def connectionMade(self) -> None:
        self.transport.pauseProducing()  # type: ignore[union-attr]
        self.drop = self.gate.reactor.callLater(HOLD, self._drop)

    def _drop(self) -> None:
        if self.drop is not None and self.drop.active():
            self.drop.cancel()
        self.drop = None
        transport: Any = self.transport
        if transport is not None:
            getattr(transport, "abortConnection", transport.loseConnection)()

    def connectionLost(self, reason: Any = None) -> None:
        if self.drop is not None and self.drop.active():
            self.drop.cancel()
        self.drop = None
        self.gate.tarpits.discard(self)
        held = self.gate.held
        held[self.host] -= 1
        if held[self.host] <= 0:
            del held[self.host]
