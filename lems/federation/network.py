"""One node's link to the Nlets network: NATS JetStream through nats-py (asyncio).

What lives on the broker (created by the first node, checked by the others):

* stream ``NLETS`` (``[nlets] stream``), subjects ``<stream>.to.<ST>``, work-queue retention,
  file storage, replicated on up to 3 servers, a 10-minute de-duplication window: every message
  carries a ``Nats-Msg-Id`` made from the sender's state and journal sequence number, so a resend
  after a crash or a lost publish acknowledgement is dropped by the broker;
* one durable pull consumer per state, ``node-<ST>``, filtered on that state's subject, explicit
  acknowledgement: a node acknowledges a message only after its switch has journaled it
  (``handler`` returns then), so a node that dies before that gets it again;
* key-value bucket ``<stream>_nodes``: one key per state that has a node (its registration);
* heartbeats on core NATS, ``<stream>.beat.<ST>`` every ``beat_s``: a registered state whose
  heartbeat is older than ``node_timeout_s`` is down (its messages wait in the stream).
* ``<stream>.direct.<ST>`` on core NATS: a second copy of a message sent while the stream has
  no leader (``publish``), so traffic flows through a broker server's failover.

The link reconnects by itself (nats-py tries every server of the list, forever); every broker
call that fails is retried, so a killed server costs a pause, never a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import nats
import orjson
from nats.js import api
from nats.js.errors import BucketNotFoundError, NoKeysError, NotFoundError
from twisted.logger import Logger

log = Logger()

DUPLICATE_WINDOW_S = 600.0
RETRY_S = 0.2
PUBLISH_TIMEOUT_S = 1.0
REGISTRY_EVERY = 60
"""Heartbeats between two reads of the registry (30 s). A node that is up says so by its
heartbeats; the read is for states registered while this node could not hear them (down ones,
whose traffic must wait in the stream). Each read is a new ephemeral consumer on the replicated
key-value stream, a Raft group the cluster creates and removes: every 2 s, as it was, that was
one or two per second for a few nodes."""
PING_S = 1.0
"""Client pings: a server that stops answering (a host gone without closing its sockets) is
left after two unanswered, 2-3 s. A killed server process closes its sockets: nats-py moves to
another server at once (``reconnect_time_wait`` only spaces attempts at the same server)."""
ACK_WAIT_S = 10.0
PULL_EXPIRES_S = 1.0
"""How long one pull request waits on the server for messages (then a new one is asked)."""
PULL_TICK_S = 0.1
MAX_WORKING = 2048
"""Messages asked for or being handled, at most."""

Handler = Callable[[bytes, str], Awaitable[None]]
"""``handler(payload, msg_id)``: returns once the message is durable in the switch."""


class PublishRefused(Exception):
    """The stream did not take a message (no leader, an error): it is published again."""


def _expire(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError("no acknowledgement from the stream"))


class Network:
    """The JetStream link of the node of state ``state``."""

    def __init__(
        self,
        servers: str,
        state: str,
        handler: Handler,
        *,
        stream: str = "NLETS",
        beat_s: float = 0.5,
        node_timeout_s: float = 3.0,
        replicas: int = 3,
        batch: int = 256,
    ) -> None:
        self.servers = [u.strip() for u in servers.split(",") if u.strip()]
        self.state = state
        self.handler = handler
        self.stream = stream
        self.beat_s = beat_s
        self.node_timeout_s = node_timeout_s
        self.replicas = replicas
        self.batch = batch
        self.nc: Any = None
        self.js: Any = None
        self.kv: Any = None
        self.members: set[str] = set()
        """States registered on the network (a node exists, up or down)."""
        self.beats: dict[str, float] = {}
        """State -> monotonic time its last heartbeat arrived."""
        self.ready = asyncio.Event()
        self.connected = False
        self.stopping = False
        self.tasks: list[asyncio.Task[Any]] = []
        self.working: set[asyncio.Task[Any]] = set()
        self.pull_sub: Any = None
        self.inbox = ""
        self.ack_sub: Any = None
        self.ack_prefix = ""
        self.acks: dict[str, asyncio.Future[bool]] = {}
        """Publishes waiting for the stream's acknowledgement, by reply token."""
        self.ack_token = 0
        self.next_subject = ""
        self.pull_request = b""
        self.asked: deque[list[float]] = deque()
        """Outstanding pull requests: [when it has expired (monotonic), messages still asked]."""
        self.pulling = False
        self.published = 0
        self.consumed = 0
        self.retries = 0
        self.hedged = 0
        """Messages also sent directly because the stream took nothing (see ``publish``)."""
        self.last_stored = 0.0
        """When the stream last acknowledged a publish (monotonic)."""

    def subject(self, state: str) -> str:
        return f"{self.stream}.to.{state}"

    def direct_subject(self, state: str) -> str:
        """Core NATS, outside the stream: the second copy of a message sent while the stream
        takes nothing (see ``publish``)."""
        return f"{self.stream}.direct.{state}"

    def is_up(self, state: str) -> bool:
        seen = self.beats.get(state)
        return seen is not None and time.monotonic() - seen <= self.node_timeout_s

    # ------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Connect (retrying until a server answers), set up the stream, consumer and registry,
        then consume and beat in the background."""
        while not self.stopping:
            try:
                self.nc = await nats.connect(
                    servers=self.servers,
                    name=f"lems-node-{self.state}",
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=RETRY_S,
                    connect_timeout=2,
                    ping_interval=PING_S,
                    max_outstanding_pings=2,
                    allow_reconnect=True,
                    disconnected_cb=self._disconnected,
                    reconnected_cb=self._reconnected,
                    error_cb=self._error,
                )
                break
            except Exception as e:  # no server answered yet: keep trying, as a switch would
                log.warn("nlets network: cannot connect to {s}: {e}", s=self.servers, e=e)
                await asyncio.sleep(1.0)
        if self.stopping:
            return
        self.connected = True
        self.js = self.nc.jetstream(timeout=5)
        await self._retry(self._setup)
        await self.nc.subscribe(f"{self.stream}.beat.*", cb=self._beat_in)
        await self.nc.subscribe(self.direct_subject(self.state), cb=self._direct)
        self.tasks = [
            asyncio.ensure_future(self._consume()),
            asyncio.ensure_future(self._beat_out()),
        ]
        self.ready.set()

    async def stop(self) -> None:
        """Say this node is leaving (a last heartbeat with ``down``), stop, close."""
        self.stopping = True
        # messages being handled are left unacknowledged (the broker delivers them again;
        # one already journaled is then recognised by its id)
        running = [*self.tasks, *self.working]
        for t in running:
            t.cancel()
        for t in running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.nc is not None and self.nc.is_connected:
            with contextlib.suppress(Exception):
                await self.nc.publish(f"{self.stream}.beat.{self.state}", b"down")
                await self.nc.flush(timeout=1)
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()

    async def _disconnected(self) -> None:
        self.connected = False

    async def _reconnected(self) -> None:
        self.connected = True
        self.asked.clear()  # the server that held them may be gone: ask again
        with contextlib.suppress(Exception):
            await self._top_up()

    async def _error(self, e: Exception) -> None:
        log.debug("nlets network: {e}", e=e)

    async def _retry(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        """``fn()`` until it succeeds (a broker server may be down or electing a leader)."""
        while True:
            try:
                return await fn()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if self.stopping:
                    raise
                self.retries += 1
                log.debug("nlets network: retrying after {e!r}", e=e)
                await asyncio.sleep(RETRY_S)

    async def _setup(self) -> None:
        js = self.js
        try:
            await js.stream_info(self.stream)
        except NotFoundError:
            await js.add_stream(
                api.StreamConfig(
                    name=self.stream,
                    subjects=[f"{self.stream}.to.*"],
                    retention=api.RetentionPolicy.WORK_QUEUE,
                    storage=api.StorageType.FILE,
                    num_replicas=self.replicas,
                    duplicate_window=DUPLICATE_WINDOW_S,
                )
            )
        try:
            self.kv = await js.key_value(f"{self.stream}_nodes")
        except BucketNotFoundError:
            self.kv = await js.create_key_value(
                api.KeyValueConfig(bucket=f"{self.stream}_nodes", history=1, replicas=self.replicas)
            )
        await self.kv.put(self.state, f"{time.time():.3f}".encode())
        await self._members()
        durable = f"node-{self.state}"
        try:
            await js.consumer_info(self.stream, durable)
        except NotFoundError:
            await js.add_consumer(
                self.stream,
                api.ConsumerConfig(
                    durable_name=durable,
                    filter_subject=self.subject(self.state),
                    ack_policy=api.AckPolicy.EXPLICIT,
                    ack_wait=ACK_WAIT_S,
                    max_ack_pending=20_000,
                    max_deliver=-1,
                    max_waiting=512,
                ),
            )
        self.next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{durable}"
        self.pull_request = orjson.dumps(
            {"batch": self.batch, "expires": int(PULL_EXPIRES_S * 1e9)}
        )
        if self.pull_sub is None:
            self.inbox = self.nc.new_inbox()
            self.pull_sub = await self.nc.subscribe(self.inbox, cb=self._delivered)
        if self.ack_sub is None:
            self.ack_prefix = self.nc.new_inbox() + "."
            self.ack_sub = await self.nc.subscribe(self.ack_prefix + "*", cb=self._stored)

    async def _members(self) -> None:
        """Add the registered states. The set only grows: a registration stays until removed
        from the bucket by an operator, and a read during a broker failover may come back
        short (a state's traffic must never fall back to the simulation because of that)."""
        try:
            keys = await self.kv.keys()
        except NoKeysError:
            keys = []
        self.members |= set(keys) | {self.state}

    # ------------------------------------------------------------ heartbeats

    async def _beat_out(self) -> None:
        n = 0
        while not self.stopping:
            with contextlib.suppress(Exception):
                await self.nc.publish(f"{self.stream}.beat.{self.state}", b"up")
            if n % REGISTRY_EVERY == 0:
                with contextlib.suppress(Exception):
                    await self._members()
            n += 1
            await asyncio.sleep(self.beat_s)

    async def _beat_in(self, msg: Any) -> None:
        state = msg.subject.rsplit(".", 1)[-1]
        if msg.data == b"down":
            self.beats.pop(state, None)
        else:
            self.beats[state] = time.monotonic()
            self.members.add(state)

    # ------------------------------------------------------------ traffic

    async def publish(self, state: str, payload: bytes, msg_id: str) -> bool:
        """Put ``payload`` on ``state``'s subject; returns once the stream holds it (True if it
        was a duplicate the broker dropped). Retries until then."""
        subject = self.subject(state)
        # (no Nats-Expected-Stream header: the subject names the stream, and every header is
        # parsed again, in Python, on each delivery)
        headers = {"Nats-Msg-Id": msg_id}
        hedged = False

        async def once() -> bool:
            nonlocal hedged
            try:
                return await self._publish_once(subject, payload, headers)
            except Exception:
                if not hedged and not self.stopping and self._stalled():
                    hedged = True
                    await self._hedge(state, payload, headers)
                raise

        duplicate: bool = await self._retry(once)
        self.published += 1
        return duplicate

    # A stream whose leader's server died takes nothing until its other servers elect a new
    # leader: 4-9 s after the leader's last heartbeat in nats-server's Raft (its election timeout,
    # fixed in the server's code from 2.9 to 2.15, no option). Core NATS does not wait for it:
    # a client whose server died is on another one within milliseconds, and the cluster routes
    # to every subscriber still connected. So a message the stream has not acknowledged within
    # PUBLISH_TIMEOUT_S, while it acknowledges nothing at all, also goes once, directly, to the
    # receiving node's subscription on core NATS, while the publish keeps being retried until
    # the stream holds it. The receiving node journals the direct copy like a delivered one (its
    # message id in ``federation_seen``) and drops the stream's copy when it comes (a known id):
    # the first copy to arrive is handled, exactly once either way. Nothing depends on the
    # direct copy (a node that is down or stopping misses it; the stream's copy is the one
    # acknowledged, after it is journaled).

    def _stalled(self) -> bool:
        """The stream has acknowledged nothing for PUBLISH_TIMEOUT_S: no leader, not merely
        slow (a broker behind its load still acknowledges some: a second copy of everything
        then would only add to the load)."""
        return time.monotonic() - self.last_stored >= PUBLISH_TIMEOUT_S

    async def _hedge(self, state: str, payload: bytes, headers: dict[str, str]) -> None:
        self.hedged += 1
        with contextlib.suppress(Exception):
            await self.nc.publish(self.direct_subject(state), payload, headers=headers)

    async def _direct(self, m: Any) -> None:
        """A message sent directly (see ``_hedge``): handled as one delivered, never acked."""
        self._dispatch([m], ack=False)

    # One publish is one PUB with a reply subject on this node's acknowledgement inbox and one
    # future, settled by ``_stored`` when the stream's answer comes or failed by a timer: what
    # nats-py's ``js.publish`` does with a request, an ``asyncio.wait_for`` and a PubAck object
    # per message: about a fifth less CPU per publish (3,000 publishes one after the other on an
    # R3 cluster, 6 rounds alternating: 158-197 us against 194-295 us of process time).

    async def _publish_once(self, subject: str, payload: bytes, headers: dict[str, str]) -> bool:
        loop = asyncio.get_running_loop()
        self.ack_token += 1
        token = str(self.ack_token)
        fut: asyncio.Future[bool] = loop.create_future()
        self.acks[token] = fut
        timer = loop.call_later(PUBLISH_TIMEOUT_S, _expire, fut)
        try:
            await self.nc.publish(subject, payload, reply=self.ack_prefix + token, headers=headers)
            return await fut
        finally:
            timer.cancel()
            del self.acks[token]

    async def _stored(self, m: Any) -> None:
        """The stream's answer to a publish: ``{"stream":…, "seq":…[, "duplicate": true]}``,
        or an error (``{"error": {…}}``; an empty message with status 503: no stream leader
        took it)."""
        fut = self.acks.get(m.subject[len(self.ack_prefix) :])
        if fut is None or fut.done():
            return
        try:
            answer = orjson.loads(m.data) if m.data else {}
        except orjson.JSONDecodeError:
            answer = {}
        if "seq" in answer and "error" not in answer:
            self.last_stored = time.monotonic()
            fut.set_result(bool(answer.get("duplicate", False)))
        else:
            status = (m.headers or {}).get("Status", "") if m.headers else ""
            fut.set_exception(PublishRefused(answer.get("error") or f"status {status or '?'}"))

    # The consumer is pulled the way the NATS Go client's ``Consume`` pulls (nats-py has only
    # ``fetch``, one request and its round trip per batch, whose lingering wait for the rest of
    # a batch held messages up to its timeout): pull requests stay outstanding on an inbox of
    # this node, each asking for up to ``batch`` messages for ``PULL_EXPIRES_S``; the server
    # delivers each message to one of them the moment it is in the stream, and a new request
    # goes out whenever less than half a batch is still asked for. Asked-for messages plus those
    # being journaled stay under ``MAX_WORKING`` (a backlog after an outage comes in slices).

    async def _consume(self) -> None:
        """Keep pull requests outstanding (topped up by deliveries, here every
        ``PULL_TICK_S`` for expired requests, and at once after a reconnection)."""
        while not self.stopping:
            try:
                now = time.monotonic()
                # a request the server forgot (its server died) or that expired asks no more
                while self.asked and self.asked[0][0] <= now:
                    self.asked.popleft()
                await self._top_up()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.retries += 1
                log.debug("nlets network: pull request failed: {e!r}", e=e)
            await asyncio.sleep(PULL_TICK_S)

    def _wanted(self) -> int:
        return int(sum(n for _, n in self.asked))

    async def _top_up(self) -> None:
        """Ask for another batch if less than half a batch is asked for."""
        if not self.connected or self.pulling:
            return
        if self._wanted() >= self.batch // 2 or len(self.working) + self._wanted() >= MAX_WORKING:
            return
        self.pulling = True
        try:
            self.asked.append([time.monotonic() + PULL_EXPIRES_S - 0.05, self.batch])
            await self.nc.publish(self.next_subject, self.pull_request, reply=self.inbox)
        finally:
            self.pulling = False

    async def _delivered(self, m: Any) -> None:
        """A message (or a status) on this node's pull inbox."""
        status = (m.headers or {}).get("Status") if m.headers else None
        if status is not None:
            if status == "100":  # idle heartbeat
                return
            # 404/408: a request ended with messages still asked for; 409: the consumer's
            # leader changed or too many requests wait: forget what it still asked for
            left = (m.headers or {}).get("Nats-Pending-Messages")
            if left is not None and self.asked:
                self.asked.popleft()
            elif left is None:
                self.asked.clear()
            await self._top_up()
            return
        if self.asked:
            self.asked[0][1] -= 1
            if self.asked[0][1] <= 0:
                self.asked.popleft()
        self._dispatch([m])
        await self._top_up()

    def _dispatch(self, msgs: list[Any], ack: bool = True) -> None:
        for m in msgs:
            task = asyncio.ensure_future(self._one(m, ack))
            self.working.add(task)
            task.add_done_callback(self.working.discard)

    async def _one(self, m: Any, ack: bool) -> None:
        msg_id = (m.headers or {}).get("Nats-Msg-Id", "")
        try:
            await self.handler(m.data, msg_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            # not journaled: no acknowledgement, the broker delivers it again after ack_wait
            if self.stopping:  # (the node stops: its answer's publish gave up, say)
                log.debug("nlets network: message {id} left to the broker", id=msg_id)
            else:
                log.failure("nlets network: message {id} not taken", id=msg_id)
            return
        self.consumed += 1
        if not ack:
            return
        with contextlib.suppress(Exception):
            await m.ack()
        await self._top_up()

    async def backlog(self) -> dict[str, int]:
        """Messages waiting (not yet acknowledged) per registered state."""
        out: dict[str, int] = {}
        for state in sorted(self.members):
            try:
                info = await self.js.consumer_info(self.stream, f"node-{state}", timeout=1)
                out[state] = int(info.num_pending) + int(info.num_ack_pending)
            except Exception:
                continue
        return out
