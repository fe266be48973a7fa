"""``lems endpoint``, ``lems seed``: run a national endpoint as its own process, take one down
or up under a running switch, and generate a lab's fictitious national population.

``lems endpoint ncic DIR --listen tcp:5101`` serves the lab's NCIC (its ``ncic.db``) on TCP with
the endpoint link framing; point the lab at it with ``[[endpoint]] name = "ncic"`` and
``mode = "tcp:host=127.0.0.1:port=5101"``. ``lems endpoint down ncic DIR`` writes the lab
database; the running switch applies it within a second. ``lems endpoint nlets DIR --listen
tcp:5102 --http tcp:8480`` also serves Nlets XML over HTTP POST.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from formats.errors import ConfigError, LemsError
from lems.cli import console, errors

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTCP


def register(sub: Any) -> None:
    s = sub.add_parser(
        "endpoint",
        help="run a national endpoint (NCIC, Nlets, NICS) as its own "
        "process, or take one down / bring it up under a running switch",
    )
    esub = s.add_subparsers(title="actions", metavar="ACTION")
    for name, words in (
        ("ncic", "NCIC (hot files and III)"),
        ("nlets", "Nlets (member states, ORION)"),
        ("nics", "NICS (checks and indices)"),
    ):
        e = esub.add_parser(name, help=f"serve the lab's {words} on a link")
        e.add_argument("dir", type=Path, help="lab directory (or lab.toml)")
        e.add_argument(
            "--listen",
            required=True,
            metavar="ENDPOINT",
            help="e.g. tcp:5101 (loopback unless interface= says otherwise)",
        )
        e.add_argument("--reactor", choices=["asyncio", "epoll"], default="asyncio")
        if name == "nlets":
            e.add_argument(
                "--http",
                metavar="ENDPOINT",
                help="also serve Nlets XML over HTTP POST, e.g. tcp:8480 (loopback "
                "unless interface= says otherwise); ssl:PORT:privateKey=...:"
                "certKey=... for HTTPS",
            )
        e.set_defaults(func=cmd_serve, endpoint=name)
    for action in ("down", "up"):
        e = esub.add_parser(action, help=f"take an endpoint {action} under a running switch")
        e.add_argument("name", choices=["ncic", "nlets", "nics"])
        e.add_argument("dir", type=Path)
        e.set_defaults(func=cmd_state, down=action == "down")

    s = sub.add_parser(
        "seed",
        help="generate the lab's fictitious national population (ncic.db, nlets.db, nics.db)",
    )
    s.add_argument("dir", type=Path)
    s.add_argument(
        "--subjects",
        type=int,
        default=10_000,
        help="people to generate (default 10000; 1000000 for the large benchmark)",
    )
    s.add_argument("--seed", type=int, help="default: the lab's seed")
    s.add_argument("--force", action="store_true", help="replace existing endpoint databases")
    s.set_defaults(func=cmd_seed)


def cmd_serve(args: argparse.Namespace) -> int:
    from lems.lab import load_lab
    from lems.reactor import install

    lab = load_lab(args.dir)
    reactor = install(args.reactor)
    from formats import endpoint_protocol as protocol
    from hardware import endpoints
    from lems.clock import LabClock
    from lems.endpoints.install import make_system
    from lems.endpoints.server import EndpointServer

    system = make_system(args.endpoint, lab, LabClock(reactor, lab.clock_speed))
    server = EndpointServer(system, reactor)
    listen = args.listen
    if "framing=" not in listen:
        listen += f":framing={protocol.FRAMING}"
    if listen.startswith("tcp:") and "interface=" not in listen:
        listen += ":interface=127.0.0.1"
    status = {"code": 0}

    def listening(port: Any) -> None:
        host = port.getHost()
        console.print(
            f"ENDPOINT {args.endpoint} LISTENING {getattr(host, 'host', '')}:"
            f"{getattr(host, 'port', '')}",
            markup=False,
        )
        sys.stdout.flush()

    def failed(f: Any) -> None:
        errors.print(f"lems: cannot listen on {args.listen}: {f.getErrorMessage()}", markup=False)
        status["code"] = 2
        reactor.stop()

    def go() -> None:
        try:
            d = endpoints.listen(reactor, listen, server.handler, protocol.MAX_FRAME)
        except LemsError as e:
            errors.print(f"lems: {e}", markup=False)
            status["code"] = 2
            reactor.stop()
            return
        d.addCallbacks(listening, failed)
        if getattr(args, "http", None):
            serve_http(reactor, system, args.http, failed)

    reactor.addSystemEventTrigger("before", "shutdown", system.close)
    reactor.callWhenRunning(go)
    reactor.run()
    return status["code"]


def serve_http(reactor: IReactorTCP, system: Any, description: str, failed: Any) -> None:
    """Serve ``system`` (the mock Nlets) as Nlets XML over HTTP(S) POST."""
    from twisted.internet.endpoints import serverFromString

    from lems.endpoints.nlets_http import site

    if description.split(":")[0] in ("tcp", "ssl") and "interface=" not in description:
        description += ":interface=127.0.0.1"

    def listening(port: Any) -> None:
        host = port.getHost()
        console.print(f"ENDPOINT nlets HTTP LISTENING {host.host}:{host.port}", markup=False)
        sys.stdout.flush()

    serverFromString(reactor, description).listen(site(system)).addCallbacks(listening, failed)


def cmd_state(args: argparse.Namespace) -> int:
    from lems import store
    from lems.lab import load_lab
    from lems.repositories import endpoint_state

    lab = load_lab(args.dir)
    conn = store.connect(lab.database)
    try:
        endpoint_state.mark(conn, args.name, args.down)
        store.bump_directory_version(conn)
    finally:
        conn.close()
    from lems.state import adminlog

    adminlog.record(lab, "endpoint-down" if args.down else "endpoint-up", args.name)
    console.print(
        f"{args.name.upper()} marked {'DOWN' if args.down else 'UP'} in {lab.database}"
        " (a running switch applies it within a second)",
        markup=False,
    )
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from lems.endpoints.seed import seed_lab
    from lems.lab import load_lab

    if args.subjects < 1:
        raise ConfigError("--subjects must be at least 1")
    lab = load_lab(args.dir)
    from lems.lablock import LabLock

    lock = LabLock(lab.database, "command lems seed")  # the switch holds the endpoint databases
    seed = lab.seed if args.seed is None else args.seed
    agencies = [a.ori for a in lab.agencies.values() if a.category == "cj"]
    with Progress(console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task("seeding", total=args.subjects)
        try:
            counts = seed_lab(
                lab.database.parent,
                args.subjects,
                seed,
                agencies,
                lambda n: progress.advance(task, n),
                force=args.force,
                home=lab.state,
            )
        finally:
            lock.release()
    if not counts:
        console.print("endpoint databases exist (use --force to replace them)", markup=False)
        return 1
    from lems.state import db as state_db
    from lems.state import seed as cch_seed
    from lems.state.repositories import meta as state_meta

    conn = state_db.connect(state_db.path_for(lab.database))
    try:
        counts["state"] = cch_seed.seed_world(conn, args.subjects, seed)  # CCH subjects
        conn.execute(*state_meta.cch_seeded(args.subjects))
        conn.commit()
    finally:
        conn.close()
    for name, n in counts.items():
        console.print(f"{name}.db: {n} rows", markup=False)
    return 0
