"""ORIs (9-character agency identifiers) and Nlets 2-character destinations."""

from __future__ import annotations

import re

from formats.codes import NLETS_SPECIAL_DESTINATIONS, US_STATE_CODES
from formats.nlets_members import DESTINATION_CODES

_ORI = re.compile(r"[A-Z]{2}[A-Z0-9]{7}")

NLETS_ORI = "NL0000000"
"""The Nlets switch itself: originator of ER and SM messages."""

SPECIAL_ORI_PREFIXES = frozenset({"NL"})
"""Prefixes that are not NCIC state codes but still name a system ORI (the Nlets switch)."""

AGENCY_TYPE_HINTS = {
    "J": "court",
    "B": "criminal justice (non law enforcement)",
    "M": "criminal justice (non law enforcement)",
    "N": "criminal justice (non law enforcement)",
    "Y": "criminal justice (non law enforcement)",
}


VALID_ORI = re.compile(
    "(?:" + "|".join(sorted(US_STATE_CODES | SPECIAL_ORI_PREFIXES)) + ")[A-Z0-9]{7}"
)
"""A whole valid ORI, state prefix included, in one ``fullmatch`` (the parser checks one or more
on every message)."""

STATE_DESTINATIONS: frozenset[str] = (
    US_STATE_CODES | frozenset(NLETS_SPECIAL_DESTINATIONS) | DESTINATION_CODES
)
"""Every 2-character Nlets destination: NCIC state codes, the Nlets special codes, the Nlets
members and region codes (formats/nlets_members.py)."""


def is_valid_ori(ori: str) -> bool:
    """Nine characters, two letters then seven letters or digits, a valid NCIC state prefix."""
    return VALID_ORI.fullmatch(ori) is not None


def ori_problem(ori: str) -> str | None:
    """Why ``ori`` is not a valid ORI, or None when it is."""
    if VALID_ORI.fullmatch(ori) is not None:
        return None
    if len(ori) != 9:
        return f"ORI/{ori} MUST BE 9 CHARACTERS"
    if not _ORI.fullmatch(ori):
        return f"ORI/{ori} MUST BE 2 LETTERS AND 7 LETTERS OR DIGITS"
    if ori[:2] not in US_STATE_CODES and ori[:2] not in SPECIAL_ORI_PREFIXES:
        return f"ORI/{ori} {ori[:2]} IS NOT AN NCIC STATE CODE"
    return None


def agency_type_hint(ori: str) -> str:
    """What the 9th character suggests: digits law enforcement, J courts, B/M/N/Y other CJ."""
    last = ori[-1:]
    if last.isdigit():
        return "law enforcement"
    return AGENCY_TYPE_HINTS.get(last, "other")


def is_state_destination(code: str) -> bool:
    """A 2-character Nlets destination: an NCIC state code or an Nlets special code."""
    return code in STATE_DESTINATIONS


def destination_problem(dest: str, kind: str) -> str | None:
    """Why ``dest`` cannot be a destination of kind ``state``, ``ori`` or ``any``; None if fine."""
    if len(dest) == 2:
        if kind == "ori":
            return f"DESTINATION {dest} MUST BE A 9-CHARACTER ORI"
        if not is_state_destination(dest):
            return f"DESTINATION {dest} IS NOT A VALID STATE OR NLETS CODE"
        return None
    if len(dest) == 9:
        if kind == "state":
            return f"DESTINATION {dest} MUST BE A 2-CHARACTER STATE CODE"
        return ori_problem(dest)
    return f"DESTINATION {dest} MUST BE A 2-CHARACTER CODE OR A 9-CHARACTER ORI"
