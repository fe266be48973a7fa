"""FramedProtocol over TCP: what the peer cannot take yet waits, whole and in order."""

from __future__ import annotations

import asyncio
import socket

from support import Recorder, until, wait

from hardware import endpoints


async def test_frames_arrive_whole_and_in_order_when_the_socket_fills(reactor):
    """Big and small frames to a peer that reads slowly: the kernel's socket buffer fills, the
    rest waits in the transport's queue; the peer must see them all, in order, byte for byte."""
    server = Recorder()
    port = await wait(endpoints.listen(reactor, "tcp:0:interface=127.0.0.1:write_limit=33554432",
                                       lambda: server))
    try:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port.getHost().port))
        sock.setblocking(False)
        await until(lambda: server.link is not None)
        # ~6 MB: more than the kernel's socket buffer takes (up to 4 MB on Linux)
        frames = [(f"{i:05d} " + "Y" * (i * 997 % 12_000)).encode() for i in range(1000)]
        for f in frames:
            server.link.send(f)
        assert server.link.transport.dataBuffer or server.link.transport._tempDataBuffer
        received = bytearray()
        expected = b"".join(f + b"\n" for f in frames)
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
