"""Link framing: how a byte stream from a terminal or endpoint is cut into units.

A link (``hardware``) hands every received chunk to a framer's ``feed`` and gets back events:
``Frame`` for a complete unit, ``BadFrame`` for a broken one (the link answers with a NAK where the
framing has one, and carries on), ``Control`` for a link-level control byte.  Framers do no I/O,
keep partial data across calls, never raise on received bytes and never buffer more than
``max_length`` plus a few bytes, so nothing a peer sends can crash the switch or exhaust its memory.
Decoding is plain byte scanning (a few microseconds per frame); construct describes the binary
layouts (``STX_FRAME``, ``HEADER``) and builds outgoing frames.

Three framings, chosen per link by name (``make_framer``):

``line`` — humans on netcat/telnet and simple CAD links.  The project's line-mode convention:

* A frame is one line terminated by LF; a CR right before the LF is dropped (CRLF accepted).
* A line that ends with a backslash continues on the next line: the backslash is removed and the
  lines are joined with a single ``\\n``.  The frame ends at the first line that does not end with
  a backslash.  ``AM.OR0240000.OR0260000.TXT\\`` LF ``HELLO`` LF is the one frame
  ``AM.OR0240000.OR0260000.TXT\\nHELLO``.
* An empty line outside a continuation is a keepalive: it produces no event.
* Encoding turns each ``\\n`` of the payload into backslash + LF and ends the frame with LF.  A
  payload that is empty, contains CR, or has a line ending with a backslash cannot be carried.
* A frame longer than ``max_length`` (continuation lines included, the joining ``\\n`` counted)
  gives one ``BadFrame``; the rest of that frame is skipped up to the LF that ends it.

``stx`` — serial teletypes: ``STX payload ETX BCC``, where BCC is the XOR of every payload byte and
the ETX byte.  Between frames ACK, NAK, EOT and ENQ become ``Control`` events and any other byte is
skipped.  An STX inside a frame abandons it (``BadFrame``) and starts a new one; a frame longer
than ``max_length`` gives one ``BadFrame`` and everything up to the next STX is skipped.

``length`` — CAD/RMS software links: a 12-byte ``HEADER`` (magic ``LM``, version 1, flags 0,
payload length and zlib CRC-32 of the payload, big-endian) then the payload.  Bytes that do not
start with the magic are skipped up to the next ``LM`` with one ``BadFrame`` per run; a header with
an unknown version or a length above ``max_length`` is refused and the framer searches the next
magic right after that header (the bytes it skips belong to that refusal: no second ``BadFrame``);
a CRC mismatch is reported and decoding goes on after that frame.

In every framing an empty unit (an empty line, ``STX ETX BCC``, a header with length 0 and CRC 0)
is a keepalive and produces no event, so consumers never see an empty payload.

``BadFrame.raw`` holds the first bytes of the broken unit, at most ``RAW_LIMIT``: for ``stx`` and
``length`` the bytes as they were on the wire (from the STX or the header); for ``line`` the frame's
text with continuation lines already joined.  For a too-long unit it holds at most the first
``max_length + 1`` payload bytes, so the event is the same however the stream was split into chunks.
"""

from __future__ import annotations

import inspect
import struct
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from construct import (
    Checksum,
    Const,
    GreedyBytes,
    Int8ub,
    Int32ub,
    NullTerminated,
    Struct,
    this,
)

from formats.errors import FormatError

__all__ = [
    "ACK",
    "CONTROL_CODES",
    "DEFAULT_MAX_LENGTH",
    "ENQ",
    "EOT",
    "ETX",
    "FRAMERS",
    "HEADER",
    "HEADER_SIZE",
    "LENGTH_MAGIC",
    "LENGTH_VERSION",
    "NAK",
    "RAW_LIMIT",
    "STX",
    "STX_FRAME",
    "BadFrame",
    "Control",
    "Event",
    "Frame",
    "Framer",
    "LengthFramer",
    "LineFramer",
    "StxEtxFramer",
    "block_check",
    "make_framer",
]

DEFAULT_MAX_LENGTH = 65536
"""Largest payload a framer accepts unless told otherwise; LEDS/NCIC messages are far smaller."""

RAW_LIMIT = 256
"""How much of a broken unit ``BadFrame.raw`` keeps: enough to log and diagnose, bounded."""

