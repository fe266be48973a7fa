"""The mock NCIC's hot files (``ncic.db``): the ``record`` table of all 21 files, its search
indexes, the ``retire`` notes of records whose file keeps them for a time; the statements and
reads over them, the endpoint's and the listings of ``lems population``.

What a record's search columns hold (a soundex, the last 8 of a VIN ...) and what an inquiry
means is the endpoint's (``lems.endpoints.ncic``); here are only the rows. The statements are
built once per shape (``functools.cache``): an inquiry is a handful of index lookups, and it
should not pay for formatting its SQL again each time.

Every read here returns live records only (``LIVE``: active or located) except ``by_nic`` (an
answer about a cancelled NIC needs the record). So the name and owner indexes hold live records
only (partial indexes): a cancelled, cleared or retired record stays in the table but costs an
inquiry nothing. Labs created before they were partial get them on their next start (the old
indexes are dropped and the new ones built, once).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS record (
    id INTEGER PRIMARY KEY,
    nic TEXT NOT NULL UNIQUE,
    file TEXT NOT NULL,
    mke TEXT NOT NULL,
    ori TEXT NOT NULL,
    oca TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'active',   -- active, located, cleared, cancelled, retired
    entered TEXT NOT NULL,
    updated TEXT NOT NULL,
    fields TEXT NOT NULL,                    -- JSON [[code, value], ...] as entered/modified
    located_by TEXT NOT NULL DEFAULT '',
    sdx TEXT, dob TEXT, rac TEXT, sex TEXT, hgt INTEGER,
    soc TEXT, fbi TEXT, mnu TEXT, oln TEXT, sid TEXT,
    lic TEXT, lis TEXT, vin8 TEXT, ser TEXT, oan TEXT, reg TEXT, bhn TEXT, pno TEXT, ntn TEXT
);
DROP INDEX IF EXISTS record_name;
DROP INDEX IF EXISTS record_owner;
CREATE INDEX IF NOT EXISTS record_name_live ON record (sdx, dob)
    WHERE status IN ('active', 'located');
CREATE INDEX IF NOT EXISTS record_owner_live ON record (ori, oca, file)
    WHERE status IN ('active', 'located');
CREATE INDEX IF NOT EXISTS record_soc ON record (soc) WHERE soc IS NOT NULL;
CREATE INDEX IF NOT EXISTS record_fbi ON record (fbi) WHERE fbi IS NOT NULL;
CREATE INDEX IF NOT EXISTS record_mnu ON record (mnu) WHERE mnu IS NOT NULL;
CREATE INDEX IF NOT EXISTS record_oln ON record (oln) WHERE oln IS NOT NULL;
CREATE INDEX IF NOT EXISTS record_lic ON record (lic) WHERE lic IS NOT NULL;
CREATE INDEX IF NOT EXISTS record_vin ON record (vin8) WHERE vin8 IS NOT NULL;
CREATE INDEX IF NOT EXISTS record_ser ON record (ser) WHERE ser IS NOT NULL;
CREATE INDEX IF NOT EXISTS record_oan ON record (oan) WHERE oan IS NOT NULL;
CREATE INDEX IF NOT EXISTS record_reg ON record (reg) WHERE reg IS NOT NULL;
CREATE INDEX IF NOT EXISTS record_bhn ON record (bhn) WHERE bhn IS NOT NULL;
CREATE INDEX IF NOT EXISTS record_pno ON record (pno) WHERE pno IS NOT NULL;
CREATE INDEX IF NOT EXISTS record_ntn ON record (ntn) WHERE ntn IS NOT NULL;
CREATE TABLE IF NOT EXISTS retire (
    id INTEGER PRIMARY KEY,                  -- record.id
    day TEXT NOT NULL                        -- CCYYMMDD: the first day it is no longer kept
);
CREATE INDEX IF NOT EXISTS retire_day ON retire (day);
"""

LIVE = ("active", "located")
"""Statuses of a record an inquiry finds (the partial indexes' condition says the same)."""
_LIVE_SQL = "status IN ('active', 'located')"

