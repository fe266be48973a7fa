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
``PREFIX.<reactor>.prof``, counting the thread's CPU time (``time.thread_time``), not wall time:
on a loaded machine a wall clock charges the time the process waited for a core to whatever
call it was in (a socket send, mostly).

Memory (``--idle N``): a lab with N terminals and operators (generated, all bound to
``OR0240000``), the switch's VmRSS from ``/proc/PID/status`` after it listens, after N TCP
connections and after all N are signed on. The file-descriptor limit is raised to the hard limit
in both processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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
from typing import Any

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

    def __init__(
        self, argv: list[str], log: Path, timeout: float = 120.0, cwd: Path | None = None
    ) -> None:
        self.log = log
        env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
        if cwd is not None:  # another tree's switch (tools/diff_switch.py): its modules first
            env["PYTHONPATH"] = str(cwd)
        t0 = time.monotonic()
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd or ROOT,
                env=env,
                preexec_fn=raise_nofile,
            )
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


def write_lab(
    directory: Path, n: int, *, own_ori: bool, endpoints: str = "off", limits: bool = False
) -> Path:
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
        text = text.replace(
            "lockout_after = 5",
            "lockout_after = 5\nrate_frames = 0\n"
            "rate_bytes = 0\nsource_frames = 0\nsource_bytes = 0\nsource_links = 0",
        )
    parts = [drop_tables(text, "endpoint"), "\n# ---------------------------------------- bench\n"]
    for name in ("ncic", "nlets", "nics"):
        parts.append(f'[[endpoint]]\nname = "{name}"\nmode = "{endpoints}"\nlatency_ms = 0\n\n')
    for i in range(1, n + 1):
        ori = bench_ori(i) if own_ori else "OR0240000"
        if own_ori:
            parts.append(
                f'[[agency]]\nori = "{ori}"\nname = "BENCH AGENCY {i}"\n'
                f'type = "PD"\ncategory = "cj"\n\n'
            )
        parts.append(
            f'[[terminal]]\nid = "{bench_terminal(i)}"\noris = ["{ori}"]\n\n'
            f'[[operator]]\nid = "{bench_operator(i)}"\nname = "BENCH, {i}"\n'
            f'password = "bench-pw"\nterminals = ["{bench_terminal(i)}"]\n\n'
        )
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


# ---------------------------------------------------------------------- the mix

MIX = ("QW hit", "QW miss", "QV hit", "QV miss", "RQ", "AM", "EW", "XW", "EV", "XV")
"""One terminal's cycle of requests, in order: NCIC person and vehicle inquiries that hit a seeded
record and that miss, an Nlets registration inquiry to another state, an administrative message
to the terminal's own agency, and a wanted person and a stolen vehicle entered and cancelled again
(so NCIC's live files stay the same size however long the run). Each cycle's entries are new
records (their own name, date of birth, case number, VIN and plate), as an agency's are: entering
and cancelling one record again and again would make every later check of those identifiers read
the cancelled copies too."""


@dataclass(frozen=True)
class Hits:
    """Seeded records an inquiry finds, each alone under its search key (one answer body)."""

    person: str  # NAM/...DOB/...
    plate: str  # LIC/...


