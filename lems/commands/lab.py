"""``lems init``, ``lems serve``, ``lems send``: make, run and talk to a lab."""

from __future__ import annotations

import argparse
import gc
import os
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from formats.errors import ConfigError, LemsError
from lems.cli import console, errors, show
from lems.store import StoreError, problem

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime

EXIT_STORAGE = 3
"""``lems serve``'s exit status when storage failed while serving (docs/OPERATIONS.md)."""


def register(sub: Any) -> None:
    s = sub.add_parser("init", help="write a ready training lab (lab.toml + database)")
    s.add_argument("dir", type=Path)
    s.add_argument("--force", action="store_true", help="overwrite an existing lab")
    s.add_argument(
        "--exist-ok",
        action="store_true",
        help="leave an existing lab as it is (for scripts that init then serve)",
    )
    s.add_argument("--listen", help="endpoint the lab listens on (default tcp:5020 on loopback)")
    s.add_argument(
        "--state",
        default="OR",
        type=str.upper,
        help="the lab's state: any NCIC code of a state, DC or territory (default OR, "
        "Oregon's rules; others start from the generic rule set)",
    )
    s.add_argument(
        "--tls",
        action="store_true",
        help="also write DIR/pki/: a lab CA, a server certificate and one client "
        "certificate per terminal (CN = terminal id) for tls: links",
    )
    s.add_argument(
        "--training-passwords",
        action="store_true",
        help="give the operators the fixed training passwords (train-01…) kept in "
        "clear in lab.toml, for classrooms and scripts; default: new random "
        "passwords shown once, lab.toml keeps only their hashes",
    )
    s.add_argument(
        "--key",
        choices=["ec", "rsa"],
        default="ec",
        help="with --tls: ECDSA P-256 (default) or RSA 2048 keys",
    )
    s.add_argument(
        "--mqtt",
        action="store_true",
        help="also write DIR/mqtt/: a Mosquitto configuration binding each "
        "terminal's topics to its own user and client id (Mosquitto's "
        "dynamic-security plugin; docs/WIRE.md)",
    )
    s.add_argument(
        "--mqtt-port",
        type=int,
        default=1883,
        metavar="PORT",
        help="the port the lab's Mosquitto listens on (default 1883)",
    )
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("pki", help="the lab's TLS certificates (lems init --tls)")
    psub = s.add_subparsers(dest="pki_command", required=True)
    r = psub.add_parser(
        "revoke",
        help="revoke a terminal's certificate: the lab CRL "
        "(DIR/pki/crl.pem) refuses it from the next TLS handshake on",
    )
    r.add_argument("dir", type=Path, help="lab directory")
    r.add_argument("terminal")
    r.set_defaults(func=cmd_pki_revoke)

    s = sub.add_parser("serve", help="run a lab's switch until Ctrl-C or SIGTERM")
    s.add_argument("dir", type=Path, help="lab directory (or lab.toml)")
    s.add_argument(
        "--listen",
        action="append",
        metavar="ENDPOINT",
        help="listen here instead of the lab's [switch] listen (repeatable)",
    )
    s.add_argument("--speed", type=float, help="lab clock speed (overrides clock_speed)")
    s.add_argument("--reactor", choices=["asyncio", "epoll"], default="asyncio")
    s.add_argument(
        "--clock-origin",
        type=float,
        metavar="POSIX_SECONDS",
        help="share one scenario clock with other switches (a federation): lab time "
        "is this instant plus (now - it) x the clock speed, the same on every node "
        "started with the same origin and speed",
    )
    s.add_argument(
        "--web",
        metavar="ENDPOINT",
        help="serve the instructor's dashboard page here (e.g. tcp:8020:interface=127.0.0.1)",
    )
    s.add_argument(
        "--dashboard",
        action="store_true",
        help="serve the dashboard page on tcp:8020 on loopback (same as --web)",
    )
    s.add_argument(
        "--log-file",
        type=Path,
        metavar="FILE",
        help="append log events as JSON lines here (stderr keeps warnings and "
        "errors, one line each)",
    )
    s.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error", "critical"],
        default=None,
        help="lowest level logged: to --log-file (default info), else to stderr (default warning)",
    )
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser(
        "health",
        help="exit 0 when a switch serves the lab and commits (for "
        "container healthchecks and monitoring), else 1 with the reason",
    )
    s.add_argument("dir", type=Path, help="lab directory (or lab.toml)")
    s.add_argument(
        "--max-age",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="the switch's last heartbeat commit may be this old (default 15)",
    )
    s.set_defaults(func=cmd_health)

    s = sub.add_parser("lab", help="lab snapshots: save the stopped lab, put it back")
    lsub = s.add_subparsers(title="actions", metavar="ACTION")
    u = lsub.add_parser("snapshot", help="save the stopped lab's databases under NAME")
    u.add_argument("dir", type=Path)
    u.add_argument("name")
    u.add_argument("--replace", action="store_true", help="overwrite a snapshot of that name")
    u.set_defaults(func=cmd_snapshot)
    u = lsub.add_parser(
        "reset",
        help="put the stopped lab back to snapshot NAME (no NAME: a "
        "fresh lab, rebuilt from lab.toml at the next start)",
    )
    u.add_argument("dir", type=Path)
    u.add_argument("name", nargs="?", default="")
    u.set_defaults(func=cmd_reset)
    u = lsub.add_parser("snapshots", help="list the lab's snapshots")
    u.add_argument("dir", type=Path)
    u.set_defaults(func=cmd_snapshots)

    s = sub.add_parser("send", help="sign on as a lab terminal, send messages, print answers")
    s.add_argument("dir", type=Path, help="lab directory (for the terminal's credentials)")
    s.add_argument(
        "messages",
        nargs="+",
        metavar="MESSAGE",
        help="a message as a terminal types it (an Nlets message: its .TXT header "
        "line and text lines, with newlines or \\n between them); - reads "
        "messages from standard input, ended by an empty line where they have "
        "text lines (docs/WIRE.md)",
    )
    s.add_argument("--terminal", required=True)
    s.add_argument("--operator", help="default: the operator assigned to the terminal")
    s.add_argument("--password", help="default: the operator's password from lab.toml")
    s.add_argument("--to", metavar="ENDPOINT", help="default: the lab's first listen endpoint")
    s.add_argument(
        "--wait",
        type=float,
        default=2.0,
        help="seconds to wait for answers after the last message (default 2)",
    )
    s.add_argument(
        "--take-over",
        action="store_true",
        help="sign on even if the terminal is signed on elsewhere (that session is "
        "signed off); without it lems send refuses rather than disturb a trainee",
    )
    s.set_defaults(func=cmd_send)


