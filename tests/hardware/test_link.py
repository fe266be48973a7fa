"""FramedProtocol over TCP: frames written in one turn leave together at its end, straight to
the socket; what the peer cannot take yet waits in the transport, whole and in order."""

from __future__ import annotations

import asyncio
import socket

from support import Recorder, until, wait

from hardware import endpoints


async def test_frames_arrive_whole_and_in_order_when_the_socket_fills(reactor):
    """Big and small frames to a peer that reads slowly: the end of the turn sends them in one
    write, the kernel's socket buffer fills, the rest waits in the transport's queue; the peer
    must see them all, in order, byte for byte (fails if the unsent rest is cut wrong)."""
    server = Recorder()
    port = await wait(
        endpoints.listen(reactor, "tcp:0:interface=127.0.0.1:write_limit=33554432", lambda: server)
    )
    try:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port.getHost().port))
        sock.setblocking(False)
        await until(lambda: server.link is not None)
        # ~6 MB: more than the kernel's socket buffer takes (up to 4 MB on Linux)
        frames = [(f"{i:05d} " + "Y" * (i * 997 % 12_000)).encode() for i in range(1000)]
        assert server.link.direct  # plain TCP: sent at the end of the turn, not queued
        for f in frames:
            server.link.send(f)
        transport = server.link.transport
        assert not transport.dataBuffer and not transport._tempDataBuffer  # not yet
        await until(lambda: transport.dataBuffer or transport._tempDataBuffer)
        received = bytearray()
        expected = b"".join(f + b"\n\n" for f in frames)  # each message ends with an empty line
        while len(received) < len(expected):
            try:
                chunk = sock.recv(8192)
            except BlockingIOError:
                await asyncio.sleep(0.001)
                continue
            assert chunk, "link closed early"
            received += chunk
        assert bytes(received) == expected
        sock.close()
    finally:
        await wait(port.stopListening())


async def test_frames_of_one_turn_leave_in_one_write_in_order(reactor):
    """Many frames written in one turn reach the peer in order, as written; frames written
    before a close still go; a frame written after it does not."""
    server = Recorder()
    port = await wait(endpoints.listen(reactor, "tcp:0:interface=127.0.0.1", lambda: server))
    try:
        sock = socket.socket()
        sock.connect(("127.0.0.1", port.getHost().port))
        sock.setblocking(False)
        await until(lambda: server.link is not None)
        link = server.link
        for i in range(500):
            link.send(f"FRAME {i}".encode())
        link.close()
        link.send(b"AFTER CLOSE")
        received = bytearray()
        while True:
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                await asyncio.sleep(0.001)
                continue
            if not chunk:
                break
            received += chunk
        assert bytes(received) == b"".join(f"FRAME {i}\n\n".encode() for i in range(500))
        sock.close()
    finally:
        await wait(port.stopListening())


async def test_a_handler_that_raises_costs_one_frame_not_the_link(reactor):
    """The handler fails on one frame of a chunk: the frames after it in the same chunk and in
    later chunks still arrive, and the link stays up."""

    class Fussy(Recorder):
        def frame_received(self, payload: bytes) -> None:
            if payload == b"BOOM":
                raise RuntimeError("handler bug")
            super().frame_received(payload)

    server = Fussy()
    port = await wait(endpoints.listen(reactor, "tcp:0:interface=127.0.0.1", lambda: server))
    try:
        sock = socket.create_connection(("127.0.0.1", port.getHost().port))
        sock.sendall(b"ONE\nBOOM\nTWO\n")
        await until(lambda: len(server.frames) == 2)
        sock.sendall(b"THREE\n")
        await until(lambda: len(server.frames) == 3)
        assert server.frames == [b"ONE", b"TWO", b"THREE"]
        assert not server.lost
        sock.close()
    finally:
        await wait(port.stopListening())


async def test_sending_to_a_peer_that_reset_ends_the_link_cleanly(reactor):
    """The peer is gone (a reset): the direct send fails, the transport finds the error again
    and the handler hears of the loss; nothing raises into the reactor."""
    import struct

    server = Recorder()
    port = await wait(endpoints.listen(reactor, "tcp:0:interface=127.0.0.1", lambda: server))
    try:
        sock = socket.create_connection(("127.0.0.1", port.getHost().port))
        await until(lambda: server.link is not None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST
        for _ in range(50):  # keep sending until the reset is seen
            if server.lost:
                break
            for i in range(10):
                server.link.send(f"AFTER RESET {i}".encode())
            await asyncio.sleep(0.02)
        await until(lambda: server.lost)
        server.link.send(b"AFTER LOSS")  # a closed link drops it quietly
    finally:
        await wait(port.stopListening())
