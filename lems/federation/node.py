"""The switch's side of the Nlets network: one state's node (docs/FEDERATION.md).

``Node`` takes the router service name ``nlets`` in front of the simulated members (the mock
Nlets endpoint client it wraps):

* **out**: a message for a state that has a node on the network (a destination state code, or an
  ORI with that state's prefix) is published to that state's subject, one message per state with
  that state's destinations; the other destinations still go to the simulated members. The
  request was journaled before it was routed; the publish is retried until the stream holds it,
  and its message id (``<state>-<epoch>-<journal seq>-<dest state>``) makes any resend harmless.
  A destination whose node is registered but down gets ``SM .02.`` (Nlets will forward: the
  stream keeps the message until the node returns);
* **in**: a query (DQ KQ RQ IQ FQ AQ TQ) for this state is answered from the state's own files
  (``home.db``; TQ from the lab's directory) and the answer published back; a relayed message
  (AM AML YQ YR) goes to this state's terminals by ORI through the router, as if Nlets had
  delivered it (the hit-confirmation tracker sees YQ/YR and runs its deadlines on this node's
  lab clock); an answer to one of this node's requests goes to the requesting terminal. Each is
  journaled, with its message id in ``federation_seen`` in the same commit, before the broker is
  acknowledged; an id seen before is dropped (an answer is sent again: the broker drops it too).
* **no broker**: a message the broker has not taken within ``node_timeout_s`` gets the terminal
  an ``SM NLETS TEMPORARILY OUT OF SERVICE``; the node keeps trying and the answer follows;
* **recovery**: messages journaled as accepted but never handed to the network (no trace row
  for a destination state: a crash between the two) are published again at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import sqlite3
import time
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.logger import Logger

from formats import responses
from formats.errors import Reject
from formats.grammar import build
from formats.message import Message
from formats.responses import NletsClock
from lems.endpoints.nlets import Nlets
from lems.endpoints.seed import HOME_DB
from lems.endpoints.system import open_db
from lems.federation.network import Network
from lems.router import Reply, Request, call
from lems.store import Statement, when_committed

if TYPE_CHECKING:
    from lems.ports import SwitchPort

log = Logger()

SCHEMA = """
CREATE TABLE IF NOT EXISTS federation_seen (msg_id TEXT PRIMARY KEY, seq INTEGER, kind TEXT);
CREATE TABLE IF NOT EXISTS federation_meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS federation_status (state TEXT PRIMARY KEY, up INTEGER, backlog INTEGER,
    rtt_p50_ms REAL, rtt_p99_ms REAL, sent INTEGER, received INTEGER, updated REAL);
