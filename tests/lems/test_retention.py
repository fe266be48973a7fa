"""Bounding the journal archives before it deletes (docs/RECORDING.md): every row the delete
takes is in an archive that was written and read back first, the rows that must stay stay, and
an archive that cannot be written deletes nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from support import demo_lab

from lems import retention, store
from lems.journal import INSERT
from terminals.recording_io import read_all

OLD = "2026-11-01T10:00:{:02d}.000000-08:00"
NEW = "2026-11-23T10:00:00.000000-08:00"


def row(seq: int, time: str, direction: str, terminal: str, key: str, osn: int, text: str) -> tuple:
    """A journal row in ``INSERT``'s column order."""
    return (
        seq,
        time,
        direction,
        "tcp:127.0.0.1:1",
        terminal,
        "OP01",
        "OR0240000",
        key,
        "accepted",
        "",
        osn,
        0,
        text,
    )


def journal_with_old_rows(database: Path, n: int) -> None:
    """``n`` rows from three weeks before the newest, an old output of T04 with OSN 7 (the
    mailbox continues from it: it must stay) and one recent row."""
    rows = [
        row(i, OLD.format(i % 60), "in", "T01", "QW", 0, f"QW.OR0240000.NAM/DOE,JOHN{i}")
        for i in range(1, n + 1)
    ]
    rows.append(row(n + 1, OLD.format(59), "out", "T04", "AM", 7, "OSN/0000007 AM"))
    rows.append(row(n + 2, NEW, "sys", "", "", 0, "SWITCH STARTED"))
    conn = sqlite3.connect(database)
    conn.executemany(INSERT, rows)
    conn.commit()
    conn.close()


def seqs(database: Path) -> set[int]:
    conn = sqlite3.connect(database)
    try:
        return {s for (s,) in conn.execute("SELECT seq FROM journal")}
    finally:
        conn.close()


def test_every_deleted_row_was_archived_and_read_back_first(tmp_path):
    lab = demo_lab(tmp_path)
    journal_with_old_rows(lab.database, 500)
    before = seqs(lab.database)
    conn = store.connect(lab.database)
    try:
        upto = retention.cutoff(conn, keep_days=7)
        assert upto == 501  # everything but the recent row
        done = retention.export(conn, upto, tmp_path / "archive", "test")
        assert seqs(lab.database) == before  # the export deletes nothing
        assert done.path is not None and done.path.exists()
        assert done.kept == (501,) and done.rows == 500
        _, records = read_all(done.path)
        archived = {r.seq for r in records}
        sql, params = retention.delete_statement(done)
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()
    after = seqs(lab.database)
    assert before - after == archived == set(range(1, 501))
    assert after == {501, 502}  # T04's last OSN and the newest row stay
    assert [r.text for r in records][:2] == [
        "QW.OR0240000.NAM/DOE,JOHN1",
        "QW.OR0240000.NAM/DOE,JOHN2",
    ]


def test_an_archive_that_cannot_be_written_deletes_nothing(tmp_path):
    lab = demo_lab(tmp_path)
    journal_with_old_rows(lab.database, 50)
    before = seqs(lab.database)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the archive directory would go\n")
    args = ["--keep-days", "7", "--out", str(blocker / "archive")]
    r = subprocess.run(
        [sys.executable, "-m", "lems.cli", "journal", "archive", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode != 0 and "not-a-directory" in r.stderr, r.stderr
    assert seqs(lab.database) == before
    assert not list(tmp_path.rglob("*.jsonl.gz"))
