"""Benchmark: interstate Nlets traffic between state nodes over NATS JetStream, against the same
transactions inside one node.

Usage::

    .venv/bin/python tools/bench_federation.py [--rate 500] [--duration 10] [--warmup 2]
                                               [--nodes 1,2,4] [--terminals 4] [--no-kill]

A 3-server NATS cluster with JetStream (``lems.federation.cluster``) on loopback, in a temporary
directory. Each node is a real ``lems serve`` process with a lab from ``lems init --state``
(national endpoints in-process with no added latency). Load: ``--terminals`` signed-on terminals
per node (T01-T04), open loop at ``--rate`` transactions/s offered in total, each a driver
licence query ``DQ.<ORI>.<ST>.TXT OLN/<unique>``; its latency is send -> the ``DR`` arriving at
the terminal (which acknowledges it). Runs, in one process, one after the other:

* ``inside``: one node with no network: the queries go to the simulated member state inside it
  (the same transactions the mock Nlets answers in-process);
* ``N nodes`` for each ``--nodes``: N nodes on the network (states OR WA ID UT); each node's
  terminals ask the next node's state, so every query crosses the broker twice (request, answer).
  With 1 node, the node is on the network but asks a simulated state (the cost of being a node);
* ``kill``: 2 nodes at ``--rate``, the broker server leading the stream (``--kill-any``: the
  second server, whatever it leads) killed with ``kill -9`` half-way: queries
  sent, answered, lost (no answer 15 s after the run), and the longest time without any answer
  after the kill ("stall": how long before traffic flows again).

Printed per run: offered and answered tx/s, p50/p99/max latency, lost, and CPU in % of one core
of the switches (with their writer processes) and of the brokers, from ``/proc``; the switches'
CPU per transaction ("cpu/tx": their CPU from the start of the measured seconds to the last
answer, over the answers in that time: the figure a loaded machine moves least, and right even
when the nodes fall behind); then the ratio
of the 2-node run to ``inside`` and the broker's share (its CPU of all server CPU, and the part
of the p50 latency the network adds). Goals (issue 22): 2 nodes, 500 tx/s offered: p99 <= 20 ms;
with a broker server killed: 0 lost and a stall under 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STATES = ["OR", "WA", "ID", "UT"]
REPLICAS = [3]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU of ``pid`` and its waited-for children (utime stime cutime cstime) plus live
    children listed in /proc (the switch's SQLite writer)."""
    total = 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15]) / TICKS
    return total


@dataclass
class Run:
    name: str
    offered: float
    sent: int = 0
    answered: int = 0
    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    switch_cpu: float = 0.0
    broker_cpu: float = 0.0
    stall: float | None = None
    cpu_tx_ms: float = float("nan")
    window: float = 1.0

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(len(xs) * q))] * 1000 if xs else float("nan")

    def line(self) -> str:
        out = (
            f"{self.name:<8} offered {self.offered:7.1f} tx/s  answered "
            f"{len(self.latencies) / self.window:7.1f} tx/s  p50 {self.pct(0.5):6.2f} ms  "
            f"p99 {self.pct(0.99):6.2f} ms  max {self.pct(1.0):7.2f} ms  lost {self.lost}  "
            f"cpu switches {self.switch_cpu:5.1f} %  brokers {self.broker_cpu:5.1f} %  "
            f"switch cpu/tx {self.cpu_tx_ms:.2f} ms"
        )
        if self.stall is not None:
            out += f"  stall {self.stall:.2f} s"
        return out


def lab(base: Path, st: str, port: int, network: str, stream: str) -> Path:
    from lems.demo import init_lab

    d = base / st
    init_lab(d, state=st, listen=f"tcp:{port}:interface=127.0.0.1")
    path = d / "lab.toml"
    text = path.read_text().replace("latency_ms = 200", "latency_ms = 0")
    text = re.sub(r"latency_ms = \d+", "latency_ms = 0", text)
    if network:
        text += f'\n[nlets]\nnetwork = "{network}"\nstream = "{stream}"\nreplicas = {REPLICAS[0]}\n'
    path.write_text(text)
    return d


async def stream_leader(url: str, stream: str) -> str:
    """The name of the server leading ``stream`` (its Raft group), "" if none answers."""
    import nats

    nc = await nats.connect(url.split(","), connect_timeout=2)
    try:
        info = await nc.jetstream(timeout=2).stream_info(stream)
        return str(info.cluster.leader) if info.cluster else ""
    except Exception:
        return ""
    finally:
        await nc.close()


