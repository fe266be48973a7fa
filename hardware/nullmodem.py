"""A null-modem cable in software: two pseudo-terminal pairs joined by the reactor.

Like ``socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B``, but in-process and with faults on
the wire, for tests, benchmarks and labs on machines without socat. Each side is a symlink
(``a``, ``b``) to a pty slave that a ``serial:`` link opens as if it were ``/dev/ttyUSB0``; the
modem holds the masters and copies bytes between them, optionally inserting noise bytes and
dropping bytes. ``pull()`` closes both masters (the serial links see their device go away, as
when a cable is pulled or a USB adapter unplugged); ``plug()`` makes new ptys behind the same
symlinks.

Noise bytes never include the STX/ETX link control bytes (STX ETX EOT ENQ ACK NAK): a block
check cannot detect a forged ACK, so such noise would only test the weakness of the protocol.
"""

from __future__ import annotations

import contextlib
import os
import random
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet import abstract, fdesc
from twisted.internet.interfaces import IReactorFDSet

__all__ = ["NullModem"]

_CONTROL = {0x02, 0x03, 0x04, 0x05, 0x06, 0x15}
_NOISE = bytes(b for b in range(256) if b not in _CONTROL)


class _Master(abstract.FileDescriptor):
    """One pty master as a reactor transport; received bytes go to ``received``.

    (``FileDescriptor``'s methods have no annotations, and mypy's ``untyped_calls_exclude``
    does not cover methods reached through a subclass: the calls below are marked.)"""

    def __init__(self, reactor: IReactorFDSet, fd: int, received: Callable[[bytes], None]) -> None:
        super().__init__(reactor)
        self.fd = fd
        self.received = received
        fdesc.setNonBlocking(fd)
        self.connected = 1

    def fileno(self) -> int:
        return self.fd

    def doRead(self) -> Any:
        return fdesc.readFromFD(self.fd, self.received)

    def writeSomeData(self, data: bytes) -> Any:
        return fdesc.writeToFD(self.fd, data)

    def connectionLost(self, reason: Any) -> None:
        super().connectionLost(reason)  # type: ignore[no-untyped-call]


class NullModem:
    """Two serial devices (``a`` and ``b`` paths) wired together, with optional line faults."""

    def __init__(
        self,
        reactor: IReactorFDSet,
        directory: Path | str,
        *,
        noise: float = 0.0,
        drop: float = 0.0,
        seed: int | None = None,
        names: tuple[str, str] = ("a", "b"),
    ) -> None:
        self.reactor = reactor
        self.directory = Path(directory)
        self.a = self.directory / names[0]
        self.b = self.directory / names[1]
        self.noise = noise
        self.drop = drop
        self.random = random.Random(seed)
        self.plugged = False
        self.carried = 0
        self.dropped = 0
        self.inserted = 0
        self._ends: list[_Master] = []
        self._fds: list[int] = []

    def plug(self) -> NullModem:
        """Make two pty pairs behind the ``a``/``b`` symlinks and start copying."""
        if self.plugged:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        ends = []
        for path in (self.a, self.b):
            master, slave = os.openpty()
            tty.setraw(slave)
            self._fds += [master, slave]  # holding the slave keeps the master readable
            tmp = path.with_name(path.name + ".new")
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
            tmp.symlink_to(os.ttyname(slave))
            tmp.replace(path)
            ends.append(master)
        ma = _Master(self.reactor, ends[0], lambda d: self._carry(d, 1))
        mb = _Master(self.reactor, ends[1], lambda d: self._carry(d, 0))
        self._ends = [ma, mb]
        for end in self._ends:
            end.startReading()  # type: ignore[no-untyped-call]
        self.plugged = True
        return self

    def _carry(self, data: bytes, to: int) -> None:
        if not self.plugged:
            return
        if self.drop or self.noise:
            data = self._spoil(data)
        self.carried += len(data)
        if data:
            self._ends[to].write(data)

    def _spoil(self, data: bytes) -> bytes:
        rnd = self.random
        out = bytearray()
        for byte in data:
            if self.noise and rnd.random() < self.noise:
                burst = rnd.randint(1, 4)
                out += bytes(rnd.choice(_NOISE) for _ in range(burst))
                self.inserted += burst
            if self.drop and rnd.random() < self.drop:
                self.dropped += 1
                continue
            out.append(byte)
        return bytes(out)

    def pull(self) -> None:
        """Pull the cable: both ends' devices go away (the serial links get a hang-up)."""
        if not self.plugged:
            return
        self.plugged = False
        for end in self._ends:
            end.stopReading()  # type: ignore[no-untyped-call]
            end.stopWriting()  # type: ignore[no-untyped-call]
        self._ends = []
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []

    def close(self) -> None:
        self.pull()
        for path in (self.a, self.b):
            if path.is_symlink():
                path.unlink()
