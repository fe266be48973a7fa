"""One exception family for the project, and the reject value that goes on the wire.

Programming interfaces raise ``LemsError`` and its children; a terminal never sees an exception,
it sees a ``Reject`` turned into a message. Each carries its evidence (field, value, input).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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


class NletsError(StrEnum):
    """Nlets error numbers (ER messages), as the Nlets User Guide lists them (General
    Information - Error Messages (ER), service.nlets.org article 21003096177). The guide numbers
    the first one plain ``0``; ``.00.`` is its wire form here, in the pattern of the others (the
    guide shows no ER with error 0). Members are ``str``: the wire gets the number."""

    FORMAT_STRUCTURE = ".00."
    INVALID_HEADER = ".01."
    TYPE_NOT_ALLOWED = ".02."
    BAD_TXT_OR_XML = ".03."
    MEXICAN_CDL = ".04."
    BAD_DOB = ".05."
    CANADA_FORMAT = ".06."
    BAD_YEAR = ".10."
    FIELDS_MISSING = ".14."
    BAD_ATN = ".16."
    INVALID_DESTINATION = ".19."
    INVALID_FORMAT = ".22."


NLETS_ERRORS: dict[str, str] = {
    NletsError.FORMAT_STRUCTURE: "MESSAGE FORMAT/STRUCTURE ERROR",
    NletsError.INVALID_HEADER: "INVALID HEADER INFORMATION",
    NletsError.TYPE_NOT_ALLOWED: "MESSAGE TYPE NOT ALLOWED TO DESTINATION",
    NletsError.BAD_TXT_OR_XML: "TXT NOT FOUND OR IMPROPERLY FORMED XML",
    NletsError.MEXICAN_CDL: "MEXICAN CDL ERROR",
    NletsError.BAD_DOB: "DOB INVALID OR MISSING",
    NletsError.CANADA_FORMAT: "INVALID MESSAGE FORMAT FOR CN",
    NletsError.BAD_YEAR: "A YEAR FIELD IS INVALID OR MISSING",
    NletsError.FIELDS_MISSING: "FIELDS MISSING",
    NletsError.BAD_ATN: "ATN FIELD INVALID",
    NletsError.INVALID_DESTINATION: "INVALID DESTINATION ORIS",
    NletsError.INVALID_FORMAT: "INVALID MESSAGE FORMAT",
}
"""The guide's title of each Nlets error number (the first line of an ER that says no more)."""
