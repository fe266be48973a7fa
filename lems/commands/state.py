"""``lems hits``, ``lems audit`` and ``lems cch seed``: the state services from the command line.

``hits`` lists open hit-confirmation requests with the lab time left (lab time is worked out
from the clock anchor the running switch wrote to ``state.db``); ``audit`` prints the transaction
log of a period and a summary per ORI (OAR 257-010-0020(13)-(14)); ``cch seed`` fills CCH with
fictitious subjects.
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.table import Table

from formats.errors import LemsError
from lems.cli import console, show
from lems.clock import lab_zone
from lems.clock import show as show_time
from lems.population import FILES


def register(sub: Any) -> None:
    s = sub.add_parser("hits", help="open hit-confirmation requests (YQ) with the time left")
    s.add_argument("dir", type=Path)
    s.add_argument("--all", action="store_true", help="closed requests too")
    s.set_defaults(func=cmd_hits)

    s = sub.add_parser("audit", help="transaction log and per-ORI summary for a period (D3)")
    s.add_argument("dir", type=Path)
    s.add_argument("--ori", default="")
    s.add_argument("--terminal", default="")
    s.add_argument("--operator", default="")
    s.add_argument(
        "--from",
        dest="start",
        default="",
        help="lab-local time, e.g. 2026-11-23 or 2026-11-23T08:00 (inclusive)",
    )
    s.add_argument(
        "--to",
        dest="end",
        default="",
        help="lab-local time (exclusive); a date alone includes that whole day",
    )
    s.add_argument(
        "--html",
        type=Path,
        help="write the printable per-agency audit report (HTML, print-ready CSS) to this file",
    )
    s.add_argument("--json", type=Path, help="write the log and summary as JSON to this file")
    s.add_argument("--csv", type=Path, help="write the log as CSV to this file")
    s.add_argument("--limit", type=int, default=200, help="rows shown on screen (default 200)")
    s.set_defaults(func=cmd_audit)

    s = sub.add_parser(
        "population",
        help="who and what is in the lab's world (people, "
        "records, vehicles), to build scenarios from",
    )
    s.add_argument("dir", type=Path)
    s.add_argument(
        "--file", choices=FILES, help="list this file's rows (default: counts of every file)"
    )
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.add_argument("--limit", type=int, default=50, help="rows listed (0: all; default 50)")
    s.set_defaults(func=cmd_population)

    s = sub.add_parser("cch", help="state CCH maintenance")
    csub = s.add_subparsers(title="actions", metavar="ACTION")
    u = csub.add_parser("seed", help="add fictitious CCH subjects (run with the switch stopped)")
    u.add_argument("dir", type=Path)
    u.add_argument("--subjects", type=int, default=10_000)
    u.add_argument("--seed", type=int, default=1)
    u.set_defaults(func=cmd_cch_seed)


def _state(dir: Path) -> tuple[Any, Path]:
    from lems.lab import load_lab
    from lems.state.db import path_for

    lab = load_lab(dir)
    return lab, path_for(lab.database)


def lab_now(conn: sqlite3.Connection) -> datetime | None:
    """Lab time now, from the anchor the switch wrote at start; None if it never ran."""
    from lems.state.repositories.meta import read_clock_anchor

    anchor = read_clock_anchor(conn)
    if anchor is None:
        return None
    return anchor.lab + timedelta(seconds=(time.time() - anchor.wall) * anchor.speed)


def cmd_hits(args: argparse.Namespace) -> int:
    from lems.state.db import connect
    from lems.state.repositories.hits import listing

    lab, path = _state(args.dir)
    zone = lab_zone(lab.timezone)
    conn = connect(path)
    now = lab_now(conn)
    rows = listing(conn, closed_too=args.all)
    conn.close()
    table = Table(title=f"Hit confirmations ({len(rows)})")
    for col in (
        "ID",
        "REQUESTER",
        "OWNER",
        "RECORD",
        "RTY",
        "PRI",
        "RNO",
        "OPENED",
        "STAGE",
        "TIME LEFT",
    ):
        table.add_column(col)
    from lems.state.hits import STAGES as stages

    for (
        rid,
        req,
        term,
        owner,
        nic,
        oca,
        rty,
        pri,
        rno,
        opened,
        deadline,
        stage,
        closed,
        outcome,
    ) in rows:
        if closed:
            left = outcome
        elif now is None:
            left = "?"
        else:
            secs = int((datetime.fromisoformat(deadline) - now).total_seconds())
            left = f"{secs // 60}m{secs % 60:02d}s" if secs >= 0 else f"OVERDUE {-secs // 60}m"
        table.add_row(
            str(rid),
            f"{req} {term}",
            owner,
            f"NIC/{nic}" if nic else f"OCA/{oca}",
            rty,
            pri,
            rno,
            show_time(opened, zone),
            stages.get(stage, str(stage)),
            left,
        )
    show(table)
    return 0


def _bound(text: str, option: str, zone: Any, end: bool = False) -> str:
    """A --from/--to value (lab-local unless it carries an offset) as the journal's UTC ISO
    text; anything that is not a date or a date and time is refused, naming the option."""
    if not text:
        return ""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise LemsError(
            f"{option} {text!r} refused: not a date or date and time such as "
            "2026-03-14 or 2026-03-14T08:00"
        ) from None
    if end and len(text) == 10:  # a date alone: through the end of that day
        when += timedelta(days=1)
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return when.astimezone(UTC).isoformat()  # stored times are UTC (LabClock.stamp)


def cmd_audit(args: argparse.Namespace) -> int:
    from lems.state.audit import Filter, disseminations, summarize, transactions

    lab, state_path = _state(args.dir)
    zone = lab_zone(lab.timezone)
    start, end = _bound(args.start, "--from", zone), _bound(args.end, "--to", zone, end=True)
    if start and end and end <= start:
        raise LemsError(f"--to {args.end} refused: not after --from {args.start}")
    f = Filter(args.ori, args.terminal, args.operator, start, end)
    if args.ori and args.ori not in lab.agencies:
        raise LemsError(f"--ori {args.ori} refused: not an agency of {lab.path}")
    rows = transactions(lab.database, f)
    summary = summarize(
        rows,
        disseminations(state_path, Filter(args.ori, args.terminal, args.operator, f.start, f.end)),
    )
    if args.html:
        from lems.state.adminlog import lab_time
        from lems.state.audit import agency_findings
        from lems.state.report import render

        period = f"{show_time(start, zone) or 'the beginning'} to {show_time(end, zone) or 'now'}"
        args.html.write_text(
            render(
                lab.name,
                period,
                show_time(lab_time(lab), zone),
                agency_findings(lab, state_path, f),
                zone,
            )
        )
        console.print(f"audit report written to {args.html}", markup=False)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"transactions": rows, "summary": {ori: s.as_dict() for ori, s in summary.items()}},
                indent=1,
            )
        )
    if args.csv:
        with args.csv.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["seq"])
            w.writeheader()
            w.writerows(rows)
    table = Table(title=f"Transactions ({len(rows)})")
    for col in (
        "SEQ",
        "TIME",
        "DIR",
        "TERMINAL",
        "OPERATOR",
        "ORI",
        "KEY",
        "DISPOSITION",
        "REASON",
    ):
        table.add_column(col)
    for r in rows[: args.limit]:
        table.add_row(
            str(r["seq"]),
            show_time(r["time"], zone),
            r["direction"],
            r["terminal"],
            r["operator"],
            r["ori"],
            r["key"],
            r["disposition"],
            r["reason"][:40],
        )
    show(table)
    if len(rows) > args.limit:
        console.print(f"... {len(rows) - args.limit} more (use --json or --csv for all)")
    s = Table(title="Summary per ORI")
    for col in (
        "ORI",
        "MESSAGES BY KEY",
        "REJECTS BY REASON",
        "REJECTED BY SYSTEMS",
        "CCH DISSEMINATIONS",
        "DEAD LETTERS",
    ):
        s.add_column(col)
    for ori, o in summary.items():
        s.add_row(
            ori,
            " ".join(f"{k}:{n}" for k, n in sorted(o.keys.items())),
            " ".join(f"{k}:{n}" for k, n in sorted(o.rejects.items())),
            " ".join(f"{k}:{n}" for k, n in sorted(o.answered_rejects.items())),
            " ".join(f"{k}:{n}" for k, n in sorted(o.cch.items())),
            str(o.dead_letters or ""),
        )
    show(s)
    return 0


def cmd_cch_seed(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from lems.lablock import LabLock
    from lems.state.db import connect
    from lems.state.seed import seed

    lab, path = _state(args.dir)
    # refused while a switch serves the lab: its CCH service numbers subjects from what it
    # read at start, and rows written behind its back break later entries
    lock = LabLock(lab.database, "command lems cch seed")
    try:
        conn = connect(path)
        with Progress(console=console, transient=not console.is_terminal) as bar:
            task = bar.add_task("CCH subjects", total=args.subjects)
            first = seed(conn, args.subjects, args.seed, lambda n: bar.advance(task, n))
        conn.close()
    finally:
        lock.release()
    console.print(
        f"seeded {args.subjects} fictitious subjects SID/OR{first:08d} onward into {path}"
    )
    return 0


def cmd_population(args: argparse.Namespace) -> int:
    from lems.lab import load_lab
    from lems.population import counts, listing

    lab = load_lab(args.dir)
    base = lab.database.parent
    if args.file is None:
        found = counts(base)
        if args.json:
            print(json.dumps(found, indent=1))
            return 0
        table = Table(title=f"Population of {lab.name}")
        table.add_column("FILE")
        table.add_column("ROWS", justify="right")
        for file, n in found.items():
            table.add_row(file, str(n))
        show(table)
        if not any(found.values()):
            console.print(
                "the world is empty: run lems seed DIR (or start the lab once)", markup=False
            )
        return 0
    rows = listing(base, args.file, args.limit or None)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    table = Table(title=f"{args.file} ({len(rows)} shown)")
    for col in rows[0] if rows else {"(none)": ""}:
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(v) for v in r.values()))
    show(table)
    return 0
