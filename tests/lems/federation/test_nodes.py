"""Two state switches as nodes of the Nlets network on a real 3-server NATS JetStream cluster:
queries answered by the other state's node from its files, AM by ORI, YQ/YR with each node's
deadlines, SM .02. while a node is down and the backlog answered when it returns."""

from __future__ import annotations

import sqlite3

import pytest
from federation_support import state_lab, until
from support import running_switch, signed_on, wait

from lems.federation.cluster import NatsCluster
from terminals.client import TimeoutError


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = NatsCluster(tmp_path_factory.mktemp("nats")).start()
    yield c
    c.stop()


async def frames(client, n: int, timeout: float = 15.0) -> list:
    out = []
    for _ in range(n):
        out.append(await wait(client.next(timeout), timeout + 1))
    return out


def add_driver(lab, oln: str, name: str) -> None:
    conn = sqlite3.connect(lab.database.parent / "home.db")
    conn.execute(
        "INSERT INTO driver VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (lab.state, oln, name, "X000", "19800101", "M", "W", "511", "180", "BRO", "VALID"),
    )
    conn.commit()
    conn.close()


async def two_nodes(tmp_path, cluster, stream, reactor, speed=1.0):
    oregon = state_lab(tmp_path / "OR", "OR", cluster.url, stream, speed)
    washington = state_lab(tmp_path / "WA", "WA", cluster.url, stream, speed)
    return oregon, washington


async def joined(*switches) -> None:
    for sw in switches:
        await until(lambda sw=sw: sw.federation.net.ready.is_set(), what="node ready")
    for sw in switches:
        for other in switches:
            st = other.lab.state
            await until(lambda sw=sw, st=st: sw.federation.net.is_up(st), what=f"{st} up")


async def test_queries_go_to_the_other_states_node_and_the_rest_to_the_simulation(
    tmp_path, cluster, reactor
) -> None:
    oregon, washington = await two_nodes(tmp_path, cluster, "Q1", reactor)
    # a licence only the Washington node's own files hold (the simulated WA has no such row)
    from lems.endpoints.seed import seed_lab

    seed_lab(washington.database.parent, 300, 1, ["WA0010000"], home="WA")
    add_driver(washington, "WAFED0001", "NODE,ONLY")
    async with running_switch(oregon, reactor) as o, running_switch(washington, reactor) as w:
        await joined(o, w)
        t01 = await signed_on(o, reactor, "T01")
        t01.send("DQ.OR0240000.WA.ID.TXT\nOLN/WAFED0001")
        got = await frames(t01, 2)
        by_state = {f.body.split("\n")[0][3:5]: f.body for f in got}
        assert "OLN/WAFED0001" in by_state["WA"] and "NODE" in by_state["WA"]
        assert by_state["WA"].startswith("DR.WAOLN0000")
        assert "NOT ON FILE" in by_state["ID"]  # the simulated Idaho answered

        # the Washington node journaled the query and its answer, from Oregon
        def rows() -> set:
            return set(
                w.reader.execute(
                    "SELECT direction, key, link FROM journal WHERE link = 'nlets:OR'"
                ).fetchall()
            )

        await until(
            lambda: {("in", "DQ", "nlets:OR"), ("out", "DR", "nlets:OR")} <= rows(),
            what="the query and its answer journaled by the Washington node",
        )
        # TQ is answered from the Washington lab's directory
        t01.send("TQ.OR0240000.WA.TXT\nORI/WA0010100")
        tr = (await frames(t01, 1))[0].body
        assert tr.startswith("TR.") and "ORI/WA0010100" in tr and "POLICE" in tr
        t01.close()


