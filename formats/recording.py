"""Recordings of message traffic, and the comparison of replayed responses with recorded ones.

The format (``lems-recording`` version 1, documented in docs/RECORDING.md) is JSON Lines: a header
object on the first line, then one object per message. A message's ``text`` is the frame payload
decoded as latin-1, one character per byte, so ``text.encode("latin-1")`` gives back the exact
bytes whatever they were; the encoder writes ASCII only (``\\u00e9`` escapes), so a recording
survives any tool that mangles encodings.

Everything here is pure: lines in, records out; texts in, a report out. Files, gzip and sockets
belong to ``terminals.recording_io`` and ``terminals.replay``.

Comparison (see ``Comparison``) matches each response received during a replay with a recorded
one on the same *channel* — the receiving terminal for mailbox traffic (OSN above 0), the link for
session answers (OSN 0) — after masking what legitimately differs between two runs (times,
sequence numbers, NICs, NTNs) with regex rules a user can extend.
"""

from __future__ import annotations

import difflib
import json
import operator
import re
import tomllib
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from formats import envelope
from formats.errors import FormatError
from formats.framing import Frame, LineFramer

FORMAT = "lems-recording"
VERSION = 1
"""Version of the record layout this module writes; it reads this and every older one."""

DIRECTIONS = ("in", "out", "sys")


class RecordingError(FormatError):
    """A recording that cannot be read or written; carries the line number and the line."""

    def __init__(self, reason: str, *, line: int | None = None, text: str = "") -> None:
        self.reason, self.line, self.text = reason, line, text
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{reason}" + (f": {text[:100]!r}" if text else ""))


@dataclass(frozen=True, slots=True)
class Header:
    """First line of a recording: what it is and where it came from."""

    format: str = FORMAT
    version: int = VERSION
    created: str = ""
    source: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class Record:
    """One message in or out of the switch (a journal row).

    ``direction`` is ``in`` (from a link), ``out`` (to a terminal) or ``sys`` (switch events);
    ``ref`` is the ``seq`` of the inbound message an output answers (0 when unsolicited);
    ``osn`` the output sequence number (0 for session answers, which go to the ``link``).
    """

    seq: int
    time: str
    direction: str
    text: str
    link: str = ""
    terminal: str = ""
    operator: str = ""
    ori: str = ""
    key: str = ""
    disposition: str = ""
    reason: str = ""
    osn: int = 0
    ref: int = 0

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Record:
        """A journal row read in its column order (``lems.journal.COLUMNS``: seq, time,
        direction, link, terminal, operator, ori, key, disposition, reason, osn, ref, text)."""
        seq, time, direction, *between, text = row  # link ... ref: the fields after text
        return cls(seq, time, direction, text, *between)

    @property
    def payload(self) -> bytes:
        """The exact bytes of the frame."""
        return self.text.encode("latin-1")

    @property
    def timestamp(self) -> float:
        """Seconds since the epoch (naive times count as UTC)."""
        t = datetime.fromisoformat(self.time)
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        return t.timestamp()

    @property
    def channel(self) -> str:
        """Where an output is received: the terminal (mailbox traffic) or the link (OSN 0)."""
        return channel(self.osn, self.terminal, self.link)


def channel(osn: int, terminal: str, link: str) -> str:
    return terminal if osn and terminal else f"link:{link}"


_RECORD_FIELDS = tuple(f.name for f in fields(Record))
_INT_FIELDS = {"seq", "osn", "ref"}
_FIELD_SET = frozenset(_RECORD_FIELDS)
_OTHER_STR_FIELDS = tuple(
    f for f in _RECORD_FIELDS if f not in _INT_FIELDS and f not in ("text", "time", "direction")
)
_HEADER_FIELDS = tuple(f.name for f in fields(Header))
_FIELD_TYPES = tuple(int if name in _INT_FIELDS else str for name in _RECORD_FIELDS)
"""The exact type of each member, in field order: a good record's types compare equal to it."""
_field_values = operator.attrgetter(*_RECORD_FIELDS)
_SLOTS = {name: getattr(Record, name).__set__ for name in _RECORD_FIELDS}
"""Each member's slot setter (see ``decode``)."""
_new_record = object.__new__


def from_bytes(payload: bytes) -> str:
    """Record text for a payload (the inverse of ``Record.payload``)."""
    return payload.decode("latin-1")


def encode_header(header: Header) -> str:
    return json.dumps(asdict(header), separators=(",", ":")) + "\n"


