"""Mock Nlets against the Nlets User Guide: a corpus in the shapes of the guide's examples (our
own values), the control field, every member, regions and the multi-state query.

Each corpus row is (input, first line of the first answer, text the answers must hold). The
guide article each row follows is named in docs/FIDELITY.md, section Nlets.
"""

from __future__ import annotations

import sqlite3

import pytest
from conftest import START, Sent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from formats import nlets_xml
from formats.errors import Reject
from formats.grammar import Parser
from formats.nlets_members import DOMESTIC, MEMBERS, REGIONS
from lems.clock import LabClock
from lems.endpoints.nlets import Nlets
from lems.endpoints.system import open_db

ORI = "OR0240000"
NIC = "W000000184"

CORPUS = [
    # Driver's License (DQ/DR): RSN optional, OLN or NAM/DOB/SEX, periods at line ends
    (f"DQ.{ORI}.TX.TXT\nRSN/N.\nNAM/SMITH,JOHN.DOB/19500101.SEX/M.", "DR.TXOLN0000", "NOT ON FILE"),
    (f"DQ.{ORI}.AZ.TXT\nOLN/D11111111.IMQ/N", "DR.AZOLN0000", "OLN/D11111111"),
    (f"DQ.{ORI}.AZ.TXT\nRSN/Q.OLN/D11111111", "ER.NL0000000", ".22. INVALID MESSAGE FORMAT"),
    (f"DQG.{ORI}.F1.TXT\nNAM/SMITH,JOHN.DOB/19500101.SEX/M", "DR.ARO", "DR.TXOLN0000"),
    (f"DQ.{ORI}.F1.TXT\nOLN/D11111111", "ER.NL0000000", "OLN NOT VALID TO A REGION (F1)"),
    # Driver History (KQ/KR): one state only; RSN, PUR, ATN optional (PUR no longer demanded)
    (f"KQ.{ORI}.AZ.TXT\nNAM/SMITH,JOHN.DOB/19500101.SEX/M", "KR.AZOLN0000", "NOT ON FILE"),
    (f"KQ.{ORI}.AZ.TXT\nOLN/D11111111.RSN/T.PUR/C.ATN/SGT ROE", "KR.AZOLN0000", "ATN/SGT ROE"),
    (f"KQ.{ORI}.AZ.NM.TXT\nOLN/D11111111", "ER.NL0000000", ".01. INVALID HEADER INFORMATION"),
    (f"KQ.{ORI}.AZ.TXT\nOLN/D11111111.PUR/A", "ER.NL0000000", "INVALID PUR CODE A"),
    (
        f"KQ.{ORI}.E1.TXT\nOLN/D11111111",
        "ER.NL0000000",
        ".02. MESSAGE TYPE NOT ALLOWED TO DESTINATION - REGION CODE E1 NOT",
    ),
    # Vehicle Registration (RQ/RR): the guide's ER example 1 shape
    (
        f"RQ.{ORI}.AZ.TXT\nLIC/123456.LIT/PC",
        "ER.NL0000000",
        ".22. INVALID MESSAGE FORMAT - REFER TO RQ MKE OPTIONS BELOW\n1. LIC, LIY, LIT",
    ),
    (f"RQ.{ORI}.AZ.NM.TXT\nLIC/4KXR221.LIY/2026.LIT/PC.RSN/V", "RR.AZLIC0000", "RR.NMLIC0000"),
    (f"RQ.{ORI}.MT.TXT\nVIN/1FTFW1E50PFA00001", "RR.MTVIN0000", "NOT ON FILE"),
    # CHRI (IQ/IR, FQ/FR, AQ/AR): IQ by name, SOC or MNU; 2-character destinations only
    (f"IQ.{ORI}.TX.TXT\nSOC/912345678.PUR/C.ATN/DET ROE", "IR.TXSIR0000", "ATN/DET ROE"),
    (f"IQ.{ORI}.TX.TXT\nMNU/AS-1234567.PUR/C.ATN/DET ROE", "IR.TXSIR0000", "NOT ON FILE"),
    (
        f"IQ.{ORI}.TX.TXT\nNAM/SMITH,JOHN.DOB/19500101.SEX/M.SOC/912345678.PUR/C.ATN/DET ROE",
        "IR.TXSIR0000",
        "NOT ON FILE",
    ),
    (f"IQ.{ORI}.TX0010000.TXT\nSOC/912345678.PUR/C.ATN/DET ROE", "ER.NL0000000", ".02."),
    (
        f"IQ.{ORI}.CN.TXT\nSOC/912345678.PUR/C.ATN/DET ROE",
        "ER.NL0000000",
        ".06. INVALID MESSAGE FORMAT FOR CN",
    ),
    (f"FQ.{ORI}.TX.TXT\nSID/TX123456.PUR/C.ATN/DET ROE", "FR.TXSIR0000", "NOT ON FILE"),
    (
        f"AQ.{ORI}.TX.TXT\nSID/TX123456.PUR/C.ATN/DET ROE.REM/PLEASE SEND DISPOSITIONS",
        "AR.TXSIR0000",
        "NOT ON FILE",
    ),
    (f"FQ.{ORI}.TX.TXT\nSID/TX123456.ATN/DET ROE", "ER.NL0000000", ".14. FIELDS MISSING"),
    # Hit confirmation (YQ): the guide's ER example 2 shape, own values, periods at line ends
    (
        f"YQ.{ORI}.AZ0010000.TXT\nRTY/SS.RNO/1.PRI/R.OCA/10000000000.NIC/{NIC}.\n"
        "SER/110011001100.TYP/BD.DEN/1000.\nRNA/SGT ROE.RAG/CASCADE CO SO.PHO/5415550100.\n"
        "REM/PLS CONFIRM STILL STOLEN.",
        None,
        "",
    ),
    (
        f"YQ.{ORI}.AZ0010000.TXT\nRTY/WP.RNO/1.PRI/U.OCA/24-1187.NAM/DOE,JOHN.RNA/SGT ROE."
        "RAG/CASCADE CO SO",
        "ER.NL0000000",
        "MISSING MANDATORY FIELD NIC",
    ),
    (
        f"YQ.{ORI}.AZ0010000.TXT\nRTY/WP.RNO/1.PRI/U.OCA/24-1187.NIC/{NIC}.NAM/DOE,JOHN."
        "RNA/SGT ROE",
        "ER.NL0000000",
        "MISSING MANDATORY FIELD RAG",
    ),
    (
        f"YQ.{ORI}.AZ0010000.TXT\nRTY/WP.RNO/1.PRI/U.OCA/24-1187.NIC/{NIC}.NAM/DOE,JOHN."
        "LIC/4KXR221.RNA/SGT ROE.RAG/CASCADE CO SO",
        "ER.NL0000000",
        "REFER TO YQ MKE OPTIONS BELOW\n1. RTY, RNO, PRI, OCA, NIC, NAM, DOB, SEX, RNA, RAG",
    ),
    (
        f"YQ.{ORI}.AZ0010000.TXT\nRTY/SL.RNO/1.PRI/U.OCA/24-1187.NIC/{NIC}.LIC/4KXR221."
        "RNA/SGT ROE.RAG/CASCADE CO SO",
        "ER.NL0000000",
        "RTY/SL NEEDS LIS",
    ),
    (
        f"YQ.{ORI}.AZ.TXT\nRTY/WP.RNO/1.PRI/U.OCA/1.NIC/{NIC}.NAM/DOE,JOHN.RNA/A.RAG/B",
        "ER.NL0000000",
        ".02.",
    ),
    # ORION (TQ/TR, TA/TU/TD)
    (f"TQ.{ORI}.AZ.TXT\nLOC/{'CAPITAL'}.TYP/SA", "TR.NL0000000", "ORI/AZSIR0000"),
    (f"TQ.{ORI}.OD.TXT\nORI/AZ0010000", "TR.NL0000000", "SHERIFF"),
    (f"TQ.{ORI}.AZ.TXT\nLOC/CAPITAL.TYP/XX", "ER.NL0000000", "INVALID TYP CODE XX"),
    (
        f"YQ.{ORI}.AZ0010000.TXT\nRTY/SS.RNO/1.PRI/R.OCA/1.NIC/{NIC}.SER/1100.TYP/PD.RNA/A.RAG/B",
        "ER.NL0000000",
        "TYP/PD IS NOT A TYPS CODE FOR RTY/SS",
    ),
    (
        f"TA.{ORI}.OD.TXT\nORI/OR0990000.LOC/FERN HOLLOW.TYP/PD",
        "TR.NL0000000",
        "ORION RECORD ADDED",
    ),
    (
        f"TA.{ORI}.OD.TXT\nORI/WA0990000.LOC/FERN HOLLOW.TYP/PD",
        "ER.NL0000000",
        "NOT OF THE SENDER'S STATE",
    ),
    (f"TD.{ORI}.OD.TXT\nORI/OR0980000", "ER.NL0000000", "NOT IN ORION"),
    # Administrative (AM/AML): free text, lines may end with a period; regions allowed
    (f"AM.{ORI}.A1.B1.TXT\nATTN ALL AGENCIES.\nBOLO GREEN PICKUP.", None, ""),
    # Status (SM) from a member: same structure as AM (SM general, 21003096184)
    (f"SM.{ORI}.WA.ID.TXT\nOREGON LEDS OUT OF SERVICE UNTIL 0200 PST", None, ""),
    # Errors and status: guide titles
    (f"DQ.{ORI}.AZ.TXT\nOLN/D1..SEX/M", "ER.NL0000000", ".00. MESSAGE FORMAT/STRUCTURE ERROR"),
    (
        f"DQ.{ORI}.AZ.TXT\nNAM/SMITH,JOHN.DOB/19501301.SEX/M",
        "ER.NL0000000",
        ".05. DOB INVALID OR MISSING",
    ),
    (
        f"RQ.{ORI}.AZ.TXT\nLIC/4KXR221.LIY/20X6.LIT/PC",
        "ER.NL0000000",
        ".10. A YEAR FIELD IS INVALID OR MISSING",
    ),
    (f"DQ.{ORI}.AZ", "ER.NL0000000", ".03. TXT NOT FOUND OR IMPROPERLY FORMED XML"),
    (f"AM.{ORI}.AZ9990000.TXT\nHELLO", "ER.NL0000000", ".19. INVALID DESTINATION ORIS"),
    (
        f"DQ.{ORI}.FA.TXT\nOLN/D11111111",
        "SM.NL0000000",
        ".01. FA USER DOES NOT RESPOND TO MSG TYPE, NLETS WILL NOT FORWARD",
    ),
]


