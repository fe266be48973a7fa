"""Field types: one small checker per type, compiled once per field definition.

A checker takes the value as typed and whether the key is Nlets-style (which widens dates to
MMDDYY), and returns None when the value is good or the operator-readable reason when it is not.
Checkers are plain closures over precomputed sets and patterns, because validation runs on every
message and must stay within a few microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from formats.codes import CodeBook
from formats.nic import is_valid_nic
from formats.ori import ori_problem

Checker = Callable[[str, bool], "str | None"]

FIELD_TYPES = ("name", "date", "code", "digits", "alnum", "text", "hgt", "ori", "nic", "year")

_NAME = re.compile(r"[A-Z][A-Z' -]*, ?[A-Z][A-Z' -]*")
_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# Precomputed sets, so that the checkers of dates, years and heights cost one lookup.
_YEARS = frozenset(f"{y}" for y in range(1800, 2200))
"""Every CCYY a date or year field accepts."""
_MMDD = frozenset(
    f"{m:02d}{d:02d}" for m in range(1, 13) for d in range(1, _DAYS[m] + 1) if (m, d) != (2, 29)
)
"""Every MMDD valid in any year (29 February is left to the full check)."""
_HEIGHTS = frozenset(f"{feet}{inches:02d}" for feet in range(1, 10) for inches in range(12))
"""Every height ``hgt`` accepts: feet 1-9, inches 00-11."""

TEXT_MAX = 500
"""The longest value of a ``text`` field whose definition gives no ``max``."""


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def date_parts(value: str, allow_short: bool) -> tuple[int, int, int] | None:
    """(year, month, day) of a CCYYMMDD (or, if allowed, MMDDYY) date; None if not a date.

    MMDDYY years are read in a 100-year window ending 10 years from 2000-based "now" is a policy
    the formats room cannot know; it reads YY as 19YY when YY > 30, else 20YY (documented).
    """
    if not value.isdigit() or not value.isascii():
        return None
    if len(value) == 8:
        year, month, day = int(value[:4]), int(value[4:6]), int(value[6:])
    elif len(value) == 6 and allow_short:
        month, day, yy = int(value[:2]), int(value[2:4]), int(value[4:])
        year = 1900 + yy if yy > 30 else 2000 + yy
    else:
        return None
    if not 1800 <= year <= 2199 or not 1 <= month <= 12 or day < 1:
        return None
    if day > _DAYS[month] or (month == 2 and day == 29 and not _leap(year)):
        return None
    return year, month, day


def iso_date(value: str) -> str | None:
    """A CCYYMMDD or MMDDYY date as CCYYMMDD, or None."""
    parts = date_parts(value, True)
    return None if parts is None else f"{parts[0]:04d}{parts[1]:02d}{parts[2]:02d}"


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field code of the dictionary: how its value must look."""

    code: str
    type: str
    label: str = ""
    min: int = 1
    max: int = 0
    table: str = ""
    values: tuple[str, ...] = ()
    er: str = ".22."
    check: Checker = field(default=lambda v, n: None, compare=False, repr=False)

    def describe(self) -> str:
        """One line for help screens: what a value must look like."""
        t = self.type
        if t == "code":
            if len(self.values) > 12:  # a union of tables (a key's ``tables``)
                return f"one of {len(self.values)} codes"
            if self.values:
                return "one of " + " ".join(self.values)
            return f"code from table {self.table}"
        if t in ("digits", "alnum"):
            kind = "digits" if t == "digits" else "letters or digits"
            span = f"{self.min}" if self.min == self.max else f"{self.min}-{self.max}"
            return f"{span} {kind}"
        return {
            "name": f"LAST,FIRST MIDDLE (at most {self.max})",
            "date": "date CCYYMMDD",
            "text": f"text, at most {self.max} characters",
            "hgt": "height, feet and inches (510)",
            "ori": "9-character ORI",
            "nic": "NIC (letter and 9 digits)",
            "year": "year CCYY" + (" or " + "/".join(self.values) if self.values else ""),
        }.get(t, t)


def compile_checker(fd: FieldDef, codes: CodeBook) -> Checker:
    """Build the checker for ``fd`` against ``codes``."""
    code, t = fd.code, fd.type
    lo, hi = fd.min, fd.max
    if t == "name":
        limit = hi or 30

        def check(v: str, nlets: bool) -> str | None:
            if len(v) > limit:
                return f"{code}/{v} LONGER THAN {limit} CHARACTERS"
            if _NAME.fullmatch(v) is None:
                return f"{code}/{v} NOT A VALID NAME - USE LAST,FIRST MIDDLE"
            return None

    elif t == "date":

        def check(v: str, nlets: bool) -> str | None:
            if len(v) == 8 and v[4:] in _MMDD and v[:4] in _YEARS:  # the usual CCYYMMDD
                return None
            if date_parts(v, nlets) is None:
                return f"{code}/{v} NOT A VALID DATE"
            return None

    elif t == "code":
        if fd.values:
            allowed: frozenset[str] | Mapping[str, str] = frozenset(fd.values)
        else:
            allowed = codes.table(fd.table)

        def check(v: str, nlets: bool) -> str | None:
            if v not in allowed:
                return f"INVALID {code} CODE {v}"
            return None

    elif t in ("digits", "alnum"):
        what = "DIGITS" if t == "digits" else "LETTERS OR DIGITS"
        span = f"{lo}" if lo == hi else f"{lo} TO {hi}"
        digits = t == "digits"

        def check(v: str, nlets: bool) -> str | None:
            # A-Z and 0-9 only: ASCII letters or digits, none of them lower case
            ok = (
                lo <= len(v) <= hi
                and v.isascii()
                and (v.isdigit() if digits else v.isalnum() and (v.isupper() or v.isdigit()))
            )
            return None if ok else f"{code}/{v} MUST BE {span} {what}"

    elif t == "text":
        limit = text_limit(fd)

        def check(v: str, nlets: bool) -> str | None:
            if len(v) > limit:
                return f"{code}/{v[:20]}... LONGER THAN {limit} CHARACTERS"
            if not v.isprintable():
                return f"{code} CONTAINS UNPRINTABLE CHARACTERS"
            return None

    elif t == "hgt":

        def check(v: str, nlets: bool) -> str | None:
            if v not in _HEIGHTS:
                return f"{code}/{v} NOT A VALID HEIGHT - USE FEET AND INCHES (510)"
            return None

    elif t == "ori":

        def check(v: str, nlets: bool) -> str | None:
            return ori_problem(v)

    elif t == "nic":

        def check(v: str, nlets: bool) -> str | None:
            return None if is_valid_nic(v) else f"NIC/{v} NOT A VALID NIC"

    elif t == "year":
        years = _YEARS | frozenset(fd.values)

        def check(v: str, nlets: bool) -> str | None:
            if v not in years:
                return f"{code}/{v} NOT A VALID YEAR"
            return None

    else:  # pragma: no cover - the dictionary loader refuses unknown types first
        raise ValueError(t)
    return check


def text_limit(fd: FieldDef) -> int:
    """The longest value a ``text`` field takes (``max``, 500 when not given)."""
    return fd.max or TEXT_MAX
