"""Benchmark: honest terminals while an unauthenticated peer floods and a signed-on peer does not
read (issue 16's guardrails). Not a test: it prints figures, and says whether the goals hold.

Usage::

    .venv/bin/python tools/bench_guardrails.py [--honest 20] [--rate 20] [--duration 10]
                                               [--flood 4] [--size 1000] [--no-stuck]

A fresh copy of the demo lab with ``--honest`` + 1 bench terminals (``tools/bench_switch.py``'s
``write_lab``: national endpoints off, so the switch alone is measured) is served by a real
``lems serve`` process. Each honest terminal signs on and sends one inquiry every
``1/--rate`` seconds (a paced terminal, not a closed loop: latency is what an operator would
see), acknowledging every answer. Two phases of ``--duration`` seconds each:

* before: honest traffic only;
* during: the same, plus ``--flood`` connections from 127.0.0.2 that never sign on and write
  ``--size``-byte lines as fast as the socket takes them (reconnecting whenever the switch
  closes them), plus one signed-on terminal that sends inquiries in bursts of 2,000 and never
  reads (reconnecting whenever it is dropped).

Printed: the honest terminals' answers, p50 and p99 latency in each phase; the journal's growth
in each phase (bytes of message text journaled per second, and what the flooding address and the
not-reading terminal account for); the switch's RSS (its process and writer processes) at the
start, after each phase; link counts from the switch's log. Goals (issue 16): honest p99 during
the flood at most 2x before; journal growth from the flood at most 100 KB/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_switch import (
    ROOT,
    Server,
    bench_operator,
    bench_ori,
    bench_terminal,
    children,
    write_lab,
)

FLOOD_HOST = "127.0.0.2"


class Honest(asyncio.Protocol):
    """A paced terminal: sign on, then an inquiry every ``period`` seconds; ACK every answer."""

    def __init__(self, index: int, latencies: list[float], errors: list[str]) -> None:
        self.index = index
        self.latencies = latencies
        self.errors = errors
        self.buf = b""
        self.sent: float | None = None
        self.transport: asyncio.Transport | None = None
        self.signed_on = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(
            f"LOGON.{bench_terminal(self.index)}.{bench_operator(self.index)}"  # type: ignore[attr-defined]
            ".bench-pw\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\n\n" in self.buf:
            # the natural form (docs/WIRE.md): each message ends with an empty line
            frame, _, self.buf = self.buf.partition(b"\n\n")
            self.frame(frame.lstrip(b"\n"))

    def frame(self, frame: bytes) -> None:
        osn = int(frame[4:11]) if frame.startswith(b"OSN/") else -1
        if osn <= 0:
            if not self.signed_on.done():
                if b"\nSON." in frame:
                    self.signed_on.set_result(None)
                else:
                    self.signed_on.set_exception(RuntimeError(frame.decode("latin-1")[:200]))
            else:
                self.errors.append(frame.decode("latin-1")[:200])
            return
        self.transport.write(b"ACK.%d\n" % osn)  # type: ignore[union-attr]
        if self.sent is not None:
            self.latencies.append(time.perf_counter() - self.sent)
            self.sent = None

    def ask(self) -> None:
        if self.sent is not None:  # the last one is still unanswered: count it as late
            return
        self.sent = time.perf_counter()
        ori = bench_ori(self.index)
        self.transport.write(f"QW.{ori}.NAM/DOE,JOHN.DOB/19800101\n".encode())  # type: ignore[union-attr]


class Sink(asyncio.Protocol):
    """A connection that never reads what it is sent (its receive buffer fills up).

    It follows asyncio's flow control for what it writes: ``writable`` is cleared while the
    transport's buffer is over its high-water mark, so a writer waits for the switch to take
    more instead of spinning (a spinning attacker only burns this machine's second core, which
    an attacker on another host would not; the bytes the switch is offered are the same).
    """

    def __init__(self) -> None:
        self.lost = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.writable = asyncio.Event()
        self.writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.pause_reading()  # type: ignore[attr-defined]

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.writable.set()
        if not self.lost.done():
            self.lost.set_result(None)


async def flood(port: int, size: int, stop: asyncio.Event, stats: dict[str, int]) -> None:
    """Never signs on: junk lines as fast as the socket takes them; reconnect when closed."""
    loop = asyncio.get_running_loop()
    line = b"J" * (size - 1) + b"\n"
    while not stop.is_set():
        try:
            transport, sink = await loop.create_connection(
                Sink, "127.0.0.1", port, local_addr=(FLOOD_HOST, 0)
            )
        except OSError:
            await asyncio.sleep(0.01)
            continue
        stats["flood_connections"] += 1
        while not stop.is_set() and not sink.lost.done():
            transport.write(line * 16)
            stats["flood_bytes"] += len(line) * 16
            if sink.writable.is_set():
                await asyncio.sleep(0)  # let the other connections write too
            else:  # the switch takes no more for now: wait until it does, or closes
                await sink.writable.wait()
        transport.abort()


async def not_reading(port: int, index: int, stop: asyncio.Event, stats: dict[str, int]) -> None:
    """Signs on as ``STUCK``, sends inquiries in bursts, never reads; reconnects when dropped."""
    loop = asyncio.get_running_loop()
    ori = bench_ori(index)
    burst = f"QW.{ori}.NAM/DOE,JOHN.DOB/19800101\n".encode() * 2000
    while not stop.is_set():
        transport, sink = await loop.create_connection(Sink, "127.0.0.1", port)
        stats["stuck_connections"] += 1
        transport.write(f"LOGON.STUCK.{bench_operator(index)}.bench-pw\n".encode())
        while not stop.is_set() and not sink.lost.done():
            if transport.get_write_buffer_size() < 1 << 16:
                transport.write(burst)
            await asyncio.sleep(0.05)
        transport.abort()


def journal_text(database: Path, since: int) -> tuple[int, int, int, int]:
    """(last seq, text bytes of rows after ``since``, of them from the flooding address, of them
    to or from the not-reading terminal)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        top, total, flood, stuck = conn.execute(
            "SELECT COALESCE(MAX(seq), 0), COALESCE(SUM(LENGTH(text)), 0), "
            "COALESCE(SUM(CASE WHEN link LIKE ? THEN LENGTH(text) ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN terminal = ? THEN LENGTH(text) ELSE 0 END), 0) "
            "FROM journal WHERE seq > ?",
            (f"tcp:{FLOOD_HOST}%", "STUCK", since),
        ).fetchone()
        return top, total, flood, stuck
    finally:
        conn.close()