@pytest.fixture
def fresh(tmp_path, clock):
    """A mock Nlets on a new database: nothing seeded until a member is asked."""
    system = Nlets.open(
        tmp_path / "nlets.db",
        LabClock(clock, 1.0, START),
        [(ORI, "CASCADE COUNTY SHERIFF'S OFFICE", "SO")],
        seed=3,
        slow={"UT": 30.0},
    )
    system.emit = Sent()
    yield system
    system.close()


@pytest.mark.parametrize(
    ("text", "first_line", "holds"),
    CORPUS,
    ids=[f"{i:02d}-{row[0][:3].rstrip('.')}" for i, row in enumerate(CORPUS)],
)
def test_guide_corpus_legacy(fresh, text, first_line, holds) -> None:
    bodies = fresh.handle(text, ORI, "T01").bodies
    if first_line is None:  # delivered on, nothing comes back at once
        assert bodies == [], bodies
        return
    assert bodies, text
    assert bodies[0].split("\n")[0].startswith(first_line), bodies[0]
    assert holds in "\n".join(bodies), bodies


def test_control_field_returned_in_every_answer(fresh) -> None:
    header = ["*CAR12RUN7", "TXT"]
    dr = fresh.handle(f"DQ.{ORI}.AZ.NM.*CAR12RUN7.TXT\nOLN/D1", ORI, "").bodies
    assert len(dr) == 2 and all(b.split("\n")[3:5] == header for b in dr)
    er = fresh.handle(f"DQ.{ORI}.AZ.*CAR12RUN7.TXT\nOLN/D1.SEX/X", ORI, "").bodies[0]
    assert er.startswith("ER.") and er.split("\n")[3:5] == header
    sm = fresh.handle(f"DQ.{ORI}.FA.*CAR12RUN7.TXT\nOLN/D1", ORI, "").bodies[0]
    assert sm.startswith("SM.") and sm.split("\n")[3:5] == header
    tr = fresh.handle(f"TQ.{ORI}.OD.*CAR12RUN7.TXT\nORI/AZ0010000", ORI, "").bodies[0]
    assert tr.split("\n")[3:5] == header
    plain = fresh.handle(f"DQ.{ORI}.AZ.TXT\nOLN/D1", ORI, "").bodies[0]
    assert plain.split("\n")[3] == "TXT"


