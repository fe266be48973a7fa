"""Who and what is in a lab's world (``lems population``): for an instructor building scenarios.

Reads the seeded databases beside the lab (``ncic.db``, ``nlets.db``, ``nics.db``, ``state.db``)
read-only and lists, per file, the identifiers a trainee would query with. Nothing here writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lems.repositories import cch_subjects, iii, ncic_records, nics, nlets

NCIC_FILES = (
    "wanted",
    "missing",
    "order",
    "ndtf",
    "unidentified",
    "vehicle",
    "gun",
    "article",
    "boat",
)
FILES = (*NCIC_FILES, "cch", "iii", "dmv", "registration", "nics")
"""What ``--file`` accepts: the NCIC files, the state CCH, III, the simulated states' drivers
and registrations, the NICS Indices."""

PERSON_COLUMNS = ("NAM", "SEX", "RAC", "DOB")
SHOWN = {
    "wanted": (*PERSON_COLUMNS, "OFF", "FBI"),
    "missing": (*PERSON_COLUMNS, "MNP"),
    "order": (*PERSON_COLUMNS, "PNO", "BRD"),
    "ndtf": (*PERSON_COLUMNS, "NTN"),
    "unidentified": ("SEX", "RAC", "HGT"),
    "vehicle": ("LIC", "LIS", "VIN", "VYR", "VMA"),
    "gun": ("SER", "MAK", "CAL", "TYP"),
    "article": ("TYP", "SER"),
    "boat": ("REG", "RES", "BHN"),
}


@contextmanager
def _read(path: Path) -> Iterator[sqlite3.Connection | None]:
    if not path.exists():
        yield None
        return
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def listing(directory: Path, file: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The rows of one file, as dicts (identifiers first)."""
    lim = limit or -1  # none (or 0): all
    if file in NCIC_FILES:
        with _read(directory / "ncic.db") as c:
            if c is None:
                return []
            out = []
            for nic, ori, oca, status, fields in ncic_records.in_force(c, file, lim):
                f = dict((k, v) for k, v in reversed(json.loads(fields)))
                out.append(
                    {
                        "NIC": nic,
                        **{k: f.get(k, "") for k in SHOWN[file]},
                        "ORI": ori,
                        "OCA": oca,
                        "STATUS": status,
                    }
                )
            return out
    if file == "cch":
        with _read(directory / "state.db") as c:
            if c is None:
                return []
            return [
                dict(
                    zip(
                        ("SID", "FBI", "NAM", "SEX", "RAC", "DOB", "CYCLES", "LAST ARREST"),
                        r,
                        strict=True,
                    )
                )
                for r in cch_subjects.subjects(c, lim)
            ]
    if file == "iii":
        with _read(directory / "ncic.db") as c:
            if c is None:
                return []
            return [
                dict(zip(("FBI", "NAM", "SEX", "RAC", "DOB", "HOLDERS", "ARRESTS"), r, strict=True))
                for r in iii.identities(c, lim)
            ]
    if file in ("dmv", "registration"):
        with _read(directory / "nlets.db") as c:
            if c is None:
                return []
            if file == "dmv":
                cols: tuple[str, ...] = ("STATE", "OLN", "NAM", "DOB", "SEX", "STATUS")
                rows = nlets.drivers(c, lim)
            else:
                cols = ("STATE", "LIC", "VIN", "OWNER", "VMA")
                rows = nlets.vehicles(c, lim)
            return [dict(zip(cols, r, strict=True)) for r in rows]
    if file == "nics":
        with _read(directory / "nics.db") as c:
            if c is None:
                return []
            cols = ("NRI", "NAM", "DOB", "SEX", "ORI", "PCA")
            return [dict(zip(cols, r, strict=True)) for r in nics.entries(c, lim)]
    raise ValueError(f"unknown file {file!r}; one of {', '.join(FILES)}")


def _ncic_count(file: str) -> Callable[[sqlite3.Connection], int]:
    return lambda c: ncic_records.count_in_force(c, file)


_COUNTS: dict[str, tuple[str, Callable[[sqlite3.Connection], int]]] = {
    **{f: ("ncic.db", _ncic_count(f)) for f in NCIC_FILES},
    "cch": ("state.db", cch_subjects.subject_count),
    "iii": ("ncic.db", iii.identity_count),
    "dmv": ("nlets.db", nlets.driver_count),
    "registration": ("nlets.db", nlets.vehicle_count),
    "nics": ("nics.db", nics.entry_count),
}
"""File -> (its database, how many rows it has)."""


def counts(directory: Path) -> dict[str, int]:
    """Rows per file (every file, including the empty ones)."""
    out = {}
    for file, (db, count) in _COUNTS.items():
        with _read(directory / db) as c:
            try:
                out[file] = count(c) if c is not None else 0
            except sqlite3.OperationalError:
                out[file] = 0
    return out