def rss_mib(server: Server) -> float:
    total = server.rss_kib()
    for child in children(server.pid):
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000


async def phase(honest: list[Honest], rate: float, duration: float) -> None:
    period = 1.0 / rate
    end = time.perf_counter() + duration
    tick = time.perf_counter()
    while tick < end:
        for h in honest:
            h.ask()
        tick += period
        await asyncio.sleep(max(0.0, tick - time.perf_counter()))


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def run(args: argparse.Namespace, work: Path) -> int:
    n = args.honest
    path = write_lab(work / "lab", n + 1, own_ori=True, limits=True)
    text = path.read_text()
    # the not-reading peer is the last bench terminal
    stuck = n + 1
    text = text.replace(f'id = "{bench_terminal(stuck)}"', 'id = "STUCK"').replace(
        f'terminals = ["{bench_terminal(stuck)}"]', 'terminals = ["STUCK"]'
    )
    path.write_text(text)
    database = path.parent / "lab.db"
    profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
    server = Server(
        [
            sys.executable,
            *profile,
            "-m",
            "lems.cli",
            "serve",
            str(path.parent),
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--log-file",
            str(work / "serve.jsonl"),
        ],
        work / "serve.log",
    )
    loop = asyncio.get_running_loop()
    rounds: list[dict[str, float]] = []
    errors: list[str] = []
    stats = {"flood_connections": 0, "flood_bytes": 0, "stuck_connections": 0, "attack_cpu_ms": 0}
    loads = [load()]
    try:
        rss0 = rss_mib(server)
        sink: list[float] = []
        honest = []
        for i in range(1, n + 1):
            _, h = await loop.create_connection(
                lambda i=i: Honest(i, sink, errors), "127.0.0.1", server.port
            )
            await asyncio.wait_for(h.signed_on, 30)
            honest.append(h)
        await phase(honest, args.rate, 1.0)  # warm-up, not counted
        for _ in range(args.rounds):
            r: dict[str, float] = {}
            for name in ("before", "during"):
                lat: list[float] = []
                for h in honest:
                    h.latencies = lat
                seq0, _, _, _ = journal_text(database, 0)
                attack = None
                if name == "during":
                    # the attackers run in a process of their own: in this one their loops
                    # would slow the honest terminals' event loop and blame the switch
                    attack = await asyncio.create_subprocess_exec(
                        sys.executable,
                        __file__,
                        "--attack",
                        str(server.port),
                        "--flood",
                        str(args.flood),
                        "--size",
                        str(args.size),
                        "--stuck",
                        str(stuck),
                        "--duration",
                        str(args.duration),
                        *(["--no-stuck"] if args.no_stuck else []),
                        *(["--control"] if args.control else []),
                        stdin=asyncio.subprocess.PIPE,
                        stdout=asyncio.subprocess.PIPE,
                        cwd=ROOT,
                    )
                    # started before the phase and released by a line once it is ready: an
                    # attacker on another host costs this machine no interpreter start-up
                    ready = await asyncio.wait_for(attack.stdout.readline(), 60)  # type: ignore[union-attr]
                    assert ready.strip() == b"ready", ready
                    attack.stdin.write(b"go\n")  # type: ignore[union-attr]
                    await attack.stdin.drain()  # type: ignore[union-attr]
                t0 = time.perf_counter()
                cpu0, main0 = server.cpu()
                await phase(honest, args.rate, args.duration)
                secs = time.perf_counter() - t0
                cpu1, main1 = server.cpu()
                _, total, flood_b, stuck_b = journal_text(database, seq0)
                if attack is not None:
                    out, _ = await asyncio.wait_for(attack.communicate(), 60)
                    for k, v in json.loads(out.decode().strip().splitlines()[-1]).items():
                        stats[k] += v
                r[f"{name}_n"] = len(lat)
                r[f"{name}_p50"] = pct(lat, 0.5)
                r[f"{name}_p99"] = pct(lat, 0.99)
                r[f"{name}_journal"] = total / secs
                r[f"{name}_flood"] = flood_b / secs
                r[f"{name}_stuck"] = stuck_b / secs
                r[f"{name}_rss"] = rss_mib(server)
                # the switch's own CPU, a share of one core (with its writer processes; and its
                # reactor thread alone): what the attack costs the switch, whatever the load
                r[f"{name}_cpu"] = (cpu1 - cpu0) / secs * 100
                r[f"{name}_main"] = (main1 - main0) / secs * 100
                loads.append(load())
            rounds.append(r)
        for h in honest:
            h.transport.close()  # type: ignore[union-attr]
    finally:
        server.stop()
    log = (work / "serve.jsonl").read_text() if (work / "serve.jsonl").exists() else ""
    what = (
        "a process that only burns one core (control: the machine's share, not the switch)"
        if args.control
        else f"flood {args.flood} connections of {args.size}-byte lines from {FLOOD_HOST}"
        + ("" if args.no_stuck else "; 1 not-reading terminal")
    )
    print(
        f"honest terminals {n}, {args.rate:g} inquiries/s each; {args.rounds} rounds of "
        f"{args.duration:g} s before + {args.duration:g} s during; during: {what}"
    )
    for i, r in enumerate(rounds, 1):
        print(
            f"round {i}  before n {r['before_n']:5.0f} p50 {r['before_p50']:6.2f} p99 "
            f"{r['before_p99']:7.2f} ms | during n {r['during_n']:5.0f} p50 "
            f"{r['during_p50']:6.2f} p99 {r['during_p99']:7.2f} ms | ratio "
            f"{r['during_p99'] / r['before_p99']:5.2f}x | journal from flood "
            f"{r['during_flood'] / 1024:6.1f} KB/s, from not-reading "
            f"{r['during_stuck'] / 1024:6.1f} KB/s | rss {r['during_rss']:6.1f} MiB | switch "
            f"cpu {r['before_cpu']:3.0f} -> {r['during_cpu']:3.0f} % (reactor "
            f"{r['before_main']:3.0f} -> {r['during_main']:3.0f} %)"
        )
    ratios = [r["during_p99"] / r["before_p99"] for r in rounds]
    med = statistics.median(ratios)
    p99b = statistics.median(r["before_p99"] for r in rounds)
    p99d = statistics.median(r["during_p99"] for r in rounds)
    growth = statistics.median(r["during_flood"] for r in rounds)
    print(
        f"median  p99 before {p99b:.2f} ms, during {p99d:.2f} ms; median of the rounds' "
        f"ratios {med:.2f}x"
    )
    print(f"load average (1, 5, 15 min) at start and after each phase: {' | '.join(loads)}")
    total_s = args.rounds * args.duration
    print(
        f"attack  flood sent {stats['flood_bytes'] / total_s / 1e6:.1f} MB/s over "
        f"{stats['flood_connections']} connections; not-reading peer connected "
        f"{stats['stuck_connections']} times; the attacking process used "
        f"{stats['attack_cpu_ms'] / 10 / total_s:.0f} % of a core"
    )
    print(
        f"switch rss at start {rss0:.1f} MiB, at the end {rounds[-1]['during_rss']:.1f} MiB "
        "(process and writer processes)"
    )
    refused = sum(int(m) for m in re.findall(r"(\d+) OVER (?:ITS RATE|\d+ LINKS)", log))
    print(
        f"switch log: {log.count('does not read')} links dropped for not reading, "
        f"{log.count('without a sign-on')} closed for frames without sign-on, "
        f"{refused} connections refused at accept; honest errors {len(errors)}"
    )
    print(
        f"goal p99 during <= 2x before (median of rounds): {med:.2f}x "
        f"{'MET' if med <= 2 else 'NOT MET'}; goal journal growth from the flood <= 100 KB/s: "
        f"{growth / 1024:.1f} KB/s {'MET' if growth <= 100 * 1024 else 'NOT MET'}"
    )
    if errors:
        print("first honest error:", errors[0].replace("\n", " / "))
    return 0 if all(r["before_n"] and r["during_n"] for r in rounds) else 1