def cmd_init(args: argparse.Namespace) -> int:
    from lems.demo import init_lab
    from lems.lab import load_lab

    if args.exist_ok and (args.dir / "lab.toml").exists():
        lab = load_lab(args.dir)
        console.print(f"Lab exists: {lab.path} (left as it is)")
        return 0
    lab = init_lab(
        args.dir,
        force=args.force,
        listen=args.listen,
        state=args.state,
        generate=not args.training_passwords,
    )
    console.print(f"Lab written: {lab.path}  (database {lab.database.name})")
    if not args.training_passwords:
        console.print(
            "Passwords are shown this once: lab.toml keeps only their hashes "
            "(lems operator passwd sets a new one).",
            markup=False,
        )
    table = Table(title=lab.name)
    for col in ("terminal", "ORIs", "agency", "note"):
        table.add_column(col)
    for t in lab.terminals.values():
        agency = lab.agencies[t.oris[0]]
        note = ", ".join(
            x
            for x in (
                "control" if t.control else "",
                "radio (mobile data)" if t.radio else "",
                agency.category if agency.category != "cj" else "",
            )
            if x
        )
        table.add_row(t.id, " ".join(t.oris), agency.name, note)
    show(table)
    table = Table(
        title="operators" + ("" if args.training_passwords else " (passwords shown this once)")
    )
    for col in ("operator", "name", "terminals", "password", "note"):
        table.add_column(col)
    for o in lab.operators.values():
        note = ", ".join(
            x
            for x in (
                "supervisor" if o.supervisor else "",
                "" if o.cleared else "not cleared: sign-on refused",
            )
            if x
        )
        table.add_row(o.id, o.name, " ".join(o.terminals) or "any", o.password, note)
    show(table)
    listen = lab.switch.listen[0]
    if args.tls:
        from hardware.tls import write_lab_pki

        pki = write_lab_pki(args.dir / "pki", list(lab.terminals), key_type=args.key)
        console.print(
            f"TLS:         lems serve {args.dir} --listen tls:5021:interface=127.0.0.1:"
            f"certKey={pki}/server.pem:caCerts={pki}/ca.pem  (terminal T01 uses "
            f"certKey={pki}/T01.pem; the certificate's CN must match the LOGON)",
            markup=False,
        )
    if args.mqtt:
        from hardware.mqtt_link import (
            DYNSEC_PLUGIN,
            SWITCH_USER,
            find_dynsec_plugin,
            write_broker_config,
        )

        plugin = find_dynsec_plugin()
        users = write_broker_config(
            args.dir / "mqtt", list(lab.terminals), port=args.mqtt_port, plugin=plugin
        )
        mq = (args.dir / "mqtt").resolve()
        if plugin is None:
            print(
                f"lems: warning: {DYNSEC_PLUGIN} not found: the broker binds each terminal's "
                "topics to its user name but not to a client id (docs/WIRE.md)",
                file=sys.stderr,
            )
        console.print(
            f"MQTT:        mosquitto -c {mq}/mosquitto.conf  then  lems serve {args.dir} "
            f"--listen mqtt://127.0.0.1:{args.mqtt_port}/lems:username={SWITCH_USER}:"
            f"password={users[SWITCH_USER]}  (terminal passwords in "
            f"{mq}/credentials.txt; user name = client id = terminal, "
            f"T01-sub to watch T01's output alongside)",
            markup=False,
        )
    pw = lab.operators["OP01"].password
    console.print(f"Start it:    lems serve {args.dir}")
    console.print(
        f"Sign on:     connect to {listen} (e.g. nc 127.0.0.1 5020) and type LOGON.T01.OP01.{pw}",
        markup=False,
    )
    t01 = lab.terminals["T01"].oris[0]
    console.print(
        f"Or send:     lems send {args.dir} --terminal T01 "
        + ("" if args.training_passwords else f"--password {pw} ")
        + f"'QW.{t01}.NAM/DOE,JOHN.DOB/19800101'",
        markup=False,
    )
    return 0


