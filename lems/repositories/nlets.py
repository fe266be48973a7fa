"""The mock Nlets' own database (``nlets.db``): every member's drivers, vehicles and criminal
histories, the ORION directory, which members are out of service and which have been seeded.

``home.db`` (``lems.endpoints.seed.HOME_DB``) has the same tables, for the lab's own state
only: what its switch answers other states from in a federation.

The reads run per Nlets inquiry (``lems.endpoints.nlets``), so each is one constant statement
(prepared once, then found in the connection's statement cache) and returns the rows as tuples,
as SQLite gives them. Nothing here commits: the caller does, once per request.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS driver (state TEXT, oln TEXT, nam TEXT, sdx TEXT, dob TEXT,
    sex TEXT, rac TEXT, hgt TEXT, wgt TEXT, eye TEXT, status TEXT);
CREATE INDEX IF NOT EXISTS driver_oln ON driver (state, oln);
CREATE INDEX IF NOT EXISTS driver_name ON driver (state, sdx, dob);
CREATE TABLE IF NOT EXISTS vehicle (state TEXT, lic TEXT, liy TEXT, lit TEXT, vin TEXT,
    vin8 TEXT, owner TEXT, vma TEXT);
CREATE INDEX IF NOT EXISTS vehicle_lic ON vehicle (state, lic);
CREATE INDEX IF NOT EXISTS vehicle_vin ON vehicle (state, vin8);
CREATE TABLE IF NOT EXISTS chri (state TEXT, sid TEXT, fbi TEXT, nam TEXT, sdx TEXT, dob TEXT,
    sex TEXT, rac TEXT, arrests TEXT);
CREATE INDEX IF NOT EXISTS chri_sid ON chri (state, sid);
CREATE INDEX IF NOT EXISTS chri_fbi ON chri (state, fbi);
CREATE INDEX IF NOT EXISTS chri_name ON chri (state, sdx, dob);
CREATE TABLE IF NOT EXISTS orion (ori TEXT PRIMARY KEY, state TEXT, loc TEXT, type TEXT,
    name TEXT, auth TEXT, yr_delay REAL);
CREATE TABLE IF NOT EXISTS state_status (state TEXT PRIMARY KEY, in_service INTEGER);
CREATE TABLE IF NOT EXISTS member_seeded (state TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS chri_soc (state TEXT, soc TEXT, sid TEXT);
CREATE INDEX IF NOT EXISTS chri_soc_soc ON chri_soc (state, soc);
"""

Row = tuple[Any, ...]
"""A row as SQLite returns it."""

# ---------------------------------------------------------------------------- the members' files

_DRIVER = "SELECT oln, nam, dob, sex, rac, hgt, wgt, eye, status FROM driver WHERE state = ? AND "
DRIVER_BY_OLN = _DRIVER + "oln = ?"
DRIVER_BY_NAME = _DRIVER + "sdx = ? AND dob = ?"
_VEHICLE = "SELECT lic, liy, lit, vin, owner, vma FROM vehicle WHERE state = ? AND "
VEHICLE_BY_LIC = _VEHICLE + "lic = ?"
VEHICLE_BY_VIN = _VEHICLE + "vin8 = ?"
_CHRI = "SELECT sid, fbi, nam, dob, sex, rac, arrests FROM chri WHERE state = ? AND "
CHRI_BY_SID = _CHRI + "sid = ?"
CHRI_BY_FBI = _CHRI + "fbi = ?"
CHRI_BY_NAME = _CHRI + "sdx = ? AND dob = ?"
CHRI_BY_SOC = _CHRI + "sid IN (SELECT sid FROM chri_soc WHERE state = ? AND soc = ?)"


def drivers_by_oln(conn: sqlite3.Connection, state: str, oln: str) -> list[Row]:
    """(oln, nam, dob, sex, rac, hgt, wgt, eye, status) of ``state``'s licence ``oln``."""
    return conn.execute(DRIVER_BY_OLN, (state, oln)).fetchall()