async def attack(args: argparse.Namespace) -> int:
    """The attackers' process: flood and not-reading peer for ``--duration`` s; stats as JSON."""
    stop = asyncio.Event()
    stats = {"flood_connections": 0, "flood_bytes": 0, "stuck_connections": 0, "attack_cpu_ms": 0}
    print("ready", flush=True)
    sys.stdin.readline()  # "go": the phase starts now
    cpu0 = time.process_time()
    if args.control:  # only burn a core, as any other process on the machine could
        end = time.perf_counter() + args.duration
        while time.perf_counter() < end:
            sum(range(10_000))
        stats["attack_cpu_ms"] = round((time.process_time() - cpu0) * 1000)
        print(json.dumps(stats), flush=True)
        return 0
    tasks = [
        asyncio.ensure_future(flood(args.attack, args.size, stop, stats)) for _ in range(args.flood)
    ]
    if not args.no_stuck:
        tasks.append(asyncio.ensure_future(not_reading(args.attack, args.stuck, stop, stats)))
    await asyncio.sleep(args.duration)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    stats["attack_cpu_ms"] = round((time.process_time() - cpu0) * 1000)
    print(json.dumps(stats), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--attack", type=int, metavar="PORT", help=argparse.SUPPRESS)
    p.add_argument("--stuck", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument(
        "--profile",
        metavar="FILE",
        help="run the switch under cProfile, its "
        "statistics to FILE (pstats) when it stops; the figures are then not the goal's",
    )
    p.add_argument("--honest", type=int, default=20)
    p.add_argument("--rate", type=float, default=20.0, help="inquiries per second per terminal")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="before/during pairs, one switch; "
        "the goal is judged on the median of the rounds' p99 ratios",
    )
    p.add_argument(
        "--control",
        action="store_true",
        help="during: a process that only burns "
        "one core, nothing sent to the switch (what the machine alone costs)",
    )
    p.add_argument(
        "--realtime",
        action="store_true",
        help="run the bench and every process it starts (the switch, its writers, the "
        "attackers) under SCHED_FIFO, ahead of the other processes on the machine: on a shared "
        "machine, stands for an idle one (both phases alike; needs root or CAP_SYS_NICE)",
    )
    p.add_argument("--flood", type=int, default=4, help="flooding connections at once")
    p.add_argument("--size", type=int, default=1000, help="bytes per flooding line")
    p.add_argument(
        "--no-stuck",
        action="store_true",
        help="no not-reading terminal (the flood alone; --flood 0: the not-reading terminal alone)",
    )
    args = p.parse_args(argv)
    if args.realtime and not args.attack:  # inherited by every process started from here on
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    if args.attack:
        return asyncio.run(attack(args))
    with tempfile.TemporaryDirectory(prefix="bench-guardrails-") as tmp:
        return asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
