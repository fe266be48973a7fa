"""Oregon Computerized Criminal History: the store, the rap sheet and who sees what.

A subject (SID, FBI number, names and aliases, descriptors, fingerprint-identified flag) has arrest
cycles; each cycle has charges with NCIC offence codes, and each charge gets a court disposition
(an arrest without one shows as OPEN); custody events come from Corrections.

Who sees what is decided here, per inquiry (RULES.md):

* criminal justice agencies asking for a criminal-justice purpose, and designated agencies (whose
  purpose and consent the policy already checked, R4), get the record;
* RISS gets only what exists in computerized form (R7): cycles on the manual file are left out;
* anyone else, or a criminal justice agency asking for a non-criminal-justice purpose, gets only
  convictions and arrests under one year old with no acquittal or dismissal, otherwise
  "NO CRIMINAL RECORD" (R6);
* a qualified entity gets YES or NO against the offence codes it registered (R5), never the record.

Every answer carries the dissemination notice (D1); a record under challenge carries the challenge
notice and the journal names who received it (D2); every dissemination is logged for the audit (D3).
Radio terminals never receive a record (R9): replies are marked ``sensitive="cch"`` for the switch.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from typing import TYPE_CHECKING, Any

from formats import responses
from formats.codes import CodeBook
from formats.errors import Reject
from formats.message import Message
from formats.rejects import RejectCode
from lems.endpoints.search import dob_values, first_name, race_matches, soundex
from lems.router import Reply, Request
from lems.state.db import StateDB
from lems.state.repositories import cch as rows
from lems.state.repositories import dissemination
from lems.state.repositories.cch import Charge, Cycle, Record
from lems.store import Statement

if TYPE_CHECKING:
    from lems.ports import SwitchPort

D1_NOTICE = (
    "THIS RECORD MAY CHANGE AT ANY TIME - REQUEST A NEW RECORD EACH TIME IT IS NEEDED "
    "(OAR 257-010-0020(8))"
)
D2_NOTICE = (
    "*** THIS RECORD IS UNDER A CONTESTED-CASE CHALLENGE - NO FINAL DECISION YET - "
    "YOUR RECEIPT OF IT IS LOGGED (OAR 257-010-0035(5)) ***"
)
NO_CRIMINAL_RECORD = "NO CRIMINAL RECORD"
CJ_FULL_PURPOSES = frozenset({"A", "C", "D", "F", "J", "S", "X"})
"""Purposes for which a criminal justice agency gets the whole record."""
DISMISSALS = frozenset({"ACQ", "DISM", "DIVD", "NOPR", "SETA", "EXPG"})
MAX_CANDIDATES = 5

FULL, COMPUTERIZED, FILTERED, NONE = "full", "computerized", "filtered", "none"


# ---------------------------------------------------------------- dissemination (pure)


def arrest_date(d: str) -> date:
    return date(int(d[:4]), int(d[4:6]), int(d[6:8]))


def releasable(charge: Charge, cycle: Cycle, today: date) -> bool:
    """R5/R6: a conviction, or an arrest under one year old with no acquittal or dismissal."""
    if charge.dsp == "CONV":
        return True
    if charge.dsp in DISMISSALS:
        return False
    return (today - arrest_date(cycle.doa)).days < 365


def form_for(category: str, purpose: str) -> str:
    """What a requester of ``category`` asking for ``purpose`` may receive."""
    if category == "cj":
        return FULL if purpose in CJ_FULL_PURPOSES else FILTERED
    if category == "designated":
        return FULL
    if category == "riss":
        return COMPUTERIZED
    return FILTERED


def visible(record: Record, form: str, today: date) -> list[Cycle]:
    """The cycles (and charges) a requester gets in ``form``; sealed cycles never show."""
    out = []
    for c in record.cycles:
        if c.sealed or (form == COMPUTERIZED and c.manual):
            continue
        if form == FILTERED:
            charges = [ch for ch in c.charges if releasable(ch, c, today)]
            if not charges:
                continue
            c = Cycle(c.cyc, c.doa, c.ori, c.oca, c.manual, c.sealed, charges)
        out.append(c)
    return out


def fitness(record: Record, criteria: tuple[str, ...], today: date) -> list[tuple[int, str]]:
    """R5: (cycle, offence) of releasable charges that match a qualified entity's criteria."""
    return [
        (c.cyc, ch.chg)
        for c in record.cycles
        if not c.sealed
        for ch in c.charges
        if ch.chg in criteria and releasable(ch, c, today)
    ]