def encode(record: Record) -> str:
    """One line of JSON (ASCII only, newline included)."""
    try:
        record.text.encode("latin-1")
    except UnicodeEncodeError as e:
        raise RecordingError(
            f"record {record.seq}: text holds a character above U+00FF "
            "(texts are bytes decoded as latin-1)"
        ) from e
    if record.direction not in DIRECTIONS:
        raise RecordingError(
            f"record {record.seq}: direction {record.direction!r} is not one "
            f"of {', '.join(DIRECTIONS)}"
        )
    d = {name: getattr(record, name) for name in _RECORD_FIELDS}
    return json.dumps(d, separators=(",", ":")) + "\n"


def decode_header(line: str, number: int = 1) -> Header:
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise RecordingError(
            f"not a {FORMAT} file (first line is not JSON)", line=number, text=line
        ) from e
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise RecordingError(f"not a {FORMAT} file (no header line)", line=number, text=line)
    version = obj.get("version")
    if not isinstance(version, int) or version < 1 or version > VERSION:
        raise RecordingError(
            f"recording version {version!r} is not supported (this program reads 1 to {VERSION})",
            line=number,
        )
    return Header(**{k: obj[k] for k in _HEADER_FIELDS if k in obj})


def decode(line: str, number: int | None = None) -> Record:
    """A record line; unknown members are ignored (a newer minor addition), missing optional
    members take their defaults."""
    try:
        obj = orjson.loads(line)
    except ValueError as e:
        raise RecordingError("record is not JSON", line=number, text=line) from e
    if not isinstance(obj, dict):
        raise RecordingError("record is not a JSON object", line=number, text=line)
    if not obj.keys() <= _FIELD_SET:
        obj = {k: v for k, v in obj.items() if k in _FIELD_SET}
    if len(obj) == len(_RECORD_FIELDS):
        # every member, as encode writes them: set the slots directly. The frozen dataclass's
        # __init__ (an object.__setattr__ call per member) costs half of decoding a line, and a
        # replay decodes two lines per message sent; _check below still checks every member.
        record = _new_record(Record)
        for name, value in obj.items():
            _SLOTS[name](record, value)
    else:
        try:
            record = Record(**obj)
        except TypeError as e:
            raise RecordingError(f"bad record: {e}", line=number, text=line) from e
    problem = _check(record)
    if problem:
        raise RecordingError(problem, line=number, text=line)
    return record


def _check(r: Record) -> str:
    # one comparison of every member's type for a good record (a replay decodes two records
    # per message sent); the member-by-member checks below only say what is wrong
    if tuple(map(type, _field_values(r))) == _FIELD_TYPES and r.direction in DIRECTIONS:
        return ""
    if type(r.seq) is not int or type(r.osn) is not int or type(r.ref) is not int:
        return "bad record: seq, osn and ref must be integers"
    if r.direction not in DIRECTIONS:
        return f"direction {r.direction!r} is not one of {', '.join(DIRECTIONS)}"
    if type(r.text) is not str or type(r.time) is not str:
        return "bad record: text and time must be strings"
    if not all(type(getattr(r, name)) is str for name in _OTHER_STR_FIELDS):
        return f"bad record: {', '.join(_OTHER_STR_FIELDS)} must be strings"
    return ""


def decode_lines(lines: Iterable[str]) -> tuple[Header, Iterator[Record]]:
    """Header and records from the lines of a recording (empty lines are skipped)."""
    it = iter(enumerate(lines, 1))
    for number, line in it:
        if line.strip():
            header = decode_header(line, number)
            break
    else:
        raise RecordingError(f"empty file: not a {FORMAT} file")

    def records() -> Iterator[Record]:
        for n, ln in it:
            if ln.strip():
                yield decode(ln, n)

    return header, records()


# ---------------------------------------------------------------------- plain-text import

_META = re.compile(r"^#@\s*(.*)$")
_LOGON = re.compile(r"^(LOGON\.[^.\n]*\.[^.\n]*\.)(.*)$", re.S)


def mask_password(text: str) -> str:
    """``LOGON.T01.OP01.secret`` -> ``LOGON.T01.OP01.******`` (as the journal keeps it)."""
    m = _LOGON.match(text)
    return f"{m.group(1)}{'*' * len(m.group(2))}" if m else text