async def scenario(
    reactor: Any,
    name: str,
    base: Path,
    states: list[str],
    targets: list[str],
    network: str,
    args: argparse.Namespace,
    cluster: Any,
    kill: bool = False,
) -> Run:
    """Start one node per state of ``states``; terminals of node i ask ``targets[i]``."""
    from twisted.internet.defer import Deferred
    from twisted.internet.task import deferLater

    from lems.commands.federation import sees_all
    from lems.federation.cluster import answers, free_ports
    from terminals.client import TerminalClient

    base.mkdir(parents=True)
    ports = free_ports(len(states))
    stream = f"B{name.replace(' ', '')}"
    killed_index = 1
    procs = []
    for st, port in zip(states, ports, strict=True):
        d = lab(base, st, port, network, stream)
        log = (d / "serve.log").open("ab")
        cmd = (
            [str(Path(__file__).resolve()), "--serve-profiled", str(d / "serve.prof")]
            if args.profile
            else ["-m", "lems.cli"]
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, *cmd, "serve", str(d)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        )
        log.close()
    clients: list[tuple[Any, str, str]] = []
    sent_at: dict[str, float] = {}
    run = Run(name, args.rate)
    answers_at: list[float] = []

    class Client(TerminalClient):
        def frame_received(self, payload: bytes) -> None:
            now = time.monotonic()
            m = re.search(rb"OLN/(B\w+)", payload)
            if m is not None and payload.find(b"\nDR.") >= 0:
                t0 = sent_at.pop(m.group(1).decode(), None)
                if t0 is not None:
                    answers_at.append(now)
                    if measuring[0] <= t0 <= measuring[1]:
                        run.latencies.append(now - t0)
            super().frame_received(payload)

    measuring = [float("inf"), float("inf")]
    try:
        deadline = time.monotonic() + 90
        while not all(answers(p) for p in ports):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: switches did not start")
            await deferLater(reactor, 0.1)
        if network:
            while not all(sees_all(base / st / "lab.db", states) for st in states):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name}: nodes did not see each other")
                await deferLater(reactor, 0.1)
        for port, target in zip(ports, targets, strict=True):
            for t in range(1, args.terminals + 1):
                c = Client(reactor)
                await c.connect(f"tcp:host=127.0.0.1:port={port}")
                son = await c.logon(f"T{t:02d}", f"OP{t:02d}", f"train-{t:02d}")
                assert son.key == "SON", son.body
                ori = son.body.split("ORI/")[1].split()[0]
                clients.append((c, ori, target))
        interval = len(clients) / args.rate
        start = time.monotonic() + 0.2
        measuring[:] = [start + args.warmup, start + args.warmup + args.duration]
        end = measuring[1]
        cpu0 = None
        killed_at = None
        n = 0
        nats_pids = [s.proc.pid for s in cluster.nodes if s.proc and s.proc.poll() is None]
        t = start
        while t < end:
            now = time.monotonic()
            if cpu0 is None and now >= measuring[0]:
                cpu0 = (
                    sum(cpu_seconds(p.pid) for p in procs),
                    sum(cpu_seconds(p) for p in nats_pids),
                    now,
                )
            if kill and killed_at is None and now >= measuring[0] + args.duration / 2:
                index = 1
                if args.kill_leader:  # the worst case: the server leading the stream
                    leader = await Deferred.fromFuture(
                        asyncio.ensure_future(stream_leader(cluster.url, stream))
                    )
                    index = next((i for i, s in enumerate(cluster.nodes) if s.name == leader), 1)
                victim = cluster.nodes[index].proc
                cpu0 = (
                    (cpu0[0], cpu0[1] - (cpu_seconds(victim.pid) if victim else 0.0), cpu0[2])
                    if cpu0
                    else None
                )
                cluster.kill(index)
                killed_at = time.monotonic()
                killed_index = index
            if now < t:
                await deferLater(reactor, t - now)
                continue
            for c, ori, target in clients:
                n += 1
                token = f"B{n}"
                sent_at[token] = time.monotonic()
                run.sent += 1
                c.send(f"DQ.{ori}.{target}.TXT OLN/{token}")
            t += interval
        alive = [p for p in nats_pids if Path(f"/proc/{p}").exists()]
        cpu1 = (
            sum(cpu_seconds(p.pid) for p in procs),
            sum(cpu_seconds(p) for p in alive),
            time.monotonic(),
        )
        if cpu0 is not None:
            wall = cpu1[2] - cpu0[2]
            run.switch_cpu = 100 * (cpu1[0] - cpu0[0]) / wall
            run.broker_cpu = 100 * (cpu1[1] - cpu0[1]) / wall
        drain = time.monotonic() + 15
        while sent_at and time.monotonic() < drain:
            await deferLater(reactor, 0.05)
        run.lost = len(sent_at)
        run.window = args.duration
        if cpu0 is not None:  # the switches' CPU until the last answer, over the answers since
            done = sum(1 for a in answers_at if a >= cpu0[2])
            spent = sum(cpu_seconds(p.pid) for p in procs) - cpu0[0]
            run.cpu_tx_ms = 1000 * spent / done if done else float("nan")
        if killed_at is not None:
            after = sorted([killed_at, *[a for a in answers_at if a >= killed_at]])
            run.stall = max((b - a for a, b in itertools.pairwise(after)), default=0.0)
    finally:
        for c, _, _ in clients:
            c.close()
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        if kill and killed_at is not None:
            cluster.restart(killed_index)
            cluster.wait_up()
    return run