STX, ETX, EOT, ENQ, ACK, NAK = 0x02, 0x03, 0x04, 0x05, 0x06, 0x15
CONTROL_CODES = frozenset({ACK, NAK, EOT, ENQ})
"""Link-level control bytes the STX framer reports when they arrive between frames."""


# --- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete unit received on a link, before parsing; never empty."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A unit that arrived broken; ``raw`` holds its first bytes (``RAW_LIMIT`` at most)."""

    reason: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class Control:
    """A link-level control byte (ACK, NAK, EOT, ENQ) received between STX frames."""

    code: int


Event = Frame | BadFrame | Control

_CONTROL_EVENTS = {code: Control(code) for code in CONTROL_CODES}
_NOT_CONTROL = bytes(b for b in range(256) if b not in CONTROL_CODES)


# --- base --------------------------------------------------------------------------------------


class Framer(ABC):
    """Splits one link's received bytes into events and wraps outgoing payloads.

    One instance per link direction: it holds the partial unit between ``feed`` calls.
    ``max_length`` bounds both the payloads accepted and the memory held for a peer.
    """

    __slots__ = ("max_length",)

    name: ClassVar[str]
    max_length: int

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise FormatError(f"{self.name} framer: max_length must be a positive integer, "
                              f"not {max_length!r}")
        self.max_length = max_length

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_length={self.max_length})"

    @abstractmethod
    def feed(self, data: bytes) -> list[Event]:
        """Take the next received bytes; return the events they complete.  Never raises."""

    @abstractmethod
    def encode(self, payload: bytes) -> bytes:
        """Wrap one payload for the wire; ``FormatError`` if this framing cannot carry it."""

    @abstractmethod
    def reset(self) -> None:
        """Forget any partial unit (after a reconnect, the old half-frame means nothing)."""

    @property
    @abstractmethod
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a unit; bounded by ``max_length`` + a few."""

    def ack(self) -> bytes:
        """The link-level positive reply to send after a good frame (``b""`` if none)."""
        return b""

    def nak(self) -> bytes:
        """The link-level negative reply to send after a bad frame (``b""`` if none)."""
        return b""

    def _payload(self, payload: bytes) -> bytes:
        """Common encode checks: bytes-like, not empty, not longer than ``max_length``."""
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise FormatError(f"{self.name} framer: payload must be bytes, "
                              f"not {type(payload).__name__}")
        payload = bytes(payload)
        if not payload:
            raise FormatError(f"{self.name} framer: cannot carry an empty payload")
        if len(payload) > self.max_length:
            raise FormatError(f"{self.name} framer: payload of {len(payload)} bytes is longer "
                              f"than {self.max_length}")
        return payload

    def _too_long(self) -> str:
        return f"frame longer than {self.max_length} bytes"


def _as_bytes(data: bytes) -> bytes:
    """Accept any bytes-like chunk (a link may hand a bytearray or memoryview)."""
    return data if type(data) is bytes else bytes(data)


# --- line --------------------------------------------------------------------------------------

_LF, _CR, _BACKSLASH = 0x0A, 0x0D, 0x5C


class LineFramer(Framer):
    """LF-terminated lines with backslash continuation (see the module docstring)."""

    __slots__ = ("_line", "_parts", "_parts_len", "_skipping", "_tail")
    name = "line"

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        super().__init__(max_length)
        self._line = bytearray()  # the current, unterminated line
        self._parts: list[bytes] = []  # finished continuation lines of the current frame
        self._parts_len = 0  # their length in the payload, one joining "\n" each
        self._skipping = False  # discarding the rest of a too-long frame
        self._tail = b""  # last bytes skipped on the current line (is it a continuation?)

    def reset(self) -> None:
        self._line.clear()
        self._parts.clear()
        self._parts_len = 0
        self._skipping = False
        self._tail = b""

    @property
    def buffered(self) -> int:
        return len(self._line) + self._parts_len + len(self._tail)

    def encode(self, payload: bytes) -> bytes:
        if type(payload) is not bytes or not payload or len(payload) > self.max_length:
            payload = self._payload(payload)  # converts, or raises with the reason
        if b"\r" in payload:
            raise FormatError("line framer: cannot carry CR in a payload")
        if b"\\" in payload and (b"\\\n" in payload or payload[-1] == _BACKSLASH):
            # a line ending with a backslash
            raise FormatError("line framer: cannot carry a line ending with a backslash "
                              "(it would read as a continuation)")
        return payload.replace(b"\n", b"\\\n") + b"\n"

    def _raw(self, text: bytes) -> bytes:
        return text[: min(RAW_LIMIT, self.max_length + 1)]

    def _joined_parts(self) -> bytes:
        return b"".join(part + b"\n" for part in self._parts)

    def feed(self, data: bytes) -> list[Event]:
        data = _as_bytes(data)
        events: list[Event] = []
        n = len(data)
        pos = 0
        while pos < n:
            end = data.find(b"\n", pos)
            if self._skipping:
                if end < 0:
                    self._tail = (self._tail + data[max(pos, n - 2):])[-2:]
                    break
                last = (self._tail + data[max(pos, end - 2):end])[-2:]
                self._tail = b""
                pos = end + 1
                if last.endswith(b"\r"):
                    last = last[:-1]
                self._skipping = last.endswith(b"\\")
                continue
            if end < 0:
                self._hold(data, pos, events)
                break
            if self._line:
                self._line += data[pos:end]
                line = bytes(self._line)
                self._line.clear()
            else:
                line = data[pos:end]
            pos = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if line.endswith(b"\\"):
                self._parts.append(line[:-1])
                self._parts_len += len(line)
                if self._parts_len > self.max_length:
                    events.append(BadFrame(self._too_long(), self._raw(self._joined_parts())))
                    self._parts.clear()
                    self._parts_len = 0
                    self._skipping = True
                continue
            if self._parts:
                length = self._parts_len + len(line)
                self._parts.append(line)
                payload = b"\n".join(self._parts)
                self._parts.clear()
                self._parts_len = 0
            elif not line:
                continue  # keepalive
            else:
                length = len(line)
                payload = line
            if length > self.max_length:
                events.append(BadFrame(self._too_long(), self._raw(payload)))
            else:
                events.append(Frame(payload))
        return events

    def _hold(self, data: bytes, pos: int, events: list[Event]) -> None:
        """Keep ``data[pos:]`` (no LF in it) as the partial line, unless the frame is now too long.

        The last two bytes do not count yet: a trailing CR may be dropped and a trailing backslash
        may turn into ``\\n``; everything before them is surely part of the payload.  Deciding on
        sure bytes only makes the outcome independent of how the stream was chunked, and bounds
        the buffer at ``max_length + 2``.
        """
        held = len(self._line)
        total = self._parts_len + held + len(data) - pos
        if total - 2 <= self.max_length:
            self._line += data[pos:]
            return
        limit = min(RAW_LIMIT, self.max_length + 1)
        need = max(0, limit - self._parts_len - held)
        text = self._joined_parts() + bytes(self._line) + data[pos:pos + need]
        events.append(BadFrame(self._too_long(), text[:limit]))
        self._tail = bytes((self._line[-2:] + data[max(pos, len(data) - 2):])[-2:])
        self._line.clear()
        self._parts.clear()
        self._parts_len = 0
        self._skipping = True


# --- STX/ETX -----------------------------------------------------------------------------------


def block_check(payload: bytes) -> int:
    """The BCC sent after ETX: XOR of every payload byte and of the ETX byte itself.

    Folds the payload as one integer instead of looping per byte (about 2 µs for 200 bytes
    against 4 µs for ``functools.reduce``), since this runs once per received frame.
    """
    n = len(payload)
    value = int.from_bytes(payload, "little")
    while n > 1:
        half = (n + 1) // 2
        bits = 8 * half
        value = (value & ((1 << bits) - 1)) ^ (value >> bits)
        n = half
    return value ^ ETX


STX_FRAME = Struct(
    "stx" / Const(bytes([STX])),
    "payload" / NullTerminated(GreedyBytes, term=bytes([ETX])),
    "bcc" / Checksum(Int8ub, block_check, this.payload),
)
"""The STX/ETX frame layout; builds outgoing frames (received ones are scanned by hand, faster)."""

_STX_FRAME_FAST = STX_FRAME.compile()  # same layout, ~3x faster to build

_IDLE, _FRAME, _BCC, _SKIP = range(4)


class StxEtxFramer(Framer):
    """``STX payload ETX BCC`` frames with control bytes in between (see the module docstring)."""

    __slots__ = ("_buf", "_pending", "_state")
    name = "stx"

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        super().__init__(max_length)
        self._state = _IDLE
        self._buf = bytearray()  # payload so far of a frame whose ETX has not arrived
        self._pending = b""  # payload of a frame whose BCC has not arrived

    def reset(self) -> None:
        self._state = _IDLE
        self._buf.clear()
        self._pending = b""

    @property
    def buffered(self) -> int:
        return len(self._buf) + len(self._pending)

    def ack(self) -> bytes:
        return bytes([ACK])

    def nak(self) -> bytes:
        return bytes([NAK])

    def encode(self, payload: bytes) -> bytes:
        payload = self._payload(payload)
        if STX in payload or ETX in payload:
            raise FormatError("stx framer: cannot carry STX (0x02) or ETX (0x03) in a payload")
        return _STX_FRAME_FAST.build({"payload": payload})

    def _end_frame(self, payload: bytes, bcc: int, events: list[Event]) -> None:
        expected = block_check(payload)
        if bcc != expected:
            raw = (b"\x02" + payload + b"\x03" + bytes([bcc]))[:RAW_LIMIT]
            events.append(BadFrame(
                f"block check mismatch: expected 0x{expected:02x} got 0x{bcc:02x}", raw))
        elif payload:
            events.append(Frame(payload))

    def feed(self, data: bytes) -> list[Event]:
        data = _as_bytes(data)
        events: list[Event] = []
        n = len(data)
        pos = 0
        state = self._state
        buf = self._buf
        # Next STX / ETX at or after pos, searched once per occurrence so that a chunk full of
        # STX bytes still takes linear time; n means "none in this chunk".
        next_stx = next_etx = -1
        while pos < n:
            if state == _FRAME:
                if next_stx < pos:
                    next_stx = data.find(STX, pos)
                    if next_stx < 0:
                        next_stx = n
                if next_etx < pos:
                    next_etx = data.find(ETX, pos)
                    if next_etx < 0:
                        next_etx = n
                stop = min(next_stx, next_etx)
                room = self.max_length - len(buf)
                if stop - pos > room:
                    taken = min(room + 1, RAW_LIMIT)
                    raw = (b"\x02" + buf + data[pos:pos + taken])[:RAW_LIMIT]
                    events.append(BadFrame(self._too_long(), bytes(raw)))
                    buf.clear()
                    pos += room + 1
                    state = _SKIP
                elif stop == n:
                    buf += data[pos:]
                    break
                elif stop == next_stx:
                    raw = (b"\x02" + buf + data[pos:stop])[:RAW_LIMIT]
                    events.append(BadFrame("STX inside frame", bytes(raw)))
                    buf.clear()
                    pos = stop + 1
                else:
                    if buf:
                        buf += data[pos:stop]
                        payload = bytes(buf)
                        buf.clear()
                    else:
                        payload = data[pos:stop]
                    if stop + 1 < n:
                        self._end_frame(payload, data[stop + 1], events)
                        pos = stop + 2
                        state = _IDLE
                    else:
                        self._pending = payload
                        state = _BCC
                        break
            elif state == _IDLE:
                if next_stx < pos:
                    next_stx = data.find(STX, pos)
                    if next_stx < 0:
                        next_stx = n
                if next_stx > pos:
                    controls = data[pos:next_stx].translate(None, _NOT_CONTROL)
                    if controls:
                        events.extend(_CONTROL_EVENTS[code] for code in controls)
                if next_stx == n:
                    break
                pos = next_stx + 1
                state = _FRAME
            elif state == _BCC:
                self._end_frame(self._pending, data[pos], events)
                self._pending = b""
                pos += 1
                state = _IDLE
            else:  # _SKIP: the rest of a too-long frame, up to the next STX
                if next_stx < pos:
                    next_stx = data.find(STX, pos)
                    if next_stx < 0:
                        next_stx = n
                if next_stx == n:
                    break
                pos = next_stx + 1
                state = _FRAME
        self._state = state
        return events


# --- length-prefixed ---------------------------------------------------------------------------

LENGTH_MAGIC = b"LM"
LENGTH_VERSION = 1

HEADER = Struct(
    "magic" / Const(LENGTH_MAGIC),
    "version" / Int8ub,
    "flags" / Int8ub,
    "length" / Int32ub,
    "crc32" / Int32ub,
)
"""The length framer's header: magic, version, flags, payload length, CRC-32 of the payload."""

