"""A national system's WAL is checkpointed from a thread, not by its commits on the reactor."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from lems import committer
from lems.endpoints import system
from lems.endpoints.ncic import SCHEMA as NCIC_SCHEMA
from lems.endpoints.system import open_db


def _checkpoint_threads(path: Path) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"checkpoint {path}"]


def test_commits_do_not_checkpoint_and_a_thread_does_until_close(tmp_path: Path) -> None:
    path = tmp_path / "ncic.db"
    conn = open_db(path, NCIC_SCHEMA)
    try:
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchall() == [(0,)]
        assert len(_checkpoint_threads(path)) == 1
    finally:
        conn.close()
    assert _checkpoint_threads(path) == []


def test_the_wal_stays_bounded_under_commits_without_pause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits as fast as SQLite takes them (harder than the reactor's, which pause between
    turns): the WAL file is started again and cut back, over and over, instead of growing
    with every commit (200 MB for 16 MB of rows with automatic checkpoints off and no thread)."""
    monkeypatch.setattr(committer, "CHECKPOINT_EVERY", 0.02)
    monkeypatch.setattr(committer, "WAL_LIMIT", 1 << 20)
    monkeypatch.setattr(system, "CATCH_UP_PAGES", 500)
    path = tmp_path / "load.db"
    conn = open_db(path, "CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v BLOB);")
    wal = f"{path}-wal"
    try:
        restarts, largest, previous = 0, 0, 0
        while restarts < 5:
            conn.execute("INSERT INTO t (v) VALUES (?)", (os.urandom(400),))
            conn.commit()
            size = os.path.getsize(wal)
            assert size < 256 << 20, f"the WAL grew to {size} bytes and was never started again"
            largest = max(largest, size)
            restarts += size < previous
            previous = size
    finally:
        conn.close()
