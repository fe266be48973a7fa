"""One writer per lab: an exclusive lock on the lab database, held while a process writes it.

``lems serve`` (any started ``Switch``: also ``lems exercise run`` without ``--switch``),
``lems seed`` and ``lems cch seed`` hold ``<database>.lock`` (e.g. ``lab.db.lock``) with
``flock``: the kernel drops it when the process ends, even by ``kill -9``, so a lock is never
left stale. The file names the holder (pid, command, since when) so a refused second writer can
say who has the lab. Commands that only read (``audit``, ``hits``, ``watch``, ``record``) and
the small administrative writes made for a running switch (``operator unlock``,
``agency suspend``, ``endpoint down``) do not take it.

A serving switch touches the file after each heartbeat commit (``Switch``), so ``lems health``
can tell a live switch from a process whose storage has stopped.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from formats.errors import LemsError
from lems.store import StoreError, read_only


class LabBusy(LemsError):
    """Another process writes this lab."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class LabLock:
    """The held lock; ``release`` (or the end of the process) lets it go."""

    def __init__(self, database: Path, command: str) -> None:
        self.path = lock_path(database)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:  # the lab cannot be written at all: say why, as for the database
            raise StoreError(
                f"{database}: {read_only(database) or e.strerror} (cannot create {self.path})"
            ) from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").split("\n")
            os.close(fd)
            who = ", ".join(x for x in holder if x) or "another process"
            raise LabBusy(
                f"lab database {database} is in use by {who} ({self.path}); "
                f"stop it first, or use a command that talks to the running "
                "switch"
            ) from None
        except OSError:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(
            fd,
            (
                f"pid {os.getpid()}\n{command}\nsince "
                f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n"
            ).encode(),
            0,
        )
        self.fd: int | None = fd

    def touch(self) -> None:
        """Say the holder is alive and its storage works (``lems health`` reads the time)."""
        if self.fd is not None:
            os.utime(self.fd)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def holder(database: Path) -> tuple[str, float] | None:
    """Who serves the lab and the age in seconds of its last heartbeat, or None if no one
    holds the lock."""
    path = lock_path(database)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return None  # free: no one holds it
        except BlockingIOError:
            pass
        text = os.pread(fd, 512, 0).decode("utf-8", "replace")
        age = time.time() - os.fstat(fd).st_mtime
        return ", ".join(x for x in text.split("\n") if x), age
    finally:
        os.close(fd)
