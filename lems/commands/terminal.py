"""``lems terminal``: an emulated terminal, interactive or scripted, on a link to a switch.

The terminal reaches the switch only through an endpoint string (it may run on another machine);
``--lab DIR`` is a convenience that reads the endpoint and the credentials from the lab file.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from formats.errors import ConfigError
from lems.cli import console, errors

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime

    from lems.reactor import IRunningReactor


def register(sub: Any) -> None:
    s = sub.add_parser(
        "terminal",
        help="an emulated terminal: interactive console or scripted (--script)",
        description="Sign on to a switch and type messages (line editing, history, HELP KEY, "
        "FORM KEY), or run a script (--script) on one or many terminals (--count, --rate). "
        "Exit status of a script run: 0 all passed, 1 a step failed.",
    )
    s.add_argument(
        "endpoint",
        nargs="?",
        help="switch endpoint, e.g. tcp:host=127.0.0.1:port=5020 "
        "(default: the lab's first listen endpoint)",
    )
    s.add_argument("--lab", type=Path, help="lab directory: endpoint and credentials")
    s.add_argument(
        "--terminal",
        action="append",
        default=[],
        help="terminal id (repeatable or comma-separated for --count)",
    )
    s.add_argument("--operator", help="default: the lab's operator for the terminal")
    s.add_argument("--password", help="default: the operator's password from the lab")
    s.add_argument("--script", type=Path, help="run this script instead of a prompt")
    s.add_argument(
        "--count",
        type=int,
        default=1,
        help="run the script on this many terminals at once (default 1)",
    )
    s.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="at most this many sends a second across all scripted terminals",
    )
    s.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the script this many times per terminal (0: until Ctrl-C)",
    )
    s.add_argument("--history", type=Path, help="keep the prompt history in this file")
    s.set_defaults(func=cmd_terminal)


def run_on_reactor(main: Callable[[IRunningReactor], Awaitable[int]]) -> int:
    """Install the asyncio reactor, run ``main(reactor)`` as an asyncio task, return its code."""
    from lems.reactor import install

    reactor = install()
    outcome: dict[str, Any] = {"code": 1}

    async def go() -> None:
        try:
            outcome["code"] = await main(reactor)
        except BaseException as e:  # re-raised after the reactor stopped
            outcome["error"] = e
        finally:
            reactor.stop()

    reactor.callWhenRunning(lambda: asyncio.ensure_future(go()))
    reactor.run()  # with Twisted's signal handlers (the default): Ctrl-C stops it cleanly
    if "error" in outcome:
        raise outcome["error"]
    return int(outcome["code"])


def credentials(args: argparse.Namespace) -> tuple[str, list[Any]]:
    """The endpoint and one ``Credentials`` per terminal to run."""
    from terminals.script import Credentials

    wanted = [t.strip().upper() for arg in args.terminal for t in arg.split(",") if t.strip()]
    endpoint = args.endpoint
    lab = None
    if args.lab is not None:
        from hardware.endpoints import client_for
        from lems.lab import load_lab

        lab = load_lab(args.lab)
        endpoint = endpoint or client_for(lab.switch.listen[0])
    if not endpoint:
        raise ConfigError("give the switch ENDPOINT or --lab DIR")
    if args.count < 1:
        raise ConfigError("--count must be at least 1")
    if lab is not None and len(wanted) < args.count:
        for t in lab.terminals.values():
            if len(wanted) >= args.count:
                break
            if (
                t.id not in wanted
                and not t.control
                and any(t.id in o.terminals and o.cleared for o in lab.operators.values())
            ):
                wanted.append(t.id)
    if len(wanted) < args.count:
        raise ConfigError(
            f"--count {args.count} needs {args.count} terminals "
            f"(give --terminal or --lab); have {len(wanted) or 'none'}"
        )
    creds = []
    for tid in wanted[: args.count]:
        operator, password = args.operator, args.password
        if lab is not None:
            if tid not in lab.terminals:
                raise ConfigError(f"terminal {tid} is not in {lab.path}")
            op = (
                lab.operators.get(operator)
                if operator
                else next(
                    (o for o in lab.operators.values() if tid in o.terminals and o.cleared), None
                )
            )
            if op is None:
                raise ConfigError(f"no operator for terminal {tid}; give --operator")
            operator, password = op.id, password or op.password
            if not password:
                raise ConfigError(
                    f"operator {op.id}'s password is kept in {lab.path} only as "
                    "a hash: give --password"
                )
        if not operator or password is None:
            raise ConfigError("give --operator and --password (or --lab DIR)")
        creds.append(Credentials(tid, operator, password))
    if not creds:
        raise ConfigError("give --terminal")
    return endpoint, creds


def cmd_terminal(args: argparse.Namespace) -> int:
    endpoint, creds = credentials(args)
    if args.script is None:
        if len(creds) > 1:
            raise ConfigError("an interactive terminal is one terminal; --count needs --script")
        from terminals.console import Console

        return run_on_reactor(lambda r: Console(r, endpoint, creds[0], history=args.history).run())
    from terminals.script import load_script, run_many

    script = load_script(args.script)

    async def main(reactor: IReactorTime) -> int:
        results = await run_many(
            reactor, endpoint, creds, script, rate=args.rate, repeat=args.repeat
        )
        for r in results:
            (console if r.passed else errors).print(r.summary(), markup=False, soft_wrap=True)
        passed = sum(r.passed for r in results)
        if len(results) > 1:
            sent = sum(r.sent for r in results)
            console.print(
                f"{passed}/{len(results)} terminals passed, {sent} messages sent", markup=False
            )
        sys.stdout.flush()
        return 0 if passed == len(results) else 1

    return run_on_reactor(main)
