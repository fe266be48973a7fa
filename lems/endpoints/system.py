"""What every mock national system shares: its clock, its own parser, unsolicited output.

A national system re-reads the text it is sent (the real NCIC does not trust a state switch's
validation), answers with whole message bodies, and may later send unsolicited traffic to an ORI
(``emit``). Time comes from a lab clock so tests and fast labs drive deadlines.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from formats import responses
from formats.codes import CodeBook
from formats.dictionary import Dictionary
from formats.errors import Reject
from formats.grammar import Parser
from formats.rejects import RejectCode

Emit = Callable[[str, str, str, str], None]
"""``emit(ori, body, terminal, sensitive)``: send unsolicited traffic to an ORI."""


@dataclass(slots=True)
class Answer:
    """The bodies answering one request; ``sensitive`` marks criminal history (``iii``)."""

    bodies: list[str]
    sensitive: str = ""


def open_db(path: str | Path, schema: str) -> sqlite3.Connection:
    """One system's own database file (WAL, autocommit off: the system commits per request)."""
    conn = sqlite3.connect(str(path), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(schema)
    conn.commit()
    return conn


class System:
    """Base of NCIC, Nlets and NICS: ``handle(text, ori, terminal) -> Answer``."""

    name = "system"
    words = "SYSTEM"

    def __init__(self, clock: Any, dictionary: Dictionary | None = None,
                 codes: CodeBook | None = None) -> None:
        self.clock = clock
        self.dictionary = dictionary or Dictionary.default()
        self.parser = Parser(self.dictionary)
        self.codes = codes or CodeBook.builtin()
        self.emit: Emit = lambda ori, body, terminal, sensitive: None

    def now(self) -> datetime:
        return self.clock.now()

    def call_later(self, lab_seconds: float, fn: Callable[..., Any], *args: Any) -> Any:
        return self.clock.call_later(lab_seconds, fn, *args)

    def handle(self, text: str, ori: str, terminal: str) -> Answer:
        raise NotImplementedError

    def error_body(self, text: str, ori: str) -> str:
        """The system error a terminal sees when the system fails a request (error faults)."""
        rej = Reject(RejectCode.SYSTEM_ERROR,
                     f"{self.words} SYSTEM ERROR - MESSAGE NOT PROCESSED - "
                     "RESUBMIT", None, text[:100])
        return responses.reject(rej, ori)

    def close(self) -> None:
        """Close the system's database."""
