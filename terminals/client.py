"""A terminal's side of the link: sign on, send, receive, acknowledge, drop duplicates.

This is what every emulated terminal (``lems send``, the interactive console, scripted terminals,
replay) is built on. It knows the switch only by the wire convention: each output frame starts
with ``OSN/0000042 TRM/T01 DTE/… TIM/…``; a frame with OSN above 0 is acknowledged with
``ACK.<osn>`` once it has been handed to the caller; an OSN already seen is a resend and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, DeferredQueue, TimeoutError
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IReactorTime

from formats import envelope
from formats.responses import first_line_key
from hardware import endpoints
from hardware.link import Link

__all__ = ["Output", "TerminalClient", "TimeoutError", "parse_output"]


@dataclass(frozen=True, slots=True)
class Output:
    """One message from the switch."""

    osn: int
    terminal: str
    key: str
    ori: str
    body: str
    frame: str

    @property
    def lines(self) -> list[str]:
        return self.body.split("\n")


def parse_output(frame: str) -> Output:
    """Split the envelope line from the body; tolerate a frame without an envelope."""
    head, body = envelope.parse(frame)
    key, ori = first_line_key(body)
    if head is None:
        return Output(0, "", key, ori, body, frame)
    return Output(head.osn, head.terminal, key, ori, body, frame)


class TerminalClient:
    """One terminal link to a switch (a ``LinkHandler``)."""

    def __init__(self, reactor: IReactorTime, *, auto_ack: bool = True) -> None:
        self.reactor = reactor
        self.auto_ack = auto_ack
        self.link: Link | None = None
        self.inbox: DeferredQueue[Output] = DeferredQueue()
        self.seen: set[int] = set()
        self.duplicates = 0
        self.bad_frames: list[str] = []
        self.lost: Deferred[str] = Deferred()
        self.connected = False
        self.signed_off = False
        """True from the moment this client sends LOGOFF (until a new sign-on): nothing is
        acknowledged then, since an ACK from a signed-off link only draws NOT-SIGNED-ON; what
        it did not acknowledge waits in the mailbox for the next sign-on."""

    # LinkHandler
    def link_made(self, link: Link) -> None:
        self.link = link
        self.connected = True

    def frame_received(self, payload: bytes) -> None:
        out = parse_output(payload.decode("latin-1"))
        if out.osn:
            if out.osn in self.seen:
                self.duplicates += 1
                if self.auto_ack:
                    self.ack(out.osn)
                return
            self.seen.add(out.osn)
        if out.key == "SON":
            self.signed_off = False
        self.inbox.put(out)
        if out.osn and self.auto_ack:
            self.ack(out.osn)

    def bad_frame(self, reason: str, raw: bytes) -> None:
        self.bad_frames.append(reason)

    def control_received(self, code: int) -> None:
        pass

    def link_lost(self, reason: str) -> None:
        self.connected = False
        if not self.lost.called:
            self.lost.callback(reason)

    # use
    def connect(self, endpoint: str) -> Deferred[TerminalClient]:
        d = endpoints.connect(self.reactor, endpoint, self)
        return d.addCallback(lambda _: self)

    def send(self, text: str) -> None:
        if self.link is None or not self.connected:
            raise ConnectionDone("terminal link is not connected")
        if text[:7].upper() == "LOGOFF.":
            self.signed_off = True
        self.link.send(text.encode("latin-1", "replace"))

    def ack(self, osn: int) -> None:
        if self.connected and not self.signed_off:
            self.send(f"ACK.{osn}")

    def next(self, timeout: float = 5.0) -> Deferred[Output]:
        """The next message; fails with ``TimeoutError`` after ``timeout`` seconds."""
        d = self.inbox.get()
        d.addTimeout(timeout, self.reactor)
        return d

    def logon(
        self, terminal: str, operator: str, password: str, timeout: float = 5.0
    ) -> Deferred[Output]:
        self.send(f"LOGON.{terminal}.{operator}.{password}")
        return self._until(lambda o: o.key in ("SON", "REJ"), timeout)

    def request(self, text: str, timeout: float = 5.0) -> Deferred[Output]:
        """Send and return the next message (the switch answers each request in order)."""
        self.send(text)
        return self.next(timeout)

    def _until(self, match: Any, timeout: float) -> Deferred[Output]:
        result: Deferred[Output] = Deferred()

        def got(out: Output) -> None:
            if match(out):
                result.callback(out)
            else:
                self.next(timeout).addCallbacks(got, result.errback)

        self.next(timeout).addCallbacks(got, result.errback)
        return result

    def drain(self) -> list[Output]:
        """Every message already received and not yet taken."""
        out = []
        while self.inbox.pending:
            out.append(self.inbox.pending.pop(0))
        return out

    def close(self) -> None:
        if self.link is not None:
            self.link.close()
