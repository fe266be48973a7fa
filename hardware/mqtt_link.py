"""MQTT links for mobile data terminals: ``mqtt://127.0.0.1:1883/lems``.

A patrol car's terminal reaches the switch through an MQTT broker over a cellular network that
comes and goes. Each terminal has a topic pair under the lab's prefix:

=============================  ==============================================================
``PREFIX/<client>/in``         terminal → switch, one message per frame (no framing needed)
``PREFIX/<client>/out``        switch → terminal
``PREFIX/<client>/state``      ``offline`` when the terminal leaves (its will message if the
                               connection breaks), so the switch knows it is gone
=============================  ==============================================================

All publishes and subscriptions are QoS 1 and both ends use persistent sessions (fixed client
identifiers, ``clean_session=False``): what the switch sends while a vehicle is out of coverage
waits in the broker and arrives when it is back. The switch's own mailbox still guarantees
delivery (a message is only gone when the terminal sends ``ACK.<osn>``). TCP_NODELAY is set, or
single messages wait ~40 ms for Nagle (DESIGN.md).

The switch side (``listen``) is one broker connection subscribed to ``PREFIX/+/in`` and
``PREFIX/+/state``; each client id seen becomes a link with its own handler (a switch session).
A terminal (``connect``) adds ``client=T07`` (default: a random id). Both ends reconnect to the
broker with back-off; aiomqtt runs on the asyncio loop under Twisted's asyncio reactor.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from formats.framing import RAW_LIMIT
from hardware.health import Backoff
from hardware.link import LinkHandler
from hardware.registry import EndpointError, LinkOptions

log = Logger()

__all__ = ["ADAPTER", "MqttAdapter", "MqttAddress", "parse_mqtt"]

NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]

PUBACK_TIMEOUT = 10.0
"""Seconds a QoS 1 publish may wait for the broker's PUBACK before it is queued again."""


@dataclass(frozen=True, slots=True)
class MqttAddress:
    """An ``mqtt://`` endpoint string, parsed."""

    host: str
    port: int
    prefix: str
    client: str = ""
    keepalive: int = 30
    username: str | None = None
    password: str | None = None
    tls: bool = False
    """``mqtts://``: TLS to the broker, checked against ``cafile`` (the lab CA)."""
    cafile: str | None = None
    cert_key: str | None = None
    """A PEM file with this end's client certificate and key, where the broker asks for one."""

    def topic(self, client: str, leg: str) -> str:
        return f"{self.prefix}/{client}/{leg}"

    # for ``getHost()``
    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port


def parse_mqtt(address: str) -> MqttAddress:
    """``mqtt[s]://HOST[:PORT]/PREFIX[:client=ID][:keepalive=S][:username=U][:password=P]``
    ``[:cafile=CA.pem][:certKey=CLIENT.pem]`` (``mqtts``: TLS, port 8883 by default)."""
    scheme = address.split("://", 1)[0].lower()
    if scheme not in ("mqtt", "mqtts") or "://" not in address:
        raise EndpointError(f"mqtt endpoint must start with mqtt:// or mqtts://, not {address!r}")
    tls = scheme == "mqtts"
    parts = address[len(scheme) + 3:].split(":")
    hostpart = parts.pop(0)
    host, slash, prefix = hostpart.partition("/")
    port = 8883 if tls else 1883
    if not slash and parts and not parts[0].count("="):
        portpart = parts.pop(0)
        portnum, _, prefix = portpart.partition("/")
        if not portnum.isdigit():
            raise EndpointError(f"mqtt port must be a number in {address!r}")
        port = int(portnum)
    prefix = prefix.strip("/")
    if not host or not prefix or "+" in prefix or "#" in prefix:
        raise EndpointError(f"mqtt endpoint needs a host and a topic prefix without wildcards: "
                            f"mqtt://127.0.0.1:1883/lems, not {address!r}")
    named = {}
    for part in parts:
        name, eq, value = part.partition("=")
        if not eq or name not in ("client", "keepalive", "username", "password", "cafile",
                                  "certKey"):
            raise EndpointError(f"unknown mqtt option {part!r} in {address!r}")
        named[name] = value
    client = named.get("client", "")
    if any(c in client for c in "/+#"):
        raise EndpointError(f"mqtt client id must not contain / + #: {client!r}")
    try:
        keepalive = int(named.get("keepalive", 30))
    except ValueError:
        raise EndpointError(f"mqtt keepalive must be a number in {address!r}") from None
    if not tls and ("cafile" in named or "certKey" in named):
        raise EndpointError(f"cafile= and certKey= need mqtts://, not {address!r}")
    return MqttAddress(host, port, prefix, client, keepalive, named.get("username"),
                       named.get("password"), tls, named.get("cafile"), named.get("certKey"))


