"""A lab: one TOML file that describes a whole world (agencies, terminals, operators, links).

``load_lab(path)`` reads and checks it; anything wrong is refused with the file, the key and, when
it can be found, the line. Runtime state (suspensions, lockouts, journal, mailboxes) lives in the
lab's database, so editing the file never undoes what an administrator did.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from formats.codes import US_STATE_CODES
from formats.errors import ConfigError
from formats.nlets_members import MEMBERS
from formats.ori import ori_problem
from lems.signon import hash_problem

CATEGORIES = {
    "cj": "criminal justice agency",
    "designated": "designated (non-criminal-justice) agency",
    "riss": "Regional Information Sharing System",
    "qe": "qualified entity (YES/NO fitness checks only)",
    "noncj": "other non-criminal-justice agency",
}
"""Agency categories the rules of OAR 257-010-0025 distinguish."""

ORION_TYPES = ("PD", "SO", "SA", "LE", "FE", "JA", "JC", "JG", "JJ", "JF", "CJ", "NJ")


@dataclass(frozen=True, slots=True)
class AgencyConfig:
    ori: str
    name: str
    category: str = "cj"
    type: str = "LE"
    agreement: bool = True
    agreement_expires: date | None = None
    keys: frozenset[str] | None = None
    cch_entry: bool = False
    criteria: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        return self.ori[:2]


@dataclass(frozen=True, slots=True)
class TerminalConfig:
    id: str
    oris: tuple[str, ...]
    radio: bool = False
    control: bool = False
    description: str = ""
    require_tls: bool = False
    """Sign-on only over a TLS link whose client certificate names this terminal."""
    nlets_format: str = ""
    """``legacy`` or ``xml``: the form of the Nlets traffic this terminal receives ("" = the
    nlets endpoint's ``format``). A terminal may send either form whatever this says."""
    ncic_header: str | None = None
    """The NCIC interface header text above NCIC's answers to this terminal (``1L01<text>``;
    "" for none); None: the lab's ``[switch] ncic_header``."""


@dataclass(frozen=True, slots=True)
class OperatorConfig:
    id: str
    name: str
    password: str
    """A clear password (labs written before hashes; ``""`` when ``password_hash`` is set)."""
    terminals: tuple[str, ...] = ()
    cleared: bool = True
    supervisor: bool = False
    password_hash: str = ""
    """``scrypt$…`` (``lems.signon``); checked instead of ``password`` when set."""


@dataclass(frozen=True, slots=True)
class GroupConfig:
    name: str
    members: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    name: str
    mode: str = "inprocess"
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    drop_rate: float = 0.0
    error_rate: float = 0.0
    timeout_s: float = 10.0
    out_of_service: tuple[str, ...] = ()
    """Nlets only: member codes out of service (answered ``SM .04.``)."""
    slow: tuple[tuple[str, float], ...] = ()
    """Nlets only: (member code, lab seconds it takes to answer)."""
    format: str = "legacy"
    """Nlets only: ``legacy`` text or ``xml`` (Nlets NIEM XML) answers by default."""


IAK_MODES = ("numbered", "all")
"""Values of ``[switch] iak`` and of a listener's ``iak=`` (docs/WIRE.md)."""

RULE_SETS = {
    "oregon": "Oregon LEDS rules (OAR 257-010, docs/RULES.md)",
    "generic": "generic rule set for any other state (docs/FEDERATION.md, Rule sets)",
}
"""The rule sets a lab may name in ``[lab] rules``; a state's rule set is part of its lab."""


@dataclass(frozen=True, slots=True)
class NletsConfig:
    """``[nlets]``: how the switch reaches other states. ``network`` empty: every other state is
    a simulated member (the mock Nlets). ``network = "nats://host:port[,nats://…]"``: the switch
    is a node of a federation over NATS JetStream (lems.federation): traffic for a state with a
    node there goes to that node; the rest still to the simulated members."""

    network: str = ""
    stream: str = "NLETS"
    node_timeout_s: float = 3.0
    replicas: int = 3
    """Copies of the stream the broker keeps (on that many servers); set by the first node."""


@dataclass(frozen=True, slots=True)
class SwitchConfig:
    ori: str = "ORLEDS000"
    listen: tuple[str, ...] = ("tcp:5020:interface=127.0.0.1",)
    max_frame: int = 16384
    lockout_after: int = 5
    resend_after: float = 60.0
    """Seconds without acknowledgement progress after which a session resends its unacknowledged
    output (0: only at the next sign-on); a listener's ``resend=`` overrides it."""
    window: int = 0
    """Most unacknowledged messages on a link at once (0: no limit); ``window=`` per listener."""
    iak: str = "numbered"
    """Which input gets an input acknowledgement (docs/WIRE.md): ``numbered`` (only messages
    with an ``ISN/`` first line) or ``all`` (every message of a signed-on terminal but ACK,
    LOGON and LOGOFF); ``iak=`` per listener."""
    mailbox_limit: int = 10000
    """Most messages waiting in one terminal's mailbox; more are refused with MAILBOX FULL."""
    signon_delay: float = 0.5
    """Seconds a failed sign-on's refusal is held back, doubled per failure (``lems.signon``)."""
    signon_delay_max: float = 30.0
    signon_timeout: float = 60.0
    """Seconds a link may stay connected without signing on (0: no limit)."""
    presignon_frames: int = 8
    """Frames a link may send before it signs on; one more closes it (0: no limit)."""
    rate_frames: float = 1000.0
    """Frames per second a signed-on terminal may send (0: no limit; ``lems.limits``)."""
    rate_bytes: float = 1 << 20
    source_frames: float = 50.0
    """Frames per second the links of one source address may send before sign-on."""
    source_bytes: float = 65536.0
    source_links: int = 16
    """Links from one source address not signed on at once; more are closed as they are
    accepted (0: no limit; ``lems.accept``)."""
    ncic_header: str = ""
    """Text of the NCIC computer-interface header line ``1L01<text>`` the switch puts above every
    message from NCIC ("" for none; ``formats.ncic_header``, docs/FIDELITY.md); a terminal's
    ``ncic_header`` overrides it. An input header ``1N01<text>.`` is always accepted and
    stripped."""


@dataclass(frozen=True, slots=True)
class JournalConfig:
    """Retention (``lems.retention``): 0 keeps everything."""

    keep_days: float = 0.0
    keep_mb: float = 0.0
    archive_every: float = 3600.0


@dataclass(slots=True)
class LabConfig:
    path: Path
    name: str
    state: str
    database: Path
    clock_speed: float = 1.0
    seed: int = 1
    start: datetime | None = None
    """``[lab] start``: the scenario's first moment, lab-local (None: wall time)."""
    timezone: str = "UTC"
    """``[lab] timezone``: the IANA zone every lab time is shown in (NCIC's ``DTE/``, the
    terminals' envelopes, lems hits and audit)."""
    switch: SwitchConfig = field(default_factory=SwitchConfig)
    journal: JournalConfig = field(default_factory=JournalConfig)
    agencies: dict[str, AgencyConfig] = field(default_factory=dict)
    terminals: dict[str, TerminalConfig] = field(default_factory=dict)
    operators: dict[str, OperatorConfig] = field(default_factory=dict)
    groups: dict[str, GroupConfig] = field(default_factory=dict)
    endpoints: dict[str, EndpointConfig] = field(default_factory=dict)
    dictionary: tuple[Path, ...] = ()
    codes_dir: Path | None = None
    rules: str = "oregon"
    nlets: NletsConfig = field(default_factory=NletsConfig)

    @property
    def directory(self) -> Path:
        return self.path.parent


_ALLOWED = {
    "lab": {
        "name",
        "state",
        "database",
        "clock_speed",
        "seed",
        "dictionary",
        "codes",
        "start",
        "timezone",
        "rules",
    },
    "nlets": {"network", "stream", "node_timeout_s", "replicas"},
    "switch": {
        "ori",
        "listen",
        "max_frame",
        "lockout_after",
        "resend_after",
        "window",
        "iak",
        "mailbox_limit",
        "signon_delay",
        "signon_delay_max",
        "signon_timeout",
        "presignon_frames",
        "rate_frames",
        "rate_bytes",
        "source_frames",
        "source_bytes",
        "source_links",
        "ncic_header",
    },
    "journal": {"keep_days", "keep_mb", "archive_every"},
    "agency": {
        "ori",
        "name",
        "category",
        "type",
        "agreement",
        "agreement_expires",
        "keys",
        "cch_entry",
        "criteria",
    },
    "terminal": {
        "id",
        "oris",
        "radio",
        "control",
        "description",
        "require_tls",
        "nlets_format",
        "ncic_header",
    },
    "operator": {"id", "name", "password", "password_hash", "terminals", "cleared", "supervisor"},
    "group": {"name", "members", "description"},
    "endpoint": {
        "name",
        "mode",
        "latency_ms",
        "jitter_ms",
        "drop_rate",
        "error_rate",
        "timeout_s",
        "out_of_service",
        "slow",
        "format",
    },
}


class _Reader:
    """Checks one section of the file, naming the key and line of whatever is wrong."""

    def __init__(self, file: Path, text: str) -> None:
        self.file, self.text = file, text

    def line_of(self, table: str, index: int | None = None) -> int | None:
        pattern = (
            rf"^[ \t]*\[\[\s*{re.escape(table)}\s*\]\]"
            if index is not None
            else rf"^[ \t]*\[\s*{re.escape(table)}\s*\]"
        )
        hits = [
            self.text.count("\n", 0, m.start()) + 1 for m in re.finditer(pattern, self.text, re.M)
        ]
        i = index or 0
        return hits[i] if i < len(hits) else None

    def fail(
        self, reason: str, table: str, index: int | None = None, attr: str | None = None
    ) -> ConfigError:
        key = table if index is None else f"{table}[{index}]"
        if attr:
            key += f".{attr}"
        return ConfigError(reason, file=str(self.file), key=key, line=self.line_of(table, index))

    def section(self, doc: dict[str, Any], table: str, index: int | None = None) -> dict[str, Any]:
        if not isinstance(doc, dict):
            raise self.fail("must be a table", table, index)
        extra = set(doc) - _ALLOWED[table]
        if extra:
            raise self.fail(
                f"unknown key(s) {', '.join(sorted(extra))}; allowed: "
                f"{', '.join(sorted(_ALLOWED[table]))}",
                table,
                index,
            )
        return doc

    def get(
        self,
        doc: dict[str, Any],
        attr: str,
        kind: type | tuple[type, ...],
        table: str,
        index: int | None = None,
        default: Any = ...,
    ) -> Any:
        if attr not in doc:
            if default is ...:
                raise self.fail("missing", table, index, attr)
            return default
        value = doc[attr]
        if isinstance(value, bool) and kind in (int, float):
            raise self.fail(f"must be a {kind.__name__}, not a boolean", table, index, attr)
        if kind is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, kind):
            kinds = kind if isinstance(kind, tuple) else (kind,)
            want = " or ".join(k.__name__ for k in kinds)
            raise self.fail(f"must be a {want}, not {type(value).__name__}", table, index, attr)
        return value


