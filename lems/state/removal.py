"""Removing or changing a CCH record (XCH): expungement, set-aside, death (RULES.md, CCH).

Records are kept indefinitely and leave only by court-ordered expungement, death confirmed by
fingerprints, or the 99-year purge (``lems.state.jobs``). A set-aside needs a court order and a
fingerprint comparison and is refused for traffic offences, Class A and B felonies, and DUII
dismissed after diversion; a set-aside cycle is sealed: kept, never disseminated.

``RSN/`` names the action: ``EXPUNGEMENT``, ``SET-ASIDE`` or ``DECEASED`` (first three letters
are enough).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from formats.rejects import RejectCode
from lems.router import Request
from lems.state.repositories import cch as rows
from lems.state.repositories.cch import Cycle
from lems.store import Statement

if TYPE_CHECKING:
    from lems.state.cch import CchService

DUII = frozenset({"5403", "5404"})
CLASS_A_B = frozenset({"FA", "FB"})


def action(rsn: str) -> str:
    word = rsn.strip().upper()[:3]
    return {"EXP": "expunge", "SET": "set-aside", "DEC": "death", "DEA": "death"}.get(word, "")


def set_aside_bar(cycle: Cycle) -> str | None:
    """Why a cycle may not be set aside, or None."""
    for ch in cycle.charges:
        if ch.chg in DUII and ch.dsp == "DIVD":
            return f"CHG/{ch.chg} IS DUII DISMISSED AFTER DIVERSION"
        if ch.chg.startswith("54") or ch.ocl == "VI":
            return f"CHG/{ch.chg} IS A TRAFFIC OFFENSE"
        if ch.ocl in CLASS_A_B:
            return f"CHG/{ch.chg} IS A CLASS {ch.ocl[1]} FELONY"
    return None


def removal(svc: CchService, req: Request) -> Any:
    msg = req.msg
    sid = msg.get("SID") or ""
    what = action(msg.get("RSN") or "")
    if not what:
        return [
            svc._reject(
                req, RejectCode.BAD_VALUE, "RSN MUST BE EXPUNGEMENT, SET-ASIDE OR DECEASED", "RSN"
            )
        ]
    rec = svc.store.load(sid)
    if rec is None:
        return [svc._reject(req, RejectCode.NOT_ON_FILE, f"SID/{sid} NOT ON FILE", "SID")]
    cyc = int(msg.get("CYC") or 0)
    cycle = next((c for c in rec.cycles if c.cyc == cyc), None)
    if cyc and cycle is None:
        return [
            svc._reject(
                req, RejectCode.NOT_ON_FILE, f"CYCLE {cyc:03d} NOT ON FILE FOR SID/{sid}", "CYC"
            )
        ]
    order = [("SID", sid), ("ORD", msg.get("ORD") or ""), ("DOC", msg.get("DOC") or "")]
    statements: list[Statement]
    if what == "death":
        if msg.get("FPI") != "Y" or not msg.get("DOE"):
            return [
                svc._reject(
                    req,
                    RejectCode.FPI_REQUIRED,
                    "DEATH REMOVES A RECORD ONLY WHEN "
                    "CONFIRMED BY FINGERPRINTS - SEND FPI/Y AND DOE/",
                    "FPI",
                )
            ]
        statements = rows.remove_subject(sid)
        words = "OREGON CCH RECORD REMOVED - SUBJECT DECEASED (FINGERPRINT CONFIRMED)"
        order.append(("DOE", msg.get("DOE") or ""))
    elif what == "expunge":
        if cycle is None:
            statements = rows.remove_subject(sid)
            words = "OREGON CCH RECORD EXPUNGED BY COURT ORDER"
        else:
            statements = rows.remove_cycle(sid, cyc)
            words = f"OREGON CCH CYCLE {cyc:03d} EXPUNGED BY COURT ORDER"
    else:
        if cycle is None:
            return [
                svc._reject(
                    req,
                    RejectCode.MISSING_FIELD,
                    "SET-ASIDE NAMES THE ARREST CYCLE - SEND CYC/",
                    "CYC",
                )
            ]
        if msg.get("FPI") != "Y":
            return [
                svc._reject(
                    req,
                    RejectCode.FPI_REQUIRED,
                    "SET-ASIDE NEEDS A FINGERPRINT COMPARISON - SEND FPI/Y",
                    "FPI",
                )
            ]
        bar = set_aside_bar(cycle)
        if bar:
            return [
                svc._reject(
                    req,
                    RejectCode.SET_ASIDE_REFUSED,
                    f"SET-ASIDE REFUSED - {bar} (NOT FOR "
                    "TRAFFIC OFFENSES, CLASS A OR B FELONIES, OR DUII DISMISSED "
                    "AFTER DIVERSION)",
                    "CYC",
                )
            ]
        statements = rows.seal_cycle(sid, cyc, msg.get("DOC"))
        words = f"OREGON CCH CYCLE {cyc:03d} SET ASIDE BY COURT ORDER - SEALED"
    if cyc:
        order.insert(1, ("CYC", f"{cyc:03d}"))
    return svc._commit(statements, [svc._ack(req, words, order)])