async def test_am_reaches_the_other_states_terminals_by_ori(tmp_path, cluster, reactor) -> None:
    oregon, washington = await two_nodes(tmp_path, cluster, "A1", reactor)
    async with running_switch(oregon, reactor) as o, running_switch(washington, reactor) as w:
        await joined(o, w)
        wa1 = await signed_on(w, reactor, "T01")
        wa2 = await signed_on(w, reactor, "T02")
        wa3 = await signed_on(w, reactor, "T03")
        t01 = await signed_on(o, reactor, "T01")
        t01.send("AM.OR0240000.WA0010000.TXT\nSUSPECT VEHICLE HEADED NORTH ON I-5")
        for c in (wa1, wa2):
            f = (await frames(c, 1))[0]
            assert f.body.startswith("AM.OR0240000") and "HEADED NORTH" in f.body
        # an ORI the Washington directory does not hold: ER .19. back to the sender
        t01.send("AM.OR0240000.WA0990000.TXT\nHELLO")
        er = (await frames(t01, 1))[0].body
        assert er.startswith("ER.") and ".19." in er and "WA0990000" in er
        with pytest.raises(TimeoutError):
            await wait(wa3.next(0.3))  # WA0010100 was not addressed
        # AML to the whole state: every criminal-justice terminal, not the licensing board's
        board = await signed_on(w, reactor, "T08")
        t01.send("AML.OR0240000.WA.TXT\nOFFICER SAFETY: ARMED SUBJECT")
        for c in (wa1, wa2, wa3):
            f = (await frames(c, 1))[0]
            assert f.body.startswith("AML.OR0240000") and "LAW ENFORCEMENT" in f.body
        with pytest.raises(TimeoutError):
            await wait(board.next(0.5))
        for c in (wa1, wa2, wa3, t01, board):
            c.close()


async def test_yq_yr_across_states_with_each_nodes_deadlines(tmp_path, cluster, reactor) -> None:
    # 600x: the 10-minute urgent deadline is one second of real time on both nodes
    oregon, washington = await two_nodes(tmp_path, cluster, "Y1", reactor, speed=600.0)
    async with running_switch(oregon, reactor) as o, running_switch(washington, reactor) as w:
        await joined(o, w)
        owner = await signed_on(w, reactor, "T01")
        t01 = await signed_on(o, reactor, "T01")
        t01.send(
            "YQ.OR0240000.WA0010000.TXT\nRTY/WP.RNO/1.PRI/U.NIC/W000000184.OCA/W12345."
            "RNA/DISPATCH.RAG/CASCADE CO SO"
        )
        yq = (await frames(owner, 1))[0]
        assert yq.body.startswith("YQ.OR0240000") and "OCA/W12345" in yq.body
        # no answer: Washington's clock reminds the owner, Oregon's tells the requester
        reminder = (await frames(owner, 1))[0]
        assert "HIT CONFIRMATION REMINDER" in reminder.body
        notice = (await frames(t01, 1))[0]
        assert "SEND SECOND REQUEST" in notice.body
        owner.send(
            "YR.WA0010000.OR0240000.TXT\nRTY/WP.RNO/1.CON/Y.NIC/W000000184.OCA/W12345."
            "RNA/RECORDS.RAG/KING CO SO"
        )
        while True:
            yr = (await frames(t01, 1))[0]
            if yr.body.startswith("YR."):
                break
        assert "CON/Y" in yr.body or "CONFIRMED" in yr.body
        for sw in (o, w):
            open_ = sw.state.hits.open
            assert not [r for r in open_.values() if r.oca == "W12345"], sw.lab.state
        owner.close()
        t01.close()


async def test_node_down_gets_sm_02_and_its_backlog_when_it_returns(
    tmp_path, cluster, reactor
) -> None:
    oregon, washington = await two_nodes(tmp_path, cluster, "D1", reactor)
    async with running_switch(oregon, reactor) as o:
        async with running_switch(washington, reactor) as w:
            await joined(o, w)
        await until(lambda: not o.federation.net.is_up("WA"), what="WA down")
        t01 = await signed_on(o, reactor, "T01")
        t01.send("DQ.OR0240000.WA.TXT\nOLN/WA0000001")
        sm = (await frames(t01, 1))[0].body
        assert sm.startswith("SM.") and ".02." in sm and "WILL FORWARD" in sm
        async with running_switch(washington, reactor) as w:
            dr = (await frames(t01, 1, timeout=20))[0].body
            assert dr.startswith("DR.WAOLN0000")
        t01.close()


