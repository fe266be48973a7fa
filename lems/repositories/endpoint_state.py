"""The ``endpoint_state`` table of the switch database: national systems an instructor marked
down (``lems endpoint down|up``); the running switch polls it and takes the link down or up
(``lems.endpoints.install``)."""

from __future__ import annotations

import sqlite3


def mark(conn: sqlite3.Connection, name: str, down: bool) -> None:
    """Mark endpoint ``name`` down or up (the caller bumps the directory version)."""
    conn.execute(
        "INSERT INTO endpoint_state (name, down, changed) VALUES (?, ?, "
        "datetime('now')) ON CONFLICT(name) DO UPDATE SET down = excluded.down, "
        "changed = excluded.changed",
        (name, int(down)),
    )


def marks(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """(name, down) of every endpoint an instructor has marked."""
    return conn.execute("SELECT name, down FROM endpoint_state").fetchall()
