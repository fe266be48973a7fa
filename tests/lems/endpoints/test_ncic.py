"""Mock NCIC: every hot file's transactions, ownership, and each search rule."""

from __future__ import annotations

import re

import pytest

from formats.nic import is_valid_nic

OWN, OTHER = "OR0240000", "OR0260000"
PERSON = "SEX/M.RAC/W.HGT/510.WGT/175.HAI/BRO"


def ask(ncic, text: str, ori: str = OWN) -> list[str]:
    return ncic.handle(text, ori, "T01").bodies


def one(ncic, text: str, ori: str = OWN) -> str:
    bodies = ask(ncic, text, ori)
    assert len(bodies) == 1, bodies
    return bodies[0]


def nic_of(body: str) -> str:
    nic = re.search(r"NIC/([A-Z]\d{9})", body).group(1)
    assert is_valid_nic(nic)
    return nic


def enter_wanted(ncic, name="SMITH,JOHN J", dob="19800101", oca="26-1", race="W", extra="") -> str:
    body = one(
        ncic,
        f"EW.{OWN}.NAM/{name}.SEX/M.RAC/{race}.HGT/510.WGT/175.HAI/BRO.OFF/1299."
        f"DOW/20261101.OCA/{oca}.DOB/{dob}{extra}",
    )
    assert body.startswith(f"ACC.{OWN}") and "WANTED PERSON ENTERED" in body, body
    return nic_of(body)


# ------------------------------------------------------------------ entries per file

FILES = [
    # (entry, query, modify field, cancel, clear, locate)
    (
        "EW.{o}.NAM/DOE,JANE.SEX/F.RAC/W.HGT/505.WGT/120.HAI/BLN.OFF/1299.DOW/20261101.OCA/W1"
        ".DOB/19900101",
        "QW.{o}.NAM/DOE,JANE.DOB/19900101",
        "MW.{o}.NAM/DOE,JANE.NIC/{n}.WGT/125",
        "XW.{o}.NAM/DOE,JANE.NIC/{n}",
        "CW.{o}.NAM/DOE,JANE.NIC/{n}.DCL/20261123",
        "LW.{o}.NAM/DOE,JANE.NIC/{n}.DOL/20261123",
        "W",
    ),
    (
        "EMO.{o}.NAM/ROE,AMY.SEX/F.RAC/W.DOB/20100101.HGT/410.WGT/80.EYE/BLU.HAI/BLN.DLC/20261101"
        ".OCA/M1",
        "QM.{o}.NAM/ROE,AMY.DOB/20100101",
        "MM.{o}.NAM/ROE,AMY.NIC/{n}.WGT/85",
        "XM.{o}.NAM/ROE,AMY.NIC/{n}",
        "CM.{o}.NAM/ROE,AMY.NIC/{n}.DCL/20261123",
        "LM.{o}.NAM/ROE,AMY.NIC/{n}.DOL/20261123",
        "M",
    ),
    (
        "EV.{o}.VIN/1HGCM82633A004352.VYR/2020.VMA/HOND.VST/4D.VCO/BLK.DOT/20261101.OCA/V1"
        ".LIC/ABC123.LIS/OR.LIY/2027.LIT/PC",
        "QV.{o}.VIN/1HGCM82633A004352",
        "MV.{o}.NIC/{n}.VCO/WHI",
        "XV.{o}.NIC/{n}",
        "CV.{o}.NIC/{n}.DCL/20261123",
        "LV.{o}.NIC/{n}.DOL/20261123",
        "V",
    ),
    (
        "EG.{o}.SER/AB1234.MAK/GLC.CAL/9.TYP/P.DOT/20261101.OCA/G1",
        "QG.{o}.SER/AB1234",
        "MG.{o}.NIC/{n}.MOD/19",
        "XG.{o}.NIC/{n}",
        "CG.{o}.NIC/{n}.DCL/20261123",
        "LG.{o}.NIC/{n}.DOL/20261123",
        "G",
    ),
    (
        "EA.{o}.TYP/RTELEVI.SER/TV998.DOT/20261101.OCA/A1",
        "QA.{o}.SER/TV998",
        "MA.{o}.NIC/{n}.BRA/ACME",
        "XA.{o}.NIC/{n}",
        "CA.{o}.NIC/{n}.DCL/20261123",
        "LA.{o}.NIC/{n}.DOL/20261123",
        "A",
    ),
    (
        "EB.{o}.BTY/RUN.REG/OR1234AB.RES/OR.DOT/20261101.OCA/B1",
        "QB.{o}.REG/OR1234AB",
        "MB.{o}.NIC/{n}.BMA/BLB",
        "XB.{o}.NIC/{n}",
        "CB.{o}.NIC/{n}.DCL/20261123",
        "LB.{o}.NIC/{n}.DOL/20261123",
        "B",
    ),
    (
        "EPO.{o}.NAM/POE,ED.SEX/M.RAC/W.PNO/PO77.EXP/20271231.OCA/P1.DOB/19700101",
        "QPO.{o}.NAM/POE,ED.DOB/19700101",
        "MPO.{o}.NAM/POE,ED.NIC/{n}.PCO/05",
        "XPO.{o}.NAM/POE,ED.NIC/{n}",
        "CPO.{o}.NAM/POE,ED.NIC/{n}.DCL/20261123",
        None,
        "H",
    ),
]