async def test_a_node_speaks_only_for_its_own_states_agencies(tmp_path, cluster, reactor) -> None:
    """A message on the wire from 'ID' with an Oregon sender ORI is refused with ER .01.
    (what Nlets does with a sending ORI a member may not use); a resend with the same message
    id is dropped by the broker."""
    import nats
    import orjson

    _oregon, washington = await two_nodes(tmp_path, cluster, "S1", reactor)
    async with running_switch(washington, reactor) as w:
        await until(lambda: w.federation.net.ready.is_set(), what="node ready")
        nc = await nats.connect(cluster.urls)
        try:
            js = nc.jetstream()
            sub = await js.pull_subscribe("S1.to.ID", durable="node-ID", stream="S1")
            env = {
                "t": "req",
                "from": "ID",
                "seq": 7,
                "trm": "T01",
                "text": "DQ.OR0240000.WA.TXT\nOLN/WA1",
            }
            first = await js.publish(
                "S1.to.WA", orjson.dumps(env), headers={"Nats-Msg-Id": "ID-x-7-WA"}
            )
            again = await js.publish(
                "S1.to.WA", orjson.dumps(env), headers={"Nats-Msg-Id": "ID-x-7-WA"}
            )
            assert not first.duplicate and again.duplicate
            (answer,) = await sub.fetch(1, timeout=15)
            await answer.ack()
            got = orjson.loads(answer.data)
            assert got["t"] == "rsp" and got["from"] == "WA" and got["seq"] == 7
            (er,) = got["bodies"]
            assert er.startswith("ER.") and ".01." in er and "OR0240000" in er
        finally:
            await nc.close()


async def test_no_broker_gets_nlets_out_of_service_and_the_answer_when_it_returns(
    tmp_path, reactor
) -> None:
    """Every broker server down: the query is journaled, the terminal hears NLETS TEMPORARILY
    OUT OF SERVICE after node_timeout_s, the node keeps trying, and the answer comes once the
    brokers are back."""
    own = NatsCluster(tmp_path / "nats").start()
    try:
        oregon, washington = await two_nodes(tmp_path, own, "U1", reactor)
        async with running_switch(oregon, reactor) as o, running_switch(washington, reactor) as w:
            await joined(o, w)
            t01 = await signed_on(o, reactor, "T01")
            for i in range(len(own.nodes)):
                own.kill(i)
            t01.send("DQ.OR0240000.WA.TXT\nOLN/WA7654321")
            sm = (await frames(t01, 1))[0].body
            assert sm.startswith("SM.") and "NLETS" in sm and "OUT OF SERVICE" in sm
            for i in range(len(own.nodes)):
                own.restart(i)
            dr = (await frames(t01, 1, timeout=40))[0].body
            assert dr.startswith("DR.WAOLN0000") and "OLN/WA7654321" in dr
            t01.close()
    finally:
        own.stop()


async def test_a_request_journaled_but_never_published_is_sent_at_restart(
    tmp_path, cluster, reactor
) -> None:
    """The crash window between journaling a request and the broker taking it: the request
    row is in the journal with no trace of sending; at restart the node publishes it and the
    answer reaches the terminal's mailbox."""
    oregon, washington = await two_nodes(tmp_path, cluster, "R1", reactor)
    async with running_switch(washington, reactor) as w:
        async with running_switch(oregon, reactor) as o:
            await joined(o, w)
        conn = sqlite3.connect(oregon.database)
        seq = conn.execute("SELECT MAX(seq) FROM journal").fetchone()[0] + 1
        conn.execute(
            "INSERT INTO journal (seq, time, direction, link, terminal, operator, ori, "
            "key, disposition, reason, osn, ref, text) VALUES "
            "(?, '2026-12-07T10:00:00+00:00', 'in', 'tcp', 'T01', 'OP01', 'OR0240000', "
            "'DQ', 'accepted', '', 0, 0, ?)",
            (seq, "DQ.OR0240000.WA.TXT\nOLN/WA5550001"),
        )
        conn.commit()
        conn.close()
        async with running_switch(oregon, reactor) as o:

            def answer() -> list:
                return o.reader.execute(
                    "SELECT text FROM journal WHERE ref = ? AND key = 'DR' AND terminal = 'T01'",
                    (seq,),
                ).fetchall()

            got = await until(answer, 20, "the recovered request answered")
            assert "OLN/WA5550001" in got[0][0] and o.stats["network_recovered"] == 1
