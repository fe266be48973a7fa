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
from lems.store import Statement

if TYPE_CHECKING:
    from lems.ports import SwitchPort

log = Logger()

MAINTENANCE_PURPOSE = "A"
FIELDS = ("PPN", "NAM", "DOB", "SEX", "PCA", "ORI", "NRI")


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
        row = db.one("SELECT MAX(ppn) FROM ppf")
        self._last = int(row[0][1:]) if row and row[0] else 0

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
        stmt = (
            "INSERT INTO ppf (ppn, name, dob, sex, pca, ori, entered) VALUES (?,?,?,?,?,?,?)",
            (ppn, g("NAM"), g("DOB"), g("SEX"), g("PCA"), msg.ori, self.switch.clock.stamp()),
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
        row = self.db.one("SELECT name, dob, ori, relieved FROM ppf WHERE ppn = ?", (ppn,))
        if row is None or row[3]:
            return self._reject(
                req, RejectCode.NOT_ON_FILE, f"PPN/{ppn} IS NOT AN ACTIVE PPF ENTRY", "PPN"
            )
        agency = self.switch.directory.agencies[msg.ori]
        if msg.ori != row[2] and not may_submit(agency.category, agency.type, msg.ori):
            return self._reject(
                req,
                RejectCode.NOT_DESIGNATED,
                f"RELIEF FOR PPN/{ppn} ONLY FROM THE SUBMITTING AGENCY, A COURT OR PSRB",
                "ORI",
            )
        stmt = (
            "UPDATE ppf SET relieved = ?, reason = ? WHERE ppn = ?",
            (self.switch.clock.stamp(), msg.get("RSN") or "", ppn),
        )
        reply = self._ack(
            req,
            "PROHIBITED PERSON RELIEF ENTERED - NICS IS NOTIFIED TODAY",
            [("PPN", ppn), ("NAM", responses.print_name(row[0])), ("DOB", row[1])],
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
        if msg.get("PPN"):
            rows = self.db.query(
                "SELECT ppn, name, dob, sex, pca, ori, entered, sent, relieved "
                "FROM ppf WHERE ppn = ?",
                (msg.get("PPN"),),
            )
        else:
            rows = self.db.query(
                "SELECT ppn, name, dob, sex, pca, ori, entered, sent, relieved "
                "FROM ppf WHERE name = ? AND dob = ? LIMIT 10",
                (msg.get("NAM"), msg.get("DOB")),
            )
        rows = [r for r in rows if not msg.get("SEX") or r[3] == msg.get("SEX")]
        if not rows:
            ident = [(c, v) for c, v in msg.fields if c in ("PPN", "NAM", "DOB", "SEX")]
            return [Reply(responses.no_record(msg.ori, ident, "PPF ENTRY"), key="NRC")]
        lines = [
            responses.head("HIT", msg.ori),
            "FOR PPF FILE MAINTENANCE ONLY",
            f"MKE/{responses.FILE_WORDS['ppf']}",
        ]
        for ppn, name, dob, sex, pca, ori, entered, sent, relieved in rows:
            state = (
                f"RELIEVED {relieved[:10]}"
                if relieved
                else f"SENT TO NICS {sent[:10]}"
                if sent
                else "AWAITING NICS BATCH"
            )
            lines += responses.layout(
                [
                    ("PPN", ppn),
                    ("NAM", responses.print_name(name)),
                    ("DOB", dob),
                    ("SEX", sex),
                    ("PCA", pca),
                    ("ORI", ori),
                    ("DTE", entered[:10]),
                ]
            )
            lines.append(f"STATUS/{state}")
        return [Reply("\n".join(lines), key="HIT")]

    # ------------------------------------------------------------ firearm checks

    def matches(self, name: str, dob: str) -> list[tuple[str, str, str, str]]:
        """Active entries for a FICS check: (ppn, sex, pca, ori)."""
        return [
            tuple(r)
            for r in self.db.query(
                "SELECT ppn, sex, pca, ori FROM ppf WHERE name = ? AND dob = ? AND relieved = ''",
                (name, dob),
            )
        ]

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
        rows = self.db.query(
            "SELECT ppn, name, dob, sex, pca, ori FROM ppf "
            "WHERE sent = '' AND relieved = '' ORDER BY ppn"
        )
        sent: list[Statement] = []
        self.switch.journal.append(
            "sys", f"PPF DAILY NICS BATCH {len(rows)} ENTRIES", key="NEN", disposition="nics-batch"
        )
        for ppn, name, dob, sex, pca, ori in rows:
            answer = yield self._ask(f"NEN.{ori}.NAM/{name}.DOB/{dob}.SEX/{sex}.PCA/{pca}", ori)
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
                sent.append(
                    (
                        "UPDATE ppf SET sent = ?, nri = ? WHERE ppn = ?",
                        (self.switch.clock.stamp(), nri, ppn),
                    )
                )
        if sent:
            yield self.db.submit(sent)
        return len(sent)

    @inlineCallbacks
    def send_relief(self, ppn: str) -> Any:
        row = self.db.one("SELECT name, dob, ori, nri FROM ppf WHERE ppn = ?", (ppn,))
        if row is None or not row[3]:
            return False  # never reached NICS: the batch skips relieved entries
        answer = yield self._ask(f"NRM.{row[2]}.NRI/{row[3]}", row[2])
        if answer is None:
            return False
        yield self.db.submit(
            [("UPDATE ppf SET relief_sent = ? WHERE ppn = ?", (self.switch.clock.stamp(), ppn))]
        )
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
            r[6]: dict(zip(FIELDS, r, strict=True))
            for r in self.db.query(
                "SELECT ppn, name, dob, sex, pca, ori, nri FROM ppf "
                "WHERE relieved = '' AND nri != ''"
            )
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