HEADER_SIZE: int = HEADER.sizeof()

_HEADER_FAST_BUILD = HEADER.compile()  # same layout, ~3x faster to build
# Received headers are unpacked with struct (0.1 µs against 13 µs for HEADER.parse); a test
# checks that both read every header alike.
_HEADER_UNPACK = struct.Struct(">2sBBII").unpack_from
assert struct.calcsize(">2sBBII") == HEADER_SIZE
_L = LENGTH_MAGIC[0]


class LengthFramer(Framer):
    """``HEADER`` + payload frames with magic resync (see the module docstring)."""

    __slots__ = ("_buf", "_need", "_skipping")
    name = "length"

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        super().__init__(max_length)
        if max_length > 0xFFFF_FFFF:
            raise FormatError("length framer: max_length must fit the 32-bit length field")
        self._buf = bytearray()  # received bytes not yet decoded (a partial header or frame)
        self._need = 0  # how long _buf must grow before decoding can progress
        self._skipping = False  # inside a reported broken run: skip more without a new report

    def reset(self) -> None:
        self._buf.clear()
        self._need = 0
        self._skipping = False

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def encode(self, payload: bytes) -> bytes:
        payload = self._payload(payload)
        header = _HEADER_FAST_BUILD.build({
            "version": LENGTH_VERSION, "flags": 0,
            "length": len(payload), "crc32": zlib.crc32(payload),
        })
        return header + payload

    def feed(self, data: bytes) -> list[Event]:
        data = _as_bytes(data)
        buf = self._buf
        if buf:
            buf += data
            if len(buf) < self._need:
                return []  # waiting for the rest of a frame: do not rescan it per chunk
            src = bytes(buf)
        else:
            src = data
        events: list[Event] = []
        n = len(src)
        pos = 0
        need = 0
        skipping = self._skipping
        max_length = self.max_length
        while pos < n:
            if not src.startswith(LENGTH_MAGIC, pos):
                if pos == n - 1 and src[pos] == _L:
                    need = 2  # a lone "L" may be the first half of the next magic
                    break
                found = src.find(LENGTH_MAGIC, pos)
                end = found if found >= 0 else (n - 1 if src[n - 1] == _L else n)
                if not skipping:
                    events.append(BadFrame("bad header magic", src[pos:min(end, pos + RAW_LIMIT)]))
                    skipping = True
                pos = end
                continue
            if n - pos < HEADER_SIZE:
                need = HEADER_SIZE
                break
            _, version, _flags, length, crc = _HEADER_UNPACK(src, pos)
            if version != LENGTH_VERSION:
                events.append(BadFrame(f"unsupported version {version}",
                                       src[pos:pos + HEADER_SIZE]))
                pos += HEADER_SIZE
                skipping = True
                continue
            if length > max_length:
                events.append(BadFrame(self._too_long(), src[pos:pos + HEADER_SIZE]))
                pos += HEADER_SIZE
                skipping = True
                continue
            end = pos + HEADER_SIZE + length
            if end > n:
                need = HEADER_SIZE + length
                break
            payload = src[pos + HEADER_SIZE:end]
            skipping = False
            if zlib.crc32(payload) != crc:
                events.append(BadFrame("crc mismatch", src[pos:min(end, pos + RAW_LIMIT)]))
            elif length:
                events.append(Frame(payload))
            pos = end
        self._skipping = skipping
        self._need = need
        if src is data:
            if pos < n:
                buf += src[pos:]
        else:
            del buf[:pos]
        return events


# --- registry ----------------------------------------------------------------------------------

FRAMERS: dict[str, type[Framer]] = {
    "line": LineFramer,
    "stx": StxEtxFramer,
    "length": LengthFramer,
}
"""Framers by the name a lab configuration uses for a link."""


def make_framer(name: str, **options: Any) -> Framer:
    """A new framer by name, so link configuration stays data (``framing = "stx"``).

    Unknown names and unknown options raise ``FormatError`` naming what is known, so a lab
    with a typo is refused at start with a useful message.
    """
    known = ", ".join(sorted(FRAMERS))
    cls = FRAMERS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise FormatError(f"unknown framer {name!r}: known framers are {known}")
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as exc:
        raise FormatError(f"{name} framer: bad options {sorted(options)}: {exc}") from None
    return cls(**options)
