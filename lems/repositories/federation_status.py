"""The ``federation_status`` table of the lab database, as its readers see it: the Nlets
network as a federation node sees it (written every second by ``lems.federation.node``), read
by the instructor's view (``lems watch``) and by ``lems federation up`` waiting for its nodes.
"""

from __future__ import annotations

import sqlite3
from typing import Any


def network(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Per state, by state code: ``up``, ``backlog`` (messages the broker holds for it, -1:
    unknown), the round trip's median and 99th percentile in milliseconds (None before the
    first answer), messages ``sent`` and ``received``. Empty when the lab is not a node of a
    federation (it has no such table)."""
    try:
        rows = conn.execute(
            "SELECT state, up, backlog, rtt_p50_ms, rtt_p99_ms, sent, received "
            "FROM federation_status ORDER BY state"
        ).fetchall()
    except sqlite3.OperationalError:  # not a node of a federation
        return []
    return [
        {
            "state": r[0],
            "up": bool(r[1]),
            "backlog": r[2],
            "rtt_p50_ms": r[3],
            "rtt_p99_ms": r[4],
            "sent": r[5],
            "received": r[6],
        }
        for r in rows
    ]
