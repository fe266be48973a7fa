"""The directory's live state in the switch database: agency suspensions (``agency_state``) and
operator failures and lockouts (``operator_state``).

The switch writes operator state as sign-ons fail and succeed; ``lems admin`` and ``lems
operator`` change both and bump ``meta.directory_version``; the switch re-reads them when that
version moves (``lems.directory.Directory.load_state``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from lems.store import Statement

OPERATOR_STATE = (
    "INSERT INTO operator_state (operator, failures, locked, changed) "
    "VALUES (?,?,?,?) ON CONFLICT(operator) DO UPDATE SET "
    "failures = excluded.failures, locked = excluded.locked, "
    "changed = excluded.changed"
)


def operator_state(operator: str, failures: int, locked: bool, changed: str) -> Statement:
    """Record ``operator``'s failed sign-ons and lockout (``changed``: the lab time)."""
    return (OPERATOR_STATE, (operator, failures, int(locked), changed))


def suspended(conn: sqlite3.Connection) -> dict[str, str]:
    """ORI -> the reason of its suspension, for every suspended agency."""
    return {
        ori: reason
        for ori, reason in conn.execute("SELECT ori, reason FROM agency_state WHERE suspended = 1")
    }


def operators(conn: sqlite3.Connection) -> Iterator[tuple[str, int, int]]:
    """(operator, failures, locked) of every operator with a state row."""
    yield from conn.execute("SELECT operator, failures, locked FROM operator_state")


def unlock(conn: sqlite3.Connection, operator: str) -> None:
    """Clear ``operator``'s failed sign-ons and lockout (``lems operator unlock``; the caller
    holds the transaction and bumps the directory version)."""
    conn.execute(
        "INSERT INTO operator_state (operator, failures, locked) VALUES (?, 0, 0) "
        "ON CONFLICT(operator) DO UPDATE SET failures = 0, locked = 0",
        (operator,),
    )


def agency(conn: sqlite3.Connection, ori: str, suspended: bool, reason: str) -> None:
    """Suspend or reinstate agency ``ori`` (``reason``: shown in the reject it gets), stamped
    with the wall time (``lems agency``; the caller holds the transaction and bumps the
    directory version)."""
    conn.execute(
        "INSERT INTO agency_state (ori, suspended, reason, changed) "
        "VALUES (?, ?, ?, datetime('now')) ON CONFLICT(ori) DO UPDATE SET "
        "suspended = excluded.suspended, reason = excluded.reason, "
        "changed = excluded.changed",
        (ori, int(suspended), reason),
    )
