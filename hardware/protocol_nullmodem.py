"""pyserial URL ``nullmodem://NAME/a`` and ``nullmodem://NAME/b``: the two ends of a null-modem
cable inside this process, modem lines included.

A pseudo-terminal pair (``hardware.nullmodem``, socat) carries bytes but has no modem lines
(``TIOCMGET`` fails on a pty), and pyserial's ``loop://`` has no file descriptor for the
reactor, echoes what is written to the writer and wires only DSR (its DCD is always on). This
handler wires a cable the standard null-modem way: each end's DTR drives the other end's DSR
and DCD, RTS drives CTS; the bytes go through a kernel socket pair, so Twisted's
``SerialPort`` reads the switch's end as it reads a device. A terminal program (or a test)
opens the other end with ``serial.serial_for_url("nullmodem://NAME/b")`` and leaves as a real
terminal does: it drops DTR (``port.dtr = False``) or closes the port, and the switch's end sees
DSR and DCD fall. The baud rate and character format are accepted and ignored (the bytes do not
travel at a line speed; ``throttle=1`` on the link paces them).

pyserial finds this module by name (``protocol_<scheme>``) in the packages listed in
``serial.protocol_handler_packages``; ``hardware.serial_link`` adds ``hardware`` there.
"""

from __future__ import annotations

import fcntl
import os
import select
import socket
import struct
import termios
import threading
from dataclasses import dataclass, field

from serial.serialutil import PortNotOpenError, SerialBase, SerialException, Timeout

__all__ = ["Serial"]


@dataclass
class _Cable:
    socks: tuple[socket.socket, socket.socket] = field(default_factory=socket.socketpair)
    dtr: dict[str, bool] = field(default_factory=lambda: {"a": False, "b": False})
    rts: dict[str, bool] = field(default_factory=lambda: {"a": False, "b": False})
    open: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for s in self.socks:
            s.setblocking(False)


_CABLES: dict[str, _Cable] = {}
_LOCK = threading.Lock()


def _parse(url: str) -> tuple[str, str]:
    rest = url.split("://", 1)[1] if url.lower().startswith("nullmodem://") else ""
    name, _, end = rest.partition("/")
    if not name or end not in ("a", "b"):
        raise SerialException(f"nullmodem URL must be nullmodem://NAME/a or /b, not {url!r}")
    return name, end


class Serial(SerialBase):  # type: ignore[misc]  # pyserial has no type information
    """One end of the cable, as a pyserial port (``fd`` for the reactor, ``dsr``/``cd``/``cts``
    from the other end's DTR and RTS)."""

    fd: int | None = None

    def open(self) -> None:
        if self._port is None:
            raise SerialException("Port must be configured before it can be used.")
        if self.is_open:  # type: ignore[has-type]
            raise SerialException("Port is already open.")
        name, end = _parse(str(self._port))
        with _LOCK:
            cable = _CABLES.get(name)
            if cable is None:
                cable = _CABLES[name] = _Cable()
            if end in cable.open:
                raise SerialException(f"{self._port} is already open")
            cable.open.add(end)
        self._name, self._end, self._other, self._cable = name, end, "ba"[end == "b"], cable
        self.fd = cable.socks[end == "b"].fileno()
        self.is_open = True
        # opening a port raises DTR and RTS (unless the caller set them low first)
        self._update_dtr_state()
        self._update_rts_state()

    def close(self) -> None:
        """Closing drops DTR and RTS, as the kernel does on a real port (HUPCL); the cable goes
        when both ends are closed."""
        if not self.is_open:
            return
        self.is_open = False
        cable = self._cable
        with _LOCK:
            cable.dtr[self._end] = cable.rts[self._end] = False
            cable.open.discard(self._end)
            if not cable.open:
                for s in cable.socks:
                    s.close()
                if _CABLES.get(self._name) is cable:
                    del _CABLES[self._name]
        self.fd = None

    def _reconfigure_port(self, force_update: bool = False) -> None:
        """Baud rate and character format mean nothing on this cable."""

    def _fd(self) -> int:
        if not self.is_open or self.fd is None:
            raise PortNotOpenError()
        return self.fd

    @property
    def in_waiting(self) -> int:
        n = fcntl.ioctl(self._fd(), termios.FIONREAD, b"\0\0\0\0")
        return int(struct.unpack("I", n)[0])

    def read(self, size: int = 1) -> bytes:
        fd = self._fd()
        got = bytearray()
        timeout = Timeout(self._timeout)
        while len(got) < size:
            ready, _, _ = select.select([fd], [], [], timeout.time_left())
            if not ready:
                break
            try:
                chunk = os.read(fd, size - len(got))
            except BlockingIOError:
                continue
            if not chunk:
                break
            got += chunk
            if timeout.expired():
                break
        return bytes(got)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        fd = self._fd()
        view = memoryview(bytes(data))
        while view:
            select.select([], [fd], [], None)
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                continue
        return len(data)

    def reset_input_buffer(self) -> None:
        fd = self._fd()
        try:
            while os.read(fd, 65536):
                pass
        except BlockingIOError:
            pass

    def reset_output_buffer(self) -> None:
        """Bytes written are in the other end's buffer already: nothing waits here."""

    def _update_dtr_state(self) -> None:
        if self.is_open:
            self._cable.dtr[self._end] = bool(self._dtr_state)

    def _update_rts_state(self) -> None:
        if self.is_open:
            self._cable.rts[self._end] = bool(self._rts_state)

    def _update_break_state(self) -> None:
        """A break is not carried."""

    @property
    def dsr(self) -> bool:
        self._fd()
        return self._cable.dtr[self._other]

    @property
    def cd(self) -> bool:
        self._fd()
        return self._cable.dtr[self._other]

    @property
    def cts(self) -> bool:
        self._fd()
        return self._cable.rts[self._other]

    @property
    def ri(self) -> bool:
        self._fd()
        return False
