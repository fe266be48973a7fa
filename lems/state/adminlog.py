"""The administrative log: who suspended, reinstated, unlocked, took an endpoint down or up,
snapshotted or reset the lab, and when (lab time), for the audit (OAR 257-010-0020(13)-(14)).

Administrative commands run as their own processes beside a running switch, so they cannot
number journal rows (the switch hands out journal sequence numbers). They write here, in
``state.db``'s ``admin_action`` table, in the same transaction discipline as the change itself;
the running switch copies each new row into its journal within a second (``AdminFeed``), so the
journal shows the action in order with the traffic, and ``lems audit`` reads both.
"""

from __future__ import annotations

import getpass
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lems.clock import lab_zone, saved_time
from lems.state import db as state_db
from lems.state.repositories import admin

if TYPE_CHECKING:
    from lems.lab import LabConfig
    from lems.ports import SwitchPort

ACTIONS = ("suspend", "reinstate", "unlock", "endpoint-down", "endpoint-up", "snapshot", "reset")


def lab_time(lab: LabConfig) -> datetime:
    """Lab time as an offline command sees it: the time the switch last saved (lab time does
    not run while the switch is stopped), or the wall clock for a lab that never ran."""
    zone = lab_zone(lab.timezone)
    if lab.database.exists():
        conn = sqlite3.connect(f"file:{lab.database}?mode=ro", uri=True)
        try:
            when = saved_time(conn)
        except sqlite3.Error:
            when = None
        finally:
            conn.close()
        if when is not None:
            return when.astimezone(zone)
    return datetime.now(UTC).astimezone(zone)


def record(lab: LabConfig, action: str, target: str, detail: str = "") -> None:
    """Log one administrative action (``action`` one of ``ACTIONS``)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown administrative action {action!r}")
    try:
        by = getpass.getuser()
    except Exception:  # no login name (a container): say so rather than guess
        by = "UNKNOWN"
    conn = state_db.connect(state_db.path_for(lab.database))
    try:
        with conn:
            admin.add(conn, lab_time(lab).astimezone(UTC).isoformat(), action, target, detail, by)
    finally:
        conn.close()


def actions(
    state_path: Path, start: str = "", end: str = "", target: str = ""
) -> list[dict[str, Any]]:
    """The logged actions of a period (``target``: an ORI, operator, endpoint or snapshot)."""
    if not state_path.exists():
        return []
    with state_db.reading(state_path) as conn:
        try:
            return admin.actions(conn, start, end, target)
        except sqlite3.OperationalError:
            return []


class AdminFeed:
    """Copies new ``admin_action`` rows into the running switch's journal (every second)."""

    def __init__(self, switch: SwitchPort, db: state_db.StateDB) -> None:
        self.switch = switch
        self.db = db
        self.last = admin.last_id(db.reader)

    def poll(self) -> None:
        for rid, when, action, target, detail, by in admin.after(self.db.reader, self.last):
            self.last = rid
            ori = target if target in self.switch.directory.agencies else ""
            operator = target if target in self.switch.directory.operators else ""
            self.switch.journal.append(
                "sys",
                f"ADMIN {action.upper()} {target} BY {by} AT {when}"
                + (f" - {detail}" if detail else ""),
                ori=ori,
                operator=operator,
                key="ADMIN",
                disposition=f"admin-{action}",
                reason=detail[:200],
            )
