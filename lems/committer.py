"""The writer process: commits the statements the switch sends, in groups, and answers each batch.

``lems.store.Writer`` starts it as ``python -I -S committer.py DATABASE FD`` with one end of a
socket pair as FD; it imports the standard library only, so it starts in milliseconds. Why a
process and not a thread: binding a row and stepping SQLite hold and hand over the GIL many times
per row, and a writer thread took a quarter of the switch's throughput away from the reactor
thread (docs/BENCHMARKS.md); in its own process it runs on the other core and the reactor only
pays for one ``marshal.dumps`` and one socket write per reactor turn.

Wire (both ways): a 4-byte big-endian length, then a ``marshal`` payload.

* switch -> writer: a batch, ``[group, ...]`` with ``group = [(sql, params), ...]``; or ``None``:
  commit what came before, answer, and exit.
* writer -> switch: one answer per batch, in order: ``(commits, errors)`` where ``errors`` is None
  when every group committed, else one entry per group (None, or the error class name, text and
  SQLite error name of a group that was rolled back), and ``commits`` counts the transactions so
  far.

Everything already received is taken into one transaction (group commit); when it fails, each
group is retried alone, so one bad statement fails only its own caller. The process ignores
SIGINT and SIGTERM (a Ctrl-C meant for ``lems serve`` must not cut the last commit short) and
exits when the switch closes its end: a killed switch leaves no writer behind.
"""

from __future__ import annotations

import marshal
import signal
import socket
import sqlite3
import struct
import sys
import threading
import time
from typing import Any

HEADER = struct.Struct("!I")
READ_SIZE = 1 << 20
CHECKPOINT_EVERY = 0.25
"""Seconds between the checkpointer's passive checkpoints."""
WAL_LIMIT = 32 << 20
"""Bytes the WAL file is cut back to when the writer starts it again from the beginning
(``journal_size_limit``). A reader holding an old snapshot (a long export) keeps checkpoints
from catching up and the WAL grows meanwhile; without the limit it kept its largest size for
ever (1.7 GB was seen). Steady traffic uses a few megabytes."""

Group = list[tuple[str, Any]]


def open_db(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def say(level: str, text: str) -> None:
    """One line on stderr, in the form of ``lems serve``'s log lines (``lems/logs.py``)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sys.stderr.write(f"{now} {level} lems.committer: {text}\n")
    sys.stderr.flush()


def checkpoints(path: str, stop: threading.Event) -> None:
    """Copy the WAL into the database from a connection of its own, off the commit path.

    SQLite's automatic checkpoint runs inside whichever commit crosses 1,000 WAL pages and
    syncs the files there (~10 ms here): every terminal waiting for that commit waited too. A
    passive checkpoint never blocks the writer; once it has caught up, the next commit starts
    the WAL again from its beginning, so the file does not grow.

    A failed checkpoint (disk full, an I/O error) is said once and tried again: the thread must
    outlive the failure, or the WAL grows without end once space returns."""
    conn: sqlite3.Connection | None = None
    failing = ""
    try:
        while not stop.wait(CHECKPOINT_EVERY):
            try:
                if conn is None:
                    conn = open_db(path)
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as e:
                why = describe(e)
                if why != failing:
                    say("ERROR", f"checkpoint of {path} failed: {why}; retrying")
                failing = why
                if conn is not None:
                    conn.close()
                    conn = None
                continue
            if failing:
                say("WARNING", f"checkpoint of {path} works again")
                failing = ""
    finally:
        if conn is not None:
            conn.close()


def describe(e: sqlite3.Error) -> str:
    name = getattr(e, "sqlite_errorname", "")
    return f"disk full ({e})" if name.startswith("SQLITE_FULL") else f"{e} ({name})"


def run_groups(conn: sqlite3.Connection, groups: list[Group]) -> None:
    """One transaction for all ``groups``; rolled back and raised on any error."""
    conn.execute("BEGIN")
    try:
        for statements in groups:
            for sql, params in statements:
                conn.execute(sql, params)
        conn.execute("COMMIT")
    except BaseException:
        # SQLite has already rolled back after some errors (disk full, I/O): a second
        # ROLLBACK would hide the real error behind "no transaction is active"
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def commit(conn: sqlite3.Connection, batches: list[list[Group]]) -> tuple[int, list[Any]]:
    """Commit ``batches``; the number of transactions run and each batch's ``errors``."""
    groups = [g for batch in batches for g in batch]
    try:
        run_groups(conn, groups)
        return 1, [None] * len(batches)
    except Exception:
        pass
    answers = []
    for batch in batches:
        errors: list[tuple[str, str, str] | None] = []
        for group in batch:
            try:
                run_groups(conn, [group])
                errors.append(None)
            except Exception as e:
                errors.append((type(e).__name__, str(e), getattr(e, "sqlite_errorname", "")))
        answers.append(None if not any(errors) else errors)
    return len(groups), answers


def frames(buf: bytearray) -> list[Any]:
    """Take the complete frames off the front of ``buf``."""
    out = []
    pos = 0
    while len(buf) - pos >= HEADER.size:
        (n,) = HEADER.unpack_from(buf, pos)
        if len(buf) - pos - HEADER.size < n:
            break
        start = pos + HEADER.size
        out.append(marshal.loads(bytes(buf[start : start + n])))
        pos = start + n
    del buf[:pos]
    return out


def serve(sock: socket.socket, conn: sqlite3.Connection) -> None:
    buf = bytearray()
    # read into one buffer kept for the process's life: ``recv(READ_SIZE)`` would map and
    # unmap a fresh megabyte for every read
    chunk = bytearray(READ_SIZE)
    view = memoryview(chunk)
    commits = 0
    while True:
        n = sock.recv_into(chunk)  # wait for work
        if not n:
            return  # the switch is gone: nothing unacknowledged can matter now
        buf += view[:n]
        while True:  # and take whatever else is already there: one transaction for all
            try:
                n = sock.recv_into(chunk, 0, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            if not n:
                break
            buf += view[:n]
        batches = frames(buf)
        stop = None in batches
        if stop:
            batches = batches[: batches.index(None)]
        if batches:
            n, answers = commit(conn, batches)
            commits += n
            sock.sendall(
                b"".join(
                    HEADER.pack(len(p)) + p for p in (marshal.dumps((commits, a)) for a in answers)
                )
            )
        if stop:
            return


def main(argv: list[str]) -> int:
    # Ctrl-C and a service manager's SIGTERM reach the whole process group: the switch's clean
    # shutdown still needs this process to commit; it ends when the switch's end closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    path, fd = argv[1], int(argv[2])
    sock = socket.socket(fileno=fd)
    conn = open_db(path)
    conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
    conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
    stop = threading.Event()
    checkpointer = threading.Thread(target=checkpoints, args=(path, stop), daemon=True)
    checkpointer.start()
    try:
        serve(sock, conn)
    finally:
        stop.set()
        checkpointer.join()
        conn.close()  # the last connection to close checkpoints what is left
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
