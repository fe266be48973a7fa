"""Serial lines: ``serial:/dev/ttyUSB0:baudrate=9600:bytesize=7:parity=E:stopbits=1:framing=stx``.

Twisted's ``SerialPort`` over pyserial (it takes device paths, not pyserial URLs; DESIGN.md). Line
settings come from the endpoint string: ``baudrate``, ``bytesize`` (5-8), ``parity`` (N E O M S),
``stopbits`` (1, 1.5, 2), ``xonxoff``, ``rtscts``. Link options of this kind:

``throttle=1``
    pace output at the line speed (bits per character = start + data + parity + stop bits), so
    a 9600-baud teletype on a pseudo-terminal, which ignores the baud rate, feels like one.
``ack_timeout=SECONDS`` (default 1), ``retries=N`` (default 5), ``arq=0|1``
    With ``framing=stx`` (or ``dle``) the link runs stop-and-wait ARQ (on by default), by the
    rules of ``hardware.arq`` that TCP links with those framings follow too: the switch ACKs a
    frame once it is journaled, NAKs only a damaged one, answers ENQ; one frame outstanding,
    sent again after a NAK or when no answer came within ``ack_timeout`` (plus the time the
    frame takes on the line), given up after ``retries`` repeats (the mailbox still holds it).
Terminal loss: DSR (the terminal is on) and DCD (a modem holds the call) are polled every
``LINE_POLL`` seconds where the device has modem lines; a line seen high that drops closes the
link, and the listener reopens the device for the next terminal with nothing buffered. A device
without modem lines (a pseudo-terminal) relies on ``idle=SECONDS``.
The device may also be a pyserial URL whose port has a file descriptor, such as
``serial:nullmodem://NAME/a`` (``hardware.protocol_nullmodem``: a null-modem cable in this
process, modem lines wired, whose other end ``nullmodem://NAME/b`` a pyserial program opens).
``reopen=SECONDS`` (server side, default 0.5)
    a listening serial link whose device cannot be opened at start fails (``lems serve`` says so
    and exits); one that loses its device later (cable pulled, USB adapter gone) reopens it
    with back-off from this delay, and each reopening is a new link for the switch.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from formats.framing import link_framer
from hardware.arq import ArqLink, uses_arq
from hardware.health import Backoff
from hardware.link import LinkHandler, RelayHandler
from hardware.registry import EndpointError, LinkOptions

log = Logger()

__all__ = [
    "ADAPTER",
    "LineSettings",
    "SerialAdapter",
    "SerialLink",
    "SerialPortListener",
    "parse_serial",
]

_PARITY = {"N": "N", "E": "E", "O": "O", "M": "M", "S": "S"}
_OPTION = re.compile(r"[A-Za-z_]+=")


@dataclass(frozen=True, slots=True)
class LineSettings:
    """A serial endpoint string, parsed."""

    device: str
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    xonxoff: bool = False
    rtscts: bool = False
    throttle: bool = False
    arq: bool | None = None
    ack_timeout: float = 1.0
    retries: int = 5
    reopen: float = 0.5

    @property
    def bits_per_char(self) -> float:
        return 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits

    @property
    def chars_per_second(self) -> float:
        return self.baudrate / self.bits_per_char


def parse_serial(address: str) -> LineSettings:
    """``serial:DEVICE[:name=value…]`` → ``LineSettings``; ``EndpointError`` names a bad part."""
    parts = address.split(":")
    if len(parts) < 2 or not parts[1]:
        raise EndpointError(f"serial endpoint needs a device: serial:/dev/ttyUSB0, not {address!r}")
    if len(parts) > 2 and parts[2].startswith("//"):  # a pyserial URL: nullmodem://NAME/a
        parts[1:3] = [f"{parts[1]}:{parts[2]}"]
        while len(parts) > 2 and not _OPTION.match(parts[2]):  # its port: rfc2217://h:7000
            parts[1:3] = [f"{parts[1]}:{parts[2]}"]
    device, values = parts[1], {}
    for part in parts[2:]:
        name, eq, value = part.partition("=")
        if not eq:
            raise EndpointError(f"serial option {part!r} must be name=value in {address!r}")
        values[name] = value

    def get(name: str, cast: Callable[[str], Any], default: Any, ok: Callable[[Any], bool]) -> Any:
        raw = values.pop(name, None)
        if raw is None:
            return default
        try:
            value = cast(raw)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise EndpointError(f"serial option {name}={raw!r} is not valid in {address!r}")
        return value

    def flag(raw: str) -> bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(raw)

    settings = LineSettings(
        device=device,
        baudrate=get("baudrate", int, 9600, lambda v: v > 0),
        bytesize=get("bytesize", int, 8, lambda v: v in (5, 6, 7, 8)),
        parity=get("parity", lambda r: _PARITY.get(r.upper()), "N", lambda v: True),
        stopbits=get("stopbits", float, 1, lambda v: v in (1, 1.5, 2)),
        xonxoff=get("xonxoff", flag, False, lambda v: True),
        rtscts=get("rtscts", flag, False, lambda v: True),
        throttle=get("throttle", flag, False, lambda v: True),
        arq=get("arq", flag, None, lambda v: True),
        ack_timeout=get("ack_timeout", float, 1.0, lambda v: v > 0),
        retries=get("retries", int, 5, lambda v: v >= 0),
        reopen=get("reopen", float, 0.5, lambda v: v > 0),
    )
    if values:
        raise EndpointError(f"unknown serial option(s) {', '.join(sorted(values))} in {address!r}")
    return settings


def _checked(address: str, options: LinkOptions) -> LineSettings:
    settings = parse_serial(address)
    if options.arq is not None:
        settings = replace(settings, arq=options.arq)
    if options.ack_timeout is not None:
        settings = replace(settings, ack_timeout=options.ack_timeout)
    if options.retries is not None:
        settings = replace(settings, retries=options.retries)
    framer = link_framer(options.framing, options.max_frame, eol=options.eol_bytes("crlf"))
    if settings.arq and not uses_arq(framer):
        raise EndpointError(f"arq=1 needs framing=stx or dle in {address!r}")
    return settings


LINE_POLL = 0.5
"""Seconds between two looks at a serial line's DSR and DCD."""