def _client(addr: MqttAddress, identifier: str, will: Any = None) -> Any:
    import aiomqtt

    tls = None
    if addr.tls:
        tls = aiomqtt.TLSParameters(ca_certs=addr.cafile, certfile=addr.cert_key,
                                    keyfile=addr.cert_key)
    client = aiomqtt.Client(addr.host, addr.port, identifier=identifier, clean_session=False,
                            keepalive=addr.keepalive, username=addr.username,
                            password=addr.password, socket_options=NODELAY, will=will,
                            tls_params=tls)
    client.pending_calls_threshold = 1000  # QoS 1 publishes in flight are normal here
    return client


class _Session:
    """The broker connection shared by one end; reconnects with back-off until stopped."""

    def __init__(self, loop: asyncio.AbstractEventLoop, addr: MqttAddress, identifier: str,
                 subscriptions: list[str], on_message: Callable[[str, bytes], None],
                 write_limit: int, will: Any = None) -> None:
        self.loop = loop
        self.addr = addr
        self.identifier = identifier
        self.subscriptions = subscriptions
        self.on_message = on_message
        self.will = will
        self.write_limit = write_limit
        self.client: Any = None
        self.ready: asyncio.Future[None] = loop.create_future()
        self.backoff = Backoff(initial=0.1, maximum=10.0)
        self.stopped = False
        self.connections = 0
        self.outbox: list[tuple[str, bytes]] = []
        self.outbox_bytes = 0
        self.dropped = 0
        self.resent = 0
        """Publishes the broker did not acknowledge (it went away), queued to go again."""
        self._publishes: set[asyncio.Future[Any]] = set()
        self.closing: asyncio.Future[None] | None = None
        self.task = loop.create_task(self._run())

    async def _run(self) -> None:
        import aiomqtt

        while not self.stopped:
            try:
                async with _client(self.addr, self.identifier, self.will) as client:
                    for topic in self.subscriptions:
                        await client.subscribe(topic, qos=1)
                    self.client = client
                    self.connections += 1
                    self.backoff.reset()
                    self._flush()
                    if not self.ready.done():
                        self.ready.set_result(None)
                    try:
                        async for message in client.messages:
                            self.on_message(str(message.topic), bytes(message.payload or b""))
                    finally:
                        self._drain(client)
            except aiomqtt.MqttError as e:
                self.client = None
                if not self.ready.done() and self.connections == 0 and self.backoff.attempts > 3:
                    self.ready.set_exception(ConnectionRefusedError(
                        f"MQTT broker {self.addr.host}:{self.addr.port}: {e}"))
                if self.stopped:
                    break
                log.debug("mqtt {id}: {e}; reconnecting", id=self.identifier, e=e)
                await asyncio.sleep(self.backoff.next())
            finally:
                self.client = None

    def _drain(self, client: Any) -> None:
        """Hand on what the broker delivered before the connection broke. aiomqtt has already
        acknowledged those messages (PUBACK on receipt), so the broker will not send them again;
        its iterator stops at the disconnect and would leave them in its queue, lost."""
        queue = getattr(client, "_queue", None)
        while queue is not None and not queue.empty():
            message = queue.get_nowait()
            try:
                self.on_message(str(message.topic), bytes(message.payload or b""))
            except Exception:
                log.failure("mqtt message handler failed")

    def publish(self, topic: str, payload: bytes) -> None:
        if self.client is None:
            if self.outbox_bytes + len(payload) > self.write_limit:
                self.dropped += 1  # the switch's mailbox sends it again at the next sign-on
                return
            self.outbox.append((topic, payload))
            self.outbox_bytes += len(payload)
            return
        fut = self.loop.create_task(self.client.publish(topic, payload, qos=1,
                                                        timeout=PUBACK_TIMEOUT))
        self._publishes.add(fut)
        fut.add_done_callback(lambda done: self._published(done, topic, payload))

    def _published(self, fut: asyncio.Future[Any], topic: str, payload: bytes) -> None:
        """A QoS 1 publish ends when the broker acknowledges it (PUBACK). One that fails (the
        broker went away, or did not answer in time) is queued to go again after the
        reconnect: a message may then arrive twice, and the terminal drops a repeated OSN."""
        self._publishes.discard(fut)
        if fut.cancelled() or fut.exception() is not None:
            if self.stopped:
                return
            log.debug("mqtt publish not acknowledged ({e}); sent again after reconnect",
                      e=None if fut.cancelled() else fut.exception())
            self.resent += 1
            self._requeue(topic, payload)

    def _requeue(self, topic: str, payload: bytes) -> None:
        if self.client_alive():
            self.publish(topic, payload)
            return
        if self.outbox_bytes + len(payload) > self.write_limit:
            self.dropped += 1
            return
        self.outbox.append((topic, payload))
        self.outbox_bytes += len(payload)

    def client_alive(self) -> bool:
        """Connected now: aiomqtt resolves ``_disconnected`` as soon as paho loses the broker,
        before our receive loop hears of it (a publish retried on a dead client would fail at
        once, again and again)."""
        client = self.client
        gone = getattr(client, "_disconnected", None)
        return client is not None and not (gone is not None and gone.done())

    def _flush(self) -> None:
        waiting, self.outbox, self.outbox_bytes = self.outbox, [], 0
        for topic, payload in waiting:
            self.publish(topic, payload)

    async def close(self, last: tuple[str, bytes] | None = None) -> None:
        self.stopped = True
        if last is not None and self.client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.publish(*last, qos=1), 2)
        if self._publishes:
            await asyncio.wait(list(self._publishes), timeout=2)
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


