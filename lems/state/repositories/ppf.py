"""The ``ppf`` table of ``state.db``: the Prohibited Persons File, with what NICS was sent of
each entry (the daily batch, the NICS record number NRI, relief)."""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from lems.store import Statement


class Entry(NamedTuple):
    ppn: str
    name: str
    dob: str
    sex: str
    pca: str
    ori: str
    entered: str
    sent: str
    """Lab time of the NICS batch that carried it ('' not yet)."""
    nri: str
    """The NICS Index record number ('' until NICS accepted it)."""
    relieved: str
    """Lab time of the relief ('' while active)."""


ENTRY = f"SELECT {', '.join(Entry._fields)} FROM ppf"


def _entries(
    conn: sqlite3.Connection, where: str, args: tuple[str | None, ...] = ()
) -> list[Entry]:
    return [Entry(*r) for r in conn.execute(f"{ENTRY} {where}", args).fetchall()]


def last_ppn(conn: sqlite3.Connection) -> int:
    """The number of the highest PPN on file (0: none)."""
    row = conn.execute("SELECT MAX(ppn) FROM ppf").fetchone()
    return int(row[0][1:]) if row and row[0] else 0


def entry(conn: sqlite3.Connection, ppn: str) -> Entry | None:
    found = _entries(conn, "WHERE ppn = ?", (ppn,))
    return found[0] if found else None


def named(conn: sqlite3.Connection, name: str | None, dob: str | None) -> list[Entry]:
    """Up to 10 entries, relieved or not, under ``name`` and ``dob`` (file maintenance)."""
    return _entries(conn, "WHERE name = ? AND dob = ? LIMIT 10", (name, dob))


def active(conn: sqlite3.Connection, name: str, dob: str) -> list[Entry]:
    """The entries not relieved under ``name`` and ``dob`` (a firearm check)."""
    return _entries(conn, "WHERE name = ? AND dob = ? AND relieved = ''", (name, dob))


def unsent(conn: sqlite3.Connection) -> list[Entry]:
    """Active entries NICS has not been sent yet, by PPN (the daily batch)."""
    return _entries(conn, "WHERE sent = '' AND relieved = '' ORDER BY ppn")


def in_nics(conn: sqlite3.Connection) -> list[Entry]:
    """Active entries NICS holds (they have an NRI): what the reconciliation compares."""
    return _entries(conn, "WHERE relieved = '' AND nri != ''")


def entered(
    ppn: str,
    name: str | None,
    dob: str | None,
    sex: str | None,
    pca: str | None,
    ori: str,
    when: str,
) -> Statement:
    return (
        "INSERT INTO ppf (ppn, name, dob, sex, pca, ori, entered) VALUES (?,?,?,?,?,?,?)",
        (ppn, name, dob, sex, pca, ori, when),
    )


def relieved(ppn: str, when: str, reason: str) -> Statement:
    return ("UPDATE ppf SET relieved = ?, reason = ? WHERE ppn = ?", (when, reason, ppn))


def sent(ppn: str, when: str, nri: str) -> Statement:
    """NICS accepted the entry in the batch of ``when`` as record ``nri``."""
    return ("UPDATE ppf SET sent = ?, nri = ? WHERE ppn = ?", (when, nri, ppn))


def relief_sent(ppn: str, when: str) -> Statement:
    """NICS was told of the relief at ``when``."""
    return ("UPDATE ppf SET relief_sent = ? WHERE ppn = ?", (when, ppn))
