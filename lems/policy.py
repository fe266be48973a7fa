"""Who may do what (OAR 257-010-0025 and -0045, RULES.md R1-R4, R8, R9, R11, R12, spoofed ORIs).

``Policy.check`` is pure: it reads the directory and the lab date and returns a ``Reject`` naming
the rule, or None. The switch journals the decision and answers with the reject.
``Policy.disseminate`` applies the rules of delivery (R8: no FBI criminal history to a terminal
that is not criminal justice; R9: no criminal history over radio) to each message the switch
queues: the record, or a notice in its place, and the disposition journaled.
"""

from __future__ import annotations

from datetime import date

from formats import responses
from formats.dictionary import KeySpec
from formats.errors import Reject
from formats.message import Message
from formats.rejects import RejectCode
from lems.directory import Directory
from lems.lab import AgencyConfig

ALWAYS = frozenset({"LOGON", "LOGOFF", "ACK"})

DEFAULT_KEYS: dict[str, frozenset[str] | None] = {
    "cj": None,  # every key
    "designated": frozenset({"QCH", "AM", "EPP", "XPP", "QPP"}),
    "riss": frozenset({"QCH", "QW", "QV", "QG", "QA", "QB", "QM", "AM"}),
    "qe": frozenset({"QFC"}),
    "noncj": frozenset({"QCH"}),
}
"""Keys each agency category may send when its agreement lists none (R1, R5, R6)."""

CCH_UPDATE_VERBS = frozenset({"enter", "modify", "cancel", "clear"})
CHRI_FILES = frozenset({"iii", "chri"})
CONSENT_PURPOSES = frozenset({"I", "J"})

CITES = {
    "oregon": {"noncj": "OAR 257-010-0025(3)", "radio": "OAR 257-010-0025(9)"},
    "generic": {"noncj": "28 CFR 20.33", "radio": "CJIS SECURITY POLICY 5.10"},
}
"""What a dissemination notice cites, per lab rule set (docs/FEDERATION.md, Rule sets)."""


class Policy:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def allowed_keys(self, agency: AgencyConfig) -> frozenset[str] | None:
        """None means every key."""
        return agency.keys if agency.keys is not None else DEFAULT_KEYS[agency.category]

    def check(self, terminal: str, msg: Message, spec: KeySpec, today: date) -> Reject | None:
        d = self.directory
        key = spec.key
        if key in ALWAYS:
            return None
        ori = msg.ori
        term = d.terminals[terminal]
        if ori not in term.oris:
            return Reject(
                RejectCode.SPOOF,
                f"ORI {ori} IS NOT AUTHORIZED FOR TERMINAL {terminal} - ATTEMPT LOGGED",
                "ORI",
            )
        agency = d.agencies.get(ori)
        if agency is None:
            return Reject(RejectCode.UNKNOWN_ORI, f"ORI {ori} IS NOT IN THE DIRECTORY", "ORI")
        if ori in d.suspended:
            why = d.suspended[ori]
            return Reject(
                RejectCode.SUSPENDED,
                f"ACCESS FOR ORI {ori} IS SUSPENDED"
                + (f" - {why}" if why else "")
                + " - CONTACT LEDS",
                "ORI",
            )
        if not agency.agreement:
            return Reject(
                RejectCode.NO_AGREEMENT, f"NO AGENCY AGREEMENT ON FILE FOR ORI {ori}", "ORI"
            )
        if agency.agreement_expires is not None and agency.agreement_expires < today:
            return Reject(
                RejectCode.EXPIRED_AGREEMENT,
                f"AGENCY AGREEMENT FOR ORI {ori} EXPIRED {agency.agreement_expires.isoformat()}",
                "ORI",
            )
        allowed = self.allowed_keys(agency)
        if allowed is not None and key not in allowed and msg.key not in allowed:
            return Reject(
                RejectCode.KEY_NOT_ALLOWED,
                f"MKE {key} NOT AUTHORIZED FOR {agency.category.upper()} ORI {ori}",
                "MKE",
            )
        if spec.file == "cch" and spec.verb in CCH_UPDATE_VERBS and not agency.cch_entry:
            return Reject(
                RejectCode.NOT_DESIGNATED,
                f"ORI {ori} IS NOT DESIGNATED TO ENTER OR UPDATE CCH",
                "MKE",
            )
        if spec.file in CHRI_FILES and agency.category != "cj":
            return Reject(
                RejectCode.CJ_ONLY,
                f"{spec.label} IS FOR CRIMINAL JUSTICE AGENCIES ONLY - "
                f"ORI {ori} IS {agency.category.upper()}",
                "MKE",
            )
        if (
            agency.category == "designated"
            and spec.file == "cch"
            and spec.verb == "query"
            and (msg.get("PUR") not in CONSENT_PURPOSES or not msg.get("ATN"))
        ):
            return Reject(
                RejectCode.CONSENT_REQUIRED,
                "DESIGNATED AGENCY REQUESTS NEED PUR/I OR PUR/J AND "
                "ATN/ (SUBJECT CONSENT OR NOTICE)",
                "PUR",
            )
        return None

    def disseminate(self, terminal: str, body: str, sensitive: str) -> tuple[str, str]:
        """Rules applied at delivery: R8 (no FBI record to non-CJ) and R9 (no record by radio).
        The body to queue for ``terminal`` (the record, or a notice in its place) and the
        journal disposition (``queued``, ``withheld-noncj``, ``withheld-radio``)."""
        if not sensitive:
            return body, "queued"
        term = self.directory.terminals.get(terminal)
        key, ori = responses.first_line_key(body)
        if key == "NRC":  # "no record" holds no record: it goes anywhere, radio included
            return body, "queued"
        if sensitive == "iii" and not self.directory.terminal_is_cj(terminal):
            return "\n".join(
                [
                    responses.head("NTC", ori),
                    "FBI CRIMINAL HISTORY NOT DELIVERED - RECEIVING TERMINAL IS NOT A CRIMINAL "
                    f"JUSTICE AGENCY ({CITES[self.directory.lab.rules]['noncj']})",
                ]
            ), "withheld-noncj"
        if term is not None and term.radio:
            return "\n".join(
                [
                    responses.head("NTC", ori),
                    f"CRIMINAL HISTORY RECORD ({key}) ON FILE - NOT SENT OVER RADIO TO {terminal}",
                    f"REQUEST IT AT A WIRED TERMINAL ({CITES[self.directory.lab.rules]['radio']})",
                ]
            ), "withheld-radio"
        return body, "queued"
