"""The Prohibited Persons File and its reporting to NICS (OAR 257-010-0060, RULES.md).

Designated agencies and courts submit minimum information only (name, DOB, sex, their ORI and the
prohibitor category): the dictionary refuses any other field on EPP (FIELD-NOT-ALLOWED). Entries
go to NICS in a daily batch through the switch (each NICS Index entry ``NEN`` and its ``NAC``
answer journaled like any traffic); relief (XPP) goes to NICS the same day (``NRM`` at once).
Every three months the state asks NICS for its report of Oregon's entries (``NRP`` -> ``NRR``),
compares it with the PPF by NICS record number (NRI) and sends each discrepancy to the submitting
ORI as an administrative message. PPF data is read only for file maintenance (QPP with PUR/A), NICS
reporting and firearm checks (FICS calls ``matches``); any other inquiry is refused.

NICS is reached through the router service ``nics`` and its ``ask(text, ori)``; when it is not
there or does not answer, the batch stays queued and goes with the next one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, inlineCallbacks, maybeDeferred
from twisted.logger import Logger

from formats import responses
from formats.errors import Reject
from formats.rejects import RejectCode
from lems.router import Reply, Request
from lems.state.db import StateDB
from lems.state.repositories import ppf as rows
from lems.store import Statement

if TYPE_CHECKING:
    from lems.ports import SwitchPort

log = Logger()

MAINTENANCE_PURPOSE = "A"


def may_submit(category: str, orion_type: str, ori: str) -> bool:
    """Designated agencies and courts (ORION type JJ, or a ``J`` ORI) submit PPF entries."""
    return category == "designated" or orion_type == "JJ" or ori.endswith("J")


def parse_pairs(line: str) -> dict[str, str]:
    """``NRI/1 NAM/DOE,JOHN …`` as a dict (values hold no blanks in NICS output)."""
    return dict(p.split("/", 1) for p in line.split() if "/" in p)


def parse_report(bodies: list[str]) -> dict[str, dict[str, str]]:
    """NICS's NRR answer: one entry per line of ``CODE/value`` pairs, keyed by NRI."""
    out: dict[str, dict[str, str]] = {}
    for body in bodies:
        for line in body.split("\n"):
            pairs = parse_pairs(line)
            if "NRI" in pairs:
                out[pairs["NRI"]] = pairs
    return out


def discrepancies(
    ppf: dict[str, dict[str, str]], nics: dict[str, dict[str, str]]
) -> list[tuple[str, str, str]]:
    """(submitting ORI, identifier, what is wrong) for every difference between the files.

    ``ppf`` maps NRI -> the PPF entry's pairs (PPN included), ``nics`` NRI -> NICS's pairs."""
    out = []
    for nri, e in sorted(ppf.items()):
        n = nics.get(nri)
        ident = f"PPN/{e['PPN']} NRI/{nri}"
        if n is None:
            out.append((e["ORI"], ident, "ENTRY IS IN THE PPF BUT NOT IN THE NICS INDICES"))
            continue
        diff = [
            f"{c}/{e[c]} NICS {c}/{n.get(c, '')}"
            for c in ("NAM", "DOB", "SEX", "PCA")
            if n.get(c, "") != e[c]
        ]
        if diff:
            out.append((e["ORI"], ident, "NICS ENTRY DIFFERS: PPF " + "; PPF ".join(diff)))
    for nri, n in sorted(nics.items()):
        if nri not in ppf:
            out.append(
                (
                    n.get("ORI", ""),
                    f"NRI/{nri}",
                    "ENTRY IS IN THE NICS INDICES BUT NOT ACTIVE IN THE PPF - REMOVE IT "
                    "(RELIEF) OR RE-ENTER IT IN THE PPF",
                )
            )
    return out


