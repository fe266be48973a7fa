"""FICS, Oregon's Firearms Instant Check System (OAR 257-010-0055, RULES.md).

A dealer check (FCK: purchaser identifiers, ID document, optionally the firearm serial) searches
the state CCH, the Prohibited Persons File, NCIC wanted persons and protection orders, the NCIC
gun file (is the firearm stolen?) and NICS, and answers ``FCR`` with a FICS transaction number:

* DENIED — a disqualifying record (felony conviction, PPF entry, felony warrant, qualifying
  protection order, NICS denial; NCIC person records judged by ``lems.endpoints.prohibitors``) or
  a stolen firearm;
* PENDING — something needs research (an open felony arrest) or a system did not answer; FICS
  checks again on the lab clock and sends the dealer the result as an unsolicited FCR;
* PENDING with THUMBPRINT VERIFICATION REQUIRED — a record matches name and DOB but not the
  purchaser's sex or race (identity in question): the dealer resubmits with ``THB/``;
* APPROVED.

The dealer is told the outcome and transaction number only, never the prohibitor; every reason
is journaled (``fics-approved|pending|denied`` rows) and kept with the check for the audit.

FSG answers whether a firearm is stolen, by serial alone. A record of each check is kept five
years (the purge is a scheduled job, ``lems.state.jobs``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, DeferredList, maybeDeferred, succeed

from formats import responses
from formats.errors import Reject
from formats.rejects import RejectCode
from lems.endpoints import prohibitors
from lems.router import Reply, Request
from lems.state.cch import CchService
from lems.state.db import StateDB
from lems.state.ppf import PpfService

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall

    from lems.ports import SwitchPort

APPROVED, PENDING, DENIED = "APPROVED", "PENDING", "DENIED"
RECHECK_SECONDS = 1800.0
"""Lab seconds between checks of a PENDING transaction."""
RECHECKS = 3
FELONY = ("FA", "FB", "FC", "FU")


@dataclass(slots=True)
class Findings:
    deny: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    doubt: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Records found that do not bar the transfer (journal only)."""
    stolen_gun: bool = False

    @property
    def result(self) -> str:
        return DENIED if self.deny else PENDING if (self.pending or self.doubt) else APPROVED


@dataclass(slots=True)
class Pending:
    ftn: str
    req: Request
    tries: int = 0
    timer: IDelayedCall | None = None


