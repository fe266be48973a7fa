"""A link's session with the switch, and how it signs on and off as a terminal and operator.

The link's framer hands each frame to its ``Session``; the session passes it to the switch
(``Switch.receive``) and keeps the link's state the switch needs between frames: the signed-on
terminal and operator, the delivery of the terminal's mailbox (``Outflow``), frames held while a
sign-on is checked, the sign-on deadline, a rate pause.

``SignOn`` answers ``LOGON`` and ``LOGOFF`` (the switch hands it those two keys) and closes links
that do not sign on in time: it checks the password off the reactor and applies the rules of
``lems.signon`` (one refusal text, delays, a fair lockout), binds the session to its terminal
once the sign-on is durable (the terminal's mail then goes to that link) and unbinds it at
sign-off or when the link goes. What it may ask of the switch is ``SignOnSwitch``: a narrow port,
checked by mypy, so sign-on can be read (and changed) without reading the switch.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet import threads
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from formats import responses
from formats.errors import Reject
from formats.message import Message
from formats.rejects import RejectCode
from hardware.fair import NOT_READING, bound_send_buffer
from hardware.link import Link
from lems.clock import LabClock
from lems.credentials import Credentials
from lems.directory import Directory
from lems.journal import Journal
from lems.lab import LabConfig, TerminalConfig
from lems.mailbox import Mailboxes, Outflow
from lems.repositories import directory_state
from lems.signon import BUSY, MASK, REFUSED, SignOnGuard, dummy_hash, same_clear, verify
from lems.store import Statement, Writer

if TYPE_CHECKING:
    from lems.reactor import ISwitchReactor
    from lems.switch import Switch

log = Logger()


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
            self.deadline = self.switch.reactor.callLater(timeout, self.switch.signon.timeout, self)

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


def peer_host(peer: str) -> str:
    """The source address of a link's peer (``tcp:127.0.0.1:50312`` -> ``tcp:127.0.0.1``)."""
    head, _, port = peer.rpartition(":")
    return head if port.isdigit() and head else peer


class SignOnSwitch(Protocol):
    """What sign-on asks of the switch (``lems.switch.Switch`` provides it).

    To read: the lab's settings, the directory (terminals, operators and their failure counts),
    the clock and the reactor (delays, the password check's thread). To write: the journal and
    its writer, the statistics, the table of signed-on terminals (``online``: where each
    terminal's mail goes). To answer a link, the switch's own paths, so a sign-on's answers are
    journaled, enveloped and refused exactly like every other frame's: ``answer`` (a session
    answer, OSN 0), ``_refuse`` and ``_refuse_unjournaled`` (a reject, journaled or not),
    ``_envelope`` and ``_send`` (a frame for the link, the mailbox's delivery), and ``receive``
    for the frames held while a sign-on was checked."""

    lab: LabConfig
    reactor: ISwitchReactor
    clock: LabClock
    directory: Directory
    journal: Journal
    writer: Writer
    mailboxes: Mailboxes
    stats: Counter[str]
    online: dict[str, Session]
    failed: str

    def receive(self, session: Session, payload: bytes) -> bool | None: ...

    def answer(
        self,
        session: Session,
        body: str,
        *,
        ref: int,
        key: str,
        pre: list[Statement] | None = None,
        then: Any = None,
    ) -> Deferred[None]: ...

    def _refuse(
        self,
        session: Session,
        seq: int,
        text: str,
        rej: Reject,
        disposition: str,
        key: str = "",
        ori: str = "",
        extra: list[Statement] | None = None,
        osn: int = 0,
        xml: bool = False,
        terminal: str = "",
        operator: str = "",
    ) -> None: ...

    def _refuse_unjournaled(
        self, session: Session, text: str, reason: str, code: str = RejectCode.NOT_AVAILABLE
    ) -> None: ...

    def _envelope(self, osn: int, terminal: str, body: str) -> str: ...

    def _send(self, session: Session, terminal: str, osn: int, frame: str) -> None: ...