def cmd_pki_revoke(args: argparse.Namespace) -> int:
    from hardware.tls import revoke

    crl = revoke(args.dir / "pki", args.terminal)
    console.print(
        f"certificate of {args.terminal} revoked: {crl} (tls: listeners whose caCerts "
        "is beside it refuse it from the next handshake)",
        markup=False,
    )
    return 0


# ---------------------------------------------------------------------- serve


GC_YOUNG = 5000
"""Net new objects between young collections while serving (Python's default: 700)."""


def cmd_serve(args: argparse.Namespace) -> int:
    from lems.lab import load_lab
    from lems.reactor import install

    lab = load_lab(args.dir)
    if args.speed is not None:
        if args.speed <= 0:
            raise ConfigError("--speed must be greater than 0")
        lab.clock_speed = args.speed
    reactor = install(args.reactor)
    from lems import logs
    from lems.switch import Switch

    logs.begin(args.log_level or ("info" if args.log_file else "warning"), args.log_file)

    clock = None
    if args.clock_origin is not None:
        import time
        from datetime import UTC, datetime

        from lems.clock import LabClock

        origin = args.clock_origin
        clock = LabClock(
            reactor,
            lab.clock_speed,
            datetime.fromtimestamp(origin + (time.time() - origin) * lab.clock_speed, UTC),
        )
    switch = Switch(lab, reactor, clock=clock)
    status = {"code": 0}
    try:
        switch.start()
    except (StoreError, sqlite3.Error) as e:
        # one line naming the file and the problem (read-only, locked, corrupt, wrong schema)
        why = (
            str(e)
            if isinstance(e, StoreError)
            else f"{lab.database}: {problem(getattr(e, 'sqlite_errorname', ''), str(e))}"
        )
        errors.print(f"lems: cannot serve {lab.path.parent}: {why}", markup=False)
        return 2
    # Everything loaded so far (code tables, key dictionary, directory, the national systems)
    # lives as long as the process: out of the collector's sight, a full collection no longer
    # walks it on the reactor thread while terminals wait (docs/BENCHMARKS.md, issue 20).
    gc.freeze()
    # A young collection every 5,000 new objects, not 700: most of a transaction's objects are
    # gone by then and are never traversed (collections' CPU per run ~75 -> ~20 ms, the longest
    # young or middle one no longer; bench_switch, issue 20).
    gc.set_threshold(GC_YOUNG, 10, 10)

    def fatal(reason: str) -> None:
        """Storage failed: the links were told; exit non-zero so a supervisor restarts us."""
        status["code"] = EXIT_STORAGE
        reactor.callLater(1.0, reactor.stop)  # a second for the notices to reach the links
        reactor.callLater(8.0, os._exit, EXIT_STORAGE)  # a shutdown that hangs must not linger

    switch.on_fatal.append(fatal)
    listens = args.listen or list(lab.switch.listen)

    def listening(port: Any, desc: str) -> None:
        host = port.getHost()
        console.print(
            f"LISTENING {desc} -> {getattr(host, 'host', '')}:{getattr(host, 'port', '')}",
            markup=False,
        )
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
                errors.print(f"lems: cannot listen on {desc}: {e}", markup=False)
                status["code"] = 2
                reactor.stop()
                return
            d.addCallbacks(listening, failed, callbackArgs=(desc,), errbackArgs=(desc,))
        web = args.web or ("tcp:8020:interface=127.0.0.1" if args.dashboard else None)
        if web:
            from lems.training.web import serve

            serve(switch, web).addCallbacks(
                listening, failed, callbackArgs=(f"web {web}",), errbackArgs=(f"web {web}",)
            )

    console.print(
        f"LEMS serving lab '{lab.name}' ({len(lab.terminals)} terminals, "
        f"clock x{lab.clock_speed:g}); Ctrl-C to stop",
        markup=False,
    )
    reactor.addSystemEventTrigger("before", "shutdown", switch.stop)
    reactor.callWhenRunning(go)
    reactor.run()
    if status["code"] == EXIT_STORAGE:
        errors.print(
            f"lems: stopped because storage failed: {switch.failed} (exit status "
            f"{EXIT_STORAGE}); messages not acknowledged were not journaled",
            markup=False,
        )
    else:
        console.print("LEMS stopped; journal flushed", markup=False)
    return status["code"]


