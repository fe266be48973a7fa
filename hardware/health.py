"""Link health: idle timeouts, heartbeats, bounded output, reconnection with back-off.

A link to a terminal can die quietly (a cable pulled, a vehicle out of coverage, a process
stopped with SIGSTOP). The switch must notice, and must never let one such peer hold it up:

* ``idle`` closes a link that has received nothing for so many seconds; ``heartbeat`` sends the
  framing's keepalive unit (an empty line, ``STX ETX BCC``, an empty ``LM`` header) when the link
  has sent nothing for so many seconds, so a healthy idle peer is not taken for a dead one.
* Output is bounded: a link registers itself as a streaming producer with its transport, which
  pauses it when the socket buffer is full; what is written while paused is counted and a peer
  that owes more than ``write_limit`` bytes is dropped (its mail stays in the switch's mailbox).
* ``Backoff`` spaces the attempts of outbound links (serial ports reopened, MQTT brokers
  reconnected, ``keep_connected`` for stream endpoints).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from hardware.link import RelayHandler

log = Logger()

@dataclass(slots=True)
class Backoff:
    """Exponential back-off with jitter: ``initial`` doubled per failure up to ``maximum``."""

    initial: float = 0.2
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.1
    attempts: int = 0

    def next(self) -> float:
        delay = min(self.maximum, self.initial * self.factor ** self.attempts)
        self.attempts += 1
        return delay * (1 + random.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        self.attempts = 0


class Watchdog:
    """Idle timeout and heartbeat for one link, on the reactor's clock."""

    def __init__(self, clock: Any, idle: float, heartbeat: float, on_idle: Callable[[], None],
                 beat: Callable[[], None]) -> None:
        self.clock = clock
        self.idle = idle
        self.heartbeat = heartbeat
        self.on_idle = on_idle
        self.beat = beat
        self._idle_call: Any = None
        self._beat_call: Any = None

    def start(self) -> None:
        self.received()
        self.sent()

    def received(self) -> None:
        if self.idle > 0:
            if self._idle_call is not None and self._idle_call.active():
                self._idle_call.reset(self.idle)
            else:
                self._idle_call = self.clock.callLater(self.idle, self._expired)

    def sent(self) -> None:
        if self.heartbeat > 0:
            if self._beat_call is not None and self._beat_call.active():
                self._beat_call.reset(self.heartbeat)
            else:
                self._beat_call = self.clock.callLater(self.heartbeat, self._beat)

    def stop(self) -> None:
        for call in (self._idle_call, self._beat_call):
            if call is not None and call.active():
                call.cancel()
        self._idle_call = self._beat_call = None

    def _expired(self) -> None:
        self._idle_call = None
        self.stop()
        self.on_idle()

    def _beat(self) -> None:
        self._beat_call = None
        self.beat()
        self.sent()


class KeepConnected:
    """Reconnect an outbound stream link with back-off until ``stop()``.

    ``open()`` returns a Deferred firing with the link when connected; the link's handler must
    call ``lost()`` (``keep_connected`` wires that) so the next attempt is scheduled.
    """

    def __init__(self, clock: Any, open: Callable[[], Deferred[Any]],
                 backoff: Backoff | None = None) -> None:
        self.clock = clock
        self.open = open
        self.backoff = backoff or Backoff()
        self.link: Any = None
        self.attempts = 0
        self.connections = 0
        self.stopped = False
        self._call: Any = None
        self._pending: Deferred[Any] | None = None

    def start(self) -> KeepConnected:
        self._try()
        return self

    def _try(self) -> None:
        self._call = None
        if self.stopped:
            return
        self.attempts += 1
        try:
            d = self.open()
        except Exception:
            log.failure("link open failed")
            self._retry()
            return
        self._pending = d
        d.addCallbacks(self._up, self._failed)

    def _up(self, link: Any) -> None:
        self._pending = None
        self.connections += 1
        self.backoff.reset()
        self.link = link
        if self.stopped:
            link.close()

    def _failed(self, failure: Any) -> None:
        self._pending = None
        log.debug("link open failed: {e}", e=failure.getErrorMessage())
        self._retry()

    def lost(self) -> None:
        self.link = None
        self._retry()

    def _retry(self) -> None:
        if not self.stopped and self._call is None:
            self._call = self.clock.callLater(self.backoff.next(), self._try)

    def stop(self) -> None:
        self.stopped = True
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        if self.link is not None:
            self.link.close()


class _Relay(RelayHandler):
    """Tells a ``KeepConnected`` when the link is lost."""

    def __init__(self, inner: Any, keeper: Callable[[], KeepConnected]) -> None:
        super().__init__(inner)
        self.keeper = keeper

    def after_lost(self) -> None:
        self.keeper().lost()


def keep_connected(reactor: Any, description: str, handler: Any,
                   backoff: Backoff | None = None) -> KeepConnected:
    """Connect ``handler`` to ``description`` and reconnect with back-off whenever it is lost.

    The same handler sees ``link_made``/``link_lost`` once per connection."""
    from hardware import endpoints

    holder: list[KeepConnected] = []
    relay = _Relay(handler, lambda: holder[0])
    keeper = KeepConnected(reactor, lambda: endpoints.connect(reactor, description, relay),
                           backoff)
    holder.append(keeper)
    return keeper.start()