class FicsService:
    name = "fics"

    def __init__(self, switch: SwitchPort, db: StateDB, cch: CchService, ppf: PpfService) -> None:
        self.switch = switch
        self.db = db
        self.cch = cch
        self.ppf = ppf
        self.pending: dict[str, Pending] = {}
        self._n = 0

    def handle(self, req: Request) -> Any:
        return self._fsg(req) if req.spec.key == "FSG" else self._fck(req)

    def resume(self) -> None:
        """Schedule again the PENDING checks a previous run was waiting on (the dealer's request
        is read back from the journal), so a restart never leaves a dealer without an answer."""
        sw = self.switch
        for ftn, seq in self.db.query(
            "SELECT ftn, seq FROM fics_check WHERE result = 'PENDING' AND recheck = 1 AND seq > 0"
        ):
            req = sw.journaled_request(seq)
            if req is None:
                continue
            self._schedule(Pending(ftn, req))
            sw.stats["fics_resumed"] += 1

    def cancel_timers(self) -> None:
        for p in self.pending.values():
            if p.timer is not None and p.timer.active():
                p.timer.cancel()

    def new_ftn(self) -> str:
        self._n += 1
        row = self.db.one(
            "SELECT COUNT(*) FROM fics_check WHERE ftn LIKE ?",
            (f"F{self.switch.clock.now():%y%m%d}%",),
        )
        n = max(self._n, (row[0] if row else 0) + 1)
        self._n = n
        return f"F{self.switch.clock.now():%y%m%d}{n:05d}"

    # ------------------------------------------------------------ systems

    def _ask(self, system: str, text: str, ori: str) -> Deferred[list[str] | None]:
        svc = self.switch.router.service(system)
        if svc is None or not hasattr(svc, "ask"):
            return succeed(None)
        d = maybeDeferred(svc.ask, text, ori)
        return d.addErrback(lambda _: None)

    def _remote(self, req: Request) -> Deferred[Findings]:
        """NCIC person files (each record judged by ``prohibitors.verdict``), the gun file
        and NICS."""
        msg = req.msg
        ori = msg.ori
        person = f"NAM/{msg.get('NAM')}.DOB/{msg.get('DOB')}.SEX/{msg.get('SEX')}"
        asks = [
            ("PERSON", "ncic", f"QW.{ori}.{person}"),
            ("PROTECTION ORDER", "ncic", f"QPO.{ori}.{person}"),
            (
                "NICS",
                "nics",
                f"NCK.{ori}.{person}" + (f".RAC/{msg.get('RAC')}" if msg.get("RAC") else ""),
            ),
        ]
        if msg.get("SER"):
            asks.append(("STOLEN GUN", "ncic", f"QG.{ori}.SER/{msg.get('SER')}"))
        ds = [self._ask(system, text, ori) for _, system, text in asks]

        def judge(results: list[tuple[bool, Any]]) -> Findings:
            f = Findings()
            seen: set[str] = set()
            for (what, system, _), (_ok, bodies) in zip(asks, results, strict=True):
                verdict = classify(bodies)
                if verdict == "unavailable":
                    f.pending.append(f"{system.upper()} NOT AVAILABLE ({what})")
                elif system == "nics":
                    if verdict == "hit":
                        f.deny.append("NICS DENIAL " + _ntn(bodies))
                    elif verdict == "delayed":
                        f.pending.append("NICS DELAYED " + _ntn(bodies))
                elif what == "STOLEN GUN":
                    if verdict == "hit":
                        f.deny.append(f"NCIC STOLEN GUN SER/{msg.get('SER')}")
                        f.stolen_gun = True
                elif verdict == "hit":
                    for body in bodies or []:
                        judge_person(body, f, seen)
            return f

        return DeferredList(ds).addCallback(judge)

    def _local(self, req: Request) -> Findings:
        """State CCH and PPF; a name+DOB match with other descriptors puts identity in doubt."""
        msg = req.msg
        f = Findings()
        name, dob, sex, rac = msg.get("NAM"), msg.get("DOB"), msg.get("SEX"), msg.get("RAC")
        verified = bool(msg.get("THB"))
        for sid in self.cch.store.find(name=name, dob=dob):
            rec = self.cch.store.load(sid)
            if rec is None:
                continue
            if rec.sex != sex or (rec.rac and rac and rec.rac != rac):
                if not verified:
                    f.doubt.append(f"CCH SID/{sid}")
                continue
            for c in rec.cycles:
                if c.sealed:
                    continue
                for ch in c.charges:
                    if ch.dsp == "CONV" and ch.ocl in FELONY:
                        f.deny.append(f"CCH FELONY CONVICTION SID/{sid} CYC/{c.cyc:03d}")
                    elif not ch.dsp and ch.ocl in FELONY:
                        f.pending.append(
                            f"CCH OPEN FELONY ARREST SID/{sid} CYC/{c.cyc:03d} - "
                            "DISPOSITION RESEARCH"
                        )
        for ppn, psex, pca, _ori in self.ppf.matches(name or "", dob or ""):
            if psex != sex:
                if not verified:
                    f.doubt.append(f"PPF PPN/{ppn}")
                continue
            f.deny.append(f"PROHIBITED PERSON PPN/{ppn} PCA/{pca}")
        return f

    def _check(self, req: Request) -> Deferred[Findings]:
        local = self._local(req)

        def merge(remote: Findings) -> Findings:
            return Findings(
                local.deny + remote.deny,
                local.pending + remote.pending,
                local.doubt,
                remote.notes,
                remote.stolen_gun,
            )

        return self._remote(req).addCallback(merge)

    # ------------------------------------------------------------ FCK

    def _fck(self, req: Request) -> Any:
        msg = req.msg
        if msg.get("ADR") == "N" and msg.get("IDS") != "Y":
            rej = Reject(
                RejectCode.ID_REQUIRED,
                "PURCHASER ID DOES NOT SHOW AN ADDRESS - A SECOND ID "
                "PROVING ADDRESS IS REQUIRED (IDS/Y) (OAR 257-010-0055)",
                "IDS",
                msg.raw[:100],
            )
            return [Reply(responses.reject(rej, msg.ori), key="REJ")]
        ftn = self.new_ftn()
        d = self._check(req)

        def answer(f: Findings) -> Any:
            result = f.result
            recheck = result == PENDING and not f.doubt
            stmt = (
                "INSERT INTO fics_check (ftn, time, dealer_ori, terminal, dlr, name, dob, ser, "
                "result, reason, seq, recheck) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    ftn,
                    self.switch.clock.stamp(),
                    msg.ori,
                    req.terminal,
                    msg.get("DLR"),
                    msg.get("NAM"),
                    msg.get("DOB"),
                    msg.get("SER") or "",
                    result,
                    reasons(f)[:200],
                    req.seq,
                    int(recheck),
                ),
            )
            if recheck:
                self._schedule(Pending(ftn, req))
            self._journal(req, ftn, result, f)
            body = fcr(msg.ori, ftn, result, msg, f, self.switch.clock.now())
            return self.db.submit([stmt]).addCallback(lambda _: [Reply(body, key="FCR")])

        return d.addCallback(answer)

    def _journal(self, req: Request, ftn: str, result: str, f: Findings) -> None:
        """The outcome and its reasons, for the audit: the dealer is never told why."""
        self.switch.journal.append(
            "sys",
            f"FICS FTN/{ftn} STATUS/{result} NAM/{req.msg.get('NAM')} "
            f"DOB/{req.msg.get('DOB')}" + (f" REASON/{reasons(f)}" if reasons(f) else ""),
            terminal=req.terminal,
            operator=req.operator,
            ori=req.msg.ori,
            key="FCK",
            disposition="fics-" + result.lower(),
            reason=reasons(f)[:200],
            ref=req.seq,
        )

    def _schedule(self, p: Pending) -> None:
        self.pending[p.ftn] = p
        p.timer = self.switch.clock.call_later(RECHECK_SECONDS, self._recheck, p.ftn)

    def _recheck(self, ftn: str) -> Deferred[None] | None:
        p = self.pending.get(ftn)
        if p is None or not self.switch.started:
            return None
        p.tries += 1
        p.timer = None

        def resolved(f: Findings) -> None:
            if not self.switch.started:
                return
            result = f.result
            if result == PENDING and p.tries < RECHECKS:
                p.timer = self.switch.clock.call_later(RECHECK_SECONDS, self._recheck, ftn)
                return
            self.pending.pop(ftn, None)
            if result == PENDING:
                f.pending.append(
                    "NO RESOLUTION - TRANSFER MAY PROCEED AFTER 3 BUSINESS DAYS "
                    "UNLESS FICS ADVISES OTHERWISE"
                )
            msg = p.req.msg
            body = fcr(msg.ori, ftn, result, msg, f, self.switch.clock.now(), resolved=True)
            self.db.writer.submit_nowait(
                [
                    (
                        "UPDATE fics_check SET result = ?, reason = ?, recheck = 0 WHERE ftn = ?",
                        (result, reasons(f)[:200], ftn),
                    )
                ]
            )
            self._journal(p.req, ftn, result, f)
            self.switch.deliver(p.req.terminal, body, key="FCR", ori=msg.ori, ref=p.req.seq)

        return self._check(p.req).addCallback(resolved)

    # ------------------------------------------------------------ FSG

    def _fsg(self, req: Request) -> Any:
        msg = req.msg
        ser = msg.get("SER") or ""

        def answer(bodies: list[str] | None) -> list[Reply]:
            verdict = classify(bodies)
            if verdict == "unavailable":
                rej = Reject(
                    RejectCode.NOT_AVAILABLE,
                    "NCIC NOT AVAILABLE - STOLEN GUN CHECK NOT MADE - TRY AGAIN LATER",
                    "SER",
                    msg.raw[:100],
                )
                return [Reply(responses.reject(rej, msg.ori), key="REJ")]
            stolen = verdict == "hit"
            lines = [
                responses.head("FCR", msg.ori),
                "MKE/FIREARM STOLEN CHECK",
                f"SER/{ser}",
                "FIREARM REPORTED STOLEN - DO NOT TRANSFER - CONTACT LAW ENFORCEMENT"
                if stolen
                else "FIREARM NOT REPORTED STOLEN IN NCIC",
            ]
            if stolen and bodies:
                lines += [line for b in bodies for line in b.split("\n")[1:]]
            return [Reply("\n".join(lines), key="FCR")]

        return self._ask("ncic", f"QG.{msg.ori}.SER/{ser}", msg.ori).addCallback(answer)