def test_every_member_is_simulated() -> None:
    assert len([m for m in MEMBERS.values() if m.kind == "state"]) == 51  # 50 states and DC
    assert {"PR", "VI", "GM", "AM", "MK", "CN", "MX", "FB", "FA", "NA", "CG"} <= set(MEMBERS)
    regioned = sorted(c for codes in REGIONS.values() for c in codes)
    assert regioned == sorted(DOMESTIC)  # every domestic member in exactly one region
    assert MEMBERS["TX"].generic_oris == ("TXOLN0000", "TXLIC0000", "TXVIN0000", "TXSIR0000")
    assert (MEMBERS["NB"].name, MEMBERS["NB"].region) == ("NEBRASKA", "E1")


def test_five_states_each_answer_from_their_own_files(fresh) -> None:
    dests = ["TX", "NY", "FL", "GM", "CN"]
    bodies = fresh.handle(f"DQ.{ORI}.{'.'.join(dests)}.TXT\nOLN/D1", ORI, "").bodies
    assert [b.split("\n")[0] for b in bodies] == [f"DR.{d}OLN0000" for d in dests]
    conn = sqlite3.connect(fresh.conn.execute("PRAGMA database_list").fetchone()[2])
    tx = conn.execute("SELECT oln, nam, dob, sex FROM driver WHERE state = 'TX'").fetchone()
    conn.close()
    oln, nam, dob, sex = tx
    hit = fresh.handle(f"DQ.{ORI}.TX.NY.TXT\nNAM/{nam}.DOB/{dob}.SEX/{sex}", ORI, "").bodies
    assert f"OLN/{oln}" in hit[0] and hit[1].split("\n")[0] == "DR.NYOLN0000"


