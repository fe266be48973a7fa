"""Mock III (Interstate Identification Index), inside the NCIC endpoint.

QH searches the index (phonetic surname + DOB + sex, or FBI, SID, SOC) and answers with
candidate identity segments: descriptors, FBI number, and who holds the record (the FBI and/or
member states). QR asks for a record by FBI number or SID with a purpose code and attention line:
the FBI-held part comes back at once through NCIC; each state-held part arrives later as its own
``CR`` message from that state's identification bureau (``xxSIR0000``) over Nlets, as in the real
decentralised III. Every answer is marked ``iii`` so the switch applies R8 and R9 at delivery.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from formats import responses
from formats.message import Message
from formats.responses import NletsClock
from lems.endpoints.search import dob_values, race_matches, soundex
from lems.endpoints.system import Answer
from lems.repositories import iii as store

if TYPE_CHECKING:
    from lems.endpoints.ncic import Ncic

PURPOSES = {
    "A": "ADMINISTRATIVE FILE MAINTENANCE",
    "C": "CRIMINAL JUSTICE",
    "D": "DOMESTIC VIOLENCE AND STALKING",
    "F": "FIREARMS",
    "H": "PUBLIC HOUSING",
    "I": "AUTHORIZED NON-CRIMINAL-JUSTICE LICENSING/EMPLOYMENT",
    "J": "CRIMINAL JUSTICE EMPLOYMENT",
    "R": "FBI ONLY",
    "S": "NATIONAL SECURITY",
    "V": "VISA",
    "X": "EXIGENT CAREGIVER",
}
"""III purpose codes (public list, MESSAGES.md §7)."""

INDEX_CAVEAT = (
    "III INDEX CANDIDATE - IDENTIFICATION IS NOT POSITIVE WITHOUT FINGERPRINTS. "
    "USE QR WITH FBI/ OR SID/, PUR/ AND ATN/ TO REQUEST THE RECORD."
)
RECORD_CAVEAT = (
    "FBI IDENTIFICATION RECORD - USE ONLY FOR THE PURPOSE REQUESTED. "
    "THIS RECORD MAY CHANGE AT ANY TIME; REQUEST A NEW COPY WHEN NEEDED AGAIN."
)


class III:
    SCHEMA = store.SCHEMA
    """The III tables, part of NCIC's database schema (``lems.endpoints.ncic``)."""

    cr_delay_s = 2.0
    """Lab seconds before a state's CR arrives after a QR."""

    def __init__(self, conn: sqlite3.Connection, ncic: Ncic) -> None:
        self.conn = conn
        self.ncic = ncic
        self.out_seq = 0

    def handle(self, msg: Message, terminal: str) -> Answer:
        if msg.key == "QH":
            return Answer(self.qh(msg), "iii")
        return Answer(self.qr(msg, terminal), "iii")

    # ---------------------------------------------------------------- QH

    def find(self, msg: Message) -> list[tuple[str, ...]]:
        c = self.conn
        fbi, sid, soc = msg.get("FBI"), msg.get("SID"), msg.get("SOC")
        if fbi:
            return store.identity_by_fbi(c, fbi)
        if sid:
            return store.identity_by_sid(c, sid)
        if soc:
            return store.identity_by_soc(c, soc)
        name, dob, sex = msg.get("NAM") or "", msg.get("DOB") or "", msg.get("SEX")
        dobs = dob_values(dob, msg.get("EXD") == "Y")
        rows = store.identity_by_name(c, soundex(name), dobs)
        race = msg.get("RAC")
        return [r for r in rows if r[3] in (sex, "U") and race_matches(race, r[4])]

    def sids(self, fbi: str) -> list[tuple[str, str]]:
        return store.sids(self.conn, fbi)

    def qh(self, msg: Message) -> list[str]:
        rows = self.find(msg)
        if not rows:
            ident = self.ncic.identifiers(msg.fields)
            return [responses.no_record(msg.ori, ident, "III RECORD")]
        out = []
        for fbi, nam, dob, sex, rac, _soc, holders in rows[:20]:
            pairs = [
                ("NAM", nam),
                ("SEX", sex),
                ("RAC", rac),
                ("DOB", dob),
                ("FBI", fbi),
                *(
                    ("SID", f"{st}{sid}" if not sid.startswith(st) else sid)
                    for st, sid in self.sids(fbi)
                ),
            ]
            out.append(
                responses.hit(
                    "iii",
                    msg.ori,
                    pairs,
                    self.ncic.codes,
                    (INDEX_CAVEAT,),
                    (f"RECORD HELD BY/{holders}",),
                )
            )
        return out

    # ---------------------------------------------------------------- QR

    def qr(self, msg: Message, terminal: str) -> list[str]:
        rows = self.find(msg)
        if not rows:
            return [responses.no_record(msg.ori, self.ncic.identifiers(msg.fields), "III RECORD")]
        fbi, nam, dob, sex, rac, _soc, holders = rows[0]
        pur = msg.get("PUR") or ""
        atn = msg.get("ATN") or ""
        arrests = store.arrests(self.conn, fbi)
        ident = [("NAM", nam), ("SEX", sex), ("RAC", rac), ("DOB", dob), ("FBI", fbi)]
        fbi_part = [a for a in arrests if a[0] == "FBI"]
        states = [h for h in holders.split() if h != "FBI"]
        lines = [
            f"ATN/{atn} PUR/{pur} {PURPOSES.get(pur, '')}".rstrip(),
            *responses.layout(responses.display_pairs(ident, self.ncic.codes)),
        ]
        lines += _cycles(fbi_part, self.ncic) if fbi_part else ["FBI HOLDS NO ARREST CYCLES"]
        if states:
            lines.append(
                f"STATE RECORDS REQUESTED FROM {' '.join(states)} - EACH ARRIVES AS "
                "A SEPARATE CR MESSAGE"
            )
        body = "\n".join(
            [
                responses.head("HIT", msg.ori),
                *responses.page([RECORD_CAVEAT]),
                "MKE/INTERSTATE IDENTIFICATION INDEX - RECORD",
                *lines,
            ]
        )
        for st in states:
            part = [a for a in arrests if a[0] == st]
            self.ncic.call_later(
                self.cr_delay_s,
                self._cr,
                st,
                msg.ori,
                terminal,
                atn,
                pur,
                ident,
                part,
                dict(self.sids(fbi)).get(st, ""),
            )
        return [body]

    def _cr(
        self,
        state: str,
        ori: str,
        terminal: str,
        atn: str,
        pur: str,
        ident: list[tuple[str, str]],
        part: list[tuple[str, ...]],
        sid: str,
    ) -> None:
        self.out_seq = self.out_seq % 99999 + 1
        now = self.ncic.now()
        clock = NletsClock(now, self.out_seq, now, self.out_seq)
        body = [
            f"ATN/{atn} PUR/{pur}",
            *responses.layout(responses.display_pairs([*ident, ("SID", sid)], self.ncic.codes)),
            *(_cycles(part, self.ncic) if part else ["NO ARREST CYCLES HELD"]),
        ]
        text = responses.nlets_message("CR", f"{state}SIR0000", clock, ori, body)
        self.ncic.emit(ori, text, terminal, "iii")


def _cycles(arrests: list[tuple[str, ...]], ncic: Ncic) -> list[str]:
    out = []
    for n, (_holder, doa, ori, off, dsp) in enumerate(arrests, 1):
        out.append(f"CYCLE {n:03d}")
        out += responses.layout(
            responses.display_pairs(
                [("DOA", doa), ("ORI", ori), ("CHG", off), ("DSP", dsp)], ncic.codes
            )
        )
    return out