class PpfService:
    """The ``ppf`` router service (EPP, XPP, QPP) and the NICS reporting it owes."""

    name = "ppf"

    def __init__(self, switch: SwitchPort, db: StateDB) -> None:
        self.switch = switch
        self.db = db
        self._last = rows.last_ppn(db.reader)

    def handle(self, req: Request) -> Any:
        return {"EPP": self._epp, "XPP": self._xpp, "QPP": self._qpp}[req.spec.key](req)

    def _reject(self, req: Request, code: str, reason: str, fld: str | None) -> list[Reply]:
        rej = Reject(code, reason, fld, req.msg.raw[:100])
        return [Reply(responses.reject(rej, req.msg.ori), key="REJ")]

    def _ack(self, req: Request, words: str, pairs: list[tuple[str, str]]) -> Reply:
        now = self.switch.clock.now()
        body = "\n".join(
            [
                responses.head("ACC", req.msg.ori),
                *responses.page([words]),
                *responses.layout(pairs),
                f"DTE/{now:%Y%m%d %H%M}",
            ]
        )
        return Reply(body, key="ACC")

    # ------------------------------------------------------------ transactions

    def _epp(self, req: Request) -> Any:
        msg = req.msg
        agency = self.switch.directory.agencies[msg.ori]
        if not may_submit(agency.category, agency.type, msg.ori):
            return self._reject(
                req,
                RejectCode.NOT_DESIGNATED,
                f"ORI {msg.ori} MAY NOT SUBMIT PROHIBITED "
                "PERSONS - DESIGNATED AGENCIES AND COURTS ONLY "
                "(OAR 257-010-0060)",
                "ORI",
            )
        self._last += 1
        ppn = f"P{self._last:07d}"
        g = msg.get
        stmt = rows.entered(
            ppn, g("NAM"), g("DOB"), g("SEX"), g("PCA"), msg.ori, self.switch.clock.stamp()
        )
        reply = self._ack(
            req,
            "PROHIBITED PERSONS FILE ENTERED - QUEUED FOR THE DAILY NICS BATCH",
            [
                ("PPN", ppn),
                ("NAM", responses.print_name(g("NAM") or "")),
                ("DOB", g("DOB") or ""),
                ("SEX", g("SEX") or ""),
                ("PCA", g("PCA") or ""),
            ],
        )
        return self.db.submit([stmt]).addCallback(lambda _: [reply])

    def _xpp(self, req: Request) -> Any:
        msg = req.msg
        ppn = msg.get("PPN") or ""
        entry = rows.entry(self.db.reader, ppn)
        if entry is None or entry.relieved:
            return self._reject(
                req, RejectCode.NOT_ON_FILE, f"PPN/{ppn} IS NOT AN ACTIVE PPF ENTRY", "PPN"
            )
        agency = self.switch.directory.agencies[msg.ori]
        if msg.ori != entry.ori and not may_submit(agency.category, agency.type, msg.ori):
            return self._reject(
                req,
                RejectCode.NOT_DESIGNATED,
                f"RELIEF FOR PPN/{ppn} ONLY FROM THE SUBMITTING AGENCY, A COURT OR PSRB",
                "ORI",
            )
        stmt = rows.relieved(ppn, self.switch.clock.stamp(), msg.get("RSN") or "")
        reply = self._ack(
            req,
            "PROHIBITED PERSON RELIEF ENTERED - NICS IS NOTIFIED TODAY",
            [("PPN", ppn), ("NAM", responses.print_name(entry.name)), ("DOB", entry.dob)],
        )

        def committed(_: None) -> list[Reply]:
            self.send_relief(ppn)
            return [reply]

        return self.db.submit([stmt]).addCallback(committed)

    def _qpp(self, req: Request) -> Any:
        msg = req.msg
        if msg.get("PUR") != MAINTENANCE_PURPOSE:
            return self._reject(
                req,
                RejectCode.PPF_USE,
                "PPF DATA MAY BE USED ONLY FOR FILE MAINTENANCE "
                "(PUR/A), NICS REPORTING AND FIREARM CHECKS (OAR 257-010-0060)",
                "PUR",
            )
        ppn = msg.get("PPN")
        if ppn:
            entry = rows.entry(self.db.reader, ppn)
            found = [] if entry is None else [entry]
        else:
            found = rows.named(self.db.reader, msg.get("NAM"), msg.get("DOB"))
        found = [e for e in found if not msg.get("SEX") or e.sex == msg.get("SEX")]
        if not found:
            ident = [(c, v) for c, v in msg.fields if c in ("PPN", "NAM", "DOB", "SEX")]
            return [Reply(responses.no_record(msg.ori, ident, "PPF ENTRY"), key="NRC")]
        lines = [
            responses.head("HIT", msg.ori),
            "FOR PPF FILE MAINTENANCE ONLY",
            f"MKE/{responses.FILE_WORDS['ppf']}",
        ]
        for e in found:
            state = (
                f"RELIEVED {e.relieved[:10]}"
                if e.relieved
                else f"SENT TO NICS {e.sent[:10]}"
                if e.sent
                else "AWAITING NICS BATCH"
            )
            lines += responses.layout(
                [
                    ("PPN", e.ppn),
                    ("NAM", responses.print_name(e.name)),
                    ("DOB", e.dob),
                    ("SEX", e.sex),
                    ("PCA", e.pca),
                    ("ORI", e.ori),
                    ("DTE", e.entered[:10]),
                ]
            )
            lines.append(f"STATUS/{state}")
        return [Reply("\n".join(lines), key="HIT")]

    # ------------------------------------------------------------ firearm checks

    def matches(self, name: str, dob: str) -> list[tuple[str, str, str, str]]:
        """Active entries for a FICS check: (ppn, sex, pca, ori)."""
        return [(e.ppn, e.sex, e.pca, e.ori) for e in rows.active(self.db.reader, name, dob)]

    # ------------------------------------------------------------ NICS traffic

    def _nics(self) -> Any:
        svc = self.switch.router.service("nics")
        return svc if svc is not None and hasattr(svc, "ask") else None

    def _ask(self, text: str, ori: str) -> Deferred[list[str] | None]:
        """Journal ``text`` as outbound NICS traffic, ask NICS, journal the answer; None when
        NICS is not there or failed."""
        key = text.split(".", 1)[0]
        journal = self.switch.journal
        nics = self._nics()
        if nics is None:
            journal.append(
                "sys",
                text,
                ori=ori,
                key=key,
                disposition="nics-unavailable",
                reason="NOT-AVAILABLE NICS NOT AVAILABLE - HELD FOR NEXT BATCH",
            )
            d: Deferred[list[str] | None] = Deferred()
            d.callback(None)
            return d
        journal.append("out", text, ori=ori, key=key, disposition="to-nics", link="nics")

        def answered(bodies: list[str]) -> list[str] | None:
            for body in bodies:
                k, _ = responses.first_line_key(body)
                journal.append("in", body, ori=ori, key=k, disposition="from-nics", link="nics")
            if not bodies or any(
                responses.first_line_key(b)[0] in ("REJ", "ER", "SM") for b in bodies
            ):
                return None
            return bodies

        def failed(f: Any) -> None:
            journal.append(
                "sys",
                text,
                ori=ori,
                key=key,
                disposition="nics-unavailable",
                reason=f"NOT-AVAILABLE {f.getErrorMessage()[:60]}",
            )
            return None

        return maybeDeferred(nics.ask, text, ori).addCallbacks(answered, failed)

    @inlineCallbacks
    def daily_batch(self) -> Any:
        """Send every entry not yet sent to NICS; returns how many NICS accepted."""
        unsent = rows.unsent(self.db.reader)
        sent: list[Statement] = []
        self.switch.journal.append(
            "sys",
            f"PPF DAILY NICS BATCH {len(unsent)} ENTRIES",
            key="NEN",
            disposition="nics-batch",
        )
        for e in unsent:
            answer = yield self._ask(
                f"NEN.{e.ori}.NAM/{e.name}.DOB/{e.dob}.SEX/{e.sex}.PCA/{e.pca}", e.ori
            )
            if answer is not None:
                nri = next(
                    (
                        parse_pairs(line)["NRI"]
                        for b in answer
                        for line in b.split("\n")
                        if "NRI/" in line
                    ),
                    "",
                )
                sent.append(rows.sent(e.ppn, self.switch.clock.stamp(), nri))
        if sent:
            yield self.db.submit(sent)
        return len(sent)

    @inlineCallbacks
    def send_relief(self, ppn: str) -> Any:
        entry = rows.entry(self.db.reader, ppn)
        if entry is None or not entry.nri:
            return False  # never reached NICS: the batch skips relieved entries
        answer = yield self._ask(f"NRM.{entry.ori}.NRI/{entry.nri}", entry.ori)
        if answer is None:
            return False
        yield self.db.submit([rows.relief_sent(ppn, self.switch.clock.stamp())])
        return True

    @inlineCallbacks
    def reconcile(self) -> Any:
        """Quarterly: NICS's report against the PPF; each discrepancy to the submitting ORI."""
        state_ori = self.switch.lab.switch.ori
        answer = yield self._ask(f"NRP.{state_ori}.STA/{self.switch.lab.state}", state_ori)
        if answer is None:
            return None
        nics = parse_report(answer)
        ppf = {
            e.nri: {
                "PPN": e.ppn,
                "NAM": e.name,
                "DOB": e.dob,
                "SEX": e.sex,
                "PCA": e.pca,
                "ORI": e.ori,
                "NRI": e.nri,
            }
            for e in rows.in_nics(self.db.reader)
        }
        found = discrepancies(ppf, nics)
        sw = self.switch
        now = sw.clock.now()
        for ori, ppn, what in found:
            body = responses.nlets_message(
                "AM",
                state_ori,
                sw.nlets_clock_for(0, now),
                ori,
                [
                    "PPF / NICS QUARTERLY RECONCILIATION - DISCREPANCY",
                    ppn,
                    *responses.page([what]),
                    "CORRECT THE ENTRY (EPP/XPP) OR CONTACT LEDS (OAR 257-010-0060)",
                ],
            )
            sw.deliver_to_ori(ori, body, key="AM")
        sw.journal.append(
            "sys",
            f"PPF NICS RECONCILIATION {len(ppf)} PPF {len(nics)} NICS {len(found)} DISCREPANCIES",
            ori=state_ori,
            key="NRP",
            disposition="reconciled",
        )
        return found