def test_members_are_seeded_lazily_and_deterministically(tmp_path, clock) -> None:
    def first_oln(path) -> tuple[int, str]:
        system = Nlets.open(path, LabClock(clock, 1.0, START), seed=5)
        before = system.conn.execute("SELECT count(*) FROM driver").fetchone()[0]
        system.handle(f"DQ.{ORI}.OH.TXT\nOLN/X", "OR0000000", "")  # refused: not in ORION
        system.conn.execute(
            "INSERT INTO orion VALUES (?,?,?,?,?,?,NULL)", (ORI, "OR", "X", "SO", "X", "ACDZ")
        )
        system.handle(f"DQ.{ORI}.PA.TXT\nOLN/X", ORI, "")
        system.handle(f"DQ.{ORI}.OH.TXT\nOLN/X", ORI, "")
        states = {r[0] for r in system.conn.execute("SELECT DISTINCT state FROM driver")}
        oln = system.conn.execute(
            "SELECT oln FROM driver WHERE state = 'OH' ORDER BY rowid LIMIT 1"
        ).fetchone()[0]
        system.close()
        assert before == 0 and states == {"PA", "OH"}
        return before, oln

    assert first_oln(tmp_path / "a.db") == first_oln(tmp_path / "b.db")


def test_region_fans_out_to_each_member(fresh) -> None:
    bodies = fresh.handle(f"DQG.{ORI}.E1.TXT\nNAM/SMITH,JOHN.DOB/19500101.SEX/M", ORI, "").bodies
    assert [b.split("\n")[0] for b in bodies] == [f"DR.{c}OLN0000" for c in REGIONS["E1"]]


def test_multi_state_query_waits_for_the_slowest_member(fresh, clock) -> None:
    bodies = fresh.handle(f"RQ.{ORI}.NL.TXT\nLIC/4KXR221.LIY/2026.LIT/PC", ORI, "T01").bodies
    assert bodies == []  # UT answers in 30 lab seconds: Nlets waits for it
    clock.advance(29)
    assert fresh.emit.items == []
    clock.advance(2)
    ((_, merged, terminal, _),) = fresh.emit.items
    assert merged.startswith("RR.NL0000000") and terminal == "T01"
    assert f"{len(DOMESTIC)} MEMBERS SENT, 0 HIT, {len(DOMESTIC)} NO HIT, 0 NO RESPONSE" in merged


