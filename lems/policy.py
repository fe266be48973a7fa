"""Who may do what (OAR 257-010-0025 and -0045, RULES.md R1-R4, R11, R12, and spoofed ORIs).

``Policy.check`` is pure: it reads the directory and the lab date and returns a ``Reject`` naming
the rule, or None. The switch journals the decision and answers with the reject.
"""

from __future__ import annotations

from datetime import date

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
            return Reject(RejectCode.SPOOF,
                          f"ORI {ori} IS NOT AUTHORIZED FOR TERMINAL {terminal} - "
                          "ATTEMPT LOGGED", "ORI")
        agency = d.agencies.get(ori)
        if agency is None:
            return Reject(RejectCode.UNKNOWN_ORI, f"ORI {ori} IS NOT IN THE DIRECTORY", "ORI")
        if ori in d.suspended:
            why = d.suspended[ori]
            return Reject(RejectCode.SUSPENDED, f"ACCESS FOR ORI {ori} IS SUSPENDED"
                          + (f" - {why}" if why else "") + " - CONTACT LEDS", "ORI")
        if not agency.agreement:
            return Reject(RejectCode.NO_AGREEMENT,
                          f"NO AGENCY AGREEMENT ON FILE FOR ORI {ori}", "ORI")
        if agency.agreement_expires is not None and agency.agreement_expires < today:
            return Reject(RejectCode.EXPIRED_AGREEMENT, f"AGENCY AGREEMENT FOR ORI {ori} EXPIRED "
                          f"{agency.agreement_expires.isoformat()}", "ORI")
        allowed = self.allowed_keys(agency)
        if allowed is not None and key not in allowed and msg.key not in allowed:
            return Reject(RejectCode.KEY_NOT_ALLOWED, f"MKE {key} NOT AUTHORIZED FOR "
                          f"{agency.category.upper()} ORI {ori}", "MKE")
        if spec.file == "cch" and spec.verb in CCH_UPDATE_VERBS and not agency.cch_entry:
            return Reject(RejectCode.NOT_DESIGNATED,
                          f"ORI {ori} IS NOT DESIGNATED TO ENTER OR UPDATE CCH",
                          "MKE")
        if spec.file in CHRI_FILES and agency.category != "cj":
            return Reject(RejectCode.CJ_ONLY,
                          f"{spec.label} IS FOR CRIMINAL JUSTICE AGENCIES ONLY - "
                          f"ORI {ori} IS {agency.category.upper()}", "MKE")
        if agency.category == "designated" and spec.file == "cch" and spec.verb == "query" and (
                msg.get("PUR") not in CONSENT_PURPOSES or not msg.get("ATN")):
            return Reject(RejectCode.CONSENT_REQUIRED,
                          "DESIGNATED AGENCY REQUESTS NEED PUR/I OR PUR/J AND "
                          "ATN/ (SUBJECT CONSENT OR NOTICE)", "PUR")
        return None
