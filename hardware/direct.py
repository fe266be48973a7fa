"""Writing straight to a Twisted socket transport's socket: the one place that touches its
private attributes.

Why: a Twisted transport queues every write and sends it on a later turn after asking the
poller to watch the socket for room and then to stop watching: two ``epoll_ctl`` calls and one
more event per frame, about a fifth of the switch's reactor time per transaction (see
``hardware.link.Outbox``). When the transport holds nothing, trying the socket first and
queueing only what it does not take keeps order, back-pressure and error handling the
transport's, and saves those calls.

Twisted has no public API for "send now if you can". So this module relies on
``twisted.internet.abstract.FileDescriptor`` internals: ``dataBuffer``, ``_tempDataBuffer``
(the two halves of its queue), ``_writeDisconnected``, ``disconnecting``, ``connected`` and
``writeSomeData(data) -> int | error``. ``usable`` checks they are all there (and the transport
is a plain TCP or UNIX connection, not TLS); where they are not, links use the public
``transport.write`` and only lose the speed. ``REQUIRED`` names what is relied on, and
``tests/hardware/test_direct.py`` fails loudly when a Twisted release changes it.
"""

from __future__ import annotations

from typing import Any, TypeGuard

from twisted.internet import tcp
from twisted.internet.interfaces import ISSLTransport, ITransport

REQUIRED = (
    "dataBuffer",
    "_tempDataBuffer",
    "_writeDisconnected",
    "disconnecting",
    "connected",
    "writeSomeData",
)
"""The transport attributes the direct write reads or calls."""


def usable(transport: ITransport) -> TypeGuard[tcp.Connection]:
    """True if ``send`` may try ``transport``'s socket before its queue: a Twisted socket
    connection (TCP, UNIX), not TLS, with every attribute in ``REQUIRED``."""
    return (
        isinstance(transport, tcp.Connection)
        and not ISSLTransport.providedBy(transport)
        and not getattr(transport, "TLS", False)
        and all(hasattr(transport, name) for name in REQUIRED)
    )


def send(transport: Any, data: bytes) -> None:
    """Send ``data``: straight to the socket when the transport has nothing queued (what the
    socket does not take goes to the queue), else through ``transport.write``.

    ``transport`` must have passed ``usable``; it is ``Any`` because the attributes used are
    private to Twisted's ``FileDescriptor``."""
    t = transport
    if (
        not t.dataBuffer
        and not t._tempDataBuffer
        and t.connected
        and not (t.disconnecting or t._writeDisconnected)
    ):
        sent = t.writeSomeData(data)
        if type(sent) is not int:  # an error: let the transport find it again and close
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    t.write(data)