def find_hits(lab_dir: Path) -> Hits:
    """Seed the lab's national files as the switch will at start (same seed, same agencies) and
    pick a wanted person and a stolen plate each found by exactly one record."""
    import sqlite3

    from lems.endpoints.seed import DEFAULT_SUBJECTS, seed_lab
    from lems.lab import load_lab

    lab = load_lab(lab_dir)
    seed_lab(
        lab.database.parent,
        DEFAULT_SUBJECTS,
        lab.seed,
        [a.ori for a in lab.agencies.values() if a.category == "cj"],
        home=lab.state,
    )
    con = sqlite3.connect(lab.database.parent / "ncic.db")
    try:
        person = con.execute(
            "SELECT fields FROM record r WHERE file = 'wanted' AND status = 'active' AND "
            "(SELECT count(*) FROM record s WHERE s.sdx = r.sdx AND s.dob = r.dob) = 1 "
            "AND (SELECT count(*) FROM record s WHERE s.ori = r.ori AND s.oca = r.oca) = 1 "
            "ORDER BY id LIMIT 1"
        ).fetchone()
        plate = con.execute(
            "SELECT lic FROM record r WHERE file = 'vehicle' AND status = 'active' AND "
            "lic IS NOT NULL AND (SELECT count(*) FROM record s WHERE s.lic = r.lic) = 1 "
            "AND (SELECT count(*) FROM record s WHERE s.ori = r.ori AND s.oca = r.oca) = 1 "
            "ORDER BY id LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    if person is None or plate is None:
        raise RuntimeError(f"{lab_dir}: no seeded wanted person or stolen plate to hit")
    fields = dict(json.loads(person[0]))
    return Hits(f"NAM/{fields['NAM']}.DOB/{fields['DOB']}", f"LIC/{plate[0]}")


def letters(i: int) -> str:
    """``i`` in base 26 letters (a name NCIC accepts): 1 -> B, 27 -> BB ..."""
    out = ""
    while True:
        i, r = divmod(i, 26)
        out = chr(65 + r) + out
        if not i:
            return out


def requests_for(i: int, hits: Hits | None, cycle: int = 0) -> list[tuple[str, bytes]]:
    """Terminal ``i``'s ``cycle``-th cycle (``MIX``) as (label, frame) pairs. Each is answered
    by exactly one message; multi-line messages use the line link's ``\\`` continuation
    (docs/WIRE.md)."""
    from datetime import date, timedelta

    o = bench_ori(i)
    person = hits.person if hits else "NAM/SAWYER,AUDREY W.DOB/19981003"
    plate = hits.plate if hits else "LIC/0LPD576"
    k = cycle * 1000 + i  # this entry's number: every cycle enters new records
    name = f"B{letters(k)},{letters(i)}"
    dob = (date(1950, 1, 1) + timedelta(days=k % 18000)).strftime("%Y%m%d")
    vin = f"1FT{k:014d}"
    lic = f"B{k % 10**7:07d}"
    texts = {
        "QW hit": f"QW.{o}.{person}",
        "QW miss": f"QW.{o}.NAM/{NAMES[i % len(NAMES)]}.DOB/19800101",
        "QV hit": f"QV.{o}.{plate}",
        "QV miss": f"QV.{o}.LIC/ZZ{i:05d}",
        "RQ": f"RQ.{o}.WA.TXT\\\nLIC/ABC{i % 1000:03d}.LIY/2027.LIT/PC",
        "AM": f"AM.{o}.{o}.TXT\\\nBENCH",
        "EW": f"EW.{o}.NAM/{name}.SEX/M.RAC/W.HGT/510.WGT/175.HAI/BRO.OFF/1299.DOW/20261101"
        f".OCA/B{k}W.DOB/{dob}",
        "XW": f"XW.{o}.NAM/{name}.OCA/B{k}W",
        "EV": f"EV.{o}.LIC/{lic}.LIS/OR.LIY/2027.LIT/PC.VIN/{vin}.VYR/2022.VMA/FORD.VMO/F15"
        f".VST/PK.VCO/BLK.DOT/20261118.OCA/B{k}V",
        "XV": f"XV.{o}.VIN/{vin}.OCA/B{k}V",
    }
    return [(label, (texts[label] + "\n").encode()) for label in MIX]


# ---------------------------------------------------------------------- load generator


class Load:
    """Shared state of one run."""

    def __init__(self) -> None:
        self.measuring = False
        self.stopping = False
        self.count = 0
        self.keys: Counter[bytes] = Counter()  # first body line's key of each answer measured
        self.latencies: list[float] = []
        self.by_label: dict[str, list[float]] = {}
        self.answer_keys: dict[str, Counter[str]] = {}
        self.errors: list[str] = []
        self.sent = 0
        self.late = 0.0  # open loop: the worst lag of a send behind its schedule (s)
        self.transcript: list[tuple[int, str, str]] | None = None
        """(terminal, request, answer) of every answer, when a differential run wants them."""


class Client(asyncio.Protocol):
    """One terminal. Closed loop (default): request, wait for its answer, (ACK +) next request.
    Open loop (``open_loop``): the scheduler calls ``send`` on a timetable; the answers are
    matched to the requests waiting, oldest first (answers to one terminal come back in the
    order of its requests to each system, not across systems: an AM is answered while a QW is
    still at NCIC), and latency counts from the scheduled time, so queueing shows."""

    def __init__(
        self, load: Load, index: int, kind: str, hits: Hits | None, open_loop: bool = False
    ) -> None:
        self.load = load
        self.kind = kind
        self.index = index
        self.hits = hits
        self.cycle = 0
        self.requests = requests_for(index, hits)
        self.open_loop = open_loop
        self.turn = 0
        self.load_sent = 0
        self.buf = b""
        self.waiting: list[tuple[str, float, int]] = []  # (label, sent at, lines for echo)
        self.limit = 0  # stop after this many requests (0: never)
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.echo_lines = 0
        self.transport: asyncio.Transport | None = None
        self.signed_on: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.kind == SWITCH:
            transport.write(
                f"LOGON.{bench_terminal(self.index)}.{bench_operator(self.index)}"  # type: ignore[attr-defined]
                ".bench-pw\n".encode()
            )
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
        key = ""
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
            nl = frame.find(b"\n") + 1
            key = frame[nl : frame.find(b".", nl)].decode("latin-1")
        else:  # the echo sends a request's lines back one by one: the last one answers it
            self.echo_lines += 1
            if not self.waiting or self.echo_lines < self.waiting[0][2]:
                return
            self.echo_lines = 0
        load = self.load
        if not self.waiting:
            load.errors.append(
                f"client {self.index}: an answer to no request: {frame[:80].decode('latin-1')}"
            )
            if ack and self.transport is not None:
                self.transport.write(ack)
            return
        label, sent, _ = self.waiting.pop(self._match(key))
        if load.transcript is not None:
            load.transcript.append((self.index, label, frame.decode("latin-1")))
        if load.measuring:
            load.count += 1
            latency = now - sent
            load.latencies.append(latency)
            load.by_label.setdefault(label, []).append(latency)
            if key:
                load.keys[key.encode()] += 1
                load.answer_keys.setdefault(label, Counter())[key] += 1
        if load.stopping or self.open_loop or (self.limit and self.load_sent >= self.limit):
            if ack and self.transport is not None:
                self.transport.write(ack)
            if (
                self.limit
                and self.load_sent >= self.limit
                and not self.waiting
                and not self.done.done()
            ):
                self.done.set_result(None)
            return
        self.send(ack)

    def _match(self, key: str) -> int:
        """The request an answer with ``key`` belongs to: the oldest waiting one of the same
        system (AM is relayed by the switch; NCIC answers HIT, NRC, ACC; Nlets the rest)."""
        if len(self.waiting) == 1 or not key:
            return 0
        system = "AM" if key == "AM" else "NCIC" if key in NCIC_ANSWERS else "NLETS"
        for n, (label, _, _) in enumerate(self.waiting):
            if SYSTEM_OF[label] == system:
                return n
        return 0

    def send(self, prefix: bytes = b"", at: float = 0.0) -> None:
        label, req = self.requests[self.turn]
        self.turn += 1
        if self.turn == len(self.requests):
            self.turn = 0
            self.cycle += 1
            self.requests = requests_for(self.index, self.hits, self.cycle)
        self.waiting.append((label, at or time.perf_counter(), req.count(b"\n")))
        self.load.sent += 1
        self.load_sent += 1
        self.transport.write(prefix + req if prefix else req)  # type: ignore[union-attr]


NCIC_ANSWERS = frozenset({"HIT", "NRC", "ACC", "REJ", "NTC"})
SYSTEM_OF = {
    label: "AM" if label == "AM" else "NLETS" if label == "RQ" else "NCIC" for label in MIX
}


def pct(values: list[float], p: float) -> float:
    """The ``p`` quantile of ``values`` (seconds) in ms; NaN when empty."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))] * 1000


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
    endpoints: str = "inprocess"
    p999_ms: float = float("nan")
    by_label: dict[str, tuple[int, float, float, float]] = field(default_factory=dict)
    """label -> (count, p50, p99, p99.9 ms)"""
    answer_keys: dict[str, dict[str, int]] = field(default_factory=dict)
    offered: float = 0.0  # open loop: requests per second scheduled (0: closed loop)
    start_s: float = 0.0
    late_ms: float = 0.0

    @property
    def answers(self) -> str:
        total = sum(self.keys.values()) or 1
        return " ".join(
            f"{k} {100 * v / total:.0f}%"
            for k, v in sorted(self.keys.items(), key=lambda kv: -kv[1])
        )

    @property
    def rate(self) -> float:
        return self.tx / self.seconds if self.seconds else 0.0

    @property
    def reactor_us_per_tx(self) -> float:
        """Reactor-thread CPU per transaction: steadier than tx/s on a machine whose speed
        drifts, and what a change to the switch's own work moves."""
        return self.reactor_cpu / 100 / self.rate * 1e6 if self.rate else 0.0

    @property
    def name(self) -> str:
        return self.server if self.server == ECHO else f"switch/{self.endpoints}"


async def schedule(clients: list[Client], rate: float, load: Load) -> None:
    """Open loop: ``rate`` requests a second in all, the terminals in turn, each sent at its
    scheduled time (latency counts from then, so a late send is not hidden)."""
    t0 = time.perf_counter()
    k = 0
    n = len(clients)
    while not load.stopping:
        now = time.perf_counter()
        due = int((now - t0) * rate)
        while k < due:
            at = t0 + k / rate
            load.late = max(load.late, now - at) if load.measuring else load.late
            c = clients[k % n]
            if c.transport is not None and not c.transport.is_closing():
                c.send(at=at)
            k += 1
        await asyncio.sleep(0.0005)


async def drive(
    server: Server,
    kind: str,
    reactor_kind: str,
    n: int,
    warmup: float,
    duration: float,
    hits: Hits | None,
    rate: float = 0.0,
    endpoints: str = "inprocess",
) -> Result:
    loop = asyncio.get_running_loop()
    load = Load()
    clients: list[Client] = []
    for i in range(1, n + 1):
        _, c = await loop.create_connection(
            lambda i=i: Client(load, i, kind, hits, open_loop=rate > 0), "127.0.0.1", server.port
        )
        clients.append(c)
    await asyncio.wait_for(asyncio.gather(*(c.signed_on for c in clients)), 120)
    ticker = None
    if rate:
        ticker = asyncio.ensure_future(schedule(clients, rate, load))
    else:
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
    if ticker is not None:
        await ticker
    await asyncio.sleep(0.3 if not rate else 1.0)
    for c in clients:
        if c.transport is not None:
            c.transport.close()
    await asyncio.wait_for(asyncio.gather(*(c.closed for c in clients)), 10)
    wall = t1 - t0
    lat = load.latencies
    return Result(
        kind,
        reactor_kind,
        n,
        wall,
        load.count,
        pct(lat, 0.50),
        pct(lat, 0.99),
        100 * (cpu1 - cpu0) / wall,
        100 * (main1 - main0) / wall,
        100 * (gen1 - gen0) / wall,
        max(0.0, 100 * ((busy1 - busy0) - (cpu1 - cpu0) - (gen1 - gen0)) / wall),
        load.errors,
        {k.decode("latin-1"): v for k, v in load.keys.items()},
        endpoints,
        pct(lat, 0.999),
        {
            label: (len(v), pct(v, 0.5), pct(v, 0.99), pct(v, 0.999))
            for label, v in sorted(load.by_label.items(), key=lambda kv: MIX.index(kv[0]))
        },
        {label: dict(c) for label, c in load.answer_keys.items()},
        rate,
        server.start_seconds,
        load.late * 1000,
    )


def prepare_lab(
    work: Path, n: int, endpoints: str, journal_rows: int = 0, mailbox_depth: int = 0
) -> tuple[Path, Hits]:
    """A lab for ``n`` terminals (seeded, from the cache when it has one: ``CACHE``), with
    ``journal_rows`` journal rows and ``mailbox_depth`` messages waiting for an offline
    terminal already in its database; and each terminal's request cycle."""
    key = f"lab-n{n}-{endpoints}-j{journal_rows}-m{mailbox_depth}-{_lab_version()}"
    cached = CACHE / key
    if not (cached / "ready").exists():
        shutil.rmtree(cached, ignore_errors=True)
        cached.mkdir(parents=True)
        write_lab(cached, n, own_ori=True, endpoints=endpoints)
        find_hits(cached)  # seeds the national files once, in the cache
        if journal_rows or mailbox_depth:
            fill_store(cached / "lab.db", n, journal_rows, mailbox_depth)
        (cached / "ready").write_text("")
    lab = work / key
    shutil.rmtree(lab, ignore_errors=True)
    shutil.copytree(cached, lab)
    return lab, find_hits(lab)


def _lab_version() -> str:
    """What a cached lab was built from: the demo lab's template, the lab settings and this
    benchmark's own edits to them. A lab cached before one of them changed (a new limit with a
    default the benchmark must turn off) is not reused."""
    import hashlib

    import lems.lab

    here = Path(__file__)
    sources = [here, Path(lems.lab.__file__), Path(lems.lab.__file__).with_name("demo_lab.toml")]
    return hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:10]


