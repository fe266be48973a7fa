"""The audit's read of the switch database (D3): the journal rows of a period, for an ORI,
terminal or operator, and ``Filter``, the selection the audit applies to the journal here and to
``state.db``'s logs (``lems.state.repositories.dissemination``, ``fics``).

Nothing here writes; ``lems.state.audit`` lays the rows out.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

COLUMNS = (
    "seq",
    "time",
    "direction",
    "terminal",
    "operator",
    "ori",
    "key",
    "disposition",
    "reason",
    "ref",
    "text",
)
"""The journal columns an audit reads (the keys of a ``transactions`` row)."""


@dataclass(slots=True)
class Filter:
    """Rows of ``ori``, ``terminal`` and ``operator`` (each: any when empty) with a time in
    ``[start, end)`` (ISO, either may be empty)."""

    ori: str = ""
    terminal: str = ""
    operator: str = ""
    start: str = ""
    end: str = ""

    def where(self, time_col: str = "time") -> tuple[str, list[Any]]:
        """The SQL condition and its parameters (``time_col``: the time column's name)."""
        parts, args = ["1"], []
        for col, value in (
            ("ori", self.ori),
            ("terminal", self.terminal),
            ("operator", self.operator),
        ):
            if value:
                parts.append(f"{col} = ?")
                args.append(value)
        if self.start:
            parts.append(f"{time_col} >= ?")
            args.append(self.start)
        if self.end:
            parts.append(f"{time_col} < ?")
            args.append(self.end)
        return " AND ".join(parts), args


def transactions(conn: sqlite3.Connection, f: Filter) -> list[dict[str, Any]]:
    """The journal rows ``f`` selects, in order, as dicts keyed by ``COLUMNS``."""
    where, args = f.where()
    rows = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM journal WHERE {where} ORDER BY seq", args
    ).fetchall()
    return [dict(zip(COLUMNS, r, strict=True)) for r in rows]
