"""``lems journal archive|vacuum``: keep a stopped lab's journal bounded (docs/OPERATIONS.md)."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path
from typing import Any

from formats.errors import ConfigError
from lems.cli import console


def register(sub: Any) -> None:
    s = sub.add_parser("journal", help="archive old journal rows, give space back (switch stopped)")
    jsub = s.add_subparsers(title="actions", metavar="ACTION")
    a = jsub.add_parser(
        "archive",
        help="write old rows to DIR/archive/*.jsonl.gz (a "
        "recording), then delete them from the database",
    )
    a.add_argument("dir", type=Path)
    a.add_argument(
        "--keep-days",
        type=float,
        help="keep this many days before the newest row (default: [journal] keep_days of lab.toml)",
    )
    a.add_argument(
        "--keep-mb",
        type=float,
        help="keep this many megabytes of message text (default: [journal] keep_mb)",
    )
    a.add_argument("--out", type=Path, help="archive directory (default DIR/archive)")
    a.set_defaults(func=cmd_archive)
    v = jsub.add_parser(
        "vacuum", help="truncate the WAL and give free pages back to the file system"
    )
    v.add_argument("dir", type=Path)
    v.set_defaults(func=cmd_vacuum)


def _open(dir: Path, command: str) -> tuple[Any, Any, sqlite3.Connection]:
    from lems import store
    from lems.lab import load_lab
    from lems.lablock import LabLock

    lab = load_lab(dir)
    if not lab.database.exists():
        raise ConfigError(f"{lab.database} does not exist")
    lock = LabLock(lab.database, command)
    try:
        return lab, lock, store.open_for_writing(lab.database)
    except BaseException:
        lock.release()
        raise


def cmd_archive(args: argparse.Namespace) -> int:
    from lems import retention

    lab, lock, conn = _open(args.dir, "command lems journal archive")
    try:
        days = lab.journal.keep_days if args.keep_days is None else args.keep_days
        mb = lab.journal.keep_mb if args.keep_mb is None else args.keep_mb
        if days <= 0 and mb <= 0:
            raise ConfigError(
                "nothing to archive by: give --keep-days or --keep-mb, or set "
                f"[journal] keep_days / keep_mb in {lab.path}"
            )
        upto = retention.cutoff(conn, days, mb)
        done = retention.export(
            conn, upto, args.out or retention.archive_directory(lab.database), lab.name
        )
        if not done.rows:
            console.print("nothing older than the retention: journal left as it is", markup=False)
            return 0
        sql, params = retention.delete_statement(done)
        conn.execute("BEGIN IMMEDIATE")
        deleted = conn.execute(sql, params).rowcount
        conn.execute("COMMIT")
        console.print(
            f"{done.rows} rows (seq {done.first}-{done.last}) archived to "
            f"{done.path}; {deleted} deleted from {lab.database}"
            + (f"; {len(done.kept)} kept (newest output of each terminal)" if done.kept else ""),
            markup=False,
        )
        return 0
    finally:
        conn.close()
        lock.release()


def cmd_vacuum(args: argparse.Namespace) -> int:
    lab, lock, conn = _open(args.dir, "command lems journal vacuum")
    try:

        def size() -> int:
            return sum(
                Path(f"{lab.database}{s}").stat().st_size
                for s in ("", "-wal")
                if Path(f"{lab.database}{s}").exists()
            )

        before = size()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        after = size()
        console.print(
            f"{lab.database}: {before:,} -> {after:,} bytes (database and WAL)", markup=False
        )
        return 0
    finally:
        conn.close()
        lock.release()