CACHE = Path(tempfile.gettempdir()) / "lems-bench-cache"
"""Built labs (seeded national files, big journals) kept between runs: a 10 M-row journal takes
minutes to write and is copied in seconds."""


def fill_store(db: Path, n: int, journal_rows: int, mailbox_depth: int) -> None:
    """Write ``journal_rows`` journal rows (an inquiry and its answer per pair, from the bench's
    own terminals, as a long-running lab has) and ``mailbox_depth`` mailbox messages for ``T99``
    (a terminal never signed on) straight into the switch's schema, in big transactions."""
    import sqlite3

    from lems.journal import INSERT
    from lems.mailbox import PUT, osn_mark

    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    stamp = "2026-11-23T14:30:00.000000+00:00"
    osn = [0] * (n + 1)
    batch = 200_000
    seq = con.execute("SELECT max(seq) FROM journal").fetchone()[0] or 0
    for lo in range(0, journal_rows, batch):
        rows = []
        for s in range(lo, min(journal_rows, lo + batch)):
            i = s // 2 % n + 1
            t, o = bench_terminal(i), bench_ori(i)
            seq += 1
            if s % 2 == 0:
                rows.append(
                    (
                        seq,
                        stamp,
                        "in",
                        "127.0.0.1",
                        t,
                        bench_operator(i),
                        o,
                        "QW",
                        "accepted",
                        "",
                        0,
                        0,
                        f"QW.{o}.NAM/DOE,JOHN.DOB/19800101",
                    )
                )
            else:
                osn[i] += 1
                rows.append(
                    (
                        seq,
                        stamp,
                        "out",
                        "",
                        t,
                        "",
                        o,
                        "NRC",
                        "delivered",
                        "",
                        osn[i],
                        seq - 1,
                        f"NRC.{o}\nNO NCIC WANT NAM/DOE,JOHN DOB/19800101",
                    )
                )
        con.executemany(INSERT, rows)
        con.commit()
    for lo in range(0, mailbox_depth, batch):
        rows_m, rows_j = [], []
        for k in range(lo, min(mailbox_depth, lo + batch)):
            seq += 1
            rows_j.append(
                (
                    seq,
                    stamp,
                    "out",
                    "",
                    "T99",
                    "",
                    "OR0240000",
                    "AM",
                    "queued",
                    "",
                    k + 1,
                    0,
                    f"AM.OR0240000\nWAITING MESSAGE {k + 1}",
                )
            )
            rows_m.append(("T99", k + 1, seq, f"AM.OR0240000\nWAITING MESSAGE {k + 1}"))
        con.executemany(INSERT, rows_j)
        con.executemany(PUT, rows_m)
        con.commit()
    # as a switch that served these rows and stopped cleanly leaves it (lems.mailbox.OSN_MARK)
    marks = {bench_terminal(i): osn[i] for i in range(1, n + 1) if osn[i]}
    if mailbox_depth:
        marks["T99"] = mailbox_depth
    con.execute(*osn_mark(seq, marks))
    con.commit()
    con.close()


