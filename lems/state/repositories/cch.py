"""The CCH tables of ``state.db``: ``subject``, ``alias``, ``cycle``, ``charge`` and ``custody``,
and the record they hold together (``Record``: a subject with its cycles, charges and custody).

Reads are small indexed lookups for the reactor thread (a CCH inquiry is on the benchmark path,
``tools/bench_cch.py``); writes are statements for the state writer. ``load`` is the seeding
path of ``lems cch seed`` and ``lems seed``: large transactions straight on a connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lems.store import Statement


@dataclass(slots=True)
class Charge:
    n: int
    chg: str
    ocl: str = ""
    dsp: str = ""
    dod: str = ""
    crt: str = ""


@dataclass(slots=True)
class Cycle:
    cyc: int
    doa: str
    ori: str = ""
    oca: str = ""
    manual: bool = False
    sealed: bool = False
    charges: list[Charge] = field(default_factory=list)


@dataclass(slots=True)
class Record:
    """One subject's criminal history as stored."""

    sid: str
    fbi: str
    name: str
    sex: str
    rac: str
    dob: str
    descriptors: list[tuple[str, str]]
    fpi: bool
    challenged: bool
    aliases: list[str] = field(default_factory=list)
    cycles: list[Cycle] = field(default_factory=list)
    custody: list[tuple[int, str, str, str]] = field(default_factory=list)
    """(cycle, date, status, ori)"""


# ---------------------------------------------------------------- reads

SUBJECT_ROW = (
    "SELECT sid, fbi, name, sex, rac, dob, hgt, wgt, eye, hai, pob, fpi, challenged "
    "FROM subject WHERE sid = ?"
)
ALIASES = "SELECT name FROM alias WHERE sid = ? ORDER BY name"
CYCLES = "SELECT cyc, doa, ori, oca, manual, sealed FROM cycle WHERE sid = ? ORDER BY cyc"
CHARGES = "SELECT cyc, n, chg, ocl, dsp, dod, crt FROM charge WHERE sid = ? ORDER BY cyc, n"
CUSTODY = "SELECT cyc, dcs, cst, ori FROM custody WHERE sid = ? ORDER BY n"
DESCRIPTORS = ("HGT", "WGT", "EYE", "HAI", "POB")


def last_sid(conn: sqlite3.Connection) -> int:
    """The number of the highest Oregon SID (``OR`` + digits) on file, 0 when there is none."""
    row = conn.execute("SELECT MAX(sid) FROM subject WHERE sid LIKE 'OR%'").fetchone()
    return int(row[0][2:]) if row and row[0] and row[0][2:].isdigit() else 0


def with_sid(conn: sqlite3.Connection, sid: str) -> list[str]:
    """``[sid]`` when the subject is on file, else ``[]``."""
    return [r[0] for r in conn.execute("SELECT sid FROM subject WHERE sid = ?", (sid,))]


def with_fbi(conn: sqlite3.Connection, fbi: str) -> list[str]:
    """The SIDs of the subjects with FBI number ``fbi``."""
    return [r[0] for r in conn.execute("SELECT sid FROM subject WHERE fbi = ?", (fbi,))]


def exists(conn: sqlite3.Connection, sid: str) -> bool:
    return conn.execute("SELECT 1 FROM subject WHERE sid = ?", (sid,)).fetchone() is not None


def born_on(conn: sqlite3.Connection, dobs: Sequence[str]) -> list[tuple[str, str, str, str]]:
    """(sid, name, sex, rac) of every subject born on one of ``dobs``, once under its name and
    once under each alias (the name search compares the names, ``CchStore.by_name``)."""
    marks = ",".join("?" * len(dobs))
    return conn.execute(
        f"SELECT sid, name, sex, rac FROM subject WHERE dob IN ({marks}) UNION ALL "
        f"SELECT s.sid, a.name, s.sex, s.rac FROM subject s JOIN alias a ON a.sid = s.sid "
        f"WHERE s.dob IN ({marks})",
        (*dobs, *dobs),
    ).fetchall()


