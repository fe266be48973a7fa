"""Replay a recording against a switch and compare the responses with the recorded ones.

The replayer reads a recording in order. Each recorded inbound message is sent, byte for byte as
recorded, on the replay link that stands for its recorded link (one ``TerminalClient`` per recorded
link, acknowledging outputs itself, so recorded ``ACK`` frames are not resent). Recorded outputs
are fed to a ``formats.recording.Comparison`` as expectations; every output the switch sends to a
replay link is fed to it as received.

* Pacing (``Pacer``, after python-can's ``MessageSync``): ``speed`` 1 keeps the recorded timing,
  2 runs twice as fast, 0 sends as fast as possible; gaps longer than ``skip`` seconds of the
  recording shrink to ``skip`` and every later message moves up with them.
* Order across links: TCP keeps each link's order, but not the order between links. With
  ``sync`` (default) the replayer, before switching to another link, waits until every output
  already recorded for a signed-on terminal or open link has arrived (at most ``stall`` seconds),
  so a message that in the recording reached a mailbox before the receiving terminal signed on
  does so again. Without ``sync`` only the flow-control window holds the sender back.
* Sign-on: the journal keeps LOGON passwords masked (``LOGON.T01.OP01.********``); the password
  comes from ``Credentials`` (a lab file or ``--password``). A link whose recording starts after
  sign-on is signed on first with the recorded operator; that answer is not compared.
* Remapping: ``mapping`` replaces whole tokens (terminal ids, ORIs) in the inbound texts and in the
  recorded outputs alike, and terminal channels with them.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from formats.errors import LemsError
from formats.recording import Comparison, Record, Report, channel
from hardware.link import FramedProtocol, Link
from terminals.client import TerminalClient, parse_output


class ReplayError(LemsError):
    """The replay cannot go on (no password for a terminal, switch unreachable)."""


class Pacer:
    """When to send a message recorded at ``t`` (seconds): like python-can's ``MessageSync``,
    with the skipped time carried forward so a long gap does not make everything after it late.
    """

    def __init__(
        self,
        speed: float = 1.0,
        skip: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be 0 (as fast as possible) or positive")
        if skip is not None and skip < 0:
            raise ValueError("skip must not be negative")
        self.speed = speed
        self.skip = skip
        self.clock = clock or _monotonic
        self._t0: float | None = None
        self._start = 0.0
        self._prev = 0.0
        self._skipped = 0.0

    def delay(self, t: float) -> float:
        """Seconds to wait before sending the message recorded at ``t``."""
        if self.speed == 0:
            return 0.0
        now = self.clock()
        if self._t0 is None:
            self._t0, self._start, self._prev = t, now, t
            return 0.0
        gap = t - self._prev
        if self.skip is not None and gap > self.skip:
            self._skipped += gap - self.skip
        self._prev = max(self._prev, t)
        due = self._start + (t - self._t0 - self._skipped) / self.speed
        return max(0.0, due - now)


def _monotonic() -> float:
    import time

    return time.monotonic()


class TokenMap:
    """Whole-token replacement (``T01`` -> ``T21``, ``OR0240000`` -> ``OR0249999``)."""

    def __init__(self, mapping: dict[str, str] | None = None) -> None:
        self.mapping = dict(mapping or {})
        self._re = (
            re.compile(
                r"\b("
                + "|".join(re.escape(k) for k in sorted(self.mapping, key=len, reverse=True))
                + r")\b"
            )
            if self.mapping
            else None
        )

    def text(self, s: str) -> str:
        if self._re is None:
            return s
        return self._re.sub(lambda m: self.mapping[m.group(1)], s)

    def token(self, s: str) -> str:
        return self.mapping.get(s, s)


@dataclass
class Credentials:
    """Passwords by terminal or operator id, and the operator to sign a terminal on with."""

    passwords: dict[str, str] = field(default_factory=dict)
    operators: dict[str, str] = field(default_factory=dict)

    def password(self, terminal: str, operator: str) -> str:
        for k in (terminal, operator):
            if k in self.passwords:
                return self.passwords[k]
        raise ReplayError(
            f"no password to sign {operator or '?'} on at terminal {terminal}: the "
            "recording keeps passwords masked; give --lab DIR or "
            f"--password {terminal}=…"
        )


@dataclass
class ReplayOptions:
    speed: float = 0.0
    skip: float | None = None
    loops: int = 1
    """Passes over the recording; 0 repeats until stopped."""
    mapping: dict[str, str] = field(default_factory=dict)
    sync: bool = True
    window: int = 10000
    """Messages sent and not yet answered before the sender waits."""
    stall: float = 2.0
    """Seconds without any output after which a wait gives up (the outputs are missing)."""
    wait: float = 3.0
    """Seconds to wait for outstanding outputs after the last message."""
    grace: float = 0.2
    """Seconds to wait for unexpected extra outputs once every recorded one has arrived."""


FRAMES_PER_TURN = 1024
"""Answers a replay link handles in one reactor turn (``hardware.fair``; a link's default is 16).
Fair reading guards a switch against a terminal's burst; the replay's only other links are its
own, and reading the answers 16 at a time cost it a reactor turn and a pause and resume of the
socket per 16 (bench_replay: +10 µs of CPU per message)."""


class ReplayLink(TerminalClient):
    """One replay connection standing for one recorded link."""

    def __init__(self, replayer: Replayer, recorded_link: str) -> None:
        super().__init__(replayer.reactor, auto_ack=True)
        self.replayer = replayer
        self.recorded_link = recorded_link
        self.channel = f"link:{recorded_link}"
        self.terminal = ""
        self.suppress = 0
        self.signed_on: Deferred[Any] | None = None

    def link_made(self, link: Link) -> None:
        super().link_made(link)
        if isinstance(link, FramedProtocol):
            link.frames_per_turn = FRAMES_PER_TURN

    def frame_received(self, payload: bytes) -> None:
        out = parse_output(payload.decode("latin-1"))
        if out.osn:
            seen = self.replayer.seen.setdefault(out.terminal, set())
            if out.osn in seen:
                self.duplicates += 1
                self.ack(out.osn)
                return
            seen.add(out.osn)
            self.ack(out.osn)
        self.replayer.output(self, out)


class Replayer:
    """Sends a recording's inbound messages to ``endpoint`` and compares what comes back."""

    def __init__(
        self,
        reactor: IReactorTime,
        endpoint: str,
        records: Callable[[], Iterable[Record]],
        *,
        options: ReplayOptions | None = None,
        credentials: Credentials | None = None,
        comparison: Comparison | None = None,
    ) -> None:
        self.reactor = reactor
        self.endpoint = endpoint
        self.records = records
        self.options = options or ReplayOptions()
        self.credentials = credentials or Credentials()
        self.comparison = comparison or Comparison()
        self.map = TokenMap(self.options.mapping)
        self.links: dict[str, ReplayLink] = {}
        self.seen: dict[str, set[int]] = {}
        self.live: set[str] = set()
        self.sent = 0
        self.received = 0
        self.passes = 0
        self._written_off = 0
        self._barrier_slack = 0
        self._last_link: str | None = None
        self._last_rx = 0.0
        self._wakeup: Deferred[None] | None = None
        self._context: OrderedDict[int, str] = OrderedDict()
        self.stopped = False

    # ------------------------------------------------------------ receiving

    def output(self, link: ReplayLink, out: Any) -> None:
        self.received += 1
        self._last_rx = self.reactor.seconds()
        if not out.osn and link.suppress and out.key in ("SON", "REJ"):
            link.suppress -= 1
            self._signed_on(link, out)
            self._wake()
            return
        if out.key == "SON" and not out.osn:
            self._signed_on(link, out)
        ch = channel(out.osn, out.terminal, link.recorded_link)
        self.comparison.receive(ch, out.frame)
        self._wake()

    def _signed_on(self, link: ReplayLink, out: Any) -> None:
        if out.key == "SON":
            link.terminal = out.terminal
            self.live.add(out.terminal)
        d, link.signed_on = link.signed_on, None
        if d is not None and not d.called:
            d.callback(out)

    def _wake(self) -> None:
        w = self._wakeup
        if w is not None:
            self._wakeup = None
            if not w.called:
                w.callback(None)

    async def _wait(self, done: Callable[[], bool], stall: float) -> bool:
        """Until ``done()``; False when no output arrived for ``stall`` seconds."""
        self._last_rx = max(self._last_rx, self.reactor.seconds())
        while not done():
            remaining = self._last_rx + stall - self.reactor.seconds()
            if remaining <= 0:
                return False
            d: Deferred[None] = Deferred()
            self._wakeup = d
            timer = self.reactor.callLater(remaining, lambda d=d: d.called or d.callback(None))
            await d
            if timer.active():
                timer.cancel()
        return True

    # ------------------------------------------------------------ sending

    async def run(self) -> Report:
        """Replay every pass and return the comparison report."""
        o = self.options
        try:
            while not self.stopped and (o.loops == 0 or self.passes < o.loops):
                self.passes += 1
                await self._pass()
            await self._drain()
        finally:
            for link in self.links.values():
                link.close()
        return self.comparison.finish(self.observed)

    @property
    def observed(self) -> set[str]:
        return self.live | {link.channel for link in self.links.values()}

    async def _pass(self) -> None:
        o = self.options
        pacer = Pacer(o.speed, o.skip, self.reactor.seconds)
        burst = 0
        for rec in self.records():
            if self.stopped:
                return
            if rec.direction == "out":
                self._expect(rec)
                continue
            if rec.direction != "in" or rec.key == "ACK":
                continue
            delay = pacer.delay(rec.timestamp) if o.speed else 0.0
            if delay > 0:
                await task.deferLater(self.reactor, delay)
                burst = 0
            link = self.links.get(rec.link)
            if link is None:
                link = await self._open(rec)
            if o.sync and self._last_link is not None and rec.link != self._last_link:
                await self._barrier()
            self._last_link = rec.link
            if self.sent - self.received - self._written_off > o.window:
                await self._flow()
            text = self._inbound(rec, link)
            if text is None:
                continue
            link.send(text)
            self.sent += 1
            burst += 1
            if burst >= 256:  # let the reactor read answers between bursts
                burst = 0
                await task.deferLater(self.reactor, 0)

    def _expect(self, rec: Record) -> None:
        ch = rec.channel
        if rec.osn and rec.terminal:
            ch = self.map.token(rec.terminal)
        self.comparison.expect(ch, self.map.text(rec.text), self._context.get(rec.ref, ""))

    def _inbound(self, rec: Record, link: ReplayLink) -> str | None:
        text = self.map.text(rec.text)
        if len(self._context) > 4096:
            self._context.popitem(last=False)
        self._context[rec.seq] = rec.text[:60]
        if rec.key == "LOGON":
            parts = text.split(".", 3)
            if len(parts) == 4:
                terminal, operator = parts[1], parts[2]
                for other in self.links.values():
                    # the terminal moves here: the recorded link it was on had ended
                    if other is not link and other.terminal == terminal:
                        other.terminal = ""
                        other.close()
                if parts[3] and set(parts[3]) == {"*"}:
                    parts[3] = self.credentials.password(terminal, operator)
                text = ".".join(parts)
        return text

    async def _open(self, rec: Record) -> ReplayLink:
        link = ReplayLink(self, rec.link)
        try:
            await link.connect(self.endpoint)
        except Exception as e:
            raise ReplayError(f"cannot reach the switch at {self.endpoint}: {e}") from e
        self.links[rec.link] = link
        if rec.key != "LOGON" and rec.terminal:
            terminal = self.map.token(rec.terminal)
            operator = rec.operator or self.credentials.operators.get(terminal, "")
            password = self.credentials.password(terminal, operator)
            link.suppress += 1
            link.signed_on = Deferred()
            d = link.signed_on
            link.send(f"LOGON.{terminal}.{operator}.{password}")
            if not await self._wait(lambda: d.called, self.options.stall) or (
                link.terminal != terminal
            ):
                raise ReplayError(f"terminal {terminal} could not sign on as {operator}")
        return link

    async def _flow(self) -> None:
        """Until half the window is answered (called when more than the window is not)."""
        o = self.options
        ok = await self._wait(
            lambda: self.sent - self.received - self._written_off <= o.window // 2, o.stall
        )
        if not ok:
            self._written_off = max(0, self.sent - self.received)

    async def _barrier(self) -> None:
        c = self.comparison

        def done() -> bool:
            left = c.outstanding(self.observed)
            self._barrier_slack = min(self._barrier_slack, left)
            return left <= self._barrier_slack

        if not await self._wait(done, self.options.stall):
            self._barrier_slack = c.outstanding(self.observed)

    async def _drain(self) -> None:
        """After the last message: until every recorded output arrived (then a short grace for
        extra ones), or nothing arrived for ``wait`` seconds."""
        o = self.options
        c = self.comparison
        done = await self._wait(lambda: c.outstanding(self.observed) == 0, o.wait)
        if done:
            start = self.reactor.seconds()
            while True:
                before = self.received
                await task.deferLater(self.reactor, o.grace)
                if self.received == before or self.reactor.seconds() - start > o.wait:
                    break

    def stop(self) -> None:
        self.stopped = True


def iterate(records: Iterable[Record]) -> Callable[[], Iterator[Record]]:
    """A records factory for a list already in memory."""
    items = list(records)
    return lambda: iter(items)


__all__ = [
    "Credentials",
    "Pacer",
    "ReplayError",
    "ReplayOptions",
    "Replayer",
    "TokenMap",
    "iterate",
]
