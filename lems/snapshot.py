"""Lab snapshots: the stopped lab's databases saved under a name and put back (``lems lab
snapshot`` / ``lems lab reset``), so a class starts from a known world and the next class from
the same one.

A snapshot holds every database of the lab (the journal and mailboxes in ``lab.db``, the state
files in ``state.db``, the national files in ``ncic.db``, ``nlets.db``, ``nics.db``), copied with
SQLite's online backup (a consistent copy, WAL included) into ``snapshots/NAME/``. Grades
(``training.db``) are not part of it: a class's results outlive the reset that follows it.
``reset`` without a name removes the databases: the next start builds the lab afresh from
``lab.toml`` (same seed, same people, lab time back to the scenario's start).

Both refuse while the lab's switch runs (it saves its online terminals every second; a fresh
save means it is running): copying a live lab would catch it half-way.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from pathlib import Path

from formats.errors import LemsError
from lems.lab import LabConfig
from lems.repositories import meta

DATABASES = ("lab.db", "state.db", "ncic.db", "nlets.db", "nics.db")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


class SnapshotError(LemsError):
    """A snapshot or reset was refused (the reason says which and why)."""


def _files(lab: LabConfig) -> dict[str, Path]:
    base = lab.database.parent
    return {"lab.db": lab.database, **{n: base / n for n in DATABASES[1:]}}


def folder(lab: LabConfig, name: str) -> Path:
    if not NAME.fullmatch(name):
        raise SnapshotError(
            f"snapshot name {name!r} refused: letters, digits, '.', '_' and '-' only, at most 40"
        )
    return lab.database.parent / "snapshots" / name


def running(lab: LabConfig, fresh_s: float = 5.0) -> bool:
    if not lab.database.exists():
        return False
    try:
        conn = sqlite3.connect(f"file:{lab.database}?mode=ro", uri=True)
        try:
            value = meta.get(conn, "online")
        finally:
            conn.close()
        return value is not None and time.time() - float(value.split(" ", 1)[0]) < fresh_s
    except (sqlite3.Error, ValueError):
        return False


def _refuse_if_running(lab: LabConfig, what: str) -> None:
    if running(lab):
        raise SnapshotError(
            f"{what} refused: the lab's switch is running; stop it first "
            "(a copy of a running lab would catch it half-way)"
        )


def _copy(src: Path, dst: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(dst) + suffix).unlink(missing_ok=True)
    a = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    b = sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        b.close()
        a.close()


def snapshot(lab: LabConfig, name: str, *, replace: bool = False) -> list[str]:
    """Save the stopped lab as ``name``; the databases saved."""
    _refuse_if_running(lab, f"snapshot {name}")
    where = folder(lab, name)
    if where.exists() and not replace:
        raise SnapshotError(f"snapshot {name} exists (use --replace to overwrite it)")
    saved = []
    tmp = where.with_name(f".{name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for db, path in _files(lab).items():
        if path.exists():
            _copy(path, tmp / db)
            saved.append(db)
    if not saved:
        shutil.rmtree(tmp)
        raise SnapshotError(
            f"snapshot {name} refused: the lab has no databases yet (start it "
            "once, or lems seed it)"
        )
    shutil.rmtree(where, ignore_errors=True)
    tmp.rename(where)
    from lems.state import adminlog

    adminlog.record(lab, "snapshot", name, " ".join(saved))
    return saved


def reset(lab: LabConfig, name: str = "") -> list[str]:
    """Put the stopped lab back to snapshot ``name`` (or, with no name, to a fresh lab); the
    databases replaced."""
    _refuse_if_running(lab, f"reset{' to ' + name if name else ''}")
    where = folder(lab, name) if name else None
    if where is not None and not where.is_dir():
        known = ", ".join(snapshots(lab)) or "none"
        raise SnapshotError(f"no snapshot {name} (snapshots: {known})")
    done = []
    for db, path in _files(lab).items():
        for suffix in ("-wal", "-shm", ""):
            Path(str(path) + suffix).unlink(missing_ok=True)
        if where is not None and (where / db).exists():
            _copy(where / db, path)
        done.append(db)
    from lems.state import adminlog

    adminlog.record(lab, "reset", name or "(fresh lab)", " ".join(done))
    return done


def snapshots(lab: LabConfig) -> list[str]:
    base = lab.database.parent / "snapshots"
    return (
        sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
        if base.is_dir()
        else []
    )
