"""Builders for what the switch and the national systems send back.

Every output body starts with a line ``KEY.ORI`` naming what it is and to whom (or, for Nlets
traffic, the full Nlets output header whose first line is ``KEY.ORIGINATOR``), so a terminal or a
replay comparison can tell messages apart without knowing their layout. Output keys of the
simulator (inferred where the real systems are not public):

========  =============================================================
ACC       entry, modify, cancel, clear or locate accepted (NCIC acknowledgment)
HIT       one record found (caveats, MKE in words, ``CODE/value`` layout)
NRC       no record: echoes the identifiers searched
REJ       refused by the state switch (format, policy): code, field, reason, input echo
NTF       unsolicited ``$.`` notification to a record owner
SON/SOF   sign-on accepted / signed off
ER, SM    Nlets error and status (from NL0000000, with the Nlets header)
========  =============================================================

All builders are pure functions of their arguments: time and sequence numbers come in.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from formats.codes import CodeBook
from formats.errors import NLETS_ERRORS, Reject
from formats.ncic_header import OUT_MARK
from formats.ori import NLETS_ORI

WIDTH = 72
"""Output lines are wrapped at this width, like a teletype page."""

ARREST_CAVEAT = (
    "WARNING - DO NOT ARREST OR DETAIN BASED SOLELY UPON THIS INFORMATION. "
    "CONFIRM WITH THE ENTERING AGENCY (HIT CONFIRMATION YQ)."
)
CONFIRM_TRAILER = "IMMED CONFIRM RECORD WITH ORI"

FILE_WORDS = {
    "wanted": "WANTED PERSON",
    "missing": "MISSING PERSON",
    "unidentified": "UNIDENTIFIED PERSON",
    "vehicle": "STOLEN VEHICLE",
    "gun": "STOLEN GUN",
    "article": "STOLEN ARTICLE",
    "boat": "STOLEN BOAT",
    "order": "PROTECTION ORDER",
    "ndtf": "NICS DENIED TRANSACTION FILE",
    "gang": "GANG MEMBER",
    "kst": "KNOWN OR APPROPRIATELY SUSPECTED TERRORIST",
    "sor": "SEXUAL OFFENDER",
    "supervised": "SUPERVISED RELEASE",
    "immigration": "IMMIGRATION VIOLATOR",
    "foreign": "FOREIGN FUGITIVE",
    "protective": "PROTECTIVE INTEREST",
    "identity": "IDENTITY THEFT",
    "violent": "VIOLENT PERSON",
    "plate": "STOLEN LICENSE PLATE",
    "part": "STOLEN PART",
    "security": "STOLEN SECURITIES",
    "iii": "INTERSTATE IDENTIFICATION INDEX",
    "cch": "OREGON COMPUTERIZED CRIMINAL HISTORY",
    "ppf": "PROHIBITED PERSONS FILE",
}

VERB_WORDS = {
    "enter": "ENTERED",
    "modify": "MODIFIED",
    "cancel": "CANCELLED",
    "clear": "CLEARED",
    "locate": "LOCATED",
}


def print_name(value: str) -> str:
    """``SMITH,JOHN J`` as printed on output: ``SMITH, JOHN J``."""
    last, comma, rest = value.partition(",")
    return f"{last}, {rest.lstrip()}" if comma else value


def wrap(text: str, width: int = WIDTH) -> list[str]:
    """One line of words as lines of at most ``width`` characters (over-long words are cut)."""
    if len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, break_on_hyphens=False) or [""]


def cut(text: str, width: int = WIDTH) -> list[str]:
    """One line cut every ``width`` characters, nothing dropped (for echoed input)."""
    return [text[i : i + width] for i in range(0, len(text), width)] or [""]


def page(lines: Iterable[str], width: int = WIDTH) -> list[str]:
    """Every line of ``lines`` (which may hold line breaks) wrapped to ``width``."""
    return [part for line in lines for sub in line.split("\n") for part in wrap(sub, width)]


def layout(pairs: Iterable[tuple[str, str]], width: int = WIDTH) -> list[str]:
    """``CODE/value`` pairs packed into lines of at most ``width`` characters.

    A pair longer than a line (a long ``MIS/`` remark) starts a line of its own and is wrapped.
    """
    lines: list[str] = []
    line = ""
    for code, value in pairs:
        item = f"{code}/{value}"
        if line and len(line) + 1 + len(item) <= width:
            line = f"{line} {item}"
            continue
        if line:
            lines.append(line)
        line = item
        if len(item) > width:
            *full, line = wrap(item, width)
            lines.extend(full)
    if line:
        lines.append(line)
    return lines


def display_pairs(fields: Iterable[tuple[str, str]], codes: CodeBook) -> list[tuple[str, str]]:
    """Field values as printed: names with a space after the comma, offences in words."""
    out = []
    for code, value in fields:
        if code in ("NAM", "AKA"):
            value = print_name(value)
        elif code in ("OFF", "CHG"):
            value = codes.describe("OFF", value) or value
        out.append((code, value))
    return out


def head(key: str, ori: str) -> str:
    return f"{key}.{ori}"


def reject(rej: Reject, ori: str) -> str:
    """A state-switch reject (``REJ``): code and field, the reason, the input echoed."""
    top = f"{head('REJ', ori or 'UNKNOWN')}\nREJECT CODE/{rej.code}" + (
        f" FLD/{rej.field}" if rej.field else ""
    )
    reason, echo = rej.reason, rej.input
    if (
        0 < len(reason) <= WIDTH
        and 0 < len(echo) <= WIDTH
        and reason.isprintable()
        and echo.isprintable()
    ):  # one line each (the usual case): nothing to wrap or cut
        return f"{top}\n{reason}\nORIGINAL MESSAGE\n{echo}"
    return "\n".join([top, *page(reason.splitlines()), "ORIGINAL MESSAGE", *_echo(echo)])


def _echo(text: str) -> list[str]:
    return [part for line in text.splitlines() for part in cut(line)]


class NletsClock(NamedTuple):
    """Times and sequence numbers of an Nlets output header (a named tuple: built for every
    relayed message, and a frozen dataclass costs three times as much to make)."""

    in_time: datetime
    in_seq: int
    out_time: datetime
    out_seq: int

    @staticmethod
    def stamp(t: datetime) -> str:
        """``HH:MM MM/DD/CCYY``: the text changes once a minute, so it is formatted once a
        minute (every relayed message's header has two: 0.16 µs each instead of 0.7)."""
        return _minute_text(t.year, t.month, t.day, t.hour, t.minute)


@functools.lru_cache(maxsize=64)
def _minute_text(year: int, month: int, day: int, hour: int, minute: int) -> str:
    return f"{hour:02d}:{minute:02d} {month:02d}/{day:02d}/{year:04d}"


def nlets_header(
    key: str, originator: str, clock: NletsClock, receiver: str, control: str = ""
) -> list[str]:
    """The header lines: key and originator; input clock; output clock and receiver; the
    control field of the request (``*CTL``) when it had one; TXT.

    The guide's output header "may include control field" (ER: "Standard output message
    header, may include control field"); where in the header it stands is not shown in any
    public example, so it has a line of its own before TXT, written as it was sent (see
    docs/FIDELITY.md)."""
    lines = [
        head(key, originator),
        f"{clock.stamp(clock.in_time)} {clock.in_seq:05d}",
        f"{clock.stamp(clock.out_time)} {clock.out_seq:05d} {receiver}",
    ]
    if control:
        lines.append(f"*{control}")
    lines.append("TXT")
    return lines


def nlets_message(
    key: str,
    originator: str,
    clock: NletsClock,
    receiver: str,
    body: Sequence[str],
    control: str = "",
) -> str:
    return "\n".join([*nlets_header(key, originator, clock, receiver, control), *body])


def er(rej: Reject, clock: NletsClock, receiver: str, control: str = "") -> str:
    """An Nlets ER: the error number and title (or reason), options, and the input echoed."""
    reason_lines = rej.reason.splitlines() or [NLETS_ERRORS.get(rej.code, "ERROR")]
    first = reason_lines[0]
    title = NLETS_ERRORS.get(rej.code, "")
    if title.startswith(first):  # the reason says no more than the guide's title
        reason_lines = [title, *reason_lines[1:]]
    elif title and not first.startswith(title):
        reason_lines = [f"{title} - {first}", *reason_lines[1:]]
    body = [
        *page([f"{rej.code} {reason_lines[0]}", *reason_lines[1:]]),
        "ORIGINAL MESSAGE",
        *_echo(rej.input),
    ]
    return nlets_message("ER", NLETS_ORI, clock, receiver, body, control)


class NletsStatus(StrEnum):
    """Nlets status numbers (SM messages) about a destination: not error numbers
    (``formats.errors.NletsError``), though written alike."""

    NO_RESPONSE = ".01."
    OUT_FORWARDED = ".02."
    OUT_NOT_FORWARDED = ".04."


SM_TEXTS: dict[str, str] = {
    NletsStatus.NO_RESPONSE: "USER DOES NOT RESPOND TO MSG TYPE, NLETS WILL NOT FORWARD",
    NletsStatus.OUT_FORWARDED: "USER OUT OF SERVICE FOR MSG TYPE, NLETS WILL FORWARD",
    NletsStatus.OUT_NOT_FORWARDED: "USER OUT OF SERVICE FOR MSG TYPE, NLETS WILL NOT FORWARD",
}


def sm(
    code: str, subject: str, clock: NletsClock, receiver: str, detail: str = "", control: str = ""
) -> str:
    """An Nlets status message about ``subject`` (a destination or a system)."""
    text = SM_TEXTS.get(code, code)
    body = [f"{code} {subject} {text}" if code in SM_TEXTS else f"{subject} {text}"]
    if detail:
        body.append(detail)
    return nlets_message("SM", NLETS_ORI, clock, receiver, page(body), control)


def accepted(
    verb: str,
    file: str,
    ori: str,
    identifiers: Sequence[tuple[str, str]],
    nic: str,
    when: datetime,
    codes: CodeBook,
) -> str:
    """An NCIC acknowledgment (``ACC``) for enter/modify/cancel/clear/locate; ``DTE/`` is
    ``when`` as given, with its zone's abbreviation when it has one (``20261123 0630 PST``)."""
    words = f"{FILE_WORDS.get(file, file.upper())} {VERB_WORDS.get(verb, verb.upper())}"
    pairs = [*display_pairs(identifiers, codes), ("NIC", nic)]
    zone = when.strftime(" %Z") if when.tzinfo is not None else ""
    return "\n".join(
        [
            head("ACC", ori),
            *wrap(words),
            *layout(pairs),
            f"DTE/{when.strftime('%Y%m%d %H%M')}{zone}",
        ]
    )


def hit(
    file: str,
    ori: str,
    record: Sequence[tuple[str, str]],
    codes: CodeBook,
    caveats: Sequence[str] = (ARREST_CAVEAT,),
    trailer: Sequence[str] = (CONFIRM_TRAILER,),
) -> str:
    """One record found (``HIT``): caveat lines, ``MKE/…`` in words, the record, a trailer."""
    return "\n".join(
        [
            head("HIT", ori),
            *page(caveats),
            f"MKE/{FILE_WORDS.get(file, file.upper())}",
            *layout(display_pairs(record, codes)),
            *page(trailer),
        ]
    )


def no_record(ori: str, identifiers: Sequence[tuple[str, str]], what: str = "NCIC WANT") -> str:
    """No record (``NRC``): ``NO NCIC WANT NAM/SMITH,JOHN DOB/19511012``."""
    ident = " ".join(f"{c}/{v}" for c, v in identifiers)
    return "\n".join([head("NRC", ori), *wrap(f"NO {what} {ident}".rstrip())])


def notification(letter: str, ori: str, lines: Sequence[str]) -> str:
    """An unsolicited ``$.`` notice (``NTF``) to the record owner, e.g. ``$.L.`` locate."""
    return "\n".join([head("NTF", ori), f"$.{letter}.", *page(lines)])


def first_line_key(text: str) -> tuple[str, str]:
    """(key, ori) from the first line of an output body; ("", "") when there is none. An NCIC
    interface header line (``1L01…``, ``formats.ncic_header``) on top is passed over."""
    first, _, rest = text.partition("\n")
    if first[:4] == OUT_MARK:
        first = rest.partition("\n")[0]
    key, _, ori = first.partition(".")
    return key.strip(), ori.strip()
