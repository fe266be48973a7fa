"""``lems mail``: the instructor's view of mailboxes and dead letters.

A dead letter is a message the switch accepted and journaled but could not send after
``lems.mailbox.DEAD_AFTER`` attempts (a link that cannot carry it). It blocks nothing; it waits
here until the instructor resends it (back into the terminal's queue, delivered at once if the
terminal is on line) or drops it. The change is written to the lab database and a running switch
takes it in within a second and journals it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from formats.errors import LemsError
from lems.cli import console, show


def register(sub: Any) -> None:
    s = sub.add_parser("mail", help="mailboxes and dead letters (resend / drop)")
    msub = s.add_subparsers(title="actions", metavar="ACTION")
    u = msub.add_parser("list", help="messages waiting per terminal, and dead letters")
    u.add_argument("dir", type=Path)
    u.set_defaults(func=cmd_list)
    u = msub.add_parser("dead", help="dead letters: messages no link could carry")
    u.add_argument("dir", type=Path)
    u.add_argument("--terminal", help="only this terminal")
    u.set_defaults(func=cmd_dead)
    for name, hlp in (
        ("resend", "put dead letters back in the terminal's queue"),
        ("drop", "delete dead letters (the journal keeps them)"),
    ):
        u = msub.add_parser(name, help=hlp)
        u.add_argument("dir", type=Path)
        u.add_argument("terminal")
        u.add_argument("osn", nargs="*", type=int, help="OSNs (default: all of the terminal's)")
        u.set_defaults(func=cmd_change, action=name)


def _db(dir: Path) -> Any:
    from lems import store
    from lems.lab import load_lab

    return store.connect(load_lab(dir).database)


def cmd_list(args: argparse.Namespace) -> int:
    from lems import mailbox

    conn = _db(args.dir)
    table = Table(title="mailboxes")
    for col in ("terminal", "waiting", "dead letters", "oldest OSN"):
        table.add_column(col)
    for terminal, waiting, dead, oldest in mailbox.summary(conn):
        table.add_row(terminal, str(waiting), str(dead), f"{oldest:07d}")
    show(table)
    return 0


def cmd_dead(args: argparse.Namespace) -> int:
    from lems import mailbox

    conn = _db(args.dir)
    table = Table(title="dead letters")
    for col in ("terminal", "OSN", "queued", "why", "first line"):
        table.add_column(col)
    for terminal, osn, time, reason, body in mailbox.dead_letters(conn, args.terminal):
        lines = body.split("\n")
        table.add_row(
            terminal,
            f"{osn:07d}",
            time or "",
            reason,
            lines[1][:60] if len(lines) > 1 else lines[0][:60],
        )
    show(table)
    return 0


def cmd_change(args: argparse.Namespace) -> int:
    from lems import mailbox, store

    conn = _db(args.dir)
    osns = args.osn or mailbox.dead_osns(conn, args.terminal)
    if not osns:
        raise LemsError(f"terminal {args.terminal} has no dead letters")
    conn.execute("BEGIN IMMEDIATE")
    done = []
    for osn in osns:
        if mailbox.revive(conn, args.terminal, osn, args.action == "resend"):
            done.append(osn)
    store.bump_directory_version(conn)
    conn.execute("COMMIT")
    missing = sorted(set(osns) - set(done))
    verb = "resent" if args.action == "resend" else "dropped"
    for osn in done:
        console.print(f"{args.terminal} OSN/{osn:07d} {verb}", markup=False)
    if missing:
        raise LemsError(
            f"not dead letters of {args.terminal}: " + " ".join(f"{o:07d}" for o in missing)
        )
    return 0