@pytest.mark.parametrize("row", FILES, ids=[r[6] for r in FILES])
def test_file_transactions(ncic, row) -> None:
    enter, query, modify, cancel, clear, locate, letter = row
    acc = one(ncic, enter.format(o=OWN))
    assert acc.startswith("ACC.") and "ENTERED" in acc
    nic = nic_of(acc)
    assert nic[0] == letter
    # a second entry of the same ORI/OCA is a duplicate
    assert "REJECT ON FILE" in one(ncic, enter.format(o=OWN))
    hit = one(ncic, query.format(o=OTHER), OTHER)
    assert hit.startswith(f"HIT.{OTHER}") and f"NIC/{nic}" in hit and f"ORI/{OWN}" in hit
    assert "MKE/" in hit
    # modify: owner only
    assert "NOT-OWNER" in one(ncic, modify.format(o=OTHER, n=nic), OTHER)
    assert "MODIFIED" in one(ncic, modify.format(o=OWN, n=nic))
    field = modify.rsplit(".", 1)[1]
    assert field in one(ncic, query.format(o=OWN))
    if locate:
        acc = one(ncic, locate.format(o=OTHER, n=nic), OTHER)
        assert "LOCATED" in acc
        ori, notice, _, _ = ncic.emit.items[-1]
        assert ori == OWN and "$.L." in notice and OTHER in notice and nic in notice
        assert "LOCATED BY ORI/" + OTHER in one(ncic, query.format(o=OWN))
        assert "RECORD-STATUS" in one(ncic, locate.format(o=OTHER, n=nic), OTHER)
    assert "NOT-OWNER" in one(ncic, clear.format(o=OTHER, n=nic), OTHER)
    assert "CLEARED" in one(ncic, clear.format(o=OWN, n=nic))
    assert one(ncic, query.format(o=OWN)).startswith("NRC.")
    assert "NOT-FOUND" in one(ncic, cancel.format(o=OWN, n=nic))
    # cancel a fresh entry
    nic2 = nic_of(one(ncic, enter.format(o=OWN)))
    assert "CANCELLED" in one(ncic, cancel.format(o=OWN, n=nic2))


def test_unidentified_enter_query_cancel(ncic) -> None:
    nic = nic_of(one(ncic, f"EU.{OWN}.SEX/M.RAC/W.HGT/511.WGT/180.DBF/20261101.OCA/U1"))
    assert nic[0] == "U"
    assert f"NIC/{nic}" in one(ncic, f"QU.{OTHER}.SEX/M.RAC/W.HGT/510", OTHER)
    assert one(ncic, f"QU.{OTHER}.SEX/M.RAC/W.HGT/506", OTHER).startswith("NRC.")
    assert "CANCELLED" in one(ncic, f"XU.{OWN}.NIC/{nic}.OCA/U1")


