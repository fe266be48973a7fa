"""III (QH/QR + CR from the states) on a seeded world, and NICS checks, indices and report."""

from __future__ import annotations

import sqlite3

ORI = "OR0240000"


def test_qh_candidates_and_qr_with_state_parts_as_cr(seeded, seeded_ncic, clock) -> None:
    conn = sqlite3.connect(seeded / "ncic.db")
    fbi, nam, dob, sex, holders = conn.execute(
        "SELECT fbi, nam, dob, sex, holders FROM iii_identity WHERE holders LIKE '% %' "
        "AND holders LIKE '%FBI%' LIMIT 1"
    ).fetchone()
    conn.close()
    ncic = seeded_ncic
    sent = ncic.emit
    last = nam.split(",")[0]
    qh = ncic.handle(f"QH.{ORI}.NAM/{last},X.DOB/{dob}.SEX/{sex}.PUR/C", ORI, "T01")
    assert qh.sensitive == "iii"
    body = next(b for b in qh.bodies if f"FBI/{fbi}" in b)
    assert f"RECORD HELD BY/{holders}" in body and "III INDEX CANDIDATE" in body
    qr = ncic.handle(f"QR.{ORI}.FBI/{fbi}.PUR/C.ATN/DET SMITH", ORI, "T01")
    assert qr.sensitive == "iii" and "ATN/DET SMITH PUR/C CRIMINAL JUSTICE" in qr.bodies[0]
    states = [h for h in holders.split() if h != "FBI"]
    assert not sent.items
    clock.advance(ncic.iii.cr_delay_s + 0.1)
    assert [b.split("\n")[0] for _, b, _, _ in sent.items] == [f"CR.{s}SIR0000" for s in states]
    assert all(o == ORI and t == "T01" and s == "iii" for o, _, t, s in sent.items)
    assert "ATN/DET SMITH" in sent.items[0][1]
    nrc = ncic.handle(f"QH.{ORI}.NAM/NOBODY,NEVER.DOB/19990909.SEX/M.PUR/C", ORI, "T01")
    assert nrc.bodies[0].startswith(f"NRC.{ORI}")


def test_nics_proceed_keeps_only_ntn_and_date(nics) -> None:
    out = nics.handle(f"NCK.{ORI}.NAM/CLEAN,CARL.DOB/19700101.SEX/M", ORI, "T01").bodies[0]
    assert out.startswith(f"NCR.{ORI}") and "STATUS/PROCEED" in out
    row = nics.conn.execute("SELECT * FROM checks").fetchone()
    assert row[0] and row[1] and all(v is None for v in row[2:])


def test_nics_index_denies_and_enters_ndtf_then_relief(nics) -> None:
    acc = nics.handle(f"NEN.{ORI}.NAM/BARRED,BOB.DOB/19750505.SEX/M.PCA/D", ORI, "").bodies[0]
    nri = acc.split("NRI/")[1].split()[0]
    out = nics.handle(f"NCK.{ORI}.NAM/BARRED,BOB.DOB/19750505.SEX/M", ORI, "T01").bodies[0]
    assert "STATUS/DENIED" in out
    ntn = out.split("NTN/")[1].split()[0]
    ndtf = nics.ncic.where(("ndtf",), "ntn", [ntn])
    assert len(ndtf) == 1 and ndtf[0].nic.startswith("E")
    report = nics.handle(f"NRP.{ORI}.STA/OR", ORI, "").bodies[0]
    assert f"NRI/{nri} NAM/BARRED,BOB" in report and "COUNT/1" in report
    other = nics.handle(f"NRM.OR0260000.NRI/{nri}", "OR0260000", "").bodies[0]
    assert "NOT-OWNER" in other
    assert "REMOVED" in nics.handle(f"NRM.{ORI}.NRI/{nri}", ORI, "").bodies[0]
    assert "COUNT/0" in nics.handle(f"NRP.{ORI}.STA/OR", ORI, "").bodies[0]
    out = nics.handle(f"NCK.{ORI}.NAM/BARRED,BOB.DOB/19750505.SEX/M", ORI, "T01").bodies[0]
    assert "STATUS/PROCEED" in out


def test_nics_denies_on_ncic_want_and_delays_on_open_arrest(nics, clock) -> None:
    nics.ncic.insert(
        "wanted",
        "EW",
        "OR0240000",
        "X1",
        [("NAM", "HUNTED,HAL"), ("SEX", "M"), ("DOB", "19600101")],
        "2026-01-01",
    )
    out = nics.handle(f"NCK.{ORI}.NAM/HUNTED,HAL.DOB/19600101.SEX/M", ORI, "T01").bodies[0]
    assert "STATUS/DENIED" in out
    c = nics.ncic.conn
    c.execute(
        "INSERT INTO iii_identity VALUES ('1234567A1','PENDING,PAT','P535','19650101',"
        "'F','W',NULL,'FBI')"
    )
    c.execute(
        "INSERT INTO iii_arrest VALUES ('1234567A1','FBI','20260101','OR0240000','2299','PEND')"
    )
    c.commit()
    out = nics.handle(f"NCK.{ORI}.NAM/PENDING,PAT.DOB/19650101.SEX/F", ORI, "T09").bodies[0]
    assert "STATUS/DELAYED" in out
    assert not nics.emit.items
    clock.advance(nics.delay_resolve_s + 1)
    ori, body, terminal, _ = nics.emit.items[-1]
    assert ori == ORI and terminal == "T09" and "STATUS/PROCEED" in body
    assert "DELAYED TRANSACTION RESOLVED" in body


def test_nics_refuses_unknown_and_incomplete(nics) -> None:
    assert "BAD-KEY" in nics.handle(f"NXX.{ORI}.NAM/A,B", ORI, "").bodies[0]
    assert "MISSING-FIELD" in nics.handle(f"NCK.{ORI}.NAM/A,B", ORI, "").bodies[0]