def parse_plain(
    text: str, *, terminal: str = "", start: datetime | None = None, gap: float = 1.0
) -> Iterator[Record]:
    """Records from a plain-text log, messages in the natural form (docs/WIRE.md).

    A message starting with the envelope line ``OSN/…`` is an output (terminal and OSN from the
    envelope) and runs to an empty line, as the switch writes it; anything else is an input, read
    as the switch reads a line link: one line, or a ``.TXT`` header line with its text lines up to
    an empty line, or lines continued by a trailing backslash. A block may be preceded by a line
    ``#@ dir=in terminal=T01 time=2026-11-23T14:32:11Z link=L1`` that sets those members; other
    lines starting with ``#`` are comments. Without times, records are spaced ``gap`` seconds
    from ``start``. Passwords of LOGON lines are masked, as in the journal. Outputs refer
    (``ref``) to the last input of their terminal.
    """
    t = start or datetime(2000, 1, 1, tzinfo=UTC)
    seq = 0
    current = terminal
    last_in: dict[str, int] = {}
    meta: dict[str, str] = {}
    block: list[str] = []

    def flush() -> Record | None:
        nonlocal seq, t, current, meta
        if not block:
            return None
        body = "\n".join(block)
        block.clear()
        seq += 1
        first = body.split("\n", 1)[0]
        head, _ = envelope.parse(body)
        is_out = head is not None
        direction = meta.get("dir", "out" if is_out else "in")
        osn = 0
        term = meta.get("terminal", "")
        if head is not None:
            osn = head.osn
            term = term or head.terminal
            body_first = body.split("\n", 2)[1] if "\n" in body else ""
        else:
            body_first = first
        key, _, rest = body_first.partition(".")
        ori = rest.split(".", 1)[0].strip()
        if direction == "in" and key.strip().upper() == "LOGON":
            body = mask_password(body)
            term = term or ori
            ori = ""
        term = term or current
        if direction == "in" and term:
            current = term
        when = meta.get("time")
        if when:
            stamp = datetime.fromisoformat(when.replace("Z", "+00:00"))
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=UTC)
            t = stamp
        rec = Record(
            seq=seq,
            time=t.isoformat(timespec="microseconds"),
            direction=direction,
            text=body,
            link=meta.get("link", term),
            terminal=term,
            ori=meta.get("ori", ori if len(ori) == 9 else ""),
            key=key.strip().upper(),
            osn=osn,
            ref=last_in.get(term, 0) if direction == "out" else 0,
        )
        if direction == "in":
            last_in[term] = seq
        t = t + timedelta(seconds=gap)
        meta = {}
        return rec

    reader = LineFramer(max_length=1 << 24)  # inputs: the switch's reading of a line link

    def inputs(events: list[Any]) -> Iterator[Record]:
        for event in events:
            if type(event) is Frame:
                block.append(event.payload.decode("latin-1"))
                rec = flush()
                if rec is not None:
                    yield rec

    for line in re.split(r"\r\n|\r|\n", text):
        if block:  # an output: up to the empty line that ends it
            if line.strip():
                block.append(line)
                continue
            rec = flush()
            if rec is not None:
                yield rec
            continue
        if not reader.buffered:  # between messages
            m = _META.match(line)
            if m:
                meta = dict(item.partition("=")[::2] for item in m.group(1).split())
                continue
            if line.startswith("#") or not line.strip():
                continue
            if envelope.is_enveloped(line) or meta.get("dir") == "out":
                block.append(line)
                continue
        yield from inputs(reader.feed(line.encode("latin-1", "replace") + b"\n"))
    yield from inputs(reader.finish())
    rec = flush()
    if rec is not None:
        yield rec


# ---------------------------------------------------------------------- masking rules


@dataclass(frozen=True, slots=True)
class Rule:
    """Replace every match of ``pattern`` (a Python regex, multi-line mode) by ``replace``.

    ``when``, if given, is a plain substring without which the pattern cannot match: the rule
    is skipped for texts that lack it (a fast path; the result is the same)."""

    name: str
    pattern: str
    replace: str
    when: str = ""

    def compile(self) -> re.Pattern[str]:
        try:
            return re.compile(self.pattern, re.M)
        except re.error as e:
            raise RecordingError(f"masking rule {self.name!r}: bad pattern: {e}") from e


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("envelope-osn", r"\AOSN/\d+", "OSN/#", "OSN/"),
    Rule("envelope-time", r"DTE/\d{8} TIM/\d{6}", "DTE/# TIM/#", "TIM/"),
    Rule("nlets-clock", r"^\d\d:\d\d \d\d/\d\d/\d{4} \d{5}", "HH:MM MM/DD/YYYY #####", ":"),
    # "DTE/(?<=\bDTE/)" is "\bDTE/" (DTE/ at the start of a word) written literal first: re
    # searches a pattern that starts with a literal for it directly (4x faster per text), one
    # that starts with \b position by position; every output is masked on both sides
    Rule("dte", r"DTE/(?<=\bDTE/)\d{8}(?: \d{4}(?: [A-Z]{3})?)?", "DTE/#", "DTE/"),
    Rule("dlu", r"DLU/(?<=\bDLU/)\d{8}", "DLU/#", "DLU/"),
    Rule("nic", r"NIC/(?<=\bNIC/)[A-Z]\d{9}\b", "NIC/#", "NIC/"),
    Rule("ntn", r"NTN/(?<=\bNTN/)[A-Z0-9]+", "NTN/#", "NTN/"),
)
"""What differs between two runs of the same traffic: output envelope (OSN, date, time), Nlets
header clocks and sequence numbers, system dates, NCIC record numbers, NICS transaction numbers."""