# ---------------------------------------------------------------------- health


def cmd_health(args: argparse.Namespace) -> int:
    """A switch whose storage failed exits; one that hangs stops touching its lock: either way
    this says so (the lock file's time moves after each heartbeat commit, every 5 s)."""
    from lems.lab import load_lab
    from lems.lablock import holder

    lab = load_lab(args.dir)
    held = holder(lab.database)
    if held is None:
        errors.print(f"lems: unhealthy: no switch serves {lab.path.parent}", markup=False)
        return 1
    who, age = held
    if age > args.max_age:
        errors.print(
            f"lems: unhealthy: the switch ({who}) has committed nothing for {age:.0f} s",
            markup=False,
        )
        return 1
    console.print(f"healthy: {who}; last heartbeat commit {age:.1f} s ago", markup=False)
    return 0


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
        op = next(
            (o for o in lab.operators.values() if args.terminal in o.terminals and o.cleared), None
        )
    if op is None:
        raise ConfigError(f"no operator for terminal {args.terminal}; give --operator")
    password = args.password or op.password
    if not password:
        raise ConfigError(
            f"operator {op.id}'s password is kept in {lab.path} only as a hash: give --password"
        )
    from hardware.endpoints import client_for

    to = args.to or client_for(lab.switch.listen[0])
    if not args.take_over and signed_on_elsewhere(lab.database, args.terminal):
        errors.print(
            f"lems: terminal {args.terminal} is signed on from another link (a "
            "trainee's console?); lems send would sign it off. Use --take-over to do "
            "that, or send from a free terminal.",
            markup=False,
        )
        return 1
    install()
    from twisted.internet import defer, task
    from twisted.internet.error import ConnectError

    from terminals.client import TerminalClient, TimeoutError

    result = {"code": 0}

    async def run(reactor: IReactorTime) -> None:
        client = TerminalClient(reactor)
        try:
            await client.connect(to)
        except (ConnectError, OSError) as e:  # an answer for the user, not a traceback
            result["code"] = 1
            errors.print(f"lems: cannot reach the switch at {to} ({e})", markup=False)
            return
        try:
            await converse(client)
        except TimeoutError:
            result["code"] = 1
            errors.print("lems: the switch did not answer the sign-on", markup=False)
        except Exception as e:  # the link dropped mid-way: say what happened
            result["code"] = 1
            errors.print(f"lems: stopped: {e}", markup=False)
        finally:
            client.close()

    async def converse(client: Any) -> None:
        son = await client.logon(args.terminal, op.id, password)
        show(son)
        if son.key != "SON":
            result["code"] = 1
            return
        from formats.framing import messages_in

        for arg in args.messages:
            text = sys.stdin.read() if arg == "-" else arg.replace("\\n", "\n")
            for message in messages_in(text):
                client.send(message)
        while True:
            try:
                show(await client.next(args.wait))
            except TimeoutError:
                break
        if client.connected and not client.signed_off:
            # leave the terminal as found: signed off, so a console can sign on again
            client.send(f"LOGOFF.{args.terminal}")
            while True:
                try:
                    out = await client.next(args.wait)
                except TimeoutError:
                    break
                show(out)
                if out.key in ("SOF", "REJ"):
                    break

    def show(out: Any) -> None:
        console.print(out.frame, markup=False)
        console.print("", markup=False)

    try:
        task.react(lambda r: defer.ensureDeferred(run(r)))
    except SystemExit as e:
        if e.code not in (0, None):
            return 1
    return result["code"]


