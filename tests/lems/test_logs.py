"""Log lines an operator can read and JSON lines a machine can."""

from __future__ import annotations

import io
import json

from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

from lems.logs import JsonObserver, LineObserver


def events(level: LogLevel, fail: bool = False) -> list[dict]:
    got: list[dict] = []
    log = Logger(namespace="lems.test", observer=got.append)
    if fail:
        try:
            raise ValueError("bad\nthing")
        except ValueError:
            log.failure("handler failed on {peer}", Failure(), peer="tcp:1.2.3.4:5")
    else:
        log.emit(level, "peer {peer} does not read:\n{n} bytes owed", peer="tcp:x", n=7)
    return got


def test_one_line_with_time_level_and_source():
    out = io.StringIO()
    LineObserver(out)(events(LogLevel.warn)[0])
    line = out.getvalue()
    assert line.count("\n") == 1
    assert " WARNING lems.test: peer tcp:x does not read: 7 bytes owed" in line
    assert line[:4].isdigit() and line[19] == "Z"


def test_a_failure_is_one_line_on_stderr_and_a_traceback_in_json():
    event = events(LogLevel.critical, fail=True)[0]
    out = io.StringIO()
    LineObserver(out)(event)
    assert out.getvalue().count("\n") == 1
    assert (
        "CRITICAL lems.test: handler failed on tcp:1.2.3.4:5: ValueError: bad thing"
        in out.getvalue()
    )
    out = io.StringIO()
    JsonObserver(out)(event)
    record = json.loads(out.getvalue())
    assert record["level"] == "critical" and record["source"] == "lems.test"
    assert "Traceback" in record["traceback"] and "ValueError" in record["traceback"]
