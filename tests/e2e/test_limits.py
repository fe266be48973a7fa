"""Per-link limits on a real switch over loopback TCP: what a peer may send before sign-on, rates
per terminal and per source address, the sign-on deadline."""

from __future__ import annotations

import sqlite3

from support import demo_lab, running_switch, signed_on, until, wait

from lems.store import when_committed
from terminals.client import TerminalClient


def settings(**kw: object):
    def edit(text: str) -> str:
        lines = "".join(f"\n{k} = {v}" for k, v in kw.items())
        return text.replace("lockout_after = 5", "lockout_after = 5" + lines)

    return edit


async def client(switch, reactor, source: str = "127.0.0.1") -> TerminalClient:
    c = TerminalClient(reactor)
    await wait(c.connect(f"{switch.endpoint}:bindAddress={source}"))
    return c


def rows(switch, where: str) -> list[tuple]:
    conn = sqlite3.connect(switch.lab.database)
    try:
        return conn.execute(
            f"SELECT direction, text, disposition, reason FROM journal WHERE {where} ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()


async def test_a_peer_not_signed_on_writes_little_to_the_journal_and_is_closed(tmp_path, reactor):
    lab = demo_lab(tmp_path, settings(source_frames=0, source_bytes=0))
    async with running_switch(lab, reactor) as switch:
        c = await client(switch, reactor, "127.0.0.5")
        for i in range(30):
            c.send(f"JUNK{i:02d}." + "X" * 5000)
        lost = await wait(c.lost)
        assert lost
        got = c.drain()
        assert [o.key for o in got].count("REJ") == 8
        assert got[-1].key == "NTC" and "8 FRAMES WITHOUT A SIGN-ON" in got[-1].body
        await wait(when_committed(switch.writer, []))
        inbound = rows(switch, "direction = 'in' AND link LIKE 'tcp:127.0.0.5:%'")
        assert len(inbound) == 8
        assert all(len(r[1]) < 320 and "5007 BYTES SHA256/" in r[1] for r in inbound)
        closed = rows(switch, "direction = 'sys' AND disposition = 'closed'")
        assert len(closed) == 1 and "SHA256/" in closed[0][1]
        # everything the peer cost the journal, answers included: a few kilobytes, not 150
        conn = sqlite3.connect(switch.lab.database)
        size = conn.execute("SELECT SUM(LENGTH(text)) FROM journal WHERE seq > 1").fetchone()[0]
        conn.close()
        assert size < 8 * 1024
        # the switch serves the honest
        t1 = await signed_on(switch, reactor, "T01")
        assert (await wait(t1.request("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"))).key in (
            "HIT",
            "NRC",
        )
        t1.close()


async def test_a_terminal_over_its_rate_is_refused_and_stays_on_line(tmp_path, reactor):
    lab = demo_lab(tmp_path, settings(rate_frames=5))
    async with running_switch(lab, reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        t1.drain()
        for _ in range(20):
            t1.send("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101")
        answers = []
        await until(lambda: answers.extend(t1.drain()) or len(answers) >= 6, 10)
        refused = [o for o in answers if "CODE/RATE-LIMIT" in o.body]
        served = [o for o in answers if o.key in ("HIT", "NRC")]
        assert len(refused) == 1 and "LIMIT 5 FRAMES/S AND 1048576" in refused[0].body
        # the link was paused a second; what it had sent meanwhile is answered by one notice
        await until(
            lambda: (
                answers.extend(t1.drain())
                or any("MORE FRAMES NOT ACCEPTED" in o.body for o in answers)
            ),
            10,
        )
        notice = next(o for o in answers if "MORE FRAMES NOT ACCEPTED" in o.body)
        more = int(notice.body.split("RATE LIMIT - ")[1].split()[0])
        assert len(served) + 1 + more == 20 and len(served) >= 5
        await wait(when_committed(switch.writer, []))
        # journaled: the one reject and the one notice, not one row per refused frame
        assert len(rows(switch, "reason LIKE 'RATE-LIMIT%'")) == 1
        assert len(rows(switch, "text LIKE '%MORE FRAMES NOT ACCEPTED%'")) == 1
        # then the terminal is served again
        out = await wait(t1.request("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"))
        assert out.key in ("HIT", "NRC"), out.body
        t1.close()


async def test_links_of_one_address_share_its_rate_before_sign_on(tmp_path, reactor):
    lab = demo_lab(tmp_path, settings(source_frames=3))
    async with running_switch(lab, reactor) as switch:
        peers = [await client(switch, reactor, "127.0.0.6") for _ in range(3)]
        for p in peers:
            p.send("HELLO")
            p.send("HELLO")
        await until(lambda: sum(len(p.inbox.pending) for p in peers) >= 6)
        bodies = [o.body for p in peers for o in p.drain()]
        assert sum("CODE/RATE-LIMIT" in b for b in bodies) >= 2
        assert "BEFORE SIGN-ON" in next(b for b in bodies if "RATE-LIMIT" in b)
        # another address is not affected
        t1 = await signed_on(switch, reactor, "T01")
        t1.close()
    # stopping the switch closes the links it paused for their rate, signed on or not (a
    # paused link is in no reactor list: left open, its socket would wait for the GC)
    for p in peers:
        assert await wait(p.lost)


async def test_a_link_that_never_signs_on_is_closed_by_default(tmp_path, reactor):
    assert demo_lab(tmp_path / "default").switch.signon_timeout == 60
    lab = demo_lab(tmp_path / "lab", settings(signon_timeout=0.5))
    async with running_switch(lab, reactor) as switch:
        honest = await signed_on(switch, reactor, "T01")
        idle = await client(switch, reactor)
        await wait(idle.lost, 10)
        notice = idle.drain()
        assert notice and "NO SIGN-ON WITHIN 0.5 SECONDS" in notice[-1].body
        out = await wait(honest.request("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"))
        assert out.key in ("HIT", "NRC") and honest.connected
        honest.close()


async def test_a_terminal_that_does_not_read_is_not_read_either_then_dropped(
    tmp_path, reactor, monkeypatch
):
    """It cannot make the switch work for answers it does not take: once its socket is full the
    switch stops reading it, and drops it (journaled) when it still reads nothing."""
    import contextlib
    import socket

    from hardware import fair

    monkeypatch.setattr(fair, "STALL_DROP", 1.5)
    lab = demo_lab(tmp_path)
    async with running_switch(lab, reactor) as switch:
        host, port = switch.endpoint.split("host=")[1].split(":port=")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, int(port)))
        try:
            sock.sendall(b"LOGON.T04.OP04.train-04\n")
            await until(lambda: "T04" in switch.online)
            link = switch.online["T04"].link
            sock.setblocking(False)
            ori = switch.directory.terminals["T04"].oris[0]
            burst = f"QW.{ori}.NAM/DOE,JOHN.DOB/19800101\n".encode() * 20000
            sent = 0

            def push() -> bool:  # as much as the socket takes, until the switch holds the link
                nonlocal sent
                with contextlib.suppress(BlockingIOError):
                    sent += sock.send(burst[sent : sent + 65536])
                return fair.NOT_READING in link.holds

            await until(push, 30)
            await wait(when_committed(switch.writer, []))
            taken = len(rows(switch, "direction = 'in' AND terminal = 'T04' AND key = 'QW'"))
            assert 0 < taken < 20000
            # others are served meanwhile; the stuck one makes no more work
            t1 = await signed_on(switch, reactor, "T01")
            out = await wait(t1.request("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"))
            assert out.key in ("HIT", "NRC")
            await until(lambda: "T04" not in switch.online, 10)
            await wait(when_committed(switch.writer, []))
            assert (
                len(rows(switch, "direction = 'in' AND terminal = 'T04' AND key = 'QW'")) == taken
            )
            dropped = rows(switch, "disposition = 'dropped'")
            assert [r[1] for r in dropped] == ["LINK OF TERMINAL T04 DROPPED: PEER DOES NOT READ"]
            t1.close()
        finally:
            sock.close()
