"""Which NCIC person records bar a firearm transfer: one table for FICS and the mock NICS.

A firearm check searches every NCIC person file, but only some records disqualify. ORS 166.470(1)
lists who may not receive a firearm (among them anyone with an outstanding felony warrant and
anyone subject to a qualifying protection order); 18 U.S.C. 922(g) adds the federal prohibitors
NICS applies. The verdict per file:

======================  ==========================================================================
wanted person           felony warrant (``EXL`` 1-6, or no ``EXL``: NCIC's wanted file holds
                        felonies unless the entering agency says otherwise) -> DENY;
                        misdemeanor extradition (``EXL`` A-F) -> RESEARCH (is the subject a
                        fugitive from justice? FICS staff confirm with the entering agency)
protection order        ``BRD/N`` (the entering agency says the order does not meet 18 U.S.C.
                        922(g)(8)) -> none; otherwise -> DENY
NICS denied (NDTF)      RESEARCH: a prior denial is not itself a prohibitor; FICS finds why
missing person          none (being reported missing disqualifies no one)
unidentified person     none
gang, sex offender,     none (not themselves prohibitors; a disqualifying conviction behind
protective, violent     them is found in III / CCH)
anything else           RESEARCH (KST, supervised release, immigration violator, foreign
                        fugitive, identity theft, or a file this table does not know: never
                        silently cleared)
======================  ==========================================================================

The prohibitor is never told to the dealer: only the check's outcome is (OAR 257-010-0055;
the reason goes to the journal and the audit).
"""

from __future__ import annotations

from collections.abc import Callable

DENY, RESEARCH, NONE = "deny", "research", "none"

_MISDEMEANOR_EXL = frozenset("ABCDEF")


def verdict(file: str, get: Callable[[str], str | None]) -> tuple[str, str]:
    """(DENY | RESEARCH | NONE, the reason for the journal) for one NCIC person record.

    ``file`` is the NCIC file name (``wanted``, ``order``, ...); ``get`` reads a field of the
    record (``Record.get``, or ``dict.get`` over its fields)."""
    if file == "wanted":
        exl = (get("EXL") or "").upper()
        if exl in _MISDEMEANOR_EXL:
            return (
                RESEARCH,
                f"NCIC WANTED PERSON (MISDEMEANOR EXL/{exl}) - FUGITIVE STATUS TO BE CONFIRMED",
            )
        return DENY, "NCIC WANTED PERSON - OUTSTANDING FELONY WARRANT (ORS 166.470(1))"
    if file == "order":
        if (get("BRD") or "").upper() == "N":
            return NONE, "NCIC PROTECTION ORDER BRD/N - NOT A FIREARM PROHIBITOR"
        return DENY, "NCIC PROTECTION ORDER (ORS 166.470(1), 18 USC 922(G)(8))"
    if file == "ndtf":
        return RESEARCH, "NCIC NICS DENIED TRANSACTION FILE - PRIOR DENIAL TO BE RESEARCHED"
    if file in ("missing", "unidentified"):
        return NONE, f"NCIC {file.upper()} PERSON RECORD - NOT A FIREARM PROHIBITOR"
    if file in ("gang", "sor", "protective", "violent"):
        # the underlying conviction, if any, is found in III / CCH; the file itself bars no one
        return NONE, f"NCIC {file.upper()} FILE RECORD - NOT ITSELF A FIREARM PROHIBITOR"
    return RESEARCH, f"NCIC {file.upper()} RECORD - TO BE RESEARCHED"
