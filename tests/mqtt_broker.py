"""A real MQTT broker for tests, never a skip: the Mosquitto already running on this machine
(127.0.0.1:1883) when there is one, else a ``mosquitto`` started on a free port with a temporary
configuration, else the pure-Python amqtt broker in this process (on the session's loop)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    how: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


async def _until_up(port: int, proc: subprocess.Popen | None = None) -> None:
    for _ in range(100):
        if answers(port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"mosquitto exited with {proc.returncode}: "
                f"{proc.stderr.read().decode() if proc.stderr else ''}"
            )
        await asyncio.sleep(0.05)
    raise RuntimeError(f"MQTT broker on port {port} did not come up")


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
    )


@asynccontextmanager
async def started_mosquitto(binary: str) -> AsyncIterator[Broker]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            f"max_queued_messages 10000\n"
        )
        proc = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            await _until_up(port, proc)
            yield Broker("127.0.0.1", port, "mosquitto started by the test")
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr:
                proc.stderr.close()


@asynccontextmanager
async def started_amqtt() -> AsyncIterator[Broker]:
    from amqtt.broker import Broker as AmqttBroker

    port = free_port()
    broker = AmqttBroker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    await broker.start()  # listening when this returns (a probe connection would leak in amqtt)
    try:
        yield Broker("127.0.0.1", port, "amqtt in process")
    finally:
        await broker.shutdown()


@asynccontextmanager
async def any_broker() -> AsyncIterator[Broker]:
    if answers(1883):
        yield Broker("127.0.0.1", 1883, "mosquitto already running")
        return
    binary = mosquitto_binary()
    if binary is not None:
        async with started_mosquitto(binary) as b:
            yield b
        return
    async with started_amqtt() as b:
        yield b


class Mosquitto:
    """A ``mosquitto`` process this test owns: started on a free port (or the port given) with
    the configuration lines given, stopped (``kill -9`` or SIGTERM) and started again on the same
    port for restart tests. A sync object, for tests that drive ``lems`` as a process."""

    def __init__(
        self,
        workdir: Path,
        conf: str = "allow_anonymous true\n",
        port: int | None = None,
        conf_file: Path | None = None,
    ) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        self.binary = binary
        self.port = port or free_port()
        self.workdir = workdir
        if conf_file is not None:  # a configuration made elsewhere (lems init --mqtt)
            self.conf = conf_file
        else:
            self.conf = workdir / "mosquitto.conf"
            self.conf.write_text(f"listener {self.port} 127.0.0.1\n{conf}")
        self.log = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Mosquitto:
        import time

        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while not answers(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"mosquitto exited with {self.proc.returncode}: {self.log.read_text()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto on port {self.port} did not come up")
            time.sleep(0.02)
        return self

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
