"""Read and write the text of transactions: NCIC style, Nlets style and positional keys.

NCIC style::   QW.OR0240000.NAM/SMITH,JOHN.DOB/19800101.SEX/M
Nlets style::  RQ.OR0240000.WA.ID.*CTL01.TXT
               LIC/9ABC123.LIY/2025.LIT/PC
Positional::   LOGON.T01.JDOE.secret

The message key comes first; the dictionary (formats/keys.toml) says which style it has. Fields
are ``CODE/value`` separated by periods (a line break between fields counts as a period); the
message must not end with a period (an Nlets-style one may: the Nlets User Guide's examples
end every line, the last included, with one); control characters other than line breaks are
ignored; keys, ORIs, destinations and field values are read in upper case (free text and
positional tokens are kept as typed). An Nlets header names up to ``max_dest`` destinations
and an optional control field written ``*CTL`` (up to 10 letters or digits), then ``TXT``;
everything after ``TXT`` is the body. Parsing and validation happen in one pass: the first
problem found becomes a ``Reject`` naming the field and the reason, in NCIC words for NCIC and
state keys and with an Nlets error number for Nlets keys.

Speed (every message of the switch comes through here; ``tools/bench_parse.py`` measures it):
a message that is plainly valid (upper case, no stray blanks or control characters) is read by
its key's accept pattern (``formats.patterns``) in one regular-expression match; anything else
takes the exact walk below, one field at a time, which finds the first problem the operator
must be told about. The accept patterns only ever accept: every reject comes from the walk.
"""

from __future__ import annotations

from formats.dictionary import Dictionary, KeySpec
from formats.errors import (
    Reject,
    RejectError,
    echo,
)
from formats.fields import FieldDef
from formats.message import Message
from formats.ori import STATE_DESTINATIONS, VALID_ORI, destination_problem, ori_problem
from formats.patterns import Accept
from formats.rejects import RejectCode

_CONTROL: dict[int, int | None] = {c: None for c in range(32) if c != 10}
_CONTROL[9] = 32  # a tab reads as a space
_CONTROL[127] = None
_CONTROL[13] = None
_CONTROL_BYTES = bytes(_CONTROL)

# Nlets error number to use for each NCIC-style reject code when the key is Nlets-style.
_NLETS_CODE = {
    RejectCode.BAD_FORMAT: ".00.",
    RejectCode.BAD_KEY: ".00.",
    RejectCode.BAD_ORI: ".01.",
    RejectCode.MISSING_FIELD: ".14.",
    RejectCode.BAD_VALUE: ".22.",
    RejectCode.FIELD_NOT_ALLOWED: ".22.",
    RejectCode.DUPLICATE_FIELD: ".22.",
}

_valid_ori = VALID_ORI.fullmatch


def clean(text: str) -> str:
    """Drop control characters (keeping line breaks; a tab becomes a space) and outer blanks."""
    # str.translate is slow, isprintable() is false for a line break too and slow on long text:
    # for ASCII text that is long or not printable, look for the characters to drop with
    # bytes.translate first, and translate only if there are any.
    if not text.isascii():
        if not text.isprintable():
            text = text.translate(_CONTROL)
    elif len(text) > 64 or not text.isprintable():
        data = text.encode("ascii")
        if len(data.translate(None, _CONTROL_BYTES)) != len(data):
            text = text.translate(_CONTROL)
    return text.strip()


class _Plan:
    """One key of the dictionary, laid out for the exact walk (built once per parser).

    ``fields`` maps each field code the key allows to its definition, ``needs`` lists the sets
    of codes a message must hold one of, ``dest_codes`` and ``dest_ori`` say which destinations
    pass without a closer look.
    """

    __slots__ = (
        "body_text",
        "dest_codes",
        "dest_ori",
        "fields",
        "key",
        "max_dest",
        "ncic",
        "needs",
        "repeat",
        "spec",
        "suffix",
    )

    def __init__(self, spec: KeySpec, defs: dict[str, FieldDef]) -> None:
        self.spec = spec
        self.key, _, self.suffix = spec.key.partition("-")
        self.ncic = spec.style == "ncic"
        self.body_text = spec.body == "text"
        self.repeat = spec.repeat
        self.needs = spec.needs
        self.fields = {code: defs[code] for code in sorted(spec.allowed)}
        # destinations taken without a closer look (see destination_problem for the rest)
        self.dest_codes = frozenset() if spec.dest == "ori" else STATE_DESTINATIONS
        self.dest_ori = spec.dest != "state"
        self.max_dest = spec.max_dest