def modem_lines(port: Any) -> dict[str, bool]:
    """DSR and DCD of a pyserial port; raises where the device has none (a pty: ENOTTY)."""
    return {"DSR": bool(port.dsr), "DCD": bool(port.cd)}


def lines_dropped(seen_high: set[str], now: dict[str, bool]) -> list[str]:
    """The lines once seen high that are low now: the terminal (or its modem) is gone."""
    return sorted(name for name in seen_high if not now.get(name, False))


class SerialLink(ArqLink):
    """A framed protocol for a serial line: optional throttle and, on STX/ETX, ACK/NAK ARQ
    (``hardware.arq``)."""

    def __init__(
        self,
        handler: LinkHandler,
        options: LinkOptions,
        settings: LineSettings,
        clock: IReactorTime,
        role: str = "switch",
    ) -> None:
        arq = settings.arq if settings.arq is not None else options.framing in ("stx", "dle")
        super().__init__(
            handler,
            link_framer(
                options.framing, options.max_frame, eol=options.eol_bytes("crlf"), role=role
            ),
            "serial",
            clock,
            arq=arq,
            ack_timeout=settings.ack_timeout,
            retries=settings.retries,
            role=role,
        )
        self.framing = options.framing
        self.write_limit = options.write_limit
        self.settings = settings
        # throttle: bytes waiting for the line, released at the line's character rate
        self._line = bytearray()
        self._line_call: Any = None
        self._line_loop: Any = None
        self._seen_high: set[str] = set()
        self.line_watch = ""
        """How the terminal's leaving is noticed: ``DSR/DCD`` or why only the idle timer."""
        self.watch(clock, options.idle, options.heartbeat)

    def connectionMade(self) -> None:
        super().connectionMade()
        self.peer = f"serial:{self.settings.device}"
        self._watch_lines()

    # ---------------------------------------------------------------- terminal loss

    def _watch_lines(self) -> None:
        """Notice the terminal leaving from its modem lines: DSR (the terminal is powered on)
        and DCD (a modem holds the call), polled every ``LINE_POLL`` seconds. A line counts once
        it has been seen high, so an adapter that wires neither never drops a link. Where the
        device has no modem lines (a pseudo-terminal, some adapters) only ``idle=`` notices."""
        port = getattr(self.transport, "_serial", None)
        try:
            self._seen_high = {name for name, high in modem_lines(port).items() if high}
        except Exception as e:
            self.line_watch = f"no modem lines ({e.__class__.__name__}): idle timer only"
            return
        from twisted.internet.task import LoopingCall

        self.line_watch = "DSR/DCD"
        self._line_loop = LoopingCall(self._check_lines)
        self._line_loop.clock = self.clock
        self._line_loop.start(LINE_POLL, now=False)

    def dataReceived(self, data: bytes) -> None:
        # a terminal that talks has its lines up: note them now, so one that signs on and
        # leaves between two polls is still noticed
        if self._line_loop is not None and len(self._seen_high) < 2:
            with contextlib.suppress(Exception):
                port = getattr(self.transport, "_serial", None)
                self._seen_high |= {name for name, high in modem_lines(port).items() if high}
        super().dataReceived(data)

    def _check_lines(self) -> None:
        try:
            now = modem_lines(getattr(self.transport, "_serial", None))
        except Exception:
            return
        gone = lines_dropped(self._seen_high, now)
        self._seen_high |= {name for name, high in now.items() if high}
        if gone and not self.closed:
            log.info(
                "serial {peer}: {lines} dropped, terminal gone",
                peer=self.peer,
                lines="/".join(gone),
            )
            self.lost_reason = f"terminal left ({'/'.join(gone)} dropped)"
            self.abort()

    def extra_wait(self) -> float:
        if not self.settings.throttle:
            return 0.0
        return (len(self._line) + 1) / self.settings.chars_per_second

    # ---------------------------------------------------------------- line speed

    def _write(self, data: bytes) -> None:
        if not self.settings.throttle or self.closed:
            super()._write(data)
            return
        self._line += data
        if len(self._line) > self.write_limit:
            self.lost_reason = "serial output backlog over write_limit"
            self.abort()
            return
        if self._line_call is None:
            self._pace()

    def _pace(self) -> None:
        """Release what the line carries in one 10 ms tick (at least one character)."""
        self._line_call = None
        if self.closed or not self._line:
            return
        tick = 0.01
        n = max(1, int(self.settings.chars_per_second * tick))
        chunk, self._line[:n] = bytes(self._line[:n]), b""
        super()._write(chunk)
        if self._line:
            self._line_call = self.clock.callLater(
                len(chunk) / self.settings.chars_per_second, self._pace
            )

    def connectionLost(self, reason: Any = None) -> None:
        if self._line_loop is not None and self._line_loop.running:
            self._line_loop.stop()
        if self._line_call is not None and self._line_call.active():
            self._line_call.cancel()
        self._line_call = None
        super().connectionLost(reason)


