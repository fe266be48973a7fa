"""The lab clock: reactor time, optionally running faster than real time.

Every deadline and timestamp of the switch comes from here, so tests drive it with Twisted's
``task.Clock`` and a lab can run a one-hour hit-confirmation deadline in a minute
(``clock_speed = 60``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime


class LabClock:
    """Lab time = ``start`` + (reactor seconds since creation) x ``speed``."""

    def __init__(self, reactor: IReactorTime, speed: float = 1.0,
                 start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.reactor = reactor
        self.speed = speed
        self._t0 = reactor.seconds()
        self._start = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(self.reactor.seconds() - self._t0) * self.speed)

    def stamp(self) -> str:
        """ISO-8601 time for journal rows (UTC, microseconds)."""
        return self.now().isoformat(timespec="microseconds")

    def call_later(self, lab_seconds: float, fn: Callable[..., Any], *args: Any) -> IDelayedCall:
        """Run ``fn`` after ``lab_seconds`` of lab time."""
        return self.reactor.callLater(lab_seconds / self.speed, fn, *args)
