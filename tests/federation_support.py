"""Helpers for federation tests: a real 3-server NATS cluster with JetStream on free loopback
ports (nats-server from PATH or /usr/sbin; never a skip), state labs joined to it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support import TODAY

from lems.demo import init_lab
from lems.lab import LabConfig, load_lab


def state_lab(
    directory: Path,
    state: str,
    network: str,
    stream: str,
    speed: float = 1.0,
    listen: str = "tcp:0:interface=127.0.0.1",
) -> LabConfig:
    """A lab for ``state`` in ``directory`` joined to the network (its own stream name, so tests
    sharing one cluster do not see each other)."""
    init_lab(directory, state=state, today=TODAY, listen=listen)
    path = directory / "lab.toml"
    text = path.read_text().replace("clock_speed = 1.0", f"clock_speed = {speed}")
    text = text.replace("latency_ms = 200", "latency_ms = 0")
    text += f'\n[nlets]\nnetwork = "{network}"\nstream = "{stream}"\nnode_timeout_s = 1.5\n'
    path.write_text(text)
    return load_lab(path)


async def until(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    """Wait for ``check()`` to be truthy (polled on the loop, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)
