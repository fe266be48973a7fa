"""The endpoint server in the switch's process: a turn's answers leave after one commit of what
they report, and systems sharing a database file never wait on each other's uncommitted writes."""

from __future__ import annotations

import sqlite3

from support import wait

from formats import endpoint_protocol as protocol
from hardware.loopback import connect_loop, listen_loop
from lems.endpoints.server import EndpointServer
from lems.endpoints.system import commit_group, group_commit, open_db

OWN = "OR0240000"


class Switchside:
    """The switch's end of the endpoint link: records the decoded frames."""

    def __init__(self) -> None:
        self.link = None
        self.frames: list[dict] = []

    def link_made(self, link) -> None:
        self.link = link

    def frame_received(self, payload: bytes) -> None:
        self.frames.append(protocol.decode(payload))

    def bad_frame(self, reason: str, raw: bytes) -> None:
        raise AssertionError(reason)

    def control_received(self, code: int) -> None:
        pass

    def link_lost(self, reason: str) -> None:
        pass


def entry(n: int) -> str:
    return (
        f"EW.{OWN}.NAM/GROUP,TEST{'ABCDEFGHIJ'[n]}.SEX/M.RAC/W.HGT/510.WGT/175.HAI/BRO"
        f".OFF/1299.DOW/20261101.OCA/G-{n}.DOB/1980010{n + 1}"
    )


async def test_a_turns_answers_leave_after_their_commit(reactor, tmp_path) -> None:
    from lems.clock import LabClock
    from lems.endpoints.ncic import Ncic

    ncic = Ncic.open(tmp_path / "ncic.db", LabClock(reactor, 1.0))
    server = EndpointServer(ncic, reactor)
    port = await wait(
        listen_loop(
            reactor, "ncic-commit-test", server.handler, protocol.FRAMING, protocol.MAX_FRAME
        )
    )
    side = Switchside()
    link = await wait(
        connect_loop(reactor, "ncic-commit-test", side, protocol.FRAMING, protocol.MAX_FRAME)
    )
    other = sqlite3.connect(tmp_path / "ncic.db")  # another process's view of NCIC's file
    seen: list[int] = []
    received = side.frame_received

    def on_answer(payload: bytes) -> None:  # what is durable when each answer arrives
        seen.append(other.execute("SELECT count(*) FROM record WHERE oca LIKE 'G-%'").fetchone()[0])
        received(payload)

    side.frame_received = on_answer
    try:
        for n in range(5):  # one burst: the server gets them in one turn
            link.send(protocol.request(n + 1, OWN, "T01", entry(n)))
        for _ in range(200):
            if len(side.frames) == 5:
                break
            await wait(_later(reactor))
        assert [f["id"] for f in side.frames] == [1, 2, 3, 4, 5]
        for f in side.frames:
            assert f["bodies"][0].startswith(f"ACC.{OWN}\nWANTED PERSON ENTERED"), f
        assert seen == [5, 5, 5, 5, 5]  # every entry committed before the first answer
        assert server.stats["answered"] == 5 and server.stats["errors"] == 0
    finally:
        other.close()
        link.close()
        await wait(port.stopListening())
        ncic.close()


def test_a_second_connection_never_waits_on_a_grouped_commit(tmp_path) -> None:
    """NICS writes NCIC's file through its own connection: inside a group, the first
    connection's waiting commit is done before the second one's statement (without that, the
    second would wait for the lock and fail with "database is locked")."""
    schema = "CREATE TABLE IF NOT EXISTS t (x INTEGER)"
    a = open_db(tmp_path / "shared.db", schema)
    b = open_db(tmp_path / "shared.db", schema)
    b.execute("PRAGMA busy_timeout = 0")  # fail at once rather than after 5 s
    try:
        with group_commit():
            a.execute("INSERT INTO t VALUES (1)")
            a.commit()  # waits for the group
            assert a.in_transaction
            b.execute("INSERT INTO t VALUES (2)")  # commits a first
            assert not a.in_transaction
            b.commit()
        assert b.in_transaction
        commit_group()
        assert not b.in_transaction
        assert sorted(x for (x,) in a.execute("SELECT x FROM t")) == [1, 2]
    finally:
        a.close()
        b.close()


def test_outside_a_group_a_commit_is_immediate(tmp_path) -> None:
    a = open_db(tmp_path / "one.db", "CREATE TABLE IF NOT EXISTS t (x INTEGER)")
    try:
        a.execute("INSERT INTO t VALUES (1)")
        a.commit()
        assert not a.in_transaction
    finally:
        a.close()


def _later(reactor):
    from twisted.internet.task import deferLater

    return deferLater(reactor, 0.01, lambda: None)