def classify(bodies: list[str] | None) -> str:
    """An answer from NCIC or NICS: hit, clear, delayed or unavailable."""
    if not bodies:
        return "unavailable"
    keys = [responses.first_line_key(b)[0] for b in bodies]
    text = "\n".join(bodies)
    if "HIT" in keys or "DENIED" in text:
        return "hit"
    if "DELAYED" in text:
        return "delayed"
    if all(k in ("NRC", "ACC") for k in keys) or "PROCEED" in text:
        return "clear"
    return "unavailable"


def judge_person(body: str, f: Findings, seen: set[str]) -> None:
    """One NCIC person-file HIT into ``f``, by the file its ``MKE/`` line names."""
    mke = re.search(r"^MKE/(.+)$", body, re.M)
    words = mke.group(1).strip().removesuffix(" - CAUTION") if mke else ""
    nic = _field(body, "NIC")
    if nic and nic in seen:
        return
    seen.add(nic)
    file = _FILES.get(words, words.lower() or "unknown")
    verdict, why = prohibitors.verdict(file, lambda code: _field(body, code) or None)
    why += f" NIC/{nic}" if nic else ""
    if verdict == prohibitors.DENY:
        f.deny.append(why)
    elif verdict == prohibitors.RESEARCH:
        f.pending.append(why)
    else:
        f.notes.append(why)


