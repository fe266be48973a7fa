"""Helpers for tests that run a real switch on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

from lems.demo import init_lab
from lems.lab import LabConfig, load_lab

TODAY = date(2026, 11, 23)


async def wait(d: Any, timeout: float = 10.0) -> Any:
    """Await a Deferred from an asyncio test."""
    return await asyncio.wait_for(d.asFuture(asyncio.get_running_loop()), timeout)


def demo_lab(tmp: Path, edit: Any = None) -> LabConfig:
    """The demo lab in ``tmp``; ``edit(text) -> text`` may change lab.toml first."""
    lab = init_lab(tmp, today=TODAY, listen="tcp:0:interface=127.0.0.1")
    if edit is not None:
        path = tmp / "lab.toml"
        path.write_text(edit(path.read_text()))
        lab = load_lab(path)
    return lab


@asynccontextmanager
async def running_switch(lab: LabConfig, reactor: Any) -> AsyncIterator[Any]:
    """A started switch listening on a free loopback port; yields (switch, client endpoint)."""
    from lems.switch import Switch

    switch = Switch(lab, reactor)
    switch.start()
    port = await wait(switch.listen("tcp:0:interface=127.0.0.1"))
    switch.endpoint = f"tcp:host=127.0.0.1:port={port.getHost().port}"
    try:
        yield switch
    finally:
        await wait(switch.stop())


async def signed_on(
    switch: Any,
    reactor: Any,
    terminal: str,
    operator: str | None = None,
    password: str | None = None,
) -> Any:
    """A terminal client connected to ``switch`` and signed on with the lab's credentials."""
    from terminals.client import TerminalClient

    lab = switch.lab
    op = (
        lab.operators[operator]
        if operator
        else next(o for o in lab.operators.values() if terminal in o.terminals and o.cleared)
    )
    client = TerminalClient(reactor)
    await wait(client.connect(switch.endpoint))
    out = await wait(client.logon(terminal, op.id, password or op.password))
    assert out.key == "SON", out.body
    return client


class Recorder:
    """A link handler that keeps what it gets; ``echo`` sends each frame back upper-cased."""

    def __init__(self, echo: bool = False) -> None:
        self.echo = echo
        self.link: Any = None
        self.made = 0
        self.frames: list[bytes] = []
        self.bad: list[str] = []
        self.lost: list[str] = []

    def link_made(self, link: Any) -> None:
        self.link = link
        self.made += 1

    def frame_received(self, payload: bytes) -> None:
        self.frames.append(payload)
        if self.echo:
            self.link.send(payload.upper())

    def bad_frame(self, reason: str, raw: bytes) -> None:
        self.bad.append(reason)

    def control_received(self, code: int) -> None:
        pass

    def link_lost(self, reason: str) -> None:
        self.lost.append(reason)


async def until(check: Any, timeout: float = 10.0) -> None:
    """Wait until ``check()`` is true, polling the loop; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
