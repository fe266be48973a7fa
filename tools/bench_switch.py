"""Benchmark: switch throughput against a plain Twisted echo server, and idle memory per terminal.

Usage::

    .venv/bin/python tools/bench_switch.py [--terminals 50] [--duration 10] [--warmup 2]
                                           [--reactor asyncio|epoll|both] [--repeat 1]
                                           [--quiet-wait 0] [--endpoints off|inprocess]
                                           [--profile PREFIX]
    .venv/bin/python tools/bench_switch.py --idle 10000 [--reactor asyncio|epoll|both]

Throughput: for each reactor kind the benchmark starts, as a separate process, first a plain
Twisted ``LineReceiver`` echo server (this file with ``--echo-server``) and then the switch
(``python -m lems.cli serve LAB --listen tcp:0:interface=127.0.0.1 --reactor KIND``) on a fresh
copy of the demo lab extended with one terminal, agency and operator per client (``B0001`` bound
to ``OR0241001``, operator ``BOP0001``). N clients connect over loopback TCP; each is a closed
loop: send a request, wait for its answer, send the next. Requests alternate between an NCIC
inquiry ``QW.<own ORI>.NAM/…`` and an administrative message ``AM.<own ORI>.<own ORI>.TXT`` /
``BENCH`` relayed back to the sender only. With ``--endpoints off`` (default) the lab's national
endpoints are off, so the switch answers the inquiry with a journaled ``REJ … NCIC NOT
AVAILABLE``: still parse, policy, journal, route, mailbox and delivery, and nothing but the
switch is measured; ``--endpoints inprocess`` runs the simulated NCIC in the switch's process
with no added latency (answers ``NRC``/``HIT``). Against the switch each client signs on first
and acknowledges every answer (``ACK.<osn>``, sent in the same write as its next request, as a
terminal does); the echo server gets the same request frames without sign-on or ACKs (its answers
carry no OSN). A transaction counts when its answer arrives; latency is send → answer. Figures
cover ``--duration`` seconds after ``--warmup``; ``--repeat N`` runs N rounds, each the echo
server then the switch back to back; the summary gives each round's ratio and their median (the
goal's figure: this VM's speed changes in phases of a few seconds, and a round's two runs share
one more often than the two best runs do), the best run of each server and the spread.

Server CPU comes from ``/proc/PID/stat`` (the whole process with its child processes, and the
reactor thread alone from ``/proc/PID/task/PID/stat``; for the switch the difference is mostly
its SQLite writer process, ``lems/committer.py``), the load generator's from
``time.process_time``, everything else on the machine from ``/proc/stat`` ("other load": the
machine may be shared; ``--quiet-wait S`` waits for it to go idle before each run and repeats a
run during which it was busy); all in % of one core over the measured window. "reactor µs/tx"
is the reactor thread's CPU per transaction, steadier than tx/s where the machine's speed
drifts from run to run. The load generator is raw asyncio (Protocols on the default epoll
selector loop) in this process, not the project's Twisted client, so that it stays far lighter
than the servers.
``--profile PREFIX`` runs the switch under cProfile (its reactor thread) into
``PREFIX.<reactor>.prof``.

Memory (``--idle N``): a lab with N terminals and operators (generated, all bound to
``OR0240000``), the switch's VmRSS from ``/proc/PID/status`` after it listens, after N TCP
connections and after all N are signed on. The file-descriptor limit is raised to the hard limit
in both processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ECHO = "echo"
SWITCH = "switch"
CLK_TCK = os.sysconf("SC_CLK_TCK")
QUIET_OTHERS = 25.0
"""% of one core that other processes may use during a run before ``--quiet-wait`` repeats it."""
LISTENING = re.compile(r"LISTENING .*?(\d+\.\d+\.\d+\.\d+):(\d+)")
NAMES = ["DOE,JOHN", "SMITH,MARY", "NGUYEN,ANH", "GARCIA,LUIS", "OBRIEN,PAT", "JONES,SAM"]


# ---------------------------------------------------------------------- echo server (child)

def echo_server(kind: str) -> int:
    """The baseline: a Twisted LineReceiver that sends every line straight back."""
    sys.path.insert(0, str(ROOT))
    from lems.reactor import install

    reactor = install(kind)
    from twisted.internet import protocol
    from twisted.protocols.basic import LineReceiver

    class Echo(LineReceiver):
        delimiter = b"\n"
        MAX_LENGTH = 16384

        def lineReceived(self, line: bytes) -> None:
            self.sendLine(line)

    factory = protocol.Factory.forProtocol(Echo)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    print(f"LISTENING echo -> 127.0.0.1:{port.getHost().port}", flush=True)
    reactor.run()
    return 0


# ---------------------------------------------------------------------- processes

def raise_nofile() -> int:
    """Soft fd limit up to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Server:
    """A server process started with a log file for stdout; knows its port and its CPU time."""

    def __init__(self, argv: list[str], log: Path, timeout: float = 120.0) -> None:
        self.log = log
        env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
        t0 = time.monotonic()
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                         env=env, preexec_fn=raise_nofile)
        self.pid = self.proc.pid
        while True:
            m = LISTENING.search(log.read_text("latin-1"))
            if m:
                self.port = int(m.group(2))
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}:\n{log.read_text()}")
            if time.monotonic() - t0 > timeout:
                self.stop()
                raise RuntimeError(f"server did not listen in {timeout:.0f} s")
            time.sleep(0.05)
        self.start_seconds = time.monotonic() - t0

    def cpu(self) -> tuple[float, float]:
        """(whole process with its child processes, main thread) CPU seconds so far."""
        total = _stat_cpu(f"/proc/{self.pid}/stat")
        for child in children(self.pid):  # the switch's SQLite writer processes
            with contextlib.suppress(OSError):
                total += _stat_cpu(f"/proc/{child}/stat")
        return total, _stat_cpu(f"/proc/{self.pid}/task/{self.pid}/stat")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def machine_busy() -> float:
    """CPU seconds all cores spent busy so far (``/proc/stat``), to see what else was running."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def wait_quiet(limit: float, threshold: float = 15.0) -> float:
    """Wait up to ``limit`` seconds for the machine to be idle (others' CPU below ``threshold`` %
    of one core over half a second); returns that last figure."""
    deadline = time.monotonic() + limit
    while True:
        b0, t0 = machine_busy(), time.monotonic()
        time.sleep(0.5)
        busy = 100 * (machine_busy() - b0) / (time.monotonic() - t0)
        if busy < threshold or time.monotonic() >= deadline:
            return busy
        time.sleep(2.0)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _stat_cpu(path: str) -> float:
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


# ---------------------------------------------------------------------- labs

def write_lab(directory: Path, n: int, *, own_ori: bool, endpoints: str = "off",
              limits: bool = False) -> Path:
    """The demo lab plus ``n`` bench terminals ``B0001…`` and operators ``BOP0001…``.

    ``own_ori``: each terminal gets its own agency ``OR0241001…`` (throughput: an AM to it comes
    back to that terminal alone); otherwise all are bound to ``OR0240000`` (idle memory).
    ``endpoints``: the national endpoints' mode: ``off`` (the switch answers NCIC inquiries
    NOT AVAILABLE: the switch alone is measured) or ``inprocess`` (with no simulated latency).
    ``limits``: keep the per-link rate limits of ``[switch]`` (``lems.limits``); off by default,
    since a closed-loop benchmark terminal sends far more than any real one.
    """
    from datetime import date

    from lems.demo import init_lab

    init_lab(directory, today=date(2026, 11, 23), listen="tcp:0:interface=127.0.0.1")
    path = directory / "lab.toml"
    text = path.read_text("utf-8")
    if not limits:
        text = text.replace("lockout_after = 5", "lockout_after = 5\nrate_frames = 0\n"
                            "rate_bytes = 0\nsource_frames = 0\nsource_bytes = 0\nsource_links = 0")
    parts = [drop_tables(text, "endpoint"),
             "\n# ---------------------------------------- bench\n"]
    for name in ("ncic", "nlets", "nics"):
        parts.append(f'[[endpoint]]\nname = "{name}"\nmode = "{endpoints}"\nlatency_ms = 0\n\n')
    for i in range(1, n + 1):
        ori = bench_ori(i) if own_ori else "OR0240000"
        if own_ori:
            parts.append(f'[[agency]]\nori = "{ori}"\nname = "BENCH AGENCY {i}"\n'
                         f'type = "PD"\ncategory = "cj"\n\n')
        parts.append(f'[[terminal]]\nid = "{bench_terminal(i)}"\noris = ["{ori}"]\n\n'
                     f'[[operator]]\nid = "{bench_operator(i)}"\nname = "BENCH, {i}"\n'
                     f'password = "bench-pw"\nterminals = ["{bench_terminal(i)}"]\n\n')
    path.write_text("".join(parts), "utf-8")
    return path


def drop_tables(text: str, name: str) -> str:
    """``text`` without its ``[[name]]`` tables (each runs to the next table header)."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        head = line.strip()
        if head.startswith("["):
            skipping = head.replace(" ", "") == f"[[{name}]]"
        if not skipping:
            out.append(line)
    return "".join(out)


