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
    assert a.clientid == ""  # the terminal id is the client id (the lab's broker binds them)
    assert parse_mqtt("mqtt://h/p:client=T07:clientid=car-7").clientid == "car-7"
    for bad in (
        "mqtt://127.0.0.1:1883",
        "mqtt://h:x/p",
        "mqtt://h/p/#",
        "mqtt://h/p:qos=2",
        "mqtt://h/p:client=a/b",
        "mqtt://h/p:clientid=",
    ):
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
    listener = await wait(
        endpoints.listen(reactor, url, lambda: servers.append(Recorder()) or servers[-1])
    )
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
        await wait(
            endpoints.connect(reactor, f"mqtt://127.0.0.1:{free_port()}/x:client=T1", Recorder()),
            20,
        )


def test_without_the_dynamic_security_plugin_topics_are_bound_to_users_only(tmp_path):
    """A broker without mosquitto_dynamic_security.so gets passwd + acl: anonymous clients are
    refused, a terminal reaches only its own topics (T01-sub reads only), and, as the written
    files say, any client id is accepted."""
    import subprocess

    from mqtt_broker import Mosquitto, free_port

    from hardware.mqtt_link import write_broker_config

    port = free_port()
    users = write_broker_config(tmp_path / "mqtt", ["T01", "T02"], port=port, plugin=None)
    conf = (tmp_path / "mqtt" / "mosquitto.conf").read_text()
    assert "acl_file" in conf and "client ids are not" in conf
    assert not any(line.startswith("plugin") for line in conf.splitlines())
    assert not (tmp_path / "mqtt" / "dynamic-security.json").exists()

    def mosq(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tool, "-h", "127.0.0.1", "-p", str(port), "-q", "1", *args],
            capture_output=True,
            text=True,
            timeout=10,
        )

    with Mosquitto(tmp_path, port=port, conf_file=tmp_path / "mqtt" / "mosquitto.conf"):
        as_switch = ("-u", "lems-switch", "-P", users["lems-switch"])
        assert (
            mosq("mosquitto_sub", "-t", "lems/+/in", "-c", "-i", "sw", "-E", *as_switch).returncode
            == 0
        )
        anon = mosq("mosquitto_pub", "-t", "lems/T01/in", "-m", "x")
        assert anon.returncode != 0 and "not authorised" in anon.stderr.lower()
        for user, cid in (("T02", "T02"), ("T01-sub", "T01-sub"), ("T01", "any-id")):
            got = mosq(
                "mosquitto_pub",
                "-t",
                "lems/T01/in",
                "-m",
                f"from {user}",
                "-u",
                user,
                "-P",
                users[user],
                "-i",
                cid,
            )
            assert got.returncode == 0, got.stderr
        heard = mosq(
            "mosquitto_sub", "-t", "lems/+/in", "-c", "-i", "sw", "-W", "3", "-C", "3", *as_switch
        )
        assert heard.stdout.split() == ["from", "T01"]  # T02's and T01-sub's were dropped
        as_watch = (
            "-t",
            "lems/+/out",
            "-c",
            "-i",
            "T01-sub",
            "-u",
            "T01-sub",
            "-P",
            users["T01-sub"],
        )
        assert mosq("mosquitto_sub", "-E", *as_watch).returncode == 0
        for t in ("T02", "T01"):
            assert (
                mosq("mosquitto_pub", "-t", f"lems/{t}/out", "-m", f"to {t}", *as_switch).returncode
                == 0
            )
        watched = mosq("mosquitto_sub", "-W", "3", "-C", "2", "-v", *as_watch)
        assert watched.stdout.splitlines() == ["lems/T01/out to T01"]  # not T02's