def drivers_by_name(conn: sqlite3.Connection, state: str, sdx: str, dob: str) -> list[Row]:
    """The same columns, of ``state``'s drivers of soundex ``sdx`` born on ``dob``."""
    return conn.execute(DRIVER_BY_NAME, (state, sdx, dob)).fetchall()


def vehicles_by_plate(conn: sqlite3.Connection, state: str, lic: str) -> list[Row]:
    """(lic, liy, lit, vin, owner, vma) of ``state``'s registrations of plate ``lic``."""
    return conn.execute(VEHICLE_BY_LIC, (state, lic)).fetchall()


def vehicles_by_vin8(conn: sqlite3.Connection, state: str, vin8: str) -> list[Row]:
    """The same columns, of ``state``'s registrations whose VIN ends in ``vin8``."""
    return conn.execute(VEHICLE_BY_VIN, (state, vin8)).fetchall()


def chri_by_sid(conn: sqlite3.Connection, state: str, sid: str) -> list[Row]:
    """(sid, fbi, nam, dob, sex, rac, arrests as JSON) of ``state``'s record ``sid``."""
    return conn.execute(CHRI_BY_SID, (state, sid)).fetchall()


def chri_by_fbi(conn: sqlite3.Connection, state: str, fbi: str) -> list[Row]:
    """The same columns, of ``state``'s records of FBI number ``fbi``."""
    return conn.execute(CHRI_BY_FBI, (state, fbi)).fetchall()


def chri_by_name(conn: sqlite3.Connection, state: str, sdx: str, dob: str) -> list[Row]:
    """The same columns, of ``state``'s records of soundex ``sdx`` born on ``dob``."""
    return conn.execute(CHRI_BY_NAME, (state, sdx, dob)).fetchall()


def chri_by_soc(conn: sqlite3.Connection, state: str, soc: str) -> list[Row]:
    """The same columns, of ``state``'s records indexed under social security number ``soc``."""
    return conn.execute(CHRI_BY_SOC, (state, state, soc)).fetchall()