def bench_ori(i: int) -> str:
    """``OR0241001`` for terminal 1, and so on (a police department's ORI shape)."""
    return f"OR{241000 + i:07d}"


def bench_terminal(i: int) -> str:
    return f"B{i:04d}"


def bench_operator(i: int) -> str:
    return f"BOP{i:04d}"


# ---------------------------------------------------------------------- load generator

class Load:
    """Shared state of one throughput run."""

    def __init__(self) -> None:
        self.measuring = False
        self.stopping = False
        self.count = 0
        self.keys: Counter[bytes] = Counter()  # first body line's key of each answer measured
        self.latencies: list[float] = []
        self.errors: list[str] = []


class Client(asyncio.Protocol):
    """One closed-loop terminal: request, wait for the answer frame, (ACK +) next request."""

    def __init__(self, load: Load, index: int, kind: str) -> None:
        self.load = load
        self.kind = kind
        self.index = index
        ori = bench_ori(index)
        self.requests = [
            f"QW.{ori}.NAM/{NAMES[index % len(NAMES)]}.DOB/19800101\n".encode(),
            f"AM.{ori}.{ori}.TXT\\\nBENCH\n".encode(),
        ]
        self.turn = 0
        self.buf = b""
        self.sent = 0.0
        self.transport: asyncio.Transport | None = None
        self.signed_on: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.kind == SWITCH:
            transport.write(f"LOGON.{bench_terminal(self.index)}.{bench_operator(self.index)}"  # type: ignore[attr-defined]
                            ".bench-pw\n".encode())
        else:
            self.signed_on.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.load.stopping:
            self.load.errors.append(f"client {self.index}: connection lost {exc}")
        if not self.signed_on.done():
            self.signed_on.set_exception(ConnectionError(f"client {self.index} lost"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        # the switch ends each message with an empty line (docs/WIRE.md); the echo each line
        delim = b"\n\n" if self.kind == SWITCH else b"\n"
        buf = self.buf + data if self.buf else data
        start = 0
        while True:
            end = buf.find(delim, start)
            if end < 0:
                break
            self.frame(buf[start:end])
            start = end + len(delim)
        self.buf = buf[start:]

    def frame(self, frame: bytes) -> None:
        now = time.perf_counter()
        ack = b""
        if self.kind == SWITCH:
            osn = int(frame[4:11]) if frame.startswith(b"OSN/") else -1
            if osn <= 0:
                if not self.signed_on.done():
                    if b"\nSON." in frame:
                        self.signed_on.set_result(None)
                    else:
                        self.signed_on.set_exception(RuntimeError(frame.decode("latin-1")))
                else:
                    self.load.errors.append(frame.decode("latin-1")[:200])
                return
            ack = b"ACK.%d\n" % osn
        load = self.load
        if load.measuring:
            load.count += 1
            load.latencies.append(now - self.sent)
            if ack:
                nl = frame.find(b"\n") + 1
                load.keys[frame[nl:frame.find(b".", nl)]] += 1
        if load.stopping:
            if ack:
                self.transport.write(ack)  # type: ignore[union-attr]
            return
        self.send(ack)

    def send(self, prefix: bytes = b"") -> None:
        req = self.requests[self.turn]
        self.turn ^= 1
        self.sent = time.perf_counter()
        self.transport.write(prefix + req if prefix else req)  # type: ignore[union-attr]


@dataclass
class Result:
    server: str
    reactor: str
    terminals: int
    seconds: float
    tx: int
    p50_ms: float
    p99_ms: float
    server_cpu: float  # % of one core, whole process
    reactor_cpu: float  # % of one core, the reactor (main) thread
    gen_cpu: float  # % of one core, this process
    other_cpu: float  # % of one core, everything else on the machine meanwhile
    errors: list[str] = field(default_factory=list)
    keys: dict[str, int] = field(default_factory=dict)

    @property
    def answers(self) -> str:
        total = sum(self.keys.values()) or 1
        return " ".join(f"{k} {100 * v / total:.0f}%" for k, v in
                        sorted(self.keys.items(), key=lambda kv: -kv[1]))

    @property
    def rate(self) -> float:
        return self.tx / self.seconds if self.seconds else 0.0

    @property
    def reactor_us_per_tx(self) -> float:
        """Reactor-thread CPU per transaction: steadier than tx/s on a machine whose speed
        drifts, and what a change to the switch's own work moves."""
        return self.reactor_cpu / 100 / self.rate * 1e6 if self.rate else 0.0


async def drive(server: Server, kind: str, reactor_kind: str, n: int, warmup: float,
                duration: float) -> Result:
    loop = asyncio.get_running_loop()
    load = Load()
    clients: list[Client] = []
    for i in range(1, n + 1):
        _, c = await loop.create_connection(lambda i=i: Client(load, i, kind), "127.0.0.1",
                                            server.port)
        clients.append(c)
    await asyncio.wait_for(asyncio.gather(*(c.signed_on for c in clients)), 60)
    for c in clients:
        c.send()
    await asyncio.sleep(warmup)
    cpu0, main0 = server.cpu()
    busy0, gen0, t0 = machine_busy(), time.process_time(), time.perf_counter()
    load.measuring = True
    await asyncio.sleep(duration)
    load.measuring = False
    cpu1, main1 = server.cpu()
    busy1, gen1, t1 = machine_busy(), time.process_time(), time.perf_counter()
    load.stopping = True
    await asyncio.sleep(0.2)
    for c in clients:
        if c.transport is not None:
            c.transport.close()
    await asyncio.wait_for(asyncio.gather(*(c.closed for c in clients)), 10)
    wall = t1 - t0
    lat = sorted(load.latencies)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    return Result(kind, reactor_kind, n, wall, load.count, pct(0.50), pct(0.99),
                  100 * (cpu1 - cpu0) / wall, 100 * (main1 - main0) / wall,
                  100 * (gen1 - gen0) / wall,
                  max(0.0, 100 * ((busy1 - busy0) - (cpu1 - cpu0) - (gen1 - gen0)) / wall),
                  load.errors,
                  {k.decode("latin-1"): v for k, v in load.keys.items()})


def run_one(kind: str, reactor_kind: str, n: int, warmup: float, duration: float,
            work: Path, profile: Path | None = None, endpoints: str = "off") -> Result:
    log = work / f"{kind}-{reactor_kind}.log"
    if kind == ECHO:
        argv = [sys.executable, str(Path(__file__).resolve()), "--echo-server",
                "--reactor", reactor_kind]
    else:
        lab = work / f"lab-{reactor_kind}"
        shutil.rmtree(lab, ignore_errors=True)
        write_lab(lab, n, own_ori=True, endpoints=endpoints)
        prof = (["-m", "cProfile", "-o", f"{profile}.{reactor_kind}.prof"] if profile else [])
        argv = [sys.executable, *prof, "-m", "lems.cli", "serve", str(lab),
                "--listen", "tcp:0:interface=127.0.0.1", "--reactor", reactor_kind]
    server = Server(argv, log)
    try:
        return asyncio.run(drive(server, kind, reactor_kind, n, warmup, duration))
    finally:
        server.stop()


# ---------------------------------------------------------------------- idle memory

class Idle(asyncio.Protocol):
    def __init__(self, index: int) -> None:
        self.index = index
        loop = asyncio.get_running_loop()
        self.signed_on: asyncio.Future[None] = loop.create_future()
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def logon(self) -> None:
        self.transport.write(f"LOGON.{bench_terminal(self.index)}."  # type: ignore[union-attr]
                             f"{bench_operator(self.index)}.bench-pw\n".encode())

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.buf.endswith(b"\n\n"):  # a message ends with an empty line
            if not self.signed_on.done():
                if b"\nSON." in self.buf:
                    self.signed_on.set_result(None)
                else:
                    self.signed_on.set_exception(RuntimeError(self.buf.decode("latin-1")))
            self.buf = b""

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.signed_on.done():
            self.signed_on.set_exception(ConnectionError(f"idle {self.index} lost: {exc}"))


@dataclass
class IdleResult:
    reactor: str
    terminals: int
    start_s: float
    rss_start: int
    rss_connected: int
    rss_signed_on: int
    connect_s: float
    signon_s: float

    @property
    def per_terminal(self) -> float:
        return (self.rss_signed_on - self.rss_start) / self.terminals

    @property
    def per_connection(self) -> float:
        return (self.rss_connected - self.rss_start) / self.terminals


async def idle_clients(server: Server, n: int, batch: int = 50) -> tuple[list[Idle], float,
                                                                           int, float, int]:
    loop = asyncio.get_running_loop()
    clients: list[Idle] = []
    t0 = time.perf_counter()
    for lo in range(1, n + 1, batch):
        made = await asyncio.gather(*(
            loop.create_connection(lambda i=i: Idle(i), "127.0.0.1", server.port)
            for i in range(lo, min(n, lo + batch - 1) + 1)))
        clients.extend(p for _, p in made)
    connect_s = time.perf_counter() - t0
    await asyncio.sleep(1.0)
    rss_connected = server.rss_kib()
    t0 = time.perf_counter()
    for lo in range(0, n, batch):
        part = clients[lo:lo + batch]
        for c in part:
            c.logon()
        await asyncio.wait_for(asyncio.gather(*(c.signed_on for c in part)), 60)
    signon_s = time.perf_counter() - t0
    await asyncio.sleep(2.0)
    rss_signed_on = server.rss_kib()
    return clients, connect_s, rss_connected, signon_s, rss_signed_on


def run_idle(reactor_kind: str, n: int, work: Path) -> IdleResult:
    lab = work / f"idle-{reactor_kind}"
    shutil.rmtree(lab, ignore_errors=True)
    write_lab(lab, n, own_ori=False)
    server = Server([sys.executable, "-m", "lems.cli", "serve", str(lab),
                     "--listen", "tcp:0:interface=127.0.0.1", "--reactor", reactor_kind],
                    work / f"idle-{reactor_kind}.log")
    try:
        time.sleep(1.0)
        rss_start = server.rss_kib()

        async def go() -> tuple[float, int, float, int]:
            clients, connect_s, rss_c, signon_s, rss_s = await idle_clients(server, n)
            for c in clients:
                if c.transport is not None:
                    c.transport.close()
            await asyncio.sleep(0.5)
            return connect_s, rss_c, signon_s, rss_s

        connect_s, rss_c, signon_s, rss_s = asyncio.run(go())
        return IdleResult(reactor_kind, n, server.start_seconds, rss_start, rss_c, rss_s,
                          connect_s, signon_s)
    finally:
        server.stop()


# ---------------------------------------------------------------------- report

def machine() -> str:
    return (f"{os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def print_throughput(results: list[Result], goal: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    table = Table(title=f"request/response over loopback TCP ({machine()})")
    for col in ("server", "reactor", "terms", "tx/s", "p50 ms", "p99 ms", "server CPU %",
                "reactor thr %", "reactor µs/tx", "generator CPU %", "other load %", "errors"):
        table.add_column(col, justify="left" if col in ("server", "reactor") else "right")
    for r in results:
        table.add_row(r.server, r.reactor, str(r.terminals), f"{r.rate:,.0f}", f"{r.p50_ms:.2f}",
                      f"{r.p99_ms:.2f}", f"{r.server_cpu:.0f}", f"{r.reactor_cpu:.0f}",
                      f"{r.reactor_us_per_tx:.0f}", f"{r.gen_cpu:.0f}", f"{r.other_cpu:.0f}",
                      str(len(r.errors)))
    console.print(table)
    summary = Table(title=f"switch / echo (goal ≥ {goal:g} for the median of the rounds' "
                    "ratios: each round runs echo then switch back to back, so the VM's speed "
                    "phases, which last seconds, weigh on both)")
    for col in ("reactor", "echo tx/s best (min-max)", "switch tx/s best (min-max)",
                "ratio per round", "median", "best / best", "goal"):
        summary.add_column(col, justify="left" if col == "reactor" else "right")
    rows = 0
    for kind in dict.fromkeys(r.reactor for r in results):
        echo = [r.rate for r in results if r.reactor == kind and r.server == ECHO]
        sw = [r.rate for r in results if r.reactor == kind and r.server == SWITCH]
        if not echo or not sw:
            continue
        rounds = [b / a for a, b in zip(echo, sw, strict=True)]
        median = statistics.median(rounds)
        rows += 1
        summary.add_row(kind, f"{max(echo):,.0f} ({min(echo):,.0f}-{max(echo):,.0f})",
                        f"{max(sw):,.0f} ({min(sw):,.0f}-{max(sw):,.0f})",
                        " ".join(f"{x:.2f}" for x in rounds), f"{median:.2f}",
                        f"{max(sw) / max(echo):.2f}", "met" if median >= goal else "NOT met")
    if rows:
        console.print(summary)
    for r in results:
        for e in r.errors[:3]:
            console.print(f"[{r.server}/{r.reactor}] {e}", markup=False)


def print_idle(results: list[IdleResult], goal: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    table = Table(title=f"switch resident memory, idle signed-on terminals ({machine()})")
    for col in ("reactor", "terminals", "serve start s", "RSS start MiB", "RSS connected MiB",
                "RSS signed on MiB", "KiB/connection", "KiB/terminal", "goal"):
        table.add_column(col, justify="left" if col == "reactor" else "right")
    for r in results:
        table.add_row(r.reactor, f"{r.terminals:,}", f"{r.start_s:.1f}",
                      f"{r.rss_start / 1024:.1f}", f"{r.rss_connected / 1024:.1f}",
                      f"{r.rss_signed_on / 1024:.1f}", f"{r.per_connection:.1f}",
                      f"{r.per_terminal:.1f}", "met" if r.per_terminal <= goal else "NOT met")
    console.print(table)
    for r in results:
        console.print(f"{r.reactor}: connect {r.connect_s:.1f} s, sign on {r.signon_s:.1f} s",
                      markup=False)


# ---------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--terminals", type=int, default=50)
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    p.add_argument("--reactor", choices=["asyncio", "epoll", "both"], default="both")
    p.add_argument("--repeat", type=int, default=1,
                   help="rounds: each runs echo, then switch; the summary gives the median of "
                   "the rounds' ratios, best and spread")
    p.add_argument("--servers", choices=["both", ECHO, SWITCH], default="both")
    p.add_argument("--endpoints", choices=["off", "inprocess"], default="off",
                   help="the lab's national endpoints: off (default; NCIC inquiries are answered "
                   "NOT AVAILABLE by the switch) or inprocess (simulated NCIC, no added latency)")
    p.add_argument("--idle", type=int, metavar="N",
                   help="measure memory with N idle signed-on terminals instead of throughput")
    p.add_argument("--goal", type=float, default=None,
                   help="goal: ratio switch/echo (default 0.5) or KiB/terminal (default 20)")
    p.add_argument("--quiet-wait", type=float, default=0.0, metavar="S",
                   help="before each run wait up to S seconds for other processes to go idle, "
                   "and run again (up to twice) when they were busy during it")
    p.add_argument("--keep", action="store_true", help="keep the work directory (labs, logs)")
    p.add_argument("--profile", type=Path, metavar="PREFIX",
                   help="run the switch under cProfile (reactor thread), writing "
                   "PREFIX.<reactor>.prof; figures are then slower than normal")
    p.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    kinds = ["asyncio", "epoll"] if args.reactor == "both" else [args.reactor]
    if args.echo_server:
        return echo_server(kinds[0])
    sys.path.insert(0, str(ROOT))
    limit = raise_nofile()
    work = Path(tempfile.mkdtemp(prefix="bench_switch-"))
    try:
        if args.idle:
            if args.idle + 100 > limit:
                p.error(f"--idle {args.idle} needs more file descriptors than the limit {limit}")
            idle = [run_idle(k, args.idle, work) for k in kinds]
            print_idle(idle, args.goal or 20.0)
            return 0
        servers = [ECHO, SWITCH] if args.servers == "both" else [args.servers]
        results: list[Result] = []
        for _ in range(args.repeat):
            for k in kinds:
                for s in servers:
                    for attempt in range(3 if args.quiet_wait else 1):
                        if args.quiet_wait:
                            wait_quiet(args.quiet_wait)
                        r = run_one(s, k, args.terminals, args.warmup, args.duration, work,
                                    args.profile, args.endpoints)
                        print(f"{s:6} {k:7} {r.rate:9,.0f} tx/s  p50 {r.p50_ms:6.2f} ms  "
                              f"p99 {r.p99_ms:6.2f} ms  server {r.server_cpu:3.0f}% "
                              f"(reactor {r.reactor_cpu:3.0f}%)  generator {r.gen_cpu:3.0f}%  "
                              f"others {r.other_cpu:3.0f}%  "
                              f"reactor {r.reactor_us_per_tx:4.0f} µs/tx  "
                              f"answers: {r.answers}", flush=True)
                        if r.other_cpu < QUIET_OTHERS:
                            break
                        if attempt < 2 and args.quiet_wait:
                            print("  (other processes were busy: run again)", flush=True)
                    results.append(r)
        print_throughput(results, args.goal or 0.5)
        return 0
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
