"""Who is who at run time: the lab's agencies, terminals and operators plus their live state.

The lab file says what exists; the database says what an administrator or the switch changed
since (suspended agencies, failed sign-ons, locked operators). The switch keeps both in memory and
re-reads the state when ``meta.directory_version`` moves (bumped by ``lems agency suspend`` and
``lems operator unlock``), so administration works against a running lab.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass

from lems.lab import AgencyConfig, LabConfig, OperatorConfig, TerminalConfig
from lems.repositories import directory_state, meta


@dataclass(slots=True)
class OperatorState:
    failures: int = 0
    locked: bool = False


class Directory:
    """Agencies, terminals, operators, groups and their live state."""

    def __init__(self, lab: LabConfig) -> None:
        self.lab = lab
        self.agencies: dict[str, AgencyConfig] = lab.agencies
        self.terminals: dict[str, TerminalConfig] = lab.terminals
        self.operators: dict[str, OperatorConfig] = lab.operators
        self.groups = lab.groups
        self.suspended: dict[str, str] = {}
        self.operator_state: dict[str, OperatorState] = defaultdict(OperatorState)
        self.terminals_by_ori: dict[str, list[str]] = defaultdict(list)
        for t in self.terminals.values():
            for ori in t.oris:
                self.terminals_by_ori[ori].append(t.id)
        self.version = -1

    def load_state(self, conn: sqlite3.Connection) -> bool:
        """Re-read suspensions and operator state if they changed; True when they did."""
        version = int(meta.get(conn, "directory_version"))  # type: ignore[arg-type]
        if version == self.version:
            return False
        self.suspended = directory_state.suspended(conn)
        state: dict[str, OperatorState] = defaultdict(OperatorState)
        for op, failures, locked in directory_state.operators(conn):
            state[op] = OperatorState(failures, bool(locked))
        self.operator_state = state
        self.version = version
        return True

    def is_cj(self, ori: str) -> bool:
        a = self.agencies.get(ori)
        return a is not None and a.category == "cj"

    def terminal_is_cj(self, terminal: str) -> bool:
        t = self.terminals.get(terminal)
        return t is not None and all(self.is_cj(o) for o in t.oris)

    def control_terminals(self) -> list[str]:
        return [t.id for t in self.terminals.values() if t.control]

    def in_state_terminals(self) -> list[str]:
        return [
            t.id for t in self.terminals.values() if any(o[:2] == self.lab.state for o in t.oris)
        ]