class Parser:
    """Parses and validates transactions against one dictionary (read once, at construction)."""

    def __init__(self, dictionary: Dictionary | None = None, *, accept: bool = True) -> None:
        """``accept=False`` reads every message with the exact walk alone: slower, and the
        reference the accept patterns are tested against."""
        self.dictionary = dictionary or Dictionary.default()
        self._keys = self.dictionary.keys
        self._fields = self.dictionary.fields
        self._plans = {
            key: _Plan(spec, self.dictionary.defs_for(key)) for key, spec in self._keys.items()
        }
        self._accept: dict[str, Accept | None] = {
            key: None
            for key, spec in self._keys.items()
            if not accept or spec.style == "positional"
        }
        """Each key's accept pattern, compiled the first time the key is seen (~2 ms a key:
        a command that reads one message should not compile them all); None: the key has none."""

    def check(self, text: str) -> Message | Reject:
        """The message, or the reject that answers it (with the input echoed)."""
        head = text.partition(".")[0]
        try:
            accept = self._accept[head]
        except KeyError:
            accept = self._accept_for(head)
        if accept is not None:
            msg = accept.read(text)
            if msg is not None:
                return msg
        try:
            return self._parse(text)
        except RejectError as e:
            return e.reject.with_input(text)

    def parse(self, text: str) -> Message:
        """The validated message; raises ``RejectError`` for anything the switch must refuse."""
        result = self.check(text)
        if isinstance(result, Reject):
            raise RejectError(result)
        return result

    def _accept_for(self, head: str) -> Accept | None:
        spec = self._keys.get(head)
        if spec is None:
            return None  # not a key as typed: the walk answers (nothing kept for it)
        accept = self._accept[head] = Accept(
            spec, self.dictionary.defs_for(head), self.dictionary.codes
        )
        return accept

    def _parse(self, raw: str) -> Message:
        text = clean(raw)
        if not text:
            _reject(RejectCode.BAD_FORMAT, "EMPTY MESSAGE")
        head, sep, rest = text.partition(".")
        plan = self._plans.get(head)
        if plan is None:
            plan = self._plan_for(head.strip().upper())
        if text[-1] == ".":
            if plan.spec.style != "nlets":
                _reject(RejectCode.BAD_FORMAT, "MESSAGE MUST NOT END WITH A PERIOD")
            # The Nlets User Guide's examples end every line of the text with a period, the
            # last one included (YQ: "REM/PLS CONFIRM STILL STOLEN."): Nlets takes it. In a
            # free-text body (AM) the period is the sender's text and stays.
            if not plan.body_text:
                text = text.rstrip(".").rstrip()
                head, sep, rest = text.partition(".")
        if plan.ncic:
            if not sep:
                _reject(
                    RejectCode.BAD_FORMAT, "MESSAGE KEY MUST BE FOLLOWED BY A PERIOD AND THE ORI"
                )
            ori, _, body = rest.partition(".")
            if _valid_ori(ori) is None:
                ori = ori.strip().upper()
                why = ori_problem(ori)
                if why:
                    _reject(RejectCode.BAD_ORI, why, "ORI")
            fields, seen = self._read_fields(body.upper(), plan, False) if body else ([], set())
            for need in plan.needs:
                if need <= seen:
                    break
            else:
                self._missing(seen, plan, False)
            # Message(key, ori, destinations, control, fields, text, suffix, args, raw)
            return Message(plan.key, ori, [], "", fields, "", plan.suffix, [], raw)
        spec = plan.spec
        if spec.style == "positional":
            args = rest.split(".") if sep else []
            if len(args) != len(spec.args) or not all(args):
                _reject(
                    RejectCode.BAD_FORMAT, f"{spec.key} TAKES {'.'.join(spec.args) or 'NOTHING'}"
                )
            return Message(
                plan.key, args[0] if args else "", [], "", [], "", plan.suffix, args, raw
            )
        if not sep:
            _reject(".01.", "MESSAGE KEY MUST BE FOLLOWED BY A PERIOD AND THE ORI")
        return self._parse_nlets(raw, rest, plan)

    def _plan_for(self, key_token: str) -> _Plan:
        plan = self._plans.get(key_token)
        if plan is None:
            base = key_token.partition("-")[0]
            if base in self._keys and base != key_token:
                _reject(RejectCode.BAD_KEY, f"INVALID MESSAGE KEY SUFFIX {key_token}")
            _reject(RejectCode.BAD_KEY, f"INVALID MESSAGE KEY {key_token[:10]}")
        return plan  # type: ignore[return-value]  # _reject never returns

    def _parse_nlets(self, raw: str, rest: str, plan: _Plan) -> Message:
        tokens, body = _nlets_header(rest)
        ori = tokens[0] if tokens else ""
        if _valid_ori(ori) is None:
            _reject(".01.", ori_problem(ori) or "", "ORI")
        dests = tokens[1:]
        control = ""
        if dests and dests[-1].startswith("*"):
            control = dests.pop()[1:]
            if not (1 <= len(control) <= 10 and control.isalnum() and control.isascii()):
                _reject(".01.", f"CONTROL FIELD *{control} MUST BE 1 TO 10 LETTERS OR DIGITS")
        if not dests:
            _reject(".01.", "NO DESTINATION IN HEADER")
        spec = plan.spec
        if len(dests) > plan.max_dest:
            _reject(".01.", f"TOO MANY DESTINATIONS - {spec.key} ALLOWS {spec.max_dest}")
        for dest in dests:
            if dest in plan.dest_codes or (plan.dest_ori and _valid_ori(dest) is not None):
                continue
            why = destination_problem(dest, spec.dest) or ""
            # .02. a well-formed destination of the wrong kind; .19. not a destination
            wrong_kind = (len(dest) == 2 and spec.dest == "ori") or (
                len(dest) == 9 and spec.dest == "state"
            )
            _reject(".02." if wrong_kind else ".19.", f"{why} - {spec.key}", "DEST")
        if plan.body_text:
            if not body.strip(". \n"):
                _reject(".14.", "MESSAGE TEXT MISSING")
            return Message(plan.key, ori, dests, control, [], body, plan.suffix, [], raw)
        fields, seen = self._read_fields(body.upper(), plan, True) if body else ([], set())
        for need in plan.needs:
            if need <= seen:
                break
        else:
            self._missing(seen, plan, True)
        return Message(plan.key, ori, dests, control, fields, "", plan.suffix, [], raw)

    def _read_fields(
        self, body: str, plan: _Plan, nlets: bool
    ) -> tuple[list[tuple[str, str]], set[str]]:
        """The fields of ``body`` in order and the set of their codes; refuses the first
        problem in the order the operator typed it."""
        if "\n" in body:  # a line break between fields counts as a period
            body = body.replace(".\n", ".").replace("\n", ".")
        get, repeat = plan.fields.get, plan.repeat
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        for tok in body.split("."):
            code, slash, value = tok.partition("/")
            fd = get(code)
            if fd is None or not slash:
                code, fd = self._odd_field(tok, code, slash, plan, nlets)
            if code in seen and code not in repeat:
                _reject_n(
                    nlets, RejectCode.DUPLICATE_FIELD, f"FIELD {code} ENTERED MORE THAN ONCE", code
                )
            seen.add(code)
            value = value.strip()
            if not value:
                _reject(
                    fd.er if nlets else RejectCode.MISSING_FIELD, f"FIELD {code} HAS NO VALUE", code
                )
            why = fd.check(value, nlets)
            if why is not None:
                _reject(fd.er if nlets else RejectCode.BAD_VALUE, why, code)
            out.append((code, value))
        return out, seen

    def _odd_field(
        self, tok: str, code: str, slash: str, plan: _Plan, nlets: bool
    ) -> tuple[str, FieldDef]:
        """A token that is not ``CODE/value`` with an allowed code as typed: blanks around the
        code are forgiven, anything else is refused."""
        if not slash:
            if not tok.strip():
                _reject_n(nlets, RejectCode.BAD_FORMAT, "EMPTY FIELD BETWEEN PERIODS")
            _reject_n(nlets, RejectCode.BAD_FORMAT, f"{tok[:20]} IS NOT A CODE/VALUE FIELD")
        code = code.strip()
        fd = plan.fields.get(code)
        if fd is None:
            if code in self._fields:
                _reject_n(
                    nlets,
                    RejectCode.FIELD_NOT_ALLOWED,
                    f"FIELD {code} NOT VALID FOR MKE {plan.spec.key}",
                    code,
                )
            _reject_n(
                nlets, RejectCode.FIELD_NOT_ALLOWED, f"UNKNOWN FIELD CODE {code[:10]}", code[:10]
            )
        return code, fd  # type: ignore[return-value]  # _reject never returns

    def _missing(self, seen: set[str], plan: _Plan, nlets: bool) -> None:
        """Reject for the first mandatory field or identifier set missing from ``seen``."""
        spec = plan.spec
        for code in spec.mandatory:
            if code not in seen:
                er = self._fields[code].er if nlets else RejectCode.MISSING_FIELD
                _reject(".14." if er == ".22." else er, f"MISSING MANDATORY FIELD {code}", code)
        if spec.one_of and not any(all(c in seen for c in group) for group in spec.one_of):
            first = next(c for c in spec.one_of[0] if c not in seen)
            sets = ", ".join("+".join(group) for group in spec.one_of)
            if nlets:
                _reject(
                    ".22.",
                    f"INVALID MESSAGE FORMAT - REFER TO {spec.key} MKE OPTIONS BELOW\n"
                    + "\n".join(spec.options_text()),
                    first,
                )
            _reject(RejectCode.MISSING_FIELD, f"MISSING IDENTIFIERS - ENTER ONE OF {sets}", first)


