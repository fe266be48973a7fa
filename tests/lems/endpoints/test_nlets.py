"""Mock Nlets: member states' DMV and criminal history, ORION checks, errors, status, relay."""

from __future__ import annotations

import sqlite3

ORI = "OR0240000"


def first(seeded, sql: str):
    conn = sqlite3.connect(seeded / "nlets.db")
    try:
        return conn.execute(sql).fetchone()
    finally:
        conn.close()


def test_dq_by_oln_and_not_on_file(nlets, seeded) -> None:
    state, oln = first(seeded, "SELECT state, oln FROM driver LIMIT 1")
    out = nlets.handle(f"DQ.{ORI}.{state}.TXT\nOLN/{oln}", ORI, "T01").bodies
    lines = out[0].split("\n")
    assert lines[0] == f"DR.{state}OLN0000"
    assert lines[2].endswith(ORI) and lines[3] == "TXT"
    assert f"OLN/{oln}" in out[0] and "LICENSE STATUS/" in out[0]
    nof = nlets.handle(f"DQ.{ORI}.{state}.TXT\nOLN/ZZZ999", ORI, "T01").bodies[0]
    assert "NOT ON FILE" in nof and "OLN/ZZZ999" in nof


def test_output_sequence_numbers_are_clocked(nlets) -> None:
    a = nlets.handle(f"DQ.{ORI}.WA.TXT\nOLN/X1", ORI, "").bodies[0].split("\n")
    b = nlets.handle(f"DQ.{ORI}.WA.TXT\nOLN/X1", ORI, "").bodies[0].split("\n")
    assert int(b[2].split()[2]) == int(a[2].split()[2]) + 1
    assert int(b[1].split()[2]) == int(a[1].split()[2]) + 1


def test_rq_by_plate_and_vin_multi_state(nlets, seeded) -> None:
    state, lic, vin = first(seeded, "SELECT state, lic, vin FROM vehicle LIMIT 1")
    out = nlets.handle(f"RQ.{ORI}.{state}.TXT\nLIC/{lic}.LIY/2026.LIT/PC", ORI, "").bodies
    assert f"VIN/{vin}" in out[0] and out[0].startswith(f"RR.{state}LIC0000")
    other = next(s for s in ("WA", "ID", "CA", "NV") if s != state)
    out = nlets.handle(f"RQ.{ORI}.{state}.{other}.TXT\nVIN/{vin}", ORI, "").bodies
    assert len(out) == 2 and out[0].startswith(f"RR.{state}VIN0000") and f"LIC/{lic}" in out[0]
    assert "NOT ON FILE" in out[1]


def test_iq_fq_criminal_history(nlets, seeded) -> None:
    state, sid = first(seeded, "SELECT state, sid FROM chri WHERE arrests != '[]' LIMIT 1")
    nam, dob, sex = first(seeded, f"SELECT nam, dob, sex FROM chri WHERE sid = '{sid}'")
    ans = nlets.handle(
        f"IQ.{ORI}.{state}.TXT\nNAM/{nam}.DOB/{dob}.SEX/{sex}.PUR/C.ATN/DET ROE", ORI, ""
    )
    assert ans.sensitive == "iii" and ans.bodies[0].startswith(f"IR.{state}SIR0000")
    assert "ATN/DET ROE" in ans.bodies[0] and "USE FQ" in ans.bodies[0]
    full = nlets.handle(f"FQ.{ORI}.{state}.TXT\nSID/{sid}.PUR/C.ATN/DET ROE", ORI, "").bodies[0]
    assert full.startswith(f"FR.{state}SIR0000") and "CYCLE 001" in full


def test_member_that_does_not_take_the_key_and_out_of_service(nlets) -> None:
    out = nlets.handle(f"DQ.{ORI}.FA.TXT\nOLN/X1", ORI, "").bodies[0]
    assert out.startswith("SM.NL0000000") and ".01. FA USER DOES NOT RESPOND" in out
    nlets.set_state("WA", False)
    out = nlets.handle(f"DQ.{ORI}.WA.TXT\nOLN/X1", ORI, "").bodies[0]
    assert ".04. WA USER OUT OF SERVICE" in out
    nlets.set_state("WA", True)
    assert nlets.handle(f"DQ.{ORI}.WA.TXT\nOLN/X1", ORI, "").bodies[0].startswith("DR.")


def test_orion_checks_sender_and_destination(nlets) -> None:
    out = nlets.handle("DQ.OR0999999.WA.TXT\nOLN/X1", "OR0999999", "").bodies[0]
    assert out.startswith("ER.NL0000000") and ".01." in out and "NOT IN ORION" in out
    out = nlets.handle(f"AM.{ORI}.WA9990000.TXT\nHELLO", ORI, "").bodies[0]
    assert out.startswith("ER.NL0000000") and ".19." in out
    tr = nlets.handle(f"TQ.{ORI}.OD.TXT\nORI/WA0010000", ORI, "").bodies[0]
    assert tr.startswith("TR.NL0000000") and "ORI/WA0010000" in tr and "SHERIFF" in tr


def test_bad_format_is_er_with_options(nlets) -> None:
    out = nlets.handle(f"RQ.{ORI}.WA.TXT\nLIC/ABC123", ORI, "").bodies[0]
    assert out.startswith("ER.NL0000000") and ".22." in out and "LIC, LIY, LIT" in out


def test_yq_answered_by_agency_after_delay_or_never(nlets, clock) -> None:
    yq = (
        "YQ.{o}.{d}.TXT\nRTY/WP.RNO/1.PRI/U.OCA/24-1187.NIC/W000000184.NAM/DOE,JOHN.\n"
        "RNA/SGT ROE.RAG/CASCADE CO SO"
    )
    assert nlets.handle(yq.format(o=ORI, d="WA0010000"), ORI, "T01").bodies == []
    assert nlets.handle(yq.format(o=ORI, d="WA0020000"), ORI, "T01").bodies == []
    clock.advance(4)
    assert not nlets.emit.items
    clock.advance(2)
    ((ori, body, terminal, _),) = nlets.emit.items
    assert ori == ORI and terminal == "T01" and body.startswith("YR.WA0010000")
    assert "CON/Y" in body and "NIC/W000000184" in body
    clock.advance(600)
    assert len(nlets.emit.items) == 1  # WA0020000 never answers
