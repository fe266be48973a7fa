"""stx acknowledgement as a vendor's terminal meets it on TCP (the same ARQ runs on serial):
every frame ACKed once journaled, NAK only for a damaged block, a too-long block rejected and
ACKed, ENQ answered, and the switch's frames sent stop-and-wait until the terminal ACKs."""

from __future__ import annotations

import asyncio
import socket
import sqlite3

from support import demo_lab, wait

from formats.framing import ACK, ENQ, NAK, Frame, StxEtxFramer, block_check

PASSWORD_OF_OP01 = "train-01"


class Vendor:
    """A raw socket speaking STX/ETX by hand: what a CAD vendor's code does."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.framer = StxEtxFramer()
        self.events: list = []
        self.acked: set[bytes] = set()
        """Frames this terminal has ACKed: a copy sent again before the ACK arrived is
        dropped, as a terminal drops a repeated OSN."""

    async def read(self, count: int, timeout: float = 10) -> list:
        loop = asyncio.get_running_loop()
        while len(self.events) < count:
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), timeout)
            assert data, "link closed"
            self.events += [
                e
                for e in self.framer.feed(data)
                if not (isinstance(e, Frame) and e.payload in self.acked)
            ]
        got, self.events = self.events[:count], self.events[count:]
        return got

    async def send(self, raw: bytes) -> None:
        await asyncio.get_running_loop().sock_sendall(self.sock, raw)

    async def ack(self, payload: bytes) -> None:
        self.acked.add(payload)
        await self.send(bytes([ACK]))


def controls(events: list) -> list[int]:
    return [e.code for e in events if hasattr(e, "code")]


def frames(events: list) -> list[bytes]:
    return [e.payload for e in events if isinstance(e, Frame)]


async def test_stx_on_tcp_every_frame_acked_after_journaling_and_stop_and_wait(tmp_path, reactor):
    from lems.switch import Switch

    lab = demo_lab(tmp_path)
    switch = Switch(lab, reactor)
    switch.start()
    try:
        port = await wait(switch.listen("tcp:0:interface=127.0.0.1:framing=stx:ack_timeout=0.3"))
        sock = socket.create_connection(("127.0.0.1", port.getHost().port))
        sock.setblocking(False)
        t = Vendor(sock)
        enc = StxEtxFramer().encode

        # LOGON: ACKed, and the journal row is there when the ACK is
        await t.send(enc(b"LOGON.T01.OP01." + PASSWORD_OF_OP01.encode()))
        first = await t.read(2)
        assert controls(first) == [ACK], first
        conn = sqlite3.connect(lab.database)
        assert (
            conn.execute(
                "SELECT count(*) FROM journal WHERE direction = 'in' AND text LIKE 'LOGON.T01.%'"
            ).fetchone()[0]
            == 1
        )
        (son,) = frames(first)
        assert b"\nSON.T01\n" in son
        # the switch waits for the terminal's ACK: nothing else is sent meanwhile, and without
        # it the SON comes again after ack_timeout
        (again,) = await t.read(1)
        assert again == Frame(son)
        await t.ack(son)

        # a reject: ACKed as well, then the REJ
        await t.send(enc(b"XX.OR0240000.NONSENSE"))
        got = await t.read(2)
        assert controls(got) == [ACK] and b"REJ" in frames(got)[0]
        await t.ack(frames(got)[0])

        # a damaged block: NAK (send it again), never ACK; journaled and echoed in a REJ
        await t.send(b"\x02QW.OR0240000\x03" + bytes([block_check(b"QW.OR0240000") ^ 0xFF]))
        got = await t.read(2)
        assert controls(got) == [NAK], got
        assert b"BAD-FRAME" in frames(got)[0] and b"BLOCK CHECK" in frames(got)[0]
        await t.ack(frames(got)[0])
        # ENQ: the last answer again
        await t.send(bytes([ENQ]))
        (repeat,) = await t.read(1)
        assert repeat.code == NAK

        # a block too long for max_frame: a reject and an ACK, never a NAK
        await t.send(enc(b"AM.OR0240000.OR0240000.TXT\n" + b"X" * 20000))
        got = await t.read(2)
        assert controls(got) == [ACK], got
        assert b"BAD-FRAME" in frames(got)[0]
        await t.ack(frames(got)[0])

        # the terminal NAKs a frame: it comes again
        await t.send(enc(b"QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"))
        got = await t.read(2)
        assert controls(got) == [ACK]
        answer = frames(got)[0]
        await t.send(bytes([NAK]))
        (resent,) = await t.read(1)
        assert resent == Frame(answer)
        await t.ack(answer)
        conn.close()
        sock.close()
    finally:
        await wait(switch.stop())
