"""The accept path: one regular expression per message key, compiled from the dictionary.

Why: the parser reads every message the switch receives, and a Python loop over the fields
(split, look the code up, check the value) costs more than the split itself several times over.
A regular expression built from the same field definitions checks the whole message in one call,
in C — values, repeated fields and mandatory fields (see ``Accept``); ``re.findall`` then cuts it
into ``(code, value)`` pairs, also in C. What is left in Python is the few checks a pattern
cannot make: a NIC's check digit, membership of a code table too large to spell out.

A key's pattern only ever accepts, and only what the exact walk (``formats.grammar``) accepts
with the same ``Message``: upper-case ASCII, no blanks around values, no control characters,
one line break after an Nlets ``TXT``. Everything else it leaves alone, and the exact walk then
reads the message and writes any reject, so the two can never disagree on a reject's words.
``tests/formats/test_patterns.py`` holds the patterns to that against the exact walk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from formats.codes import CodeBook
from formats.dictionary import KeySpec
from formats.fields import FieldDef, text_limit
from formats.message import Message
from formats.nic import is_valid_nic
from formats.ori import STATE_DESTINATIONS, VALID_ORI

LARGE_TABLE = 300
"""A code table with more codes than this is matched by shape, then looked up (see ``Accept``)."""

_TEXT = r"[ -\-/-`{-~]"
"""One character of a field value the exact walk keeps as typed: printable ASCII, no period
(which ends the field), no lower case (values are read in upper case)."""
_TEXT_EDGE = r"[!-\-/-`{-~]"
"""The first and last character of a value: as ``_TEXT`` but not a blank (values are stripped)."""

_MMDD = (
    r"(?:(?:0[1-9]|1[0-2])(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])(?:29|30)"
    r"|(?:0[13578]|1[02])31)"
)
"""Month and day valid in every year: 29 February is left to the exact walk (the leap rule)."""
_DATE = rf"(?:1[89]|2[01])[0-9]{{2}}{_MMDD}"
"""CCYYMMDD, years 1800-2199."""
_DATE_NLETS = rf"(?:{_DATE}|{_MMDD}[0-9]{{2}})"
"""What an Nlets-style key also takes: MMDDYY (every YY is a year the date check reads)."""
_YEAR = r"(?:1[89]|2[01])[0-9]{2}"
_HGT = r"[1-9](?:0[0-9]|1[01])"
_NIC_SHAPE = r"[A-Z][0-9]{9}"
_NAME = r"[A-Z][A-Z' -]*, ?[A-Z](?:[A-Z' -]*[A-Z'-])?"
"""``fields._NAME`` without a trailing blank (the exact walk strips it)."""

_pairs = re.compile(r"([A-Z]{2,4})/([^.]*)").findall
"""Cuts a body the key's pattern accepted into ``(code, value)`` pairs."""


def _typed_as_is(code: str) -> bool:
    """Whether ``code`` reads back as itself: upper case, stripped, printable, no period."""
    return (
        bool(code)
        and code.isascii()
        and code.isprintable()
        and "." not in code
        and (code == code.strip().upper())
    )


def _branches(pairs: Iterable[tuple[str, str]], group: str = "(?:") -> str:
    """One group of branches ``first + rest`` (``rest`` a pattern), grouped by their first
    character so a failed branch costs one comparison (the ``re`` engine skips a branch whose
    first literal differs); in order within a character. No branches: a pattern that never
    matches (an empty group would match nothing, i.e. always)."""
    by_first: dict[str, list[str]] = {}
    for first, rest in pairs:
        by_first.setdefault(first, []).append(rest)
    parts = [
        re.escape(first) + (rests[0] if len(rests) == 1 else "(?:" + "|".join(rests) + ")")
        for first, rests in sorted(by_first.items())
    ]
    return group + "|".join(parts) + ")" if parts else "(?!)"


def alternation(words: Iterable[str]) -> str:
    """A pattern matching exactly ``words`` (longest first where one begins another)."""
    return _branches(
        (word[0], re.escape(word[1:])) for word in sorted(set(words), key=lambda w: (-len(w), w))
    )


def value_pattern(fd: FieldDef, codes: CodeBook, nlets: bool) -> tuple[str, frozenset[str] | None]:
    """The pattern of the values of ``fd`` the checker certainly accepts (in an Nlets-style key
    if ``nlets``), and the set a value must also be in when the pattern only gives its shape
    (``None`` when the pattern says it all)."""
    t = fd.type
    if t == "name":
        return rf"(?=[^.]{{1,{fd.max or 30}}}(?:\.|\Z)){_NAME}", None
    if t == "date":
        return _DATE_NLETS if nlets else _DATE, None
    if t == "code":
        values: Mapping[str, str] | tuple[str, ...] = fd.values or codes.table(fd.table)
        if len(values) > LARGE_TABLE:
            return rf"{_TEXT_EDGE}(?:{_TEXT}*{_TEXT_EDGE})?", frozenset(values)
        return alternation(v for v in values if _typed_as_is(v)), None
    if t in ("digits", "alnum"):
        lo = max(fd.min, 1)  # an empty value is missing, whatever ``min`` says
        if fd.max < lo:
            return "(?!)", None  # the checker takes no value at all
        chars = "[0-9]" if t == "digits" else "[A-Z0-9]"
        return rf"{chars}{{{lo},{fd.max}}}", None
    if t == "text":
        limit = text_limit(fd)
        return (
            rf"{_TEXT_EDGE}(?:{_TEXT}{{0,{limit - 2}}}{_TEXT_EDGE})?" if limit > 1 else _TEXT_EDGE,
            None,
        )
    if t == "hgt":
        return _HGT, None
    if t == "ori":
        return VALID_ORI.pattern, None
    if t == "nic":  # the shape: the check digit is ``Accept.nic``'s business
        return _NIC_SHAPE, None
    if t == "year":
        extra = [v for v in fd.values if _typed_as_is(v)]
        return f"(?:{_YEAR}|{alternation(extra)})" if extra else _YEAR, None
    raise ValueError(t)  # pragma: no cover - the dictionary loader refuses unknown types