def run_one(
    kind: str,
    reactor_kind: str,
    n: int,
    warmup: float,
    duration: float,
    work: Path,
    profile: Path | None = None,
    endpoints: str = "inprocess",
    rate: float = 0.0,
    journal_rows: int = 0,
    mailbox_depth: int = 0,
    tree: Path | None = None,
) -> Result:
    log = work / f"{kind}-{reactor_kind}.log"
    if kind == ECHO:
        argv = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--echo-server",
            "--reactor",
            reactor_kind,
        ]
        hits = None
    else:
        lab, hits = prepare_lab(work, n, endpoints, journal_rows, mailbox_depth)
        prof = (
            [str(Path(__file__).resolve()), "--serve-profiled", f"{profile}.{reactor_kind}.prof"]
            if profile
            else ["-m", "lems.cli"]
        )
        argv = [
            sys.executable,
            *prof,
            "serve",
            str(lab),
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--reactor",
            reactor_kind,
        ]
    server = Server(argv, log, timeout=600.0, cwd=tree if kind == SWITCH else None)
    try:
        return asyncio.run(
            drive(server, kind, reactor_kind, n, warmup, duration, hits, rate, endpoints)
        )
    finally:
        server.stop()
        if kind == SWITCH:
            shutil.rmtree(lab, ignore_errors=True)


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
        self.transport.write(
            f"LOGON.{bench_terminal(self.index)}."  # type: ignore[union-attr]
            f"{bench_operator(self.index)}.bench-pw\n".encode()
        )

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