def _header_problem(text: str) -> str:
    """Why ``text`` cannot be an NCIC interface header text ("" when it can): the line
    ``1L01<text>`` must fit a 72-column line and be printable."""
    if len(text) > 68 or not text.isprintable():
        return "must be at most 68 printable characters (the line 1L01<text> fits 72 columns)"
    return ""


def _str_list(
    r: _Reader, doc: dict[str, Any], attr: str, table: str, index: int | None, default: Any = ...
) -> tuple[str, ...]:
    value = r.get(doc, attr, list, table, index, default)
    if not all(isinstance(v, str) for v in value):
        raise r.fail("must be a list of strings", table, index, attr)
    return tuple(value)


def _start(r: _Reader, lab: dict[str, Any]) -> datetime | None:
    """``[lab] start``: a TOML local date-time (``2026-03-14T08:00:00``), a date, or the same as
    a string (``"2026-03-14T08:00"``, minutes allowed); lab-local, so no offset."""
    value = r.get(lab, "start", (str, datetime, date), "lab", default=None)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise r.fail(
                f"{value!r} is not a date and time like 2026-03-14T08:00", "lab", None, "start"
            ) from None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        raise r.fail(
            "give the lab-local time without an offset; the zone is [lab] timezone",
            "lab",
            None,
            "start",
        )
    return value


