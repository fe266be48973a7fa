"""The switch: parse, policy, journal, route, mailboxes and delivery for the sessions on links.

A frame's way through (DESIGN.md): the link's framer hands the frame to its ``Session``
(``lems.session``); the switch numbers it, parses and validates it, applies policy
(``lems.policy``), and journals it with its disposition; only when that row is committed does
anything visible happen (an answer, a forward). Every output for a terminal goes through its
mailbox: journaled and queued in one commit, sent when committed and the terminal is on line,
removed when the terminal sends ``ACK.<osn>``.

Wire envelope (``formats.envelope``, on every framing): each output frame starts with the line
``OSN/0000042 TRM/T01 DTE/20261123 TIM/143211`` — the terminal's output sequence number, terminal,
lab date and time — then the body. OSN 0 marks a session answer (sign-on, sign-off, a reject
before sign-on) that is journaled but not queued and needs no acknowledgement.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet import threads
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from formats import envelope, ncic_header, nlets_xml, outbound, responses
from formats.codes import CodeBook
from formats.dictionary import Dictionary
from formats.errors import Reject, RejectError
from formats.grammar import Parser, control_of
from formats.message import Message
from formats.ori import ori_problem
from formats.rejects import RejectCode
from formats.responses import NletsClock
from hardware import endpoints, fair
from lems import mailbox, retention, services, store
from lems.accept import AcceptGate
from lems.clock import LabClock, lab_zone, resume_at
from lems.directory import Directory
from lems.journal import ISN_PUT, Journal
from lems.lab import IAK_MODES, LabConfig
from lems.lablock import LabLock
from lems.limits import PRE_SIGNON_BYTES, Rates, shortened
from lems.mailbox import Mailboxes
from lems.policy import Policy
from lems.repositories import meta
from lems.router import Reply, Request, Router
from lems.session import Session, SignOn, peer_host
from lems.signon import mask_logon
from lems.store import Statement, Writer, when_committed

if TYPE_CHECKING:
    from lems.reactor import ISwitchReactor

log = Logger()


ISN_DIGITS = 9
"""Most digits of an input sequence number (``ISN/<n>`` first line of a numbered message)."""

ISN_MEMORY = timedelta(days=1)
"""How long (lab time) an ISN is remembered: a resend within it is a duplicate; after it the
terminal may use the number again (a terminal that restarts its count each day)."""

SESSION_CONTROL = frozenset({"ACK", "LOGON", "LOGOFF"})
"""Keys that run the session rather than ask anything: never answered with an IAK on an
``iak=all`` link (an ACK answered would want an ACK of its own)."""

REASON_LIMIT = 400
"""Longest reject reason sent: a reason quoting an input value is cut, visibly, here."""

MAX_OSN_DIGITS = 18
"""An ``ACK.<osn>`` with more digits than this is refused (OSNs are 7 digits on the wire)."""


class Switch:
    """One running lab."""

    def __init__(
        self, lab: LabConfig, reactor: ISwitchReactor, *, clock: LabClock | None = None
    ) -> None:
        self.lab = lab
        self.reactor = reactor
        self._own_clock = clock is None
        self.clock = clock or LabClock(reactor, lab.clock_speed)
        if lab.codes_dir or lab.dictionary:
            codes = CodeBook.load_dir(lab.codes_dir) if lab.codes_dir else CodeBook.builtin()
            self.dictionary = Dictionary.load(lab.dictionary, codes)
        else:
            self.dictionary = Dictionary.default()
        self.parser = Parser(self.dictionary)
        self.directory = Directory(lab)
        self.policy = Policy(self.directory)
        self.terminal_rates = Rates(lab.switch.rate_frames, lab.switch.rate_bytes, reactor.seconds)
        self.source_rates = Rates(
            lab.switch.source_frames, lab.switch.source_bytes, reactor.seconds
        )
        self._closed_rows: dict[str, tuple[float, int]] = {}
        """Address -> (when its last LINK CLOSED row was journaled, links closed since)."""
        self.router = Router(self.directory, self.nlets_clock)
        self.online: dict[str, Session] = {}
        self.sessions: set[Session] = set()
        """Every connected link, signed on or not (a storage failure is told to all)."""
        self.signon: SignOn = SignOn(self)
        """``LOGON``, ``LOGOFF`` and the sign-on deadline (``lems.session``)."""
        self.failed: str = ""
        """Why storage failed (empty while it works): input is refused, the switch stops."""
        self.on_fatal: list[Any] = []
        """Callables ``fn(reason)`` run once when storage fails (``lems serve`` exits)."""
        self._disposition = ""
        """What became of the last frame received (for its input acknowledgement)."""
        self._isn_uncommitted: dict[tuple[str, int], int] = {}
        """(terminal, ISN) -> journal seq of numbered messages whose ISN row is not durable."""
        self._full_noticed: set[str] = set()
        """Terminals whose full mailbox the control terminals have been told of."""
        self._notices: list[tuple[str, int]] = []
        """(terminal, OSN) of notices queued inside ``_queue``, for its caller to send."""
        self.frame_limit = lab.switch.max_frame
        """The longest frame every listening link carries: outbound messages are cut to it
        (``formats.outbound``) before they are journaled."""
        self.ports: list[Any] = []
        self.stats: Counter[str] = Counter()
        self.accept_gate = AcceptGate(
            self.source_rates,
            lab.switch.source_links,
            reactor,
            _signed_on,
            self._refused_at_accept,
            self.stats,
        )
        """Connections from an address over its limits are closed as accepted (lems.accept)."""
        self._nlets_out = 0
        nlets = lab.endpoints.get("nlets")
        default = nlets.format if nlets is not None else "legacy"
        self._xml_terminals = frozenset(
            t.id for t in lab.terminals.values() if (t.nlets_format or default) == "xml"
        )
        """Terminals that take their Nlets traffic in Nlets XML (lab.toml: the terminal's
        ``nlets_format``, else the nlets endpoint's ``format``)."""
        self._ncic_headers = {
            t.id: ncic_header.line(h)
            for t in lab.terminals.values()
            if (h := lab.switch.ncic_header if t.ncic_header is None else t.ncic_header)
        }
        """Terminal -> the NCIC interface header line above NCIC's messages to it (lab.toml:
        the terminal's ``ncic_header``, else ``[switch] ncic_header``)."""
        self._stamp_second = -1
        self._stamp_text = ""
        self._poll: LoopingCall | None = None
        self._save_time: LoopingCall | None = None
        self.started = False
        self.stop_hooks: list[Any] = []
        """Callables run at stop (services closing links, cancelling timers); may return
        Deferreds, which stop waits for."""
        self.state: Any = None
        """The state services (``lems.state.install.StateServices``) once installed."""
        self.federation: Any = None
        """The Nlets network node (``lems.federation.node.Node``) once installed."""

    # ------------------------------------------------------------------ life cycle

    HEARTBEAT = 5.0
    """Seconds between heartbeat commits; each touches the lab lock (``lems health``)."""

    def start(self) -> None:
        """Lock the lab, open the database (migrating it), load state, start the writer."""
        self.lab.database.parent.mkdir(parents=True, exist_ok=True)
        self.lock = LabLock(
            self.lab.database, "command " + " ".join([Path(sys.argv[0]).name, *sys.argv[1:3]])
        )
        try:
            self.reader = store.open_for_writing(self.lab.database)
        except BaseException:
            self.lock.release()
            raise
        self.directory.load_state(self.reader)
        self.writer = Writer(self.lab.database, self.reactor, on_failure=self.storage_failed)
        if self._own_clock:  # resume the scenario where it was; never back (lems/clock.py)
            self.clock.rebase(resume_at(self.reader, self.lab.start, lab_zone(self.lab.timezone)))
        self._save_time = LoopingCall(self.save_lab_time)
        self._save_time.clock = self.reactor
        self._save_time.start(1.0, now=True)
        self.journal = Journal(self.writer, self.clock, self.reader)
        self.mailboxes = Mailboxes(self.reader)
        self._poll = LoopingCall(self._poll_directory)
        self._poll.clock = self.reactor
        self._poll.start(1.0, now=False)
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.clock = self.reactor
        self._heartbeat.start(self.HEARTBEAT, now=True)
        self._retain: LoopingCall | None = None
        self._retaining = False
        if self.lab.journal.keep_days > 0 or self.lab.journal.keep_mb > 0:
            self._retain = LoopingCall(self._archive)
            self._retain.clock = self.reactor
            self._retain.start(self.lab.journal.archive_every, now=False)
        self.journal.append("sys", f"SWITCH STARTED {self.lab.name}", disposition="start")
        self.started = True
        services.install(self)
        self._recover()

    RECOVERY_WINDOW = 20_000
    """How many journal rows back crash recovery looks for accepted requests never answered."""

    CHANGE_VERBS = frozenset({"enter", "modify", "cancel", "clear", "locate"})
    """Verbs that change a record: not run again after a crash (they may have been applied)."""

    RECOVERY_WAIT_S = 10.0
    """How long recovery waits for the services' links to come up before it routes anyway."""

    def _recover(self) -> None:
        """Answer every request accepted before a crash whose answer never committed: its
        inbound row is durable, so its sender was acknowledged, and an acknowledged request must
        not go unanswered (issue 14).

        * Relayed traffic (AM, AML, YQ, YR) and queries are routed again: a query has no effect,
          so running it again answers it exactly once (only requests with no answer row are
          taken, and the answer's commit is atomic).
        * A request that changes a record (an entry, modify, cancel, clear, locate, to NCIC or
          a state file) may or may not have been applied before the crash; running it again
          could apply it twice (or answer DUPLICATE RECORD to an entry that succeeded). It gets
          a journaled, delivered notice instead, naming the message, saying it was not run again
          and asking the operator to check the record before resending.

        Requests queued for a national system that was down keep their own recovery (the
        endpoint client queues them again: their queued notice is their answer row)."""
        floor = self.journal.last_seq - self.RECOVERY_WINDOW
        skip = ("LOGON", "LOGOFF", "ACK")
        answered = self.journal.answered_since(floor)
        seqs = [
            seq
            for (seq, key) in self.journal.accepted_since(floor)
            if key not in skip and seq not in answered
        ]
        rerun: list[Request] = []
        for seq in seqs:
            req = self.journaled_request(seq)
            if req is None:
                continue
            changes = req.spec.verb in self.CHANGE_VERBS and req.spec.verb not in self.router.routes
            self.stats["recovered"] += 1
            trace = self.journal.row(
                self.journal.next_seq(),
                "sys",
                f"RECOVERED {req.msg.full_key} SEQ/{seq}"
                + (" - NOT RUN AGAIN, SENDER NOTIFIED" if changes else ""),
                terminal=req.terminal,
                ori=req.msg.ori,
                key=req.msg.full_key,
                disposition="recovered",
                ref=seq,
            )
            if changes:
                self.stats["recovered_notified"] += 1
                self.deliver(
                    req.terminal,
                    self._not_rerun_notice(req),
                    ref=seq,
                    key="NTC",
                    ori=req.msg.ori,
                    pre=[trace],
                    to_sender=True,
                )
            else:
                self.writer.submit_nowait([trace])
                rerun.append(req)
        relayed = [r for r in rerun if r.spec.verb in self.router.routes]
        for req in relayed:
            self.router.route(req).addCallback(self.send_replies, req)
        routed = [r for r in rerun if r.spec.verb not in self.router.routes]
        if routed:
            self._recover_when_ready(routed, self.reactor.seconds() + self.RECOVERY_WAIT_S)

    def _recover_when_ready(self, reqs: list[Request], deadline: float) -> None:
        """Route recovered requests once the services they go to have their links up (a
        service that is still connecting would answer NOT AVAILABLE), or at the deadline."""
        if not self.started:
            return
        waiting = any(
            getattr(self.router.services.get(self.router.service_for(r.spec)), "link", True) is None
            for r in reqs
        )
        if waiting and self.reactor.seconds() < deadline:
            self.reactor.callLater(0.05, self._recover_when_ready, reqs, deadline)
            return
        for req in reqs:
            self.router.route(req).addCallback(self.send_replies, req)

    def _not_rerun_notice(self, req: Request) -> str:
        return "\n".join(
            [
                responses.head("NTC", req.msg.ori),
                *responses.page(
                    [
                        f"{req.msg.full_key} (SEQ/{req.seq}) WAS ACCEPTED BEFORE A SWITCH RESTART "
                        "BUT ITS RESULT WAS NOT RECORDED. IT WAS NOT RUN AGAIN, SO IT IS NOT "
                        "APPLIED TWICE. "
                        "QUERY THE RECORD TO SEE WHETHER IT WAS APPLIED BEFORE SENDING IT AGAIN."
                    ]
                ),
                "ORIGINAL MESSAGE",
                *responses.cut(req.msg.raw[:100]),
            ]
        )

    def journaled_request(self, seq: int) -> Request | None:
        """The accepted inbound message journaled as ``seq``, rebuilt as a ``Request`` (for work
        that must go on after a restart); None if it is gone or no longer makes sense."""
        row = self.journal.inbound(seq)
        if row is None or row[1] not in self.directory.terminals:
            return None
        text = row[4]
        xml = nlets_xml.is_xml(text)
        if xml:
            try:
                text = nlets_xml.to_legacy(nlets_xml.decode(text))
            except RejectError:
                return None
        msg = self.read(text)
        if isinstance(msg, Reject):
            return None
        return Request(
            seq,
            row[1],
            row[2],
            msg,
            self.dictionary.keys[msg.full_key],
            datetime.fromisoformat(row[0]),
            row[3],
            xml,
        )

    def read(self, text: str) -> Message | Reject:
        """Parse and validate a terminal's legacy-text message. An NCIC interface header in
        front (``1N01<header>.``, ``formats.ncic_header``) is taken off first: the journal
        keeps the input as received, the message after the header is what is checked, routed
        and sent on."""
        if text[:4] == ncic_header.IN_MARK:
            split = ncic_header.split(text)
            if isinstance(split, Reject):
                return split
            text = split[1]
        return self.parser.check(text)

    SESSION_OPTIONS = ("resend", "window", "iak")
    """Options of a listener string the switch takes for itself: ``resend=SECONDS`` (0: no
    in-session resend on this link), ``window=N`` (unacknowledged messages at once) and
    ``iak=numbered|all`` (which input gets an input acknowledgement)."""

    def listen(self, description: str) -> Deferred[Any]:
        """Listen on ``description``; ``resend=``, ``window=`` and ``iak=`` set the delivery of
        the sessions on it (default: the lab's ``resend_after``, ``window`` and ``iak``)."""
        limit = endpoints.split(description)[2].get("max_frame", "")
        if limit.isdigit():
            self.frame_limit = max(outbound.MIN_LIMIT, min(self.frame_limit, int(limit)))
        kept, options = [], {}
        for part in description.split(":"):
            name, eq, value = part.partition("=")
            if eq and name in self.SESSION_OPTIONS:
                options[name] = value
            else:
                kept.append(part)
        try:
            resend_s = float(options.get("resend", self.lab.switch.resend_after))
            window = int(options.get("window", self.lab.switch.window))
        except ValueError:
            raise endpoints.EndpointError(
                f"bad endpoint {description!r}: resend= must be seconds and window= a whole number"
            ) from None
        if resend_s < 0 or window < 0:
            raise endpoints.EndpointError(
                f"bad endpoint {description!r}: resend= and window= must not be negative"
            )
        iak = options.get("iak", self.lab.switch.iak)
        if iak not in IAK_MODES:
            raise endpoints.EndpointError(
                f"bad endpoint {description!r}: iak= must be numbered or all, not {iak!r}"
            )
        iak_all = iak == "all"
        d = endpoints.listen(
            self.reactor,
            ":".join(kept),
            lambda: Session(self, resend_s, window, iak_all),
            self.lab.switch.max_frame,
        )
        return d.addCallback(self._listening)

    def _listening(self, port: Any) -> Any:
        self.ports.append(port)
        self.accept_gate.guard(port)
        return port

    def stop(self) -> Deferred[None]:
        """Stop listening, close links, commit everything queued, close the database."""
        if not self.started:
            return succeed(None)
        self.started = False
        if self._poll is not None and self._poll.running:
            self._poll.stop()
            self._heartbeat.stop()
            if self._retain is not None and self._retain.running:
                self._retain.stop()
        if self._save_time is not None and self._save_time.running:
            self._save_time.stop()
        stops = [maybe for p in self.ports if (maybe := p.stopListening()) is not None]
        self.accept_gate.stop()
        stops += [d for hook in self.stop_hooks if (d := hook()) is not None]
        # every link, signed on or not: one paused for its rate is in no reactor list, and
        # left open it would hold its socket until the garbage collector found it
        for session in {*self.sessions, *self.online.values()}:
            if session.link:
                session.link.close()
        if not self.failed:
            self.journal.append("sys", "SWITCH STOPPED", disposition="stop")
            self.save_lab_time()
            # the next start reads the journal after this point only (lems.mailbox.OSN_MARK)
            self.writer.submit_nowait([self.mailboxes.mark(self.journal.last_seq)])

        def release(result: object) -> object:  # the lock goes whatever happened
            self.lock.release()
            return result

        chain: Deferred[Any] = DeferredList(stops) if stops else succeed(None)
        chain.addCallback(lambda _: self.writer.stop())
        chain.addCallback(lambda _: self.reader.close())
        chain.addBoth(release)
        stopped: Deferred[None] = chain.addCallback(lambda _: None)
        return stopped

    def _archive(self) -> Deferred[None] | None:
        """Retention (``lems.retention``): export old rows in a thread, then delete them through
        the writer, so the journal stays bounded while the switch serves."""
        if self._retaining or self.failed:
            return None
        self._retaining = True
        lab = self.lab

        def export() -> retention.Archived:
            conn = sqlite3.connect(f"file:{lab.database}?mode=ro", uri=True)
            try:
                upto = retention.cutoff(conn, lab.journal.keep_days, lab.journal.keep_mb)
                return retention.export(
                    conn, upto, retention.archive_directory(lab.database), lab.name
                )
            finally:
                conn.close()

        def exported(done: retention.Archived) -> Deferred[None] | None:
            if not done.rows:
                return None
            log.info(
                "journal: {n} rows (seq {a}-{b}) archived to {path}",
                n=done.rows,
                a=done.first,
                b=done.last,
                path=done.path,
            )
            self.stats["archived_rows"] += done.rows
            return when_committed(self.writer, [retention.delete_statement(done)])

        def failed(f: Failure) -> None:
            log.error("journal archive failed: {why}; nothing deleted", why=f.getErrorMessage())

        def done(_: Any) -> None:
            self._retaining = False

        return (
            threads.deferToThreadPool(self.reactor, self.reactor.getThreadPool(), export)
            .addCallback(exported)
            .addErrback(failed)
            .addBoth(done)
        )

    def _beat(self) -> None:
        """A commit through the writer; once durable, the lab lock's time moves."""
        if self.failed:
            return
        when_committed(self.writer, [meta.alive(self.clock.stamp())]).addCallbacks(
            lambda _: self.lock.touch(), lambda f: None
        )

    STORAGE_NOTICE = "SWITCH STORAGE FAILED - NO MESSAGE CAN BE ACCEPTED - SWITCH STOPPING"

    def storage_failed(self, reason: str) -> None:
        """Nothing more can be journaled (the writer died, the database cannot be written).

        A switch that cannot journal must not pretend to work: every connected link is told
        once (an ``NTC`` notice, OSN 0, on its own framing), every later frame is refused with a
        reject, and the ``on_fatal`` hooks run (``lems serve`` exits non-zero so a supervisor
        restarts it). The notice and the rejects are not journaled: nothing can be."""
        if self.failed:
            return
        self.failed = reason or "storage failed"
        self.stats["storage_failed"] += 1
        log.critical(
            "switch stopping after a storage failure: {n} links told, new input refused",
            n=len(self.sessions),
        )
        for session in list(self.sessions):
            session.write(
                self._envelope(
                    0,
                    session.terminal or "",
                    "\n".join(
                        [
                            responses.head("NTC", self._session_ori(session)),
                            self.STORAGE_NOTICE,
                            "MESSAGES NOT ACKNOWLEDGED WERE NOT RECEIVED - "
                            "SEND THEM AGAIN AFTER RESTART",
                        ]
                    ),
                )
            )
        for hook in self.on_fatal:
            try:
                hook(self.failed)
            except Exception:
                log.failure("storage failure hook failed")

    def _refuse_unjournaled(
        self, session: Session, text: str, reason: str, code: str = RejectCode.NOT_AVAILABLE
    ) -> None:
        """A reject that is not journaled (storage failed, disk full, a flood's repeats):
        straight to the link, OSN 0, with a NAK on framings that have one."""
        self.stats[f"refused:unjournaled:{code}"] += 1
        rej = Reject(code, reason, None, text[:100])
        if session.link is not None:
            session.link.nak()
        session.write(
            self._envelope(
                0, session.terminal or "", responses.reject(rej, self._session_ori(session))
            )
        )

    def _within_limits(self, session: Session, payload: bytes) -> bool:
        """Per-link limits (``lems.limits``): False when the frame was refused or the link
        closed."""
        if session.terminal is None:
            session.pre += 1
            cap = self.lab.switch.presignon_frames
            if 0 < cap < session.pre:
                self._close_unsigned(session, payload)
                return False
            over = self.source_rates.allow(peer_host(session.peer), len(payload))
            rates = self.source_rates
        elif payload[:4] == b"ACK.":
            return True  # answers the switch's own output, whose pace the switch sets
        else:
            over = self.terminal_rates.allow(session.terminal, len(payload))
            rates = self.terminal_rates
        if over is None:
            return True
        self.stats["refused:rate"] += 1
        if session.throttled is not None:  # told already: counted, answered when it resumes
            session.throttled += 1
            return False
        who = "THIS TERMINAL" if session.terminal else "THIS ADDRESS BEFORE SIGN-ON"
        text = shortened(mask_logon(payload.decode("latin-1")))
        rej = Reject(
            RejectCode.RATE_LIMIT,
            f"TOO MUCH TRAFFIC FROM {who} - LIMIT {rates.describe()} - "
            "MESSAGE NOT ACCEPTED, SEND IT AGAIN LATER",
            None,
            text[:100],
        )
        now = self.reactor.seconds()
        if self.failed or now - over.refused_at < 1.0:
            # journaled once a second per terminal or address: new links of a flooding address
            # must not each write a row
            self._refuse_unjournaled(session, text, rej.reason, RejectCode.RATE_LIMIT)
        else:
            over.refused_at = now
            self._refuse(session, self.journal.next_seq(), text, rej, "refused")
        self._throttle(session, rates.describe())
        return False

    RATE_PAUSE = 1.0
    """Seconds a link over its rate is not read (TCP pushes back on the sender)."""

    def _throttle(self, session: Session, limit: str) -> None:
        """Stop reading the link for ``RATE_PAUSE``: the peer's own socket holds what it sends
        meanwhile (as Kafka throttles a client over its quota), so a flood costs neither CPU
        nor journal. Frames already read meanwhile are counted and answered by one notice."""
        session.throttled = 0
        link = session.link
        if hasattr(link, "holds"):  # a framed link (hardware.fair): others may hold it too
            fair.hold(link, "rate")
        self.reactor.callLater(self.RATE_PAUSE, self._unthrottle, session, limit, link)

    def _unthrottle(self, session: Session, limit: str, link: Any) -> None:
        count, session.throttled = session.throttled or 0, None
        if session.link is None:
            return
        if hasattr(link, "holds"):
            fair.release(link, "rate")
        if count:
            body = "\n".join(
                [
                    responses.head("NTC", self._session_ori(session)),
                    f"RATE LIMIT - {count} MORE FRAMES NOT ACCEPTED - LIMIT {limit}",
                    "SEND THEM AGAIN",
                ]
            )
            if self.failed or session.terminal is None:  # not journaled before sign-on
                session.write(self._envelope(0, session.terminal or "", body))
            else:
                self.answer(session, body, ref=0, key="NTC")

    def _close_unsigned(self, session: Session, payload: bytes) -> None:
        """Too many frames without a sign-on: one row with a count and a digest, then close."""
        self.stats["links_closed_unsigned"] += 1
        if session.link is None:
            return
        cap = self.lab.switch.presignon_frames
        if session.pre > cap + 1:
            return  # closing already (the answers before are being committed)
        digest = hashlib.sha256(payload).hexdigest()[:16]
        log.info("link {peer} closed: {n} frames without a sign-on", peer=session.peer, n=cap)
        if hasattr(session.link, "holds"):  # read nothing more while the answers are committed
            fair.hold(session.link, "closing")

        def close(_: Any) -> None:  # after the answers to the frames before (commit order)
            if session.link is not None:
                session.write(
                    self._envelope(
                        0,
                        "",
                        "\n".join(
                            [
                                responses.head("NTC", "UNKNOWN"),
                                f"LINK CLOSED - {cap} FRAMES WITHOUT A SIGN-ON",
                            ]
                        ),
                    )
                )
                session.link.close()

        host = peer_host(session.peer)
        now = self.reactor.seconds()
        last, quiet = self._closed_rows.get(host, (-1e9, 0))
        if self.failed:
            close(None)
            return
        if now - last < 1.0:
            # one row a second per address: the links closed meanwhile are counted in the next
            self._closed_rows[host] = (last, quiet + 1)
            when_committed(self.writer, []).addBoth(close)
            return
        if len(self._closed_rows) > 10_000:
            self._closed_rows.clear()
        self._closed_rows[host] = (now, 0)
        more = f"; {quiet} MORE LINKS FROM {host} CLOSED ALIKE SINCE THE LAST ROW" if quiet else ""
        when_committed(
            self.writer,
            [
                self.journal.row(
                    self.journal.next_seq(),
                    "sys",
                    f"LINK CLOSED: {cap} FRAMES WITHOUT SIGN-ON, THEN 1 MORE "
                    f"({len(payload)} BYTES SHA256/{digest}){more}",
                    link=session.peer,
                    disposition="closed",
                )
            ],
        ).addBoth(close)

    def link_opened(self, session: Session) -> None:
        """A new link. One not signed on costs its address one frame of its rate: an address
        over its rate has new links closed at once, before anything is read from them (on
        listening ports, ``lems.accept`` has done so already as it accepted the connection)."""
        if getattr(session.link, "gated", False):
            return
        over = self.source_rates.allow(peer_host(session.peer), 0)
        if over is not None and session.link is not None:
            self.stats["links_refused_rate"] += 1
            session.link.close()

    def _refused_at_accept(self, host: str, text: str) -> None:
        """The accept gate's summary of the connections it refused from ``host``."""
        if not self.failed:
            self.writer.submit_nowait(
                [
                    self.journal.row(
                        self.journal.next_seq(), "sys", text, link=host, disposition="refused"
                    )
                ]
            )

    def save_lab_time(self) -> None:
        """Persist lab time, so a restart never sends the lab back (``lems.clock``), and which
        terminals are signed on (with the wall time of this save), so ``lems send`` can refuse
        to sign a trainee's console off (``lems.repositories.meta``)."""
        if self.failed:  # nothing can be written any more
            return
        online = ",".join(sorted(self.online)) if self.started else ""
        stamp = time.time() if self.started else 0.0  # stopped: no longer fresh
        self.writer.submit_nowait(
            [meta.lab_time(self.clock.now().isoformat()), meta.online(stamp, online)]
        )

    def _poll_directory(self) -> None:
        try:
            if self.directory.load_state(self.reader):
                self.stats["directory_reloads"] += 1
                self._reload_dead_letters()
        except Exception:
            log.failure("directory reload failed")

    def _reload_dead_letters(self) -> None:
        """Journal and act on what an instructor did to dead letters (``lems mail``)."""
        resent, dropped = self.mailboxes.reload_dead()
        rows = [
            self.journal.row(
                self.journal.next_seq(),
                "sys",
                f"DEAD LETTER {t} OSN/{osn:07d} {what} BY INSTRUCTOR",
                terminal=t,
                key="DEAD",
                disposition=f"dead-{what.lower()}",
                osn=osn,
            )
            for what, items in (("RESENT", resent), ("DROPPED", dropped))
            for t, osn in items
        ]
        if rows:
            self.writer.submit_nowait(rows)
        for t, osn in resent:
            session = self.online.get(t)
            if session is not None:  # read that one message, not the terminal's whole mailbox
                frames, _ = self.mailboxes.page(t, osn - 1, 1)
                if frames and frames[0][0] == osn:
                    self._send(session, t, osn, frames[0][1])

    # ------------------------------------------------------------------ inbound

    def receive(self, session: Session, payload: bytes) -> bool | None:
        """One frame from a link; True when the frame's link-level ACK is already arranged
        (it follows the commit of an accepted request)."""
        if session.held is not None:  # a sign-on is being checked: keep the order
            if len(session.held) < (
                self.HOLD_MAX if session.terminal is None else self.HOLD_MAX_SIGNED_ON
            ):
                session.held.append(payload)
            elif session.link is not None:  # not a terminal waiting for its SON: a flood
                self.stats["links_closed_flood"] += 1
                log.warn(
                    "link {peer} sent more than {n} frames while its sign-on was checked: closed",
                    peer=session.peer,
                    n=self.HOLD_MAX,
                )
                session.held = []
                session.link.close()
            return None
        self.stats["frames_in"] += 1
        if not self._within_limits(session, payload):
            return None
        text = payload.decode("latin-1")
        if session.terminal is None and len(text) > PRE_SIGNON_BYTES and mask_logon(text) == text:
            text = shortened(text)  # a peer not signed on never writes much to the journal
        if self.failed:
            self._refuse_unjournaled(session, mask_logon(text), self.STORAGE_NOTICE)
            return None
        if text[:4] == "ISN/":
            return self._receive_numbered(session, text)
        if (
            session.iak_all
            and session.terminal is not None
            and text.lstrip()[:7].split(".", 1)[0].upper() not in SESSION_CONTROL
        ):
            return self._receive_acknowledged(session, text, None)
        return self._receive(session, text)

    def _receive(self, session: Session, text: str) -> bool | None:
        if text[:24].lstrip()[:5].upper() == "LOGON":
            masked = mask_logon(text)
            if masked != text:  # no password in the journal, an echo or a log, in any form
                result = self.parser.check(text)
                if isinstance(result, Reject):
                    self._refuse(
                        session,
                        self.journal.next_seq(),
                        masked,
                        Reject(
                            RejectCode.BAD_FORMAT,
                            "SIGN ON AS LOGON.TERMINAL.OPERATOR.PASSWORD",
                            None,
                            masked[:100],
                        ),
                        "rejected",
                        key="LOGON",
                    )
                    return None
        seq = self.journal.next_seq()
        terminal = session.terminal
        if terminal is not None and text[:4] == "ACK.":
            # the most frequent frame of all, read without the grammar (same result)
            osn = text[4:]
            if osn.isdigit() and osn.isascii() and len(osn) <= MAX_OSN_DIGITS:
                self._ack(session, seq, text, int(osn))
                return None
        xml = text[:1] == "<" or (text[:1].isspace() and nlets_xml.is_xml(text))
        if xml:  # Nlets XML, over whatever framing: read into the one message model
            try:
                read = nlets_xml.decode(text)
            except RejectError as e:
                self._refuse(
                    session, seq, text, e.reject.with_input(text), "rejected", key="XML", xml=True
                )
                return None
            result = self.parser.check(nlets_xml.to_legacy(read))
            if isinstance(result, Reject):
                self._refuse(
                    session, seq, text, result, "rejected", key=read.key, ori=read.ori, xml=True
                )
                return None
        else:
            result = self.read(text)
            if isinstance(result, Reject):
                self._refuse(session, seq, text, result.with_input(text), "rejected")
                return None
        msg = result
        key = msg.full_key
        if key == "LOGON":
            self.signon.logon(session, seq, text, msg)
            return None
        if terminal is None:
            self._refuse(
                session,
                seq,
                text,
                Reject(
                    RejectCode.NOT_SIGNED_ON,
                    "NOT SIGNED ON - SEND LOGON.TERMINAL.OPERATOR.PASSWORD FIRST",
                    "MKE",
                    text[:100],
                ),
                "rejected",
                key=key,
            )
            return None
        if key == "ACK":
            self._ack_message(session, seq, text, msg)
            return None
        if key == "LOGOFF":
            self.signon.logoff(session, seq, text, msg)
            return None
        spec = self.dictionary.keys[key]
        now = self.clock.now()
        rej = self.policy.check(terminal, msg, spec, now.date())
        if rej is not None:
            self.stats[f"refused:{rej.code}"] += 1
            self._refuse(
                session, seq, text, rej.with_input(text), "refused", key=key, ori=msg.ori, xml=xml
            )
            return None
        self.stats["accepted"] += 1
        self.stats[f"key:{key}"] += 1
        req = Request(seq, terminal, session.operator, msg, spec, now, session.peer, xml)
        stamp = self.clock.stamp()
        rows = [
            self.journal.row(
                seq,
                "in",
                text,
                link=session.peer,
                terminal=terminal,
                operator=session.operator,
                ori=msg.ori,
                key=key,
                disposition="accepted",
                time=stamp,
            )
        ]
        replies = self.router.answer_now(req)
        if replies is None:
            # the route acts outside the switch (a national system, a state file): only once
            # the request is durable
            self.writer.commit(rows, self._accepted, session, req)
            return True
        # answered from what the switch holds: request and answers durable in one commit,
        # nothing visible before it
        sends = self._queue_replies(replies, req, rows, stamp)
        self.writer.commit(rows, self._answered, session, seq, sends)
        return True

    def ack_when_journaled(self, link: Any) -> None:
        """ACK a frame on a link with link-level acknowledgement (stx, dle) once everything
        queued for the journal so far, the frame's own row included, is committed."""
        self.writer.commit([], self._journaled, link)

    @staticmethod
    def _journaled(error: BaseException | None, link: Any) -> None:
        if error is None:
            link.ack()
        else:
            link.nak()

    # ------------------------------------------------------------------ input sequence numbers

    def _receive_numbered(self, session: Session, text: str) -> bool | None:
        """A message carrying an input sequence number: a first line ``ISN/<n>``, then the
        message. Once its journal row is committed the sender gets an input acknowledgement
        (``IAK``, a session answer: OSN 0) naming the ISN, the journal sequence number and
        ACCEPTED or REJECTED. A message whose ISN this terminal already used (a resend after a
        lost acknowledgement) is not processed again: it is journaled as a duplicate and
        answered with ``IAK`` DUPLICATE and the original's answers, as they were sent (the
        model: FIX's PossDupFlag, Kafka's idempotent producer)."""
        first, newline, rest = text.partition("\n")
        token = first[4:].strip()
        if not (
            newline
            and rest
            and token.isdigit()
            and token.isascii()
            and len(token) <= ISN_DIGITS
            and int(token) > 0
        ):
            self._refuse(
                session,
                self.journal.next_seq(),
                text,
                Reject(
                    RejectCode.BAD_FORMAT,
                    f"ISN/ MUST BE 1 TO {ISN_DIGITS} DIGITS (NOT 0) ON A LINE OF ITS "
                    "OWN, FOLLOWED BY THE MESSAGE",
                    "ISN",
                    text[:100],
                ),
                "rejected",
                key="ISN",
            )
            return None
        isn = int(token)
        tid = session.terminal
        if tid is not None:
            original = self._isn_original(tid, isn)
            if original:
                self._duplicate(session, tid, rest, isn, original)
                return None
        return self._receive_acknowledged(session, rest, isn)

    def _receive_acknowledged(self, session: Session, text: str, isn: int | None) -> bool | None:
        """Process ``text`` and, once its journal row is committed, send the IAK: ``ISN/<n>``
        first for a numbered message (remembered for duplicates), then ``SEQ/<seq>`` and
        ACCEPTED or REJECTED. The one path for numbered input and for every message on an
        ``iak=all`` link."""
        seq = self.journal.last_seq + 1  # the number _receive gives the message
        self._disposition = "accepted"
        arranged = self._receive(session, text)
        disposition = self._disposition
        tid = session.terminal
        rows: list[Statement] = []
        if isn is not None and tid is not None and disposition != "bad-frame":
            rows.append((ISN_PUT, (tid, isn, seq, self.clock.stamp())))
            self._isn_uncommitted[(tid, isn)] = seq
        word = "ACCEPTED" if disposition == "accepted" else "REJECTED"
        numbered = f"ISN/{isn:07d} " if isn is not None else ""

        def acknowledge(_: Any) -> None:
            if isn is not None:
                self._isn_uncommitted.pop((tid or "", isn), None)
            self._iak(session, f"{numbered}SEQ/{seq:07d} {word}")

        # commits fire in order: this one fires once the message's own row is durable
        when_committed(self.writer, rows).addCallback(acknowledge).addErrback(
            self._journal_failed, session, seq
        )
        return arranged

    def _isn_original(self, terminal: str, isn: int) -> int:
        """The journal seq of the message ``terminal`` sent under ``isn`` within the last
        ``ISN_MEMORY`` (0 if none): one primary-key read, only for numbered messages."""
        seq = self._isn_uncommitted.get((terminal, isn))
        if seq:
            return seq
        since = (self.clock.now() - ISN_MEMORY).isoformat(timespec="microseconds")
        return self.journal.isn_seq(terminal, isn, since)

    def _duplicate(self, session: Session, tid: str, text: str, isn: int, original: int) -> None:
        self.stats["duplicates"] += 1
        seq = self.journal.next_seq()
        row = self.journal.row(
            seq,
            "in",
            mask_logon(text),
            link=session.peer,
            terminal=tid,
            operator=session.operator,
            key=text.split(".", 1)[0][:10],
            disposition="duplicate",
            reason=f"DUPLICATE ISN/{isn} OF SEQ/{original}",
        )

        def resend(_: Any) -> None:
            self._iak(
                session,
                f"ISN/{isn:07d} SEQ/{seq:07d} DUPLICATE OF SEQ/{original:07d} - "
                "ORIGINAL RESULT FOLLOWS",
            )
            for frame in self.journal.answers_to(original, tid, self.RECOVERY_WINDOW):
                self._send(session, tid, 0, frame)

        when_committed(self.writer, [row]).addCallback(resend).addErrback(
            self._journal_failed, session, seq
        )

    def _iak(self, session: Session, line: str) -> None:
        """An input acknowledgement: a session answer (OSN 0), not journaled (the input's own
        row is the record of what happened to it)."""
        tid = session.terminal or ""
        ori = self._session_ori(session)
        self._send(session, tid, 0, self._envelope(0, tid, f"IAK.{ori}\n{line}"))

    def _accepted(self, error: BaseException | None, session: Session, req: Request) -> None:
        if error is not None:
            self._journal_failed(error, session, req.seq)
            return
        if session.link is not None:
            session.link.ack()
        session.routing += 1
        d = self.router.route(req).addCallback(self.send_replies, req)
        d.addBoth(self._routed, session)

    def _routed(self, _: Any, session: Session) -> None:
        session.routing -= 1
        if session.draining and not session.routing:
            self._close_when_written(session)

    def _answered(
        self, error: BaseException | None, session: Session, seq: int, sends: list[tuple[str, int]]
    ) -> None:
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

    def deliver_replies(
        self, replies: list[Reply], req: Request, pre: list[Statement]
    ) -> Deferred[None]:
        """Journal ``pre`` and queue ``replies`` in one commit, then send them; the Deferred
        fires once that is durable. Traffic arriving from the Nlets network comes in here
        (lems.federation): the broker is acknowledged only when this fires."""
        rows = list(pre)
        sends = self._queue_replies(replies, req, rows)
        d = when_committed(self.writer, rows)
        d.addCallback(lambda _: self._sent(None, sends))
        return d

    def _queue_replies(
        self, replies: list[Reply], req: Request, rows: list[Statement], stamp: str = ""
    ) -> list[tuple[str, int]]:
        """Add the journal and mailbox rows of ``replies`` to ``rows``; the (terminal, OSN) of
        each message to send once they are committed. ``stamp``: the journal time (now)."""
        if not replies:
            # Nothing to deliver (relayed traffic for no local terminal, a service that answers
            # later by itself): leave a trace so crash recovery knows it was routed.
            rows.append(
                self.journal.row(
                    self.journal.next_seq(),
                    "sys",
                    "NO LOCAL DELIVERY",
                    terminal=req.terminal,
                    ori=req.msg.ori,
                    key=req.msg.full_key,
                    disposition="routed",
                    ref=req.seq,
                )
            )
        sends = []
        for r in replies:
            if r.terminal is not None:
                targets = [(r.terminal, "")]
            elif r.ori is not None:
                targets = [(t, r.ori) for t in self.directory.terminals_by_ori.get(r.ori, [])]
            else:
                targets = [(req.terminal, req.msg.ori)]
            for terminal, ori in targets:
                osn = self._queue(
                    rows,
                    terminal,
                    r.body,
                    ref=req.seq,
                    key=r.key,
                    ori=ori,
                    sensitive=r.sensitive,
                    stamp=stamp,
                    sender=req.terminal,
                    xml=req.xml,
                    origin=r.origin,
                )
                if osn:
                    sends.append((terminal, osn))
                    continue
                full = self._mailbox_full_reply(req, terminal)
                sends.append(
                    (
                        req.terminal,
                        self._queue(
                            rows,
                            req.terminal,
                            full.body,
                            ref=req.seq,
                            key=full.key,
                            ori=req.msg.ori,
                            sensitive="",
                            stamp=stamp,
                            sender=req.terminal,
                        ),
                    )
                )
        if self._notices:
            sends += self._notices
            self._notices = []
        return sends

    def receive_bad(self, session: Session, reason: str, raw: bytes) -> None:
        """A frame the framer could not take (too long, bad block check): refuse, keep the link."""
        self.stats["bad_frames"] += 1
        if not self._within_limits(session, raw):
            return
        text = mask_logon(raw.decode("latin-1"))
        if session.terminal is None:
            text = shortened(text)
        if self.failed:
            self._refuse_unjournaled(session, text, self.STORAGE_NOTICE)
            return
        seq = self.journal.next_seq()
        rej = Reject(RejectCode.BAD_FRAME, f"FRAME REFUSED - {reason.upper()}", None, text[:100])
        link = session.link
        damaged = "longer than" not in reason  # resending may cure it; a too-long block not
        if link is not None and damaged:
            link.nak()
        self._refuse(session, seq, text, rej, "bad-frame")
        if link is not None and not damaged and getattr(link, "arq", False):
            self.ack_when_journaled(link)

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
    ) -> None:
        """Refuse a frame: journaled under the sending terminal and its own ORI (an audit files
        a spoof attempt under the agency that made it, naming the ORI it claimed), answered."""
        self._disposition = disposition
        if len(rej.reason) > REASON_LIMIT:  # a reason that quotes a giant field value
            rej = Reject(
                rej.code,
                rej.reason[:REASON_LIMIT] + f"... ({len(rej.reason)} CHARACTERS, CUT)",
                rej.field,
                rej.input,
            )
        if not key:
            key = text.split(".", 1)[0].strip().upper()[:10]
        if not ori:
            parts = text.split(".", 2)
            ori = parts[1].strip().upper()[:9] if len(parts) > 1 else ""
        addressed = ori  # the answer is addressed as the frame was (made safe on the link)
        if ori and ori_problem(ori):
            ori = ""  # not an ORI at all (ACK.1, LOGOFF.T01): nothing was claimed
        terminal = terminal or session.terminal or ""
        own = (
            self.directory.terminals[terminal].oris if terminal in self.directory.terminals else ()
        )
        journal_ori = ori if ori in own or not own else own[0]
        reason = f"{rej.code} {rej.field or ''} {rej.reason}".replace("  ", " ")
        if ori and ori != journal_ori:
            reason += f" CLAIMED ORI/{ori}"
        receiver = addressed if len(addressed) == 9 else self._session_ori(session)
        if rej.code.startswith(".") or xml:
            if not rej.code.startswith("."):  # an XML message is Nlets traffic: an ER answers
                rej = Reject(".00.", rej.reason, rej.field, rej.input)
            body = responses.er(
                rej, self.nlets_clock_for(seq), receiver, "" if xml else control_of(text)
            )
            if xml:
                body = nlets_xml.encode_answer(body)
            out_key = "ER"
        else:
            body = responses.reject(rej, receiver)
            out_key = "REJ"
        in_row = self.journal.row(
            seq,
            "in",
            text,
            link=session.peer,
            terminal=terminal,
            operator=operator or session.operator,
            ori=journal_ori,
            key=key,
            disposition=disposition,
            reason=reason,
            osn=osn,
        )
        pre = [in_row, *(extra or [])]
        if session.terminal is not None:
            self.deliver(
                session.terminal, body, ref=seq, key=out_key, ori=receiver, pre=pre, to_sender=True
            )
        else:
            self.answer(session, body, ref=seq, key=out_key, pre=pre)

    def _journal_failed(self, failure: Any, session: Session, seq: int) -> None:
        """The frame's journal row did not commit: it was not received. The sender gets a
        reject saying so (and a NAK on framings that have one) and may send it again."""
        if isinstance(failure, BaseException):
            failure = Failure(failure)
        error = failure.value
        name = getattr(error, "sqlite_errorname", "")
        if name:  # a known storage condition: one line, not a traceback per frame
            log.error(
                "journal write failed for seq {seq}: {why}",
                seq=seq,
                why=store.problem(name, str(error)),
            )
        elif not self.failed:
            log.failure("journal write failed for seq {seq}", failure, seq=seq)
        why = (
            "DISK FULL"
            if name.startswith("SQLITE_FULL")
            else "SWITCH STORAGE FAILED"
            if self.failed or name
            else "JOURNAL WRITE FAILED"
        )
        self._refuse_unjournaled(
            session, "", f"MESSAGE NOT ACCEPTED - {why} - NOT JOURNALED, SEND IT AGAIN LATER"
        )

    # ------------------------------------------------------------------ session control
    # (LOGON and LOGOFF are answered by lems.session.SignOn; ACK and the end of input here)

    HOLD_MAX = 16
    """Frames kept in order while a sign-on is checked; one more closes the link (a terminal
    waits for its SON before it sends much; a peer that does not is flooding)."""
    HOLD_MAX_SIGNED_ON = 1024
    """The same for a link already signed on that signs on again (it may be pipelining)."""

    def _ack_message(self, session: Session, seq: int, text: str, msg: Message) -> None:
        token = msg.args[0]
        if not (token.isdigit() and token.isascii() and len(token) <= MAX_OSN_DIGITS):
            self._refuse(
                session,
                seq,
                text,
                Reject(
                    RejectCode.BAD_FORMAT,
                    f"ACK NEEDS AN OUTPUT SEQUENCE NUMBER, NOT {token[:10]}",
                    "OSN",
                    text[:100],
                ),
                "rejected",
                key="ACK",
            )
            return
        self._ack(session, seq, text, int(token))

    def _ack(self, session: Session, seq: int, text: str, osn: int) -> None:
        """``ACK.<osn>``: cumulative, every message up to ``osn`` is acknowledged. An OSN never
        sent to this terminal is answered (the terminal has lost count); acknowledging again
        what is already acknowledged is journaled and needs no answer."""
        tid = session.terminal or ""
        last = self.mailboxes.last_osn(tid)
        if not 0 < osn <= last:
            self.stats["ack_unknown"] += 1
            self._refuse(
                session,
                seq,
                text,
                Reject(
                    RejectCode.BAD_ACK,
                    f"NO OUTPUT SEQUENCE NUMBER {osn} WAS SENT TO {tid} - LAST OSN SENT {last:07d}",
                    "OSN",
                    text[:100],
                ),
                "ack-unknown",
                key="ACK",
                osn=osn,
            )
            return
        take, taken = self.mailboxes.ack(tid, osn)
        if taken and session.outflow is not None:
            session.outflow.acked()
        if (
            self._full_noticed
            and tid in self._full_noticed
            and (self.mailboxes.count(tid) < self.lab.switch.mailbox_limit)
        ):
            self._full_noticed.discard(tid)
        rows = [
            self.journal.row(
                seq,
                "in",
                text,
                link=session.peer,
                terminal=tid,
                operator=session.operator,
                key="ACK",
                disposition="acked" if taken else "ack-again",
                osn=osn,
            )
        ]
        if take:
            rows.append(take)
        self.writer.submit_nowait(rows)

    def input_ended(self, session: Session) -> None:
        """The peer will send nothing more: close once every answer to what it sent is
        written (a commit queued now fires after every commit queued before it)."""
        session.draining = True
        if not session.routing:
            self._close_when_written(session)

    def _close_when_written(self, session: Session) -> None:
        def close(_: Any) -> None:
            if session.link is not None and not session.routing:
                session.link.close()

        when_committed(self.writer, []).addCallback(close)

    def link_lost(self, session: Session) -> None:
        self.stats["links_closed"] += 1
        self.signon.unbind(session)
        session.link = None

    # ------------------------------------------------------------------ outbound

    def _terminal_ori(self, terminal: str) -> str:
        term = self.directory.terminals.get(terminal)
        return term.oris[0] if term else ""

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
            self._stamp_text = envelope.stamp(now)
        return envelope.build(osn, terminal, self._stamp_text, body)

    def nlets_clock(self, req: Request) -> NletsClock:
        return self.nlets_clock_for(req.seq, req.received)

    def nlets_clock_for(self, seq: int, received: datetime | None = None) -> NletsClock:
        """Times and sequence numbers for the Nlets header of a message the switch sends
        (``seq`` is the journal seq of the input it answers, 0 for none)."""
        self._nlets_out = self._nlets_out % 99999 + 1
        now = self.clock.now()
        return NletsClock(received or now, seq % 100000, now, self._nlets_out)

    def answer(
        self,
        session: Session,
        body: str,
        *,
        ref: int,
        key: str,
        pre: list[Statement] | None = None,
        then: Any = None,
    ) -> Deferred[None]:
        """A session-level answer (OSN 0): journaled, then written to this link only."""
        seq = self.journal.next_seq()
        frame = self._fit(0, session.terminal or "", body)
        rows = [
            *(pre or []),
            self.journal.row(
                seq,
                "out",
                frame,
                link=session.peer,
                terminal=session.terminal or "",
                key=key,
                disposition="sent",
                ref=ref,
            ),
        ]

        def send(_: None) -> None:
            self._send(session, session.terminal or "", 0, frame)
            if then is not None:
                then()

        d = when_committed(self.writer, rows)
        d.addCallback(send)
        d.addErrback(self._journal_failed, session, seq)
        return d

    def deliver(
        self,
        terminal: str,
        body: str,
        *,
        ref: int = 0,
        key: str = "",
        ori: str = "",
        sensitive: str = "",
        pre: list[Statement] | None = None,
        to_sender: bool = False,
        origin: str = "",
    ) -> None:
        """Queue ``body`` for ``terminal``: journal + mailbox in one commit, then send.
        ``to_sender``: the answer to the terminal's own request (queued even if its mailbox is
        full); ``origin``: the national system the body comes from (``Reply.origin``)."""
        rows = [*(pre or [])]
        osn = self._queue(
            rows,
            terminal,
            body,
            ref=ref,
            key=key,
            ori=ori,
            sensitive=sensitive,
            sender=terminal if to_sender else "",
            origin=origin,
        )
        sends = [(terminal, osn)] if osn else []
        if self._notices:
            sends += self._notices
            self._notices = []
        self.writer.commit(rows, self._sent, sends)

    def _queue(
        self,
        rows: list[Statement],
        terminal: str,
        body: str,
        *,
        ref: int,
        key: str,
        ori: str,
        sensitive: str,
        stamp: str = "",
        sender: str = "",
        xml: bool = False,
        origin: str = "",
    ) -> int:
        """Add the journal and mailbox rows of one message for ``terminal``; its OSN, or 0 if
        the terminal's mailbox is full (``mailbox_limit``: journaled, the instructor told; a
        terminal's answers to its own requests, ``sender``, are always queued).

        An Nlets message in the legacy layout goes in Nlets XML when ``xml`` (it answers an XML
        request) or when the terminal takes Nlets traffic in XML (lab.toml). A message from NCIC
        (``origin``) gets the terminal's NCIC interface header line on top, if it has one."""
        if self.mailboxes.count(terminal) >= self.lab.switch.mailbox_limit and terminal != sender:
            self._mailbox_full(rows, terminal, ref, key, stamp)
            return 0
        body, disposition = self.policy.disseminate(terminal, body, sensitive)
        if origin == "ncic" and disposition == "queued" and terminal in self._ncic_headers:
            body = f"{self._ncic_headers[terminal]}\n{body}"
        if (xml or terminal in self._xml_terminals) and nlets_xml.is_nlets_layout(body):
            body = nlets_xml.encode_answer(body)
        osn = self.mailboxes.next_osn(terminal)
        seq = self.journal.next_seq()
        frame = self._fit(osn, terminal, body)
        rows.append(
            self.journal.row(
                seq,
                "out",
                frame,
                terminal=terminal,
                ori=ori,
                key=key,
                disposition=disposition,
                osn=osn,
                ref=ref,
                time=stamp,
            )
        )
        rows.append(self.mailboxes.put(terminal, osn, seq, frame))
        self.stats["messages_out"] += 1
        return osn

    def _mailbox_full(
        self, rows: list[Statement], terminal: str, ref: int, key: str, stamp: str
    ) -> None:
        self.stats["mailbox_full"] += 1
        limit = self.lab.switch.mailbox_limit
        rows.append(
            self.journal.row(
                self.journal.next_seq(),
                "sys",
                f"MAILBOX FULL {terminal} - {key or 'MESSAGE'} FOR SEQ/{ref} NOT QUEUED "
                f"({limit} MESSAGES WAITING)",
                terminal=terminal,
                ori=self._terminal_ori(terminal),
                key=key,
                disposition="mailbox-full",
                ref=ref,
                time=stamp,
            )
        )
        if terminal in self._full_noticed:
            return
        self._full_noticed.add(terminal)  # one notice per episode, until the box drains
        body = "\n".join(
            [
                responses.head("NTC", self.lab.switch.ori),
                *responses.page(
                    [
                        f"MAILBOX OF TERMINAL {terminal} IS FULL ({limit} MESSAGES "
                        "WAITING) - NEW MESSAGES FOR IT ARE REFUSED AND THEIR SENDERS TOLD "
                        "UNTIL IT SIGNS ON AND ACKNOWLEDGES (LEMS MAIL LIST)"
                    ]
                ),
            ]
        )
        for control in self.directory.control_terminals():
            if control != terminal:
                osn = self._queue(
                    rows,
                    control,
                    body,
                    ref=ref,
                    key="NTC",
                    ori=self.lab.switch.ori,
                    sensitive="",
                    stamp=stamp,
                )
                if osn:
                    self._notices.append((control, osn))

    def _mailbox_full_reply(self, req: Request, terminal: str) -> Reply:
        rej = Reject(
            RejectCode.MAILBOX_FULL,
            f"MESSAGE NOT DELIVERED TO TERMINAL {terminal} - ITS "
            f"MAILBOX IS FULL ({self.lab.switch.mailbox_limit} MESSAGES WAITING)",
            None,
            req.msg.raw[:100],
        )
        return Reply(responses.reject(rej, req.msg.ori), key="REJ")

    def _sent(self, error: BaseException | None, sends: list[tuple[str, int]]) -> None:
        """Messages are durable: send those whose terminal is on line."""
        if error is not None:
            log.failure("delivery to {t} failed", Failure(error), t=[t for t, _ in sends])
            return
        online = self.online
        for terminal, osn in sends:
            frame = self.mailboxes.committed(terminal, osn)
            session = online.get(terminal)
            if frame is not None and session is not None and session.outflow is not None:
                session.outflow.offer(osn, frame)

    def _fit(self, osn: int, terminal: str, body: str) -> str:
        """The frame of one message, made fit for every link (``formats.outbound``) before it
        is journaled, so that what was accepted can always be sent."""
        envelope = self._envelope(osn, terminal, "")
        return envelope + outbound.fit(body, self.frame_limit - len(envelope))

    def _send(self, session: Session, terminal: str, osn: int, frame: str) -> None:
        """Write one frame; a failure costs this message only (dead-lettered after
        ``mailbox.DEAD_AFTER`` failed attempts), never the others of the commit or mailbox."""
        try:
            session.write(frame)
        except Exception as exc:
            self.stats["send_failures"] += 1
            log.warn("send of OSN {osn} to {t} failed: {exc}", osn=osn, t=terminal, exc=exc)
            kill = self.mailboxes.failed(terminal, osn) if osn else None
            if kill is None:
                return
            self.stats["dead_letters"] += 1
            self.writer.submit_nowait(
                [
                    kill,
                    self.journal.row(
                        self.journal.next_seq(),
                        "sys",
                        f"DEAD LETTER {terminal} OSN/{osn:07d} NOT SENT AFTER {mailbox.DEAD_AFTER} "
                        f"ATTEMPTS - {str(exc)[:200]}",
                        terminal=terminal,
                        key="DEAD",
                        ori=self._terminal_ori(terminal),
                        disposition="dead-letter",
                        osn=osn,
                        reason=str(exc)[:200],
                    ),
                ]
            )

    def deliver_to_ori(self, ori: str, body: str, **kw: Any) -> list[str]:
        """Deliver to every terminal bound to ``ori`` (a record owner's notice, a broadcast);
        the terminals it went to."""
        terminals = self.directory.terminals_by_ori.get(ori, [])
        for t in terminals:
            self.deliver(t, body, ori=ori, **kw)
        return list(terminals)


def _signed_on(link: Any) -> bool:
    """Whether a link's session has signed on (for ``lems.accept``)."""
    return getattr(getattr(link, "handler", None), "terminal", None) is not None
