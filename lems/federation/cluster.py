"""A local NATS cluster with JetStream: ``servers`` nats-server processes on free loopback ports,
routed to each other, each with its own store under ``directory``.

Used by ``lems federation up`` (when no broker is given), the tests and the benchmark. A server
can be killed (``kill -9``) and restarted on the same ports and store, as an operator would
restart a failed broker host.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from formats.errors import ConfigError


def nats_server_binary() -> str:
    """The nats-server executable (PATH, then /usr/sbin, /usr/local/bin); ConfigError if none."""
    found = shutil.which("nats-server") or next(
        (
            p
            for p in ("/usr/sbin/nats-server", "/usr/local/bin/nats-server", "/usr/bin/nats-server")
            if Path(p).exists()
        ),
        None,
    )
    if found is None:
        raise ConfigError(
            "nats-server not found: install it (Debian: apt-get install "
            "nats-server) or give --network nats://HOST:PORT of a running cluster"
        )
    return found


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on loopback (held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class Server:
    name: str
    port: int
    cluster_port: int
    monitor_port: int
    conf: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class NatsCluster:
    """``start()`` writes the configurations and starts every server; ``stop()`` ends them."""

    directory: Path
    servers: int = 3
    name: str = "lems"
    nodes: list[Server] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [f"nats://127.0.0.1:{s.port}" for s in self.nodes]

    @property
    def url(self) -> str:
        """All servers, comma-separated: the ``[nlets] network`` value of a lab."""
        return ",".join(self.urls)

    def start(self, timeout: float = 20.0) -> NatsCluster:
        binary = nats_server_binary()
        self.directory.mkdir(parents=True, exist_ok=True)
        ports = free_ports(3 * self.servers)
        for i in range(self.servers):
            name = f"n{i + 1}"
            store = self.directory / name
            store.mkdir(exist_ok=True)
            s = Server(
                name,
                ports[3 * i],
                ports[3 * i + 1],
                ports[3 * i + 2],
                self.directory / f"{name}.conf",
                self.directory / f"{name}.log",
            )
            self.nodes.append(s)
        routes = ", ".join(f"nats-route://127.0.0.1:{s.cluster_port}" for s in self.nodes)
        for s in self.nodes:
            s.conf.write_text(
                f"server_name: {s.name}\nlisten: 127.0.0.1:{s.port}\n"
                f"http: 127.0.0.1:{s.monitor_port}\n"
                f'jetstream {{ store_dir: "{self.directory / s.name}"\n'
                "  max_memory_store: 64MB\n  max_file_store: 1GB }\n"
                f"cluster {{ name: {self.name}\n  listen: 127.0.0.1:{s.cluster_port}\n"
                f"  routes: [{routes}] }}\n",
                "utf-8",
            )
        for i in range(self.servers):
            self._spawn(i, binary)
        self.wait_up(timeout)
        return self

    def _spawn(self, i: int, binary: str | None = None) -> None:
        s = self.nodes[i]
        log = s.log.open("ab")
        s.proc = subprocess.Popen(
            [binary or nats_server_binary(), "-c", str(s.conf)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    def wait_up(self, timeout: float = 20.0) -> None:
        """Until every running server takes connections and the cluster has a JetStream leader
        (its monitoring page reports one)."""
        import json
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = [s for s in self.nodes if s.proc is not None and s.proc.poll() is None]
            dead = [s for s in self.nodes if s.proc is not None and s.proc.poll() is not None]
            if dead and len(dead) == len(self.nodes):
                raise ConfigError(f"nats-server exited: see {dead[0].log}")
            if running and all(answers(s.port) for s in running):
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{running[0].monitor_port}/jsz", timeout=1
                    ) as r:
                        info = json.load(r)
                    if (info.get("meta_cluster") or {}).get("leader"):
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        raise ConfigError(f"NATS cluster in {self.directory} not up within {timeout:g} s")

    def kill(self, i: int) -> None:
        """``kill -9`` server ``i``."""
        proc = self.nodes[i].proc
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def restart(self, i: int) -> None:
        """Start server ``i`` again on its ports and store (after ``kill``)."""
        self.kill(i)
        self._spawn(i)

    def stop(self) -> None:
        """SIGTERM every server (a clean JetStream shutdown), then SIGKILL what is left."""
        for s in self.nodes:
            if s.proc is not None and s.proc.poll() is None:
                s.proc.terminate()
        for s in self.nodes:
            if s.proc is not None:
                try:
                    s.proc.wait(10)
                except subprocess.TimeoutExpired:
                    s.proc.kill()
                    s.proc.wait(5)

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
