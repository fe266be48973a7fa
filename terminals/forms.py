"""``HELP KEY`` and ``FORM KEY`` at the terminal prompt, read from the format dictionary.

The help screens and the entry forms come from the same ``formats.dictionary`` definitions that
the switch validates with, so what the help says a field must look like is exactly what the switch
will accept. ``Form`` is a small state machine (no I/O): the console asks for ``form.current``,
hands the typed value to ``form.answer`` and, at the end, sends ``form.message()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from formats.dictionary import Dictionary, KeySpec
from formats.errors import Reject
from formats.fields import FieldDef
from formats.grammar import Parser, build
from formats.message import Message

__all__ = ["Form", "Prompt", "help_lines", "key_list"]


def key_list(dictionary: Dictionary) -> list[str]:
    """One line per key: ``QW    INQUIRY WANTED PERSON …``."""
    return [
        f"{k:<6} {s.label}" for k, s in sorted(dictionary.keys.items()) if s.style != "positional"
    ]


def _field_line(fd: FieldDef | None, code: str, repeat: bool) -> str:
    if fd is None:
        return f"  {code}"
    more = " (may repeat)" if repeat else ""
    return f"  {code:<4} {fd.label:<32} {fd.describe()}{more}"


def _codes_of(dictionary: Dictionary, fd: FieldDef, limit: int = 12) -> str:
    """A few of the allowed codes of a code field, for the help screen."""
    if fd.type != "code" or fd.values or fd.table not in dictionary.codes:
        return ""
    table = dictionary.codes.table(fd.table)
    items = list(table)[:limit]
    if not items:
        return ""
    shown = " ".join(items)
    return f"       codes: {shown}{' …' if len(table) > limit else ''}"


def help_lines(dictionary: Dictionary, key: str) -> list[str]:
    """The help screen for one key: what it does, mandatory fields, identifier sets, optional."""
    spec = dictionary.spec(key.upper())
    if spec is None:
        return [f"NO SUCH KEY {key.upper()} - HELP alone lists the keys"]
    out = [f"{spec.key} - {spec.label}"]
    if spec.style == "nlets":
        dest = {
            "state": "2-character state codes",
            "ori": "9-character ORIs",
            "any": "state codes or ORIs",
        }[spec.dest]
        out.append(
            f"FORMAT: {spec.key}.ORI.DEST[.DEST…].TXT then the "
            f"{'text' if spec.body == 'text' else 'fields'} "
            f"(up to {spec.max_dest} destinations: {dest})"
        )
    elif spec.style == "ncic":
        out.append(f"FORMAT: {spec.key}.ORI.CODE/value.CODE/value…")
    defs = dictionary.defs_for(spec.key)  # the key's own code tables (an article's TYP ...)
    sections = [("MANDATORY", spec.mandatory)]
    for title, codes in sections:
        if codes:
            out.append(f"{title}:")
            for code in codes:
                fd = defs.get(code)
                out.append(_field_line(fd, code, code in spec.repeat))
                if fd is not None and (extra := _codes_of(dictionary, fd)):
                    out.append(extra)
    if spec.one_of:
        out.append("AT LEAST ONE COMPLETE IDENTIFIER SET:")
        out.extend(f"  {line}" for line in spec.options_text())
        for code in dict.fromkeys(c for g in spec.one_of for c in g):
            if code not in spec.mandatory:
                out.append(_field_line(defs.get(code), code, code in spec.repeat))
    optional = [
        c for c in spec.optional if c not in spec.mandatory and not any(c in g for g in spec.one_of)
    ]
    if optional:
        out.append("OPTIONAL:")
        out.extend(_field_line(defs.get(c), c, c in spec.repeat) for c in optional)
    return out


@dataclass(slots=True)
class Prompt:
    """One question of a form."""

    code: str
    label: str
    hint: str
    required: bool


@dataclass(slots=True)
class Form:
    """Walk through one key's fields and build the message text.

    Order: destinations (Nlets-style keys), mandatory fields, the identifier-set fields (at least
    one set must end up complete), then optional ``CODE/value`` pairs typed freely until a blank
    line. Each value is checked with the dictionary's checker when it is typed."""

    dictionary: Dictionary
    spec: KeySpec
    ori: str
    values: list[tuple[str, str]] = field(default_factory=list)
    destinations: list[str] = field(default_factory=list)
    queue: list[Prompt] = field(default_factory=list)
    done: bool = False

    @classmethod
    def start(cls, dictionary: Dictionary, key: str, ori: str) -> Form:
        spec = dictionary.spec(key.upper())
        if spec is None or spec.style == "positional":
            raise KeyError(key.upper())
        form = cls(dictionary, spec, ori)
        if spec.style == "nlets":
            form.queue.append(
                Prompt("DEST", "DESTINATIONS", f"up to {spec.max_dest}, separated by spaces", True)
            )
        for code in spec.mandatory:
            form.queue.append(form._prompt(code, True))
        for code in dict.fromkeys(c for g in spec.one_of for c in g):
            if code not in spec.mandatory:
                form.queue.append(form._prompt(code, False))
        if spec.style == "nlets" and spec.body == "text":
            form.queue.append(Prompt("TXT", "TEXT", "the message text", True))
        else:
            form.queue.append(
                Prompt("MORE", "MORE FIELDS", "CODE/value (blank line to finish)", False)
            )
        return form

    def _prompt(self, code: str, required: bool) -> Prompt:
        fd = self.dictionary.defs_for(self.spec.key)[code]
        return Prompt(code, fd.label, fd.describe(), required)

    @property
    def current(self) -> Prompt | None:
        return self.queue[0] if self.queue else None

    def answer(self, text: str) -> str:
        """Take the answer to the current question; returns a problem ("" when accepted)."""
        prompt = self.current
        if prompt is None:
            return "the form is complete"
        value = text.strip().upper() if prompt.code != "TXT" else text.rstrip()
        if not value:
            if prompt.required:
                return f"{prompt.code} IS MANDATORY FOR {self.spec.key}"
            self.queue.pop(0)
            return ""
        if prompt.code == "DEST":
            dests = value.replace(",", " ").split()
            if len(dests) > self.spec.max_dest:
                return f"AT MOST {self.spec.max_dest} DESTINATIONS"
            self.destinations = dests
        elif prompt.code == "TXT":
            self.values.append(("TXT", value))
        elif prompt.code == "MORE":
            code, slash, v = value.partition("/")
            if not slash or code not in self.spec.allowed:
                return f"TYPE CODE/value WITH A FIELD OF {self.spec.key} (HELP {self.spec.key})"
            problem = self._check(code, v)
            if problem:
                return problem
            self.values.append((code, v))
            return ""  # stay on MORE until a blank line
        else:
            problem = self._check(prompt.code, value)
            if problem:
                return problem
            self.values.append((prompt.code, value))
        self.queue.pop(0)
        return ""

    def _check(self, code: str, value: str) -> str:
        fd = self.dictionary.defs_for(self.spec.key).get(code)
        if fd is None:
            return f"UNKNOWN FIELD {code}"
        if code in dict(self.values) and code not in self.spec.repeat:
            return f"{code} IS ALREADY GIVEN"
        return fd.check(value, self.spec.style == "nlets") or ""

    def message(self) -> str:
        """The message text, built the way the grammar reads it back."""
        fields = [(c, v) for c, v in self.values if c != "TXT"]
        text = next((v for c, v in self.values if c == "TXT"), "")
        msg = Message(
            key=self.spec.key.partition("-")[0],
            suffix=self.spec.key.partition("-")[2],
            ori=self.ori,
            destinations=self.destinations,
            fields=fields,
            text=text,
        )
        return build(msg, self.dictionary)

    def problem(self) -> Reject | None:
        """What the switch's parser would refuse in the built message (None when it is good)."""
        result = Parser(self.dictionary).check(self.message())
        return result if isinstance(result, Reject) else None
