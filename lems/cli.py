"""The ``lems`` command: one console script with subcommands, ``--help`` on each.

Tables and colour come from rich when the output is a terminal; piped output is plain text.
Exit status: 0 success, 1 a refused or failed operation, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from formats.errors import ConfigError, LemsError

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigError as e:
        errors.print(f"lems: configuration refused: {e}", markup=False)
        return 2
    except (LemsError, FileExistsError, OSError) as e:
        errors.print(f"lems: {e}", markup=False)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lems", description="LEMS message-switch simulator (Oregon LEDS, NCIC, Nlets, NICS) "
        "for training labs and terminal integration testing. All data is fictitious.")
    sub = p.add_subparsers(title="commands", metavar="COMMAND")

    s = sub.add_parser("parse", help="parse and validate messages, print JSON per message",
                       description="Read messages (one per line; a line ending in \\ continues "
                       "on the next) and print one JSON object per message. Exit 1 if any is "
                       "rejected.")
    s.add_argument("file", nargs="?", default="-", help="file to read, or - for stdin")
    s.set_defaults(func=cmd_parse)

    s = sub.add_parser("init", help="write a ready training lab (lab.toml + database)")
    s.add_argument("dir", type=Path)
    s.add_argument("--force", action="store_true", help="overwrite an existing lab")
    s.add_argument("--exist-ok", action="store_true",
                   help="leave an existing lab as it is (for scripts that init then serve)")
    s.add_argument("--listen", help="endpoint the lab listens on (default tcp:5020 on loopback)")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("serve", help="run a lab's switch until Ctrl-C or SIGTERM")
    s.add_argument("dir", type=Path, help="lab directory (or lab.toml)")
    s.add_argument("--listen", action="append", metavar="ENDPOINT",
                   help="listen here instead of the lab's [switch] listen (repeatable)")
    s.add_argument("--speed", type=float, help="lab clock speed (overrides clock_speed)")
    s.add_argument("--reactor", choices=["asyncio", "epoll"], default="asyncio")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("send", help="sign on as a lab terminal, send messages, print answers")
    s.add_argument("dir", type=Path, help="lab directory (for the terminal's credentials)")
    s.add_argument("messages", nargs="+", metavar="MESSAGE")
    s.add_argument("--terminal", required=True)
    s.add_argument("--operator", help="default: the operator assigned to the terminal")
    s.add_argument("--password", help="default: the operator's password from lab.toml")
    s.add_argument("--to", metavar="ENDPOINT", help="default: the lab's first listen endpoint")
    s.add_argument("--wait", type=float, default=2.0,
                   help="seconds to wait for answers after the last message (default 2)")
    s.set_defaults(func=cmd_send)

    s = sub.add_parser("operator", help="operator administration")
    osub = s.add_subparsers(title="actions", metavar="ACTION")
    u = osub.add_parser("unlock", help="unlock an operator locked out by failed passwords")
    u.add_argument("dir", type=Path)
    u.add_argument("operator")
    u.set_defaults(func=cmd_operator_unlock)
    u = osub.add_parser("list", help="operators and their sign-on state")
    u.add_argument("dir", type=Path)
    u.set_defaults(func=cmd_operator_list)

    s = sub.add_parser("agency", help="agency administration (suspend / reinstate access)")
    asub = s.add_subparsers(title="actions", metavar="ACTION")
    for name, hlp in (("suspend", "suspend an agency's access (OAR 257-010-0045)"),
                      ("reinstate", "reinstate a suspended agency")):
        u = asub.add_parser(name, help=hlp)
        u.add_argument("dir", type=Path)
        u.add_argument("ori")
        u.add_argument("--reason", default="", help="shown in the reject the agency gets")
        u.set_defaults(func=cmd_agency_state, suspend=name == "suspend")
    u = asub.add_parser("list", help="agencies, categories and access state")
    u.add_argument("dir", type=Path)
    u.set_defaults(func=cmd_agency_list)
    return p


# ---------------------------------------------------------------------- parse

def cmd_parse(args: argparse.Namespace) -> int:
    from formats.framing import Frame, LineFramer
    from formats.grammar import Parser
    from formats.responses import reject

    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    if data and not data.endswith(b"\n"):
        data += b"\n"
    framer = LineFramer(max_length=1 << 20)
    parser = Parser()
    ok = True
    for event in framer.feed(data):
        if not isinstance(event, Frame):
            ok = False
            print(json.dumps({"ok": False, "reject": {"code": "BAD-FRAME", "field": None,
                                                      "reason": getattr(event, "reason", "")}}))
            continue
        text = event.payload.decode("latin-1")
        result = parser.check(text)
        if hasattr(result, "reason"):
            ok = False
            ori = text.split(".")[1][:9] if text.count(".") else ""
            print(json.dumps({"ok": False, "reject": result.as_dict(),  # type: ignore[union-attr]
                              "text": reject(result, ori)}))  # type: ignore[arg-type]
        else:
            m = result
            print(json.dumps({"ok": True, "key": m.full_key, "ori": m.ori,  # type: ignore[union-attr]
                              "destinations": m.destinations, "control": m.control,  # type: ignore[union-attr]
                              "fields": [list(f) for f in m.fields],  # type: ignore[union-attr]
                              "text": m.text}))  # type: ignore[union-attr]
    return 0 if ok else 1


# ---------------------------------------------------------------------- init

def cmd_init(args: argparse.Namespace) -> int:
    from lems.demo import init_lab
    from lems.lab import load_lab

    if args.exist_ok and (args.dir / "lab.toml").exists():
        lab = load_lab(args.dir)
        console.print(f"Lab exists: {lab.path} (left as it is)")
        return 0
    lab = init_lab(args.dir, force=args.force, listen=args.listen)
    console.print(f"Lab written: {lab.path}  (database {lab.database.name})")
    table = Table(title=lab.name)
    for col in ("terminal", "ORIs", "agency", "operator", "password", "note"):
        table.add_column(col)
    for t in lab.terminals.values():
        ops = [o for o in lab.operators.values() if t.id in o.terminals and o.cleared]
        agency = lab.agencies[t.oris[0]]
        note = ", ".join(x for x in ("control" if t.control else "",
                                     "radio (mobile data)" if t.radio else "",
                                     agency.category if agency.category != "cj" else "") if x)
        table.add_row(t.id, " ".join(t.oris), agency.name,
                      ops[0].id if ops else "", ops[0].password if ops else "", note)
    console.print(table)
    listen = lab.switch.listen[0]
    console.print(f"Start it:    lems serve {args.dir}")
    console.print(f"Sign on:     connect to {listen} (e.g. nc 127.0.0.1 5020) and type "
                  "LOGON.T01.OP01.train-01")
    console.print(f"Or send:     lems send {args.dir} --terminal T01 "
                  "'QW.OR0240000.NAM/DOE,JOHN.DOB/19800101'")
    return 0


# ---------------------------------------------------------------------- serve

def cmd_serve(args: argparse.Namespace) -> int:
    from lems.lab import load_lab
    from lems.reactor import install

    lab = load_lab(args.dir)
    if args.speed is not None:
        if args.speed <= 0:
            raise ConfigError("--speed must be greater than 0")
        lab.clock_speed = args.speed
    reactor = install(args.reactor)
    from lems.switch import Switch

    switch = Switch(lab, reactor)
    switch.start()
    status = {"code": 0}
    listens = args.listen or list(lab.switch.listen)

    def listening(port: Any, desc: str) -> None:
        host = port.getHost()
        console.print(f"LISTENING {desc} -> {getattr(host, 'host', '')}:"
                      f"{getattr(host, 'port', '')}", markup=False)
        sys.stdout.flush()

    def failed(f: Any, desc: str) -> None:
        errors.print(f"lems: cannot listen on {desc}: {f.getErrorMessage()}", markup=False)
        status["code"] = 2
        if reactor.running:
            reactor.stop()

    def go() -> None:
        for desc in listens:
            try:
                d = switch.listen(desc)
            except LemsError as e:
                errors.print(f"lems: {e}", markup=False)
                status["code"] = 2
                reactor.stop()
                return
            d.addCallbacks(listening, failed, callbackArgs=(desc,), errbackArgs=(desc,))

    console.print(f"LEMS serving lab '{lab.name}' ({len(lab.terminals)} terminals, "
                  f"clock x{lab.clock_speed:g}); Ctrl-C to stop", markup=False)
    reactor.addSystemEventTrigger("before", "shutdown", switch.stop)
    reactor.callWhenRunning(go)
    reactor.run()
    console.print("LEMS stopped; journal flushed", markup=False)
    return status["code"]


# ---------------------------------------------------------------------- send

def cmd_send(args: argparse.Namespace) -> int:
    from lems.lab import load_lab
    from lems.reactor import install

    lab = load_lab(args.dir)
    term = lab.terminals.get(args.terminal)
    if term is None:
        raise ConfigError(f"terminal {args.terminal} is not in {lab.path}")
    op = None
    if args.operator:
        op = lab.operators.get(args.operator)
    else:
        op = next((o for o in lab.operators.values() if args.terminal in o.terminals
                   and o.cleared), None)
    if op is None:
        raise ConfigError(f"no operator for terminal {args.terminal}; give --operator")
    password = args.password or op.password
    from hardware.endpoints import client_for

    to = args.to or client_for(lab.switch.listen[0])
    install()
    from twisted.internet import defer, task

    from terminals.client import TerminalClient, TimeoutError

    result = {"code": 0}

    async def run(reactor: Any) -> None:
        client = TerminalClient(reactor)
        await client.connect(to)
        son = await client.logon(args.terminal, op.id, password)
        show(son)
        if son.key != "SON":
            result["code"] = 1
            client.close()
            return
        for text in args.messages:
            client.send(text.replace("\\n", "\n"))
        while True:
            try:
                show(await client.next(args.wait))
            except TimeoutError:
                break
        client.close()

    def show(out: Any) -> None:
        console.print(out.frame, markup=False)
        console.print("", markup=False)

    try:
        task.react(lambda r: defer.ensureDeferred(run(r)))
    except SystemExit as e:
        if e.code not in (0, None):
            errors.print(f"lems: cannot reach the switch at {to}", markup=False)
            return 1
    return result["code"]


# ---------------------------------------------------------------------- administration

def _db(dir: Path) -> tuple[Any, sqlite3.Connection]:
    from lems import store
    from lems.lab import load_lab

    lab = load_lab(dir)
    return lab, store.connect(lab.database)


def cmd_operator_unlock(args: argparse.Namespace) -> int:
    from lems import store

    lab, conn = _db(args.dir)
    if args.operator not in lab.operators:
        raise ConfigError(f"operator {args.operator} is not in {lab.path}")
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO operator_state (operator, failures, locked) VALUES (?, 0, 0) "
                     "ON CONFLICT(operator) DO UPDATE SET failures = 0, locked = 0",
                     (args.operator,))
        store.bump_directory_version(conn)
        conn.execute("COMMIT")
    console.print(f"operator {args.operator} unlocked", markup=False)
    return 0


def cmd_operator_list(args: argparse.Namespace) -> int:
    lab, conn = _db(args.dir)
    state = {op: (f, lk) for op, f, lk in conn.execute(
        "SELECT operator, failures, locked FROM operator_state")}
    table = Table(title="operators")
    for col in ("operator", "name", "terminals", "cleared", "failures", "locked"):
        table.add_column(col)
    for o in lab.operators.values():
        f, lk = state.get(o.id, (0, 0))
        table.add_row(o.id, o.name, " ".join(o.terminals) or "any", "yes" if o.cleared else "NO",
                      str(f), "LOCKED" if lk else "")
    console.print(table)
    return 0


def cmd_agency_state(args: argparse.Namespace) -> int:
    from lems import store

    lab, conn = _db(args.dir)
    if args.ori not in lab.agencies:
        raise ConfigError(f"ORI {args.ori} is not an agency of {lab.path}")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO agency_state (ori, suspended, reason, changed) "
                 "VALUES (?, ?, ?, datetime('now')) ON CONFLICT(ori) DO UPDATE SET "
                 "suspended = excluded.suspended, reason = excluded.reason, "
                 "changed = excluded.changed", (args.ori, int(args.suspend), args.reason))
    store.bump_directory_version(conn)
    conn.execute("COMMIT")
    console.print(f"agency {args.ori} {'suspended' if args.suspend else 'reinstated'}",
                  markup=False)
    return 0


def cmd_agency_list(args: argparse.Namespace) -> int:
    lab, conn = _db(args.dir)
    susp = {o: r for o, r in conn.execute("SELECT ori, reason FROM agency_state "
                                          "WHERE suspended = 1")}
    table = Table(title="agencies")
    for col in ("ORI", "name", "category", "type", "CCH entry", "agreement", "state"):
        table.add_column(col)
    for a in lab.agencies.values():
        agreement = ("none" if not a.agreement else
                     f"until {a.agreement_expires}" if a.agreement_expires else "yes")
        table.add_row(a.ori, a.name, a.category, a.type, "yes" if a.cch_entry else "",
                      agreement, f"SUSPENDED {susp[a.ori]}".strip() if a.ori in susp else "active")
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
