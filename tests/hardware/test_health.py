"""Link health: a terminal that never reads is dropped without stalling anyone else; idle links
are closed unless heartbeats keep them alive; outbound links reconnect with back-off."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from support import Recorder, demo_lab, signed_on, until, wait
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from hardware import endpoints
from hardware.health import Backoff
from hardware.link import FramedProtocol, framed
from hardware.reconnect import keep_connected
from lems.store import when_committed


async def test_a_terminal_that_never_reads_is_dropped_and_others_go_on(tmp_path, reactor):
    from lems.switch import Switch

    switch = Switch(demo_lab(tmp_path), reactor)
    switch.start()
    try:
        port = await wait(switch.listen("tcp:0:interface=127.0.0.1:write_limit=65536"))
        n = port.getHost().port
        switch.endpoint = f"tcp:host=127.0.0.1:port={n}"
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", n))
        sock.sendall(b"LOGON.T04.OP04.train-04\n")
        await until(lambda: "T04" in switch.online)
        t1 = await signed_on(switch, reactor, "T01")
        body = "AM.OR0240000\n" + ("X" * 70 + "\n") * 100
        # ~0.7 MB a round for a terminal that reads nothing: the kernel's socket buffer (up to
        # 4 MB here) fills first, then the link's own queue, which may hold 64 KiB
        for _ in range(20):
            for _ in range(100):
                switch.deliver("T04", body.rstrip("\n"), key="AM")
            await asyncio.sleep(0.2)
            if "T04" not in switch.online:
                break
        started = time.monotonic()
        out = await wait(t1.request("AM.OR0240000.OR0240000.TXT\nSTILL HERE"))
        assert out.key == "AM" and time.monotonic() - started < 2
        await until(lambda: "T04" not in switch.online, 10)
        await wait(when_committed(switch.writer, []))
        assert switch.mailboxes.count("T04") > 0  # the mail waits for the next sign-on
        t1.close()
        sock.close()
    finally:
        await wait(switch.stop())


async def test_idle_links_are_closed(reactor):
    server = Recorder()
    port = await wait(
        endpoints.listen(reactor, "tcp:0:interface=127.0.0.1:idle=0.3", lambda: server)
    )
    to = f"tcp:host=127.0.0.1:port={port.getHost().port}"
    try:
        quiet = Recorder()
        await wait(endpoints.connect(reactor, to, quiet))
        await until(lambda: quiet.lost, 3)
        assert server.lost == ["idle timeout"]
    finally:
        await wait(port.stopListening())


@pytest.mark.parametrize("framing", ["line", "stx", "length"])
def test_heartbeats_keep_an_idle_link_open_on_the_lab_clock(framing):
    """A switch link closes after 0.3 s of silence; a terminal that sends the framing's
    keepalive every 0.1 s keeps it open for as long as it beats (here 10 s of clock time),
    and the keepalives are no frames for the handler. The same link without heartbeats is
    closed at 0.3 s. Both ends run on one ``task.Clock``, their bytes pumped across."""
    clock = Clock()

    def pair(heartbeat: float) -> tuple[Recorder, FramedProtocol, StringTransport]:
        inner = Recorder()
        server = framed(inner, framing, clock=clock, idle=0.3)
        client = framed(Recorder(), framing, clock=clock, heartbeat=heartbeat, role="terminal")
        st, ct = StringTransport(), StringTransport()
        server.makeConnection(st)
        client.makeConnection(ct)

        def pump() -> None:
            if ct.value():
                server.dataReceived(ct.value())
                ct.clear()

        pumps.append(pump)
        return inner, server, st

    pumps: list = []
    beating, beating_link, beating_t = pair(0.1)
    _, quiet_link, quiet_t = pair(0.0)
    for _ in range(200):
        clock.advance(0.05)
        for pump in pumps:
            pump()
    assert quiet_link.lost_reason == "idle timeout" and quiet_t.disconnecting
    assert beating_link.lost_reason == "" and not beating_t.disconnecting
    assert beating.frames == [] and beating.bad == []


async def test_outbound_links_reconnect_with_backoff(reactor):
    server = Recorder()
    port = await wait(endpoints.listen(reactor, "tcp:0:interface=127.0.0.1", lambda: server))
    to = f"tcp:host=127.0.0.1:port={port.getHost().port}"
    client = Recorder()
    keeper = keep_connected(reactor, to, client, Backoff(initial=0.05, maximum=0.2))
    try:
        await until(lambda: client.made == 1)
        server.link.close()
        await until(lambda: client.made == 2)
        assert client.lost and keeper.connections == 2
    finally:
        await wait(keeper.stop())
        await wait(port.stopListening())


def test_backoff_grows_to_its_maximum():
    b = Backoff(initial=0.1, maximum=1.0, jitter=0)
    assert [round(b.next(), 2) for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    b.reset()
    assert b.next() == 0.1
