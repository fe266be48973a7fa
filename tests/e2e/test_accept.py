"""The accept gate (``lems.accept``) on a real switch over loopback TCP: a connection from an
address over its limits is closed as it is accepted, costs no link, no session and no journal row
of its own, and is summarised in one row per address."""

from __future__ import annotations

import sqlite3

from support import demo_lab, running_switch, signed_on, until, wait

from lems import accept
from terminals.client import TerminalClient


def settings(**kw: object):
    def edit(text: str) -> str:
        lines = "".join(f"\n{k} = {v}" for k, v in kw.items())
        return text.replace("lockout_after = 5", "lockout_after = 5" + lines)

    return edit


async def client(switch, reactor, source: str) -> TerminalClient:
    c = TerminalClient(reactor)
    await wait(c.connect(f"{switch.endpoint}:bindAddress={source}"))
    return c


def summaries(database) -> list[tuple[str, str]]:
    conn = sqlite3.connect(database)
    try:
        return conn.execute(
            "SELECT link, text FROM journal WHERE text LIKE 'LINKS REFUSED AT ACCEPT%' ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()


async def test_links_not_signed_on_from_one_address_are_capped_at_accept(
    tmp_path, reactor, monkeypatch
):
    monkeypatch.setattr(accept, "HOLD", 0.05)
    lab = demo_lab(tmp_path, settings(source_links=3, source_frames=0, source_bytes=0))
    async with running_switch(lab, reactor) as switch:
        opened = switch.stats["links_opened"]
        held = [await client(switch, reactor, "127.0.0.7") for _ in range(3)]
        await until(lambda: switch.stats["links_opened"] == opened + 3)
        refused = []
        for _ in range(5):
            c = await client(switch, reactor, "127.0.0.7")
            await wait(c.lost, 10)  # closed at once, with nothing said
            assert c.drain() == []
            refused.append(c)
        assert switch.stats["links_refused_unsigned"] == 5
        assert switch.stats["links_opened"] == opened + 3  # no link, no session was made
        assert all(c.connected for c in held)
        # another address is not affected, and a link that signs on no longer counts
        t1 = await signed_on(switch, reactor, "T01")
        held[0].close()
        await until(lambda: switch.stats["links_closed"] >= 1)
        again = await client(switch, reactor, "127.0.0.7")
        out = await wait(again.logon("T02", "OP02", lab.operators["OP02"].password))
        assert out.key == "SON", out.body
        extra = await client(switch, reactor, "127.0.0.7")  # 2 unsigned + this one: admitted
        assert not extra.lost.called
        for c in (t1, again, extra, *held[1:]):
            c.close()
        assert summaries(lab.database) == []  # one summary per address and interval, not yet
    rows = summaries(lab.database)  # the switch stopped: the pending summary was written
    assert len(rows) == 1
    assert rows[0][0] == "tcp:127.0.0.7"
    assert "5 OVER 3 LINKS NOT SIGNED ON AT ONCE" in rows[0][1]


async def test_an_address_over_its_rate_has_new_connections_closed_at_accept(
    tmp_path, reactor, monkeypatch
):
    monkeypatch.setattr(accept, "HOLD", 0.05)
    lab = demo_lab(tmp_path, settings(source_frames=2))
    async with running_switch(lab, reactor) as switch:
        first = [await client(switch, reactor, "127.0.0.8") for _ in range(2)]
        more = [await client(switch, reactor, "127.0.0.8") for _ in range(20)]
        await until(lambda: switch.stats["links_refused_rate"] >= 16)
        t1 = await signed_on(switch, reactor, "T01")  # another address
        t1.close()
        for c in first + more:
            c.close()
    rows = summaries(lab.database)
    assert len(rows) == 1 and rows[0][0] == "tcp:127.0.0.8"
    assert "OVER ITS RATE (2 FRAMES/S" in rows[0][1]


async def test_an_address_whose_links_are_refused_for_its_rate_gets_no_new_link(tmp_path, reactor):
    lab = demo_lab(tmp_path, settings(source_frames=100, source_bytes=2000))
    async with running_switch(lab, reactor) as switch:
        first = await client(switch, reactor, "127.0.0.9")
        first.send("X" * 1500)
        first.send("Y" * 1500)  # over 2000 bytes/s: refused for the address's rate
        await until(lambda: any("CODE/RATE-LIMIT" in o.body for o in first.inbox.pending))
        c = await client(switch, reactor, "127.0.0.9")
        await wait(c.lost, 10)  # frames are still plentiful, but the address is over its rate
        assert switch.stats["links_refused_rate"] == 1
        first.close()


async def test_refused_connections_are_held_unread_a_while_then_dropped(
    tmp_path, reactor, monkeypatch
):
    """A tarpit: a peer that reconnects whenever it is closed waits out its refusal; past
    ``HELD_PER_ADDRESS`` refused connections are closed at once; stopping drops those held."""
    monkeypatch.setattr(accept, "HOLD", 0.5)
    monkeypatch.setattr(accept, "HELD_PER_ADDRESS", 2)
    lab = demo_lab(tmp_path, settings(source_links=1, source_frames=0, source_bytes=0))
    async with running_switch(lab, reactor) as switch:
        admitted = await client(switch, reactor, "127.0.0.10")
        await until(lambda: switch.stats["links_opened"] >= 1)
        held = [await client(switch, reactor, "127.0.0.10") for _ in range(2)]
        await until(lambda: switch.stats["links_held"] == 2)
        for c in held:
            c.send("HELLO")  # not read: no answer, no journal row
        closed = await client(switch, reactor, "127.0.0.10")  # the third: closed at once
        await wait(closed.lost, 10)
        assert not any(c.lost.called for c in held)
        assert switch.accept_gate.held["tcp:127.0.0.10"] == 2
        for c in held:
            await wait(c.lost, 10)  # dropped after HOLD
            assert c.drain() == []
        assert switch.stats["links_refused_unsigned"] == 3
        assert not switch.accept_gate.held and not switch.accept_gate.tarpits
        again = await client(switch, reactor, "127.0.0.10")  # held until the switch stops
        await until(lambda: len(switch.accept_gate.tarpits) == 1)
        admitted.close()
    await wait(again.lost, 10)