def signed_on_elsewhere(database: Path, terminal: str, fresh_s: float = 5.0) -> bool:
    """Whether a running switch of this lab reports ``terminal`` signed on (it saves the list
    every second, ``lems.repositories.meta``); a list older than ``fresh_s`` is a stopped
    switch's."""
    import sqlite3
    import time

    from lems.repositories import meta

    if not database.exists():
        return False
    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            value = meta.get(conn, "online")
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    if not value:
        return False
    stamp, _, names = value.partition(" ")
    try:
        age = time.time() - float(stamp)
    except ValueError:
        return False
    return age < fresh_s and terminal in names.split(",")


def cmd_snapshot(args: argparse.Namespace) -> int:
    from lems.lab import load_lab
    from lems.snapshot import snapshot

    saved = snapshot(load_lab(args.dir), args.name, replace=args.replace)
    console.print(f"snapshot {args.name}: {' '.join(saved)}", markup=False)
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    from lems.lab import load_lab
    from lems.snapshot import reset

    reset(load_lab(args.dir), args.name)
    console.print(
        f"lab reset to {'snapshot ' + args.name if args.name else 'a fresh lab'}", markup=False
    )
    return 0


def cmd_snapshots(args: argparse.Namespace) -> int:
    from lems.lab import load_lab
    from lems.snapshot import snapshots

    for name in snapshots(load_lab(args.dir)):
        console.print(name, markup=False)
    return 0
