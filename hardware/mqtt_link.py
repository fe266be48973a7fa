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
A terminal (``connect``) adds ``client=T07`` (default: a random id); its MQTT client id is the
terminal id too (``clientid=`` overrides it), because the lab's broker binds each terminal's
user name to that one client id (``write_broker_config``). The switch's client id is
``lems-switch-PREFIX``. Both ends reconnect to the broker with back-off; aiomqtt runs on the
asyncio loop under Twisted's asyncio reactor.
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

__all__ = [
    "ADAPTER",
    "MqttAdapter",
    "MqttAddress",
    "find_dynsec_plugin",
    "parse_mqtt",
    "switch_client_id",
    "write_broker_config",
]

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
    clientid: str = ""
    """The MQTT client id, where it must differ from the default (the terminal id; the
    switch's ``lems-switch-PREFIX``)."""

    def topic(self, client: str, leg: str) -> str:
        return f"{self.prefix}/{client}/{leg}"

    # for ``getHost()``
    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port


def parse_mqtt(address: str) -> MqttAddress:
    """``mqtt[s]://HOST[:PORT]/PREFIX[:client=ID][:clientid=ID][:keepalive=S][:username=U]``
    ``[:password=P][:cafile=CA.pem][:certKey=CLIENT.pem]`` (``mqtts``: TLS, port 8883 by
    default)."""
    scheme = address.split("://", 1)[0].lower()
    if scheme not in ("mqtt", "mqtts") or "://" not in address:
        raise EndpointError(f"mqtt endpoint must start with mqtt:// or mqtts://, not {address!r}")
    tls = scheme == "mqtts"
    parts = address[len(scheme) + 3 :].split(":")
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
        raise EndpointError(
            f"mqtt endpoint needs a host and a topic prefix without wildcards: "
            f"mqtt://127.0.0.1:1883/lems, not {address!r}"
        )
    named = {}
    for part in parts:
        name, eq, value = part.partition("=")
        if not eq or name not in (
            "client",
            "clientid",
            "keepalive",
            "username",
            "password",
            "cafile",
            "certKey",
        ):
            raise EndpointError(f"unknown mqtt option {part!r} in {address!r}")
        named[name] = value
    client = named.get("client", "")
    if any(c in client for c in "/+#"):
        raise EndpointError(
            f"mqtt client (the terminal in the topic) must not contain / + #: {client!r}"
        )
    if "clientid" in named and not named["clientid"]:
        raise EndpointError(f"mqtt clientid= must not be empty in {address!r}")
    try:
        keepalive = int(named.get("keepalive", 30))
    except ValueError:
        raise EndpointError(f"mqtt keepalive must be a number in {address!r}") from None
    if not tls and ("cafile" in named or "certKey" in named):
        raise EndpointError(f"cafile= and certKey= need mqtts://, not {address!r}")
    return MqttAddress(
        host,
        port,
        prefix,
        client,
        keepalive,
        named.get("username"),
        named.get("password"),
        tls,
        named.get("cafile"),
        named.get("certKey"),
        named.get("clientid", ""),
    )


def _client(addr: MqttAddress, identifier: str, will: Any = None) -> Any:
    import aiomqtt

    tls = None
    if addr.tls:
        tls = aiomqtt.TLSParameters(
            ca_certs=addr.cafile, certfile=addr.cert_key, keyfile=addr.cert_key
        )
    client = aiomqtt.Client(
        addr.host,
        addr.port,
        identifier=identifier,
        clean_session=False,
        keepalive=addr.keepalive,
        username=addr.username,
        password=addr.password,
        socket_options=NODELAY,
        will=will,
        tls_params=tls,
    )
    client.pending_calls_threshold = 1000  # QoS 1 publishes in flight are normal here
    return client


