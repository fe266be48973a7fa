"""The output envelope: the first line of every frame the switch sends a terminal.

``OSN/0000042 TRM/T01 DTE/20261123 TIM/143211`` then a newline and the body: the terminal's
output sequence number (7 digits; 0 for a session answer that needs no acknowledgement), the
terminal (``NONE`` before sign-on), the lab date and time. The switch builds it
(``lems.switch``); terminals (``terminals.client``) and recordings (``formats.recording``) read
it. Both directions live here so the wire text has one definition (docs/WIRE.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

PREFIX = "OSN/"
"""How an enveloped frame starts; a frame that does not is read as a bare body."""

NO_TERMINAL = "NONE"
"""The ``TRM/`` of a frame sent before the link signed on."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """The envelope line of one frame, as read (``parse``)."""

    osn: int = 0
    terminal: str = ""
    date: str = ""
    """``YYYYMMDD`` as sent (lab date)."""
    time: str = ""
    """``HHMMSS`` as sent (lab time)."""


def stamp(when: datetime) -> str:
    """The date and time part of an envelope line (``DTE/20261123 TIM/143211``)."""
    return f"DTE/{when:%Y%m%d} TIM/{when:%H%M%S}"


def build(osn: int, terminal: str, when: str, body: str) -> str:
    """One output frame: the envelope line then ``body``. ``when`` is ``stamp(...)`` (the
    switch formats it once per lab second: strftime costs more than the rest of the frame)."""
    return f"OSN/{osn:07d} TRM/{terminal or NO_TERMINAL} {when}\n{body}"


def is_enveloped(frame: str) -> bool:
    """Does ``frame`` start with an envelope line?"""
    return frame.startswith(PREFIX)


def parse(frame: str) -> tuple[Envelope | None, str]:
    """The envelope of ``frame`` and its body; ``(None, frame)`` for a frame without one (a
    bare body is tolerated, not refused). Items are ``CODE/value`` separated by spaces; an OSN
    that is not digits reads as 0; for a code given twice the last one counts."""
    first, _, body = frame.partition("\n")
    if not first.startswith(PREFIX):
        return None, frame
    osn, terminal, date, time = 0, "", "", ""
    for item in first.split():
        code, _, value = item.partition("/")
        if code == "OSN" and value.isdigit():
            osn = int(value)
        elif code == "TRM":
            terminal = value
        elif code == "DTE":
            date = value
        elif code == "TIM":
            time = value
    return Envelope(osn, terminal, date, time), body