async def idle_clients(
    server: Server, n: int, batch: int = 50
) -> tuple[list[Idle], float, int, float, int]:
    loop = asyncio.get_running_loop()
    clients: list[Idle] = []
    t0 = time.perf_counter()
    for lo in range(1, n + 1, batch):
        made = await asyncio.gather(
            *(
                loop.create_connection(lambda i=i: Idle(i), "127.0.0.1", server.port)
                for i in range(lo, min(n, lo + batch - 1) + 1)
            )
        )
        clients.extend(p for _, p in made)
    connect_s = time.perf_counter() - t0
    await asyncio.sleep(1.0)
    rss_connected = server.rss_kib()
    t0 = time.perf_counter()
    for lo in range(0, n, batch):
        part = clients[lo : lo + batch]
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
    server = Server(
        [
            sys.executable,
            "-m",
            "lems.cli",
            "serve",
            str(lab),
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--reactor",
            reactor_kind,
        ],
        work / f"idle-{reactor_kind}.log",
    )
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
        return IdleResult(
            reactor_kind, n, server.start_seconds, rss_start, rss_c, rss_s, connect_s, signon_s
        )
    finally:
        server.stop()


# ---------------------------------------------------------------------- report


def machine() -> str:
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_mix() -> None:
    share = Counter(MIX)
    print(
        "mix (each terminal's cycle): "
        + ", ".join(f"{label} {100 * share[label] / len(MIX):.0f}%" for label in dict.fromkeys(MIX))
    )


def line(r: Result) -> str:
    offered = f"offered {r.offered:,.0f}/s " if r.offered else ""
    return (
        f"{r.name:16} {r.reactor:7} {r.terminals:4}t {offered}{r.rate:9,.0f} tx/s  "
        f"p50 {r.p50_ms:6.2f}  p99 {r.p99_ms:6.2f}  p99.9 {r.p999_ms:6.2f} ms  "
        f"server {r.server_cpu:3.0f}% (reactor {r.reactor_cpu:3.0f}%)  "
        f"generator {r.gen_cpu:3.0f}%  others {r.other_cpu:3.0f}%  "
        f"reactor {r.reactor_us_per_tx:4.0f} µs/tx  errors {len(r.errors)}  "
        f"answers: {r.answers}"
    )


