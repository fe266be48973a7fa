"""Read and write the text of transactions: NCIC style, Nlets style and positional keys.

NCIC style::   QW.OR0240000.NAM/SMITH,JOHN.DOB/19800101.SEX/M
Nlets style::  RQ.OR0240000.WA.ID.*CTL01.TXT
               LIC/9ABC123.LIY/2025.LIT/PC
Positional::   LOGON.T01.JDOE.secret

The message key comes first; the dictionary (formats/keys.toml) says which style it has. Fields
are ``CODE/value`` separated by periods (a line break between fields counts as a period); the
message must not end with a period; control characters other than line breaks are ignored; keys,
ORIs, destinations and field values are read in upper case (free text and positional tokens are
kept as typed). An Nlets header names up to ``max_dest`` destinations and an optional control
field written ``*CTL`` (up to 10 letters or digits), then ``TXT``; everything after ``TXT`` is the
body. Parsing and validation happen in one pass: the first problem found becomes a ``Reject``
naming the field and the reason, in NCIC words for NCIC and state keys and with an Nlets error
number for Nlets keys.
"""

from __future__ import annotations

from formats.dictionary import Dictionary, KeySpec
from formats.errors import (
    BAD_FORMAT,
    BAD_KEY,
    BAD_ORI,
    BAD_VALUE,
    DUPLICATE_FIELD,
    FIELD_NOT_ALLOWED,
    MISSING_FIELD,
    Reject,
    RejectError,
    echo,
)
from formats.message import Message
from formats.ori import destination_problem, ori_problem

_CONTROL = {c: None for c in range(32) if c != 10}
_CONTROL[9] = 32  # a tab reads as a space
_CONTROL[127] = None
_CONTROL[13] = None

# Nlets error number to use for each NCIC-style reject code when the key is Nlets-style.
_NLETS_CODE = {
    BAD_FORMAT: ".00.",
    BAD_KEY: ".00.",
    BAD_ORI: ".01.",
    MISSING_FIELD: ".14.",
    BAD_VALUE: ".22.",
    FIELD_NOT_ALLOWED: ".22.",
    DUPLICATE_FIELD: ".22.",
}


def clean(text: str) -> str:
    """Drop control characters (keeping line breaks; a tab becomes a space) and outer blanks."""
    if not text.isprintable():
        text = text.translate(_CONTROL)
    return text.strip()


