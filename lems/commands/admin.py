"""``lems operator`` and ``lems agency``: administration against a lab database.

Changes bump ``meta.directory_version``; a running switch notices within a second.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path
from typing import Any

from rich.table import Table

from formats.errors import ConfigError
from lems.cli import console, show


def register(sub: Any) -> None:
    s = sub.add_parser("operator", help="operator administration")
    osub = s.add_subparsers(title="actions", metavar="ACTION")
    u = osub.add_parser("unlock", help="unlock an operator locked out by failed passwords")
    u.add_argument("dir", type=Path)
    u.add_argument("operator")
    u.set_defaults(func=cmd_operator_unlock)
    u = osub.add_parser("list", help="operators and their sign-on state")
    u.add_argument("dir", type=Path)
    u.set_defaults(func=cmd_operator_list)
    u = osub.add_parser(
        "passwd",
        help="set an operator's password (lab.toml keeps its scrypt "
        "hash; a running switch uses it from the next sign-on)",
    )
    u.add_argument("dir", type=Path)
    u.add_argument("operator")
    u.add_argument(
        "--password",
        help="the new password (default: a new random one, shown "
        "once); reads it from standard input when given as -",
    )
    u.set_defaults(func=cmd_operator_passwd)

    s = sub.add_parser("agency", help="agency administration (suspend / reinstate access)")
    asub = s.add_subparsers(title="actions", metavar="ACTION")
    for name, hlp in (
        ("suspend", "suspend an agency's access (OAR 257-010-0045)"),
        ("reinstate", "reinstate a suspended agency"),
    ):
        u = asub.add_parser(name, help=hlp)
        u.add_argument("dir", type=Path)
        u.add_argument("ori")
        u.add_argument("--reason", default="", help="shown in the reject the agency gets")
        u.set_defaults(func=cmd_agency_state, suspend=name == "suspend")
    u = asub.add_parser("list", help="agencies, categories and access state")
    u.add_argument("dir", type=Path)
    u.set_defaults(func=cmd_agency_list)


def _db(dir: Path) -> tuple[Any, sqlite3.Connection]:
    from lems import store
    from lems.lab import load_lab

    lab = load_lab(dir)
    return lab, store.connect(lab.database)


def cmd_operator_unlock(args: argparse.Namespace) -> int:
    from lems import store
    from lems.repositories import directory_state

    lab, conn = _db(args.dir)
    if args.operator not in lab.operators:
        raise ConfigError(f"operator {args.operator} is not in {lab.path}")
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        directory_state.unlock(conn, args.operator)
        store.bump_directory_version(conn)
        conn.execute("COMMIT")
    from lems.state import adminlog

    adminlog.record(lab, "unlock", args.operator)
    console.print(f"operator {args.operator} unlocked", markup=False)
    return 0


def cmd_operator_passwd(args: argparse.Namespace) -> int:
    """Replace the operator's ``password``/``password_hash`` line in its ``[[operator]]`` table,
    leaving the rest of the file (comments, order) as it was."""
    import sys

    from lems.lab import load_lab
    from lems.signon import generate, hash_password

    lab = load_lab(args.dir)
    if args.operator not in lab.operators:
        raise ConfigError(f"operator {args.operator} is not in {lab.path}")
    password = args.password
    if password == "-":
        password = sys.stdin.readline().rstrip("\r\n")
    shown = password is None
    password = password if password is not None else generate()
    if not password or "." in password or not password.isprintable() or " " in password:
        raise ConfigError(
            "a password must be non-empty, printable, without spaces or periods "
            "(LOGON.TERMINAL.OPERATOR.PASSWORD)"
        )
    lines = lab.path.read_text("utf-8").split("\n")
    table, found = "", False
    for i, line in enumerate(lines):
        bare = line.strip()
        if bare.startswith("["):
            table, current = bare, ""
        elif table == "[[operator]]" and bare.replace(" ", "").startswith("id="):
            current = bare.split("=", 1)[1].split("#")[0].strip().strip("\"'")
        elif (
            table == "[[operator]]"
            and current == args.operator
            and bare.split("=")[0].strip() in ("password", "password_hash")
        ):
            lines[i] = f'password_hash = "{hash_password(password)}"'
            found = True
            break
    if not found:
        raise ConfigError(f"no password line for operator {args.operator} in {lab.path}")
    text = "\n".join(lines)
    tmp = lab.path.with_name(lab.path.name + ".tmp")
    tmp.write_text(text, "utf-8")
    load_lab(tmp)  # refuse to write a file that would not load
    tmp.replace(lab.path)
    console.print(
        f"operator {args.operator}: password set (lab.toml keeps its hash; a "
        "running switch uses it from the next sign-on)",
        markup=False,
    )
    if shown:
        console.print(f"new password (shown this once): {password}", markup=False)
    return 0


def cmd_operator_list(args: argparse.Namespace) -> int:
    from lems.repositories import directory_state

    lab, conn = _db(args.dir)
    state = {op: (f, lk) for op, f, lk in directory_state.operators(conn)}
    table = Table(title="operators")
    for col in ("operator", "name", "terminals", "cleared", "failures", "locked"):
        table.add_column(col)
    for o in lab.operators.values():
        f, lk = state.get(o.id, (0, 0))
        table.add_row(
            o.id,
            o.name,
            " ".join(o.terminals) or "any",
            "yes" if o.cleared else "NO",
            str(f),
            "LOCKED" if lk else "",
        )
    show(table)
    return 0


def cmd_agency_state(args: argparse.Namespace) -> int:
    from lems import store
    from lems.repositories import directory_state

    lab, conn = _db(args.dir)
    if args.ori not in lab.agencies:
        raise ConfigError(f"ORI {args.ori} is not an agency of {lab.path}")
    conn.execute("BEGIN IMMEDIATE")
    directory_state.agency(conn, args.ori, args.suspend, args.reason)
    store.bump_directory_version(conn)
    conn.execute("COMMIT")
    from lems.state import adminlog

    adminlog.record(lab, "suspend" if args.suspend else "reinstate", args.ori, args.reason)
    console.print(
        f"agency {args.ori} {'suspended' if args.suspend else 'reinstated'}", markup=False
    )
    return 0


def cmd_agency_list(args: argparse.Namespace) -> int:
    from lems.repositories import directory_state

    lab, conn = _db(args.dir)
    susp = directory_state.suspended(conn)
    table = Table(title="agencies")
    for col in ("ORI", "name", "category", "type", "CCH entry", "agreement", "state"):
        table.add_column(col)
    for a in lab.agencies.values():
        agreement = (
            "none"
            if not a.agreement
            else f"until {a.agreement_expires}"
            if a.agreement_expires
            else "yes"
        )
        table.add_row(
            a.ori,
            a.name,
            a.category,
            a.type,
            "yes" if a.cch_entry else "",
            agreement,
            f"SUSPENDED {susp[a.ori]}".strip() if a.ori in susp else "active",
        )
    show(table)
    return 0
