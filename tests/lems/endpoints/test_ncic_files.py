"""NCIC's 21 files: each file's transactions, its hit header and caveat, its NIC letter, and the
documented edits (dates not in the future, field dependencies, duplicates -> REJECT ON FILE)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from ncic_cases import LOCAL

from formats.nic import FILE_LETTERS
from lems.endpoints.ncic import NcicStore
from lems.endpoints.ncic_files import FILES, QW_FILES, by_name

OWN, OTHER = "OR0240000", "OR0260000"
P = "SEX/M.RAC/W.HGT/510.WGT/175.HAI/BRO"


def ask(ncic, text: str, ori: str = OWN) -> list[str]:
    return ncic.handle(text, ori, "T01").bodies


def one(ncic, text: str, ori: str = OWN) -> str:
    bodies = ask(ncic, text, ori)
    assert len(bodies) == 1, bodies
    return bodies[0]


def nic_of(body: str) -> str:
    return re.search(r"NIC/([A-Z]\d{9})", body).group(1)


def test_the_table_has_the_21_files_with_distinct_letters() -> None:
    assert len(FILES) == 21
    assert len({f.name for f in FILES}) == 21
    assert len({f.letter for f in FILES}) == 21
    assert set(FILE_LETTERS) == {f.name for f in FILES}
    assert sum(f.person for f in FILES) == 14  # 14 person files, 7 property files (NCIC)


@pytest.mark.parametrize("file", sorted(LOCAL))
def test_file_lifecycle(ncic, file: str) -> None:
    enter, query, modify, cancel, clear, locate = LOCAL[file]
    f = by_name(file)
    acc = one(ncic, enter.format(o=OWN))
    assert acc.startswith(f"ACC.{OWN}") and "ENTERED" in acc, acc
    nic = nic_of(acc)
    assert nic[0] == f.letter
    dup = one(ncic, enter.format(o=OWN))
    assert dup.split("\n")[1] == "REJECT ON FILE" and f"NIC/{nic}" in dup
    hit = one(ncic, query.format(o=OTHER), OTHER)
    assert hit.startswith(f"HIT.{OTHER}") and f"MKE/{f.words}" in hit and f"NIC/{nic}" in hit
    for line in f.caveat:
        assert line.split(" ")[0] in hit  # the file's own caveat heads the hit
    assert "NOT-OWNER" in one(ncic, modify.format(o=OTHER, n=nic), OTHER)
    assert "MODIFIED" in one(ncic, modify.format(o=OWN, n=nic))
    if locate:
        assert "LOCATED" in one(ncic, locate.format(o=OTHER, n=nic), OTHER)
        assert ncic.emit.items[-1][0] == OWN and "$.L." in ncic.emit.items[-1][1]
    if clear:
        assert "CLEARED" in one(ncic, clear.format(o=OWN, n=nic))
        assert one(ncic, query.format(o=OWN)).startswith("NRC.")
    else:
        assert "CANCELLED" in one(ncic, cancel.format(o=OWN, n=nic))
        assert one(ncic, query.format(o=OWN)).startswith("NRC.")
        return
    nic2 = nic_of(one(ncic, enter.format(o=OWN)))
    assert "CANCELLED" in one(ncic, cancel.format(o=OWN, n=nic2))


@pytest.mark.parametrize("file", ["kst", "immigration", "foreign", "ndtf"])
def test_federal_files_are_seeded_only_and_returned_by_qw(ncic, file: str) -> None:
    store: NcicStore = ncic.store
    store.insert(
        file,
        file.upper(),
        "DCFBIWA3Y",
        "F1",
        [("NAM", "MOSS,GINA"), ("SEX", "F"), ("RAC", "W"), ("DOB", "19810707"), ("OCA", "F1")],
        "2026-11-01T12:00:00+00:00",
    )
    bodies = ask(ncic, f"QW.{OTHER}.NAM/MOSS,GINA.DOB/19810707", OTHER)
    f = by_name(file)
    assert len(bodies) == 1 and f"MKE/{f.words}" in bodies[0]
    assert f.caveat[0] in bodies[0].replace("\n", " ")
    assert not f.local_entry and file in QW_FILES


def test_qw_returns_every_person_file_each_with_its_caveat(ncic) -> None:
    for file in ("gang", "sor", "violent", "identity"):
        text = (
            LOCAL[file][0]
            .replace("NAM/GREY,ALAN", "NAM/PAGE,ROSS")
            .replace("NAM/HALE,BRUNO", "NAM/PAGE,ROSS")
            .replace("NAM/LOWE,FRED", "NAM/PAGE,ROSS")
            .replace("NAM/KERR,ELLA", "NAM/PAGE,ROSS")
        )
        text = re.sub(r"DOB/\d{8}", "DOB/19800808", text).replace("SEX/F", "SEX/M")
        assert one(ncic, text.format(o=OWN)).startswith("ACC."), text
    bodies = ask(ncic, f"QW.{OTHER}.NAM/PAGE,ROSS.DOB/19800808", OTHER)
    words = sorted(re.search(r"MKE/([A-Z ]+)", b).group(1) for b in bodies)
    assert words == ["GANG MEMBER", "IDENTITY THEFT", "SEXUAL OFFENDER", "VIOLENT PERSON"]
    identity = next(b for b in bodies if "MKE/IDENTITY THEFT" in b)
    assert "PASSWORD" in identity and "PWD/BLUEJAY" in identity


def test_qwi_answers_hot_files_and_iii(ncic) -> None:
    one(ncic, f"EW.{OWN}.NAM/QUINN,ROY.{P}.OFF/1299.DOW/20261101.OCA/Q1.DOB/19790909")
    bodies = ask(ncic, f"QWI.{OTHER}.NAM/QUINN,ROY.DOB/19790909.SEX/M.PUR/C", OTHER)
    assert "MKE/WANTED PERSON" in bodies[0]
    assert len(bodies) >= 2  # the III answer follows


def test_no_record_echoes_the_nic_asked(ncic) -> None:
    body = one(ncic, f"QW.{OTHER}.NIC/W000000010", OTHER)
    assert body.startswith("NRC.") and "NO NCIC WANT NIC/W000000010" in body


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        (
            f"EW.{OWN}.NAM/DOE,JON.{P}.OFF/1299.DOW/20261101.OCA/E1.DOB/20301231",
            "DOB",
            "DOB/20301231 CANNOT BE LATER THAN THE CURRENT DATE 20261123",
        ),
        (
            f"EW.{OWN}.NAM/DOE,JON.{P}.OFF/1299.DOW/20261201.OCA/E1.DOB/19800101",
            "DOW",
            "DOW/20261201 CANNOT BE LATER THAN THE CURRENT DATE",
        ),
        (
            f"EW.{OWN}.NAM/DOE,JON.{P}.OFF/1299.DOW/20261101.OCA/E1.DOB/19800101.EXL/2",
            "MIS",
            "EXL/2 REQUIRES THE MIS FIELD - LIMITED EXTRADITION SEE MIS FIELD",
        ),
        (
            f"EW.{OWN}.NAM/DOE,JON.{P}.OFF/4901.DOW/20261101.OCA/E1.DOB/19800101",
            "MIS",
            "OFF/4901 REQUIRES THE MIS FIELD",
        ),
        (
            f"EG.{OWN}.SER/Z1.MAK/SW.CAL/9.TYP/Z.DOT/20261101.OCA/E1",
            "MIS",
            "TYP/Z REQUIRES THE MIS FIELD",
        ),
        (
            f"EW.{OWN}.NAM/DOE,JON.{P}.OFF/1299.DOW/20261101.OCA/E1.DOB/19800101.OLN/A1234",
            "OLS",
            "OLN ENTERED WITHOUT OLS AND OLY",
        ),
        (
            f"EV.{OWN}.VIN/1HGCM82633A004352.VYR/2020.VMA/HOND.VST/4D.VCO/BLK.DOT/20261101.OCA/E1"
            ".LIC/ABC123.LIS/OR",
            "LIY",
            "LIC ENTERED WITHOUT LIY AND LIT",
        ),
    ],
)
def test_documented_edits(ncic, text: str, field: str, words: str) -> None:
    body = one(ncic, text)
    assert body.startswith(f"REJ.{OWN}") and f"FLD/{field}" in body, body
    assert words in body.replace("\n", " ")
    # nothing was entered
    assert ncic.store.count() == 0


def test_dependent_field_present_passes(ncic) -> None:
    body = one(
        ncic,
        f"EW.{OWN}.NAM/DOE,JON.{P}.OFF/1299.DOW/20261101.OCA/E1.DOB/19800101"
        ".EXL/2.MIS/WA OR ID ONLY.OLN/A1234.OLS/OR.OLY/2028",
    )
    assert body.startswith("ACC."), body


def test_duplicate_by_other_criteria_than_oca(ncic) -> None:
    """Same SOC and ORI under a new case number is still the same person on file."""
    one(ncic, f"EW.{OWN}.NAM/DOE,JON.{P}.OFF/1299.DOW/20261101.OCA/D1.DOB/19800101.SOC/912345678")
    dup = one(
        ncic,
        f"EW.{OWN}.NAM/DOE,JONATHAN.{P}.OFF/1299.DOW/20261101.OCA/D2.DOB/19800102.SOC/912345678",
    )
    assert dup.split("\n")[1] == "REJECT ON FILE" and "MKE/WANTED PERSON" in dup
    # another agency may enter its own warrant for the same person
    other = one(
        ncic,
        f"EW.{OTHER}.NAM/DOE,JON.{P}.OFF/1299.DOW/20261101.OCA/D1.DOB/19800101.SOC/912345678",
        OTHER,
    )
    assert other.startswith("ACC.")
    # a stolen vehicle is on file once, whoever enters it (VIN and make)
    ev = "EV.{o}.VIN/1HGCM82633A004352.VYR/2020.VMA/HOND.VST/4D.VCO/BLK.DOT/20261101.OCA/{c}"
    assert one(ncic, ev.format(o=OWN, c="V1")).startswith("ACC.")
    assert "REJECT ON FILE" in one(ncic, ev.format(o=OTHER, c="V9"), OTHER)


def test_vehicle_suffix_p_is_hold_for_latent_prints(ncic) -> None:
    acc = one(
        ncic,
        f"EV-P.{OWN}.VIN/1HGCM82633A004352.VYR/2020.VMA/HOND.VST/4D.VCO/BLK.DOT/20261101.OCA/V7",
    )
    assert acc.startswith("ACC.") and "STOLEN VEHICLE ENTERED" in acc
    hit = one(ncic, f"QV.{OTHER}.VIN/1HGCM82633A004352", OTHER)
    assert "MKE/STOLEN VEHICLE - HOLD FOR LATENT PRINTS" in hit
    # an undocumented suffix is refused by the parser
    assert "INVALID MESSAGE KEY SUFFIX" in one(ncic, f"EV-Q.{OWN}.VIN/1HGCM82633A004352")


def test_times_print_in_the_lab_zone(tmp_path, clock) -> None:
    from zoneinfo import ZoneInfo

    from lems.clock import LabClock
    from lems.endpoints.ncic import Ncic

    start = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    ncic = Ncic.open(
        tmp_path / "z.db", LabClock(clock, 1.0, start), tz=ZoneInfo("America/Los_Angeles")
    )
    ncic.emit = lambda *a: None
    try:
        acc = one(ncic, f"EW.{OWN}.NAM/DOE,JON.{P}.OFF/1299.DOW/20261101.OCA/Z1.DOB/19800101")
        assert acc.split("\n")[-1] == "DTE/20261123 0630 PST"  # 14:30 UTC
        hit = one(ncic, f"QW.{OTHER}.NAM/DOE,JON.DOB/19800101", OTHER)
        assert re.search(r"DTE/20261123 0630 PST", hit)
    finally:
        ncic.close()


def test_hit_on_protective_interest_sends_the_owner_a_dollar_h(ncic) -> None:
    one(ncic, LOCAL["protective"][0].format(o=OWN))
    one(ncic, LOCAL["protective"][1].format(o=OWN))  # the owner's own inquiry: no notice
    assert ncic.emit.items == []
    one(ncic, LOCAL["protective"][1].format(o=OTHER), OTHER)
    ori, notice, _, _ = ncic.emit.items[-1]
    assert ori == OWN and notice.split("\n")[1] == "$.H."
    assert f"INQUIRY ON YOUR PROTECTIVE INTEREST RECORD BY ORI/{OTHER}" in notice


def test_retention_retires_the_record_and_tells_the_owner(ncic, clock) -> None:
    """A protection order is kept until its expiration date: the day after it, on the lab
    clock, it is retired (no longer found) and the owner gets a $.P. purge notification; a
    modified EXP moves the day; a record with a keep_days retention (NDTF: 180 days) goes the
    same way."""
    order = f"EPO.{OWN}.NAM/LOWE,MIRA.SEX/F.RAC/W.OCA/P9.DOB/19900606.PNO/PO-9.PCO/05.EXP/{{exp}}"
    nic = nic_of(one(ncic, order.format(exp="20261124")))
    assert "MODIFIED" in one(ncic, f"MPO.{OWN}.NAM/LOWE,MIRA.NIC/{nic}.EXP/20261126")
    q = f"QW.{OTHER}.NAM/LOWE,MIRA.DOB/19900606"
    clock.advance(2 * 86400)  # 2026-11-25: past the first EXP, not the modified one
    assert ncic.emit.items == [] and "HIT" in one(ncic, q, OTHER)
    ndtf = ncic.store.insert(
        "ndtf",
        "NDTF",
        "OR0000001",
        "",
        [("NAM", "MOSS,NED"), ("DOB", "19850707"), ("SEX", "M"), ("NTN", "T9")],
        ncic.now().isoformat(timespec="seconds"),
    )
    clock.advance(2 * 86400)  # 2026-11-27: the order's last day (26th) is over
    ori, notice, _, _ = ncic.emit.items[-1]
    lines = notice.split("\n")
    assert ori == OWN and lines[:2] == [f"NTF.{OWN}", "$.P."], notice
    assert "PURGE NOTIFICATION - YOUR PROTECTION ORDER RECORD WAS RETIRED" in notice
    assert "EXP/20261126 HAS PASSED" in notice and f"NIC/{nic}" in notice
    assert one(ncic, q, OTHER).startswith(f"NRC.{OTHER}")
    assert "NO ACTIVE" in one(ncic, f"MPO.{OWN}.NAM/LOWE,MIRA.NIC/{nic}.EXP/20271231")
    count = len(ncic.emit.items)
    clock.advance(180 * 86400)
    assert len(ncic.emit.items) == count + 1 and ndtf in ncic.emit.items[-1][1]
    assert "RETENTION PERIOD OF 180 DAYS FROM ENTRY HAS ENDED" in ncic.emit.items[-1][1]
    assert ncic.store.by_nic(ndtf).status == "retired"