class MqttLink:
    """One terminal's conversation over the broker, as a link (``send``, ``close``…)."""

    kind = "mqtt"
    identity: str | None = None
    """The terminal the broker let publish on this topic (its MQTT user), once known."""

    def __init__(self, session: _Session, handler: LinkHandler, client: str, out_topic: str,
                 on_close: Callable[[MqttLink], None], max_frame: int = 1 << 22) -> None:
        self.session = session
        self.max_frame = max_frame
        self.handler = handler
        self.client = client
        self.peer = f"mqtt:{client}"
        self.out_topic = out_topic
        self.on_close = on_close
        self.closed = False

    def send(self, payload: bytes) -> None:
        if not self.closed and payload:
            self.session.publish(self.out_topic, payload)

    def send_raw(self, data: bytes) -> None:
        """MQTT carries whole messages: there are no link-level bytes to send."""

    def ack(self) -> None:
        """QoS 1 acknowledges each message at the broker."""

    def nak(self) -> None:
        """A broken MQTT message cannot happen: the broker delivers whole payloads."""

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.on_close(self)

    def lost(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
        try:
            self.handler.link_lost(reason)
        except Exception:
            log.failure("mqtt handler failed on link_lost")

    def received(self, payload: bytes) -> None:
        if b"\r" in payload:  # CR LF or CR line ends, as a terminal may publish them, read as LF
            payload = payload.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        payload = payload.strip(b"\n")
        if self.closed or not payload:
            return
        if len(payload) > self.max_frame:
            try:
                self.handler.bad_frame(f"frame longer than {self.max_frame} bytes",
                                       payload[:RAW_LIMIT])
            except Exception:
                log.failure("mqtt handler failed on {peer}; the link goes on", peer=self.peer)
            return
        try:
            self.handler.frame_received(payload)
        except Exception:
            log.failure("mqtt handler failed on {peer}; the link goes on", peer=self.peer)


def loop_of(reactor: IReactorTime) -> asyncio.AbstractEventLoop:
    """The asyncio loop under Twisted's asyncio reactor: aiomqtt runs on it.

    Taken from the reactor, not from ``asyncio.get_running_loop()``: ``lems serve`` opens its
    listen entries from ``callWhenRunning``, before the loop itself runs."""
    loop: asyncio.AbstractEventLoop | None = getattr(reactor, "_asyncioEventloop", None)
    if loop is None:
        raise EndpointError("mqtt links need the asyncio reactor (lems serve --reactor asyncio)")
    return loop


class MqttListener:
    """The switch's side: one broker session, one link per terminal client id."""

    def __init__(self, loop: asyncio.AbstractEventLoop, addr: MqttAddress,
                 handler_factory: Callable[[], LinkHandler], options: LinkOptions) -> None:
        self.loop = loop
        self.addr = addr
        self.max_frame = options.max_frame
        self.handler_factory = handler_factory
        self.links: dict[str, MqttLink] = {}
        self.session = _Session(loop, addr, f"lems-switch-{addr.prefix}",
                                [addr.topic("+", "in"), addr.topic("+", "state")],
                                self._message, options.write_limit)

    def getHost(self) -> Any:
        return _Host(self.addr.host, self.addr.port)

    def _message(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        if len(parts) < 3:
            return
        client, leg = parts[-2], parts[-1]
        link = self.links.get(client)
        if leg == "state":
            if payload == b"offline" and link is not None:
                del self.links[client]
                link.lost("terminal went offline")
            return
        if leg != "in" or not payload:
            return
        if link is None:
            link = MqttLink(self.session, self.handler_factory(), client,
                            self.addr.topic(client, "out"), self._closed, self.max_frame)
            # the broker lets only this terminal's user publish on its topic (lems init --mqtt
            # writes the ACL): the topic names who sent it, as a TLS certificate does
            link.identity = client
            self.links[client] = link
            try:
                link.handler.link_made(link)
            except Exception:
                log.failure("mqtt handler failed on link_made")
        link.received(payload)

    def _closed(self, link: MqttLink) -> None:
        if self.links.get(link.client) is link:
            del self.links[link.client]
        link.lost("closed by the switch")

    def stopListening(self) -> Deferred[None]:
        for link in list(self.links.values()):
            link.close()
        return Deferred.fromFuture(self.loop.create_task(self.session.close()))


@dataclass(frozen=True, slots=True)
class _Host:
    host: str
    port: int


class MqttAdapter:
    """The ``mqtt://`` link kind."""

    requires = (("aiomqtt", "aiomqtt"),)
    summary = ("MQTT broker, one topic pair per terminal, QoS 1, persistent sessions; mqtts: "
               "over TLS, the broker checked against the lab CA (cafile=)")

    def listen(self, reactor: IReactorTime, address: str,
               handler_factory: Callable[[], LinkHandler],
               options: LinkOptions) -> Deferred[MqttListener]:
        addr = parse_mqtt(address)
        loop = loop_of(reactor)
        listener = MqttListener(loop, addr, handler_factory, options)

        async def ready() -> MqttListener:
            try:
                await listener.session.ready
            except Exception:
                await listener.session.close()
                raise
            return listener

        return Deferred.fromFuture(loop.create_task(ready()))

    def connect(self, reactor: IReactorTime, address: str, handler: LinkHandler,
                options: LinkOptions) -> Deferred[MqttLink]:
        import aiomqtt

        addr = parse_mqtt(address)
        loop = loop_of(reactor)
        client = addr.client or f"anon-{uuid.uuid4().hex[:8]}"
        state = addr.topic(client, "state")
        link: list[MqttLink] = []

        def message(topic: str, payload: bytes) -> None:
            if link:
                link[0].received(payload)

        session = _Session(loop, addr, f"lems-{addr.prefix}-{client}", [addr.topic(client, "out")],
                           message, options.write_limit,
                           will=aiomqtt.Will(state, b"offline", qos=1))

        def closed(mine: MqttLink) -> None:
            async def bye() -> None:
                await session.close(last=(state, b"offline"))
                mine.lost("closed")

            session.closing = loop.create_task(bye())

        async def up() -> MqttLink:
            try:
                await session.ready
            except Exception:
                await session.close()
                raise
            made = MqttLink(session, handler, client, addr.topic(client, "in"), closed,
                            options.max_frame)
            made.peer = f"mqtt:{addr.host}:{addr.port}/{addr.prefix}/{client}"
            link.append(made)
            handler.link_made(made)
            return made

        return Deferred.fromFuture(loop.create_task(up()))


ADAPTER = MqttAdapter()


# ---------------------------------------------------------------------- the lab's broker

SWITCH_USER = "lems-switch"


def _mosquitto_hash(password: str) -> str:
    """Mosquitto 2's password file hash (``$7$``: PBKDF2-SHA512, 101 rounds, 12-byte salt), as
    ``mosquitto_passwd`` writes it, so the lab needs no broker tools to make its files."""
    import base64
    import hashlib
    import os

    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101)
    return f"$7$101${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def write_broker_config(directory: Any, terminals: list[str], *, port: int = 1883,
                        prefix: str = "lems") -> dict[str, str]:
    """Write a Mosquitto configuration that binds each terminal's topics to its identity:
    ``mosquitto.conf``, ``passwd`` (one user per terminal and one for the switch), ``acl`` and
    ``credentials.txt`` (the passwords, for the lab's vendors). Returns user -> password.

    The broker checks the identity, not the switch: user ``T05`` may publish only on
    ``PREFIX/T05/in`` and ``…/state`` and read only ``PREFIX/T05/out``; anonymous clients are
    refused. The switch then takes the topic as the terminal's identity (a LOGON of another
    terminal on it is refused). The client id is not bound: a terminal often publishes and
    subscribes from two clients (``mosquitto_pub``/``_sub``), which one shared id would make
    throw each other off. Sessions persist across a broker restart.
    """
    import getpass
    import secrets
    from pathlib import Path

    d = Path(directory).resolve()
    d.mkdir(parents=True, exist_ok=True)
    users = {SWITCH_USER: secrets.token_urlsafe(12)}
    users.update({t: secrets.token_urlsafe(9) for t in terminals})
    passwd = d / "passwd"
    passwd.write_text("".join(f"{u}:{_mosquitto_hash(p)}\n" for u, p in users.items()))
    passwd.chmod(0o600)
    (d / "acl").write_text(
        "# LEMS lab: each terminal reaches only its own topics (user name = terminal id)\n"
        f"user {SWITCH_USER}\ntopic readwrite {prefix}/#\n\n"
        f"pattern write {prefix}/%u/in\npattern write {prefix}/%u/state\n"
        f"pattern read {prefix}/%u/out\n")
    (d / "mosquitto.conf").write_text(
        f"# Mosquitto for the LEMS lab: mosquitto -c {d / 'mosquitto.conf'}\n"
        # started as root, Mosquitto drops to this user: the lab's owner, who can read passwd
        f"user {getpass.getuser()}\n"
        f"listener {port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {passwd}\nacl_file {d / 'acl'}\n"
        f"persistence true\npersistence_location {d}/\nmax_queued_messages 10000\n")
    creds = d / "credentials.txt"
    creds.write_text("# MQTT user and password of each terminal (user name = client id)\n"
                     + "".join(f"{u} {p}\n" for u, p in users.items()))
    creds.chmod(0o600)
    return users
