"""The switch: sessions on links, parse, policy, journal, route, mailboxes and delivery.

A frame's way through (DESIGN.md): the link's framer hands the frame to the ``Session``; the
switch numbers it, parses and validates it, applies policy, and journals it with its disposition;
only when that row is committed does anything visible happen (an answer, a forward). Every output
for a terminal goes through its mailbox: journaled and queued in one commit, sent when committed
and the terminal is on line, removed when the terminal sends ``ACK.<osn>``.

Wire envelope (line mode and every other framing): each output frame starts with the line
``OSN/0000042 TRM/T01 DTE/20261123 TIM/143211`` — the terminal's output sequence number, terminal,
lab date and time — then the body. OSN 0 marks a session answer (sign-on, sign-off, a reject
before sign-on) that is journaled but not queued and needs no acknowledgement.
"""

from __future__ import annotations

import hmac
import math
import time
from collections import Counter
from datetime import datetime
from typing import Any

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from formats import responses
from formats.codes import CodeBook
from formats.dictionary import Dictionary
from formats.errors import BAD_FORMAT, Reject
from formats.grammar import Parser
from formats.message import Message
from formats.ori import ori_problem
from formats.responses import NletsClock
from hardware import endpoints
from hardware.link import Link
from lems import services, store
from lems.clock import SAVE as SAVE_LAB_TIME
from lems.clock import LabClock, lab_zone, resume_at
from lems.directory import Directory
from lems.journal import Journal
from lems.lab import LabConfig
from lems.mailbox import Mailboxes
from lems.policy import Policy
from lems.router import Reply, Request, Router
from lems.store import Statement, Writer

log = Logger()

NOT_SIGNED_ON = "NOT-SIGNED-ON"
SIGN_ON = "SIGN-ON"
BAD_FRAME = "BAD-FRAME"

MAX_OSN_DIGITS = 18
"""An ``ACK.<osn>`` with more digits than this is refused (OSNs are 7 digits on the wire)."""

OPERATOR_STATE = ("INSERT INTO operator_state (operator, failures, locked, changed) "
                  "VALUES (?,?,?,?) ON CONFLICT(operator) DO UPDATE SET "
                  "failures = excluded.failures, locked = excluded.locked, "
                  "changed = excluded.changed")


class Session:
    """One link's conversation with the switch: which terminal and operator are signed on."""

    __slots__ = ("link", "operator", "switch", "terminal")

    def __init__(self, switch: Switch) -> None:
        self.switch = switch
        self.link: Link | None = None
        self.terminal: str | None = None
        self.operator = ""

    @property
    def peer(self) -> str:
        return self.link.peer if self.link else ""

    def link_made(self, link: Link) -> None:
        self.link = link
        self.switch.stats["links_opened"] += 1

    def frame_received(self, payload: bytes) -> None:
        self.switch.receive(self, payload)

    def bad_frame(self, reason: str, raw: bytes) -> None:
        self.switch.receive_bad(self, reason, raw)

    def control_received(self, code: int) -> None:
        """ACK/NAK from a serial terminal: delivery is confirmed by ``ACK.<osn>`` instead."""

    def link_lost(self, reason: str) -> None:
        self.switch.link_lost(self)

    def write(self, frame: str) -> None:
        if self.link is not None:
            self.link.send(frame.encode("latin-1", "replace"))


ONLINE = "INSERT OR REPLACE INTO meta (key, value) VALUES ('online', ?)"
"""Terminals signed on, saved every second: ``<wall seconds> T01,T04`` (``0`` once stopped:
a fresh time means the switch runs)."""