INDEX_COLUMNS = (
    "sdx",
    "dob",
    "rac",
    "sex",
    "hgt",
    "soc",
    "fbi",
    "mnu",
    "oln",
    "sid",
    "lic",
    "lis",
    "vin8",
    "ser",
    "oan",
    "reg",
    "bhn",
    "pno",
    "ntn",
)
"""The search columns, in the order ``insert`` and ``update`` take their values."""

COLUMNS = "id, nic, file, mke, ori, oca, status, entered, fields, located_by"
"""What a read returns of a record (a ``Record``)."""

_INSERT = (
    f"INSERT INTO record (id, nic, file, mke, ori, oca, entered, updated, fields, "
    f"{', '.join(INDEX_COLUMNS)}) VALUES ({', '.join('?' * (9 + len(INDEX_COLUMNS)))})"
)
_UPDATE = (
    "UPDATE record SET fields = ?, updated = ?, status = ?, located_by = ?, "
    f"{', '.join(f'{c} = ?' for c in INDEX_COLUMNS)} WHERE id = ?"
)


class Record:
    """One row of the record table, fields decoded."""

    __slots__ = (
        "entered",
        "fields",
        "file",
        "id",
        "located_by",
        "mke",
        "nic",
        "oca",
        "ori",
        "status",
    )

    def __init__(self, row: sqlite3.Row | tuple[Any, ...]) -> None:
        (
            self.id,
            self.nic,
            self.file,
            self.mke,
            self.ori,
            self.oca,
            self.status,
            self.entered,
            fields,
            self.located_by,
        ) = row
        self.fields: list[tuple[str, str]] = [(c, v) for c, v in json.loads(fields)]

    def get(self, code: str) -> str | None:
        return next((v for c, v in self.fields if c == code), None)


Row = tuple[Any, ...]
"""A new record: id, nic, file, mke, ori, oca, entered, updated, fields (JSON), then the values
of ``INDEX_COLUMNS``."""


def last_id(conn: sqlite3.Connection) -> int:
    """The highest record id handed out (0 for none)."""
    n: int = conn.execute("SELECT max(id) FROM record").fetchone()[0] or 0
    return n


def count(conn: sqlite3.Connection) -> int:
    n: int = conn.execute("SELECT count(*) FROM record").fetchone()[0]
    return n


def insert(conn: sqlite3.Connection, row: Row) -> None:
    conn.execute(_INSERT, row)


def insert_many(conn: sqlite3.Connection, rows: Iterable[Row]) -> None:
    conn.executemany(_INSERT, rows)


def update(
    conn: sqlite3.Connection,
    rid: int,
    fields: str,
    when: str,
    status: str,
    located_by: str,
    index: Sequence[Any],
) -> None:
    """Rewrite record ``rid``: its fields (JSON), status, locating ORI and search columns."""
    conn.execute(_UPDATE, (fields, when, status, located_by, *index, rid))


def set_retire_day(conn: sqlite3.Connection, rid: int, day: str | None) -> None:
    """Note the day (``CCYYMMDD``) record ``rid`` is retired; None: it is kept."""
    if day is None:
        conn.execute("DELETE FROM retire WHERE id = ?", (rid,))
    else:
        conn.execute("INSERT OR REPLACE INTO retire (id, day) VALUES (?, ?)", (rid, day))


def take_due(conn: sqlite3.Connection, today: str) -> list[Record]:
    """The records (any status) whose retirement day is ``today`` or before, oldest day first;
    their notes are removed."""
    rows = conn.execute(
        f"SELECT {', '.join('r.' + c.strip() for c in COLUMNS.split(','))} FROM retire t "
        "JOIN record r ON r.id = t.id WHERE t.day <= ? ORDER BY t.day, r.id",
        (today,),
    ).fetchall()
    conn.execute("DELETE FROM retire WHERE day <= ?", (today,))
    return [Record(r) for r in rows]


def by_nic(conn: sqlite3.Connection, nic: str) -> Record | None:
    """The record of ``nic``, whatever its status."""
    row = conn.execute(f"SELECT {COLUMNS} FROM record WHERE nic = ?", (nic,)).fetchone()
    return Record(row) if row else None


