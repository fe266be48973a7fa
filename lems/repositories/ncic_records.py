"""Reads of NCIC's record table (``record`` in ``ncic.db``) for listings: what ``lems
population`` shows an instructor. The mock NCIC's own reads and writes are in
``lems.endpoints.ncic`` (``NcicStore``)."""

from __future__ import annotations

import sqlite3
from typing import Any


def in_force(conn: sqlite3.Connection, file: str, limit: int = -1) -> list[tuple[Any, ...]]:
    """(nic, ori, oca, status, fields as JSON) of the active and located records of ``file``
    (an NCIC file name: ``wanted``, ``vehicle``...), in the order entered (at most ``limit``;
    -1: all)."""
    return conn.execute(
        "SELECT nic, ori, oca, status, fields FROM record WHERE file = ? AND "
        "status IN ('active', 'located') ORDER BY id LIMIT ?",
        (file, limit),
    ).fetchall()


def count_in_force(conn: sqlite3.Connection, file: str) -> int:
    """How many records of ``file`` are active or located."""
    return int(
        conn.execute(
            "SELECT COUNT(*) FROM record WHERE file = ? AND status IN ('active', 'located')",
            (file,),
        ).fetchone()[0]
    )