def register_url_handlers() -> None:
    """Let pyserial's ``serial_for_url`` open ``nullmodem://`` (``hardware.protocol_nullmodem``)
    in this process: done when this module is imported, for the switch and for a terminal
    program opening the cable's other end."""
    import serial

    if "hardware" not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append("hardware")


register_url_handlers()


def _url_port(url: str, **settings: Any) -> Any:
    """A pyserial URL port for Twisted's ``SerialPort``, which watches its ``fd``: URLs whose port
    has none (``loop://``, ``rfc2217://``) are refused with the reason."""
    import serial

    port = serial.serial_for_url(url, **settings)
    if not isinstance(getattr(port, "fd", None), int):
        port.close()
        raise OSError(
            f"pyserial URL {url} has no file descriptor to watch "
            "(a device path or nullmodem://NAME/a)"
        )
    return port


def open_port(reactor: IReactorTime, proto: SerialLink, s: LineSettings) -> Any:
    """Open the device with Twisted's ``SerialPort``; OSError / SerialException if it cannot."""
    from twisted.internet.serialport import SerialPort

    factory: Any = SerialPort
    if "://" in s.device:
        factory = type("UrlSerialPort", (SerialPort,), {"_serialFactory": staticmethod(_url_port)})
    return factory(
        proto,
        s.device,
        reactor,
        baudrate=s.baudrate,
        bytesize=s.bytesize,
        parity=s.parity,
        stopbits=s.stopbits,
        xonxoff=int(s.xonxoff),
        rtscts=int(s.rtscts),
    )


