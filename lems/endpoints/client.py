"""The switch's side of a national endpoint: a router service named ``ncic``, ``nlets`` or ``nics``.

It forwards each routed request over the endpoint link with a correlation id and a timeout, as a
state switch does:

* an answer in time goes back to the terminal (``sensitive`` as the endpoint marked it);
* no answer within ``timeout_s`` -> the terminal gets the real systems' unavailability message
  (``REJ … NCIC NOT AVAILABLE``, or an Nlets ``SM``); two failures in a row, a lost link or an
  operator's ``lems endpoint down`` mark the endpoint out of service;
* while out of service, queries are answered NOT AVAILABLE at once, and NCIC entries (enter,
  modify, cancel, clear, locate) are **queued** (the terminal gets an ``NTC`` saying so) and sent
  when the endpoint returns; their answers then arrive in the terminal's mailbox;
* status changes are announced Nlets-style (``SM``, ``NCIC TEMPORARILY OUT OF SERVICE`` /
  ``NCIC IN SERVICE``) to every control terminal (durably, in their mailboxes) and to every
  terminal signed on at that moment;
* a heartbeat (``ping``) every ``ping_s`` seconds finds out when a down endpoint is back;
  a lost link is re-connected on the same beat.

Other services use ``ask(text, ori)`` (FICS asks NCIC and NICS); unsolicited traffic goes first to
``listeners`` (``fn(ori, body, terminal, sensitive) -> bool``, True when taken), otherwise to the
named terminal or every terminal of the ORI. The retry queue survives a restart: it is rebuilt
from the journal (an entry with a journaled "QUEUED FOR RETRY" notice and no answer yet).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, fail
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from formats import endpoint_protocol as protocol
from formats import responses
from formats.errors import FormatError, LemsError
from formats.responses import NletsClock
from hardware.link import Link
from lems.lab import EndpointConfig
from lems.router import SERVICE_WORDS, Reply, Request

QUEUED_MARK = "QUEUED FOR RETRY"
"""Words of the notice that tells a terminal its entry waits; the journal is searched for them."""

if TYPE_CHECKING:
    from lems.ports import SwitchPort

log = Logger()

ENTRY_VERBS = frozenset({"enter", "modify", "cancel", "clear", "locate"})
FAILURES_FOR_DOWN = 2
Listener = Callable[[str, str, str, str], bool]


class EndpointUnavailable(LemsError):
    """The endpoint is out of service or did not answer in time."""


class EndpointClient:
    """A router service forwarding to one national endpoint."""

    def __init__(
        self,
        switch: SwitchPort,
        config: EndpointConfig,
        connector: Callable[[Any], Deferred[Any]],
        *,
        ping_s: float = 1.0,
    ) -> None:
        self.switch = switch
        self.name = config.name
        self.words = SERVICE_WORDS.get(self.name, self.name.upper())
        self.config = config
        self.timeout_s = config.timeout_s
        self.connector = connector
        self.ping_s = ping_s
        self.link: Link | None = None
        self.connecting = False
        self.up = True
        self.operator_down = False
        self.failures = 0
        self.pending: dict[int, Deferred[tuple[list[str], str]]] = {}
        """Requests sent and not answered, by correlation id."""
        self.deadlines: deque[tuple[float, int]] = deque()
        """(reactor time, correlation id) at which each pending request times out, in the
        order sent: the timeout is the same for every request, so the deadlines are sorted
        and one reactor timer, armed for the first, serves them all (a timer set and cancelled
        per request was a measurable part of an in-process transaction)."""
        self._deadline_timer: Any = None
        self.corr = 0
        self.queue: list[Request] = []
        self.listeners: list[Listener] = []
        self._sm_seq = 0
        self._beat = LoopingCall(self._heartbeat)
        self._beat.clock = switch.reactor
        self.stopped = False

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        self._reload_queue()
        self._connect()
        self._beat.start(self.ping_s, now=False)

    def _reload_queue(self) -> None:
        """Queue again the entries that were waiting for this system when the switch stopped:
        their "queued" notice is in the journal and no answer refers to them yet."""
        sw = self.switch
        floor = sw.journal.last_seq - sw.RECOVERY_WINDOW
        queued: set[int] = set()
        answered: set[int] = set()
        for ref, key, text in sw.journal.answers_since(floor):
            if key == "NTC" and QUEUED_MARK in " ".join(text.split()):
                queued.add(ref)
            elif key != "NTC":
                answered.add(ref)
        for seq in sorted(queued - answered):
            req = sw.journaled_request(seq)
            if req is None or sw.router.service_for(req.spec) != self.name:
                continue
            self.queue.append(req)
            sw.stats[f"{self.name}_requeued"] += 1

    def stop(self) -> None:
        self.stopped = True
        if self._beat.running:
            self._beat.stop()
        self._disarm()
        pending, self.pending = self.pending, {}
        for d in pending.values():
            d.errback(EndpointUnavailable(f"{self.words} LINK CLOSED"))
        if self.link is not None:
            self.link.close()

    def _connect(self) -> None:
        if self.connecting or self.stopped:
            return
        self.connecting = True
        try:
            d = self.connector(_Handler(self))
        except Exception as e:
            self.connecting = False
            self._failed(f"cannot connect: {e}")
            return

        def done(_: Any) -> None:
            self.connecting = False

        def failed(f: Any) -> None:
            self.connecting = False
            self._failed(f"cannot connect: {f.getErrorMessage()}")

        d.addCallbacks(done, failed)

    def _link_made(self, link: Link) -> None:
        self.link = link
        self._control()

    def _link_lost(self) -> None:
        self.link = None
        self._disarm()
        pending, self.pending = self.pending, {}
        for d in pending.values():
            d.errback(EndpointUnavailable(f"{self.words} LINK LOST"))
        if not self.stopped:
            self._mark(False, "link lost")

    def _control(self) -> None:
        if self.link is None:
            return
        c = self.config
        self.link.send(
            protocol.encode(
                {
                    "t": "ctl",
                    "faults": {
                        "latency_ms": c.latency_ms,
                        "jitter_ms": c.jitter_ms,
                        "drop_rate": c.drop_rate,
                        "error_rate": c.error_rate,
                        "down": self.operator_down,
                    },
                }
            )
        )

    def set_down(self, down: bool) -> None:
        """The operator's ``lems endpoint down|up``: tell the endpoint; announce at once on
        down (the heartbeat finds out when it is back)."""
        if down == self.operator_down:
            return
        self.operator_down = down
        self._control()
        if down:
            self._mark(False, "operator")

    # ------------------------------------------------------------------ the wire

    def _send(self, frame_for: Callable[[int], bytes]) -> Deferred[tuple[list[str], str]]:
        if self.link is None:
            return fail(EndpointUnavailable(f"{self.words} LINK DOWN"))
        self.corr += 1
        corr = self.corr
        d: Deferred[tuple[list[str], str]] = Deferred()
        reactor = self.switch.reactor
        self.pending[corr] = d
        self.deadlines.append((reactor.seconds() + self.timeout_s, corr))
        if self._deadline_timer is None:
            self._deadline_timer = reactor.callLater(self.timeout_s, self._expire)
        self.link.send(frame_for(corr))
        return d

    def _disarm(self) -> None:
        self.deadlines.clear()
        if self._deadline_timer is not None:
            if self._deadline_timer.active():
                self._deadline_timer.cancel()
            self._deadline_timer = None

    def _expire(self) -> None:
        """Time out every pending request whose deadline has come; re-arm for the next."""
        self._deadline_timer = None
        reactor = self.switch.reactor
        now = reactor.seconds()
        deadlines = self.deadlines
        while deadlines:
            at, corr = deadlines[0]
            if corr not in self.pending:  # answered meanwhile
                deadlines.popleft()
                continue
            if at > now:
                self._deadline_timer = reactor.callLater(at - now, self._expire)
                return
            deadlines.popleft()
            self._timeout(corr)

    def _timeout(self, corr: int) -> None:
        d = self.pending.pop(corr, None)
        if d is None:
            return
        self.switch.stats[f"{self.name}_timeouts"] += 1
        self._failed("timeout")
        d.errback(EndpointUnavailable(f"{self.words} DID NOT ANSWER IN {self.timeout_s:g} S"))

    def _failed(self, why: str) -> None:
        self.failures += 1
        if self.failures >= FAILURES_FOR_DOWN or self.link is None:
            self._mark(False, why)

    def _frame(self, payload: bytes) -> None:
        try:
            frame = protocol.decode(payload)
        except FormatError as e:
            log.warn("{name}: bad frame from endpoint: {e}", name=self.name, e=e)
            return
        kind = frame["t"]
        if kind in ("rsp", "pong"):
            self.failures = 0
            if not self.operator_down:
                self._mark(True, "answer")
                if self.queue:  # entries queued before a restart, or whose retry failed
                    self._retry()
            d = self.pending.pop(frame.get("id", -1), None)
            deadlines = self.deadlines  # answers come mostly in order: drop the answered head
            while deadlines and deadlines[0][1] not in self.pending:
                deadlines.popleft()
            if d is not None:
                d.callback((list(frame.get("bodies", [])), str(frame.get("sensitive", ""))))
        elif kind == "uns":
            self._unsolicited(
                str(frame.get("ori", "")),
                str(frame.get("body", "")),
                str(frame.get("trm", "")),
                str(frame.get("sensitive", "")),
            )

    def _heartbeat(self) -> None:
        if self.link is None:
            self._connect()
            return
        d = self._send(lambda corr: protocol.encode({"t": "ping", "id": corr}))
        d.addErrback(lambda _: None)

    # ------------------------------------------------------------------ service

    def handle(self, req: Request) -> Deferred[list[Reply]] | list[Reply]:
        entry = req.spec.verb in ENTRY_VERBS and self.name == "ncic"
        if not self.up:
            return [self._queued(req)] if entry else [self._unavailable(req)]
        d = self._send(lambda corr: protocol.request(corr, req.msg.ori, req.terminal, req.msg.raw))

        def answered(result: tuple[list[str], str]) -> list[Reply]:
            bodies, sensitive = result
            return [
                Reply(b, sensitive=sensitive, key=responses.first_line_key(b)[0], origin=self.name)
                for b in bodies
            ]

        def failed(f: Any) -> list[Reply]:
            f.trap(EndpointUnavailable)
            return [self._queued(req)] if entry else [self._unavailable(req)]

        return d.addCallbacks(answered, failed)

    def ask(self, text: str, ori: str, terminal: str = "") -> Deferred[list[str]]:
        """Send ``text`` as ``ori``; the endpoint's answer bodies. Fails with
        ``EndpointUnavailable`` when out of service or not answered in time."""
        if not self.up:
            return fail(EndpointUnavailable(f"{self.words} NOT AVAILABLE"))
        d = self._send(lambda corr: protocol.request(corr, ori, terminal, text))
        return d.addCallback(lambda result: result[0])

    def _unavailable(self, req: Request) -> Reply:
        self.switch.stats[f"{self.name}_unavailable"] += 1
        return self.switch.router.unavailable(req, self.name)

    def _queued(self, req: Request) -> Reply:
        self.queue.append(req)
        self.switch.stats[f"{self.name}_queued"] += 1
        body = "\n".join(
            [
                responses.head("NTC", req.msg.ori),
                *responses.page(
                    [
                        f"{self.words} NOT AVAILABLE - {req.msg.full_key} "
                        f"{QUEUED_MARK}; THE {self.words} ANSWER WILL "
                        "FOLLOW WHEN IT RETURNS"
                    ]
                ),
                "ORIGINAL MESSAGE",
                *responses.cut(req.msg.raw[:100]),
            ]
        )
        return Reply(body, key="NTC")

    def _retry(self) -> None:
        queue, self.queue = self.queue, []
        for req in queue:

            def frame_for(corr: int, r: Request = req) -> bytes:
                return protocol.request(corr, r.msg.ori, r.terminal, r.msg.raw)

            d = self._send(frame_for)

            def answered(result: tuple[list[str], str], req: Request = req) -> None:
                bodies, sensitive = result
                self.switch.send_replies(
                    [
                        Reply(
                            b,
                            sensitive=sensitive,
                            key=responses.first_line_key(b)[0],
                            origin=self.name,
                        )
                        for b in bodies
                    ],
                    req,
                )

            def failed(f: Any, req: Request = req) -> None:
                f.trap(EndpointUnavailable)
                self.queue.append(req)

            d.addCallbacks(answered, failed)

    # ------------------------------------------------------------------ status

    def _mark(self, up: bool, why: str) -> None:
        if up == self.up:
            return
        self.up = up
        self.switch.stats[f"{self.name}_{'up' if up else 'down'}"] += 1
        log.info("{name} {state} ({why})", name=self.name, state="up" if up else "down", why=why)
        self._announce("IN SERVICE" if up else "TEMPORARILY OUT OF SERVICE")
        if up and self.queue:
            self._retry()

    def _announce(self, status: str) -> None:
        sw = self.switch
        if not sw.started:
            return
        d = sw.directory
        targets = dict.fromkeys([*d.control_terminals(), *sw.online])
        now = sw.clock.now()
        for terminal in targets:
            self._sm_seq = self._sm_seq % 99999 + 1
            ori = d.terminals[terminal].oris[0]
            body = responses.sm(status, self.words, NletsClock(now, 0, now, self._sm_seq), ori)
            sw.deliver(terminal, body, key="SM", ori=ori)

    def _unsolicited(self, ori: str, body: str, terminal: str, sensitive: str) -> None:
        for listener in self.listeners:
            if listener(ori, body, terminal, sensitive):
                return
        sw = self.switch
        key = responses.first_line_key(body)[0]
        sw.stats[f"{self.name}_unsolicited"] += 1
        t = sw.directory.terminals.get(terminal)
        if t is not None and ori in t.oris:
            sw.deliver(terminal, body, key=key, ori=ori, sensitive=sensitive, origin=self.name)
        elif not sw.deliver_to_ori(ori, body, key=key, sensitive=sensitive, origin=self.name):
            log.warn(
                "{name}: unsolicited {key} for {ori}, which has no terminal",
                name=self.name,
                key=key,
                ori=ori,
            )


class _Handler:
    """The link handler of an endpoint client."""

    def __init__(self, client: EndpointClient) -> None:
        self.client = client

    def link_made(self, link: Link) -> None:
        self.client._link_made(link)

    def frame_received(self, payload: bytes) -> None:
        self.client._frame(payload)

    def bad_frame(self, reason: str, raw: bytes) -> None:
        log.warn(
            "{name}: broken frame from endpoint: {reason}", name=self.client.name, reason=reason
        )

    def control_received(self, code: int) -> None:
        pass

    def link_lost(self, reason: str) -> None:
        if self.client.link is not None:
            self.client._link_lost()
