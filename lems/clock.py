"""The lab clock: reactor time, optionally running faster than real time.

Every deadline and timestamp of the switch comes from here, so tests drive it with Twisted's
``task.Clock`` and a lab can run a one-hour hit-confirmation deadline in a minute
(``clock_speed = 60``).

A lab is a scenario: ``[lab] start = "2026-03-14T08:00"`` and ``timezone =
"America/Los_Angeles"`` put it on a date and in a zone of its own. Lab time is persisted (the
lab database's ``meta.lab_time``, written every second and at stop) and never goes backwards: a
restarted switch resumes from the latest of the saved lab time, the last journal row and the
configured start, whatever the speed was before or is now (``resume_at``). Without a ``start`` a
lab runs on wall time, still never going back.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from lems.repositories import meta


class LabClock:
    """Lab time = ``start`` + (reactor seconds since creation) x ``speed``."""

    def __init__(
        self, reactor: IReactorTime, speed: float = 1.0, start: datetime | None = None
    ) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.reactor = reactor
        self.speed = speed
        self._t0 = reactor.seconds()
        self._start = start or datetime.now(UTC)
        if self._start.tzinfo is None:
            raise ValueError("the lab clock's start needs a time zone")
        self._start_ts = self._start.timestamp()
        self.tz: tzinfo | None = self._start.tzinfo
        self._second: int | None = None  # the lab second whose ISO text is cached below
        self._head = self._tail = ""

    def rebase(self, start: datetime) -> None:
        """Lab time is ``start`` from now on (a resumed lab); the speed is kept."""
        self._t0 = self.reactor.seconds()
        self._start = start
        self._start_ts = start.timestamp()
        self.tz = start.tzinfo
        self._second = None

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), self.tz)

    def show(self, when: datetime | None = None) -> str:
        """A time as people read it, in the lab's zone: ``2026-03-14 08:00:00 PDT``."""
        return show((when or self.now()).astimezone(self.tz))

    def timestamp(self) -> float:
        """``now()`` as POSIX seconds: for the hot path (journal rows, envelopes), which format
        the second once and need no ``datetime`` per message (~0.1 µs instead of ~0.8)."""
        return self._start_ts + (self.reactor.seconds() - self._t0) * self.speed

    def stamp(self) -> str:
        """ISO-8601 time for journal rows: always UTC, so stored times compare as strings in
        every lab zone and across DST (shown in the lab's zone by ``show``); the same text as
        ``now().astimezone(UTC).isoformat(timespec="microseconds")`` with the part up to the
        second formatted once per lab second (isoformat costs ~1.5 µs and every message writes
        several rows)."""
        t = self.timestamp()
        second = math.floor(t)
        micro = round((t - second) * 1e6)  # rounded as datetime.fromtimestamp rounds
        if micro == 1_000_000:
            second, micro = second + 1, 0
        if second != self._second:
            iso = datetime.fromtimestamp(second, UTC).isoformat(timespec="microseconds")
            self._second, self._head, self._tail = second, iso[:20], iso[26:]
        return f"{self._head}{str(micro + 1_000_000)[1:]}{self._tail}"  # 6 digits, no spec

    def call_later(self, lab_seconds: float, fn: Callable[..., Any], *args: Any) -> IDelayedCall:
        """Run ``fn`` after ``lab_seconds`` of lab time."""
        return self.reactor.callLater(lab_seconds / self.speed, fn, *args)


def show(when: datetime | str, zone: tzinfo | None = None) -> str:
    """``2026-03-14 08:00:00 PDT`` from a datetime or a journal's ISO text (which carries its
    offset), in ``zone`` when given (the lab's: its name is shown), else as it is (a zone name
    when the datetime has one, else the offset)."""
    if isinstance(when, str):
        if not when:
            return ""
        when = datetime.fromisoformat(when)
    if zone is not None and when.tzinfo is not None:
        when = when.astimezone(zone)
    name = when.tzname() or ""
    if name.startswith("UTC") and name != "UTC":
        name = when.strftime("%z")
    return f"{when:%Y-%m-%d %H:%M:%S} {name}".rstrip()


def lab_zone(name: str) -> tzinfo:
    """The ``[lab] timezone`` (an IANA name); UTC when empty."""
    if not name or name.upper() == "UTC":
        return UTC
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def saved_time(conn: sqlite3.Connection) -> datetime | None:
    """The latest lab time this lab has seen: the saved ``meta.lab_time`` or the last journal
    row's time, whichever is later (a crash may lose the last save, never a journal row)."""
    times = []
    saved = meta.get(conn, "lab_time")
    if saved:
        times.append(datetime.fromisoformat(saved))
    last = meta.last_journal_time(conn)
    if last:
        times.append(datetime.fromisoformat(last))
    return max(times) if times else None


def resume_at(
    conn: sqlite3.Connection, start: datetime | None, zone: tzinfo, wall: datetime | None = None
) -> datetime:
    """Where a starting lab's clock begins: never before what it has already shown."""
    first = start.replace(tzinfo=zone) if start is not None and start.tzinfo is None else start
    if first is None:
        first = wall or datetime.now(UTC)
    last = saved_time(conn)
    return max(first, last).astimezone(zone) if last else first.astimezone(zone)


SAVE = meta.LAB_TIME
"""The statement that persists lab time (argument: ``clock.now().isoformat()``)."""