def rap_sheet(
    record: Record, cycles: list[Cycle], form: str, purpose: str, codes: CodeBook
) -> list[str]:
    """The record laid out like a rap sheet (after the notices)."""
    dsp_words = codes.table("DSP") or {}
    ocl_words = codes.table("OCL") or {}
    ident = [("SID", record.sid)] + ([("FBI", record.fbi)] if record.fbi else [])
    ident.append(("FPI", "Y" if record.fpi else "N"))
    person = [
        ("NAM", record.name),
        ("SEX", record.sex),
        ("RAC", record.rac),
        ("DOB", record.dob),
        *record.descriptors,
    ]
    lines = [
        f"MKE/{responses.FILE_WORDS['cch']}",
        f"PUR/{purpose}",
        *responses.layout(ident),
        *responses.layout(responses.display_pairs(person, codes)),
        *responses.layout(responses.display_pairs([("AKA", a) for a in record.aliases], codes)),
    ]
    if form == FILTERED:
        lines.append(
            "CONVICTIONS AND ARRESTS UNDER ONE YEAR OLD WITHOUT ACQUITTAL OR DISMISSAL "
            "ONLY (OAR 257-010-0025(1)(E))"
        )
    if form == COMPUTERIZED:
        lines.append("COMPUTERIZED RECORD ONLY (OAR 257-010-0025(1)(D))")
    for c in cycles:
        lines.append(
            f"CYCLE {c.cyc:03d} DOA/{c.doa} ORI/{c.ori}" + (f" OCA/{c.oca}" if c.oca else "")
        )
        if c.manual:
            lines.append("  PART OF THIS CYCLE IS ON THE MANUAL FILE - CONTACT ORSIR0000")
        for ch in c.charges:
            off = codes.describe("OFF", ch.chg) or ch.chg
            cls = f" ({ocl_words.get(ch.ocl, ch.ocl)})" if ch.ocl else ""
            if ch.dsp:
                disp = f"DSP/{dsp_words.get(ch.dsp, ch.dsp)} DOD/{ch.dod}"
                disp += f" CRT/{ch.crt}" if ch.crt else ""
            else:
                disp = "DSP/OPEN - NO DISPOSITION REPORTED"
            lines.extend(responses.wrap(f"  CHG/{ch.chg} {off}{cls}"))
            lines.append(f"      {disp}")
    if form == FULL:
        for cyc, dcs, cst, ori in record.custody:
            lines.append(
                f"CUSTODY DCS/{dcs} CST/{cst} ORI/{ori}" + (f" CYC/{cyc:03d}" if cyc else "")
            )
    lines.append("END OF RECORD")
    return lines


# ---------------------------------------------------------------- store


class CchStore:
    """CCH lookups for the services (small indexed reads on the reactor thread, through
    ``lems.state.repositories.cch``) and the numbering of new subjects and cycles."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._last_sid = rows.last_sid(conn)
        self._pending_cycles: dict[str, int] = {}

    def reserve(self, last: int) -> None:
        """SIDs up to ``OR{last}`` are taken (rows still on their way to the database)."""
        self._last_sid = max(self._last_sid, last)

    def new_sid(self) -> str:
        self._last_sid += 1
        return f"OR{self._last_sid:08d}"

    def find(
        self,
        name: str | None = None,
        dob: str | None = None,
        sid: str | None = None,
        fbi: str | None = None,
        sex: str | None = None,
        rac: str | None = None,
        exd: bool = False,
    ) -> list[str]:
        """SIDs matching the identifiers; a name search also searches aliases."""
        if sid:
            sids = rows.with_sid(self.conn, sid)
        elif fbi:
            sids = rows.with_fbi(self.conn, fbi)
        elif name and dob:
            sids = self.by_name(name, dob, sex, rac, exd)
        else:
            return []
        return sorted(set(sids))[:MAX_CANDIDATES]

    def by_name(
        self, name: str, dob: str, sex: str | None = None, rac: str | None = None, exd: bool = False
    ) -> list[str]:
        """NCIC's name search rules (MESSAGES.md §3, ``lems.endpoints.search``), so a state
        search finds what a national one would: the surname by its phonetic key, the given name
        by its first letter (``QUINTERO,L`` and ``QUINTERO,LUIS`` find ``QUINTERO, LUIS
        ALBERTO``), the DOB exact or a year either side with ``EXD/Y``, sex U matching either,
        race by NCIC's race rule. Rows are read by DOB (indexed), the rest compared here."""
        key, initial = soundex(name), first_name(name)[:1]
        return [
            sid
            for sid, nam, rsex, rrac in rows.born_on(self.conn, dob_values(dob, exd))
            if soundex(nam) == key
            and (not initial or first_name(nam)[:1] == initial)
            and (not sex or sex == "U" or rsex in (sex, "U"))
            and race_matches(rac, rrac or "")
        ]

    def load(self, sid: str) -> Record | None:
        return rows.record(self.conn, sid)

    def exists(self, sid: str) -> bool:
        return rows.exists(self.conn, sid)

    def next_cycle(self, sid: str) -> int:
        n = max(rows.last_cycle(self.conn, sid), self._pending_cycles.get(sid, 0)) + 1
        self._pending_cycles[sid] = n
        return n

    def committed(self, sid: str) -> None:
        self._pending_cycles.pop(sid, None)