def record(conn: sqlite3.Connection, sid: str) -> Record | None:
    """The subject ``sid`` with its aliases, cycles (each with its charges) and custody."""
    row = conn.execute(SUBJECT_ROW, (sid,)).fetchone()
    if row is None:
        return None
    desc = [(c, v) for c, v in zip(DESCRIPTORS, row[6:11], strict=True) if v]
    rec = Record(row[0], row[1], row[2], row[3], row[4], row[5], desc, bool(row[11]), bool(row[12]))
    rec.aliases = [r[0] for r in conn.execute(ALIASES, (sid,)).fetchall()]
    cycles: dict[int, Cycle] = {}
    for cyc, doa, ori, oca, manual, sealed in conn.execute(CYCLES, (sid,)).fetchall():
        cycles[cyc] = Cycle(cyc, doa, ori, oca, bool(manual), bool(sealed))
    for cyc, n, chg, ocl, dsp, dod, crt in conn.execute(CHARGES, (sid,)).fetchall():
        if cyc in cycles:
            cycles[cyc].charges.append(Charge(n, chg, ocl, dsp, dod, crt))
    rec.cycles = list(cycles.values())
    rec.custody = [tuple(r) for r in conn.execute(CUSTODY, (sid,)).fetchall()]
    return rec


def last_cycle(conn: sqlite3.Connection, sid: str) -> int:
    """The subject's highest cycle number on file (0: none)."""
    row = conn.execute("SELECT MAX(cyc) FROM cycle WHERE sid = ?", (sid,)).fetchone()
    return row[0] or 0 if row else 0


def charge_to_dispose(conn: sqlite3.Connection, sid: str, cyc: int, chg: str | None) -> int | None:
    """The number of the cycle's charge ``chg`` a disposition is for: the first one still open,
    else the first one; None when the cycle has no such charge."""
    row = conn.execute(
        "SELECT n FROM charge WHERE sid = ? AND cyc = ? AND chg = ? "
        "ORDER BY (dsp = '') DESC, n LIMIT 1",
        (sid, cyc, chg),
    ).fetchone()
    return None if row is None else int(row[0])


def last_custody(conn: sqlite3.Connection, sid: str) -> int:
    """The number of the subject's last custody event (0: none)."""
    row = conn.execute("SELECT COALESCE(MAX(n), 0) FROM custody WHERE sid = ?", (sid,)).fetchone()
    return row[0] if row else 0


def purgeable(conn: sqlite3.Connection, born: str, arrested: str, limit: int) -> list[str]:
    """Up to ``limit`` SIDs of subjects born on or before ``born`` with no arrest since
    ``arrested`` (both CCYYMMDD)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT sid FROM subject WHERE dob <= ? AND last_arrest < ? LIMIT ?",
            (born, arrested, limit),
        )
    ]


# ---------------------------------------------------------------- statements

CORRECTABLE = {
    "NAM": "name",
    "SEX": "sex",
    "RAC": "rac",
    "DOB": "dob",
    "FBI": "fbi",
    "HGT": "hgt",
    "WGT": "wgt",
    "EYE": "eye",
    "HAI": "hai",
    "POB": "pob",
}
"""The subject's fields a correction (MCH) may set, by field code."""


SUBJECT_FIELDS = ("FBI", "NAM", "SEX", "RAC", "DOB", "HGT", "WGT", "EYE", "HAI", "POB", "SOC")
"""The field codes a new subject is entered with (``new_subject``)."""


def new_subject(sid: str, values: Mapping[str, str | None], fpi: bool, created: str) -> Statement:
    """A new subject; ``values``: its ``SUBJECT_FIELDS`` by code (NAM, SEX, RAC and DOB given,
    the others '' or None when not known)."""
    v = values.get
    return (
        "INSERT INTO subject (sid, fbi, name, sex, rac, dob, hgt, wgt, eye, hai, pob, soc, "
        "fpi, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            sid,
            v("FBI") or "",
            v("NAM"),
            v("SEX"),
            v("RAC"),
            v("DOB"),
            v("HGT") or "",
            v("WGT") or "",
            v("EYE") or "",
            v("HAI") or "",
            v("POB") or "",
            v("SOC") or "",
            int(fpi),
            created,
        ),
    )


def new_cycle(sid: str, cyc: int, doa: str, ori: str, oca: str) -> list[Statement]:
    """An arrest cycle (without its charges), and the subject's last arrest moved up to it."""
    return [
        (
            "INSERT INTO cycle (sid, cyc, doa, ori, oca) VALUES (?,?,?,?,?)",
            (sid, cyc, doa, ori, oca),
        ),
        ("UPDATE subject SET last_arrest = MAX(last_arrest, ?) WHERE sid = ?", (doa, sid)),
    ]


def new_charge(sid: str, cyc: int, n: int, chg: str, ocl: str) -> Statement:
    return (
        "INSERT INTO charge (sid, cyc, n, chg, ocl) VALUES (?,?,?,?,?)",
        (sid, cyc, n, chg, ocl),
    )


