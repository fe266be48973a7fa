"""The III tables (Interstate Identification Index), kept in NCIC's database (``ncic.db``):
identities (``iii_identity``), the state identification numbers behind each
(``iii_sid``) and the arrest cycles by holder (``iii_arrest``).

Read by the mock III (``lems.endpoints.iii``: QH and QR) and by NICS, which searches III for
prohibiting convictions and open arrests (``lems.endpoints.nics``); filled by ``seed_lab``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS iii_identity (
    fbi TEXT PRIMARY KEY, nam TEXT NOT NULL, sdx TEXT NOT NULL, dob TEXT NOT NULL,
    sex TEXT NOT NULL, rac TEXT NOT NULL, soc TEXT, holders TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS iii_name ON iii_identity (sdx, dob);
CREATE INDEX IF NOT EXISTS iii_soc ON iii_identity (soc) WHERE soc IS NOT NULL;
CREATE TABLE IF NOT EXISTS iii_sid (sid TEXT PRIMARY KEY, state TEXT NOT NULL,
                                    fbi TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS iii_sid_fbi ON iii_sid (fbi);
CREATE TABLE IF NOT EXISTS iii_arrest (fbi TEXT NOT NULL, holder TEXT NOT NULL,
    doa TEXT NOT NULL, ori TEXT NOT NULL, off TEXT NOT NULL, dsp TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS iii_arrest_fbi ON iii_arrest (fbi);
"""

Row = tuple[Any, ...]
"""A row as SQLite returns it."""

_IDENTITY = "SELECT fbi, nam, dob, sex, rac, soc, holders FROM iii_identity WHERE "


def identity_by_fbi(conn: sqlite3.Connection, fbi: str) -> list[Row]:
    """(fbi, nam, dob, sex, rac, soc, holders) of the identity of FBI number ``fbi``."""
    return conn.execute(_IDENTITY + "fbi = ?", (fbi,)).fetchall()


def identity_by_sid(conn: sqlite3.Connection, sid: str) -> list[Row]:
    """The same columns, of the identity a state holds as ``sid``."""
    return conn.execute(
        _IDENTITY + "fbi = (SELECT fbi FROM iii_sid WHERE sid = ?)", (sid,)
    ).fetchall()


def identity_by_soc(conn: sqlite3.Connection, soc: str) -> list[Row]:
    """The same columns, of the identities of social security number ``soc``."""
    return conn.execute(_IDENTITY + "soc = ?", (soc,)).fetchall()


def identity_by_name(conn: sqlite3.Connection, sdx: str, dobs: list[str]) -> list[Row]:
    """The same columns, of at most 100 identities of soundex ``sdx`` born on one of ``dobs``."""
    return conn.execute(
        _IDENTITY + f"sdx = ? AND dob IN ({','.join('?' * len(dobs))}) LIMIT 100", (sdx, *dobs)
    ).fetchall()


def sids(conn: sqlite3.Connection, fbi: str) -> list[tuple[str, str]]:
    """(state, sid) of each state holding part of ``fbi``'s record, by state."""
    return conn.execute(
        "SELECT state, sid FROM iii_sid WHERE fbi = ? ORDER BY state", (fbi,)
    ).fetchall()


def arrests(conn: sqlite3.Connection, fbi: str) -> list[Row]:
    """(holder, doa, ori, off, dsp) of every arrest cycle of ``fbi``, by date of arrest."""
    return conn.execute(
        "SELECT holder, doa, ori, off, dsp FROM iii_arrest WHERE fbi = ? ORDER BY doa", (fbi,)
    ).fetchall()


def charges_of(conn: sqlite3.Connection, sdx: str, dob: str, sex: str) -> list[tuple[str, str]]:
    """(offence, disposition) of every arrest of the identities of soundex ``sdx``, DOB
    ``dob`` and sex ``sex`` (what a firearm check looks for)."""
    return conn.execute(
        "SELECT a.off, a.dsp FROM iii_identity i JOIN iii_arrest a ON a.fbi = i.fbi "
        "WHERE i.sdx = ? AND i.dob = ? AND i.sex = ?",
        (sdx, dob, sex),
    ).fetchall()


def open_charges_of(conn: sqlite3.Connection, sdx: str, dob: str) -> list[str]:
    """The offence of every arrest still pending a disposition of the identities of soundex
    ``sdx`` and DOB ``dob``."""
    return [
        off
        for (off,) in conn.execute(
            "SELECT a.off FROM iii_identity i JOIN iii_arrest a ON a.fbi = i.fbi WHERE i.sdx = ? "
            "AND i.dob = ? AND a.dsp = 'PEND'",
            (sdx, dob),
        )
    ]


def add_identities(conn: sqlite3.Connection, rows: Iterable[Row]) -> None:
    """Add identities (fbi, nam, sdx, dob, sex, rac, soc, holders); an FBI number there stays."""
    conn.executemany("INSERT OR IGNORE INTO iii_identity VALUES (?,?,?,?,?,?,?,?)", rows)


def add_sids(conn: sqlite3.Connection, rows: Iterable[Row]) -> None:
    """Add state numbers (sid, state, fbi); a SID there stays."""
    conn.executemany("INSERT OR IGNORE INTO iii_sid VALUES (?,?,?)", rows)


def add_arrests(conn: sqlite3.Connection, rows: Iterable[Row]) -> None:
    """Add arrest cycles (fbi, holder, doa, ori, off, dsp)."""
    conn.executemany("INSERT INTO iii_arrest VALUES (?,?,?,?,?,?)", rows)


def identities(conn: sqlite3.Connection, limit: int = -1) -> list[Row]:
    """(fbi, nam, sex, rac, dob, holders, number of arrests) of every identity, by FBI
    (at most ``limit``; -1: all)."""
    return conn.execute(
        "SELECT i.fbi, i.nam, i.sex, i.rac, i.dob, i.holders, (SELECT COUNT(*) FROM "
        "iii_arrest a WHERE a.fbi = i.fbi) FROM iii_identity i ORDER BY i.fbi LIMIT ?",
        (limit,),
    ).fetchall()


def identity_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM iii_identity").fetchone()[0])