def _reject(code: str, reason: str, field: str | None = None) -> None:
    raise RejectError(Reject(code, reason, field))


def _reject_n(nlets: bool, code: RejectCode, reason: str, field: str | None = None) -> None:
    _reject(_NLETS_CODE[code] if nlets else code, reason, field)


def _nlets_header(rest: str) -> tuple[list[str], str]:
    """The header tokens before ``TXT`` (upper case, without blanks) and the body after it."""
    tokens: list[str] = []
    pos = 0
    while True:
        dot = rest.find(".", pos)
        tok = rest[pos:] if dot < 0 else rest[pos:dot]
        if tok[:3].upper() == "TXT" and (len(tok) == 3 or tok[3].isspace() or "/" in tok):
            return tokens, rest[pos + 3 :].lstrip()
        if dot < 0:
            _reject(".03.", "TXT NOT FOUND")
        tokens.append(tok.strip().upper())
        pos = dot + 1


def control_of(text: str) -> str:
    """The control field (``*CTL``) of an Nlets-style header, without the asterisk, or "".

    Read from the raw text, so that an ER answering a message the parser refused still carries
    it back (a control field that is not 1-10 letters or digits is not returned)."""
    header = text.partition("TXT")[0] if "TXT" in text else text[:120]
    for tok in header.split("."):
        tok = tok.strip()
        if tok.startswith("*") and 1 < len(tok) <= 11 and tok[1:].isalnum() and tok.isascii():
            return tok[1:].upper()
    return ""


def build(msg: Message, dictionary: Dictionary | None = None) -> str:
    """The canonical text of ``msg``: what ``Parser.parse`` reads back to the same message."""
    spec = (dictionary or Dictionary.default()).spec(msg.full_key)
    style = spec.style if spec else ("nlets" if msg.destinations else "ncic")
    if style == "positional":
        return ".".join([msg.full_key, *msg.args])
    fields = ".".join(f"{c}/{v}" for c, v in msg.fields)
    if style == "ncic":
        return f"{msg.full_key}.{msg.ori}.{fields}" if fields else f"{msg.full_key}.{msg.ori}"
    head = ".".join(
        [msg.full_key, msg.ori, *msg.destinations] + ([f"*{msg.control}"] if msg.control else [])
    )
    body = fields if (spec is None or spec.body == "fields") and not msg.text else msg.text
    return f"{head}.TXT\n{body}" if body else f"{head}.TXT"


_default_parser: Parser | None = None


def parse(text: str) -> Message:
    """Parse with the shipped dictionary (see ``Parser.parse``)."""
    global _default_parser
    if _default_parser is None:
        _default_parser = Parser()
    return _default_parser.parse(text)


__all__ = ["Parser", "build", "clean", "control_of", "echo", "parse"]
