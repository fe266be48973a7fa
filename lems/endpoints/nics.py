"""Mock NICS: firearm checks against NCIC, III and the NICS Indices; the Indices themselves.

NICS has no terminal keys in the state dictionary: a state point of contact (Oregon's FICS)
reaches it through ``switch.router.service("nics").ask(text, ori)``. Its transactions, written
like NCIC text (``KEY.ORI.CODE/value…``):

========================================================  =======================================
``NCK.ORI.NAM/….DOB/….SEX/…[.RAC/…][.SOC/…]``             firearm check -> ``NCR.ORI`` with
                                                          ``NTN/… STATUS/PROCEED|DELAYED|DENIED``
``NEN.ORI.NAM/….DOB/….SEX/….PCA/…``                       NICS Index entry -> ``NAC.ORI`` ``NRI/…``
``NRM.ORI.NRI/…``                                         removal (relief), submitter only
``NRP.ORI.STA/OR``                                        report of a state's entries -> ``NRR``
========================================================  =======================================

A check searches the NICS Indices (a match denies), NCIC wanted persons and protection orders
(judged by ``prohibitors.verdict``: a felony warrant or a qualifying order denies, a record to
research delays) and III (a conviction for a prohibiting offence denies; an open arrest without
disposition delays). A delayed check resolves later by an unsolicited ``NCR`` to the asking ORI
(``delay_resolve_s`` lab seconds). A denial is entered in the NCIC NICS Denied Transaction File.
Records of proceeded checks keep only the NTN and the date.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from formats import responses
from formats.errors import Reject
from formats.rejects import RejectCode
from lems.clock import LabClock
from lems.endpoints import prohibitors
from lems.endpoints.ncic import NcicStore
from lems.endpoints.search import soundex
from lems.endpoints.system import Answer, System, open_db
from lems.repositories import iii
from lems.repositories import nics as store

NICS_ORI = "WVNICS000"
"""ORI under which NICS enters NDTF records (fictitious; NICS sits in West Virginia)."""

PROHIBITING = ("09", "10", "11", "12", "13")
"""Offence code groups (homicide, kidnapping, sexual assault, robbery, assault) whose
conviction prohibits (simulator's rule)."""


def parse(text: str) -> tuple[str, str, dict[str, str]]:
    """``KEY.ORI.CODE/value…`` -> (key, ori, fields)."""
    parts = text.strip().split(".")
    key = parts[0].upper()
    ori = parts[1].upper() if len(parts) > 1 else ""
    fields: dict[str, str] = {}
    for part in parts[2:]:
        code, _, value = part.partition("/")
        fields.setdefault(code.strip().upper(), value.strip().upper())
    return key, ori, fields


class Nics(System):
    name = "nics"
    words = "NICS"
    delay_resolve_s = 300.0

    def __init__(
        self, conn: sqlite3.Connection, ncic: NcicStore, clock: LabClock, **kw: Any
    ) -> None:
        super().__init__(clock, **kw)
        self.conn = conn
        self.ncic = ncic
        self.seq = store.check_count(conn)

    @classmethod
    def open(cls, path: Any, ncic_path: Any, clock: LabClock, **kw: Any) -> Nics:
        return cls(open_db(path, store.SCHEMA), NcicStore.open(ncic_path), clock, **kw)

    def close(self) -> None:
        self.conn.close()
        self.ncic.conn.close()

    def _reject(self, code: str, reason: str, field: str | None, text: str, ori: str) -> Answer:
        return Answer([responses.reject(Reject(code, reason, field, text[:100]), ori)])

    def handle(self, text: str, ori: str, terminal: str) -> Answer:
        key, ori, f = parse(text)
        need = {
            "NCK": ("NAM", "DOB", "SEX"),
            "NEN": ("NAM", "DOB", "SEX", "PCA"),
            "NRM": ("NRI",),
            "NRP": ("STA",),
        }.get(key)
        if need is None:
            return self._reject(
                RejectCode.BAD_KEY,
                f"{key} IS NOT A NICS TRANSACTION (NCK NEN NRM NRP)",
                "MKE",
                text,
                ori,
            )
        missing = [c for c in need if not f.get(c)]
        if missing:
            return self._reject(
                RejectCode.MISSING_FIELD,
                f"MISSING MANDATORY FIELD {missing[0]}",
                missing[0],
                text,
                ori,
            )
        if key == "NCK":
            return Answer([self.check(f, ori, terminal)])
        if key == "NEN":
            return Answer([self.enter(f, ori)])
        if key == "NRM":
            return Answer([self.remove(f, ori, text)])
        return Answer([self.report(f["STA"], ori)])

    # ---------------------------------------------------------------- indices

    def enter(self, f: dict[str, str], ori: str) -> str:
        nri = store.enter(
            self.conn,
            (
                f["NAM"],
                soundex(f["NAM"]),
                f["DOB"],
                f["SEX"],
                ori,
                f["PCA"],
                self.now().date().isoformat(),
            ),
        )
        self.conn.commit()
        return "\n".join(
            [
                responses.head("NAC", ori),
                "NICS INDEX ENTRY ACCEPTED",
                f"NRI/{nri} NAM/{f['NAM']} DOB/{f['DOB']} SEX/{f['SEX']} PCA/{f['PCA']}",
            ]
        )

    def remove(self, f: dict[str, str], ori: str, text: str) -> str:
        row = store.entry(self.conn, f["NRI"])
        if row is None:
            return self._reject(
                RejectCode.NOT_FOUND, f"NO NICS INDEX ENTRY NRI/{f['NRI']}", "NRI", text, ori
            ).bodies[0]
        if row[0] != ori:
            return self._reject(
                RejectCode.NOT_OWNER,
                f"ONLY THE SUBMITTING AGENCY ORI/{row[0]} MAY REMOVE THIS ENTRY",
                "ORI",
                text,
                ori,
            ).bodies[0]
        store.remove(self.conn, f["NRI"], self.now().date().isoformat())
        self.conn.commit()
        return "\n".join(
            [
                responses.head("NAC", ori),
                "NICS INDEX ENTRY REMOVED (RELIEF)",
                f"NRI/{f['NRI']} NAM/{row[1]}",
            ]
        )

    def report(self, state: str, ori: str) -> str:
        rows = store.entries_of(self.conn, state)
        lines = [
            responses.head("NRR", ori),
            f"NICS INDEX ENTRIES FOR STATE/{state} COUNT/{len(rows)}",
        ]
        lines += [
            f"NRI/{n} NAM/{nam} DOB/{dob} SEX/{sex} ORI/{o} PCA/{pca} DTE/{d}"
            for n, nam, dob, sex, o, pca, d in rows
        ]
        return "\n".join(lines)

    # ---------------------------------------------------------------- checks

    def decide(self, f: dict[str, str]) -> tuple[str, str]:
        """(PROCEED|DELAYED|DENIED, reason) for a purchaser."""
        sdx, dob, sex = soundex(f["NAM"]), f["DOB"], f["SEX"]
        pca = store.prohibitor(self.conn, sdx, dob, sex)
        if pca is not None:
            return "DENIED", f"NICS INDICES PROHIBITOR CATEGORY {pca}"
        research = ""
        for rec in self.ncic.by_name(("wanted", "order"), f["NAM"], [dob]):
            if (rec.get("SEX") or sex) == sex:
                verdict, why = prohibitors.verdict(rec.file, rec.get)
                if verdict == prohibitors.DENY:
                    return "DENIED", f"{why} NIC/{rec.nic}"
                if verdict == prohibitors.RESEARCH:
                    research = f"{why} NIC/{rec.nic}"
        rows = iii.charges_of(self.ncic.conn, sdx, dob, sex)
        if any(dsp == "CONV" and off[:2] in PROHIBITING for off, dsp in rows):
            return "DENIED", "III CONVICTION FOR A PROHIBITING OFFENSE"
        if any(dsp == "PEND" for _, dsp in rows):
            return "DELAYED", "III ARREST WITHOUT FINAL DISPOSITION"
        if research:
            return "DELAYED", research
        return "PROCEED", ""

    def check(self, f: dict[str, str], ori: str, terminal: str) -> str:
        self.seq += 1
        now = self.now()
        ntn = f"{now:%y%m%d}{self.seq:06d}"
        status, reason = self.decide(f)
        self._record(ntn, status, ori, terminal, f, reason)
        lines = [
            responses.head("NCR", ori),
            f"NTN/{ntn} STATUS/{status}",
            f"NAM/{responses.print_name(f['NAM'])} DOB/{f['DOB']} SEX/{f['SEX']}",
            "SEARCHED/NCIC III NICS INDICES",
        ]
        if status == "DELAYED":
            lines.append("TRANSFER MAY PROCEED AFTER 3 BUSINESS DAYS IF NO RESOLUTION FOLLOWS")
            self.call_later(self.delay_resolve_s, self._resolve, ntn, f, ori, terminal)
        elif status == "DENIED":
            lines.append("DO NOT TRANSFER - THE PURCHASER MAY APPEAL THE DENIAL")
        return "\n".join(lines)

    def _record(
        self, ntn: str, status: str, ori: str, terminal: str, f: dict[str, str], reason: str
    ) -> None:
        date = self.now().date().isoformat()
        row: tuple[str | None, ...]
        if status == "PROCEED":
            row = (ntn, date, None, None, None, None, None, None, None, None)
        else:
            row = (
                ntn,
                date,
                status,
                ori,
                terminal,
                f["NAM"],
                f["DOB"],
                f["SEX"],
                f.get("RAC", ""),
                reason,
            )
        store.record_check(self.conn, row)
        self.conn.commit()
        if status == "DENIED":
            fields = [
                ("NAM", f["NAM"]),
                ("SEX", f["SEX"]),
                ("RAC", f.get("RAC") or "U"),
                ("DOB", f["DOB"]),
                ("NTN", ntn),
                ("DND", self.now().strftime("%Y%m%d")),
            ]
            self.ncic.insert(
                "ndtf", "NICS", NICS_ORI, ntn, fields, self.now().isoformat(timespec="seconds")
            )

    def _resolve(self, ntn: str, f: dict[str, str], ori: str, terminal: str) -> None:
        """The delayed check's disposition arrives: deny for a prohibiting charge, else
        proceed (and forget the purchaser)."""
        offences = iii.open_charges_of(self.ncic.conn, soundex(f["NAM"]), f["DOB"])
        status = "DENIED" if any(off[:2] in PROHIBITING for off in offences) else "PROCEED"
        self._record(ntn, status, ori, terminal, f, "DELAYED CHECK RESOLVED")
        body = "\n".join(
            [
                responses.head("NCR", ori),
                f"NTN/{ntn} STATUS/{status}",
                "DELAYED TRANSACTION RESOLVED",
            ]
        )
        self.emit(ori, body, terminal, "")
