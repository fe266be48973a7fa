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

The link reconnects by itself (nats-py tries every server of the list, forever); every broker
call that fails is retried, so a killed server costs a pause, never a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import api
from nats.js.errors import BucketNotFoundError, NoKeysError, NotFoundError
from twisted.logger import Logger

log = Logger()

DUPLICATE_WINDOW_S = 600.0
RETRY_S = 0.2
BURST_S = 0.005
"""How long a no-wait pull may take to bring what is already waiting (loopback: well under)."""
PUBLISH_TIMEOUT_S = 1.0

Handler = Callable[[bytes, str], Awaitable[None]]
"""``handler(payload, msg_id)``: returns once the message is durable in the switch."""


class Network:
    """The JetStream link of the node of state ``state``."""

    def __init__(self, servers: str, state: str, handler: Handler, *, stream: str = "NLETS",
                 beat_s: float = 0.5, node_timeout_s: float = 3.0, replicas: int = 3,
                 batch: int = 256) -> None:
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
        self.published = 0
        self.consumed = 0
        self.retries = 0

    def subject(self, state: str) -> str:
        return f"{self.stream}.to.{state}"

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
                    servers=self.servers, name=f"lems-node-{self.state}",
                    max_reconnect_attempts=-1, reconnect_time_wait=RETRY_S, connect_timeout=2,
                    ping_interval=2, max_outstanding_pings=2, allow_reconnect=True,
                    disconnected_cb=self._disconnected, reconnected_cb=self._reconnected,
                    error_cb=self._error)
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
        self.tasks = [asyncio.ensure_future(self._consume()),
                      asyncio.ensure_future(self._beat_out())]
        self.ready.set()

    async def stop(self) -> None:
        """Say this node is leaving (a last heartbeat with ``down``), stop, close."""
        self.stopping = True
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
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
            await js.add_stream(api.StreamConfig(
                name=self.stream, subjects=[f"{self.stream}.to.*"],
                retention=api.RetentionPolicy.WORK_QUEUE, storage=api.StorageType.FILE,
                num_replicas=self.replicas, duplicate_window=DUPLICATE_WINDOW_S))
        try:
            self.kv = await js.key_value(f"{self.stream}_nodes")
        except BucketNotFoundError:
            self.kv = await js.create_key_value(api.KeyValueConfig(
                bucket=f"{self.stream}_nodes", history=1, replicas=self.replicas))
        await self.kv.put(self.state, f"{time.time():.3f}".encode())
        await self._members()
        self.sub = await js.pull_subscribe(
            self.subject(self.state), durable=f"node-{self.state}", stream=self.stream,
            config=api.ConsumerConfig(ack_policy=api.AckPolicy.EXPLICIT, ack_wait=10.0,
                                      max_ack_pending=20_000, max_deliver=-1))

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
            if n % 4 == 0:
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
        async def once() -> bool:
            ack = await self.js.publish(self.subject(state), payload, timeout=PUBLISH_TIMEOUT_S,
                                        stream=self.stream, headers={"Nats-Msg-Id": msg_id})
            return bool(ack.duplicate)

        duplicate: bool = await self._retry(once)
        self.published += 1
        return duplicate

    async def _consume(self) -> None:
        """Pull this state's messages: wait for the first (a lingering pull returns as soon as
        one arrives), then take what is already waiting in batches without waiting (nats-py's
        batch fetch would hold a lone message until its timeout). Each message is handled in
        its own task, acknowledged when its handler returns."""
        while not self.stopping:
            try:
                self._dispatch(await self.sub.fetch(1, timeout=1.0))
                while True:
                    try:
                        more = await self.sub.fetch(self.batch, timeout=BURST_S)
                    except (TimeoutError, NatsTimeout):
                        break
                    self._dispatch(more)
            except (TimeoutError, NatsTimeout):
                continue
            except asyncio.CancelledError:
                raise
            except NoRespondersError:
                await asyncio.sleep(RETRY_S)
                continue
            except Exception as e:
                self.retries += 1
                log.debug("nlets network: fetch failed: {e!r}", e=e)
                await asyncio.sleep(RETRY_S)

    def _dispatch(self, msgs: list[Any]) -> None:
        for m in msgs:
            task = asyncio.ensure_future(self._one(m))
            self.working.add(task)
            task.add_done_callback(self.working.discard)

    async def _one(self, m: Any) -> None:
        msg_id = (m.headers or {}).get("Nats-Msg-Id", "")
        try:
            await self.handler(m.data, msg_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            # not journaled: no acknowledgement, the broker delivers it again after ack_wait
            log.failure("nlets network: message {id} not taken", id=msg_id)
            return
        self.consumed += 1
        with contextlib.suppress(Exception):
            await m.ack()

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
