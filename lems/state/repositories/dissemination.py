"""The ``dissemination`` table of ``state.db``: every CCH record (or fitness answer) given out,
to whom and in what form (D3), written by the ``cch`` service and read by the audit."""

from __future__ import annotations

from lems.store import Statement


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