@dataclass(frozen=True, slots=True)
class SerialAddress:
    """What ``getHost`` gives for a serial port."""

    host: str
    port: str = ""


class SerialPortListener:
    """A serial line the switch serves: open the device, make a link, and when the device goes
    away (peer closed, cable pulled) reopen it with back-off until ``stopListening``."""

    def __init__(
        self,
        reactor: IReactorTime,
        settings: LineSettings,
        options: LinkOptions,
        handler_factory: Callable[[], LinkHandler],
    ) -> None:
        self.reactor = reactor
        self.settings = settings
        self.options = options
        self.handler_factory = handler_factory
        self.backoff = Backoff(initial=settings.reopen, maximum=10.0)
        self.link: SerialLink | None = None
        self.port: Any = None
        self.opened = 0
        self.stopped = False
        self._call: Any = None

    def getHost(self) -> SerialAddress:
        return SerialAddress(self.settings.device)

    def first_open(self) -> None:
        """Open the device now; ``OSError`` naming it if it cannot be opened
        (a listen entry that cannot open fails at start, it does not wait in silence)."""
        proto = SerialLink(
            _Watch(self.handler_factory(), self), self.options, self.settings, self.reactor
        )
        try:
            self.port = open_port(self.reactor, proto, self.settings)
        except Exception as e:
            why = getattr(e, "strerror", None) or str(e)
            raise OSError(f"cannot open {self.settings.device}: {why}") from e
        self.link = proto
        self.opened += 1

    def open(self) -> None:
        self._call = None
        if self.stopped:
            return
        proto = SerialLink(
            _Watch(self.handler_factory(), self), self.options, self.settings, self.reactor
        )
        try:
            self.port = open_port(self.reactor, proto, self.settings)
        except Exception as e:  # device gone for now (cable pulled, adapter unplugged)
            log.debug("serial {dev} not open: {e}", dev=self.settings.device, e=e)
            self._retry()
            return
        self.link = proto
        self.opened += 1
        self.backoff.reset()

    def _lost(self, link: SerialLink) -> None:
        if link is self.link:
            self.link = None
            self.port = None
            self._retry()

    def _retry(self) -> None:
        if not self.stopped and self._call is None:
            self._call = self.reactor.callLater(self.backoff.next(), self.open)

    def stopListening(self) -> Deferred[None]:
        self.stopped = True
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        if self.link is not None:
            self.link.close()
        return succeed(None)


class _Watch(RelayHandler):
    """Tells the listener when its link is lost, after the handler has heard of it."""

    def __init__(self, inner: LinkHandler, listener: SerialPortListener) -> None:
        super().__init__(inner)
        self.listener = listener

    def after_lost(self) -> None:
        self.listener._lost(self.link)


class SerialAdapter:
    """The ``serial:`` link kind."""

    requires = (("serial", "pyserial"),)
    summary = "serial line (pyserial), STX/ETX with ACK/NAK and retransmission"

    def listen(
        self,
        reactor: IReactorTime,
        address: str,
        handler_factory: Callable[[], LinkHandler],
        options: LinkOptions,
    ) -> Deferred[SerialPortListener]:
        settings = _checked(address, options)
        listener = SerialPortListener(reactor, settings, options, handler_factory)
        try:
            listener.first_open()
        except OSError as e:
            return fail(e)
        return succeed(listener)

    def connect(
        self, reactor: IReactorTime, address: str, handler: LinkHandler, options: LinkOptions
    ) -> Deferred[SerialLink]:
        settings = _checked(address, options)
        proto = SerialLink(handler, options, settings, reactor, role="terminal")
        try:
            open_port(reactor, proto, settings)
        except Exception as e:
            return fail(ConnectionRefusedError(f"cannot open {settings.device}: {e}"))
        return succeed(proto)


ADAPTER = SerialAdapter()