class Masker:
    """Applies rules in order; ``ignore_keys`` names output keys left out of comparison."""

    def __init__(
        self, rules: Sequence[Rule] = DEFAULT_RULES, ignore_keys: Iterable[str] = ()
    ) -> None:
        self.rules = tuple(rules)
        self._compiled = [(r.when, r.compile(), r.replace) for r in self.rules]
        self.ignore_keys = frozenset(k.upper() for k in ignore_keys)

    def mask(self, text: str) -> str:
        for when, pattern, replace in self._compiled:
            if not when or when in text:
                text = pattern.sub(replace, text)
        return text

    @classmethod
    def from_toml(cls, text: str, source: str = "rules") -> Masker:
        """Rules from a TOML file::

        defaults = true            # keep DEFAULT_RULES first (default true)
        ignore_keys = ["NTF"]      # output keys not compared at all
        [[rule]]
        name = "case number"
        pattern = 'OCA/\\d+'
        replace = "OCA/#"
        """
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise RecordingError(f"{source}: {e}") from e
        unknown = set(data) - {"defaults", "ignore_keys", "rule"}
        if unknown:
            raise RecordingError(f"{source}: unknown keys {', '.join(sorted(unknown))}")
        rules = list(DEFAULT_RULES) if data.get("defaults", True) else []
        for i, r in enumerate(data.get("rule", []), 1):
            if not isinstance(r, dict) or not isinstance(r.get("pattern"), str):
                raise RecordingError(f"{source}: rule {i} needs a pattern")
            rules.append(
                Rule(
                    str(r.get("name", f"rule {i}")),
                    r["pattern"],
                    str(r.get("replace", "#")),
                    str(r.get("when", "")),
                )
            )
        return cls(rules, data.get("ignore_keys", ()))


def body_key(text: str) -> str:
    """The key of an output: first line of the body after the envelope (``REJ``, ``AM``…)."""
    _, body = envelope.parse(text)
    return body.partition("\n")[0].partition(".")[0].strip()


# ---------------------------------------------------------------------- comparison


@dataclass(slots=True)
class Item:
    """An output on one side of the comparison; ``context`` names what it answered."""

    order: int
    channel: str
    text: str
    context: str = ""


@dataclass(slots=True)
class Difference:
    expected: Item
    received: Item
    diff: list[str]


@dataclass(slots=True)
class Report:
    matched: int = 0
    differences: list[Difference] = field(default_factory=list)
    missing: list[Item] = field(default_factory=list)
    unexpected: list[Item] = field(default_factory=list)
    unobserved: int = 0
    """Recorded outputs for channels the replay never drove (a terminal never signed on)."""
    ignored: int = 0

    @property
    def ok(self) -> bool:
        return not (self.differences or self.missing or self.unexpected)

    def summary(self) -> str:
        return (
            f"{self.matched} matched, {len(self.differences)} different, "
            f"{len(self.missing)} missing, {len(self.unexpected)} unexpected, "
            f"{self.unobserved} not observed, {self.ignored} ignored"
        )

    def lines(self, limit: int = 50) -> list[str]:
        """The report as text: the summary, then each difference with its diff."""
        out = [self.summary()]
        shown = 0
        for d in self.differences:
            if shown >= limit:
                break
            shown += 1
            out.append(
                f"DIFFERENT on {d.expected.channel} (recorded #{d.expected.order}, "
                f"replayed #{d.received.order}){_ctx(d.expected)}"
            )
            out.extend(f"  {line}" for line in d.diff)
        for label, items in (("MISSING", self.missing), ("UNEXPECTED", self.unexpected)):
            for it in items:
                if shown >= limit:
                    break
                shown += 1
                out.append(f"{label} on {it.channel} (#{it.order}){_ctx(it)}")
                out.extend(f"  | {line}" for line in it.text.split("\n"))
        total = len(self.differences) + len(self.missing) + len(self.unexpected)
        if total > shown:
            out.append(f"... {total - shown} more not shown")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "unobserved": self.unobserved,
            "ignored": self.ignored,
            "ok": self.ok,
            "differences": [
                {
                    "channel": d.expected.channel,
                    "context": d.expected.context,
                    "expected": d.expected.text,
                    "received": d.received.text,
                    "diff": d.diff,
                }
                for d in self.differences
            ],
            "missing": [asdict(i) for i in self.missing],
            "unexpected": [asdict(i) for i in self.unexpected],
        }