_FILES = {words: file for file, words in responses.FILE_WORDS.items()}


def _field(body: str, code: str) -> str:
    m = re.search(rf"(?:^|\s){code}/(\S+)", body)
    return m.group(1) if m else ""


def _ntn(bodies: list[str] | None) -> str:
    ntn = _field("\n".join(bodies or []), "NTN")
    return f"NTN/{ntn}" if ntn else ""


def reasons(f: Findings) -> str:
    """Every reason found, for the journal and the audit (never for the dealer)."""
    return "; ".join(f.deny + f.pending + f.doubt + f.notes)


def fcr(
    ori: str, ftn: str, result: str, msg: Any, f: Findings, when: Any, resolved: bool = False
) -> str:
    """The FICS answer (``FCR``): transaction number and status, never the prohibitor.

    A dealer learns only the outcome (ORS 166.412(3)): approved with the transaction number as
    the approval number, pending (FICS will answer on this terminal), or denied with where the
    purchaser may ask why and appeal. The reasons go to the journal (``fics-*`` rows) and the
    audit. Two things are the dealer's own business and are said: a thumbprint is needed (the
    dealer must take it) and the firearm itself is reported stolen (anyone may ask, FSG)."""
    lines = [
        responses.head("FCR", ori),
        "FICS TRANSACTION RESOLVED" if resolved else "FIREARMS INSTANT CHECK",
        *responses.layout(
            [
                ("FTN", ftn),
                ("STATUS", result),
                ("NAM", responses.print_name(msg.get("NAM") or "")),
                ("DOB", msg.get("DOB") or ""),
                ("DLR", msg.get("DLR") or ""),
            ]
        ),
        f"DTE/{when:%Y%m%d %H%M}",
    ]
    if result == APPROVED:
        lines += responses.page(
            [
                f"TRANSFER MAY PROCEED - RECORD FTN/{ftn} AS THE APPROVAL "
                "NUMBER - VALID 24 HOURS (ORS 166.412)"
            ]
        )
    elif result == PENDING and f.doubt and not f.deny:
        lines += responses.page(
            [
                "IDENTITY IN QUESTION - THUMBPRINT VERIFICATION REQUIRED - "
                "RESUBMIT WITH THB/ (OAR 257-010-0055)"
            ]
        )
    elif result == PENDING and resolved:
        lines += responses.page(
            [
                "NO RESOLUTION - TRANSFER MAY PROCEED AFTER 3 BUSINESS DAYS "
                "UNLESS FICS ADVISES OTHERWISE"
            ]
        )
    elif result == PENDING:
        lines += responses.page(
            [
                "DO NOT TRANSFER YET - FICS IS RESEARCHING THIS TRANSACTION - "
                "THE RESULT WILL BE SENT TO THIS TERMINAL UNDER THE SAME FTN"
            ]
        )
    if result == DENIED:
        lines += responses.page(
            [
                "DO NOT TRANSFER THE FIREARM - THE PURCHASER MAY ASK THE "
                "OREGON STATE POLICE FICS UNIT FOR THE REASON AND APPEAL "
                f"(QUOTE FTN/{ftn})"
            ]
        )
    if f.stolen_gun:
        lines += responses.page(
            [f"FIREARM SER/{msg.get('SER')} REPORTED STOLEN - CONTACT LAW ENFORCEMENT"]
        )
    return "\n".join(lines)
