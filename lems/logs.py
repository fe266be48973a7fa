"""Logs an operator can read: one line per event on stderr, JSON lines in a file for machines.

Twisted's logger keeps events in a ring buffer until someone begins logging, so without this a
switch's warnings ("peer does not read, link dropped", "disk full") reached no one. ``begin``
sends them:

* stderr: events at ``WARNING`` and above (or ``level`` when there is no log file), one line
  each: ``2026-11-23T14:32:11Z WARNING lems.switch: text``. A failure adds its exception's type
  and message to the line, never a traceback (tracebacks go to the log file).
* ``file`` (optional): every event at ``level`` and above as one JSON object per line
  (``time``, ``level``, ``source``, ``text``, and ``traceback`` for failures), appended.

The writer process (``lems/committer.py``) writes its own lines in the same form to the same
stderr. Passwords never reach a log: nothing logs a frame's text before sign-on.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import IO, Any

from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    formatEvent,
    globalLogBeginner,
)
from zope.interface import implementer

LEVELS = {
    "debug": LogLevel.debug,
    "info": LogLevel.info,
    "warning": LogLevel.warn,
    "error": LogLevel.error,
    "critical": LogLevel.critical,
}
"""``--log-level`` choices."""

_NAMES = {
    LogLevel.debug: "DEBUG",
    LogLevel.info: "INFO",
    LogLevel.warn: "WARNING",
    LogLevel.error: "ERROR",
    LogLevel.critical: "CRITICAL",
}


def stamp(t: float | None = None) -> str:
    """UTC time of a log line, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def text_of(event: dict[str, Any]) -> str:
    """The event's message on one line, with the exception of a failure."""
    text = formatEvent(event) or ""
    failure = event.get("log_failure")
    if failure is not None:
        text = f"{text}: {failure.type.__name__}: {failure.getErrorMessage()}"
    return " ".join(text.split("\n"))


def source_of(event: dict[str, Any]) -> str:
    return str(event.get("log_namespace") or "lems")


@implementer(ILogObserver)
class LineObserver:
    """One text line per event."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def __call__(self, event: dict[str, Any]) -> None:
        level = _NAMES.get(event.get("log_level", LogLevel.info), "INFO")
        try:
            self.out.write(
                f"{stamp(event.get('log_time'))} {level} {source_of(event)}: {text_of(event)}\n"
            )
            self.out.flush()
        except (OSError, ValueError):
            pass


@implementer(ILogObserver)
class JsonObserver:
    """One JSON object per event (``time``, ``level``, ``source``, ``text``, ``traceback``)."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def __call__(self, event: dict[str, Any]) -> None:
        record = {
            "time": stamp(event.get("log_time")),
            "level": _NAMES.get(event.get("log_level", LogLevel.info), "INFO").lower(),
            "source": source_of(event),
            "text": text_of(event),
        }
        failure = event.get("log_failure")
        if failure is not None:
            record["traceback"] = failure.getTraceback()
        try:
            self.out.write(json.dumps(record) + "\n")
            self.out.flush()
        except (OSError, ValueError):
            pass


def begin(
    level: str = "warning", file: Path | None = None, stderr: IO[str] | None = None
) -> IO[str] | None:
    """Start logging (once per process); the opened log file, if any."""
    err = stderr or sys.stderr
    observers: list[Any] = []
    on_stderr = LEVELS["warning"] if file is not None else LEVELS[level]
    observers.append(
        FilteringLogObserver(
            LineObserver(err), [LogLevelFilterPredicate(defaultLogLevel=on_stderr)]
        )
    )
    fh = None
    if file is not None:
        fh = open(file, "a", encoding="utf-8")  # noqa: SIM115 (open for the process's life)
        observers.append(
            FilteringLogObserver(
                JsonObserver(fh), [LogLevelFilterPredicate(defaultLogLevel=LEVELS[level])]
            )
        )
    globalLogBeginner.beginLoggingTo(observers, discardBuffer=False, redirectStandardIO=False)
    return fh
