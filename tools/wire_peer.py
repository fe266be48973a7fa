"""What tools/soak_crash.py and tools/fuzz_wire.py share: a ``lems serve`` process in its own
process group (so ``kill -9`` takes its SQLite writer with it), and raw asyncio terminals that
speak the wire with the project's framers and acknowledge what they receive.

Everything runs on loopback; every process started here is stopped by its owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from formats.framing import BadFrame, Frame, link_framer  # noqa: E402
from terminals.client import Output, parse_output  # noqa: E402

FRAMINGS = ("line", "stx", "length")


class Server:
    """``lems serve DIR`` with one loopback listener per framing; ``ports[framing]``."""

    def __init__(self, lab_dir: Path, framings: tuple[str, ...] = FRAMINGS) -> None:
        self.lab_dir = lab_dir
        self.framings = framings
        self.proc: subprocess.Popen[str] | None = None
        self.ports: dict[str, int] = {}
        self.log: list[str] = []

    def start(self, timeout: float = 60.0) -> None:
        listens = [f"tcp:0:interface=127.0.0.1:framing={f}" for f in self.framings]
        cmd = [sys.executable, "-u", "-m", "lems.cli", "serve", str(self.lab_dir)]
        for desc in listens:
            cmd += ["--listen", desc]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        ready = threading.Event()
        ports: dict[str, int] = {}
        proc = self.proc

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.log.append(line)
                m = re.search(r"LISTENING \S*framing=(\w+)\S* -> 127\.0\.0\.1:(\d+)", line)
                if m:
                    ports[m.group(1)] = int(m.group(2))
                    if len(ports) == len(self.framings):
                        ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(timeout) or len(ports) < len(self.framings):
            self.kill9()
            raise RuntimeError("lems serve did not start:\n" + "".join(self.log[-30:]))
        self.ports = ports

    def kill9(self) -> None:
        """``kill -9`` of the whole process group (the switch and its SQLite writer)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self.proc = None

    def stop(self) -> int:
        """SIGTERM (a clean stop, journal flushed); the exit status."""
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.kill9()
            return -9
        self.proc = None
        return code

    def rss_kib(self) -> int:
        """Resident memory of the switch and its children, KiB."""
        if self.proc is None:
            return 0
        total = 0
        pids = [self.proc.pid]
        while pids:
            pid = pids.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
                for task in Path(f"/proc/{pid}/task").iterdir():
                    kids = (task / "children").read_text().split()
                    pids += [int(k) for k in kids]
            except (OSError, AttributeError):
                continue
        return total

    def tracebacks(self) -> int:
        return sum("Traceback" in line for line in self.log)


class Peer(asyncio.Protocol):
    """A raw terminal: writes framed payloads, collects decoded outputs, and acknowledges
    every output with OSN above 0 (cumulative ``ACK.<osn>`` once per received chunk)."""

    def __init__(
        self,
        framing: str,
        on_output: Callable[[Peer, Output], None] | None = None,
        max_frame: int = 1 << 20,
    ) -> None:
        self.framing = framing
        # a terminal's end of the link: reads output, writes input (docs/WIRE.md)
        self.framer = link_framer(framing, max_frame, role="terminal")
        self.encoder = link_framer(framing, max_frame, role="terminal")
        self.on_output = on_output
        self.transport: Any = None
        self.outputs = 0
        self.bad = 0
        self.max_osn = 0
        self.closed = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(cls, port: int, framing: str, **kw: Any) -> Peer:
        loop = asyncio.get_running_loop()
        _, peer = await loop.create_connection(lambda: cls(framing, **kw), "127.0.0.1", port)
        return peer

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        acked = self.max_osn
        link_ack = self.framer.ack()  # stx/dle: each frame ACKed, the switch waits for it
        for event in self.framer.feed(data):
            if isinstance(event, Frame):
                if link_ack:
                    self.send_raw(link_ack)
                out = parse_output(event.payload.decode("latin-1"))
                self.outputs += 1
                if out.osn > self.max_osn:
                    self.max_osn = out.osn
                if self.on_output is not None:
                    self.on_output(self, out)
            elif isinstance(event, BadFrame):
                self.bad += 1
        if self.max_osn > acked:
            self.send(f"ACK.{self.max_osn}".encode())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.encoder.encode(payload))

    def send_raw(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def operators_by_terminal(lab: Any) -> dict[str, tuple[str, str]]:
    """terminal -> (operator, password) of a cleared operator allowed on it."""
    out: dict[str, tuple[str, str]] = {}
    for op in lab.operators.values():
        if not op.cleared:
            continue
        for t in op.terminals or lab.terminals:
            out.setdefault(t, (op.id, op.password))
    return out