def load_lab(path: str | Path) -> LabConfig:
    """Read and check ``lab.toml`` (or a directory holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / "lab.toml"
    try:
        text = p.read_text("utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read lab file: {e.strerror}", file=str(p)) from e
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise ConfigError(str(e), file=str(p), line=int(m.group(1)) if m else None) from e
    return parse_lab(doc, p, text)


def parse_lab(doc: dict[str, Any], p: Path, text: str = "") -> LabConfig:
    r = _Reader(p, text)
    top = set(doc) - {
        "lab",
        "switch",
        "journal",
        "agency",
        "terminal",
        "operator",
        "group",
        "endpoint",
        "nlets",
    }
    if top:
        first = sorted(top)[0]
        raise ConfigError(
            f"unknown section(s) {', '.join(sorted(top))}",
            file=str(p),
            key=first,
            line=r.line_of(first) or r.line_of(first, 0),
        )
    lab = r.section(doc.get("lab", {}), "lab")
    name = r.get(lab, "name", str, "lab", default="LEMS training lab")
    state = r.get(lab, "state", str, "lab", default="OR")
    database = p.parent / r.get(lab, "database", str, "lab", default="lab.db")
    speed = r.get(lab, "clock_speed", float, "lab", default=1.0)
    if speed <= 0:
        raise r.fail("must be greater than 0", "lab", None, "clock_speed")
    seed = r.get(lab, "seed", int, "lab", default=1)
    start = _start(r, lab)
    dictionary = tuple(p.parent / f for f in _str_list(r, lab, "dictionary", "lab", None, []))
    codes = r.get(lab, "codes", str, "lab", default="")
    timezone = r.get(lab, "timezone", str, "lab", default="UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise r.fail(
            f"unknown time zone {timezone!r} (an IANA name such as America/Los_Angeles)",
            "lab",
            None,
            "timezone",
        ) from e
    rules = r.get(lab, "rules", str, "lab", default="oregon" if state == "OR" else "generic")
    if rules not in RULE_SETS:
        raise r.fail(f"must be one of {', '.join(RULE_SETS)}", "lab", None, "rules")
    if state not in US_STATE_CODES:
        raise r.fail(
            f"{state} is not an NCIC code of a state, DC or territory", "lab", None, "state"
        )
    nl = r.section(doc.get("nlets", {}), "nlets")
    nlets = NletsConfig(
        network=r.get(nl, "network", str, "nlets", default=""),
        stream=r.get(nl, "stream", str, "nlets", default="NLETS"),
        node_timeout_s=r.get(nl, "node_timeout_s", float, "nlets", default=3.0),
        replicas=r.get(nl, "replicas", int, "nlets", default=3),
    )
    if not 1 <= nlets.replicas <= 5:
        raise r.fail("must be between 1 and 5", "nlets", None, "replicas")
    if nlets.network and not all(
        u.strip().startswith(("nats://", "tls://")) for u in nlets.network.split(",")
    ):
        raise r.fail(
            "must be nats://host:port (several separated by commas)", "nlets", None, "network"
        )
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", nlets.stream):
        raise r.fail("must be 1-32 letters, digits, - or _", "nlets", None, "stream")
    if nlets.node_timeout_s <= 0:
        raise r.fail("must be greater than 0", "nlets", None, "node_timeout_s")

    sw = r.section(doc.get("switch", {}), "switch")
    switch = SwitchConfig(
        ori=r.get(sw, "ori", str, "switch", default="ORLEDS000"),
        listen=_str_list(r, sw, "listen", "switch", None, ["tcp:5020:interface=127.0.0.1"]),
        max_frame=r.get(sw, "max_frame", int, "switch", default=16384),
        lockout_after=r.get(sw, "lockout_after", int, "switch", default=5),
        resend_after=r.get(sw, "resend_after", float, "switch", default=60.0),
        window=r.get(sw, "window", int, "switch", default=0),
        iak=r.get(sw, "iak", str, "switch", default="numbered"),
        mailbox_limit=r.get(sw, "mailbox_limit", int, "switch", default=10000),
        signon_delay=r.get(sw, "signon_delay", float, "switch", default=0.5),
        signon_delay_max=r.get(sw, "signon_delay_max", float, "switch", default=30.0),
        signon_timeout=r.get(sw, "signon_timeout", float, "switch", default=60.0),
        presignon_frames=r.get(sw, "presignon_frames", int, "switch", default=8),
        rate_frames=r.get(sw, "rate_frames", float, "switch", default=1000.0),
        rate_bytes=r.get(sw, "rate_bytes", float, "switch", default=float(1 << 20)),
        source_frames=r.get(sw, "source_frames", float, "switch", default=50.0),
        source_bytes=r.get(sw, "source_bytes", float, "switch", default=65536.0),
        source_links=r.get(sw, "source_links", int, "switch", default=16),
        ncic_header=r.get(sw, "ncic_header", str, "switch", default=""),
    )
    if _header_problem(switch.ncic_header):
        raise r.fail(_header_problem(switch.ncic_header), "switch", None, "ncic_header")
    if switch.resend_after < 0:
        raise r.fail("must not be negative", "switch", None, "resend_after")
    if switch.window < 0:
        raise r.fail("must not be negative", "switch", None, "window")
    if switch.iak not in IAK_MODES:
        raise r.fail(f"must be one of {', '.join(IAK_MODES)}", "switch", None, "iak")
    if switch.mailbox_limit < 1:
        raise r.fail("must be at least 1", "switch", None, "mailbox_limit")
    for attr in ("signon_delay", "signon_delay_max", "signon_timeout"):
        if not 0 <= getattr(switch, attr) <= 3600:
            raise r.fail("must be between 0 and 3600 seconds", "switch", None, attr)
    for attr in (
        "presignon_frames",
        "rate_frames",
        "rate_bytes",
        "source_frames",
        "source_bytes",
        "source_links",
    ):
        if getattr(switch, attr) < 0:
            raise r.fail("must not be negative (0 turns the limit off)", "switch", None, attr)
    if ori_problem(switch.ori):
        raise r.fail(ori_problem(switch.ori) or "", "switch", None, "ori")
    if not 64 <= switch.max_frame <= 1 << 24:
        raise r.fail("must be between 64 and 16777216", "switch", None, "max_frame")

    jr = r.section(doc.get("journal", {}), "journal")
    journal = JournalConfig(
        keep_days=r.get(jr, "keep_days", float, "journal", default=0.0),
        keep_mb=r.get(jr, "keep_mb", float, "journal", default=0.0),
        archive_every=r.get(jr, "archive_every", float, "journal", default=3600.0),
    )
    for attr in ("keep_days", "keep_mb"):
        if getattr(journal, attr) < 0:
            raise r.fail("must not be negative (0 keeps everything)", "journal", None, attr)
    if journal.archive_every < 1:
        raise r.fail("must be at least 1 second", "journal", None, "archive_every")

    cfg = LabConfig(
        path=p,
        name=name,
        state=state,
        database=database,
        clock_speed=speed,
        seed=seed,
        start=start,
        switch=switch,
        journal=journal,
        dictionary=dictionary,
        codes_dir=(p.parent / codes) if codes else None,
        timezone=timezone,
        rules=rules,
        nlets=nlets,
    )
    for i, a in enumerate(_tables(r, doc, "agency")):
        r.section(a, "agency", i)
        ori = r.get(a, "ori", str, "agency", i)
        why = ori_problem(ori)
        if why:
            raise r.fail(why, "agency", i, "ori")
        if ori in cfg.agencies:
            raise r.fail(f"ORI {ori} defined twice", "agency", i, "ori")
        category = r.get(a, "category", str, "agency", i, "cj")
        if category not in CATEGORIES:
            raise r.fail(f"must be one of {', '.join(CATEGORIES)}", "agency", i, "category")
        otype = r.get(a, "type", str, "agency", i, "LE")
        if otype not in ORION_TYPES:
            raise r.fail(f"must be an ORION type: {' '.join(ORION_TYPES)}", "agency", i, "type")
        expires = r.get(a, "agreement_expires", (date, str), "agency", i, None)
        if isinstance(expires, datetime):  # a TOML date-time is a date too; Policy compares dates
            raise r.fail(
                "must be a date (YYYY-MM-DD), not a date-time", "agency", i, "agreement_expires"
            )
        if isinstance(expires, str):
            try:
                expires = date.fromisoformat(expires)
            except ValueError:
                raise r.fail(
                    "must be a date (YYYY-MM-DD)", "agency", i, "agreement_expires"
                ) from None
        keys = _str_list(r, a, "keys", "agency", i, None) if "keys" in a else None
        cfg.agencies[ori] = AgencyConfig(
            ori=ori,
            name=r.get(a, "name", str, "agency", i),
            category=category,
            type=otype,
            agreement=r.get(a, "agreement", bool, "agency", i, True),
            agreement_expires=expires,
            keys=frozenset(keys) if keys is not None else None,
            cch_entry=r.get(a, "cch_entry", bool, "agency", i, False),
            criteria=_str_list(r, a, "criteria", "agency", i, []),
        )
    if switch.ori not in cfg.agencies:
        raise r.fail(
            f"the switch ORI {switch.ori} must also be an [[agency]]", "switch", None, "ori"
        )
    for i, t in enumerate(_tables(r, doc, "terminal")):
        r.section(t, "terminal", i)
        tid = _ident(r, t, "terminal", i, cfg.terminals)
        oris = _str_list(r, t, "oris", "terminal", i)
        if not oris:
            raise r.fail("a terminal needs at least one ORI", "terminal", i, "oris")
        for ori in oris:
            if ori not in cfg.agencies:
                raise r.fail(f"ORI {ori} is not an [[agency]] of this lab", "terminal", i, "oris")
        cfg.terminals[tid] = TerminalConfig(
            id=tid,
            oris=oris,
            radio=r.get(t, "radio", bool, "terminal", i, False),
            control=r.get(t, "control", bool, "terminal", i, False),
            description=r.get(t, "description", str, "terminal", i, ""),
            require_tls=r.get(t, "require_tls", bool, "terminal", i, False),
            nlets_format=r.get(t, "nlets_format", str, "terminal", i, ""),
            ncic_header=r.get(t, "ncic_header", str, "terminal", i, None),
        )
        header = cfg.terminals[tid].ncic_header
        if header is not None and _header_problem(header):
            raise r.fail(_header_problem(header), "terminal", i, "ncic_header")
        if cfg.terminals[tid].nlets_format not in ("", "legacy", "xml"):
            raise r.fail("must be legacy or xml", "terminal", i, "nlets_format")
    for i, o in enumerate(_tables(r, doc, "operator")):
        r.section(o, "operator", i)
        oid = _ident(r, o, "operator", i, cfg.operators)
        terms = _str_list(r, o, "terminals", "operator", i, [])
        for tid in terms:
            if tid not in cfg.terminals:
                raise r.fail(
                    f"terminal {tid} is not a [[terminal]] of this lab", "operator", i, "terminals"
                )
        hashed = r.get(o, "password_hash", str, "operator", i, "")
        if hashed:
            if "password" in o:
                raise r.fail("give password_hash or password, not both", "operator", i, "password")
            why = hash_problem(hashed)
            if why:
                raise r.fail(why, "operator", i, "password_hash")
            password = ""
        else:
            password = r.get(o, "password", str, "operator", i)
            if not password or "." in password:
                raise r.fail("must be non-empty and contain no period", "operator", i, "password")
        cfg.operators[oid] = OperatorConfig(
            id=oid,
            name=r.get(o, "name", str, "operator", i),
            password=password,
            terminals=terms,
            cleared=r.get(o, "cleared", bool, "operator", i, True),
            supervisor=r.get(o, "supervisor", bool, "operator", i, False),
            password_hash=hashed,
        )
    for i, g in enumerate(_tables(r, doc, "group")):
        r.section(g, "group", i)
        gname = r.get(g, "name", str, "group", i)
        if ori_problem(gname):
            raise r.fail(
                "a group is addressed like an ORI: " + (ori_problem(gname) or ""),
                "group",
                i,
                "name",
            )
        if gname in cfg.agencies or gname in cfg.groups:
            raise r.fail(f"{gname} is already an agency or group", "group", i, "name")
        members = _str_list(r, g, "members", "group", i)
        for ori in members:
            if ori not in cfg.agencies:
                raise r.fail(f"ORI {ori} is not an [[agency]] of this lab", "group", i, "members")
        cfg.groups[gname] = GroupConfig(
            gname, members, r.get(g, "description", str, "group", i, "")
        )
    for i, end in enumerate(_tables(r, doc, "endpoint")):
        r.section(end, "endpoint", i)
        ename = r.get(end, "name", str, "endpoint", i)
        if ename not in ("ncic", "nlets", "nics"):
            raise r.fail("must be ncic, nlets or nics", "endpoint", i, "name")
        ep = EndpointConfig(
            name=ename,
            mode=r.get(end, "mode", str, "endpoint", i, "inprocess"),
            latency_ms=r.get(end, "latency_ms", float, "endpoint", i, 0.0),
            jitter_ms=r.get(end, "jitter_ms", float, "endpoint", i, 0.0),
            drop_rate=r.get(end, "drop_rate", float, "endpoint", i, 0.0),
            error_rate=r.get(end, "error_rate", float, "endpoint", i, 0.0),
            timeout_s=r.get(end, "timeout_s", float, "endpoint", i, 10.0),
        )
        for attr in ("drop_rate", "error_rate"):
            if not 0.0 <= getattr(ep, attr) <= 1.0:
                raise r.fail("must be between 0 and 1", "endpoint", i, attr)
        ep = _nlets_settings(r, end, i, ep)
        cfg.endpoints[ename] = ep
    return cfg


def _nlets_settings(r: _Reader, e: dict[str, Any], i: int, ep: EndpointConfig) -> EndpointConfig:
    """``out_of_service``, ``slow`` and ``format`` of the Nlets endpoint (members by their
    two-character Nlets code)."""
    given = {"out_of_service", "slow", "format"} & set(e)
    if not given:
        return ep
    if ep.name != "nlets":
        raise r.fail("only the nlets endpoint takes this", "endpoint", i, sorted(given)[0])
    down = _str_list(r, e, "out_of_service", "endpoint", i, [])
    slow = r.get(e, "slow", dict, "endpoint", i, {})
    for code in (*down, *slow):
        if code not in MEMBERS:
            raise r.fail(
                f"{code} is not an Nlets member code",
                "endpoint",
                i,
                "out_of_service" if code in down else "slow",
            )
    pairs: list[tuple[str, float]] = []
    for code, seconds in slow.items():
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise r.fail(f"{code}: must be a number of lab seconds >= 0", "endpoint", i, "slow")
        pairs.append((code, float(seconds)))
    fmt = r.get(e, "format", str, "endpoint", i, "legacy")
    if fmt not in ("legacy", "xml"):
        raise r.fail("must be legacy or xml", "endpoint", i, "format")
    return replace(ep, out_of_service=down, slow=tuple(pairs), format=fmt)


def _ident(r: _Reader, doc: dict[str, Any], table: str, index: int, taken: Any) -> str:
    """The ``id`` of a terminal or operator: 1-16 letters, digits, - or _, not used before."""
    ident: str = r.get(doc, "id", str, table, index)
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,16}", ident):
        raise r.fail("must be 1-16 letters, digits, - or _", table, index, "id")
    if ident in taken:
        raise r.fail(f"{table} {ident} defined twice", table, index, "id")
    return ident


def _tables(r: _Reader, doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = doc.get(name, [])
    if not isinstance(value, list):
        raise r.fail(f"write it as [[{name}]] (an array of tables)", name)
    return value