def test_modify_and_clear_by_oca_within_own_records(ncic) -> None:
    enter_wanted(ncic, oca="CASE-9")
    assert "MODIFIED" in one(ncic, f"MW.{OWN}.NAM/SMITH,JOHN J.OCA/CASE-9.WGT/190")
    assert "NOT-FOUND" in one(ncic, f"MW.{OTHER}.NAM/SMITH,JOHN J.OCA/CASE-9.WGT/190", OTHER)
    assert "NAME-MISMATCH" in one(ncic, f"CW.{OWN}.NAM/SMITH,JANE.OCA/CASE-9.DCL/20261123")


# ------------------------------------------------------------------ search rules


def test_phonetic_surname(ncic) -> None:
    nic = enter_wanted(ncic, name="SMITH,JOHN J")
    for spelling in ("SMYTH,JOHN", "SMITT,J", "SMIDT,JOHNNY"):
        assert f"NIC/{nic}" in one(ncic, f"QW.{OTHER}.NAM/{spelling}.DOB/19800101", OTHER)
    assert one(ncic, f"QW.{OTHER}.NAM/JONES,JOHN.DOB/19800101", OTHER).startswith("NRC.")


def test_dob_exact_unless_expanded(ncic) -> None:
    nic = enter_wanted(ncic, dob="19800101")
    assert one(ncic, f"QW.{OTHER}.NAM/SMITH,JOHN.DOB/19810101", OTHER).startswith("NRC.")
    assert f"NIC/{nic}" in one(ncic, f"QW.{OTHER}.NAM/SMITH,JOHN.DOB/19810101.EXD/Y", OTHER)
    assert f"NIC/{nic}" in one(ncic, f"QW.{OTHER}.NAM/SMITH,JOHN.DOB/19790101.EXD/Y", OTHER)
    assert one(ncic, f"QW.{OTHER}.NAM/SMITH,JOHN.DOB/19820101.EXD/Y", OTHER).startswith("NRC.")


@pytest.mark.parametrize(
    ("record", "asked", "found"),
    [
        ("W", "B", False),
        ("B", "W", False),
        ("W", "W", True),
        ("B", "B", True),
        ("A", "B", True),
        ("A", "W", True),
        ("W", "A", True),
        ("B", "I", True),
        ("W", "U", True),
        ("U", "B", True),
        ("I", "W", True),
    ],
)
def test_race_rule(ncic, record, asked, found) -> None:
    nic = enter_wanted(ncic, race=record)
    body = one(ncic, f"QW.{OTHER}.NAM/SMITH,JOHN.DOB/19800101.RAC/{asked}", OTHER)
    assert (f"NIC/{nic}" in body) is found


def test_name_with_number_searches_the_number_only(ncic) -> None:
    nic = enter_wanted(ncic, extra=".SOC/912345678.FBI/123456AB1.MNU/AS-1234")
    for code, value in (("SOC", "912345678"), ("FBI", "123456AB1"), ("MNU", "AS-1234")):
        # a wrong name with the right number still hits; right name with a wrong number does not
        assert f"NIC/{nic}" in one(ncic, f"QW.{OTHER}.NAM/JONES,BOB.{code}/{value}", OTHER)
    assert one(ncic, f"QW.{OTHER}.NAM/SMITH,JOHN.SOC/999999999", OTHER).startswith("NRC.")


def test_person_query_searches_all_person_files(ncic) -> None:
    one(ncic, f"EPO.{OWN}.NAM/SMITH,JOHN.SEX/M.RAC/W.PNO/PO1.EXP/20271231.OCA/P9.DOB/19800101")
    enter_wanted(ncic)
    one(
        ncic,
        f"EMO.{OWN}.NAM/SMITH,JON.SEX/M.RAC/W.DOB/19800101.HGT/510.WGT/170.EYE/BLU"
        ".HAI/BRO.DLC/20261101.OCA/M9",
    )
    bodies = ask(ncic, f"QW.{OTHER}.NAM/SMITH,JOHN.DOB/19800101", OTHER)
    kinds = {re.search(r"MKE/([A-Z ]+)", b).group(1) for b in bodies}
    assert kinds == {"WANTED PERSON", "PROTECTION ORDER", "MISSING PERSON"}
    assert len(ask(ncic, f"QPO.{OTHER}.NAM/SMITH,JOHN.DOB/19800101", OTHER)) == 1
    assert "PROTECTION ORDER" in one(ncic, f"QPO.{OTHER}.NAM/SMITH,JOHN.DOB/19800101", OTHER)


