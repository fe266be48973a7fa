"""A bounded journal: the WAL shrinks while serving, old rows go to a compressed recording before
they are deleted (while serving and with ``lems journal archive``), ``lems journal vacuum``."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from support import demo_lab, running_switch, signed_on, until, wait

from lems import store
from lems.journal import INSERT
from lems.store import when_committed
from terminals.recording_io import read_all


def lems(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lems.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def fill(database: Path, n: int, size: int = 1000, day: str = "2026-11-01") -> None:
    """``n`` old rows of ``size`` characters, as an earlier run would have journaled them."""
    conn = sqlite3.connect(database)
    top = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0]
    conn.executemany(
        INSERT,
        [
            (
                top + i + 1,
                f"{day}T10:00:{i % 60:02d}.000000-08:00",
                "in",
                "tcp:127.0.0.1:1",
                "T01",
                "OP01",
                "OR0240000",
                "QW",
                "accepted",
                "",
                0,
                0,
                f"QW.OR0240000.NAM/{'X' * size}{i}",
            )
            for i in range(n)
        ],
    )
    conn.execute(
        "INSERT INTO journal (seq, time, direction, terminal, key, disposition, osn, "
        "text) VALUES (?, ?, 'out', 'T04', 'AM', 'queued', 7, 'OSN/0000007 AM')",
        (top + n + 1, f"{day}T11:00:00.000000-08:00"),
    )
    # a later session answer (OSN 0): the OSN counter still continues from 7
    conn.execute(
        "INSERT INTO journal (seq, time, direction, terminal, key, disposition, osn, "
        "text) VALUES (?, ?, 'out', 'T04', 'SON', 'sent', 0, 'OSN/0000000 SON')",
        (top + n + 2, f"{day}T11:00:01.000000-08:00"),
    )
    conn.commit()
    conn.close()


def count(database: Path, where: str = "1") -> int:
    conn = sqlite3.connect(database)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM journal WHERE {where}").fetchone()[0]
    finally:
        conn.close()


def test_journal_archive_writes_a_recording_then_deletes_and_vacuum_shrinks(tmp_path):
    lab = demo_lab(tmp_path)
    fill(lab.database, 3000)
    conn = store.connect(lab.database)
    conn.execute(
        "INSERT INTO journal (seq, time, direction, text) VALUES "
        "(100000, '2026-11-23T10:00:00.000000-08:00', 'sys', 'SWITCH STARTED')"
    )
    conn.close()
    before = count(lab.database)
    r = lems("journal", "archive", tmp_path)
    assert r.returncode == 2 and "--keep-days" in r.stderr
    r = lems("journal", "archive", tmp_path, "--keep-days", "7")
    assert r.returncode == 0, r.stderr
    assert "3001 rows" in r.stdout and "1 kept" in r.stdout
    archives = list((tmp_path / "archive").glob("journal-*.jsonl.gz"))
    assert len(archives) == 1
    header, records = read_all(archives[0])
    assert len(records) == 3001 and records[0].text.startswith("QW.OR0240000.NAM/XXX")
    assert "journal archive" in header.source
    # deleted but the newest output of T04 (its OSN continues from it) and the recent row
    assert count(lab.database) == before - 3001
    assert count(lab.database, "terminal = 'T04' AND osn = 7") == 1
    size = lab.database.stat().st_size
    r = lems("journal", "vacuum", tmp_path)
    assert r.returncode == 0, r.stderr
    assert lab.database.stat().st_size < size / 2
    # nothing more to archive
    r = lems("journal", "archive", tmp_path, "--keep-days", "7")
    assert r.returncode == 0 and "nothing older" in r.stdout


def test_journal_archive_by_size(tmp_path):
    lab = demo_lab(tmp_path)
    fill(lab.database, 2000, size=1000)
    r = lems("journal", "archive", tmp_path, "--keep-mb", "0.5")
    assert r.returncode == 0, r.stderr
    conn = sqlite3.connect(lab.database)
    text = conn.execute("SELECT SUM(LENGTH(text)) FROM journal").fetchone()[0]
    conn.close()
    assert text <= 500_000 + 2000


async def test_a_serving_switch_archives_old_rows_and_is_refused_archive(tmp_path, reactor):
    lab = demo_lab(
        tmp_path,
        lambda t: t.replace(
            "# ---------------------------------------------------------------- agencies",
            "[journal]\nkeep_days = 7\narchive_every = 1\n\n"
            "# ---------------------------------------------------------------- agencies",
        ),
    )
    fill(lab.database, 2000)
    async with running_switch(lab, reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        r = lems("journal", "archive", tmp_path)
        assert r.returncode == 1 and "is in use by" in r.stderr
        await until(lambda: switch.stats["archived_rows"] == 2001, 20)
        await wait(when_committed(switch.writer, []))
        assert count(lab.database, "time < '2026-11-10'") == 1  # T04's newest output
        out = await wait(t1.request("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"))
        assert out.key in ("HIT", "NRC")
        t1.close()
    assert len(list((tmp_path / "archive").glob("journal-*.jsonl.gz"))) == 1


async def test_the_wal_is_truncated_after_a_reader_held_it(tmp_path, reactor):
    """A long read (an export) keeps the checkpointer from resetting the WAL, which grows; once
    the reader is gone the WAL is cut back to ``WAL_LIMIT``, not left at its largest."""
    from lems import committer

    lab = demo_lab(tmp_path)
    async with running_switch(lab, reactor) as switch:
        reader = sqlite3.connect(lab.database)
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM journal").fetchone()
        wal = Path(f"{lab.database}-wal")
        text = "X" * 2000
        seq = switch.journal.last_seq + 1000
        while wal.stat().st_size <= committer.WAL_LIMIT + (8 << 20):
            rows = [
                (
                    INSERT,
                    (seq + i, "2026-11-23T10:00:00", "sys", "", "", "", "", "", "", "", 0, 0, text),
                )
                for i in range(2000)
            ]
            seq += 2000
            await wait(when_committed(switch.writer, rows), 30)
        grown = wal.stat().st_size
        reader.rollback()
        reader.close()
        deadline = time.monotonic() + 20
        while wal.stat().st_size > committer.WAL_LIMIT and time.monotonic() < deadline:
            # the checkpointer catches up (every 0.25 s); the next commit then starts the WAL
            # again from its beginning and cuts the file back
            await wait(
                when_committed(
                    switch.writer,
                    [
                        (
                            INSERT,
                            (
                                seq,
                                "2026-11-23T10:00:00",
                                "sys",
                                "",
                                "",
                                "",
                                "",
                                "",
                                "",
                                "",
                                0,
                                0,
                                "x",
                            ),
                        )
                    ],
                )
            )
            seq += 1
            await asyncio.sleep(0.05)
        assert grown > committer.WAL_LIMIT >= wal.stat().st_size
