"""Recording files: write and read ``lems-recording`` JSON Lines, gzip-compressed by suffix.

Like python-can's loggers, the writer is a context manager chosen by file suffix (``.jsonl`` or
``.jsonl.gz``; any name ending in ``.gz`` is compressed) and it is flushed record by record:
each record is handed to the operating system before ``write`` returns, so killing the recording
process (even with SIGKILL) loses nothing already written. For gzip, every record ends with a
``Z_SYNC_FLUSH``, which puts all its compressed bytes in the file; a killed writer leaves a gzip
stream without its trailer, which ``read`` accepts (it decompresses incrementally and stops at
the end of the data). Users of recorders complain of losing the last record: this is the cure.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from formats.recording import (
    Header,
    Record,
    RecordingError,
    decode,
    decode_header,
    encode,
    encode_header,
)

CHUNK = 1 << 16


def is_gzip(path: str | Path) -> bool:
    return str(path).endswith(".gz")


class RecordingWriter:
    """Writes a header, then records, each flushed to the OS at once (``fsync=True``: to disk)."""

    def __init__(
        self, path: str | Path, header: Header | None = None, *, fsync: bool = False
    ) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.count = 0
        self._file: BinaryIO = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self._z = zlib.compressobj(6, zlib.DEFLATED, 31) if is_gzip(self.path) else None
        if header is None:
            header = Header(created=datetime.now(UTC).isoformat(timespec="seconds"))
        self._put(encode_header(header))

    def write(self, record: Record) -> None:
        self._put(encode(record))
        self.count += 1

    def _put(self, line: str) -> None:
        data = line.encode("ascii")
        if self._z is not None:
            data = self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)
        self._file.write(data)
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file.closed:
            return
        if self._z is not None:
            self._file.write(self._z.flush(zlib.Z_FINISH))
        self._file.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _chunks(path: Path) -> Iterator[bytes]:
    """The file's bytes, decompressed if gzip; a stream cut off by a killed writer ends where
    its data ends."""
    with open(path, "rb") as f:
        if not is_gzip(path):
            while chunk := f.read(CHUNK):
                yield chunk
            return
        z = zlib.decompressobj(31)
        while chunk := f.read(CHUNK):
            while chunk:
                try:
                    yield z.decompress(chunk)
                except zlib.error as e:
                    raise RecordingError(f"{path}: corrupt gzip data: {e}") from e
                chunk = z.unused_data
                if z.eof:  # another gzip member follows (concatenated files)
                    z = zlib.decompressobj(31)
        yield z.flush()


def _lines(path: Path) -> Iterator[tuple[str, bool]]:
    """(line, complete): lines of the file; the last one is incomplete if it has no newline."""
    rest = b""
    for chunk in _chunks(path):
        if not chunk:
            continue
        data = rest + chunk
        *full, rest = data.split(b"\n")
        for line in full:
            yield line.decode("ascii", "replace"), True
    if rest:
        yield rest.decode("ascii", "replace"), False


def read(path: str | Path) -> tuple[Header, Iterator[Record]]:
    """Header and a lazy iterator of records. An incomplete last line (a writer killed in the
    middle of a record) is skipped; any other bad line raises ``RecordingError``."""
    p = Path(path)
    lines = _lines(p)
    number = 0
    for line, _complete in lines:
        number += 1
        if line.strip():
            header = decode_header(line, number)
            break
    else:
        raise RecordingError(f"{p}: empty file, not a recording")

    def records() -> Iterator[Record]:
        n = number
        for ln, complete in lines:
            n += 1
            if not ln or ln.isspace():
                continue
            try:
                yield decode(ln, n)
            except RecordingError:
                if complete:
                    raise
                return

    return header, records()


def read_all(path: str | Path) -> tuple[Header, list[Record]]:
    header, records = read(path)
    return header, list(records)