class SignOn:
    """``LOGON``, ``LOGOFF`` and the sign-on deadline of every link of one switch."""

    def __init__(self, switch: SignOnSwitch) -> None:
        self.switch = switch
        lab = switch.lab
        self.guard = SignOnGuard(
            lab.switch.signon_delay, lab.switch.signon_delay_max, switch.reactor.seconds
        )
        """Failures per source and operator, delays, where each operator works."""
        self.credentials = Credentials(lab.path, switch.directory.operators)
        """``lems operator passwd`` takes effect at the next sign-on (lems.credentials)."""
        self._hashed_lab = any(o.password_hash for o in lab.operators.values())
        """Unknown names are checked as long as the lab's passwords take (no timing tell)."""

    def logon(self, session: Session, seq: int, text: str, msg: Message) -> None:
        """Check a sign-on (lems/signon.py): the password off the reactor, one refusal text,
        refusals delayed per source and operator, lockout only from where the operator works."""
        sw = self.switch
        tid, oid, password = msg.args
        d = sw.directory
        if self.credentials.refresh():
            self._hashed_lab = any(o.password_hash for o in d.operators.values())
        journal_text = ".".join(["LOGON", tid, oid, MASK])
        term = d.terminals.get(tid)
        op = d.operators.get(oid)
        source = peer_host(session.peer)
        guard = self.guard
        if source in guard.waiting:
            sw.stats["logon_busy"] += 1
            self._refuse(session, seq, journal_text, term, BUSY)
            return
        identity = getattr(session.link, "identity", None)  # TLS client certificate CN
        if term is not None and identity is not None and identity != tid:
            # the peer proved who it is with a certificate: it may know why
            what = "MQTT TOPIC" if getattr(session.link, "kind", "") == "mqtt" else "CERTIFICATE"
            self._refuse(
                session,
                seq,
                journal_text,
                term,
                f"{what} IDENTIFIES TERMINAL {identity}, NOT {tid}",
            )
            return
        known = term is not None and op is not None
        if known and op is not None and not op.password_hash:  # a clear password (a lab
            # written before hashes)
            checked: Deferred[bool] = succeed(same_clear(op.password, password))
        elif not known and not self._hashed_lab:  # as long as a clear check takes
            checked = succeed(same_clear("\0" * 12, password) and False)
        else:  # unknown names cost the same time as a wrong password
            checked = threads.deferToThreadPool(
                sw.reactor,
                sw.reactor.getThreadPool(),
                verify,
                op.password_hash if known and op is not None else dummy_hash(),
                password,
            )
        guard.waiting.add(source)
        session.held = []

        def check_failed(f: Failure) -> bool:
            log.failure("password check failed", f)
            return False

        checked.addCallback(lambda ok: ok and known)
        checked.addErrback(check_failed)
        checked.addCallback(
            self._checked, session, seq, journal_text, tid, oid, source, identity == tid
        )

    def _checked(
        self,
        ok: bool,
        session: Session,
        seq: int,
        journal_text: str,
        tid: str,
        oid: str,
        source: str,
        certified: bool,
    ) -> None:
        sw = self.switch
        d = sw.directory
        guard = self.guard
        term = d.terminals.get(tid)
        now = sw.clock.stamp()
        if not ok:
            guard.failed(source, oid)
            extra: list[Statement] = []
            if oid in d.operators and guard.may_lock(source, oid, certified):
                state = d.operator_state[oid]
                state.failures += 1
                state.locked = state.locked or state.failures >= sw.lab.switch.lockout_after
                extra.append(directory_state.operator_state(oid, state.failures, state.locked, now))
            delay = guard.delay(source, oid)
            sw.stats["logon_refused"] += 1

            def refuse() -> None:
                guard.waiting.discard(source)
                self._refuse(session, seq, journal_text, term, REFUSED, extra)
                self._release(session)

            if delay > 0:
                sw.reactor.callLater(delay, refuse)
            else:
                refuse()
            return
        guard.waiting.discard(source)
        op = d.operators[oid]
        state = d.operator_state[oid]
        # the right password: the peer may now learn why it cannot sign on
        why = (
            ""
            if not op.terminals or tid in op.terminals
            else f"OPERATOR {oid} IS NOT AUTHORIZED ON TERMINAL {tid}"
        )
        why = why or (
            ""
            if op.cleared
            else f"OPERATOR {oid} HAS NO CLEARED FINGERPRINT BACKGROUND CHECK - SIGN-ON REFUSED"
        )
        why = why or (
            f"OPERATOR {oid} IS LOCKED OUT - A SUPERVISOR MUST UNLOCK" if state.locked else ""
        )
        if (
            not why
            and term is not None
            and term.require_tls
            and not (certified and getattr(session.link, "kind", "") == "tls")
        ):
            why = f"TERMINAL {tid} SIGNS ON ONLY OVER TLS WITH ITS CERTIFICATE"
        if why or term is None:
            sw.stats["logon_refused"] += 1
            self._refuse(session, seq, journal_text, term, why or REFUSED)
            self._release(session)
            return
        guard.succeeded(source, oid)
        session.pre = 0
        if session.deadline is not None and session.deadline.active():
            session.deadline.cancel()
        extra = []
        if state.failures:
            state.failures = 0
            extra.append(directory_state.operator_state(oid, 0, False, now))
        if session.link is None:  # the link went while the password was checked
            if extra:
                sw.writer.submit_nowait(extra)
            return
        if session.terminal is not None and session.terminal != tid:
            self.unbind(session)
        session.terminal, session.operator = tid, oid
        sw.stats["logons"] += 1
        body = "\n".join(
            [
                responses.head("SON", tid),
                f"SIGN-ON ACCEPTED TERMINAL/{tid} OPERATOR/{oid}",
                " ".join(f"ORI/{o}" for o in term.oris),
                f"MAILBOX/{sw.mailboxes.count(tid)} MESSAGES WAITING",
            ]
        )
        in_row = sw.journal.row(
            seq,
            "in",
            journal_text,
            link=session.peer,
            terminal=tid,
            operator=oid,
            ori=term.oris[0],
            key="LOGON",
            disposition="accepted",
        )
        sw.answer(
            session,
            body,
            ref=seq,
            key="SON",
            pre=[in_row, *extra],
            then=lambda: self._bind(session, tid),
        )
        self._release(session)

    def _refuse(
        self,
        session: Session,
        seq: int,
        journal_text: str,
        term: TerminalConfig | None,
        reason: str,
        extra: list[Statement] | None = None,
    ) -> None:
        sw = self.switch
        if sw.failed:
            sw._refuse_unjournaled(session, journal_text, reason)
            return
        if session.link is None:  # gone meanwhile: journal the attempt all the same
            sw.writer.submit_nowait(
                [
                    sw.journal.row(
                        seq,
                        "in",
                        journal_text,
                        link="",
                        key="LOGON",
                        disposition="refused",
                        reason=f"{RejectCode.SIGN_ON} {reason}",
                    ),
                    *(extra or []),
                ]
            )
            return
        # the terminal's ORI only to a peer that gave the right password: a REJ headed with
        # it would tell a stranger that the terminal exists
        ori = term.oris[0] if term and reason not in (REFUSED, BUSY) else ""
        _, tid, oid, _ = journal_text.split(".", 3)
        sw._refuse(
            session,
            seq,
            journal_text,
            Reject(RejectCode.SIGN_ON, reason, None, journal_text),
            "refused",
            key="LOGON",
            ori=ori,
            extra=extra,
            terminal=tid,
            operator=oid,
        )

    def _release(self, session: Session) -> None:
        """The sign-on is answered: take the frames that came meanwhile, in order."""
        sw = self.switch
        held, session.held = session.held, None
        for payload in held or ():
            if session.link is None:
                break
            sw.receive(session, payload)

    def _bind(self, session: Session, tid: str) -> None:
        """The sign-on is durable: the session is now where the terminal's mail goes."""
        sw = self.switch
        if (
            session.terminal != tid
            or session.link is None
            or getattr(session.link, "closed", False)
        ):
            return
        old = sw.online.get(tid)
        if old is not None and old is not session:
            old.terminal = None
            if old.link is not None:
                old.write(
                    sw._envelope(
                        0,
                        tid,
                        "\n".join(
                            [
                                responses.head("SOF", tid),
                                f"TERMINAL {tid} SIGNED ON FROM ANOTHER LINK",
                            ]
                        ),
                    )
                )
                old.link.close()
        sw.online[tid] = session
        session.outflow = Outflow(
            sw.mailboxes,
            tid,
            lambda osn, frame: sw._send(session, tid, osn, frame),
            sw.reactor,
            window=session.window,
            resend_s=session.resend_s,
            ready=lambda: not getattr(session.link, "paused", False),
        )
        session.outflow.start()

    def unbind(self, session: Session) -> None:
        sw = self.switch
        if session.outflow is not None:
            session.outflow.stop()
            session.outflow = None
        tid = session.terminal
        if tid is not None and sw.online.get(tid) is session:
            del sw.online[tid]
        session.terminal = None
        session.operator = ""

    def logoff(self, session: Session, seq: int, text: str, msg: Message) -> None:
        sw = self.switch
        tid = session.terminal or ""
        if msg.args[0] != tid:
            sw._refuse(
                session,
                seq,
                text,
                Reject(
                    RejectCode.SIGN_ON,
                    f"SIGN OFF NAMES {msg.args[0]} BUT THIS LINK IS SIGNED ON AS {tid}",
                    "TERMINAL",
                    text[:100],
                ),
                "rejected",
                key="LOGOFF",
            )
            return
        in_row = sw.journal.row(
            seq,
            "in",
            text,
            link=session.peer,
            terminal=tid,
            operator=session.operator,
            key="LOGOFF",
            disposition="accepted",
        )
        self.unbind(session)
        body = "\n".join([responses.head("SOF", tid), f"TERMINAL {tid} SIGNED OFF"])
        sw.answer(session, body, ref=seq, key="SOF", pre=[in_row])

    def timeout(self, session: Session) -> None:
        """A link that has not signed on in time is closed (``[switch] signon_timeout``)."""
        sw = self.switch
        session.deadline = None
        if session.terminal is not None or session.link is None or session.held is not None:
            return
        sw.stats["links_closed_unsigned"] += 1
        log.info(
            "link {peer} closed: no sign-on in {s} s",
            peer=session.peer,
            s=sw.lab.switch.signon_timeout,
        )
        session.write(
            sw._envelope(
                0,
                "",
                "\n".join(
                    [
                        responses.head("NTC", "UNKNOWN"),
                        f"LINK CLOSED - NO SIGN-ON WITHIN {sw.lab.switch.signon_timeout:g} SECONDS",
                    ]
                ),
            )
        )
        session.link.close()