def add_drivers(conn: sqlite3.Connection, rows: Iterable[Row]) -> None:
    """Add driver rows (state, oln, nam, sdx, dob, sex, rac, hgt, wgt, eye, status)."""
    conn.executemany("INSERT INTO driver VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)


def add_vehicles(conn: sqlite3.Connection, rows: Iterable[Row]) -> None:
    """Add vehicle rows (state, lic, liy, lit, vin, vin8, owner, vma)."""
    conn.executemany("INSERT INTO vehicle VALUES (?,?,?,?,?,?,?,?)", rows)


def add_chri(conn: sqlite3.Connection, rows: Iterable[Row]) -> None:
    """Add criminal-history rows (state, sid, fbi, nam, sdx, dob, sex, rac, arrests as JSON)."""
    conn.executemany("INSERT INTO chri VALUES (?,?,?,?,?,?,?,?,?)", rows)


def add_chri_socs(conn: sqlite3.Connection, rows: Iterable[Row]) -> None:
    """Index criminal histories by social security number: rows (state, soc, sid)."""
    conn.executemany("INSERT INTO chri_soc VALUES (?,?,?)", rows)


def seeded(conn: sqlite3.Connection, member: str) -> bool:
    """Whether ``member``'s files have been seeded (or found seeded) already."""
    return (
        conn.execute("SELECT 1 FROM member_seeded WHERE state = ?", (member,)).fetchone()
        is not None
    )


def has_drivers(conn: sqlite3.Connection, member: str) -> bool:
    """Whether ``member`` has any driver (seeded with the lab's world by ``seed_lab``)."""
    return (
        conn.execute("SELECT 1 FROM driver WHERE state = ? LIMIT 1", (member,)).fetchone()
        is not None
    )


def mark_seeded(conn: sqlite3.Connection, member: str) -> None:
    """Remember that ``member``'s files are there."""
    conn.execute("INSERT OR IGNORE INTO member_seeded VALUES (?)", (member,))


def drivers(conn: sqlite3.Connection, limit: int = -1) -> list[Row]:
    """(state, oln, nam, dob, sex, status) of every driver, in the order added (at most
    ``limit``; -1: all)."""
    return conn.execute(
        "SELECT state, oln, nam, dob, sex, status FROM driver ORDER BY rowid LIMIT ?",
        (limit,),
    ).fetchall()


def vehicles(conn: sqlite3.Connection, limit: int = -1) -> list[Row]:
    """(state, lic, vin, owner, vma) of every vehicle, in the order added (at most
    ``limit``; -1: all)."""
    return conn.execute(
        "SELECT state, lic, vin, owner, vma FROM vehicle ORDER BY rowid LIMIT ?",
        (limit,),
    ).fetchall()


def driver_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM driver").fetchone()[0])


def vehicle_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM vehicle").fetchone()[0])


# ---------------------------------------------------------------------------- members' status


def clear_status(conn: sqlite3.Connection) -> None:
    """Every member in service again (a lab's setting decides anew at each start)."""
    conn.execute("DELETE FROM state_status")


def set_in_service(conn: sqlite3.Connection, member: str, in_service: bool) -> None:
    conn.execute("INSERT OR REPLACE INTO state_status VALUES (?, ?)", (member, int(in_service)))


def in_service(conn: sqlite3.Connection, member: str) -> bool:
    """Whether ``member`` answers (a member never marked is in service)."""
    row = conn.execute("SELECT in_service FROM state_status WHERE state = ?", (member,)).fetchone()
    return row is None or bool(row[0])


# ---------------------------------------------------------------------------- ORION

_ORION = "SELECT ori, state, loc, type, name, auth FROM orion WHERE "


def put_agencies(conn: sqlite3.Connection, rows: Iterable[Row]) -> None:
    """Add or replace ORION records (ori, state, loc, type, name, auth, yr_delay)."""
    conn.executemany("INSERT OR REPLACE INTO orion VALUES (?,?,?,?,?,?,?)", rows)


def agency(conn: sqlite3.Connection, ori: str) -> Row | None:
    """(ori, state, loc, type, name, auth, yr_delay) of ``ori``'s ORION record, or None."""
    row: Row | None = conn.execute(
        "SELECT ori, state, loc, type, name, auth, yr_delay FROM orion WHERE ori = ?", (ori,)
    ).fetchone()
    return row


def find_by_ori(conn: sqlite3.Connection, ori: str) -> list[Row]:
    """(ori, state, loc, type, name, auth) of ``ori``'s record (a TQ by ORI)."""
    return conn.execute(_ORION + "ori = ?", (ori,)).fetchall()


def find_by_place(
    conn: sqlite3.Connection, loc: str, state: str | None, typ: str | None
) -> list[Row]:
    """The same columns, of at most 20 agencies whose location starts with ``loc`` (in
    ``state``, of type ``typ``, when given), by ORI (a TQ by location)."""
    cond = "loc LIKE ?"
    args: list[str] = [loc + "%"]
    if state is not None:
        cond += " AND state = ?"
        args.append(state)
    if typ:
        cond += " AND type = ?"
        args.append(typ)
    return conn.execute(_ORION + cond + " ORDER BY ori LIMIT 20", args).fetchall()


def add_agency(conn: sqlite3.Connection, ori: str, loc: str, typ: str | None, name: str) -> None:
    """A new ORION record (a TA), in ``ori``'s state, with every authorisation."""
    conn.execute(
        "INSERT INTO orion VALUES (?,?,?,?,?,?,NULL)", (ori, ori[:2], loc, typ, name, "ACDZ")
    )


def delete_agency(conn: sqlite3.Connection, ori: str) -> None:
    """Remove ``ori``'s ORION record (a TD)."""
    conn.execute("DELETE FROM orion WHERE ori = ?", (ori,))


def update_agency(
    conn: sqlite3.Connection, ori: str, loc: str | None, typ: str | None, name: str | None
) -> None:
    """Change the given parts of ``ori``'s ORION record (a TU; None keeps a part)."""
    conn.execute(
        "UPDATE orion SET loc = COALESCE(?, loc), type = COALESCE(?, type),"
        " name = COALESCE(?, name) WHERE ori = ?",
        (loc, typ, name, ori),
    )