class _Session:
    """The broker connection shared by one end; reconnects with back-off until stopped."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        addr: MqttAddress,
        identifier: str,
        subscriptions: list[str],
        on_message: Callable[[str, bytes], None],
        write_limit: int,
        will: Any = None,
    ) -> None:
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
                    self.ready.set_exception(
                        ConnectionRefusedError(
                            f"MQTT broker {self.addr.host}:{self.addr.port}: {e}"
                        )
                    )
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
        fut = self.loop.create_task(
            self.client.publish(topic, payload, qos=1, timeout=PUBACK_TIMEOUT)
        )
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
            log.debug(
                "mqtt publish not acknowledged ({e}); sent again after reconnect",
                e=None if fut.cancelled() else fut.exception(),
            )
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

    def __init__(
        self,
        session: _Session,
        handler: LinkHandler,
        client: str,
        out_topic: str,
        on_close: Callable[[MqttLink], None],
        max_frame: int = 1 << 22,
    ) -> None:
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
                self.handler.bad_frame(
                    f"frame longer than {self.max_frame} bytes", payload[:RAW_LIMIT]
                )
            except Exception:
                log.failure("mqtt handler failed on {peer}; the link goes on", peer=self.peer)
            return
        try:
            self.handler.frame_received(payload)
        except Exception:
            log.failure("mqtt handler failed on {peer}; the link goes on", peer=self.peer)


def switch_client_id(prefix: str) -> str:
    """The switch's MQTT client id for a topic prefix: fixed, so its session persists, and
    distinct per prefix, so two labs on one broker do not throw each other off."""
    return f"lems-switch-{prefix}"


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

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        addr: MqttAddress,
        handler_factory: Callable[[], LinkHandler],
        options: LinkOptions,
    ) -> None:
        self.loop = loop
        self.addr = addr
        self.max_frame = options.max_frame
        self.handler_factory = handler_factory
        self.links: dict[str, MqttLink] = {}
        self.session = _Session(
            loop,
            addr,
            addr.clientid or switch_client_id(addr.prefix),
            [addr.topic("+", "in"), addr.topic("+", "state")],
            self._message,
            options.write_limit,
        )

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
            link = MqttLink(
                self.session,
                self.handler_factory(),
                client,
                self.addr.topic(client, "out"),
                self._closed,
                self.max_frame,
            )
            # the broker lets only this terminal's user, connected with this terminal's client
            # id, publish on its topic (lems init --mqtt writes the broker's configuration):
            # the topic names who sent it, as a TLS certificate does
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
    summary = (
        "MQTT broker, one topic pair per terminal, QoS 1, persistent sessions; mqtts: "
        "over TLS, the broker checked against the lab CA (cafile=)"
    )

    def listen(
        self,
        reactor: IReactorTime,
        address: str,
        handler_factory: Callable[[], LinkHandler],
        options: LinkOptions,
    ) -> Deferred[MqttListener]:
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

    def connect(
        self, reactor: IReactorTime, address: str, handler: LinkHandler, options: LinkOptions
    ) -> Deferred[MqttLink]:
        import aiomqtt

        addr = parse_mqtt(address)
        loop = loop_of(reactor)
        client = addr.client or f"anon-{uuid.uuid4().hex[:8]}"
        state = addr.topic(client, "state")
        link: list[MqttLink] = []

        def message(topic: str, payload: bytes) -> None:
            if link:
                link[0].received(payload)

        session = _Session(
            loop,
            addr,
            addr.clientid or client,
            [addr.topic(client, "out")],
            message,
            options.write_limit,
            will=aiomqtt.Will(state, b"offline", qos=1),
        )

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
            made = MqttLink(
                session, handler, client, addr.topic(client, "in"), closed, options.max_frame
            )
            made.peer = f"mqtt:{addr.host}:{addr.port}/{addr.prefix}/{client}"
            link.append(made)
            handler.link_made(made)
            return made

        return Deferred.fromFuture(loop.create_task(up()))


ADAPTER = MqttAdapter()


# ---------------------------------------------------------------------- the lab's broker

SWITCH_USER = "lems-switch"
WATCH_SUFFIX = "-sub"
"""``T05-sub``: a second, read-only identity per terminal, for a vendor who watches the output
with ``mosquitto_sub`` while ``mosquitto_pub`` sends as ``T05``: two connections cannot share
one client id (the broker drops the older), and the one that may send stays bound to one."""

DYNSEC_PLUGIN = "mosquitto_dynamic_security.so"
_PLUGIN_DIRS = (
    "/usr/lib/*-linux-gnu",
    "/usr/lib",
    "/usr/lib64",
    "/usr/lib/mosquitto",
    "/usr/local/lib",
    "/usr/local/lib/*-linux-gnu",
    "/usr/local/lib64",
    "/opt/homebrew/lib",
    "/usr/local/opt/mosquitto/lib",
)


def find_dynsec_plugin() -> str | None:
    """Mosquitto's dynamic-security plugin where the distribution installs it (Debian, Fedora,
    Homebrew, a source build), or None."""
    import glob

    for d in _PLUGIN_DIRS:
        found = sorted(glob.glob(f"{d}/{DYNSEC_PLUGIN}"))
        if found:
            return found[0]
    return None


def _mosquitto_salted(password: str) -> tuple[bytes, bytes]:
    """Mosquitto 2's password hash: PBKDF2-SHA512, 101 rounds, 12-byte salt (the password
    file's ``$7$`` and the dynamic-security file use the same), as ``mosquitto_passwd`` and
    ``mosquitto_ctrl`` make it, so the lab needs no broker tools to make its files."""
    import hashlib
    import os

    salt = os.urandom(12)
    return salt, hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101)


def _mosquitto_hash(password: str) -> str:
    import base64

    salt, digest = _mosquitto_salted(password)
    return f"$7$101${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def broker_identities(
    terminals: list[str], prefix: str = "lems"
) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Who may connect to the lab's broker: (user name = client id, role, [(acl type, topic)])
    in Mosquitto dynamic-security terms. Each terminal ``T`` publishes only on ``PREFIX/T/in``
    and ``…/state`` and reads only ``PREFIX/T/out``; ``T-sub`` only reads ``PREFIX/T/out``;
    the switch reads every ``in``/``state`` and publishes every ``out``."""
    rows = [
        (
            SWITCH_USER,
            "lems-switch",
            [
                ("subscribeLiteral", f"{prefix}/+/in"),
                ("subscribeLiteral", f"{prefix}/+/state"),
                ("publishClientSend", f"{prefix}/+/out"),
            ],
        )
    ]
    for t in terminals:
        rows.append(
            (
                t,
                f"terminal-{t}",
                [
                    ("publishClientSend", f"{prefix}/{t}/in"),
                    ("publishClientSend", f"{prefix}/{t}/state"),
                    ("subscribeLiteral", f"{prefix}/{t}/out"),
                ],
            )
        )
        rows.append(
            (
                t + WATCH_SUFFIX,
                f"terminal-{t}{WATCH_SUFFIX}",
                [("subscribeLiteral", f"{prefix}/{t}/out")],
            )
        )
    return rows


