"""MQTT links against real brokers: the running Mosquitto (or one the fixture starts), a
Mosquitto started on a free port, and the in-process amqtt broker; persistent sessions keep what
was sent while a terminal was away."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import pytest_asyncio
from mqtt_broker import any_broker, mosquitto_binary, started_amqtt, started_mosquitto
from support import Recorder, until, wait

from hardware import endpoints
from hardware.mqtt_link import parse_mqtt
from hardware.registry import EndpointError


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def broker(reactor):
    async with any_broker() as b:
        yield b


def test_mqtt_strings():
    a = parse_mqtt("mqtt://127.0.0.1:1883/lems:client=T07")
    assert (a.host, a.port, a.prefix, a.client) == ("127.0.0.1", 1883, "lems", "T07")
    assert a.topic("T07", "in") == "lems/T07/in"
    assert parse_mqtt("mqtt://broker/lab/one").port == 1883
    for bad in ("mqtt://127.0.0.1:1883", "mqtt://h:x/p", "mqtt://h/p/#", "mqtt://h/p:qos=2",
                "mqtt://h/p:client=a/b"):
        with pytest.raises(EndpointError):
            parse_mqtt(bad)


async def conversation(reactor, host: str, port: int) -> None:
    url = f"mqtt://{host}:{port}/lems-test-{uuid.uuid4().hex[:8]}"
    servers: list[Recorder] = []

    def factory():
        servers.append(Recorder(echo=True))
        return servers[-1]

    listener = await wait(endpoints.listen(reactor, url, factory))
    try:
        a, b = Recorder(), Recorder()
        la = await wait(endpoints.connect(reactor, f"{url}:client=T07", a))
        lb = await wait(endpoints.connect(reactor, f"{url}:client=T08", b))
        for i in range(20):
            la.send(f"from a {i}".encode())
        lb.send(b"from b")
        await until(lambda: len(a.frames) == 20 and b.frames == [b"FROM B"])
        assert a.frames == [f"FROM A {i}".encode() for i in range(20)]  # in order
        assert sorted(s.link.peer for s in servers) == ["mqtt:T07", "mqtt:T08"]
        la.close()
        await until(lambda: a.lost and any(s.lost for s in servers))
        lb.close()
        await until(lambda: b.lost)
    finally:
        await wait(listener.stopListening())


async def test_conversation_on_the_session_broker(reactor, broker):
    await conversation(reactor, broker.host, broker.port)


async def test_conversation_on_a_mosquitto_started_here(reactor):
    binary = mosquitto_binary()
    if binary is None:
        pytest.skip("no mosquitto binary; the amqtt test covers this machine")
    async with started_mosquitto(binary) as b:
        await conversation(reactor, b.host, b.port)


async def test_conversation_on_amqtt_in_process(reactor):
    async with started_amqtt() as b:
        await conversation(reactor, b.host, b.port)


async def test_mail_sent_while_away_arrives_on_return(reactor, broker):
    """Persistent session: the switch publishes while the vehicle is out of coverage."""
    url = f"mqtt://{broker.host}:{broker.port}/lems-away-{uuid.uuid4().hex[:8]}"
    servers: list[Recorder] = []
    listener = await wait(endpoints.listen(reactor, url, lambda: servers.append(Recorder()) or
                                           servers[-1]))
    try:
        first = Recorder()
        link = await wait(endpoints.connect(reactor, f"{url}:client=T07", first))
        link.send(b"LOGON")
        await until(lambda: servers and servers[0].frames == [b"LOGON"])
        switch_side = servers[0].link
        link.close()
        await until(lambda: first.lost)
        # the switch's link object is gone (offline), but its session still publishes: write
        # to the vehicle's topic the way the switch does
        switch_side.closed = False
        switch_side.send(b"MAIL WHILE AWAY")
        await asyncio.sleep(0.3)
        back = Recorder()
        link2 = await wait(endpoints.connect(reactor, f"{url}:client=T07", back))
        await until(lambda: back.frames == [b"MAIL WHILE AWAY"])
        link2.close()
        await until(lambda: back.lost)
    finally:
        await wait(listener.stopListening())


async def test_unreachable_broker_fails_connect(reactor):
    from mqtt_broker import free_port

    with pytest.raises(ConnectionRefusedError):
        await wait(endpoints.connect(reactor, f"mqtt://127.0.0.1:{free_port()}/x:client=T1",
                                     Recorder()), 20)