def test_unreadable_xml_er_goes_back_to_its_sender(fresh) -> None:
    (er,) = fresh.handle_xml(
        "<n2:NLETS><nh2:OriginatingORIID>OR0240000</nh2:OriginatingORIID>", ""
    ).bodies
    assert "<nh2:DestinationORIID>OR0240000</nh2:DestinationORIID>" in er
    assert nlets_xml.answer_text(er)[3].startswith(".03. ")


def test_multi_state_query_answers_once_from_nlets(fresh, clock) -> None:
    fresh.slow.clear()
    fresh.set_state("TX", False)
    conn = open_db(fresh.conn.execute("PRAGMA database_list").fetchone()[2], "")
    fresh.handle(f"DQ.{ORI}.OH.TXT\nOLN/X", ORI, "")  # OH seeded: look a subject up
    nam, dob, sex = conn.execute("SELECT nam, dob, sex FROM driver WHERE state = 'OH'").fetchone()
    conn.close()
    assert fresh.handle(f"DQ.{ORI}.NL.TXT\nNAM/{nam}.DOB/{dob}.SEX/{sex}", ORI, "").bodies == []
    clock.advance(60)  # TX never answers: Nlets waits its 60 seconds
    bodies = [body for _, body, _, _ in fresh.emit.items]
    assert len(bodies) == 1 and bodies[0].startswith("DR.NL0000000")
    assert "** OH - OHOLN0000 **" in bodies[0] and "HIT: OH" in bodies[0]
    assert (
        f"{len(DOMESTIC)} MEMBERS SENT, 1 HIT, {len(DOMESTIC) - 2} NO HIT, 1 NO RESPONSE"
        in bodies[0]
    )
    assert "NO RESPONSE FROM: TX" in bodies[0] and "NOT ON FILE" not in bodies[0]


def test_slow_and_out_of_service_members(fresh, clock) -> None:
    assert fresh.handle(f"RQ.{ORI}.UT.TXT\nVIN/1FTFW1E50PFA00001", ORI, "T01").bodies == []
    clock.advance(29)
    assert fresh.emit.items == []
    clock.advance(2)
    ((ori, body, terminal, _),) = fresh.emit.items
    assert (ori, terminal) == (ORI, "T01") and body.startswith("RR.UTVIN0000")
    down = Nlets(fresh.conn, fresh.clock, out_of_service=["NY"])
    out = down.handle(f"DQ.{ORI}.NY.TXT\nOLN/X", ORI, "").bodies[0]
    assert ".04. NY USER OUT OF SERVICE FOR MSG TYPE, NLETS WILL NOT FORWARD" in out


def test_orion_update_and_delete_by_own_state(fresh) -> None:
    fresh.handle(f"TA.{ORI}.OD.TXT\nORI/OR0990000.LOC/FERN HOLLOW.TYP/PD", ORI, "")
    tr = fresh.handle(f"TQ.{ORI}.OR.TXT\nLOC/FERN", ORI, "").bodies[0]
    assert "ORI/OR0990000" in tr and "TYP/PD" in tr
    fresh.handle(f"TU.{ORI}.OD.TXT\nORI/OR0990000.TYP/SO", ORI, "")
    assert "TYP/SO" in fresh.handle(f"TQ.{ORI}.OD.TXT\nORI/OR0990000", ORI, "").bodies[0]
    fresh.handle(f"TD.{ORI}.OD.TXT\nORI/OR0990000", ORI, "")
    assert "NOT ON FILE" in fresh.handle(f"TQ.{ORI}.OD.TXT\nORI/OR0990000", ORI, "").bodies[0]


XML_CORPUS = [row for row in CORPUS if not isinstance(Parser().check(row[0]), Reject)]


@pytest.mark.parametrize(
    ("text", "first_line", "holds"),
    XML_CORPUS,
    ids=[f"{i:02d}-{row[0][:3].rstrip('.')}" for i, row in enumerate(XML_CORPUS)],
)
def test_guide_corpus_xml(fresh, text, first_line, holds) -> None:
    """The same corpus sent as Nlets XML: the same answers, in XML."""
    bodies = fresh.handle_xml(nlets_xml.encode_request(Parser().parse(text)), "T01").bodies
    if first_line is None:
        assert bodies == [], bodies
        return
    key, originator, _, _ = nlets_xml.answer_text(bodies[0])
    assert f"{key}.{originator}".startswith(first_line), bodies[0]
    texts = [nlets_xml.answer_text(b) for b in bodies]
    assert holds.split("\n")[0].replace("DR.", "").replace("RR.", "") in "\n".join(
        f"{k}.{o}\n{t}" for k, o, _, t in texts
    ), texts


