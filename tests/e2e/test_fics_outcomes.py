"""FICS outcomes per NCIC file and state record, against the real in-process NCIC and NICS.

Each case is one purchaser with one record on file; the dealer must get the outcome Oregon's
rules give (``lems.endpoints.prohibitors``) and never the reason, which goes to the journal.
"""

from __future__ import annotations

import re

import pytest
from support import wait
from test_state_services import ARREST, enter_record, journal, lab_switch, settle, with_noncj

DEALER = "FCK.OR024905Z.NAM/{nam}.DOB/{dob}.SEX/{sex}.RAC/W.IDT/DL.IDN/A1234567.DLR/D1001"
WHEN = "2026-11-01T08:00:00+00:00"


def fast(text: str) -> str:
    return re.sub(r"latency_ms = \d+", "latency_ms = 0", with_noncj(text))


def person(nam: str, dob: str, sex: str = "M") -> list[tuple[str, str]]:
    return [("NAM", nam), ("SEX", sex), ("RAC", "W"), ("DOB", dob)]


NCIC_CASES = [
    # (file, extra fields, outcome)
    ("wanted", [("OFF", "1299")], "DENIED"),
    ("wanted", [("OFF", "1299"), ("EXL", "D")], "PENDING"),
    ("missing", [("MNP", "MP"), ("DLC", "20250601")], "APPROVED"),
    ("order", [("PNO", "PO77"), ("EXP", "20271231")], "DENIED"),
    ("order", [("PNO", "PO78"), ("EXP", "20271231"), ("BRD", "N")], "APPROVED"),
    ("ndtf", [("NTN", "N000000077")], "PENDING"),
]

LEAKS = (
    "REASON/",
    "WANTED",
    "PROTECTION",
    "MISSING",
    "NICS DENIED",
    "NIC/",
    "PPN/",
    "PCA/",
    "CONVICTION",
    "SID/",
    "NOT AVAILABLE",
)


def assert_no_reason(body: str) -> None:
    for word in LEAKS:
        assert word not in body, (word, body)


@pytest.mark.parametrize(
    ("file", "extra", "outcome"),
    NCIC_CASES,
    ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(NCIC_CASES)],
)
async def test_fics_outcome_per_ncic_person_file(tmp_path, reactor, file, extra, outcome):
    async with lab_switch(tmp_path, reactor, edit=fast) as sw:
        system = sw.router.services["ncic"].server.system
        nam, dob = "KESTREL,ODESSA", "19790214"
        system.store.insert(
            file, "E", "OR0240000", "26-3001", [*person(nam, dob, "F"), *extra], WHEN
        )
        dealer = await sw.term("T13")
        out = await wait(dealer.request(DEALER.format(nam=nam, dob=dob, sex="F")))
        assert out.key == "FCR", out.body
        assert f"STATUS/{outcome}" in out.body, out.body
        assert_no_reason(out.body)
        ftn = out.body.split("FTN/")[1].split()[0]
        if outcome == "APPROVED":
            assert "APPROVAL NUMBER" in " ".join(out.body.split())
        await settle(sw)
        rows = journal(sw, "key = 'FCK' AND disposition = ?", f"fics-{outcome.lower()}")
        assert len(rows) == 1 and f"FTN/{ftn}" in rows[0][6]
        assert rows[0][1] == "T13" and rows[0][2] == "OR024905Z"
        why = rows[0][5]
        words = {
            "wanted": "WANTED PERSON",
            "missing": "MISSING",
            "order": "PROTECTION ORDER",
            "ndtf": "NICS DENIED TRANSACTION",
        }[file]
        assert words in why, why
        assert "NOT AVAILABLE" not in why, why  # NICS answered: it was up
        stored = sw.state.db.reader.execute(
            "SELECT result, reason FROM fics_check WHERE ftn = ?", (ftn,)
        ).fetchone()
        assert stored[0] == outcome and words in stored[1]


async def test_fics_state_records_decide_without_telling_the_dealer(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor, edit=fast) as sw:
        dealer = await sw.term("T13")
        isb = await sw.term("T07")
        # a clean purchaser is approved, the FTN being the approval number
        out = await wait(dealer.request(DEALER.format(nam="WREN,HOLLIS", dob="19820303", sex="M")))
        assert "STATUS/APPROVED" in out.body
        # an open felony arrest: pending, research
        sid = await enter_record(sw, isb, ARREST)
        out = await wait(dealer.request(DEALER.format(nam="DOE,JOHN", dob="19800101", sex="M")))
        assert "STATUS/PENDING" in out.body and "RESEARCHING" in out.body
        assert_no_reason(out.body)
        # the felony convicted: denied
        await wait(isb.request(f"EDP.ORSIR0000.SID/{sid}.CYC/1.CHG/2202.DSP/CONV.DOD/20260601"))
        out = await wait(dealer.request(DEALER.format(nam="DOE,JOHN", dob="19800101", sex="M")))
        assert "STATUS/DENIED" in out.body and "MAY ASK" in " ".join(out.body.split())
        assert_no_reason(out.body)
        # a mental-health prohibited person (PPF): denied, no category shown
        await wait(
            (await sw.term("T08")).request(
                "EPP.OR024901Z.NAM/PARSONS,EDNA.DOB/19751212.SEX/F.PCA/D"
            )
        )
        out = await wait(dealer.request(DEALER.format(nam="PARSONS,EDNA", dob="19751212", sex="F")))
        assert "STATUS/DENIED" in out.body
        assert_no_reason(out.body)
        await settle(sw)
        denied = journal(sw, "disposition = 'fics-denied'")
        assert any("FELONY CONVICTION" in r[5] for r in denied)
        assert any("PROHIBITED PERSON" in r[5] and "PCA/D" in r[5] for r in denied)
