"""One exception family for the project, and the reject value that goes on the wire.

Programming interfaces raise ``LemsError`` and its children; a terminal never sees an exception,
it sees a ``Reject`` turned into a message. Each carries its evidence (field, value, input).
"""

from __future__ import annotations

from dataclasses import dataclass

ECHO_LENGTH = 100
"""How much of the offending input a reject echoes, as the real systems do."""


class LemsError(Exception):
    """Base of every error the project raises on purpose."""


class FormatError(LemsError):
    """A value could not be encoded or decoded (bad arguments to a codec, not bad traffic)."""


class ConfigError(LemsError):
    """Configuration refused at start: names the file, the key and the reason."""

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.reason, self.file, self.key, self.line = reason, file, key, line
        where = ":".join(str(p) for p in (file, line) if p is not None)
        parts = [p for p in (where, f"[{key}]" if key else None, reason) if p]
        super().__init__(": ".join(parts))


@dataclass(frozen=True, slots=True)
class Reject:
    """Why a message was refused.

    ``code`` is a short mnemonic (``MISSING-FIELD``) for NCIC-style and state keys, or an Nlets
    error number (``.14.``) for Nlets keys; ``field`` is the field code at fault, if any;
    ``reason`` is the operator-readable sentence (``MISSING MANDATORY FIELD NAM``); ``input`` is
    the first 100 characters of what was sent.
    """

    code: str
    reason: str
    field: str | None = None
    input: str = ""

    def with_input(self, text: str) -> Reject:
        return Reject(self.code, self.reason, self.field, echo(text))

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "field": self.field, "reason": self.reason}


class RejectError(LemsError):
    """Raised inside parsing and validation; always caught and turned into a reject message."""

    def __init__(self, reject: Reject) -> None:
        self.reject = reject
        super().__init__(f"{reject.code}: {reject.reason}")


def echo(text: str) -> str:
    """The first 100 characters of an input, as echoed in rejects."""
    return text[:ECHO_LENGTH]


NLETS_ERRORS: dict[str, str] = {
    ".00.": "MESSAGE FORMAT/STRUCTURE ERROR",
    ".01.": "INVALID HEADER INFORMATION",
    ".02.": "MESSAGE TYPE NOT ALLOWED TO DESTINATION",
    ".03.": "TXT NOT FOUND OR IMPROPERLY FORMED XML",
    ".04.": "MEXICAN CDL ERROR",
    ".05.": "DOB INVALID OR MISSING",
    ".06.": "INVALID MESSAGE FORMAT FOR CN",
    ".10.": "A YEAR FIELD IS INVALID OR MISSING",
    ".14.": "FIELDS MISSING",
    ".16.": "ATN FIELD INVALID",
    ".19.": "INVALID DESTINATION ORIS",
    ".22.": "INVALID MESSAGE FORMAT",
}
"""Nlets error numbers (ER messages) and their titles, as the Nlets User Guide lists them
(General Information - Error Messages (ER), service.nlets.org article 21003096177). The guide
numbers the first one plain ``0``; ``.00.`` is its wire form here, in the pattern of the others
(the guide shows no ER with error 0)."""