def subject_statements(sid: str, msg: Message, now: str) -> list[Statement]:
    values = {code: msg.get(code) for code in rows.SUBJECT_FIELDS}
    return [rows.new_subject(sid, values, msg.get("FPI") == "Y", now)]


def cycle_statements(sid: str, cyc: int, msg: Message, ori: str) -> list[Statement]:
    """An arrest cycle with its charges (CHG and OCL repeat in pairs, in order)."""
    classes = msg.get_all("OCL")
    out = rows.new_cycle(sid, cyc, msg.get("DOA") or "", ori, msg.get("OCA") or "")
    for n, chg in enumerate(msg.get_all("CHG"), 1):
        out.append(rows.new_charge(sid, cyc, n, chg, classes[n - 1] if n <= len(classes) else ""))
    out += [rows.alias(sid, aka) for aka in msg.get_all("AKA")]
    return out


# ---------------------------------------------------------------- the service


class CchService:
    """The ``cch`` router service: EAR, EDP, ECU, MCH, XCH, QCH, QFC."""

    name = "cch"

    def __init__(self, switch: SwitchPort, db: StateDB) -> None:
        self.switch = switch
        self.db = db
        self.store = CchStore(db.reader)
        self.codes = switch.dictionary.codes

    def handle(self, req: Request) -> Any:
        handler = getattr(self, f"_{req.spec.key.lower()}", None)
        if handler is None:
            return [
                self._reject(req, RejectCode.BAD_RECORD, f"MKE {req.spec.key} NOT HANDLED BY CCH")
            ]
        return handler(req)

    # ------------------------------------------------------------ helpers

    def _reject(self, req: Request, code: str, reason: str, fld: str | None = None) -> Reply:
        rej = Reject(code, reason, fld, req.msg.raw[:100])
        return Reply(responses.reject(rej, req.msg.ori), key="REJ")

    def _ack(self, req: Request, words: str, pairs: list[tuple[str, str]]) -> Reply:
        when = self.switch.clock.now()
        body = "\n".join(
            [
                responses.head("ACC", req.msg.ori),
                *responses.wrap(words),
                *responses.layout(pairs),
                f"DTE/{when:%Y%m%d %H%M}",
            ]
        )
        return Reply(body, key="ACC")

    def _commit(self, statements: list[Statement], replies: list[Reply], sid: str = "") -> Any:
        d = self.db.submit(statements)

        def done(_: None) -> list[Reply]:
            if sid:
                self.store.committed(sid)
            return replies

        return d.addCallback(done)

    def _today(self) -> date:
        return self.switch.clock.now().date()

    # ------------------------------------------------------------ entry and update (R2)

    def _ear(self, req: Request) -> Any:
        msg = req.msg
        st = self.store
        sid = msg.get("SID")
        statements: list[Statement] = []
        if sid:
            if st.load(sid) is None:
                return [self._reject(req, RejectCode.NOT_ON_FILE, f"SID/{sid} NOT ON FILE", "SID")]
        else:
            found = (
                st.find(fbi=msg.get("FBI"))
                if msg.get("FBI")
                else st.find(name=msg.get("NAM"), dob=msg.get("DOB"), sex=msg.get("SEX"))
            )
            if len(found) == 1:
                sid = found[0]
            else:
                sid = st.new_sid()
                statements += subject_statements(sid, msg, self.switch.clock.stamp())
        cyc = st.next_cycle(sid)
        statements += cycle_statements(sid, cyc, msg, msg.ori)
        if msg.get("FPI") == "Y":
            statements.append(rows.fingerprinted(sid, True))
        reply = self._ack(
            req,
            "OREGON CCH ARREST CYCLE ENTERED",
            [
                ("NAM", responses.print_name(msg.get("NAM") or "")),
                ("SID", sid),
                ("CYC", f"{cyc:03d}"),
                ("DOA", msg.get("DOA") or ""),
            ],
        )
        return self._commit(statements, [reply], sid)

    def _edp(self, req: Request) -> Any:
        msg = req.msg
        sid, cyc, chg = msg.get("SID") or "", int(msg.get("CYC") or 0), msg.get("CHG")
        n = rows.charge_to_dispose(self.store.conn, sid, cyc, chg)
        if n is None:
            return [
                self._reject(
                    req,
                    RejectCode.NOT_ON_FILE,
                    f"NO CHARGE {chg} IN CYCLE {cyc:03d} OF SID/{sid}",
                    "CHG",
                )
            ]
        stmt = rows.disposition(sid, cyc, n, msg.get("DSP"), msg.get("DOD"), msg.get("CRT") or "")
        reply = self._ack(
            req,
            "OREGON CCH COURT DISPOSITION ENTERED",
            [
                ("SID", sid),
                ("CYC", f"{cyc:03d}"),
                ("CHG", chg or ""),
                ("DSP", msg.get("DSP") or ""),
            ],
        )
        return self._commit([stmt], [reply])

    def _ecu(self, req: Request) -> Any:
        msg = req.msg
        sid = msg.get("SID") or ""
        if not self.store.exists(sid):
            return [self._reject(req, RejectCode.NOT_ON_FILE, f"SID/{sid} NOT ON FILE", "SID")]
        n = rows.last_custody(self.store.conn, sid) + 1
        cyc = int(msg.get("CYC") or 0)
        stmt = rows.custody(sid, n, cyc, msg.get("DCS"), msg.get("CST"), msg.ori)
        reply = self._ack(
            req, "OREGON CCH CUSTODY EVENT ENTERED", [("SID", sid), ("DCS", msg.get("DCS") or "")]
        )
        return self._commit([stmt], [reply])

    def _mch(self, req: Request) -> Any:
        """Correction of the subject's identification; CHL/Y|N sets the challenge flag (D2)."""
        msg = req.msg
        sid = msg.get("SID") or ""
        if not self.store.exists(sid):
            return [self._reject(req, RejectCode.NOT_ON_FILE, f"SID/{sid} NOT ON FILE", "SID")]
        statements: list[Statement] = []
        changed: list[tuple[str, str]] = [("SID", sid)]
        for code, value in msg.fields:
            if code in rows.CORRECTABLE:
                statements.append(rows.correct(sid, code, value))
            elif code == "FPI":
                statements.append(rows.fingerprinted(sid, value == "Y"))
            elif code == "CHL":
                statements.append(rows.challenged(sid, value == "Y"))
            elif code == "AKA":
                statements.append(rows.alias(sid, value))
            else:
                continue
            changed.append((code, value))
        reply = self._ack(req, "OREGON CCH SUBJECT CORRECTED", changed)
        return self._commit(statements, [reply])

    def _xch(self, req: Request) -> Any:
        from lems.state.removal import removal

        return removal(self, req)

    # ------------------------------------------------------------ inquiries (R5-R9, D1-D3)

    def _qch(self, req: Request) -> Any:
        msg = req.msg
        agency = self.switch.directory.agencies[msg.ori]
        purpose = msg.get("PUR") or ""
        form = form_for(agency.category, purpose)
        sids = self.store.find(
            name=msg.get("NAM"),
            dob=msg.get("DOB"),
            sid=msg.get("SID"),
            fbi=msg.get("FBI"),
            sex=msg.get("SEX"),
            rac=msg.get("RAC"),
            exd=msg.get("EXD") == "Y",
        )
        today = self._today()
        replies: list[Reply] = []
        logs: list[Statement] = []
        for sid in sids:
            rec = self.store.load(sid)
            if rec is None:
                continue
            cycles = visible(rec, form, today)
            if form == FILTERED and not cycles:
                logs.append(self._log(req, sid, NONE, rec.challenged))
                continue
            notices = [D1_NOTICE] + ([D2_NOTICE] if rec.challenged else [])
            body = "\n".join(
                [
                    responses.head("HIT", msg.ori),
                    *responses.page(notices),
                    *rap_sheet(rec, cycles, form, purpose, self.codes),
                ]
            )
            replies.append(Reply(body, key="HIT", sensitive="cch"))
            logs.append(self._log(req, sid, form, rec.challenged))
            if rec.challenged:
                self.switch.journal.append(
                    "sys",
                    f"CCH CHALLENGE NOTICE SID/{sid} DELIVERED TO ORI/{msg.ori} "
                    f"TERMINAL/{req.terminal} OPERATOR/{req.operator}",
                    terminal=req.terminal,
                    operator=req.operator,
                    ori=msg.ori,
                    key="QCH",
                    disposition="challenge-notice",
                    ref=req.seq,
                )
        if not replies:
            replies.append(Reply(self._no_record(req, form), key="NRC"))
        if logs:
            self.db.writer.submit_nowait(logs)
        return replies

    def _no_record(self, req: Request, form: str) -> str:
        msg = req.msg
        ident = [(c, v) for c, v in msg.fields if c in ("NAM", "DOB", "SEX", "RAC", "SID", "FBI")]
        what = NO_CRIMINAL_RECORD if form == FILTERED else "NO OREGON CCH RECORD"
        text = f"{what} " + " ".join(f"{c}/{v}" for c, v in ident)
        return "\n".join(
            [responses.head("NRC", msg.ori), *responses.page([D1_NOTICE]), *responses.wrap(text)]
        )

    def _qfc(self, req: Request) -> Any:
        """R5: YES (a disqualifying record) or NO, against the entity's registered criteria."""
        msg = req.msg
        agency = self.switch.directory.agencies[msg.ori]
        sids = self.store.find(
            name=msg.get("NAM"),
            dob=msg.get("DOB"),
            sex=msg.get("SEX"),
            rac=msg.get("RAC"),
            exd=msg.get("EXD") == "Y",
        )
        today = self._today()
        found = False
        logs: list[Statement] = []
        for sid in sids:
            rec = self.store.load(sid)
            if rec is None:
                continue
            hit = bool(fitness(rec, agency.criteria, today))
            found = found or hit
            logs.append(self._log(req, sid, "yes" if hit else "no", rec.challenged))
        answer = "YES" if found else "NO"
        key = "HIT" if found else "NRC"
        lines = [
            responses.head(key, msg.ori),
            *responses.page([D1_NOTICE]),
            "MKE/QUALIFIED ENTITY FITNESS CHECK",
            *responses.layout(
                [
                    ("NAM", responses.print_name(msg.get("NAM") or "")),
                    ("DOB", msg.get("DOB") or ""),
                    ("CRI", msg.get("CRI") or ""),
                    ("ATN", msg.get("ATN") or ""),
                ]
            ),
            f"DISQUALIFYING RECORD/{answer}",
            *responses.page(
                [
                    "BASED ONLY ON CONVICTIONS AND ARRESTS UNDER ONE YEAR OLD "
                    "WITHOUT ACQUITTAL OR DISMISSAL, AGAINST THE CRITERIA "
                    "REGISTERED BY THIS ENTITY - NO RECORD IS RELEASED "
                    "(OAR 257-010-0025(1)(C))"
                ]
            ),
        ]
        if logs:
            self.db.writer.submit_nowait(logs)
        return [Reply("\n".join(lines), key=key)]

    def _log(self, req: Request, sid: str, form: str, challenged: bool) -> Statement:
        return dissemination.logged(
            self.switch.clock.stamp(),
            sid,
            req.msg.ori,
            req.terminal,
            req.operator,
            req.msg.get("PUR") or "",
            form,
            challenged,
            req.seq,
        )


def years_before(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def purge_cutoffs(today: date) -> tuple[str, str]:
    """(latest DOB of a subject aged 99+, the arrest date 10 years back) as CCYYMMDD."""
    return (years_before(today, 99).strftime("%Y%m%d"), years_before(today, 10).strftime("%Y%m%d"))
