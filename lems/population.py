"""Who and what is in a lab's world (``lems population``): for an instructor building scenarios.

Reads the seeded databases beside the lab (``ncic.db``, ``nlets.db``, ``nics.db``, ``state.db``)
read-only and lists, per file, the identifiers a trainee would query with. Nothing here writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
    lim = f" LIMIT {int(limit)}" if limit else ""
    if file in NCIC_FILES:
        with _read(directory / "ncic.db") as c:
            if c is None:
                return []
            out = []
            for nic, ori, oca, status, fields in c.execute(
                "SELECT nic, ori, oca, status, fields FROM record WHERE file = ? AND "
                f"status IN ('active', 'located') ORDER BY id{lim}",
                (file,),
            ):
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
                for r in c.execute(
                    "SELECT s.sid, s.fbi, s.name, s.sex, s.rac, s.dob, (SELECT COUNT(*) FROM cycle "
                    f"y WHERE y.sid = s.sid), s.last_arrest FROM subject s ORDER BY s.sid{lim}"
                )
            ]
    if file == "iii":
        with _read(directory / "ncic.db") as c:
            if c is None:
                return []
            return [
                dict(zip(("FBI", "NAM", "SEX", "RAC", "DOB", "HOLDERS", "ARRESTS"), r, strict=True))
                for r in c.execute(
                    "SELECT i.fbi, i.nam, i.sex, i.rac, i.dob, i.holders, (SELECT COUNT(*) FROM "
                    f"iii_arrest a WHERE a.fbi = i.fbi) FROM iii_identity i ORDER BY i.fbi{lim}"
                )
            ]
    if file in ("dmv", "registration"):
        with _read(directory / "nlets.db") as c:
            if c is None:
                return []
            if file == "dmv":
                cols: tuple[str, ...] = ("STATE", "OLN", "NAM", "DOB", "SEX", "STATUS")
                sql = "SELECT state, oln, nam, dob, sex, status FROM driver"
            else:
                cols = ("STATE", "LIC", "VIN", "OWNER", "VMA")
                sql = "SELECT state, lic, vin, owner, vma FROM vehicle"
            return [
                dict(zip(cols, r, strict=True)) for r in c.execute(f"{sql} ORDER BY rowid{lim}")
            ]
    if file == "nics":
        with _read(directory / "nics.db") as c:
            if c is None:
                return []
            cols = ("NRI", "NAM", "DOB", "SEX", "ORI", "PCA")
            return [
                dict(zip(cols, r, strict=True))
                for r in c.execute(
                    f"SELECT nri, nam, dob, sex, ori, pca FROM indices WHERE removed IS NULL "
                    f"ORDER BY nri{lim}"
                )
            ]
    raise ValueError(f"unknown file {file!r}; one of {', '.join(FILES)}")


_COUNTS = {
    **{
        f: (
            "ncic.db",
            f"SELECT COUNT(*) FROM record WHERE file = '{f}' AND status IN ('active', 'located')",
        )
        for f in NCIC_FILES
    },
    "cch": ("state.db", "SELECT COUNT(*) FROM subject"),
    "iii": ("ncic.db", "SELECT COUNT(*) FROM iii_identity"),
    "dmv": ("nlets.db", "SELECT COUNT(*) FROM driver"),
    "registration": ("nlets.db", "SELECT COUNT(*) FROM vehicle"),
    "nics": ("nics.db", "SELECT COUNT(*) FROM indices WHERE removed IS NULL"),
}


def counts(directory: Path) -> dict[str, int]:
    """Rows per file (every file, including the empty ones)."""
    out = {}
    for file, (db, sql) in _COUNTS.items():
        with _read(directory / db) as c:
            try:
                out[file] = c.execute(sql).fetchone()[0] if c is not None else 0
            except sqlite3.OperationalError:
                out[file] = 0
    return out