def by_oca(conn: sqlite3.Connection, ori: str, oca: str, file: str) -> Record | None:
    """The newest live record of ``file`` that ``ori`` entered under ``oca``."""
    row = conn.execute(
        f"SELECT {COLUMNS} FROM record WHERE ori = ? AND oca = ? AND file = ? "
        f"AND {_LIVE_SQL} ORDER BY id DESC",
        (ori, oca, file),
    ).fetchone()
    return Record(row) if row else None


@cache
def _where_sql(column: str, values: int, files: int) -> str:
    if column not in INDEX_COLUMNS:
        raise ValueError(f"{column!r} is not a search column of the record table")
    return (
        f"SELECT {COLUMNS} FROM record WHERE {column} IN ({','.join('?' * values)}) "
        f"AND file IN ({','.join('?' * files)}) AND {_LIVE_SQL} ORDER BY id LIMIT 200"
    )


def where(
    conn: sqlite3.Connection, files: Sequence[str], column: str, values: Sequence[Any]
) -> list[Record]:
    """Live records of ``files`` whose search ``column`` is one of ``values`` (200 at most)."""
    if not values:
        return []
    rows = conn.execute(_where_sql(column, len(values), len(files)), (*values, *files))
    return [Record(r) for r in rows.fetchall()]


@cache
def _by_name_sql(dobs: int, files: int) -> str:
    return (
        f"SELECT {COLUMNS} FROM record WHERE sdx = ? AND dob IN ({','.join('?' * dobs)}) "
        f"AND file IN ({','.join('?' * files)}) AND {_LIVE_SQL} ORDER BY id LIMIT 200"
    )


def by_name(
    conn: sqlite3.Connection, files: Sequence[str], sdx: str, dobs: Sequence[str]
) -> list[Record]:
    """Live records of ``files`` with name soundex ``sdx`` born on one of ``dobs`` (one index
    search for all the files, 200 records at most)."""
    rows = conn.execute(_by_name_sql(len(dobs), len(files)), (sdx, *dobs, *files))
    return [Record(r) for r in rows.fetchall()]


@cache
def _linked_sql(files: int) -> str:
    return (
        f"SELECT {COLUMNS} FROM record WHERE ori = ? AND oca = ? "
        f"AND file IN ({','.join('?' * files)}) AND {_LIVE_SQL} AND id != ?"
    )


def linked(
    conn: sqlite3.Connection, ori: str, oca: str, files: Sequence[str], other_than: int
) -> list[Record]:
    """Live records of ``files`` entered by ``ori`` under ``oca``, but record ``other_than``."""
    rows = conn.execute(_linked_sql(len(files)), (ori, oca, *files, other_than))
    return [Record(r) for r in rows.fetchall()]


def unidentified(conn: sqlite3.Connection, sex: str | None) -> list[Record]:
    """Live unidentified-person records of ``sex`` or of unknown sex (500 at most)."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM record WHERE file = 'unidentified' AND sex IN (?, 'U') "
        f"AND {_LIVE_SQL} ORDER BY id LIMIT 500",
        (sex,),
    )
    return [Record(r) for r in rows.fetchall()]


def in_force(conn: sqlite3.Connection, file: str, limit: int = -1) -> list[tuple[Any, ...]]:
    """(nic, ori, oca, status, fields as JSON) of the live records of ``file`` (an NCIC file
    name: ``wanted``, ``vehicle``...), in the order entered (at most ``limit``; -1: all): what
    ``lems population`` lists for an instructor."""
    return conn.execute(
        f"SELECT nic, ori, oca, status, fields FROM record WHERE file = ? AND {_LIVE_SQL} "
        "ORDER BY id LIMIT ?",
        (file, limit),
    ).fetchall()


def count_in_force(conn: sqlite3.Connection, file: str) -> int:
    """How many records of ``file`` are live."""
    n: int = conn.execute(
        f"SELECT COUNT(*) FROM record WHERE file = ? AND {_LIVE_SQL}", (file,)
    ).fetchone()[0]
    return n