def test_xml_late_answer_comes_in_xml(fresh, clock) -> None:
    xml = nlets_xml.encode_request(Parser().parse(f"RQ.{ORI}.UT.*LATE1.TXT\nVIN/1FTFW1E50PFA1"))
    assert fresh.handle_xml(xml, "T01").bodies == []
    clock.advance(31)
    ((_, body, _, _),) = fresh.emit.items
    assert nlets_xml.answer_text(body)[:3] == ("RR", "UTVIN0000", "LATE1")


_HEAD = st.sampled_from(
    [
        "DQ",
        "DQG",
        "KQ",
        "RQ",
        "RQG",
        "IQ",
        "FQ",
        "AQ",
        "YQ",
        "YR",
        "TQ",
        "TA",
        "TU",
        "TD",
        "AM",
        "AML",
        "ZZ",
    ]
)
_DEST = st.sampled_from(["TX", "CN", "MX", "FA", "NL", "E1", "OD", "XX", "AZ0010000", "ZZ9"])
_FIELD = st.sampled_from(
    [
        "OLN/D1",
        "NAM/DOE,JOHN",
        "DOB/19800101",
        "DOB/13",
        "SEX/M",
        "RSN/N",
        "PUR/C",
        "ATN/X",
        "SOC/912345678",
        "MNU/X-1",
        "SID/TX1",
        "LIC/ABC1",
        "LIY/2026",
        "LIT/PC",
        "VIN/1FTFW1E5",
        "RTY/WP",
        "RTY/SL",
        "RNO/1",
        "PRI/U",
        "OCA/1",
        f"NIC/{NIC}",
        "RNA/A",
        "RAG/B",
        "ORI/OR0990000",
        "LOC/CAP",
        "TYP/PD",
        "TYP/Q",
        "",
        "/",
        "..",
        "*C1",
    ]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    _HEAD, st.lists(_DEST, max_size=6), st.booleans(), st.lists(_FIELD, max_size=8), st.booleans()
)
def test_nothing_sent_crashes_the_mock_nlets(fresh, key, dests, control, fields, xml) -> None:
    """Any mix of keys, destinations and fields is answered (or delivered), never raised."""
    head = ".".join([key, ORI, *dests] + (["*CTL9"] if control else []))
    text = f"{head}.TXT\n{'.'.join(fields)}"
    msg = Parser().check(text)
    if xml and not isinstance(msg, Reject):
        for body in fresh.handle_xml(nlets_xml.encode_request(msg), "T01").bodies:
            assert nlets_xml.answer_text(body)[0] in (
                "DR",
                "KR",
                "RR",
                "IR",
                "FR",
                "AR",
                "TR",
                "ER",
                "SM",
            )
        return
    for body in fresh.handle(text, ORI, "T01").bodies:
        assert body.split(".")[0] in ("DR", "KR", "RR", "IR", "FR", "AR", "TR", "ER", "SM")
        if control and not body.startswith("ER."):
            assert "\n*CTL9\nTXT\n" in body


def test_iq_by_soc_finds_a_lazily_seeded_record(fresh) -> None:
    fresh.handle(f"IQ.{ORI}.KS.TXT\nSOC/900000000.PUR/C.ATN/DET ROE", ORI, "")  # seeds KS
    soc, sid = fresh.conn.execute("SELECT soc, sid FROM chri_soc WHERE state = 'KS'").fetchone()
    ir = fresh.handle(f"IQ.{ORI}.KS.TXT\nSOC/{soc}.PUR/C.ATN/DET ROE", ORI, "").bodies[0]
    assert ir.startswith("IR.KSSIR0000") and f"SID/{sid}" in ir
    both = fresh.handle(
        f"IQ.{ORI}.KS.TXT\nNAM/NOBODY,NEVER.DOB/19000101.SEX/M.SOC/{soc}.PUR/C.ATN/DET ROE", ORI, ""
    ).bodies[0]
    assert "HIT ON SOC" in both and f"SID/{sid}" in both