"""
SEEN = "INSERT OR IGNORE INTO federation_seen (msg_id, seq, kind) VALUES (?, ?, ?)"
TRACED = re.compile(r" TO ([A-Z]{2}) MSGID/")
"""The destination state in the trace row of a message the broker holds."""
STATUS_EVERY_S = 1.0
PRUNE_EVERY = 60
"""Status beats between two prunes of ``federation_seen``."""
MAX_TIMED = 100_000
"""Requests whose round trip is being timed, at most."""


def with_destinations(msg: Message, dests: list[str]) -> Message:
    """``msg`` addressed to ``dests`` only (its text rebuilt the canonical way)."""
    if dests == msg.destinations:
        return msg
    out = replace(msg, destinations=list(dests))
    return replace(out, raw=build(out))


class HomeFiles(Nlets):
    """The state's own DMV and criminal-history files (``home.db``), answering as the mock
    Nlets members answer, but only for this state."""

    def _status(self, dest: str, msg: Message) -> str | None:
        if dest == self.home:
            return None
        return responses.sm(".01.", dest, self.clock_for(), msg.ori)


class Node:
    """One state's node on the Nlets network, registered as the router service ``nlets``."""

    name = "nlets"

    def __init__(self, switch: SwitchPort, inner: Any) -> None:
        self.switch = switch
        self.inner = inner
        lab = switch.lab
        self.state = lab.state
        self.net = Network(
            lab.nlets.network,
            self.state,
            self._received,
            stream=lab.nlets.stream,
            node_timeout_s=lab.nlets.node_timeout_s,
            replicas=lab.nlets.replicas,
        )
        base = lab.database.parent
        conn = sqlite3.connect(lab.database)
        try:
            conn.executescript(SCHEMA)
            row = conn.execute("SELECT value FROM federation_meta WHERE key = 'epoch'").fetchone()
            if row is None:
                row = (secrets.token_hex(4),)
                conn.execute("INSERT INTO federation_meta VALUES ('epoch', ?)", row)
            since = conn.execute("SELECT value FROM federation_meta WHERE key = 'since'").fetchone()
            if since is None:
                since = (str(switch.journal.last_seq),)
                conn.execute("INSERT INTO federation_meta VALUES ('since', ?)", since)
            known = {st for (st,) in conn.execute("SELECT state FROM federation_status")}
            conn.commit()
        finally:
            conn.close()
        self.epoch = row[0]
        self.since = int(since[0])
        if not (base / HOME_DB).exists():
            from lems.endpoints.seed import DEFAULT_SUBJECTS, seed_lab

            seed_lab(
                base,
                DEFAULT_SUBJECTS,
                lab.seed,
                [a.ori for a in lab.agencies.values() if a.category == "cj"],
                home=self.state,
            )
        self.home = HomeFiles(
            open_db(base / HOME_DB, ""),
            switch.clock,
            home_state=self.state,
            dictionary=switch.dictionary,
        )
        self.inflight: dict[str, asyncio.Future[None]] = {}
        self.sent_at: dict[tuple[int, str], tuple[float, Request]] = {}
        """(request seq, destination state) -> when it left and the request, until the answer
        comes (its round trip, and no journal read nor parse to deliver the answer)."""
        self.rtt: dict[str, deque[float]] = {}
        self.sent: dict[str, int] = {}
        self.received: dict[str, int] = {}
        self.tasks: list[asyncio.Task[Any]] = []
        self._sm_seq = 0
        # the states seen on the network before: known even if the broker cannot be reached at
        # start (their traffic must wait for the network, never go to the simulation)
        self.net.members |= known

    # ------------------------------------------------------------ life cycle

    def start(self) -> None:
        self.tasks.append(asyncio.ensure_future(self._run()))

    async def _run(self) -> None:
        await self.net.start()
        await self._recover()
        self.tasks.append(asyncio.ensure_future(self._status_loop()))

    def stop(self) -> Deferred[None]:
        async def stop() -> None:
            for t in self.tasks:
                t.cancel()
            for t in self.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await self.net.stop()
            self.home.close()

        return Deferred.fromFuture(asyncio.ensure_future(stop()))

    async def _ready(self) -> None:
        """Wait (a while) for the member list; without it a state's node is not known yet."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.net.ready.wait(), self.switch.lab.nlets.node_timeout_s)

    # ------------------------------------------------------------ out

    def handle(self, req: Request) -> Deferred[list[Reply]]:
        return Deferred.fromFuture(asyncio.ensure_future(self._handle(req)))

    def _networked(self, dest: str) -> bool:
        st = dest[:2]
        return st != self.state and st in self.net.members

    async def _handle(self, req: Request) -> list[Reply]:
        if not self.net.ready.is_set():
            await self._ready()
        msg = req.msg
        by_state, rest = self._split(msg)
        replies: list[Reply] = []
        relayed = self.switch.router.by_verb(req.spec.verb)
        if rest and not (relayed and all(d[:2] == self.state for d in rest)):
            if self.inner is None:
                replies.append(self.switch.router.unavailable(req, "nlets"))
            else:
                sub = (
                    req
                    if len(rest) == len(msg.destinations)
                    else replace(req, msg=with_destinations(msg, rest))
                )
                got = maybeDeferred(self.inner.handle, sub)
                replies += await got.asFuture(asyncio.get_running_loop())
        for st, dests in by_state.items():
            replies += await self._send(req, st, dests, relayed)
        return replies

    def _split(self, msg: Message) -> tuple[dict[str, list[str]], list[str]]:
        """The destinations by networked state, and the rest."""
        by_state: dict[str, list[str]] = {}
        rest: list[str] = []
        for dest in msg.destinations:
            if self._networked(dest):
                by_state.setdefault(dest[:2], []).append(dest)
            else:
                rest.append(dest)
        return by_state, rest

    def msg_id(self, seq: int, st: str) -> str:
        return f"{self.state}-{self.epoch}-{seq}-{st}"

    async def _send(self, req: Request, st: str, dests: list[str], relayed: bool) -> list[Reply]:
        msg = with_destinations(req.msg, dests)
        env = {
            "t": "rel" if relayed else "req",
            "from": self.state,
            "seq": req.seq,
            "trm": req.terminal,
            "text": msg.raw,
        }
        mid = self.msg_id(req.seq, st)
        if not relayed:
            self.sent_at[(req.seq, st)] = (time.monotonic(), req)
        sw = self.switch
        slow = False

        def no_broker() -> None:  # no broker takes it: say so, as Nlets would, and keep trying
            nonlocal slow
            slow = True
            sw.stats["network_unavailable"] += 1
            sw.send_replies(
                [
                    Reply(
                        responses.sm(
                            "TEMPORARILY OUT OF SERVICE", "NLETS", sw.nlets_clock(req), msg.ori
                        ),
                        key="SM",
                    )
                ],
                req,
            )

        timer = asyncio.get_running_loop().call_later(sw.lab.nlets.node_timeout_s, no_broker)
        try:
            await self.net.publish(st, orjson.dumps(env), mid)
        finally:
            timer.cancel()
        self.sent[st] = self.sent.get(st, 0) + 1
        sw.stats["network_sent"] += 1
        sw.writer.submit_nowait(
            [
                sw.journal.row(
                    sw.journal.next_seq(),
                    "sys",
                    f"NLETS NETWORK {msg.full_key} TO {st} MSGID/{mid}",
                    terminal=req.terminal,
                    ori=msg.ori,
                    key=msg.full_key,
                    disposition="network",
                    ref=req.seq,
                    link=f"nlets:{st}",
                )
            ]
        )
        if slow or self.net.is_up(st):  # (after an outage the heartbeats lag: no .02. then)
            return []
        body = responses.sm(".02.", st, sw.nlets_clock(req), msg.ori)
        return [Reply(body, key="SM")]

    async def _recover(self) -> None:
        """Publish again what was accepted before a crash and never reached the broker: an
        accepted request or relayed message with a destination state on the network and no
        journaled trace (``disposition = 'network'``, written once the broker holds it) for that
        state. Only the network part is sent again (the switch's own recovery routes relayed
        messages that reached nobody; answers from the simulation are not asked twice); the
        message id makes a copy the broker already holds harmless. Requests older than this
        lab's first start as a node are left alone."""
        sw = self.switch
        floor = max(self.since, sw.journal.last_seq - sw.RECOVERY_WINDOW)
        keys = tuple(
            k
            for k, spec in sw.dictionary.keys.items()
            if sw.router.by_verb(spec.verb) or sw.router.service_for(spec) == "nlets"
        )
        traced: dict[int, set[str]] = {}
        for ref, text in sw.reader.execute(
            "SELECT ref, text FROM journal WHERE seq > ? AND direction = 'sys' AND "
            "disposition = 'network'",
            (floor,),
        ):
            m = TRACED.search(text)
            if m is not None:
                traced.setdefault(ref, set()).add(m.group(1))
        marks = ",".join("?" * len(keys))
        for (seq,) in sw.reader.execute(
            f"SELECT seq FROM journal WHERE seq > ? AND direction = 'in' AND disposition = "
            f"'accepted' AND key IN ({marks}) ORDER BY seq",
            (floor, *keys),
        ).fetchall():
            req = sw.journaled_request(seq)
            if req is None:
                continue
            todo = {
                st: dests
                for st, dests in self._split(req.msg)[0].items()
                if st not in traced.get(seq, ())
            }
            if not todo:
                continue
            sw.stats["network_recovered"] += 1
            replies: list[Reply] = []
            for st, dests in todo.items():
                replies += await self._send(req, st, dests, sw.router.by_verb(req.spec.verb))
            if replies:
                sw.send_replies(replies, req)

    # ------------------------------------------------------------ in

    async def _received(self, payload: bytes, msg_id: str) -> None:
        running = self.inflight.get(msg_id)
        if running is not None:  # a redelivery while the first copy is being journaled
            await asyncio.shield(running)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.inflight[msg_id] = fut
        try:
            await self._take(orjson.loads(payload), msg_id)
            fut.set_result(None)
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # retrieved: the caller's await gets it
            raise
        finally:
            self.inflight.pop(msg_id, None)

    def _seen(self, msg_id: str) -> bool:
        return (
            self.switch.reader.execute(
                "SELECT 1 FROM federation_seen WHERE msg_id = ?", (msg_id,)
            ).fetchone()
            is not None
        )

    async def _take(self, env: dict[str, Any], msg_id: str) -> None:
        kind = env.get("t")
        origin = str(env.get("from", ""))
        self.received[origin] = self.received.get(origin, 0) + 1
        if self._seen(msg_id):
            self.switch.stats["network_duplicates"] += 1
            if kind == "req":  # the answer may not have reached the stream: send it again
                await self._answer(env, msg_id, journal=False)
            return
        if kind == "req":
            await self._answer(env, msg_id)
        elif kind == "rel":
            await self._relay_in(env, msg_id)
        elif kind == "rsp":
            await self._response_in(env, msg_id)
        else:
            log.warn("nlets network: unknown message kind {k!r} ({id})", k=kind, id=msg_id)

    def _commit(self, rows: list[Any]) -> Any:
        return when_committed(self.switch.writer, rows).asFuture(asyncio.get_running_loop())

    def _parse(self, text: str) -> Message | Reject:
        return self.switch.parser.check(text)

    async def _answer(self, env: dict[str, Any], msg_id: str, journal: bool = True) -> None:
        """A query for this state from another node: answer from this state's files."""
        sw = self.switch
        origin, text = str(env["from"]), str(env["text"])
        msg = self._parse(text)
        sensitive = ""
        self.home.in_seq = self.home.in_seq % 99999 + 1  # Nlets' input sequence, as the mock
        if isinstance(msg, Reject):
            code = msg.code if msg.code.startswith(".") else ".00."
            bodies = [self.home.er(code, msg.reason, msg.field, text, origin + "0000000")]
            key, ori = "ER", ""
        elif msg.ori[:2] != origin:  # a node speaks only for its own state's agencies
            bodies = [
                self.home.er(
                    ".01.", f"SENDING ORI/{msg.ori} IS NOT AN ORI OF {origin}", "ORI", text, msg.ori
                )
            ]
            key, ori = msg.full_key, msg.ori
        else:
            key, ori = msg.full_key, msg.ori
            if msg.key == "TQ":
                bodies = [self._tq(msg)]
            else:
                answer = self.home.query(
                    with_destinations(msg, [self.state]), str(env.get("trm", ""))
                )
                bodies, sensitive = answer.bodies, answer.sensitive
        if journal:
            link = f"nlets:{origin}"
            seq = sw.journal.next_seq()
            rows = [
                (SEEN, (msg_id, seq, "req")),
                sw.journal.row(seq, "in", text, link=link, ori=ori, key=key, disposition="network"),
            ]
            rows += [
                sw.journal.row(
                    sw.journal.next_seq(),
                    "out",
                    b,
                    link=link,
                    ori=ori,
                    key=responses.first_line_key(b)[0],
                    disposition="network",
                    ref=seq,
                )
                for b in bodies
            ]
        rsp = {
            "t": "rsp",
            "from": self.state,
            "seq": env["seq"],
            "trm": env.get("trm", ""),
            "bodies": bodies,
            "sensitive": sensitive,
        }
        # the answer leaves while the query is journaled; the broker is acknowledged after both
        # (a crash between them: the query comes again, is journaled, and its answer, sent
        # again under the same id, is dropped by the broker and by the requester)
        sending = self.net.publish(origin, orjson.dumps(rsp), f"{msg_id}-R")
        if journal:
            await asyncio.gather(self._commit(rows), sending)
        else:
            await sending

    def _tq(self, msg: Message) -> str:
        """TQ: this state's agencies from the lab's directory (ORION's part for this state)."""
        agencies = self.switch.directory.agencies
        if msg.get("ORI"):
            rows = [a for o, a in agencies.items() if o == msg.get("ORI")]
        else:
            loc = msg.get("LOC") or ""
            rows = [a for a in agencies.values() if a.name.startswith(loc)][:20]
        lines: list[str] = []
        for a in rows:
            lines += responses.layout([("ORI", a.ori), ("STA", a.ori[:2]), ("TYP", a.type)])
            lines.append(f"NAME/{a.name}")
        return self.home.out("TR", self.switch.lab.switch.ori, msg.ori, lines or ["NOT ON FILE"])

    async def _relay_in(self, env: dict[str, Any], msg_id: str) -> None:
        """AM/AML/YQ/YR for this state: to its terminals by ORI, through the router (and the
        hit-confirmation tracker in front of it)."""
        sw = self.switch
        origin, text = str(env["from"]), str(env["text"])
        link = f"nlets:{origin}"
        msg = self._parse(text)
        seq = sw.journal.next_seq()
        if isinstance(msg, Reject):
            rows = [
                (SEEN, (msg_id, seq, "rel")),
                sw.journal.row(
                    seq,
                    "in",
                    text,
                    link=link,
                    disposition="network-rejected",
                    reason=f"{msg.code} {msg.reason}",
                ),
            ]
            await self._commit(rows)
            er = self.home.er(
                msg.code if msg.code.startswith(".") else ".00.",
                msg.reason,
                msg.field,
                text,
                origin + "0000000",
            )
            await self._back(origin, env, [er], msg_id)
            return
        if msg.ori[:2] != origin:  # a node speaks only for its own state's agencies
            await self._commit(
                [
                    (SEEN, (msg_id, seq, "rel")),
                    sw.journal.row(
                        seq,
                        "in",
                        text,
                        link=link,
                        ori=msg.ori,
                        key=msg.full_key,
                        disposition="network-rejected",
                        reason=f".01. ORI NOT OF {origin}",
                    ),
                ]
            )
            er = self.home.er(
                ".01.", f"SENDING ORI/{msg.ori} IS NOT AN ORI OF {origin}", "ORI", text, msg.ori
            )
            await self._back(origin, env, [er], msg_id)
            return
        mine = with_destinations(msg, [d for d in msg.destinations if d[:2] == self.state])
        spec = sw.dictionary.keys[mine.full_key]
        req = Request(seq, "", "", mine, spec, sw.clock.now(), link)
        handler = sw.router.handler_for(spec.verb)
        replies = await call(handler, req).asFuture(asyncio.get_running_loop())
        local = [r for r in replies if r.terminal is not None or r.ori is not None]
        back = [r.body for r in replies if r.terminal is None and r.ori is None]
        pre = [
            (SEEN, (msg_id, seq, "rel")),
            sw.journal.row(
                seq, "in", text, link=link, ori=msg.ori, key=msg.full_key, disposition="network"
            ),
        ]
        await sw.deliver_replies(local, req, pre).asFuture(asyncio.get_running_loop())
        if back:
            await self._back(origin, env, back, msg_id)

    async def _back(self, origin: str, env: dict[str, Any], bodies: list[str], msg_id: str) -> None:
        rsp = {
            "t": "rsp",
            "from": self.state,
            "seq": env["seq"],
            "trm": env.get("trm", ""),
            "bodies": bodies,
            "sensitive": "",
        }
        await self.net.publish(origin, orjson.dumps(rsp), f"{msg_id}-R")

    async def _response_in(self, env: dict[str, Any], msg_id: str) -> None:
        """Another node's answer to one of this node's requests: to the requesting terminal."""
        sw = self.switch
        origin, seq = str(env["from"]), int(env["seq"])
        sent = self.sent_at.pop((seq, origin), None)
        if sent is not None:
            self.rtt.setdefault(origin, deque(maxlen=1000)).append(time.monotonic() - sent[0])
            req: Request | None = sent[1]
        else:  # sent before a restart
            req = sw.journaled_request(seq)
        if req is None:
            log.warn(
                "nlets network: answer from {o} to seq {s}, which is not a request here",
                o=origin,
                s=seq,
            )
            await self._commit([(SEEN, (msg_id, seq, "rsp"))])
            return
        sensitive = str(env.get("sensitive", ""))
        replies = [
            Reply(b, sensitive=sensitive, key=responses.first_line_key(b)[0])
            for b in env.get("bodies", [])
        ]
        sw.stats["network_answers"] += 1
        await sw.deliver_replies(replies, req, [(SEEN, (msg_id, seq, "rsp"))]).asFuture(
            asyncio.get_running_loop()
        )

    # ------------------------------------------------------------ status (lems watch)

    def _prune(self) -> None:
        """Keep ``federation_seen`` and the round-trip table bounded: an id matters while its
        message can still come again (an ack lost within ``ack_wait``, a sender's recovery,
        which looks back ``RECOVERY_WINDOW`` journal rows); keep ten times that."""
        sw = self.switch
        floor = sw.journal.last_seq - 10 * sw.RECOVERY_WINDOW
        if floor > 0:
            sw.writer.submit_nowait([("DELETE FROM federation_seen WHERE seq < ?", (floor,))])
        if len(self.sent_at) > MAX_TIMED:  # answers that never came (a node gone for good)
            for key in list(self.sent_at)[: len(self.sent_at) - MAX_TIMED]:
                del self.sent_at[key]

    def announce(self, st: str, up: bool) -> None:
        """An Nlets-style SM to the control terminals when another state's node goes down or
        comes back."""
        sw = self.switch
        if not sw.started:
            return
        now = sw.clock.now()
        for terminal in sw.directory.control_terminals():
            self._sm_seq = self._sm_seq % 99999 + 1
            ori = sw.directory.terminals[terminal].oris[0]
            status = "IN SERVICE" if up else "TEMPORARILY OUT OF SERVICE"
            body = responses.sm(status, f"{st} NODE", NletsClock(now, 0, now, self._sm_seq), ori)
            sw.deliver(terminal, body, key="SM", ori=ori)

    async def _status_loop(self) -> None:
        """Write the network as this node sees it to ``federation_status`` (``lems watch``) and
        announce nodes going down or coming back."""
        was: dict[str, bool] = {}
        beats = 0
        while True:
            await asyncio.sleep(STATUS_EVERY_S)
            beats += 1
            if beats % PRUNE_EVERY == 0 and self.switch.started:
                self._prune()
            try:
                backlog = await self.net.backlog()
            except Exception:
                backlog = {}
            rows: list[Statement] = []
            for st in sorted(self.net.members):
                up = st == self.state or self.net.is_up(st)
                if st != self.state and st in was and was[st] != up:
                    self.announce(st, up)
                was[st] = up
                rtts = sorted(self.rtt.get(st, ()))
                p50 = rtts[len(rtts) // 2] * 1000 if rtts else None
                p99 = rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))] * 1000 if rtts else None
                rows.append(
                    (
                        "INSERT OR REPLACE INTO federation_status VALUES (?,?,?,?,?,?,?,?)",
                        (
                            st,
                            int(up),
                            backlog.get(st, -1),
                            p50,
                            p99,
                            self.sent.get(st, 0),
                            self.received.get(st, 0),
                            time.time(),
                        ),
                    )
                )
            if rows and self.switch.started:
                self.switch.writer.submit_nowait(rows)