def write_broker_config(
    directory: Any,
    terminals: list[str],
    *,
    port: int = 1883,
    prefix: str = "lems",
    plugin: str | None = None,
) -> dict[str, str]:
    """Write a Mosquitto configuration that binds each terminal's topics to its identity:
    ``mosquitto.conf``, the users and their rights, and ``credentials.txt`` (user, password and
    client id of each, for the lab's vendors). Returns user -> password.

    The broker checks the identity, not the switch: user ``T05`` may publish only on
    ``PREFIX/T05/in`` and ``…/state`` and read only ``PREFIX/T05/out``; anonymous clients are
    refused. With ``plugin`` (Mosquitto's dynamic-security plugin, ``find_dynsec_plugin``) the
    rights go in ``dynamic-security.json`` and each user may connect only with its own client id
    (``T05`` as ``T05``; the switch as ``lems-switch-PREFIX``): the right password with another
    client id is refused. ``T05-sub`` (read-only) lets a vendor watch ``…/out`` with
    ``mosquitto_sub`` while ``mosquitto_pub`` sends as ``T05``. Without the plugin (Mosquitto
    1.x, a build without it) a ``passwd`` file and an ``acl`` bind the topics to the user name
    only and ``mosquitto.conf`` says so. The switch then takes the topic as the terminal's
    identity (a LOGON of another terminal on it is refused). Sessions persist across a broker
    restart.
    """
    import base64
    import getpass
    import json
    import secrets
    from pathlib import Path

    d = Path(directory).resolve()
    d.mkdir(parents=True, exist_ok=True)
    identities = broker_identities(terminals, prefix)
    users = {
        user: secrets.token_urlsafe(12 if user == SWITCH_USER else 9)
        for user, _role, _acls in identities
    }
    client_ids = {user: switch_client_id(prefix) if user == SWITCH_USER else user for user in users}
    conf = [
        f"# Mosquitto for the LEMS lab: mosquitto -c {d / 'mosquitto.conf'}",
        # started as root, Mosquitto drops to this user: the lab's owner, who can read it
        f"user {getpass.getuser()}",
        f"listener {port} 127.0.0.1",
        "allow_anonymous false",
    ]
    if plugin is not None:
        clients, roles = [], []
        for user, role, acls in identities:
            salt, digest = _mosquitto_salted(users[user])
            clients.append(
                {
                    "username": user,
                    "clientid": client_ids[user],
                    "password": base64.b64encode(digest).decode(),
                    "salt": base64.b64encode(salt).decode(),
                    "iterations": 101,
                    "roles": [{"rolename": role}],
                }
            )
            roles.append(
                {
                    "rolename": role,
                    "acls": [
                        {"acltype": kind, "topic": topic, "priority": 0, "allow": True}
                        for kind, topic in acls
                    ],
                }
            )
        dynsec = d / "dynamic-security.json"
        dynsec.write_text(
            json.dumps(
                {
                    "clients": clients,
                    "groups": [],
                    "roles": roles,
                    "defaultACLAccess": {
                        "publishClientSend": False,
                        "publishClientReceive": True,
                        "subscribe": False,
                        "unsubscribe": True,
                    },
                },
                indent=1,
            )
            + "\n"
        )
        dynsec.chmod(0o600)
        conf += [
            "# users, client ids and topics: dynamic-security.json (each user may connect "
            "only with its client id)",
            f"plugin {plugin}",
            f"plugin_opt_config_file {dynsec}",
        ]
    else:
        passwd = d / "passwd"
        passwd.write_text("".join(f"{u}:{_mosquitto_hash(p)}\n" for u, p in users.items()))
        passwd.chmod(0o600)
        lines = [
            "# LEMS lab: each terminal reaches only its own topics (user name = terminal "
            "id); client ids are NOT bound (no dynamic-security plugin)"
        ]
        for user, _role, acls in identities:
            lines.append(f"user {user}")
            lines += [
                f"topic {'write' if kind.startswith('publish') else 'read'} {topic}"
                for kind, topic in acls
            ]
            lines.append("")
        (d / "acl").write_text("\n".join(lines))
        conf += [
            f"# {DYNSEC_PLUGIN} was not found: topics are bound to the user name, "
            "client ids are not",
            f"password_file {passwd}",
            f"acl_file {d / 'acl'}",
        ]
    conf += ["persistence true", f"persistence_location {d}/", "max_queued_messages 10000"]
    (d / "mosquitto.conf").write_text("\n".join(conf) + "\n")
    creds = d / "credentials.txt"
    creds.write_text(
        "# MQTT user, password and client id of each terminal (T05-sub: read-only, "
        "to watch T05's output\n# alongside a T05 connection)"
        + ("" if plugin else "; client ids are not checked by this broker")
        + "\n"
        + "".join(f"{u} {p} {client_ids[u]}\n" for u, p in users.items())
    )
    creds.chmod(0o600)
    return users