def print_throughput(results: list[Result], goal: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    table = Table(
        title=f"request/response over loopback TCP ({machine()}; load average {load_average()})"
    )
    for col in (
        "server",
        "reactor",
        "terms",
        "tx/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "server CPU %",
        "reactor thr %",
        "reactor µs/tx",
        "generator CPU %",
        "other load %",
        "errors",
    ):
        table.add_column(col, justify="left" if col in ("server", "reactor") else "right")
    for r in results:
        table.add_row(
            r.name,
            r.reactor,
            str(r.terminals),
            f"{r.rate:,.0f}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            f"{r.p999_ms:.2f}",
            f"{r.server_cpu:.0f}",
            f"{r.reactor_cpu:.0f}",
            f"{r.reactor_us_per_tx:.0f}",
            f"{r.gen_cpu:.0f}",
            f"{r.other_cpu:.0f}",
            str(len(r.errors)),
        )
    console.print(table)
    summary = Table(
        title=f"switch / echo (goal ≥ {goal:g} for the median of the rounds' "
        "ratios, national systems on: each round runs echo then the switches back "
        "to back, so the VM's speed phases, which last seconds, weigh on all)"
    )
    for col in (
        "switch",
        "reactor",
        "echo tx/s best (min-max)",
        "switch tx/s best (min-max)",
        "ratio per round",
        "median",
        "switch µs/tx (median)",
        "goal",
    ):
        summary.add_column(col, justify="left" if col in ("switch", "reactor") else "right")
    rows = 0
    for kind in dict.fromkeys(r.reactor for r in results):
        echo = [r.rate for r in results if r.reactor == kind and r.server == ECHO]
        for mode in dict.fromkeys(r.endpoints for r in results if r.server == SWITCH):
            runs = [
                r
                for r in results
                if r.reactor == kind and r.server == SWITCH and r.endpoints == mode
            ]
            sw = [r.rate for r in runs]
            if not echo or not sw or len(echo) != len(sw):
                continue
            rounds = [b / a for a, b in zip(echo, sw, strict=True)]
            median = statistics.median(rounds)
            rows += 1
            headline = mode != "off"
            summary.add_row(
                f"switch/{mode}",
                kind,
                f"{max(echo):,.0f} ({min(echo):,.0f}-{max(echo):,.0f})",
                f"{max(sw):,.0f} ({min(sw):,.0f}-{max(sw):,.0f})",
                " ".join(f"{x:.2f}" for x in rounds),
                f"{median:.2f}",
                f"{statistics.median(r.reactor_us_per_tx for r in runs):.0f}",
                ("met" if median >= goal else "NOT met") if headline else "(not the goal's path)",
            )
    if rows:
        console.print(summary)
    for r in results:
        for e in r.errors[:3]:
            console.print(f"[{r.name}/{r.reactor}] {e}", markup=False)


def print_labels(results: list[Result], title: str) -> None:
    """Per request of the mix: count, p50/p99/p99.9 and the answers it got."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    for r in results:
        if not r.by_label:
            continue
        offered = f", offered {r.offered:,.0f}/s" if r.offered else ", closed loop"
        table = Table(
            title=f"{title}: {r.name} {r.reactor}, {r.terminals} terminals{offered}, "
            f"{r.rate:,.0f} tx/s"
        )
        for col in ("request", "count", "p50 ms", "p99 ms", "p99.9 ms", "answered"):
            table.add_column(col, justify="left" if col in ("request", "answered") else "right")
        for label, (count, p50, p99, p999) in r.by_label.items():
            keys = r.answer_keys.get(label, {})
            table.add_row(
                label,
                f"{count:,}",
                f"{p50:.2f}",
                f"{p99:.2f}",
                f"{p999:.2f}",
                " ".join(f"{k} {v}" for k, v in sorted(keys.items())),
            )
        table.add_row(
            "all",
            f"{r.tx:,}",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            f"{r.p999_ms:.2f}",
            f"late sends ≤ {r.late_ms:.1f} ms" if r.offered else "",
        )
        console.print(table)


def print_idle(results: list[IdleResult], goal: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    table = Table(title=f"switch resident memory, idle signed-on terminals ({machine()})")
    for col in (
        "reactor",
        "terminals",
        "serve start s",
        "RSS start MiB",
        "RSS connected MiB",
        "RSS signed on MiB",
        "KiB/connection",
        "KiB/terminal",
        "goal",
    ):
        table.add_column(col, justify="left" if col == "reactor" else "right")
    for r in results:
        table.add_row(
            r.reactor,
            f"{r.terminals:,}",
            f"{r.start_s:.1f}",
            f"{r.rss_start / 1024:.1f}",
            f"{r.rss_connected / 1024:.1f}",
            f"{r.rss_signed_on / 1024:.1f}",
            f"{r.per_connection:.1f}",
            f"{r.per_terminal:.1f}",
            "met" if r.per_terminal <= goal else "NOT met",
        )
    console.print(table)
    for r in results:
        console.print(
            f"{r.reactor}: connect {r.connect_s:.1f} s, sign on {r.signon_s:.1f} s", markup=False
        )


# ---------------------------------------------------------------------- curve

CURVE_FIELDS = (
    "series",
    "x",
    "terminals",
    "journal_rows",
    "mailbox_depth",
    "tx_s",
    "p50_ms",
    "p99_ms",
    "p999_ms",
    "reactor_us_tx",
    "start_s",
    "errors",
    "load_average",
)


def run_curve(args: argparse.Namespace, work: Path, kind: str) -> int:
    """tx/s and p99 (closed loop, the mix, national systems on) against terminals, journal
    rows and mailbox depth, one variable at a time (the others at their defaults); each point
    is the median of ``--repeat`` runs. CSV on stdout and in ``--out``, a plot next to it."""
    import csv

    series = [
        ("terminals", [int(x) for x in args.curve_terminals.split(",") if x]),
        ("journal_rows", [int(float(x)) for x in args.curve_journal.split(",") if x]),
        ("mailbox_depth", [int(float(x)) for x in args.curve_mailbox.split(",") if x]),
    ]
    rows: list[dict[str, Any]] = []
    out = Path(args.out)
    for name, xs in series:
        for x in xs:
            setting = {"terminals": args.terminals, "journal_rows": 0, "mailbox_depth": 0, name: x}
            runs = []
            for _ in range(args.repeat):
                r = run_one(
                    SWITCH,
                    kind,
                    setting["terminals"],
                    args.warmup,
                    args.duration,
                    work,
                    None,
                    args.endpoints,
                    0.0,
                    setting["journal_rows"],
                    setting["mailbox_depth"],
                )
                print(f"# {name}={x}: " + line(r), file=sys.stderr, flush=True)
                runs.append(r)
            mid = sorted(runs, key=lambda r: r.rate)[len(runs) // 2]
            rows.append(
                {
                    "series": name,
                    "x": x,
                    **setting,
                    "tx_s": round(mid.rate),
                    "p50_ms": round(mid.p50_ms, 3),
                    "p99_ms": round(mid.p99_ms, 3),
                    "p999_ms": round(mid.p999_ms, 3),
                    "reactor_us_tx": round(mid.reactor_us_per_tx),
                    "start_s": round(mid.start_s, 2),
                    "errors": len(mid.errors),
                    "load_average": load_average(),
                }
            )
            with open(out, "w", newline="") as f:  # written after every point: a long run
                w = csv.DictWriter(f, CURVE_FIELDS)  # that stops keeps what it measured
                w.writeheader()
                w.writerows(rows)
    w = csv.DictWriter(sys.stdout, CURVE_FIELDS)
    w.writeheader()
    w.writerows(rows)
    print(f"# CSV written to {out}", file=sys.stderr)
    plot_curve(rows, out.with_suffix(".png"))
    return 0


def plot_curve(rows: list[dict[str, Any]], png: Path) -> None:
    """The curve as a PNG: one column per series, tx/s, p99 and the reactor's CPU per
    transaction (the steadiest of the three on a shared machine) one above the other; the
    points of a value measured more than once are joined in the order run. matplotlib is an
    optional dependency of the benchmarks (``pip install -e '.[bench]'``); without it the CSV
    is the result."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "# matplotlib is not installed (pip install -e '.[bench]'): no plot, the CSV "
            "above is the result",
            file=sys.stderr,
        )
        return
    names = list(dict.fromkeys(r["series"] for r in rows))
    metrics = (("tx_s", "tx/s"), ("p99_ms", "p99 ms"), ("reactor_us_tx", "reactor µs/tx"))
    fig, axes = plt.subplots(len(metrics), len(names), figsize=(5 * len(names), 10), squeeze=False)
    for col, name in enumerate(names):
        pts = [r for r in rows if r["series"] == name]
        xs = [max(r["x"], 1) for r in pts]
        for row, (metric, label) in enumerate(metrics):
            ax = axes[row][col]
            ax.plot(xs, [r[metric] for r in pts], marker="o")
            ax.set_xscale("log")
            ax.set_xlabel(
                name.replace("_", " ") + (" (0 plotted at 1)" if name != "terminals" else "")
            )
            ax.set_ylabel(label)
            ax.set_ylim(bottom=0)
            ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"lems switch, the mix with national systems on ({machine()})")
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    print(f"# plot written to {png}", file=sys.stderr)


