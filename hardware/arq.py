"""Stop-and-wait ARQ for framings with link-level acknowledgements (``stx``, ``dle``), on any
transport: serial lines (``hardware.serial_link``) and TCP/TLS alike.

The rules (docs/WIRE.md, "Acknowledgement"):

* **Receiving.** The switch's end answers every intact frame with ACK once the switch has
  journaled it (a handler with ``acks_frames = True`` calls ``ack()``: for a request, a LOGON,
  an ``ACK.<osn>``, a reject alike), and a damaged block (bad block check, broken DLE
  sequence, STX inside a frame) with NAK at once (the switch also journals it and answers a
  ``REJ`` echoing it; the terminal sends it again). A block that is too long is not damaged:
  resending cannot help, so the switch rejects it and then ACKs. Other ends ACK intact frames
  as they arrive and NAK damaged ones without reporting them. ENQ asks for the last answer
  again.
* **Sending.** One frame outstanding; the next goes when the peer ACKs it. A NAK, or no answer
  within ``ack_timeout`` (plus the time the frame takes on a throttled line), sends it again; after
  ``retries`` repeats it is given up (the switch's mailbox still holds it, and sends it again at
  the next sign-on). An STX/ETX link has no sequence bit: if an ACK is lost the frame arrives
  twice, and terminals drop a repeated OSN.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from formats.framing import ACK, ENQ, NAK, BadFrame, Control, Frame, Framer
from hardware.link import FramedProtocol, LinkHandler

log = Logger()

__all__ = ["ArqLink", "is_damage", "uses_arq"]


def uses_arq(framer: Framer) -> bool:
    """Does this framing have link-level ACK/NAK (so stop-and-wait applies)?"""
    return bool(framer.ack())


def is_damage(reason: str) -> bool:
    """A broken block that resending may cure (anything but a block that is too long)."""
    return "longer than" not in reason


class ArqLink(FramedProtocol):
    """A framed protocol that runs stop-and-wait ARQ when ``arq`` is on (see the module)."""

    def __init__(
        self,
        handler: LinkHandler,
        framer: Framer,
        kind: str,
        clock: IReactorTime,
        *,
        arq: bool = True,
        ack_timeout: float = 1.0,
        retries: int = 5,
        role: str = "switch",
    ) -> None:
        super().__init__(handler, framer, kind)
        self.clock = clock
        self.arq = arq and uses_arq(framer)
        self.ack_timeout = ack_timeout
        self.retries = retries
        self.role = role
        self.handler_acks = role == "switch" and getattr(handler, "acks_frames", False)
        """The handler ACKs each frame itself once it is durable (a switch session journals
        first); any other handler's frames are ACKed as they arrive."""
        self.outbox: deque[bytes] = deque()
        self.outstanding: bytes | None = None
        self.tries = 0
        self._timer: Any = None
        self._last_answer = b""
        self.stats = {
            "sent": 0,
            "retransmitted": 0,
            "given_up": 0,
            "naks_sent": 0,
            "acks_sent": 0,
            "bad_frames": 0,
        }

    # ---------------------------------------------------------------- receive

    def dataReceived(self, data: bytes) -> None:
        if not self.arq:
            super().dataReceived(data)
            return
        if self.watchdog is not None:
            self.watchdog.received()
        for event in self.framer.feed(data):
            if self.closed:
                return
            if type(event) is Frame:
                if not self.handler_acks:
                    self._answer(bytes([ACK]))
                    self.stats["acks_sent"] += 1
                self._call(self.handler.frame_received, event.payload)
            elif type(event) is BadFrame:
                self.stats["bad_frames"] += 1
                if self.handler_acks or not is_damage(event.reason):
                    # the switch journals it, rejects it and answers NAK (damaged) or ACK
                    self._call(self.handler.bad_frame, event.reason, event.raw)
                else:
                    self._answer(bytes([NAK]))
                    self.stats["naks_sent"] += 1
                    log.debug("{peer}: {reason}, NAK sent", peer=self.peer, reason=event.reason)
            elif type(event) is Control:
                self._control(event.code)

    def _answer(self, byte: bytes) -> None:
        self._last_answer = byte
        self._write(byte)

    def _control(self, code: int) -> None:
        if code == ACK and self.outstanding is not None:
            self._cancel_timer()
            self.outstanding = None
            self._next()
        elif code == NAK and self.outstanding is not None:
            self._retransmit()
        elif code == ENQ:
            # "what was your last answer?"; before any, the answer is that nothing is owed
            self._write(self._last_answer or bytes([ACK]))
        self._call(self.handler.control_received, code)

    def ack(self) -> None:
        """The switch has journaled the last frame: ACK it (other handlers' frames are ACKed
        as they arrive)."""
        if not self.arq:
            super().ack()
        elif self.handler_acks and not self.closed:
            self._answer(bytes([ACK]))
            self.stats["acks_sent"] += 1

    def nak(self) -> None:
        if not self.arq:
            super().nak()
        elif not self.closed:
            self._answer(bytes([NAK]))
            self.stats["naks_sent"] += 1

    # ---------------------------------------------------------------- send

    def send(self, payload: bytes) -> None:
        if self.closed:
            return
        if not self.arq:
            super().send(payload)
            return
        self.outbox.append(self.framer.encode(payload))
        if self.outstanding is None:
            self._next()

    def _next(self) -> None:
        if self.closed or not self.outbox:
            return
        self.outstanding = self.outbox.popleft()
        self.tries = 0
        self._transmit()

    def extra_wait(self) -> float:
        """Seconds the outstanding frame still needs on the line (a throttled serial line)."""
        return 0.0

    def _transmit(self) -> None:
        assert self.outstanding is not None
        self.stats["sent"] += 1
        self._write(self.outstanding)
        self._cancel_timer()
        self._timer = self.clock.callLater(self.ack_timeout + self.extra_wait(), self._timed_out)

    def _timed_out(self) -> None:
        self._timer = None
        if self.outstanding is not None:
            self._retransmit()

    def _retransmit(self) -> None:
        self._cancel_timer()
        if self.tries >= self.retries:
            self.stats["given_up"] += 1
            log.warn("{peer}: frame given up after {n} retries", peer=self.peer, n=self.tries)
            self.outstanding = None
            self._next()
            return
        self.tries += 1
        self.stats["retransmitted"] += 1
        self._transmit()

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def connectionLost(self, reason: Any = None) -> None:
        self._cancel_timer()
        if reason is None:
            from twisted.internet.protocol import connectionDone

            reason = connectionDone
        super().connectionLost(reason)
