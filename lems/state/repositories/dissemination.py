"""The ``dissemination`` table of ``state.db``: every CCH record (or fitness answer) given out,
to whom and in what form (D3), written by the ``cch`` service and read by the audit."""

from __future__ import annotations

import sqlite3
from typing import Any

from lems.repositories.audit import Filter
from lems.store import Statement

DETAIL = (
    "time",
    "sid",
    "name",
    "ori",
    "terminal",
    "operator",
    "purpose",
    "form",
    "challenged",
    "ref",
)
"""The keys of a ``detailed`` row (``name``: the subject's, '' once it left CCH)."""


def logged(
    time: str,
    sid: str,
    ori: str,
    terminal: str,
    operator: str,
    purpose: str,
    form: str,
    challenged: bool,
    ref: int,
) -> Statement:
    """One dissemination: ``form`` full, computerized, filtered, none, yes or no; ``ref`` the
    journal seq of the inquiry."""
    return (
        "INSERT INTO dissemination (time, sid, ori, terminal, operator, purpose, form, "
        "challenged, ref) VALUES (?,?,?,?,?,?,?,?,?)",
        (time, sid, ori, terminal, operator, purpose, form, int(challenged), ref),
    )


def forms(conn: sqlite3.Connection, f: Filter) -> list[tuple[str, str, int]]:
    """(ori, form, challenged) of every dissemination ``f`` selects."""
    where, args = f.where()
    return conn.execute(
        f"SELECT ori, form, challenged FROM dissemination WHERE {where}", args
    ).fetchall()


def detailed(conn: sqlite3.Connection, start: str, end: str) -> list[dict[str, Any]]:
    """The disseminations of ``[start, end)`` in time order with the subject's name, as dicts
    keyed by ``DETAIL``."""
    where, args = Filter(start=start, end=end).where("d.time")
    rows = conn.execute(
        "SELECT d.time, d.sid, COALESCE(s.name, ''), d.ori, d.terminal, d.operator, "
        "d.purpose, d.form, d.challenged, d.ref FROM dissemination d LEFT JOIN subject s "
        f"ON s.sid = d.sid WHERE {where} ORDER BY d.time",
        args,
    ).fetchall()
    return [dict(zip(DETAIL, r, strict=True)) for r in rows]