# ---------------------------------------------------------------------- main


def parse_rates(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--terminals", type=int, default=50)
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    p.add_argument("--reactor", choices=["asyncio", "epoll", "both"], default="asyncio")
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds (default 3): each runs echo, then the switch with the national "
        "systems on and off; the summary gives the median of the rounds' ratios",
    )
    p.add_argument("--servers", choices=["both", ECHO, SWITCH], default="both")
    p.add_argument(
        "--endpoints",
        choices=["both", "off", "inprocess"],
        default="both",
        help="the lab's national endpoints: inprocess (the headline: simulated NCIC, "
        "Nlets and NICS in the switch's process, no added latency), off (NCIC "
        "inquiries are answered NOT AVAILABLE by the switch: the switch alone) or "
        "both (default)",
    )
    p.add_argument(
        "--rate",
        metavar="R[,R...]",
        help="open loop: requests per second sent on a schedule (not when the answer "
        "came back); a value ending in %% is that share of the maximum measured by "
        "a closed-loop run first, e.g. 1000,50%%,80%%",
    )
    p.add_argument(
        "--curve",
        action="store_true",
        help="tx/s and p99 against terminals, journal rows and mailbox depth: CSV "
        "on stdout and in --out, a PNG next to it (with matplotlib)",
    )
    p.add_argument("--curve-terminals", default="1,10,50,200,1000")
    p.add_argument("--curve-journal", default="0,1e6,1e7")
    p.add_argument("--curve-mailbox", default="0,1e4,1e5,1e6")
    p.add_argument("--out", default="bench_switch_curve.csv", help="the curve's CSV file")
    p.add_argument(
        "--idle",
        type=int,
        metavar="N",
        help="measure memory with N idle signed-on terminals instead of throughput",
    )
    p.add_argument(
        "--goal",
        type=float,
        default=None,
        help="goal: ratio switch/echo (default 0.5) or KiB/terminal (default 20)",
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        metavar="S",
        help="before each run wait up to S seconds for other processes to go idle, "
        "and run again (up to twice) when they were busy during it",
    )
    p.add_argument("--keep", action="store_true", help="keep the work directory (labs, logs)")
    p.add_argument(
        "--profile",
        type=Path,
        metavar="PREFIX",
        help="run the switch under cProfile (reactor thread), writing "
        "PREFIX.<reactor>.prof; figures are then slower than normal",
    )
    p.add_argument(
        "--tree",
        type=Path,
        metavar="DIR",
        help="serve with the switch of another source tree (e.g. a `git archive` of "
        "an earlier revision) for a before/after comparison with the same load",
    )
    p.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    kinds = ["asyncio", "epoll"] if args.reactor == "both" else [args.reactor]
    if args.echo_server:
        return echo_server(kinds[0])
    sys.path.insert(0, str(ROOT))
    limit = raise_nofile()
    work = Path(tempfile.mkdtemp(prefix="bench_switch-"))
    modes = ["inprocess", "off"] if args.endpoints == "both" else [args.endpoints]
    print(
        f"{machine()}; load average {load_average()}; {time.strftime('%Y-%m-%d %H:%M %Z')}",
        flush=True,
    )
    try:
        if args.idle:
            if args.idle + 100 > limit:
                p.error(f"--idle {args.idle} needs more file descriptors than the limit {limit}")
            idle = [run_idle(k, args.idle, work) for k in kinds]
            print_idle(idle, args.goal or 20.0)
            return 0
        print_mix()
        if args.curve:
            if args.endpoints == "both":
                args.endpoints = "inprocess"
            return run_curve(args, work, kinds[0])

        def measured(server: str, k: str, mode: str, rate: float = 0.0) -> Result:
            for attempt in range(3 if args.quiet_wait else 1):
                if args.quiet_wait:
                    wait_quiet(args.quiet_wait)
                r = run_one(
                    server,
                    k,
                    args.terminals,
                    args.warmup,
                    args.duration,
                    work,
                    args.profile,
                    mode,
                    rate,
                    tree=args.tree,
                )
                print(line(r), flush=True)
                if r.other_cpu < QUIET_OTHERS:
                    break
                if attempt < 2 and args.quiet_wait:
                    print("  (other processes were busy: run again)", flush=True)
            return r

        if args.rate:
            rates = parse_rates(args.rate)
            results = []
            for k in kinds:
                top = 0.0
                if any(x.endswith("%") for x in rates):
                    top = measured(SWITCH, k, modes[0]).rate
                    print(f"maximum (closed loop): {top:,.0f} tx/s", flush=True)
                for x in rates:
                    offered = top * float(x[:-1]) / 100 if x.endswith("%") else float(x)
                    results.append(measured(SWITCH, k, modes[0], offered))
            print_labels(results, "open loop")
            print(f"load average {load_average()}")
            return 0
        servers = [ECHO, SWITCH] if args.servers == "both" else [args.servers]
        results = []
        for _ in range(args.repeat):
            for k in kinds:
                for s in servers:
                    for mode in modes if s == SWITCH else [""]:
                        results.append(measured(s, k, mode or "inprocess"))
        print_throughput(results, args.goal or 0.5)
        for k in kinds:
            for mode in modes:
                runs = [
                    r
                    for r in results
                    if r.server == SWITCH and r.reactor == k and r.endpoints == mode
                ]
                if runs:  # the median run's latency per request of the mix
                    print_labels(
                        [sorted(runs, key=lambda r: r.rate)[len(runs) // 2]],
                        "latency per request (median run)",
                    )
        print(f"load average {load_average()}")
        return 0
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def serve_profiled(out: str, argv: list[str]) -> None:
    """``lems serve`` under cProfile with the reactor thread's CPU clock, written at exit."""
    import cProfile

    from lems.cli import main as lems_main

    prof = cProfile.Profile(time.thread_time)
    try:
        prof.runcall(lems_main, argv)
    except SystemExit:
        pass
    finally:
        prof.dump_stats(out)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-profiled"]:
        sys.path.insert(0, str(ROOT))
        serve_profiled(sys.argv[2], sys.argv[3:])
        sys.exit(0)
    sys.exit(main())