class Parser:
    """Parses and validates transactions against one dictionary."""

    def __init__(self, dictionary: Dictionary | None = None) -> None:
        self.dictionary = dictionary or Dictionary.default()
        self._keys = self.dictionary.keys
        self._fields = self.dictionary.fields

    def check(self, text: str) -> Message | Reject:
        """The message, or the reject that answers it (with the input echoed)."""
        try:
            return self.parse(text)
        except RejectError as e:
            return e.reject

    def parse(self, text: str) -> Message:
        """The validated message; raises ``RejectError`` for anything the switch must refuse."""
        try:
            return self._parse(text)
        except RejectError as e:
            raise RejectError(e.reject.with_input(text)) from None

    def _parse(self, raw: str) -> Message:
        text = clean(raw)
        if not text:
            _reject(BAD_FORMAT, "EMPTY MESSAGE")
        if text[-1] == ".":
            _reject(BAD_FORMAT, "MESSAGE MUST NOT END WITH A PERIOD")
        head, sep, rest = text.partition(".")
        key_token = head.strip().upper()
        spec = self._keys.get(key_token)
        if spec is None:
            base = key_token.partition("-")[0]
            if base in self._keys and base != key_token:
                _reject(BAD_KEY, f"INVALID MESSAGE KEY SUFFIX {key_token}")
            _reject(BAD_KEY, f"INVALID MESSAGE KEY {key_token[:10]}")
        key, _, suffix = spec.key.partition("-")
        if spec.style == "positional":
            args = rest.split(".") if sep else []
            if len(args) != len(spec.args) or not all(args):
                _reject(BAD_FORMAT, f"{spec.key} TAKES {'.'.join(spec.args) or 'NOTHING'}")
            return Message(key=key, suffix=suffix, ori=args[0] if args else "", args=args,
                           raw=raw)
        if not sep:
            _reject(BAD_FORMAT if spec.style == "ncic" else ".01.",
                    "MESSAGE KEY MUST BE FOLLOWED BY A PERIOD AND THE ORI")
        if spec.style == "ncic":
            ori, _, body = rest.partition(".")
            ori = ori.strip().upper()
            why = ori_problem(ori)
            if why:
                _reject(BAD_ORI, why, "ORI")
            fields = self._read_fields(body.upper(), spec, False) if body else []
            self._check_present(fields, spec, False)
            return Message(key=key, suffix=suffix, ori=ori, fields=fields, raw=raw)
        return self._parse_nlets(raw, rest, key, suffix, spec)

    def _parse_nlets(self, raw: str, rest: str, key: str, suffix: str,
                     spec: KeySpec) -> Message:
        tokens: list[str] = []
        pos = 0
        while True:
            dot = rest.find(".", pos)
            tok = rest[pos:] if dot < 0 else rest[pos:dot]
            if tok[:3].upper() == "TXT" and (len(tok) == 3 or tok[3].isspace() or "/" in tok):
                body = rest[pos + 3:].lstrip()
                break
            if dot < 0:
                _reject(".03.", "TXT NOT FOUND")
            tokens.append(tok.strip().upper())
            pos = dot + 1
        ori = tokens[0] if tokens else ""
        why = ori_problem(ori)
        if why:
            _reject(".01.", why, "ORI")
        dests = tokens[1:]
        control = ""
        if dests and dests[-1].startswith("*"):
            control = dests.pop()[1:]
            if not (1 <= len(control) <= 10 and control.isalnum()):
                _reject(".01.", f"CONTROL FIELD *{control} MUST BE 1 TO 10 LETTERS OR DIGITS")
        if not dests:
            _reject(".01.", "NO DESTINATION IN HEADER")
        if len(dests) > spec.max_dest:
            _reject(".01.", f"TOO MANY DESTINATIONS - {spec.key} ALLOWS {spec.max_dest}")
        for dest in dests:
            why = destination_problem(dest, spec.dest)
            if why:
                code = ".02." if "MUST BE A" in why else ".19."
                _reject(code, f"{why} - {spec.key}", "DEST")
        if spec.body == "text":
            if not body:
                _reject(".14.", "MESSAGE TEXT MISSING")
            return Message(key=key, suffix=suffix, ori=ori, destinations=dests, control=control,
                           text=body, raw=raw)
        fields = self._read_fields(body.upper(), spec, True) if body else []
        self._check_present(fields, spec, True)
        return Message(key=key, suffix=suffix, ori=ori, destinations=dests, control=control,
                       fields=fields, raw=raw)

    def _read_fields(self, body: str, spec: KeySpec, nlets: bool) -> list[tuple[str, str]]:
        if "\n" in body:
            body = body.replace(".\n", ".").replace("\n", ".")
        allowed, repeat, defs = spec.allowed, spec.repeat, self._fields
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        for tok in body.split("."):
            code, slash, value = tok.partition("/")
            code = code.strip()
            if not slash:
                if not tok.strip():
                    _reject_n(nlets, BAD_FORMAT, "EMPTY FIELD BETWEEN PERIODS")
                _reject_n(nlets, BAD_FORMAT, f"{tok[:20]} IS NOT A CODE/VALUE FIELD")
            if code not in allowed:
                if code in defs:
                    _reject_n(nlets, FIELD_NOT_ALLOWED,
                              f"FIELD {code} NOT VALID FOR MKE {spec.key}", code)
                _reject_n(nlets, FIELD_NOT_ALLOWED, f"UNKNOWN FIELD CODE {code[:10]}",
                          code[:10])
            if code in seen and code not in repeat:
                _reject_n(nlets, DUPLICATE_FIELD, f"FIELD {code} ENTERED MORE THAN ONCE", code)
            seen.add(code)
            value = value.strip()
            fd = defs[code]
            if not value:
                _reject(fd.er if nlets else MISSING_FIELD, f"FIELD {code} HAS NO VALUE", code)
            why = fd.check(value, nlets)
            if why is not None:
                _reject(fd.er if nlets else BAD_VALUE, why, code)
            out.append((code, value))
        return out

    def _check_present(self, fields: list[tuple[str, str]], spec: KeySpec, nlets: bool) -> None:
        seen = {c for c, _ in fields}
        for code in spec.mandatory:
            if code not in seen:
                er = self._fields[code].er if nlets else MISSING_FIELD
                _reject(".14." if er == ".22." else er, f"MISSING MANDATORY FIELD {code}", code)
        if spec.one_of and not any(all(c in seen for c in group) for group in spec.one_of):
            first = next(c for c in spec.one_of[0] if c not in seen)
            sets = ", ".join("+".join(group) for group in spec.one_of)
            if nlets:
                _reject(".22.", f"INVALID MESSAGE FORMAT - REFER TO {spec.key} MKE OPTIONS BELOW\n"
                        + "\n".join(spec.options_text()), first)
            _reject(MISSING_FIELD, f"MISSING IDENTIFIERS - ENTER ONE OF {sets}", first)


def _reject(code: str, reason: str, field: str | None = None) -> None:
    raise RejectError(Reject(code, reason, field))


def _reject_n(nlets: bool, code: str, reason: str, field: str | None = None) -> None:
    _reject(_NLETS_CODE[code] if nlets else code, reason, field)


def build(msg: Message, dictionary: Dictionary | None = None) -> str:
    """The canonical text of ``msg``: what ``Parser.parse`` reads back to the same message."""
    spec = (dictionary or Dictionary.default()).spec(msg.full_key)
    style = spec.style if spec else ("nlets" if msg.destinations else "ncic")
    if style == "positional":
        return ".".join([msg.full_key, *msg.args])
    fields = ".".join(f"{c}/{v}" for c, v in msg.fields)
    if style == "ncic":
        return f"{msg.full_key}.{msg.ori}.{fields}" if fields else f"{msg.full_key}.{msg.ori}"
    head = ".".join([msg.full_key, msg.ori, *msg.destinations]
                    + ([f"*{msg.control}"] if msg.control else []))
    body = fields if (spec is None or spec.body == "fields") and not msg.text else msg.text
    return f"{head}.TXT\n{body}" if body else f"{head}.TXT"


_default_parser: Parser | None = None


def parse(text: str) -> Message:
    """Parse with the shipped dictionary (see ``Parser.parse``)."""
    global _default_parser
    if _default_parser is None:
        _default_parser = Parser()
    return _default_parser.parse(text)


__all__ = ["Parser", "build", "clean", "echo", "parse"]
