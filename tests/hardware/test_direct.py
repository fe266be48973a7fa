"""The direct write (``hardware.direct``) relies on private attributes of Twisted's socket
transports. These tests fail loudly when a Twisted release changes them, and show that a link
whose transport does not qualify still sends everything, through the public ``write``."""

from __future__ import annotations

import asyncio
import inspect
import socket

from support import Recorder, until, wait
from twisted.internet import abstract, tcp
from twisted.internet.interfaces import IPushProducer
from twisted.internet.testing import StringTransport

from hardware import direct, endpoints


def test_twisted_still_has_what_the_direct_write_relies_on():
    """Every name in ``direct.REQUIRED`` is on Twisted's FileDescriptor with the meaning the
    direct write assumes; if this fails, read ``hardware.direct`` before upgrading Twisted."""
    fd = abstract.FileDescriptor
    for name in direct.REQUIRED:
        assert hasattr(fd, name) or name in inspect.getsource(fd.__init__), (
            f"Twisted's FileDescriptor no longer has {name!r}: hardware.direct relies on it"
        )
    assert fd.dataBuffer == b"" and fd._writeDisconnected is False
    assert "_tempDataBuffer" in inspect.getsource(fd.write), (
        "FileDescriptor.write no longer queues in _tempDataBuffer"
    )
    assert issubclass(tcp.Connection, fd)
    assert "int" in str(inspect.signature(tcp.Connection.writeSomeData).return_annotation), (
        "tcp.Connection.writeSomeData no longer returns the count of bytes sent"
    )


async def test_a_real_tcp_transport_qualifies_and_a_string_transport_does_not(reactor):
    server = Recorder()
    port = await wait(endpoints.listen(reactor, "tcp:0:interface=127.0.0.1", lambda: server))
    try:
        sock = socket.create_connection(("127.0.0.1", port.getHost().port))
        await until(lambda: server.link is not None)
        assert direct.usable(server.link.transport) and server.link.direct
        assert not direct.usable(StringTransport())
        # the link, not its handler, is the transport's streaming producer
        assert IPushProducer.providedBy(server.link)
        assert server.link.transport.producer is server.link
        sock.close()
        await until(lambda: server.lost)
    finally:
        await wait(port.stopListening())


async def test_a_link_whose_transport_does_not_qualify_sends_through_write(reactor, monkeypatch):
    """The fallback: ``usable`` says no (as it would after a Twisted change), so the link
    writes through the transport's public queue; the peer still gets every frame in order."""
    monkeypatch.setattr(direct, "usable", lambda transport: False)
    server = Recorder()
    port = await wait(endpoints.listen(reactor, "tcp:0:interface=127.0.0.1", lambda: server))
    try:
        sock = socket.create_connection(("127.0.0.1", port.getHost().port))
        sock.setblocking(False)
        await until(lambda: server.link is not None)
        assert not server.link.direct
        for i in range(200):
            server.link.send(f"FRAME {i}".encode())
        server.link.close()
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
        assert bytes(received) == b"".join(f"FRAME {i}\n\n".encode() for i in range(200))
        sock.close()
    finally:
        await wait(port.stopListening())
