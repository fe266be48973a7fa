"""Link health: a terminal that never reads is dropped without stalling anyone else; idle links
are closed unless heartbeats keep them alive; outbound links reconnect with back-off."""

from __future__ import annotations

import asyncio
import socket
import time

from support import Recorder, demo_lab, signed_on, until, wait

from hardware import endpoints
from hardware.health import Backoff
from hardware.reconnect import keep_connected


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
        await wait(switch.writer.submit([]))
        assert switch.mailboxes.count("T04") > 0  # the mail waits for the next sign-on
        t1.close()
        sock.close()
    finally:
        await wait(switch.stop())


async def test_idle_links_are_closed_unless_heartbeats_keep_them(reactor):
    server = Recorder()
    port = await wait(endpoints.listen(reactor, "tcp:0:interface=127.0.0.1:idle=0.3",
                                       lambda: server))
    to = f"tcp:host=127.0.0.1:port={port.getHost().port}"
    try:
        quiet = Recorder()
        await wait(endpoints.connect(reactor, to, quiet))
        await until(lambda: quiet.lost, 3)
        assert server.lost == ["idle timeout"]
        server.lost.clear()
        beating = Recorder()
        link = await wait(endpoints.connect(reactor, to + ":heartbeat=0.1", beating))
        await asyncio.sleep(1.0)
        assert not beating.lost and not server.lost and server.frames == []
        link.close()
    finally:
        await wait(port.stopListening())


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
