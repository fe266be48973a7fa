"""The mock NICS' own database (``nics.db``): the NICS Indices (``indices``: people a state or
federal agency entered as prohibited, until removed on relief) and the firearm checks
(``checks``: a proceeded check keeps only its NTN and date).

Read and written by ``lems.endpoints.nics``; the Indices are seeded by ``seed_lab``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS indices (nri INTEGER PRIMARY KEY, nam TEXT NOT NULL, sdx TEXT NOT NULL,
    dob TEXT NOT NULL, sex TEXT NOT NULL, ori TEXT NOT NULL, pca TEXT NOT NULL,
    entered TEXT NOT NULL, removed TEXT);
CREATE INDEX IF NOT EXISTS indices_name ON indices (sdx, dob);
CREATE INDEX IF NOT EXISTS indices_ori ON indices (ori);
CREATE TABLE IF NOT EXISTS checks (ntn TEXT PRIMARY KEY, date TEXT NOT NULL, status TEXT,
    ori TEXT, terminal TEXT, nam TEXT, dob TEXT, sex TEXT, rac TEXT, reason TEXT);
"""

Row = tuple[Any, ...]
"""A row as SQLite returns it."""

ENTER = "INSERT INTO indices (nam, sdx, dob, sex, ori, pca, entered) VALUES (?,?,?,?,?,?,?)"


# ---------------------------------------------------------------------------- the Indices


def enter(conn: sqlite3.Connection, row: Row) -> int:
    """Enter (nam, sdx, dob, sex, ori, pca, entered) in the Indices; its NRI."""
    return int(conn.execute(ENTER, row).lastrowid or 0)


def enter_many(conn: sqlite3.Connection, rows: Iterable[Row]) -> None:
    """Enter each (nam, sdx, dob, sex, ori, pca, entered) in the Indices."""
    conn.executemany(ENTER, rows)


def entry(conn: sqlite3.Connection, nri: str) -> tuple[str, str] | None:
    """(ori, nam) of entry ``nri`` if it is not removed, else None."""
    row = conn.execute(
        "SELECT ori, nam FROM indices WHERE nri = ? AND removed IS NULL", (nri,)
    ).fetchone()
    return None if row is None else (row[0], row[1])


def remove(conn: sqlite3.Connection, nri: str, date: str) -> None:
    """Mark entry ``nri`` removed on ``date`` (ISO)."""
    conn.execute("UPDATE indices SET removed = ? WHERE nri = ?", (date, nri))


def entries_of(conn: sqlite3.Connection, state: str) -> list[Row]:
    """(nri, nam, dob, sex, ori, pca, entered) of the entries in force of ``state``'s
    agencies, by NRI."""
    return conn.execute(
        "SELECT nri, nam, dob, sex, ori, pca, entered FROM indices WHERE ori LIKE ? "
        "AND removed IS NULL ORDER BY nri",
        (state + "%",),
    ).fetchall()


def prohibitor(conn: sqlite3.Connection, sdx: str, dob: str, sex: str) -> str | None:
    """The prohibitor category of an entry in force for soundex ``sdx``, ``dob`` and ``sex``,
    or None."""
    row = conn.execute(
        "SELECT pca FROM indices WHERE sdx = ? AND dob = ? AND sex = ? AND removed IS NULL",
        (sdx, dob, sex),
    ).fetchone()
    return None if row is None else str(row[0])


def entries(conn: sqlite3.Connection, limit: int = -1) -> list[Row]:
    """(nri, nam, dob, sex, ori, pca) of every entry in force, by NRI (at most
    ``limit``; -1: all)."""
    return conn.execute(
        "SELECT nri, nam, dob, sex, ori, pca FROM indices WHERE removed IS NULL "
        "ORDER BY nri LIMIT ?",
        (limit,),
    ).fetchall()


def entry_count(conn: sqlite3.Connection) -> int:
    """How many entries are in force."""
    return int(conn.execute("SELECT COUNT(*) FROM indices WHERE removed IS NULL").fetchone()[0])


# ---------------------------------------------------------------------------- checks


def check_count(conn: sqlite3.Connection) -> int:
    """How many checks were recorded (the last NTN's sequence number)."""
    return int(conn.execute("SELECT count(*) FROM checks").fetchone()[0])


def record_check(conn: sqlite3.Connection, row: tuple[str | None, ...]) -> None:
    """Record (or replace) a check: (ntn, date, status, ori, terminal, nam, dob, sex, rac,
    reason)."""
    conn.execute("INSERT OR REPLACE INTO checks VALUES (?,?,?,?,?,?,?,?,?,?)", row)