class Switch:
    """One running lab."""

    def __init__(self, lab: LabConfig, reactor: Any, *, clock: LabClock | None = None) -> None:
        self.lab = lab
        self.reactor = reactor
        self._own_clock = clock is None
        self.clock = clock or LabClock(reactor, lab.clock_speed)
        if lab.codes_dir or lab.dictionary:
            codes = (CodeBook.load_dir(lab.codes_dir) if lab.codes_dir else CodeBook.builtin())
            self.dictionary = Dictionary.load(lab.dictionary, codes)
        else:
            self.dictionary = Dictionary.default()
        self.parser = Parser(self.dictionary)
        self.directory = Directory(lab)
        self.policy = Policy(self.directory)
        self.router = Router(self)
        self.online: dict[str, Session] = {}
        self.ports: list[Any] = []
        self.stats: Counter[str] = Counter()
        self._nlets_out = 0
        self._stamp_second = -1
        self._stamp_text = ""
        self._poll: LoopingCall | None = None
        self._save_time: LoopingCall | None = None
        self.started = False
        self.stop_hooks: list[Any] = []
        """Callables run at stop (services closing links, cancelling timers); may return
        Deferreds, which stop waits for."""

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Open the database (migrating it), load state, start the writer."""
        self.lab.database.parent.mkdir(parents=True, exist_ok=True)
        self.reader = store.connect(self.lab.database)
        self.directory.load_state(self.reader)
        self.writer = Writer(self.lab.database, self.reactor)
        if self._own_clock:  # resume the scenario where it was; never back (lems/clock.py)
            self.clock.rebase(resume_at(self.reader, self.lab.start,
                                        lab_zone(self.lab.timezone)))
        self._save_time = LoopingCall(self.save_lab_time)
        self._save_time.clock = self.reactor
        self._save_time.start(1.0, now=True)
        self.journal = Journal(self.writer, self.clock, self.reader)
        self.mailboxes = Mailboxes(self.reader)
        self._poll = LoopingCall(self._poll_directory)
        self._poll.clock = self.reactor
        self._poll.start(1.0, now=False)
        self.journal.append("sys", f"SWITCH STARTED {self.lab.name}", disposition="start")
        self.started = True
        services.install(self)
        self._recover()

    RECOVERY_WINDOW = 20_000
    """How many journal rows back crash recovery looks for relayed traffic never routed."""

    def _recover(self) -> None:
        """Route again the relayed messages (AM, AML, YQ, YR) that were accepted just before a
        crash but whose copies never committed: their inbound row is durable, so they were
        acknowledged, and an acknowledged message must not be lost."""
        floor = self.journal.last_seq - self.RECOVERY_WINDOW
        relayed = tuple(k for k, spec in self.dictionary.keys.items()
                        if spec.verb in self.router.routes)
        if not relayed:
            return
        answered = {ref for (ref,) in self.reader.execute(
            "SELECT ref FROM journal WHERE seq > ? AND ref > 0", (floor,))}
        marks = ",".join("?" * len(relayed))
        seqs = [seq for (seq,) in self.reader.execute(
            f"SELECT seq FROM journal WHERE seq > ? AND direction = 'in' "
            f"AND disposition = 'accepted' AND key IN ({marks}) ORDER BY seq",
            (floor, *relayed))]
        for seq in seqs:
            req = None if seq in answered else self.journaled_request(seq)
            if req is None:
                continue
            self.stats["recovered"] += 1
            self.writer.submit_nowait([self.journal.row(
                self.journal.next_seq(), "sys", f"RECOVERED {req.msg.full_key} SEQ/{seq}",
                terminal=req.terminal, ori=req.msg.ori, key=req.msg.full_key,
                disposition="recovered", ref=seq)])
            self.router.route(req).addCallback(self.send_replies, req)

    def journaled_request(self, seq: int) -> Request | None:
        """The accepted inbound message journaled as ``seq``, rebuilt as a ``Request`` (for work
        that must go on after a restart); None if it is gone or no longer makes sense."""
        row = self.reader.execute("SELECT time, terminal, operator, link, text FROM journal "
                                  "WHERE seq = ? AND direction = 'in'", (seq,)).fetchone()
        if row is None or row[1] not in self.directory.terminals:
            return None
        msg = self.parser.check(row[4])
        if isinstance(msg, Reject):
            return None
        return Request(seq, row[1], row[2], msg, self.dictionary.keys[msg.full_key],
                       datetime.fromisoformat(row[0]), row[3])

    def listen(self, description: str) -> Deferred[Any]:
        d = endpoints.listen(self.reactor, description, lambda: Session(self),
                             self.lab.switch.max_frame)
        return d.addCallback(self._listening)

    def _listening(self, port: Any) -> Any:
        self.ports.append(port)
        return port

    def stop(self) -> Deferred[None]:
        """Stop listening, close links, commit everything queued, close the database."""
        if not self.started:
            return succeed(None)
        self.started = False
        if self._poll is not None and self._poll.running:
            self._poll.stop()
        if self._save_time is not None and self._save_time.running:
            self._save_time.stop()
        stops = [maybe for p in self.ports if (maybe := p.stopListening()) is not None]
        stops += [d for hook in self.stop_hooks if (d := hook()) is not None]
        for session in list(self.online.values()):
            if session.link:
                session.link.close()
        self.journal.append("sys", "SWITCH STOPPED", disposition="stop")
        self.save_lab_time()
        d = DeferredList(stops) if stops else succeed(None)
        d.addCallback(lambda _: self.writer.stop())
        d.addCallback(lambda _: self.reader.close())
        return d

    def save_lab_time(self) -> None:
        """Persist lab time, so a restart never sends the lab back (``lems.clock``), and which
        terminals are signed on (with the wall time of this save), so ``lems send`` can refuse
        to sign a trainee's console off (``ONLINE``)."""
        online = ",".join(sorted(self.online)) if self.started else ""
        stamp = time.time() if self.started else 0.0  # stopped: no longer fresh
        self.writer.submit_nowait([
            (SAVE_LAB_TIME, (self.clock.now().isoformat(),)),
            (ONLINE, (f"{stamp:.3f} {online}",))])

    def _poll_directory(self) -> None:
        try:
            if self.directory.load_state(self.reader):
                self.stats["directory_reloads"] += 1
        except Exception:
            log.failure("directory reload failed")

    # ------------------------------------------------------------------ inbound

    def receive(self, session: Session, payload: bytes) -> None:
        """One frame from a link."""
        self.stats["frames_in"] += 1
        text = payload.decode("latin-1")
        seq = self.journal.next_seq()
        terminal = session.terminal
        if terminal is not None and text[:4] == "ACK.":
            # the most frequent frame of all, read without the grammar (same result)
            osn = text[4:]
            if osn.isdigit() and osn.isascii() and len(osn) <= MAX_OSN_DIGITS:
                self._ack(session, seq, text, int(osn))
                return
        result = self.parser.check(text)
        if isinstance(result, Reject):
            self._refuse(session, seq, text, result, "rejected")
            return
        msg = result
        key = msg.full_key
        if key == "LOGON":
            self._logon(session, seq, text, msg)
            return
        if terminal is None:
            self._refuse(session, seq, text, Reject(
                NOT_SIGNED_ON, "NOT SIGNED ON - SEND LOGON.TERMINAL.OPERATOR.PASSWORD FIRST",
                "MKE", text[:100]), "rejected", key=key)
            return
        if key == "ACK":
            self._ack_message(session, seq, text, msg)
            return
        if key == "LOGOFF":
            self._logoff(session, seq, text, msg)
            return
        spec = self.dictionary.keys[key]
        now = self.clock.now()
        rej = self.policy.check(terminal, msg, spec, now.date())
        if rej is not None:
            self.stats[f"refused:{rej.code}"] += 1
            self._refuse(session, seq, text, rej.with_input(text), "refused", key=key,
                         ori=msg.ori)
            return
        self.stats["accepted"] += 1
        self.stats[f"key:{key}"] += 1
        req = Request(seq, terminal, session.operator, msg, spec, now, session.peer)
        stamp = self.clock.stamp()
        rows = [self.journal.row(seq, "in", text, link=session.peer, terminal=terminal,
                                 operator=session.operator, ori=msg.ori, key=key,
                                 disposition="accepted", time=stamp)]
        replies = self.router.answer_now(req)
        if replies is None:
            # the route acts outside the switch (a national system, a state file): only once
            # the request is durable
            self.writer.commit(rows, self._accepted, session, req)
            return
        # answered from what the switch holds: request and answers durable in one commit,
        # nothing visible before it
        sends = self._queue_replies(replies, req, rows, stamp)
        self.writer.commit(rows, self._answered, session, seq, sends)

    def _accepted(self, error: BaseException | None, session: Session, req: Request) -> None:
        if error is not None:
            self._journal_failed(error, session, req.seq)
            return
        if session.link is not None:
            session.link.ack()
        self.router.route(req).addCallback(self.send_replies, req)

    def _answered(self, error: BaseException | None, session: Session, seq: int,
                  sends: list[tuple[str, int]]) -> None:
        if error is not None:
            self._journal_failed(error, session, seq)
            return
        if session.link is not None:
            session.link.ack()
        self._sent(None, sends)

    def send_replies(self, replies: list[Reply], req: Request) -> None:
        """Deliver what a route answered (in one commit)."""
        rows: list[Statement] = []
        sends = self._queue_replies(replies, req, rows)
        if rows:
            self.writer.commit(rows, self._sent, sends)

    def _queue_replies(self, replies: list[Reply], req: Request, rows: list[Statement],
                       stamp: str = "") -> list[tuple[str, int]]:
        """Add the journal and mailbox rows of ``replies`` to ``rows``; the (terminal, OSN) of
        each message to send once they are committed. ``stamp``: the journal time (now)."""
        if not replies and req.spec.verb in self.router.routes:
            # Relayed traffic that reached no local terminal (all out of state, or no terminal
            # bound): leave a trace so crash recovery knows it was routed.
            rows.append(self.journal.row(
                self.journal.next_seq(), "sys", "NO LOCAL DELIVERY", terminal=req.terminal,
                ori=req.msg.ori, key=req.msg.full_key, disposition="routed", ref=req.seq))
        sends = []
        for r in replies:
            if r.terminal is not None:
                targets = [(r.terminal, "")]
            elif r.ori is not None:
                targets = [(t, r.ori) for t in self.directory.terminals_by_ori.get(r.ori, [])]
            else:
                targets = [(req.terminal, req.msg.ori)]
            for terminal, ori in targets:
                sends.append((terminal, self._queue(rows, terminal, r.body, ref=req.seq,
                                                    key=r.key, ori=ori, sensitive=r.sensitive,
                                                    stamp=stamp)))
        return sends

    def receive_bad(self, session: Session, reason: str, raw: bytes) -> None:
        """A frame the framer could not take (too long, bad block check): refuse, keep the link."""
        self.stats["bad_frames"] += 1
        seq = self.journal.next_seq()
        text = raw.decode("latin-1")
        rej = Reject(BAD_FRAME, f"FRAME REFUSED - {reason.upper()}", None, text[:100])
        if session.link is not None:
            session.link.nak()
        self._refuse(session, seq, text, rej, "bad-frame")

    def _refuse(self, session: Session, seq: int, text: str, rej: Reject, disposition: str,
                key: str = "", ori: str = "", extra: list[Statement] | None = None,
                terminal: str = "", operator: str = "") -> None:
        """Refuse a frame: journaled under the sending terminal and its own ORI (an audit files
        a spoof attempt under the agency that made it, naming the ORI it claimed), answered."""
        if not key:
            key = text.split(".", 1)[0].strip().upper()[:10]
        if not ori:
            parts = text.split(".", 2)
            ori = parts[1].strip().upper()[:9] if len(parts) > 1 else ""
        if ori and ori_problem(ori):
            ori = ""  # not an ORI at all (ACK.1, LOGOFF.T01): nothing was claimed
        terminal = terminal or session.terminal or ""
        own = self.directory.terminals[terminal].oris if terminal in self.directory.terminals \
            else ()
        journal_ori = ori if ori in own or not own else own[0]
        reason = f"{rej.code} {rej.field or ''} {rej.reason}".replace("  ", " ")
        if ori and ori != journal_ori:
            reason += f" CLAIMED ORI/{ori}"
        receiver = ori or self._session_ori(session)
        if rej.code.startswith("."):
            body = responses.er(rej, self.nlets_clock_for(seq), receiver)
            out_key = "ER"
        else:
            body = responses.reject(rej, receiver)
            out_key = "REJ"
        in_row = self.journal.row(
            seq, "in", text, link=session.peer, terminal=terminal,
            operator=operator or session.operator, ori=journal_ori, key=key,
            disposition=disposition, reason=reason)
        pre = [in_row, *(extra or [])]
        if session.terminal is not None:
            self.deliver(session.terminal, body, ref=seq, key=out_key, ori=receiver, pre=pre)
        else:
            self.answer(session, body, ref=seq, key=out_key, pre=pre)

    def _journal_failed(self, failure: Any, session: Session, seq: int) -> None:
        if isinstance(failure, BaseException):
            failure = Failure(failure)
        log.failure("journal write failed for seq {seq}", failure, seq=seq)
        if session.link is not None:
            session.link.nak()

    # ------------------------------------------------------------------ sign-on

    def _logon(self, session: Session, seq: int, text: str, msg: Message) -> None:
        tid, oid, password = msg.args
        d = self.directory
        journal_text = ".".join(["LOGON", tid, oid, "*" * len(password)])
        term = d.terminals.get(tid)
        op = d.operators.get(oid)
        limit = self.lab.switch.lockout_after

        def refuse(reason: str, field: str, extra: list[Statement] | None = None) -> None:
            self.stats["logon_refused"] += 1
            self._refuse(session, seq, journal_text,
                         Reject(SIGN_ON, reason, field, journal_text), "refused", key="LOGON",
                         ori=term.oris[0] if term else "", extra=extra, terminal=tid,
                         operator=oid)

        if term is None:
            return refuse(f"TERMINAL {tid} IS NOT REGISTERED", "TERMINAL")
        identity = getattr(session.link, "identity", None)  # TLS client certificate CN
        if identity is not None and identity != tid:
            return refuse(f"CERTIFICATE IDENTIFIES TERMINAL {identity}, NOT {tid}", "TERMINAL")
        if op is None:
            return refuse(f"OPERATOR {oid} IS NOT REGISTERED", "OPERATOR")
        if op.terminals and tid not in op.terminals:
            return refuse(f"OPERATOR {oid} IS NOT AUTHORIZED ON TERMINAL {tid}", "OPERATOR")
        if not op.cleared:
            return refuse(f"OPERATOR {oid} HAS NO CLEARED FINGERPRINT BACKGROUND CHECK - "
                          "SIGN-ON REFUSED", "OPERATOR")
        state = d.operator_state[oid]
        if state.locked:
            return refuse(f"OPERATOR {oid} IS LOCKED OUT - A SUPERVISOR MUST UNLOCK", "OPERATOR")
        now = self.clock.stamp()
        if not hmac.compare_digest(password.encode(), op.password.encode()):
            state.failures += 1
            state.locked = state.failures >= limit
            row = (OPERATOR_STATE, (oid, state.failures, int(state.locked), now))
            if state.locked:
                return refuse(f"INVALID PASSWORD - OPERATOR {oid} IS NOW LOCKED OUT "
                              f"({state.failures} FAILED ATTEMPTS)", "PASSWORD", [row])
            return refuse(f"INVALID PASSWORD ({state.failures} OF {limit} ATTEMPTS)",
                          "PASSWORD", [row])
        extra: list[Statement] = []
        if state.failures:
            state.failures = 0
            extra.append((OPERATOR_STATE, (oid, 0, 0, now)))
        if session.terminal is not None and session.terminal != tid:
            self._unbind(session)
        session.terminal, session.operator = tid, oid
        self.stats["logons"] += 1
        body = "\n".join([
            responses.head("SON", tid),
            f"SIGN-ON ACCEPTED TERMINAL/{tid} OPERATOR/{oid}",
            " ".join(f"ORI/{o}" for o in term.oris),
            f"MAILBOX/{self.mailboxes.count(tid)} MESSAGES WAITING",
        ])
        in_row = self.journal.row(seq, "in", journal_text, link=session.peer, terminal=tid,
                                  operator=oid, ori=term.oris[0], key="LOGON",
                                  disposition="accepted")
        self.answer(session, body, ref=seq, key="SON", pre=[in_row, *extra],
                    then=lambda: self._bind(session, tid))

    def _bind(self, session: Session, tid: str) -> None:
        """The sign-on is durable: the session is now where the terminal's mail goes."""
        if session.terminal != tid or session.link is None or getattr(session.link, "closed",
                                                                      False):
            return
        old = self.online.get(tid)
        if old is not None and old is not session:
            old.terminal = None
            if old.link is not None:
                old.write(self._envelope(0, tid, "\n".join([
                    responses.head("SOF", tid), f"TERMINAL {tid} SIGNED ON FROM ANOTHER LINK"])))
                old.link.close()
        self.online[tid] = session
        for _osn, frame in self.mailboxes.pending(tid):
            session.write(frame)

    def _unbind(self, session: Session) -> None:
        tid = session.terminal
        if tid is not None and self.online.get(tid) is session:
            del self.online[tid]
        session.terminal = None
        session.operator = ""

    def _logoff(self, session: Session, seq: int, text: str, msg: Message) -> None:
        tid = session.terminal or ""
        if msg.args[0] != tid:
            self._refuse(session, seq, text, Reject(
                SIGN_ON, f"SIGN OFF NAMES {msg.args[0]} BUT THIS LINK IS SIGNED ON AS {tid}",
                "TERMINAL", text[:100]), "rejected", key="LOGOFF")
            return
        in_row = self.journal.row(seq, "in", text, link=session.peer, terminal=tid,
                                  operator=session.operator, key="LOGOFF",
                                  disposition="accepted")
        self._unbind(session)
        body = "\n".join([responses.head("SOF", tid), f"TERMINAL {tid} SIGNED OFF"])
        self.answer(session, body, ref=seq, key="SOF", pre=[in_row])

    def _ack_message(self, session: Session, seq: int, text: str, msg: Message) -> None:
        token = msg.args[0]
        if not (token.isdigit() and token.isascii() and len(token) <= MAX_OSN_DIGITS):
            self._refuse(session, seq, text, Reject(
                BAD_FORMAT, f"ACK NEEDS AN OUTPUT SEQUENCE NUMBER, NOT {token[:10]}", "OSN",
                text[:100]), "rejected", key="ACK")
            return
        self._ack(session, seq, text, int(token))

    def _ack(self, session: Session, seq: int, text: str, osn: int) -> None:
        tid = session.terminal or ""
        take = self.mailboxes.ack(tid, osn)
        rows = [self.journal.row(seq, "in", text, link=session.peer, terminal=tid,
                                 operator=session.operator, key="ACK",
                                 disposition="acked" if take else "ack-unknown", osn=osn)]
        if take:
            rows.append(take)
        self.writer.submit_nowait(rows)

    def link_lost(self, session: Session) -> None:
        self.stats["links_closed"] += 1
        self._unbind(session)
        session.link = None

    # ------------------------------------------------------------------ outbound

    def _session_ori(self, session: Session) -> str:
        if session.terminal:
            return self.directory.terminals[session.terminal].oris[0]
        return "UNKNOWN"

    def _envelope(self, osn: int, terminal: str, body: str) -> str:
        # strftime costs ~5 µs per envelope: format the date and time once per lab second.
        second = math.floor(self.clock.timestamp())
        if second != self._stamp_second:
            now = datetime.fromtimestamp(second, self.clock.tz)
            self._stamp_second = second
            self._stamp_text = f"DTE/{now:%Y%m%d} TIM/{now:%H%M%S}"
        return f"OSN/{osn:07d} TRM/{terminal or 'NONE'} {self._stamp_text}\n{body}"

    def nlets_clock(self, req: Request) -> NletsClock:
        return self.nlets_clock_for(req.seq, req.received)

    def nlets_clock_for(self, seq: int, received: datetime | None = None) -> NletsClock:
        """Times and sequence numbers for the Nlets header of a message the switch sends
        (``seq`` is the journal seq of the input it answers, 0 for none)."""
        self._nlets_out = self._nlets_out % 99999 + 1
        now = self.clock.now()
        return NletsClock(received or now, seq % 100000, now, self._nlets_out)

    def answer(self, session: Session, body: str, *, ref: int, key: str,
               pre: list[Statement] | None = None, then: Any = None) -> Deferred[None]:
        """A session-level answer (OSN 0): journaled, then written to this link only."""
        seq = self.journal.next_seq()
        frame = self._envelope(0, session.terminal or "", body)
        rows = [*(pre or []), self.journal.row(
            seq, "out", frame, link=session.peer, terminal=session.terminal or "", key=key,
            disposition="sent", ref=ref)]

        def send(_: None) -> None:
            session.write(frame)
            if then is not None:
                then()

        d = self.writer.submit(rows)
        d.addCallback(send)
        d.addErrback(self._journal_failed, session, seq)
        return d

    def deliver(self, terminal: str, body: str, *, ref: int = 0, key: str = "", ori: str = "",
                sensitive: str = "", pre: list[Statement] | None = None) -> None:
        """Queue ``body`` for ``terminal``: journal + mailbox in one commit, then send."""
        rows = [*(pre or [])]
        osn = self._queue(rows, terminal, body, ref=ref, key=key, ori=ori, sensitive=sensitive)
        self.writer.commit(rows, self._sent, [(terminal, osn)])

    def _queue(self, rows: list[Statement], terminal: str, body: str, *, ref: int, key: str,
               ori: str, sensitive: str, stamp: str = "") -> int:
        """Add the journal and mailbox rows of one message for ``terminal``; its OSN."""
        body, disposition = self._disseminate(terminal, body, sensitive)
        osn = self.mailboxes.next_osn(terminal)
        seq = self.journal.next_seq()
        frame = self._envelope(osn, terminal, body)
        rows.append(self.journal.row(seq, "out", frame, terminal=terminal, ori=ori, key=key,
                                     disposition=disposition, osn=osn, ref=ref, time=stamp))
        rows.append(self.mailboxes.put(terminal, osn, seq, frame))
        self.stats["messages_out"] += 1
        return osn

    def _sent(self, error: BaseException | None, sends: list[tuple[str, int]]) -> None:
        """Messages are durable: send those whose terminal is on line."""
        if error is not None:
            log.failure("delivery to {t} failed", Failure(error), t=[t for t, _ in sends])
            return
        online = self.online
        for terminal, osn in sends:
            frame = self.mailboxes.committed(terminal, osn)
            session = online.get(terminal)
            if frame is not None and session is not None:
                session.write(frame)

    def deliver_to_ori(self, ori: str, body: str, **kw: Any) -> list[str]:
        """Deliver to every terminal bound to ``ori`` (a record owner's notice, a broadcast);
        the terminals it went to."""
        terminals = self.directory.terminals_by_ori.get(ori, [])
        for t in terminals:
            self.deliver(t, body, ori=ori, **kw)
        return list(terminals)

    def _disseminate(self, terminal: str, body: str, sensitive: str) -> tuple[str, str]:
        """Rules applied at delivery: R8 (no FBI record to non-CJ) and R9 (no record by radio)."""
        if not sensitive:
            return body, "queued"
        term = self.directory.terminals.get(terminal)
        key, ori = responses.first_line_key(body)
        if key == "NRC":  # "no record" holds no record: it goes anywhere, radio included
            return body, "queued"
        if sensitive == "iii" and not self.directory.terminal_is_cj(terminal):
            return "\n".join([
                responses.head("NTC", ori),
                "FBI CRIMINAL HISTORY NOT DELIVERED - RECEIVING TERMINAL IS NOT A CRIMINAL "
                "JUSTICE AGENCY (OAR 257-010-0025(3))"]), "withheld-noncj"
        if term is not None and term.radio:
            return "\n".join([
                responses.head("NTC", ori),
                f"CRIMINAL HISTORY RECORD ({key}) ON FILE - NOT SENT OVER RADIO TO {terminal}",
                "REQUEST IT AT A WIRED TERMINAL (OAR 257-010-0025(9))"]), "withheld-radio"
        return body, "queued"
