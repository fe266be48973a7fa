"""The audit report (D3): the transaction log of a period, per ORI, terminal and operator, with a
summary per ORI of counts by key, rejects by reason (the switch's own and those the systems
answered, NCIC's included) and CCH disseminations; and what a triennial LEDS audit reads per
agency (``agency_findings``: disseminations with subject, purpose and attention line,
administrative actions, failed sign-ons, misuse flags), printed by ``lems.state.report``.

A refused message is filed under the sending terminal's own ORI; the ORI it claimed is named in
its reason (``CLAIMED ORI/…``). Reads the lab database's journal (``lems.repositories.audit``,
whose ``Filter`` is the selection: ORI, terminal, operator, period) and ``state.db``'s logs
(``lems.state.repositories``); nothing here writes.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from formats import rejects
from lems.repositories import audit as journal_rows
from lems.repositories.audit import Filter as Filter  # exported: ``lems audit`` builds one
from lems.state.db import reading
from lems.state.repositories import dissemination, fics


@dataclass(slots=True)
class OriSummary:
    keys: Counter[str] = field(default_factory=Counter)
    rejects: Counter[str] = field(default_factory=Counter)
    """Refused by the switch (policy, format), by reason code."""
    answered_rejects: Counter[str] = field(default_factory=Counter)
    """Accepted by the switch, then rejected by the system that answered (NCIC, Nlets, a state
    file), by key and reason code: ``QW:MISSING-FIELD``."""
    cch: Counter[str] = field(default_factory=Counter)
    dead_letters: int = 0
    """Messages for the ORI's terminals that no link could carry (``lems mail dead``)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "keys": dict(self.keys),
            "rejects": dict(self.rejects),
            "answered_rejects": dict(self.answered_rejects),
            "cch_disseminations": dict(self.cch),
            "dead_letters": self.dead_letters,
        }


def transactions(lab_db: Path, f: Filter) -> list[dict[str, Any]]:
    """The journal rows ``f`` selects (``lems.repositories.audit.COLUMNS``), in order."""
    with reading(lab_db) as conn:
        return journal_rows.transactions(conn, f)


def disseminations(state_db: Path, f: Filter) -> list[tuple[str, str, int]]:
    """(ori, form, challenged) of every CCH dissemination in the period."""
    if not state_db.exists():
        return []
    with reading(state_db) as conn:
        try:
            return dissemination.forms(conn, f)
        except sqlite3.OperationalError:
            return []


def summarize(rows: list[dict[str, Any]], cch: list[tuple[str, str, int]]) -> dict[str, OriSummary]:
    out: dict[str, OriSummary] = defaultdict(OriSummary)
    accepted: dict[int, tuple[str, str]] = {}
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
        elif r["disposition"] == "accepted":
            accepted[r["seq"]] = (r["ori"], r["key"])
    for r in rows:
        if r["direction"] == "out" and r["key"] in ("REJ", "ER") and r.get("ref") in accepted:
            ori, key = accepted[r["ref"]]
            out[ori].answered_rejects[f"{key}:{reject_code(r['text'])}"] += 1
    for ori, form, challenged in cch:
        out[ori].cch[form] += 1
        if challenged:
            out[ori].cch["challenge-notice"] += 1
    return dict(sorted(out.items()))


def reject_code(text: str) -> str:
    """The reject code of a ``REJ`` (``REJECT CODE/…``) or Nlets ``ER`` answer."""
    m = re.search(r"(?:REJECT CODE|ERR|CODE)/(\S+)", text)
    return m.group(1) if m else "REJECT"


# ---------------------------------------------------------------- per-agency findings

MISUSE = rejects.MISUSE
"""Refusal codes an auditor reads as possible misuse (someone tried what they may not)."""


@dataclass(slots=True)
class AgencyFindings:
    ori: str
    name: str
    summary: OriSummary
    disseminations: list[dict[str, Any]] = field(default_factory=list)
    admin: list[dict[str, Any]] = field(default_factory=list)
    failed_signons: list[dict[str, Any]] = field(default_factory=list)
    misuse: list[dict[str, Any]] = field(default_factory=list)
    fics: list[dict[str, Any]] = field(default_factory=list)


def _field(text: str, code: str) -> str:
    m = re.search(rf"(?:^|[.\s]){code}/([^.\n]*)", text)
    return m.group(1).strip() if m else ""


def agency_findings(lab: Any, state_path: Path, f: Filter) -> list[AgencyFindings]:
    """What an audit of each agency (``f.ori`` or every agency with activity) looks at."""
    from lems.state import adminlog

    everything = transactions(lab.database, Filter(start=f.start, end=f.end))
    by_seq = {r["seq"]: r for r in everything}
    summary = summarize(everything, disseminations(state_path, Filter(start=f.start, end=f.end)))
    oris = [f.ori] if f.ori else sorted(set(summary) & set(lab.agencies))
    admin = adminlog.actions(state_path, f.start, f.end)
    dis = _dissemination_rows(state_path, f)
    checks = _fics_rows(state_path, f)
    out = []
    for ori in oris:
        agency = lab.agencies.get(ori)
        terminals = {t.id for t in lab.terminals.values() if ori in t.oris}
        operators = {
            o.id for o in lab.operators.values() if not o.terminals or terminals & set(o.terminals)
        }
        af = AgencyFindings(ori, agency.name if agency else "", summary.get(ori, OriSummary()))
        for d in dis:
            if d["ori"] != ori:
                continue
            asked = by_seq.get(d["ref"], {}).get("text", "")
            d = {**d, "attention": _field(asked, "ATN")}
            af.disseminations.append(d)
        af.admin = [
            a
            for a in admin
            if a["target"] in ({ori} | operators)
            or a["action"] in ("endpoint-down", "endpoint-up", "snapshot", "reset")
        ]
        for r in everything:
            if r["direction"] != "in":
                continue
            mine = r["ori"] == ori or (not r["ori"] and r["terminal"] in terminals)
            if not mine:
                continue
            if r["key"] == "LOGON" and r["disposition"] == "refused":
                af.failed_signons.append(r)
            elif (
                r["disposition"] in ("refused", "rejected")
                and (r["reason"] or "").split(" ", 1)[0] in MISUSE
            ):
                af.misuse.append(r)
        af.fics = [c for c in checks if c["dealer_ori"] == ori]
        out.append(af)
    return out


def _dissemination_rows(state_path: Path, f: Filter) -> list[dict[str, Any]]:
    if not state_path.exists():
        return []
    with reading(state_path) as conn:
        try:
            return dissemination.detailed(conn, f.start, f.end)
        except sqlite3.OperationalError:
            return []


def _fics_rows(state_path: Path, f: Filter) -> list[dict[str, Any]]:
    if not state_path.exists():
        return []
    with reading(state_path) as conn:
        try:
            return fics.audited(conn, f.start, f.end)
        except sqlite3.OperationalError:
            return []