def _ctx(item: Item) -> str:
    return f" answering {item.context!r}" if item.context else ""


class Comparison:
    """Streaming matcher of recorded (``expect``) and replayed (``receive``) outputs.

    Per channel, an output is matched with the first unmatched output on the other side whose
    masked text is identical, whichever arrives first — so asynchronous traffic that interleaves
    differently still matches, and memory holds only what is unmatched. ``finish`` then pairs
    the rest per channel by key in order (a *difference*, with a unified diff of the masked
    texts); what remains is *missing* (recorded, not received) or *unexpected* (received, not
    recorded). Recorded outputs on channels never observed in the replay are counted apart.
    """

    def __init__(self, masker: Masker | None = None) -> None:
        self.masker = masker or Masker()
        self._expected: dict[tuple[str, str], deque[Item]] = defaultdict(deque)
        self._received: dict[tuple[str, str], deque[Item]] = defaultdict(deque)
        self.unmatched_expected: dict[str, int] = defaultdict(int)
        self.matched = 0
        self.ignored = 0
        self.expected_count = 0
        self.received_count = 0

    def _ignore(self, text: str) -> bool:
        if body_key(text) in self.masker.ignore_keys:
            self.ignored += 1
            return True
        return False

    def expect(self, channel: str, text: str, context: str = "") -> None:
        self.expected_count += 1
        if self.masker.ignore_keys and self._ignore(text):
            return
        masked = self.masker.mask(text)
        k = (channel, masked)
        waiting = self._received.get(k)
        if waiting:
            waiting.popleft()
            if not waiting:
                del self._received[k]
            self.matched += 1
            return
        self._expected[k].append(Item(self.expected_count, channel, text, context))
        self.unmatched_expected[channel] += 1

    def receive(self, channel: str, text: str) -> bool:
        """Take one replayed output; True if it matched a recorded one at once."""
        self.received_count += 1
        if self.masker.ignore_keys and self._ignore(text):
            return False
        masked = self.masker.mask(text)
        k = (channel, masked)
        waiting = self._expected.get(k)
        if waiting:
            waiting.popleft()
            if not waiting:
                del self._expected[k]
            self.unmatched_expected[channel] -= 1
            self.matched += 1
            return True
        self._received[k].append(Item(self.received_count, channel, text))
        return False

    def outstanding(self, channels: Iterable[str]) -> int:
        """Recorded outputs not yet received on these channels."""
        u = self.unmatched_expected
        return sum(u.get(c, 0) for c in channels)

    def finish(self, observed: Iterable[str] | None = None) -> Report:
        """The report; ``observed`` are the channels the replay drove (None: all)."""
        seen = None if observed is None else set(observed)
        report = Report(matched=self.matched, ignored=self.ignored)
        exp: dict[str, list[Item]] = defaultdict(list)
        rec: dict[str, list[Item]] = defaultdict(list)
        for (ch, _), items in self._expected.items():
            exp[ch].extend(items)
        for (ch, _), items in self._received.items():
            rec[ch].extend(items)
        for ch in sorted(exp.keys() | rec.keys()):
            e = sorted(exp.get(ch, []), key=lambda i: i.order)
            r = sorted(rec.get(ch, []), key=lambda i: i.order)
            if seen is not None and ch not in seen and not r:
                report.unobserved += len(e)
                continue
            by_key: dict[str, deque[Item]] = defaultdict(deque)
            for it in r:
                by_key[body_key(it.text)].append(it)
            used: set[int] = set()
            for it in e:
                q = by_key.get(body_key(it.text))
                if q:
                    got = q.popleft()
                    used.add(got.order)
                    report.differences.append(Difference(it, got, self._diff(it, got)))
                else:
                    report.missing.append(it)
            report.unexpected.extend(it for it in r if it.order not in used)
        return report

    def _diff(self, expected: Item, received: Item) -> list[str]:
        a = self.masker.mask(expected.text).split("\n")
        b = self.masker.mask(received.text).split("\n")
        return list(difflib.unified_diff(a, b, "recorded", "replayed", lineterm="", n=1))