class Accept:
    """The accept pattern of one key and what is left to check once it matched.

    ``read(text)`` is the whole accept path: the ``Message`` the exact walk would give, or
    ``None`` when the text is anything but plainly valid (the caller then takes the exact walk).

    The pattern checks more than each value: every allowed field has an empty marker group
    ``()`` just after its ``CODE/``, a field that may not repeat fails when its marker is already
    set (``(?(n)(?!))``), and the pattern ends by asking for the markers of one of the key's
    ``needs`` (mandatory fields and an identifier set). So one ``fullmatch`` in C answers for
    values, repeats and mandatory fields, and the fields are then cut out with ``findall``.
    """

    __slots__ = ("key", "lookup", "match", "ncic", "nic", "suffix", "text_body")

    def __init__(self, spec: KeySpec, defs: Mapping[str, FieldDef], codes: CodeBook) -> None:
        self.key, _, self.suffix = spec.key.partition("-")
        self.ncic = spec.style == "ncic"
        self.text_body = not self.ncic and spec.body == "text"
        self.lookup: dict[str, frozenset[str]] = {}
        """Field code -> the set its value must be in (a large code table)."""
        self.nic = frozenset(c for c in spec.allowed if defs[c].type == "nic")
        """The codes whose value must pass the NIC check digit."""
        # groups: 1 the ORI; Nlets: 2 the destinations (each with its period), 3 the control
        # field; then the body; then one marker per allowed field code
        body_group = 2 if self.ncic else 4
        allowed = sorted(spec.allowed)
        marker = {code: body_group + 1 + i for i, code in enumerate(allowed)}
        branches = []
        for code in allowed:
            pattern, must_be_in = value_pattern(defs[code], codes, not self.ncic)
            if must_be_in is not None:
                self.lookup[code] = must_be_in
            once = "" if code in spec.repeat else f"(?({marker[code]})(?!))"
            branches.append((code[0], f"{re.escape(code[1:])}/{once}(){pattern}"))
        # atomic: a field's value ends at the next period, so once matched it is never
        # matched another way, and a message that fails does not try every other split
        one = _branches(branches, "(?>")
        needs = (
            "(?:"
            + "|".join(
                "".join(f"(?({marker[c]})|(?!))" for c in sorted(need)) for need in spec.needs
            )
            + ")"
        )
        key, ori = re.escape(spec.key), f"({VALID_ORI.pattern})"
        if self.ncic:
            # the body is every field with the period before it ("" when there is none)
            source = f"{key}\\.{ori}((?:\\.{one})*+){needs}"
        else:
            states = alternation(STATE_DESTINATIONS)
            dest = {"state": states, "ori": VALID_ORI.pattern}.get(
                spec.dest, f"(?:{states}|{VALID_ORI.pattern})"
            )
            if self.text_body:
                # kept as typed: starts with no blank, never ends with a blank or a period
                body = r"((?=[!-~])[ -~\n]*[!-\-/-~])"
            else:  # the first field right after the line break, the others after a period
                body = f"((?:(?:(?<=\n)|(?<!\n)\\.){one})++){needs}"
            source = (
                f"{key}\\.{ori}\\.((?:{dest}\\.){{1,{spec.max_dest}}})"
                f"(?:\\*([A-Z0-9]{{1,10}})\\.)?TXT\n{body}"
            )
        self.match = re.compile(source).fullmatch

    def read(self, text: str) -> Message | None:
        """The message ``text`` holds if it is plainly valid, else ``None``."""
        m = self.match(text)
        if m is None:
            return None
        if self.ncic:
            ori, body = m.group(1, 2)
            dests: list[str] = []
            control = ""
        else:
            ori, head, control, body = m.group(1, 2, 3, 4)
            dests = head[:-1].split(".")
            control = control or ""
            if self.text_body:
                return Message(self.key, ori, dests, control, [], body, self.suffix, [], text)
        fields = _pairs(body)
        if self.lookup or self.nic:
            for code, value in fields:
                if code in self.nic and not is_valid_nic(value):
                    return None
                table = self.lookup.get(code)
                if table is not None and value not in table:
                    return None
        return Message(self.key, ori, dests, control, fields, "", self.suffix, [], text)
