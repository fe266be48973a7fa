"""The endpoint side of the link: one mock national system served on framed links, with faults.

Requests are answered by ``System.handle`` after the configured latency; ``Faults`` may lose a
request on the way in (drop, or everything while down) or answer it with the system's error
message. Unsolicited traffic (``System.emit``) goes to the switch's link; while the system is
down or no switch is connected it is held and sent when it can be, as a real system holds its
output queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.logger import Logger

from formats import endpoint_protocol as protocol
from formats.errors import FormatError
from hardware.link import Link
from hardware.turns import at_turn_end
from lems.endpoints.faults import DROP, ERROR, Faults
from lems.endpoints.system import System, commit_group, group_commit, grouping

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime

log = Logger()


class EndpointServer:
    """Serves ``system``; ``handler`` is the link-handler factory for a listener."""

    def __init__(self, system: System, reactor: IReactorTime, faults: Faults | None = None) -> None:
        self.system = system
        self.reactor = reactor
        self.faults = faults or Faults()
        self.links: list[Link] = []
        self.held: list[bytes] = []
        self.stats: dict[str, int] = {"requests": 0, "dropped": 0, "errors": 0, "answered": 0}
        self.outgoing: list[tuple[Link | None, bytes, int, str, str]] = []
        """This turn's frames, sent once the turn's commits are done: (link or None for
        unsolicited traffic, frame, correlation id, request text, ORI)."""
        system.emit = self._emit

    def handler(self) -> _Connection:
        return _Connection(self)

    def _emit(self, ori: str, body: str, terminal: str, sensitive: str) -> None:
        self._send_unsolicited(protocol.unsolicited(ori, body, terminal, sensitive))

    def _send_unsolicited(self, frame: bytes) -> None:
        if self.outgoing or grouping():  # in order with this turn's answers, after their commit
            self._hold(None, frame, 0, "", "")
            return
        if self.faults.down or not self.links:
            self.held.append(frame)
            return
        self.links[-1].send(frame)

    def _flush(self) -> None:
        held, self.held = self.held, []
        for frame in held:
            self._send_unsolicited(frame)

    def received(self, link: Link, payload: bytes) -> None:
        try:
            frame = protocol.decode(payload)
        except FormatError as e:
            log.warn("endpoint {name}: bad frame: {e}", name=self.system.name, e=e)
            return
        kind = frame["t"]
        if kind == "ctl":
            self.faults.update(frame.get("faults", {}))
            if not self.faults.down:
                self._flush()
            return
        if kind not in ("req", "ping"):
            return
        decision = self.faults.decide()
        if decision == DROP:
            self.stats["dropped"] += 1
            return
        corr = frame.get("id", 0)
        if kind == "ping":
            self.reactor.callLater(
                self.faults.delay(), self._reply, link, protocol.encode({"t": "pong", "id": corr})
            )
            return
        self.stats["requests"] += 1
        text, ori = str(frame.get("text", "")), str(frame.get("ori", ""))
        if decision == ERROR:
            self.stats["errors"] += 1
            out = protocol.response(corr, [self.system.error_body(text, ori)])
        else:
            try:
                with group_commit():
                    answer = self.system.handle(text, ori, str(frame.get("trm", "")))
                out = protocol.response(corr, answer.bodies, answer.sensitive)
            except Exception:
                log.failure("endpoint {name} failed on a request", name=self.system.name)
                self.stats["errors"] += 1
                out = protocol.response(corr, [self.system.error_body(text, ori)])
        delay = self.faults.delay()
        if delay > 0:
            if not self._commit():
                out = self._failed(corr, text, ori)
            self.reactor.callLater(delay, self._reply, link, out)
            return
        # no latency: with the other answers of this turn, after one commit for them all
        self._hold(link, out, corr, text, ori)

    def _hold(self, link: Link | None, out: bytes, corr: int, text: str, ori: str) -> None:
        if not self.outgoing:
            at_turn_end(self.reactor, self._send_outgoing)
        self.outgoing.append((link, out, corr, text, ori))

    def _commit(self) -> bool:
        try:
            commit_group()
        except Exception:
            log.failure("endpoint {name} could not commit", name=self.system.name)
            return False
        return True

    def _failed(self, corr: int, text: str, ori: str) -> bytes:
        self.stats["errors"] += 1
        return protocol.response(corr, [self.system.error_body(text, ori)])

    def _send_outgoing(self) -> None:
        """The turn's answers, once what they report is committed (a failed commit turns each
        into the system's error message: the request was not processed)."""
        outgoing, self.outgoing = self.outgoing, []
        ok = self._commit()
        for link, out, corr, text, ori in outgoing:
            if link is None:
                self._send_unsolicited(out)
            elif ok:
                self._reply(link, out)
            else:
                self._reply(link, self._failed(corr, text, ori))

    def _reply(self, link: Link, out: bytes) -> None:
        if link in self.links:
            self.stats["answered"] += 1
            link.send(out)


class _Connection:
    """One link from a switch (a ``LinkHandler``)."""

    def __init__(self, server: EndpointServer) -> None:
        self.server = server
        self.link: Link | None = None

    def link_made(self, link: Link) -> None:
        self.link = link
        self.server.links.append(link)
        if not self.server.faults.down:
            self.server._flush()

    def frame_received(self, payload: bytes) -> None:
        if self.link is not None:
            self.server.received(self.link, payload)

    def bad_frame(self, reason: str, raw: bytes) -> None:
        log.warn(
            "endpoint {name}: broken frame: {reason}", name=self.server.system.name, reason=reason
        )

    def control_received(self, code: int) -> None:
        pass

    def link_lost(self, reason: str) -> None:
        if self.link in self.server.links:
            self.server.links.remove(self.link)
        self.link = None
