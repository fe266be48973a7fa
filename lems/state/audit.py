"""The audit report (D3): the transaction log of a period, per ORI, terminal and operator, with a
summary per ORI of counts by key, rejects by reason and CCH disseminations.

Reads the lab database's journal and ``state.db``'s dissemination log; nothing here writes.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COLUMNS = ("seq", "time", "direction", "terminal", "operator", "ori", "key", "disposition",
           "reason", "text")


@dataclass(slots=True)
class Filter:
    ori: str = ""
    terminal: str = ""
    operator: str = ""
    start: str = ""
    end: str = ""

    def where(self, time_col: str = "time") -> tuple[str, list[Any]]:
        parts, args = ["1"], []
        for col, value in (("ori", self.ori), ("terminal", self.terminal),
                           ("operator", self.operator)):
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


@dataclass(slots=True)
class OriSummary:
    keys: Counter[str] = field(default_factory=Counter)
    rejects: Counter[str] = field(default_factory=Counter)
    cch: Counter[str] = field(default_factory=Counter)
    dead_letters: int = 0
    """Messages for the ORI's terminals that no link could carry (``lems mail dead``)."""

    def as_dict(self) -> dict[str, Any]:
        return {"keys": dict(self.keys), "rejects": dict(self.rejects),
                "cch_disseminations": dict(self.cch), "dead_letters": self.dead_letters}


def transactions(lab_db: Path, f: Filter) -> list[dict[str, Any]]:
    where, args = f.where()
    conn = sqlite3.connect(f"file:{lab_db}?mode=ro", uri=True)
    try:
        rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM journal WHERE {where} "
                            "ORDER BY seq", args).fetchall()
    finally:
        conn.close()
    return [dict(zip(COLUMNS, r, strict=True)) for r in rows]


def disseminations(state_db: Path, f: Filter) -> list[tuple[str, str, int]]:
    """(ori, form, challenged) of every CCH dissemination in the period."""
    if not state_db.exists():
        return []
    where, args = f.where()
    conn = sqlite3.connect(f"file:{state_db}?mode=ro", uri=True)
    try:
        return conn.execute(f"SELECT ori, form, challenged FROM dissemination WHERE {where}",
                            args).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def summarize(rows: list[dict[str, Any]], cch: list[tuple[str, str, int]]
              ) -> dict[str, OriSummary]:
    out: dict[str, OriSummary] = defaultdict(OriSummary)
    for r in rows:
        if r["disposition"] == "dead-letter" and r["ori"]:
            out[r["ori"]].dead_letters += 1
            continue
        if r["direction"] != "in" or not r["ori"]:
            continue
        s = out[r["ori"]]
        s.keys[r["key"]] += 1
        if r["disposition"] in ("rejected", "refused", "bad-frame"):
            s.rejects[(r["reason"] or r["disposition"]).split(" ", 1)[0]] += 1
    for ori, form, challenged in cch:
        out[ori].cch[form] += 1
        if challenged:
            out[ori].cch["challenge-notice"] += 1
    return dict(sorted(out.items()))