def test_vin_last_eight_and_linked_person(ncic) -> None:
    one(
        ncic,
        f"EV.{OWN}.VIN/1HGCM82633A004352.VYR/2020.VMA/HOND.VST/4D.VCO/BLK.DOT/20261101"
        ".OCA/26-77.LIC/ABC123.LIS/OR.LIY/2027.LIT/PC",
    )
    nic = enter_wanted(ncic, oca="26-77")
    bodies = ask(ncic, f"QV.{OTHER}.VIN/XXXXXXXXX3A004352", OTHER)
    assert any("MKE/STOLEN VEHICLE" in b for b in bodies)
    assert any(f"NIC/{nic}" in b and "MKE/WANTED PERSON" in b for b in bodies)
    assert len(ask(ncic, f"QV.{OTHER}.LIC/ABC123", OTHER)) == 2
    assert one(ncic, f"QV.{OTHER}.VIN/1HGCM82633A004353", OTHER).startswith("NRC.")


def test_serial_reads_letter_o_as_zero(ncic) -> None:
    nic = nic_of(one(ncic, f"EG.{OWN}.SER/O0123O.MAK/GLC.CAL/9.TYP/P.DOT/20261101.OCA/G5"))
    assert f"NIC/{nic}" in one(ncic, f"QG.{OTHER}.SER/001230", OTHER)
    assert f"NIC/{nic}" in one(ncic, f"QG.{OTHER}.SER/OO123O", OTHER)


def test_no_record_echoes_identifiers(ncic) -> None:
    body = one(ncic, f"QW.{OTHER}.NAM/NOBODY,NEVER.DOB/19990909", OTHER)
    assert body.split("\n", 1)[1].startswith("NO NCIC WANT NAM/NOBODY,NEVER DOB/19990909")


def test_hit_layout_has_words_codes_translated_and_entry_time(ncic) -> None:
    enter_wanted(ncic, extra=".CMC/05.EXL/2.MIS/EXTRADITION WESTERN STATES ONLY")
    body = one(ncic, f"QW.{OTHER}.NAM/SMITH,JOHN.DOB/19800101", OTHER)
    lines = body.split("\n")
    # a wanted person hit has no blanket "do not arrest" caveat: it is a warrant
    assert "DO NOT ARREST" not in body
    assert lines[1] == "MKE/WANTED PERSON - CAUTION"  # CMC present
    assert "CMC/05 - VIOLENT TENDENCIES" in body
    assert "EXL/2 - LIMITED EXTRADITION SEE MIS FIELD" in body
    assert "OFF/ROBBERY" in body
    assert "NAM/SMITH, JOHN J" in body and lines[-1].startswith("IMMED CONFIRM WARRANT")
    # DTE/ with the entry time in the lab clock's zone (the fixture's clock runs in UTC)
    assert re.search(r"NIC/W\d{9} DTE/20261123 1430 UTC", body)


def test_each_person_file_hit_carries_its_own_caveat(ncic) -> None:
    one(ncic, f"EPO.{OWN}.NAM/SMITH,JOHN.SEX/M.RAC/W.PNO/PO1.EXP/20271231.OCA/P9.DOB/19800101")
    body = one(ncic, f"QPO.{OTHER}.NAM/SMITH,JOHN.DOB/19800101", OTHER)
    assert "THE FOLLOWING IS AN NCIC PROTECTION ORDER RECORD" in body
    assert "MKE/PROTECTION ORDER" in body


def test_query_by_nic(ncic) -> None:
    nic = enter_wanted(ncic)
    assert f"NIC/{nic}" in one(ncic, f"QW.{OTHER}.NIC/{nic}", OTHER)
