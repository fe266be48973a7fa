"""``lems federation up DIR --states OR,WA,ID``: a local federation for an exercise.

One lab per state in ``DIR/<ST>`` (written by ``lems init --state`` when missing, each on its own
loopback port), a 3-server NATS JetStream cluster in ``DIR/nats`` unless ``--network`` names one,
one ``lems serve`` process per state sharing one scenario clock. Prints how each state's
terminals sign on; Ctrl-C or SIGTERM stops the switches (journals flushed), then the brokers.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.table import Table

from formats.codes import US_STATE_CODES
from formats.errors import ConfigError
from lems.cli import console, errors, show


def register(sub: Any) -> None:
    s = sub.add_parser("federation", help="a federation of state switches over NATS JetStream")
    fsub = s.add_subparsers(title="federation commands", metavar="COMMAND")
    up = fsub.add_parser("up", help="start a local federation: brokers, one switch per state")
    up.add_argument("dir", type=Path, help="directory holding one lab per state (DIR/OR, …)")
    up.add_argument(
        "--states", required=True, help="comma-separated NCIC state codes, e.g. OR,WA,ID"
    )
    up.add_argument(
        "--network",
        help="nats://host:port[,…] of a running JetStream cluster "
        "(default: start 3 nats-server processes in DIR/nats)",
    )
    up.add_argument(
        "--port",
        type=int,
        default=5020,
        help="first terminal port; the states take consecutive ports (default 5020)",
    )
    up.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="scenario clock speed shared by every node (default 1)",
    )
    up.add_argument(
        "--for",
        dest="duration",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="stop by itself after this many seconds (default: until Ctrl-C)",
    )
    up.set_defaults(func=cmd_up)
    s.set_defaults(func=lambda args: (s.print_help(), 2)[1])


def states_of(text: str) -> list[str]:
    states = [x.strip().upper() for x in text.split(",") if x.strip()]
    bad = [x for x in states if x not in US_STATE_CODES]
    if bad or not states:
        raise ConfigError(
            f"--states: {', '.join(bad) or 'none given'}: each must be an NCIC "
            "code of a state, DC or territory"
        )
    if len(set(states)) != len(states):
        raise ConfigError("--states: a state is named twice")
    return states


def prepare_lab(directory: Path, st: str, port: int, network: str, speed: float) -> Any:
    """``DIR/<ST>``: written if missing; its listen port, clock speed and network set."""
    from lems.demo import init_lab
    from lems.lab import load_lab

    if not (directory / "lab.toml").exists():
        init_lab(directory, state=st)
    path = directory / "lab.toml"
    text = path.read_text("utf-8")
    text = re.sub(
        r"(?m)^listen = \[.*\]", f'listen = ["tcp:{port}:interface=127.0.0.1"]', text, count=1
    )
    text = re.sub(r"(?m)^clock_speed = [0-9.eE+-]+", f"clock_speed = {speed!r}", text, count=1)
    text = re.sub(r"(?ms)^\[nlets\]\n(?:[^\[].*?\n)*", "", text)
    text = text.rstrip("\n") + f'\n\n[nlets]\nnetwork = "{network}"\n'
    path.write_text(text, "utf-8")
    lab = load_lab(path)
    if lab.state != st:
        raise ConfigError(f"{path} is a lab for {lab.state}, not {st}")
    return lab


def sees_all(database: Path, states: list[str]) -> bool:
    """Whether the node of ``database`` reports every state of ``states`` up."""
    import sqlite3

    from lems.repositories.federation_status import network

    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            up = {row["state"] for row in network(conn) if row["up"]}
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return set(states) <= up


def cmd_up(args: argparse.Namespace) -> int:
    from lems.federation.cluster import NatsCluster, answers

    states = states_of(args.states)
    if args.speed <= 0:
        raise ConfigError("--speed must be greater than 0")
    base: Path = args.dir
    base.mkdir(parents=True, exist_ok=True)
    cluster = None
    network = args.network
    if not network:
        cluster = NatsCluster(base / "nats").start()
        network = cluster.url
        console.print(
            f"NATS cluster: {network} (JetStream, stores in {base / 'nats'})", markup=False
        )
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = {"now": False}

    def stop_signal(signum: int, frame: Any) -> None:
        stopping["now"] = True

    old = {sig: signal.signal(sig, stop_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        labs = {}
        for i, st in enumerate(states):
            labs[st] = prepare_lab(base / st, st, args.port + i, network, args.speed)
        origin = time.time()
        for st, lab in labs.items():
            log = (base / st / "serve.log").open("ab")
            procs[st] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "lems.cli",
                    "serve",
                    str(lab.directory),
                    "--clock-origin",
                    repr(origin),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            log.close()
        deadline = time.monotonic() + 60
        waiting = dict(enumerate(states))
        while waiting and time.monotonic() < deadline and not stopping["now"]:
            for i, st in list(waiting.items()):
                if procs[st].poll() is not None:
                    raise ConfigError(
                        f"the {st} switch exited ({procs[st].returncode}): see "
                        f"{base / st / 'serve.log'}"
                    )
                if answers(args.port + i):
                    del waiting[i]
            time.sleep(0.1)
        if waiting:
            raise ConfigError(f"switches not listening: {', '.join(waiting.values())}")
        while not stopping["now"] and not all(
            sees_all(lab.database, states) for lab in labs.values()
        ):
            if time.monotonic() > deadline:
                raise ConfigError(
                    "the nodes did not all see each other on the network within "
                    "60 s: see the serve.log of each state"
                )
            time.sleep(0.2)
        table = Table(title=f"Federation {','.join(states)} on {network}")
        for col in ("state", "lab", "terminals at", "sign on (e.g.)", "try"):
            table.add_column(col)
        for i, (st, lab) in enumerate(labs.items()):
            other = next((s for s in states if s != st), st)
            ori = lab.terminals["T01"].oris[0]
            table.add_row(
                st,
                str(lab.directory),
                f"127.0.0.1:{args.port + i}",
                "LOGON.T01.OP01.train-01",
                f"lems send {lab.directory} --terminal T01 "
                f"'DQ.{ori}.{other}.TXT\\nNAM/DOE,JOHN.DOB/19800101.SEX/M'",
            )
        show(table)
        console.print(f"Watch a node: lems watch {base / states[0]}   Stop: Ctrl-C", markup=False)
        sys.stdout.flush()
        until = time.monotonic() + args.duration if args.duration > 0 else None
        while not stopping["now"] and (until is None or time.monotonic() < until):
            for st, p in procs.items():
                if p.poll() is not None and not getattr(p, "reported", False):
                    errors.print(
                        f"lems: the {st} switch exited ({p.returncode}); see "
                        f"{base / st / 'serve.log'}",
                        markup=False,
                    )
                    p.reported = True  # type: ignore[attr-defined]
            time.sleep(0.2)
        return 0
    finally:
        for p in procs.values():
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
        for st, p in procs.items():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
                errors.print(f"lems: the {st} switch did not stop in 20 s; killed", markup=False)
        if cluster is not None:
            cluster.stop()
        for sig, handler in old.items():
            signal.signal(sig, handler)
        console.print("Federation stopped", markup=False)