def alias(sid: str, name: str) -> Statement:
    """Another name of the subject (kept once)."""
    return ("INSERT OR IGNORE INTO alias (name, sid) VALUES (?,?)", (name, sid))


def disposition(
    sid: str, cyc: int, n: int, dsp: str | None, dod: str | None, crt: str
) -> Statement:
    """The court's disposition of charge ``n`` of cycle ``cyc``."""
    return (
        "UPDATE charge SET dsp = ?, dod = ?, crt = ? WHERE sid = ? AND cyc = ? AND n = ?",
        (dsp, dod, crt, sid, cyc, n),
    )


def custody(sid: str, n: int, cyc: int, dcs: str | None, cst: str | None, ori: str) -> Statement:
    """Custody event ``n`` (``cyc`` 0: not tied to a cycle)."""
    return (
        "INSERT INTO custody (sid, n, cyc, dcs, cst, ori) VALUES (?,?,?,?,?,?)",
        (sid, n, cyc, dcs, cst, ori),
    )


def correct(sid: str, code: str, value: str) -> Statement:
    """Set the subject's field ``code`` (one of ``CORRECTABLE``) to ``value``."""
    return (f"UPDATE subject SET {CORRECTABLE[code]} = ? WHERE sid = ?", (value, sid))


def fingerprinted(sid: str, yes: bool) -> Statement:
    """The subject is (or is not) identified by fingerprints."""
    return ("UPDATE subject SET fpi = ? WHERE sid = ?", (int(yes), sid))


def challenged(sid: str, yes: bool) -> Statement:
    """The record is (or no longer is) under a contested-case challenge (D2)."""
    return ("UPDATE subject SET challenged = ? WHERE sid = ?", (int(yes), sid))


def remove_subject(sid: str) -> list[Statement]:
    """The subject and everything on file about it."""
    return [
        (f"DELETE FROM {t} WHERE sid = ?", (sid,))
        for t in ("charge", "cycle", "custody", "alias", "subject")
    ]


def remove_cycle(sid: str, cyc: int) -> list[Statement]:
    """One arrest cycle and its charges."""
    return [(f"DELETE FROM {t} WHERE sid = ? AND cyc = ?", (sid, cyc)) for t in ("charge", "cycle")]


def seal_cycle(sid: str, cyc: int, dod: str | None) -> list[Statement]:
    """A cycle set aside by court order on ``dod``: kept, never disseminated, its charges
    disposed ``SETA``."""
    return [
        ("UPDATE cycle SET sealed = 1 WHERE sid = ? AND cyc = ?", (sid, cyc)),
        ("UPDATE charge SET dsp = 'SETA', dod = ? WHERE sid = ? AND cyc = ?", (dod, sid, cyc)),
    ]


# ---------------------------------------------------------------- seeding

SEED_SUBJECT = (
    "INSERT OR IGNORE INTO subject (sid, fbi, name, sex, rac, dob, hgt, wgt, eye, hai, "
    "soc, fpi, last_arrest) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
SEED_CYCLE = "INSERT OR IGNORE INTO cycle (sid, cyc, doa, ori, oca, manual) VALUES (?,?,?,?,?,?)"
SEED_CHARGE = (
    "INSERT OR IGNORE INTO charge (sid, cyc, n, chg, ocl, dsp, dod) VALUES (?,?,?,?,?,?,?)"
)

Rows = list[tuple[Any, ...]]


def seeded(subjects: Rows, cycles: Rows, charges: Rows) -> list[Statement]:
    """Seeded subjects (sid, fbi, name, sex, rac, dob, hgt, wgt, eye, hai, soc, fpi,
    last_arrest), cycles (sid, cyc, doa, ori, oca, manual) and charges (sid, cyc, n, chg, ocl,
    dsp, dod) as statements for a writer; rows already on file are left as they are."""
    out: list[Statement] = [(SEED_SUBJECT, r) for r in subjects]
    out += [(SEED_CYCLE, r) for r in cycles]
    out += [(SEED_CHARGE, r) for r in charges]
    return out


def load(conn: sqlite3.Connection, subjects: Rows, cycles: Rows, charges: Rows) -> None:
    """The rows of ``seeded`` written in one transaction on ``conn``."""
    conn.execute("BEGIN")
    conn.executemany(SEED_SUBJECT, subjects)
    conn.executemany(SEED_CYCLE, cycles)
    conn.executemany(SEED_CHARGE, charges)
    conn.execute("COMMIT")
