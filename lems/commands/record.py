"""``lems record`` and ``lems replay``: recordings of traffic (docs/RECORDING.md).

``lems record DIR --out FILE`` exports a lab's journal; ``--live`` tails the journal of a running
switch (SQLite in WAL mode lets a reader follow a writer), writing each message the moment it is
committed; ``--import-text LOG`` converts a plain-text log. ``lems replay FILE`` sends a
recording's inbound messages to a switch and compares the answers with the recorded ones (exit 1
on any difference).
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from formats.errors import ConfigError, LemsError
from formats.recording import Header, Record
from lems.cli import console, errors


def register(sub: Any) -> None:
    s = sub.add_parser(
        "record",
        help="export a lab's journal as a recording (or follow it live)",
        description="Write a lems-recording (JSON Lines; gzip if FILE ends in .gz) from a lab's "
        "journal. With --live, follow the journal of the running switch and write each message "
        "as it is committed, until Ctrl-C or SIGTERM (every record is flushed: killing the "
        "recorder loses nothing already written). With --import-text, convert a plain-text log "
        "(one message per block) instead.",
    )
    s.add_argument("dir", type=Path, nargs="?", help="lab directory (or lab.toml)")
    s.add_argument("--out", required=True, type=Path, metavar="FILE")
    s.add_argument(
        "--from",
        dest="since",
        metavar="TIME",
        help="first time to include (ISO 8601, UTC if no offset)",
    )
    s.add_argument("--to", dest="until", metavar="TIME", help="last time to include")
    s.add_argument("--ori", action="append", default=[], help="only this ORI (repeatable)")
    s.add_argument(
        "--terminal",
        action="append",
        default=[],
        help="only this terminal (repeatable; with --import-text: the terminal of "
        "inputs before any sign-on)",
    )
    s.add_argument(
        "--live", action="store_true", help="follow the running lab's journal from now on"
    )
    s.add_argument("--poll", type=float, default=0.2, help="seconds between journal polls")
    s.add_argument("--duration", type=float, help="with --live: stop after this many seconds")
    s.add_argument(
        "--import-text",
        type=Path,
        metavar="LOG",
        help="convert a plain-text log instead of reading a journal",
    )
    s.add_argument(
        "--gap",
        type=float,
        default=1.0,
        help="with --import-text: seconds between messages without a time",
    )
    s.set_defaults(func=cmd_record)

    s = sub.add_parser(
        "replay",
        help="replay a recording against a switch and compare the responses",
        description="Sign terminals on and send the recorded inbound messages; match the "
        "responses to the recorded ones after masking times, sequence numbers, NICs and NTNs "
        "(extend with --rules); print matches, differences (with a diff), missing and "
        "unexpected responses. Exit 1 on any difference. Passwords are masked in recordings: "
        "give --lab DIR or --password TERMINAL=PASSWORD.",
    )
    s.add_argument("file", type=Path, help="recording (.jsonl or .jsonl.gz)")
    s.add_argument(
        "--to",
        metavar="ENDPOINT",
        help="switch to replay against (default: the --lab's first listen endpoint)",
    )
    s.add_argument("--lab", type=Path, metavar="DIR", help="lab whose passwords to use")
    s.add_argument(
        "--password",
        action="append",
        default=[],
        metavar="ID=PASSWORD",
        help="password for a terminal or operator (repeatable)",
    )
    s.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="1 = recorded timing, 2 = twice as fast, 0 = as fast as possible (default)",
    )
    s.add_argument(
        "--skip",
        type=float,
        metavar="SECONDS",
        help="shrink recorded gaps longer than this to this",
    )
    s.add_argument(
        "--loop",
        type=int,
        default=1,
        metavar="N",
        help="passes over the recording (0 = until Ctrl-C)",
    )
    s.add_argument("--map-terminal", action="append", default=[], metavar="OLD=NEW")
    s.add_argument("--map-ori", action="append", default=[], metavar="OLD=NEW")
    s.add_argument(
        "--rules", type=Path, metavar="FILE", help="masking rules (TOML, see docs/RECORDING.md)"
    )
    s.add_argument("--report", type=Path, metavar="FILE", help="also write the report as JSON")
    s.add_argument(
        "--wait",
        type=float,
        default=3.0,
        help="seconds to wait for outstanding responses at the end (default 3)",
    )
    s.add_argument(
        "--no-sync",
        action="store_true",
        help="do not wait for recorded responses before switching links",
    )
    s.add_argument(
        "--window",
        type=int,
        default=10000,
        help="messages in flight before the sender waits (default 10000)",
    )
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_replay)


# ---------------------------------------------------------------------- journal export


def _time_bound(text: str | None) -> str | None:
    """An ISO time as the journal writes it (UTC, microseconds) so strings compare."""
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"not an ISO 8601 time: {text!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass
class JournalFilter:
    """Which journal rows a recording takes: a time window, terminals and ORIs. With terminals
    or ORIs, an input counts if it names one; an output if it does or answers an input taken."""

    since: str | None = None
    until: str | None = None
    terminals: set[str] = field(default_factory=set)
    oris: set[str] = field(default_factory=set)
    taken: set[int] = field(default_factory=set)

    def wants(self, r: Record) -> bool:
        if not (self.terminals or self.oris):
            return True
        if r.direction == "sys":
            return False
        hit = r.terminal in self.terminals or r.ori in self.oris
        if r.direction == "in":
            if hit:
                self.taken.add(r.seq)
            return hit
        return hit or r.ref in self.taken


def journal_records(
    conn: sqlite3.Connection,
    after: int = 0,
    filt: JournalFilter | None = None,
    upto: int | None = None,
) -> Iterator[Record]:
    """Journal rows with ``after < seq <= upto`` as records, in order."""
    from lems import journal

    filt = filt or JournalFilter()
    for row in journal.rows(conn, after, upto, filt.since or "", filt.until or ""):
        r = Record.from_row(row)
        if filt.wants(r):
            yield r


def _open_journal(dir: Path) -> tuple[Any, sqlite3.Connection]:
    from lems.lab import load_lab

    lab = load_lab(dir)
    if not lab.database.exists():
        raise ConfigError(f"{lab.database} does not exist (run the lab once first)")
    conn = sqlite3.connect(str(lab.database), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=5000")
    return lab, conn


def cmd_record(args: argparse.Namespace) -> int:
    from terminals.recording_io import RecordingWriter

    now = datetime.now(UTC).isoformat(timespec="seconds")
    if args.import_text:
        from formats.recording import parse_plain

        text = args.import_text.read_bytes().decode("latin-1")
        header = Header(created=now, source=f"text:{args.import_text}")
        with RecordingWriter(args.out, header) as w:
            for r in parse_plain(text, terminal=(args.terminal or [""])[0], gap=args.gap):
                w.write(r)
        console.print(
            f"{w.count} messages imported from {args.import_text} -> {args.out}", markup=False
        )
        return 0
    if args.dir is None:
        raise ConfigError("give a lab DIR (or --import-text LOG)")
    lab, conn = _open_journal(args.dir)
    filt = JournalFilter(
        _time_bound(args.since), _time_bound(args.until), set(args.terminal), set(args.ori)
    )
    header = Header(
        created=now,
        source=f"journal:{lab.database}" + (" live" if args.live else ""),
        note=lab.name,
    )
    if not args.live:
        with RecordingWriter(args.out, header) as w:
            for r in journal_records(conn, 0, filt):
                w.write(r)
        console.print(f"{w.count} messages from {lab.database} -> {args.out}", markup=False)
        return 0
    return _follow(conn, lab, args, filt, header)


def _follow(
    conn: sqlite3.Connection,
    lab: Any,
    args: argparse.Namespace,
    filt: JournalFilter,
    header: Header,
) -> int:
    """Tail the journal: poll for rows above the last seq seen, write each at once."""
    from lems import journal
    from terminals.recording_io import RecordingWriter

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    last = journal.top_seq(conn)
    if filt.since:
        last = 0
    deadline = time.monotonic() + args.duration if args.duration else None
    with RecordingWriter(args.out, header) as w:
        console.print(f"RECORDING {lab.database} after seq {last} -> {args.out}", markup=False)
        sys.stdout.flush()
        try:
            while deadline is None or time.monotonic() < deadline:
                top = journal.top_seq(conn)
                for r in journal_records(conn, last, filt, top):
                    w.write(r)
                last = max(last, top)
                time.sleep(args.poll)
        except KeyboardInterrupt:
            pass
    console.print(f"{w.count} messages recorded -> {args.out}", markup=False)
    return 0


# ---------------------------------------------------------------------- replay


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        k, eq, v = item.partition("=")
        if not eq or not k:
            raise ConfigError(f"{what} wants ID=VALUE, not {item!r}")
        out[k] = v
    return out


def cmd_replay(args: argparse.Namespace) -> int:
    from formats.recording import Comparison, Masker
    from hardware.endpoints import client_for
    from terminals.recording_io import read
    from terminals.replay import Credentials, ReplayOptions

    read(args.file)  # refuse a bad file before connecting
    creds = Credentials()
    to = args.to
    if args.lab:
        from lems.lab import load_lab

        lab = load_lab(args.lab)
        for op in lab.operators.values():
            if op.password:  # a hashed password is no use here: --password ID=PW gives it
                creds.passwords[op.id] = op.password
            for t in op.terminals:
                if op.cleared:
                    creds.operators.setdefault(t, op.id)
        to = to or client_for(lab.switch.listen[0])
    if not to:
        raise ConfigError("give --to ENDPOINT or --lab DIR")
    creds.passwords.update(_pairs(args.password, "--password"))
    mapping = {**_pairs(args.map_terminal, "--map-terminal"), **_pairs(args.map_ori, "--map-ori")}
    masker = Masker.from_toml(args.rules.read_text(), str(args.rules)) if args.rules else Masker()
    if args.speed < 0 or args.loop < 0:
        raise ConfigError("--speed and --loop must not be negative")
    options = ReplayOptions(
        speed=args.speed,
        skip=args.skip,
        loops=args.loop,
        mapping=mapping,
        sync=not args.no_sync,
        window=args.window,
        wait=args.wait,
    )
    return _run_replay(args, to, options, creds, Comparison(masker))


def _run_replay(
    args: argparse.Namespace, to: str, options: Any, creds: Any, comparison: Any
) -> int:
    from lems.reactor import install

    reactor = install()
    from twisted.internet import defer, task

    from terminals.recording_io import read
    from terminals.replay import Replayer

    replayer = Replayer(
        reactor,
        to,
        lambda: read(args.file)[1],
        options=options,
        credentials=creds,
        comparison=comparison,
    )
    result: dict[str, Any] = {}
    show = console.is_terminal and not args.quiet
    t0 = time.monotonic()

    async def run(r: Any) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not show,
            transient=False,
        )
        bar = progress.add_task("replay", total=None, stats="")

        def tick() -> None:
            dt = max(time.monotonic() - t0, 1e-6)
            c = replayer.comparison
            progress.update(
                bar,
                completed=replayer.sent,
                stats=(
                    f"sent {replayer.sent} ({replayer.sent / dt:,.0f}/s) received "
                    f"{replayer.received} matched {c.matched}"
                ),
            )

        ticker = task.LoopingCall(tick)
        ticker.clock = r
        with progress:
            ticker.start(0.25)
            try:
                result["report"] = await replayer.run()
            except LemsError as e:
                result["error"] = str(e)
            finally:
                ticker.stop()
                tick()

    def interrupted(*_: Any) -> None:
        replayer.stop()

    signal.signal(signal.SIGINT, interrupted)
    try:
        task.react(lambda r: defer.ensureDeferred(run(r)))
    except SystemExit as e:
        if e.code not in (0, None) and "report" not in result and "error" not in result:
            errors.print("lems: replay failed (see above)", markup=False)
            return 1
    if "error" in result:
        errors.print(f"lems: {result['error']}", markup=False)
        return 1
    report = result["report"]
    dt = time.monotonic() - t0
    for line in report.lines():
        console.print(line, markup=False, highlight=False)
    console.print(
        f"{replayer.sent} messages sent, {replayer.received} received in {dt:.1f} s "
        f"({replayer.sent / max(dt, 1e-6):,.0f} sent/s)",
        markup=False,
    )
    if args.report:
        args.report.write_text(json.dumps(report.as_dict(), indent=1))
    return 0 if report.ok else 1
