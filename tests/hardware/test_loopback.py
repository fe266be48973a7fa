"""The in-process loopback link: framed both ways, asynchronous, closable, refused when absent."""

from __future__ import annotations

import pytest
from support import wait
from twisted.internet.error import CannotListenError, ConnectionRefusedError

from hardware.loopback import connect_loop, listen_loop


class Recorder:
    def __init__(self) -> None:
        self.link = None
        self.frames: list[bytes] = []
        self.lost: list[str] = []

    def link_made(self, link) -> None:
        self.link = link

    def frame_received(self, payload: bytes) -> None:
        self.frames.append(payload)

    def bad_frame(self, reason: str, raw: bytes) -> None:
        self.frames.append(b"BAD:" + reason.encode())

    def control_received(self, code: int) -> None:
        pass

    def link_lost(self, reason: str) -> None:
        self.lost.append(reason)


@pytest.mark.parametrize("framing", ["line", "stx", "length"])
async def test_frames_both_ways_then_close(reactor, framing) -> None:
    servers: list[Recorder] = []

    def factory() -> Recorder:
        servers.append(Recorder())
        return servers[-1]

    port = await wait(listen_loop(reactor, f"t-{framing}", factory, framing))
    client = Recorder()
    link = await wait(connect_loop(reactor, f"t-{framing}", client, framing))
    assert link.peer.startswith("loop:")
    link.send(b"QW.OR0240000.NAM/DOE,JOHN")
    assert servers[0].frames == []  # delivered on a later reactor turn, never re-entrantly
    await wait(_later(reactor))
    assert servers[0].frames == [b"QW.OR0240000.NAM/DOE,JOHN"]
    servers[0].link.send(b"ANSWER")
    await wait(_later(reactor))
    assert client.frames == [b"ANSWER"]
    link.close()
    await wait(_later(reactor))
    assert client.lost and servers[0].lost
    await wait(port.stopListening())


async def test_refused_without_listener_and_name_taken(reactor) -> None:
    with pytest.raises(ConnectionRefusedError):
        await wait(connect_loop(reactor, "nobody", Recorder()))
    port = await wait(listen_loop(reactor, "taken", Recorder))
    with pytest.raises(CannotListenError):
        await wait(listen_loop(reactor, "taken", Recorder))
    await wait(port.stopListening())
    port = await wait(listen_loop(reactor, "taken", Recorder))
    await wait(port.stopListening())


def _later(reactor):
    from twisted.internet.task import deferLater

    return deferLater(reactor, 0.01, lambda: None)


async def test_a_burst_arrives_whole_and_in_order_before_the_close(reactor) -> None:
    """The writes of one turn reach the peer together (one read, as TCP coalesces them), in
    the order written, and before a close written after them."""
    servers: list[Recorder] = []

    def factory() -> Recorder:
        servers.append(Recorder())
        return servers[-1]

    port = await wait(listen_loop(reactor, "t-burst", factory, "length"))
    client = Recorder()
    link = await wait(connect_loop(reactor, "t-burst", client, "length"))
    reads: list[bytes] = []
    protocol = link.transport.peer.protocol
    original = protocol.dataReceived

    def counted(data: bytes) -> None:
        reads.append(data)
        original(data)

    protocol.dataReceived = counted
    frames = [b"FRAME %d" % i for i in range(100)]
    for f in frames:
        link.send(f)
    link.close()
    await wait(_later(reactor))
    assert servers[0].frames == frames
    assert len(reads) == 1
    assert servers[0].lost
    await wait(port.stopListening())
