"""Policy.check, rule by rule, against the demo lab's directory: a failing and a passing case."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from support import TODAY, demo_lab

from formats.dictionary import Dictionary
from formats.grammar import Parser
from formats.rejects import RejectCode
from lems.directory import Directory
from lems.lab import AgencyConfig, LabConfig, TerminalConfig
from lems.policy import Policy

DICTIONARY = Dictionary.default()
PARSER = Parser(DICTIONARY)

QW = "QW.{ori}.NAM/DOE,JOHN.DOB/19800101"
QV = "QV.{ori}.LIC/ABC123"
QFC = "QFC.{ori}.NAM/DOE,JOHN.DOB/19800101.SEX/M.CRI/VOL1.ATN/SCREENER"
EAR = "EAR.{ori}.NAM/DOE,JOHN.SEX/M.RAC/W.DOB/19800101.DOA/20261120.CHG/5015"
QH = "QH.{ori}.PUR/C.NAM/DOE,JOHN.DOB/19800101.SEX/M"
IQ = "IQ.{ori}.WA.TXT\nPUR/C.ATN/DET SMITH.SOC/912345678"
QCH = "QCH.{ori}.{extra}NAM/DOE,JOHN.DOB/19800101"
AM = "AM.{ori}.OR0260000.TXT\nMEET AT THE COUNTY LINE"


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> LabConfig:
    return demo_lab(tmp_path_factory.mktemp("policy"))


def directory(lab: LabConfig, **changes: dict) -> Directory:
    """A fresh directory of ``lab`` with some agencies changed: ``ORI={attr: value}``."""
    agencies = dict(lab.agencies)
    for ori, attrs in changes.items():
        agencies[ori] = dataclasses.replace(agencies[ori], **attrs)
    return Directory(dataclasses.replace(lab, agencies=agencies))


def check(d: Directory, terminal: str, template: str, today=TODAY, **kw: str):
    ori = kw.pop("ori", None) or d.terminals[terminal].oris[0]
    msg = PARSER.parse(template.format(ori=ori, **kw))
    return Policy(d).check(terminal, msg, DICTIONARY.keys[msg.full_key], today)


def assert_reject(result, code: str, field: str, *words: str) -> None:
    assert result is not None, f"expected {code}"
    assert (result.code, result.field) == (code, field), result
    for w in words:
        assert w in result.reason, result.reason


# ---------------------------------------------------------------------- SPOOF


def test_spoof_ori_not_bound_to_terminal(lab):
    d = directory(lab)
    assert_reject(
        check(d, "T01", QW, ori="OR0260000"),
        RejectCode.SPOOF,
        "ORI",
        "OR0260000",
        "T01",
        "ATTEMPT LOGGED",
    )
    # a cj ORI borrowed by a qualified-entity terminal is a spoof before anything else
    assert_reject(check(d, "T10", QW, ori="OR0240000"), RejectCode.SPOOF, "ORI")


def test_own_ori_passes(lab):
    d = directory(lab)
    assert check(d, "T01", QW) is None
    assert check(d, "T02", QW, ori="OR0240000") is None  # two terminals share an ORI


# ---------------------------------------------------------------------- UNKNOWN-ORI


def test_unknown_ori(tmp_path):
    control = AgencyConfig(ori="ORLEDS000", name="CONTROL", type="SA")
    lab = LabConfig(
        path=tmp_path / "lab.toml",
        name="built",
        state="OR",
        database=tmp_path / "lab.db",
        agencies={"ORLEDS000": control},
        terminals={
            "T00": TerminalConfig("T00", ("ORLEDS000",)),
            "T99": TerminalConfig("T99", ("OR0990000", "ORLEDS000")),
        },
    )
    d = Directory(lab)
    assert_reject(
        check(d, "T99", QW, ori="OR0990000"),
        RejectCode.UNKNOWN_ORI,
        "ORI",
        "OR0990000 IS NOT IN THE DIRECTORY",
    )
    assert check(d, "T99", QW, ori="ORLEDS000") is None
    assert check(d, "T00", QW) is None


# ---------------------------------------------------------------------- SUSPENDED (R12)


def test_suspended(lab):
    d = directory(lab)
    d.suspended["OR0240000"] = "AUDIT FINDING 2026-14"
    r = check(d, "T01", QW)
    assert_reject(
        r,
        RejectCode.SUSPENDED,
        "ORI",
        "OR0240000 IS SUSPENDED - AUDIT FINDING 2026-14 -",
        "CONTACT LEDS",
    )
    assert check(d, "T04", QW) is None  # other agencies are not affected
    d.suspended["OR0260000"] = ""
    r = check(d, "T04", QW)
    assert_reject(r, RejectCode.SUSPENDED, "ORI")
    assert r.reason == "ACCESS FOR ORI OR0260000 IS SUSPENDED - CONTACT LEDS"


def test_reinstated_passes(lab):
    d = directory(lab)
    d.suspended["OR0240000"] = "AUDIT"
    del d.suspended["OR0240000"]
    assert check(d, "T01", QW) is None


# ---------------------------------------------------------------------- NO-AGREEMENT (R1)


def test_no_agreement(lab):
    d = directory(lab, OR0240000={"agreement": False})
    assert_reject(
        check(d, "T01", QW), RejectCode.NO_AGREEMENT, "ORI", "NO AGENCY AGREEMENT", "OR0240000"
    )
    assert check(d, "T04", QW) is None


def test_suspension_is_reported_before_missing_agreement(lab):
    d = directory(lab, OR0240000={"agreement": False})
    d.suspended["OR0240000"] = "X"
    assert_reject(check(d, "T01", QW), RejectCode.SUSPENDED, "ORI")


# ---------------------------------------------------------------------- EXPIRED-AGREEMENT (R11)

CONSENTED = {"extra": "PUR/I.ATN/APPLICANT CONSENT."}


def test_expired_agreement(lab):
    d = directory(lab)
    expires = d.agencies["OR024903Z"].agreement_expires
    assert expires == TODAY - timedelta(days=1)
    assert_reject(
        check(d, "T11", QCH, **CONSENTED),
        RejectCode.EXPIRED_AGREEMENT,
        "ORI",
        f"EXPIRED {expires.isoformat()}",
    )
    assert_reject(
        check(d, "T11", QCH, today=expires + timedelta(days=30), **CONSENTED),
        RejectCode.EXPIRED_AGREEMENT,
        "ORI",
    )


@pytest.mark.parametrize("days_before", [1, 0], ids=["day-before", "last-day"])
def test_agreement_valid_until_it_expires(lab, days_before):
    d = directory(lab)
    expires = d.agencies["OR024903Z"].agreement_expires
    assert check(d, "T11", QCH, today=expires - timedelta(days=days_before), **CONSENTED) is None


# ------------------------------------------------------------------ KEY-NOT-ALLOWED (R1, R5, R6)


def test_qualified_entity_may_not_query_wanted(lab):
    d = directory(lab)
    assert_reject(
        check(d, "T10", QW),
        RejectCode.KEY_NOT_ALLOWED,
        "MKE",
        "MKE QW NOT AUTHORIZED FOR QE ORI OR024902Z",
    )
    assert_reject(check(d, "T10", QCH, extra="PUR/I.ATN/X."), RejectCode.KEY_NOT_ALLOWED, "MKE")


def test_qualified_entity_fitness_check_passes(lab):
    assert check(directory(lab), "T10", QFC) is None


def test_designated_and_riss_default_keys(lab):
    d = directory(lab)
    assert_reject(check(d, "T08", QW), RejectCode.KEY_NOT_ALLOWED, "MKE", "DESIGNATED")
    assert_reject(check(d, "T09", EAR), RejectCode.KEY_NOT_ALLOWED, "MKE", "RISS")
    assert check(d, "T09", QW) is None
    assert check(d, "T08", AM) is None


def test_agency_keys_override_the_category(lab):
    d = directory(lab, OR0240000={"keys": frozenset({"QW"})})
    assert check(d, "T01", QW) is None
    assert_reject(check(d, "T01", QV), RejectCode.KEY_NOT_ALLOWED, "MKE", "CJ ORI OR0240000")


def test_cj_may_send_every_key(lab):
    d = directory(lab)
    for template in (QW, QV, QH, QCH.replace("{extra}", "PUR/C."), AM):
        assert check(d, "T01", template) is None, template


# ---------------------------------------------------------------------- NOT-DESIGNATED (R2)


def test_cch_entry_needs_designation(lab):
    assert_reject(
        check(directory(lab), "T01", EAR),
        RejectCode.NOT_DESIGNATED,
        "MKE",
        "OR0240000 IS NOT DESIGNATED TO ENTER OR UPDATE CCH",
    )


def test_identification_services_may_enter_cch(lab):
    d = directory(lab)
    assert d.terminals["T07"].oris == ("ORSIR0000",)
    assert check(d, "T07", EAR) is None


# ---------------------------------------------------------------------- CJ-ONLY (R3)


@pytest.mark.parametrize("template", [QH, IQ], ids=["QH", "IQ"])
def test_iii_and_chri_for_criminal_justice_only(lab, template):
    d = directory(
        lab,
        OR024901Z={"keys": frozenset({"QH", "IQ", "QCH"})},
        ORRISS000={"keys": frozenset({"QH", "IQ"})},
    )
    assert_reject(
        check(d, "T08", template),
        RejectCode.CJ_ONLY,
        "MKE",
        "FOR CRIMINAL JUSTICE AGENCIES ONLY",
        "OR024901Z IS DESIGNATED",
    )
    assert_reject(check(d, "T09", template), RejectCode.CJ_ONLY, "MKE", "IS RISS")
    assert check(d, "T01", template) is None
    assert check(d, "T06", template) is None  # a court is criminal justice too


# ---------------------------------------------------------------------- CONSENT-REQUIRED (R4)


@pytest.mark.parametrize(
    "extra",
    ["PUR/C.", "PUR/I.", "PUR/C.ATN/APPLICANT CONSENT."],
    ids=["no-consent-purpose-no-atn", "no-atn", "wrong-purpose"],
)
def test_designated_cch_query_needs_consent(lab, extra):
    assert_reject(
        check(directory(lab), "T08", QCH, extra=extra),
        RejectCode.CONSENT_REQUIRED,
        "PUR",
        "PUR/I OR PUR/J AND ATN/",
    )


@pytest.mark.parametrize(
    "extra", ["PUR/I.ATN/APPLICANT CONSENT.", "PUR/J.ATN/NOTICE GIVEN."], ids=["PUR-I", "PUR-J"]
)
def test_designated_cch_query_with_consent_passes(lab, extra):
    assert check(directory(lab), "T08", QCH, extra=extra) is None


def test_cj_cch_query_needs_no_consent(lab):
    assert check(directory(lab), "T01", QCH, extra="PUR/C.") is None


# ---------------------------------------------------------------------- always allowed


@pytest.mark.parametrize(
    "text", ["LOGON.{t}.OP01.train-01", "ACK.42", "LOGOFF.{t}"], ids=["LOGON", "ACK", "LOGOFF"]
)
@pytest.mark.parametrize("terminal", ["T01", "T10", "T11", "T08"])
def test_session_keys_always_allowed(lab, text, terminal):
    d = directory(lab, OR0240000={"agreement": False})
    d.suspended.update({"OR024902Z": "X", "OR024901Z": "Y"})
    msg = PARSER.parse(text.format(t=terminal))
    assert Policy(d).check(terminal, msg, DICTIONARY.keys[msg.key], TODAY) is None


def test_policy_does_not_touch_the_lab(lab):
    before = dict(lab.agencies)
    directory(lab, OR0240000={"agreement": False})
    assert lab.agencies == before
    assert Path(lab.path).exists()


# ---------------------------------------------------------------------- R8, R9 at delivery

RECORD = "QR.OR0240000\nCRIMINAL HISTORY RECORD OF DOE,JOHN"


def test_criminal_history_is_not_sent_over_radio(lab):
    policy = Policy(directory(lab))
    body, disposition = policy.disseminate("T05", RECORD, "cch")
    assert disposition == "withheld-radio"
    assert body.split("\n")[0].startswith("NTC.")
    assert "NOT SENT OVER RADIO TO T05" in body and "OAR 257-010-0025(9)" in body
    assert policy.disseminate("T01", RECORD, "cch") == (RECORD, "queued")  # a wired CJ desk
    assert policy.disseminate("T05", RECORD, "") == (RECORD, "queued")  # not criminal history


def test_fbi_history_is_not_sent_to_a_non_cj_terminal(lab):
    d = directory(lab)
    assert not d.terminal_is_cj("T08")
    body, disposition = Policy(d).disseminate("T08", RECORD, "iii")
    assert disposition == "withheld-noncj" and "OAR 257-010-0025(3)" in body
    generic = Policy(Directory(dataclasses.replace(lab, rules="generic")))
    assert "28 CFR 20.33" in generic.disseminate("T08", RECORD, "iii")[0]


def test_no_record_goes_anywhere(lab):
    nrc = "NRC.OR0260200\nNO RECORD"
    assert Policy(directory(lab)).disseminate("T05", nrc, "cch") == (nrc, "queued")
