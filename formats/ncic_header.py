"""The NCIC computer-interface header: ``1N01<header>.`` in front of a message to NCIC, a line
``1L01<header>`` above a message from it.

A state switch's computer talks to NCIC with a header of its own choosing in front of every
message (the NCIC Operating Manual's examples write it ``1N01HEADER.EW.MD1012600....``; an
answer comes back under ``1L01HEADER``, the header text being the control terminal agency's).
A terminal or vendor interface written against such a system may send the input header and
expect the output one. The switch therefore strips an input header before it reads the message
(the message key after it is what the switch routes on) and, where the lab says so, puts the
output line above NCIC's answers, the NCIC body untouched beneath it (docs/FIDELITY.md).

What the header text may hold and how long it may be are not public: this module takes up to
``MAX_HEADER`` printable characters other than a period.
"""

from __future__ import annotations

from formats.errors import Reject, echo

__all__ = ["BAD_HEADER", "IN_MARK", "MAX_HEADER", "OUT_MARK", "line", "split"]

IN_MARK = "1N01"
"""Starts a message to NCIC carrying an interface header."""
OUT_MARK = "1L01"
"""Starts the interface header line of a message from NCIC."""
MAX_HEADER = 40
"""Most characters of the header text (the real limit is not public)."""

BAD_HEADER = "BAD-HEADER"


def split(text: str) -> tuple[str | None, str] | Reject:
    """``(header, message)`` of ``text``: the header text and the message after ``1N01<header>.``;
    ``(None, text)`` when ``text`` does not start with ``1N01``; a ``Reject`` naming the field
    ``HDR`` when it does but the header is not closed by a period on its first line, is longer
    than ``MAX_HEADER`` or holds a character that is not printable."""
    if text[:4] != IN_MARK:
        return None, text
    end = text.find(".", 4)
    newline = text.find("\n", 4)
    if end < 0 or (0 <= newline < end):
        return Reject(
            BAD_HEADER,
            f"NCIC HEADER {IN_MARK}... MUST END WITH A PERIOD BEFORE THE "
            "MESSAGE KEY, ON THE FIRST LINE",
            "HDR",
            echo(text),
        )
    header = text[4:end]
    if len(header) > MAX_HEADER:
        return Reject(
            BAD_HEADER, f"NCIC HEADER LONGER THAN {MAX_HEADER} CHARACTERS", "HDR", echo(text)
        )
    if not header.isprintable():
        return Reject(
            BAD_HEADER, "NCIC HEADER HOLDS A CHARACTER THAT IS NOT PRINTABLE", "HDR", echo(text)
        )
    return header, text[end + 1 :]


def line(header: str) -> str:
    """The output header line NCIC puts above its answer: ``1L01<header>``."""
    return OUT_MARK + header
