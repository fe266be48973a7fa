"""A link's session with the switch: which terminal and operator are signed on over it.

The link's framer hands each frame to its ``Session``; the session passes it to the switch
(``Switch.receive``) and keeps the link's state the switch needs between frames: the signed-on
terminal and operator, the delivery of the terminal's mailbox (``Outflow``), frames held while a
sign-on is checked, the sign-on deadline, a rate pause. Sign-on itself is checked by the switch
with ``lems.signon`` (hashes, delays, lockout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hardware.fair import NOT_READING, bound_send_buffer
from hardware.link import Link
from lems.mailbox import Outflow

if TYPE_CHECKING:
    from lems.switch import Switch


class Session:
    """One link's conversation with the switch: which terminal and operator are signed on."""

    __slots__ = (
        "deadline",
        "draining",
        "held",
        "iak_all",
        "link",
        "operator",
        "outflow",
        "pre",
        "resend_s",
        "routing",
        "switch",
        "terminal",
        "throttled",
        "window",
    )

    acks_frames = True
    """On links with link-level ACK (stx, dle) the session ACKs each frame once journaled."""

    def __init__(
        self, switch: Switch, resend_s: float = 0.0, window: int = 0, iak_all: bool = False
    ) -> None:
        self.switch = switch
        self.resend_s = resend_s
        self.window = window
        self.iak_all = iak_all
        """Every message of the signed-on terminal gets an IAK, numbered or not (``iak=all``)."""
        self.outflow: Outflow | None = None
        """Delivery of the terminal's mailbox on this link, while signed on."""
        self.link: Link | None = None
        self.terminal: str | None = None
        self.operator = ""
        self.routing = 0
        """Requests of this link routed to a service and not answered yet."""
        self.draining = False
        """The peer has shut its write side: close once every answer is written."""
        self.held: list[bytes] | None = None
        """Frames received while a sign-on is being checked (in order), else None."""
        self.pre = 0
        """Frames received while not signed on (``lems.limits``)."""
        self.deadline: Any = None
        """The call that closes the link if it has not signed on in time."""
        self.throttled: int | None = None
        """Frames refused since the link was paused for its rate (None: not paused)."""

    @property
    def peer(self) -> str:
        return self.link.peer if self.link else ""

    def link_made(self, link: Link) -> None:
        self.link = link
        bound_send_buffer(link)
        self.switch.stats["links_opened"] += 1
        self.switch.sessions.add(self)
        self.switch.link_opened(self)
        timeout = self.switch.lab.switch.signon_timeout
        if timeout > 0:
            self.deadline = self.switch.reactor.callLater(timeout, self.switch.signon_timeout, self)

    def frame_received(self, payload: bytes) -> None:
        link = self.link
        if not self.switch.receive(self, payload) and getattr(link, "arq", False):
            self.switch.ack_when_journaled(link)

    def bad_frame(self, reason: str, raw: bytes) -> None:
        self.switch.receive_bad(self, reason, raw)

    def control_received(self, code: int) -> None:
        """ACK/NAK from a serial terminal: delivery is confirmed by ``ACK.<osn>`` instead."""

    def link_writable(self) -> None:
        """The peer reads again: its mailbox backlog goes on (``Outflow.resume``)."""
        if self.outflow is not None:
            self.outflow.resume()

    def input_ended(self) -> None:
        """The peer shut its write side (``nc -N``, socat): answer what it sent, then close."""
        self.switch.input_ended(self)

    def link_lost(self, reason: str) -> None:
        self.switch.sessions.discard(self)
        if self.deadline is not None and self.deadline.active():
            self.deadline.cancel()
        if reason == NOT_READING and self.terminal and not self.switch.failed:
            self.switch.journal.append(
                "sys",
                f"LINK OF TERMINAL {self.terminal} DROPPED: PEER DOES NOT READ",
                link=self.peer,
                terminal=self.terminal,
                disposition="dropped",
            )
        self.switch.link_lost(self)

    def write(self, frame: str) -> None:
        """Send one frame; raises ``FormatError`` if this link cannot carry it."""
        if self.link is not None:
            self.link.send(frame.encode("latin-1", "replace"))