async def main(reactor: Any, args: argparse.Namespace) -> None:
    from lems.federation.cluster import NatsCluster

    tmp = Path(tempfile.mkdtemp(prefix="bench-federation-", dir=args.keep or None))
    cluster = NatsCluster(tmp / "nats").start()
    runs: list[Run] = []
    try:
        print(
            f"NATS cluster of {len(cluster.nodes)} servers with JetStream "
            f"(R{args.replicas} stream); "
            f"offered {args.rate:g} tx/s from {args.terminals} terminals per node, "
            f"{args.duration:g} s measured after {args.warmup:g} s",
            flush=True,
        )
        r = await scenario(reactor, "inside", tmp / "inside", ["OR"], ["WA"], "", args, cluster)
        print(r.line(), flush=True)
        runs.append(r)
        for k in args.nodes:
            states = STATES[:k]
            targets = [states[(i + 1) % k] for i in range(k)] if k > 1 else ["WA"]
            r = await scenario(
                reactor, f"{k} nodes", tmp / f"n{k}", states, targets, cluster.url, args, cluster
            )
            print(r.line(), flush=True)
            runs.append(r)
        if args.kill:
            r = await scenario(
                reactor,
                "kill",
                tmp / "kill",
                ["OR", "WA"],
                ["WA", "OR"],
                cluster.url,
                args,
                cluster,
                kill=True,
            )
            print(r.line(), flush=True)
            runs.append(r)
    finally:
        cluster.stop()
        if args.keep:
            print(f"labs kept in {tmp}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    inside = runs[0]
    two = next((r for r in runs if r.name == "2 nodes"), None)
    if two is not None and two.latencies and inside.latencies:
        ratio_tx = (len(two.latencies) / two.window) / max(
            1e-9, len(inside.latencies) / inside.window
        )
        added = max(0.0, two.pct(0.5) - inside.pct(0.5))
        share_cpu = two.broker_cpu / max(1e-9, two.broker_cpu + two.switch_cpu)
        print(
            f"ratio 2 nodes / inside: tx/s {ratio_tx:.2f}  p50 "
            f"{two.pct(0.5) / inside.pct(0.5):.2f}  p99 {two.pct(0.99) / inside.pct(0.99):.2f}",
            flush=True,
        )
        print(
            f"broker share: {100 * share_cpu:.0f} % of server CPU; network adds "
            f"{added:.2f} ms of the {two.pct(0.5):.2f} ms p50 "
            f"({100 * added / max(1e-9, two.pct(0.5)):.0f} %)",
            flush=True,
        )
        print(
            f"goal p99 <= 20 ms at {args.rate:g} tx/s between two nodes: "
            f"{'met' if two.pct(0.99) <= 20 else 'NOT met'} ({two.pct(0.99):.2f} ms)"
        )
    kill = next((r for r in runs if r.name == "kill"), None)
    if kill is not None:
        ok = kill.lost == 0 and (kill.stall or 0) <= 5
        print(
            f"goal 0 lost and flowing within 5 s after a broker kill: "
            f"{'met' if ok else 'NOT met'} (lost {kill.lost}, stall {kill.stall:.2f} s)"
        )


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=500.0, help="offered tx/s in total")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--nodes", default="1,2,4", help="node counts to run (subset of 1,2,4)")
    p.add_argument("--terminals", type=int, default=4, help="terminals per node (1-4)")
    p.add_argument(
        "--replicas",
        type=int,
        default=3,
        help="copies of the stream (1-3; 1 has no Raft commit per message)",
    )
    p.add_argument(
        "--keep",
        metavar="DIR",
        default="",
        help="keep the labs (journals, serve.log) in a new directory under DIR",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="run each node under cProfile counting CPU time, not wall time (a "
        "loaded machine preempts); DIR/<run>/<ST>/serve.prof, with --keep",
    )
    p.add_argument(
        "--kill-any",
        dest="kill_leader",
        action="store_false",
        help="kill the second broker server, whatever it leads (default: the server "
        "leading the stream, the worst case)",
    )
    p.add_argument("--no-kill", dest="kill", action="store_false", help="skip the broker-kill run")
    args = p.parse_args()
    args.nodes = [int(x) for x in args.nodes.split(",") if x]
    REPLICAS[0] = args.replicas
    if not 1 <= args.terminals <= 4 or any(k not in (1, 2, 3, 4) for k in args.nodes):
        p.error("--terminals 1-4, --nodes from 1 to 4")
    return args


def serve_profiled(out: str, argv: list[str]) -> None:
    """``lems serve`` under cProfile with a CPU-time clock, the profile written at exit."""
    import cProfile

    from lems.cli import main as lems_main

    prof = cProfile.Profile(time.process_time)
    try:
        prof.runcall(lems_main, argv)
    except SystemExit:
        pass
    finally:
        prof.dump_stats(out)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-profiled"]:
        serve_profiled(sys.argv[2], sys.argv[3:])
        sys.exit(0)
    args = parse_args()
    from lems.reactor import install

    install("asyncio")
    from twisted.internet import defer, task

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, args)))
