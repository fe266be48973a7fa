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
  reconnected; ``hardware.reconnect`` turns it into Twisted's ``backoffPolicy`` for stream
  endpoints).

This module sits below ``hardware.link`` (which uses the watchdog) and imports nothing of the
project's.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.interfaces import IDelayedCall, IReactorTime


@dataclass(slots=True)
class Backoff:
    """Exponential back-off with jitter: ``initial`` doubled per failure up to ``maximum``."""

    initial: float = 0.2
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.1
    attempts: int = 0

    def next(self) -> float:
        delay = min(self.maximum, self.initial * self.factor**self.attempts)
        self.attempts += 1
        return delay * (1 + random.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        self.attempts = 0


class Watchdog:
    """Idle timeout and heartbeat for one link, on the reactor's clock."""

    def __init__(
        self,
        clock: IReactorTime,
        idle: float,
        heartbeat: float,
        on_idle: Callable[[], None],
        beat: Callable[[], None],
    ) -> None:
        self.clock = clock
        self.idle = idle
        self.heartbeat = heartbeat
        self.on_idle = on_idle
        self.beat = beat
        self._idle_call: IDelayedCall | None = None
        self._beat_call: IDelayedCall | None = None

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
