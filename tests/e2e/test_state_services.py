"""The state services end to end over TCP: CCH entry and dissemination (R2, R5-R9, D1, D2),
removal rules, PPF, FICS and hit confirmation, on a lab clock driven by ``task.Clock``."""

from __future__ import annotations

import sqlite3
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from support import demo_lab, signed_on, wait
from twisted.internet import task
from twisted.internet.defer import succeed

from lems.clock import LabClock
from lems.store import when_committed

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
ARREST = "EAR.ORSIR0000.NAM/DOE,JOHN.SEX/M.RAC/W.DOB/19800101.DOA/20260301.CHG/2202.OCL/FB"

NONCJ = """
[[agency]]
ori = "OR024904Z"
name = "HOUSING AUTHORITY OF CASCADE COUNTY"
category = "noncj"
type = "NJ"

[[terminal]]
id = "T12"
oris = ["OR024904Z"]
description = "Housing authority"

[[operator]]
id = "OP12"
name = "MARLOWE, KIT"
password = "train-12"
terminals = ["T12"]
"""


def with_noncj(text: str) -> str:
    return text.replace(
        "# ---------------------------------------------------------------- groups",
        NONCJ + "\n# ---------------------------------------------------------------- groups",
    )


@asynccontextmanager
async def lab_switch(tmp_path, reactor, edit=with_noncj, speed=1.0):
    """A demo lab switch whose lab clock is a ``task.Clock`` (lab time starts at START)."""
    from lems.switch import Switch

    fake = task.Clock()
    switch = Switch(demo_lab(tmp_path, edit), reactor, clock=LabClock(fake, speed, START))
    switch.fake = fake
    switch.start()
    port = await wait(switch.listen("tcp:0:interface=127.0.0.1"))
    switch.endpoint = f"tcp:host=127.0.0.1:port={port.getHost().port}"
    clients = []

    async def term(tid):
        c = await signed_on(switch, reactor, tid)
        clients.append(c)
        return c

    switch.term = term
    try:
        yield switch
    finally:
        for c in clients:
            c.close()
        await wait(switch.stop())


def journal(switch, where="1", *args):
    conn = sqlite3.connect(switch.lab.database)
    try:
        return conn.execute(
            f"SELECT direction, terminal, ori, key, disposition, reason, text "
            f"FROM journal WHERE {where} ORDER BY seq",
            args,
        ).fetchall()
    finally:
        conn.close()


D1 = "REQUEST A NEW RECORD EACH TIME IT IS NEEDED"


def flat(body: str) -> str:
    return " ".join(body.split())


async def settle(switch):
    await wait(when_committed(switch.writer, []))
    await wait(switch.state.db.submit([]))


async def enter_record(switch, isb, text=ARREST):
    out = await wait(isb.request(text))
    assert out.key == "ACC", out.body
    return out.body.split("SID/")[1].split()[0]


# ---------------------------------------------------------------- CCH


async def test_cch_entry_only_from_designated_ori(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        t01 = await sw.term("T01")
        out = await wait(t01.request(ARREST.replace("ORSIR0000", "OR0240000")))
        assert out.key == "REJ" and "CODE/NOT-DESIGNATED" in out.body
        isb = await sw.term("T07")
        sid = await enter_record(sw, isb)
        out = await wait(isb.request(ARREST.replace("DOA/20260301", "DOA/20260401")))
        assert out.key == "ACC" and f"SID/{sid}" in out.body and "CYC/002" in out.body


async def test_cj_query_gets_rap_sheet_with_notice_and_open_arrest(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        isb = await sw.term("T07")
        sid = await enter_record(sw, isb)
        t01 = await sw.term("T01")
        out = await wait(t01.request("QCH.OR0240000.NAM/DOE,JOHN.DOB/19800101.PUR/C"))
        assert out.key == "HIT", out.body
        assert D1 in flat(out.body)
        assert f"SID/{sid}" in out.body and "DSP/OPEN - NO DISPOSITION" in out.body
        assert "CONTESTED-CASE" not in out.body
        out = await wait(
            isb.request(
                f"EDP.ORSIR0000.SID/{sid}.CYC/1.CHG/2202.DSP/CONV.DOD/20260601.CRT/OR024015J"
            )
        )
        assert out.key == "ACC", out.body
        out = await wait(t01.request(f"QCH.OR0240000.SID/{sid}.PUR/C"))
        assert "DSP/CONVICTED DOD/20260601" in out.body and "OPEN" not in out.body
        out = await wait(t01.request("QCH.OR0240000.NAM/DOE,MARY.DOB/19800101.PUR/C"))
        assert out.key == "NRC" and D1 in flat(out.body)


OLD_ACQUITTAL = (
    "EAR.ORSIR0000.NAM/ROE,RICHARD.SEX/M.RAC/W.DOB/19700505.DOA/20200101.CHG/1313.OCL/MA"
)


async def test_non_cj_sees_only_convictions_and_recent_arrests(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        isb = await sw.term("T07")
        sid = await enter_record(sw, isb, OLD_ACQUITTAL)
        await wait(isb.request(f"EDP.ORSIR0000.SID/{sid}.CYC/1.CHG/1313.DSP/ACQ.DOD/20200601"))
        noncj = await sw.term("T12")
        q = "QCH.OR024904Z.NAM/ROE,RICHARD.DOB/19700505.PUR/H"
        out = await wait(noncj.request(q))
        assert out.key == "NRC" and "NO CRIMINAL RECORD" in out.body and D1 in flat(out.body)
        # a conviction is released; the acquitted cycle still is not
        await enter_record(
            sw,
            isb,
            OLD_ACQUITTAL.replace("DOA/20200101", "DOA/20210101").replace(
                "CHG/1313.OCL/MA", "CHG/2303.OCL/MA"
            ),
        )
        await wait(isb.request(f"EDP.ORSIR0000.SID/{sid}.CYC/2.CHG/2303.DSP/CONV.DOD/20210301"))
        out = await wait(noncj.request(q))
        assert out.key == "HIT" and "CHG/2303" in out.body and "CHG/1313" not in out.body
        assert "ARRESTS UNDER ONE YEAR OLD" in flat(out.body)
        # criminal justice with purpose C sees both cycles
        t01 = await sw.term("T01")
        out = await wait(t01.request(f"QCH.OR0240000.SID/{sid}.PUR/C"))
        assert "CHG/2303" in out.body and "CHG/1313" in out.body and "ACQUITTED" in out.body


async def test_qualified_entity_gets_yes_or_no_only(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        isb = await sw.term("T07")
        sid = await enter_record(sw, isb, ARREST.replace("CHG/2202.OCL/FB", "CHG/1313.OCL/MA"))
        qe = await sw.term("T10")
        q = "QFC.OR024902Z.NAM/DOE,JOHN.DOB/19800101.SEX/M.CRI/VOL1.ATN/SMITH"
        out = await wait(qe.request(q))  # 1313 is not among the entity's criteria
        assert out.key == "NRC" and "DISQUALIFYING RECORD/NO" in out.body
        await enter_record(
            sw, isb, ARREST.replace("CHG/2202", "CHG/0901").replace("DOA/20260301", "DOA/20200301")
        )
        await wait(isb.request(f"EDP.ORSIR0000.SID/{sid}.CYC/2.CHG/0901.DSP/CONV.DOD/20200601"))
        out = await wait(qe.request(q))
        assert out.key == "HIT" and "DISQUALIFYING RECORD/YES" in out.body
        assert "CHG/" not in out.body and "SID/" not in out.body and D1 in flat(out.body)
        out = await wait(qe.request("QCH.OR024902Z.NAM/DOE,JOHN.DOB/19800101.PUR/C"))
        assert out.key == "REJ" and "KEY-NOT-ALLOWED" in out.body


async def test_radio_terminal_gets_notice_not_record(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        await enter_record(sw, await sw.term("T07"))
        radio = await sw.term("T05")
        out = await wait(radio.request("QCH.OR0260200.NAM/DOE,JOHN.DOB/19800101.PUR/C"))
        assert out.key == "NTC" and "NOT SENT OVER RADIO" in out.body and "CHG/" not in out.body
        wired = await sw.term("T04")
        out = await wait(wired.request("QCH.OR0260000.NAM/DOE,JOHN.DOB/19800101.PUR/C"))
        assert out.key == "HIT" and "CHG/2202" in out.body


async def test_riss_gets_computerized_record_only(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        isb = await sw.term("T07")
        sid = await enter_record(sw, isb)
        await enter_record(
            sw, isb, ARREST.replace("CHG/2202", "CHG/2303").replace("DOA/20260301", "DOA/19990301")
        )
        await wait(
            sw.state.db.submit([("UPDATE cycle SET manual = 1 WHERE sid = ? AND cyc = 2", (sid,))])
        )
        riss = await sw.term("T09")
        out = await wait(riss.request(f"QCH.ORRISS000.SID/{sid}.PUR/C"))
        assert out.key == "HIT" and "CHG/2202" in out.body and "CHG/2303" not in out.body
        assert "COMPUTERIZED RECORD ONLY" in out.body
        t01 = await sw.term("T01")
        out = await wait(t01.request(f"QCH.OR0240000.SID/{sid}.PUR/C"))
        assert "CHG/2303" in out.body and "MANUAL FILE" in out.body


async def test_challenged_record_carries_notice_and_journal_names_receiver(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        isb = await sw.term("T07")
        sid = await enter_record(sw, isb)
        t01 = await sw.term("T01")
        out = await wait(t01.request(f"QCH.OR0240000.SID/{sid}.PUR/C"))
        assert "CONTESTED-CASE" not in out.body
        out = await wait(isb.request(f"MCH.ORSIR0000.SID/{sid}.CHL/Y"))
        assert out.key == "ACC"
        out = await wait(t01.request(f"QCH.OR0240000.SID/{sid}.PUR/C"))
        assert "UNDER A CONTESTED-CASE CHALLENGE" in flat(out.body)
        await settle(sw)
        rows = journal(sw, "disposition = 'challenge-notice'")
        assert len(rows) == 1 and rows[0][1] == "T01" and rows[0][2] == "OR0240000"
        assert f"SID/{sid}" in rows[0][6]
        # the audit (D3): keys, rejects and CCH disseminations per ORI
        from lems.state.audit import Filter, disseminations, summarize, transactions

        await wait(t01.request("QW.OR0240001.NAM/DOE,JOHN.DOB/19800101"))  # spoofed ORI
        await settle(sw)
        f = Filter(ori="OR0240000")
        summary = summarize(transactions(sw.lab.database, f), disseminations(sw.state.db.path, f))[
            "OR0240000"
        ]
        assert summary.keys["QCH"] == 2 and summary.cch == {"full": 2, "challenge-notice": 1}
        # the spoof attempt is filed under the terminal's own ORI, naming the one it claimed
        rows = transactions(sw.lab.database, Filter(terminal="T01"))
        assert summarize(rows, [])["OR0240000"].rejects == {"SPOOF": 1}
        assert "OR0240001" not in summarize(rows, [])
        [spoof] = [r for r in rows if r["reason"].startswith("SPOOF")]
        assert spoof["ori"] == "OR0240000" and "CLAIMED ORI/OR0240001" in spoof["reason"]


async def test_removal_rules(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        isb = await sw.term("T07")
        sid = await enter_record(sw, isb)  # cycle 1: class B felony
        await enter_record(sw, isb, ARREST.replace("CHG/2202.OCL/FB", "CHG/2303.OCL/MA"))
        await enter_record(sw, isb, ARREST.replace("CHG/2202.OCL/FB", "CHG/5404.OCL/MA"))
        await wait(isb.request(f"EDP.ORSIR0000.SID/{sid}.CYC/3.CHG/5404.DSP/DIVD.DOD/20260501"))
        x = f"XCH.ORSIR0000.SID/{sid}.ORD/26CR0001.DOC/20261101"
        out = await wait(isb.request(f"{x}.RSN/SET-ASIDE.CYC/1.FPI/Y"))
        assert out.key == "REJ" and "SET-ASIDE-REFUSED" in out.body and "CLASS B" in out.body
        out = await wait(isb.request(f"{x}.RSN/SET-ASIDE.CYC/3.FPI/Y"))
        assert out.key == "REJ" and "DUII DISMISSED AFTER DIVERSION" in flat(out.body)
        out = await wait(isb.request(f"{x}.RSN/SET-ASIDE.CYC/2"))
        assert out.key == "REJ" and "FPI-REQUIRED" in out.body
        out = await wait(isb.request(f"{x}.RSN/SET-ASIDE.CYC/2.FPI/Y"))
        assert out.key == "ACC" and "SET ASIDE" in out.body
        t01 = await sw.term("T01")
        out = await wait(t01.request(f"QCH.OR0240000.SID/{sid}.PUR/C"))
        assert "CHG/2303" not in out.body and "CHG/2202" in out.body
        out = await wait(isb.request(f"{x}.RSN/DECEASED.DOE/20261001"))
        assert out.key == "REJ" and "CONFIRMED BY FINGERPRINTS" in flat(out.body)
        out = await wait(isb.request(f"{x}.RSN/DECEASED.DOE/20261001.FPI/Y"))
        assert out.key == "ACC"
        out = await wait(t01.request(f"QCH.OR0240000.SID/{sid}.PUR/C"))
        assert out.key == "NRC"
        sid2 = await enter_record(sw, isb, OLD_ACQUITTAL)
        out = await wait(
            isb.request(f"XCH.ORSIR0000.SID/{sid2}.ORD/26CR9.DOC/20261101.RSN/EXPUNGEMENT")
        )
        assert out.key == "ACC" and "EXPUNGED" in out.body
        out = await wait(t01.request(f"QCH.OR0240000.SID/{sid2}.PUR/C"))
        assert out.key == "NRC"
        out = await wait(t01.request(f"XCH.OR0240000.SID/{sid2}.ORD/1.DOC/20261101.RSN/EXP"))
        assert out.key == "REJ" and "NOT-DESIGNATED" in out.body


async def test_purge_of_subjects_aged_99_is_a_daily_job(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        isb = await sw.term("T07")
        old = await enter_record(
            sw,
            isb,
            ARREST.replace("DOB/19800101", "DOB/19270101").replace("DOA/20260301", "DOA/20100301"),
        )
        recent = await enter_record(
            sw,
            isb,
            ARREST.replace("DOB/19800101", "DOB/19260101").replace("NAM/DOE,JOHN", "NAM/POE,EDGAR"),
        )
        young = await enter_record(
            sw,
            isb,
            ARREST.replace("NAM/DOE,JOHN", "NAM/LOE,AL").replace("DOA/20260301", "DOA/19900301"),
        )
        sw.fake.advance(86400)
        await settle(sw)
        await settle(sw)
        left = {r[0] for r in sw.state.db.query("SELECT sid FROM subject")}
        assert old not in left and recent in left and young in left
        rows = journal(sw, "disposition = 'purge' AND key = 'XCH'")
        assert len(rows) == 1 and old in rows[0][6]


# ---------------------------------------------------------------- national systems (test doubles)


class FakeSystem:
    """Stands in for an NCIC / NICS endpoint service: ``ask`` answers from a small index."""

    def __init__(self, name):
        self.name = name
        self.asked = []
        self.hits = set()  # substrings of an inquiry that produce a HIT
        self.index = {}  # NICS Indices: PPN -> pairs
        self.down = False

    def handle(self, req):
        return []

    def ask(self, text, ori, terminal=""):
        self.asked.append(text)
        if self.down:
            raise ConnectionError("link down")
        key = text.split(".", 1)[0]
        fields = dict(f.split("/", 1) for f in text.split(".")[2:] if "/" in f)
        if key == "NEN":
            nri = str(len(self.index) + 100)
            self.index[nri] = {"NRI": nri, **fields, "ORI": ori}
            return succeed([f"NAC.{ori}\nNICS INDEX ENTRY ACCEPTED\nNRI/{nri} PCA/D"])
        if key == "NRM":
            self.index.pop(fields["NRI"], None)
            return succeed([f"NAC.{ori}\nNICS INDEX ENTRY REMOVED (RELIEF)"])
        if key == "NRP":
            lines = [" ".join(f"{c}/{v}" for c, v in e.items()) for e in self.index.values()]
            return succeed(["\n".join([f"NRR.{ori}", *lines])])
        hit = any(h in text for h in self.hits)
        if key == "NCK":
            return succeed([f"NCR.{ori}\nNTN/N1 STATUS/{'DENIED' if hit else 'PROCEED'}"])
        if hit:
            return succeed([f"HIT.{ori}\nMKE/RECORD FOUND\nNIC/G123456789"])
        return succeed([f"NRC.{ori}\nNO RECORD"])


def systems(sw):
    ncic, nics = FakeSystem("ncic"), FakeSystem("nics")
    sw.router.register(ncic)
    sw.router.register(nics)
    return ncic, nics


# ---------------------------------------------------------------- hit confirmation

YQ = (
    "YQ.OR0240000.OR0260000.TXT RTY/WP.RNO/1.PRI/U.OCA/24-0017.NIC/W000018426."
    "NAM/PRUITT,DALE.RNA/ABERNATHY,LEE.RAG/CASCADE CO SO"
)
YR = "YR.OR0260000.OR0240000.TXT RTY/WP.RNO/1.CON/Y.OCA/24-0017.RNA/HOLLIS,AVERY"


async def test_unanswered_urgent_yq_reminds_owner_and_requester_then_control(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        t01, t04, t00 = await sw.term("T01"), await sw.term("T04"), await sw.term("T00")
        t01.send(YQ)
        out = await wait(t04.next())
        assert out.key == "YQ"
        [r] = sw.state.hits.open.values()
        assert sw.state.hits.time_left(r) == 600
        sw.fake.advance(599)
        assert not t04.drain() and not t01.drain()
        sw.fake.advance(1)  # +10 min: the owner is reminded, the requester told to ask again
        out = await wait(t04.next())
        assert out.key == "NTF" and "HIT CONFIRMATION REMINDER" in out.body
        out = await wait(t01.next())
        assert out.key == "NTF" and "SEND SECOND REQUEST" in out.body and "RNO/2" in out.body
        assert sw.state.hits.time_left(r) == 0  # TIME LEFT counts to the deadline, not a stage
        sw.fake.advance(300)
        assert sw.state.hits.time_left(r) == -300
        sw.fake.advance(300)  # +20 min, no second request: the control terminal is told
        out = await wait(t00.next())
        assert out.key == "NTF" and "ESCALATED TO CONTROL TERMINAL" in out.body
        await settle(sw)
        stages = [r[4] for r in journal(sw, "direction = 'sys' AND key = 'YQ'")]
        assert stages == ["hit-requested", "hit-overdue", "hit-escalated"]


async def test_unanswered_second_request_goes_to_control(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        t01, t04, t00 = await sw.term("T01"), await sw.term("T04"), await sw.term("T00")
        t01.send(YQ)
        await wait(t04.next())
        sw.fake.advance(600)
        await wait(t01.next())
        t01.send(YQ.replace("RNO/1", "RNO/2"))
        out = await wait(t04.next())
        while out.key != "YQ":
            out = await wait(t04.next())
        [r] = sw.state.hits.open.values()
        assert r.rno == "2" and sw.state.hits.time_left(r) == 600
        sw.fake.advance(600)
        out = await wait(t00.next())
        assert "ESCALATED TO CONTROL TERMINAL" in out.body and "SECOND REQUEST" in out.body
        # an extension on an escalated request moves the deadline and never crashes
        t04.send(YR.replace("CON/Y", "CON/E.TIM/30"))
        await wait(t01.next())
        assert sw.state.hits.time_left(r) == 1800
        sw.fake.advance(1800)
        out = await wait(t00.next())
        assert "ESCALATED TO CONTROL TERMINAL AGAIN" in out.body
        t04.send(YR)
        await wait(t01.next())
        assert not sw.state.hits.open
        await settle(sw)
        assert (
            sw.state.db.one("SELECT outcome FROM hit_request WHERE id = ?", (r.id,))[0]
            == "confirmed-late"
        )


async def test_yr_in_time_closes_the_request(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        t01, t04 = await sw.term("T01"), await sw.term("T04")
        t01.send(YQ.replace("PRI/U", "PRI/R"))
        await wait(t04.next())
        sw.fake.advance(3000)
        t04.send(YR)
        out = await wait(t01.next())
        assert out.key == "YR"
        assert not sw.state.hits.open
        sw.fake.advance(4 * 3600)
        await settle(sw)
        assert not t04.drain() and not t01.drain()
        row = sw.state.db.one("SELECT outcome, closed FROM hit_request")
        assert row[0] == "confirmed" and row[1]


async def test_yr_con_e_moves_the_deadline(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        t01, t04 = await sw.term("T01"), await sw.term("T04")
        t01.send(YQ)
        await wait(t04.next())
        t04.send(YR.replace("CON/Y", "CON/E.TIM/30"))
        await wait(t01.next())
        sw.fake.advance(600)
        await settle(sw)
        assert not t04.drain()
        sw.fake.advance(1200)
        out = await wait(t04.next())
        assert out.key == "NTF" and "REMINDER" in out.body


# ---------------------------------------------------------------- PPF and NICS

EPP = "EPP.OR024901Z.NAM/PARSONS,EDNA.DOB/19751212.SEX/F.PCA/D"


async def test_ppf_minimum_information_and_who_may_submit(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        lic = await sw.term("T08")
        out = await wait(lic.request(EPP + ".MIS/SCHIZOPHRENIA DIAGNOSIS"))
        assert out.key == "REJ" and "CODE/FIELD-NOT-ALLOWED FLD/MIS" in out.body
        assert "FIELD MIS NOT VALID FOR MKE EPP" in out.body
        out = await wait(lic.request(EPP.replace("PCA/D", "PCA/D.OCA/CASE123")))
        assert out.key == "REJ" and "FLD/OCA" in out.body
        out = await wait(lic.request(EPP))
        assert out.key == "ACC" and "PPN/P0000001" in out.body
        court = await sw.term("T06")
        out = await wait(court.request(EPP.replace("OR024901Z", "OR024015J")))
        assert out.key == "ACC"
        so = await sw.term("T01")
        out = await wait(so.request(EPP.replace("OR024901Z", "OR0240000")))
        assert out.key == "REJ" and "DESIGNATED AGENCIES AND COURTS ONLY" in flat(out.body)


async def test_ppf_readable_only_for_file_maintenance(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        lic = await sw.term("T08")
        await wait(lic.request(EPP))
        out = await wait(lic.request("QPP.OR024901Z.PPN/P0000001.PUR/I"))
        assert out.key == "REJ" and "CODE/PPF-USE" in out.body
        out = await wait(lic.request("QPP.OR024901Z.PPN/P0000001.PUR/A"))
        assert out.key == "HIT" and "AWAITING NICS BATCH" in out.body


async def test_ppf_daily_batch_relief_and_quarterly_reconciliation(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        lic, court = await sw.term("T08"), await sw.term("T06")
        await wait(lic.request(EPP))
        await wait(
            court.request(
                EPP.replace("OR024901Z", "OR024015J")
                .replace("PARSONS,EDNA", "QUINCE,OTTO")
                .replace("SEX/F", "SEX/M")
            )
        )
        sw.router.services.pop("nics", None)
        sw.fake.advance(86400)  # no NICS service: the batch is held
        await settle(sw)
        assert journal(sw, "disposition = 'nics-unavailable'")
        _ncic, nics = systems(sw)
        sw.fake.advance(86400)
        await settle(sw)
        assert sorted(e["NAM"] for e in nics.index.values()) == ["PARSONS,EDNA", "QUINCE,OTTO"]
        outs = journal(sw, "direction = 'out' AND key = 'NEN'")
        assert len(outs) == 2 and outs[0][4] == "to-nics"
        out = await wait(lic.request("QPP.OR024901Z.PPN/P0000001.PUR/A"))
        assert "SENT TO NICS" in out.body
        # relief goes the same day, at once
        out = await wait(court.request("XPP.OR024015J.PPN/P0000002.RSN/PSRB RELIEF GRANTED"))
        assert out.key == "ACC" and "NICS IS NOTIFIED TODAY" in out.body
        await settle(sw)
        assert [e["NAM"] for e in nics.index.values()] == ["PARSONS,EDNA"]
        assert any(a.startswith("NRM.OR024015J.NRI/") for a in nics.asked)
        # NICS drifts from the PPF: a wrong DOB and an entry the PPF does not hold
        [entry] = nics.index.values()
        entry["DOB"] = "19751213"
        nics.index["177"] = {
            "NRI": "177",
            "NAM": "X,Y",
            "DOB": "19600101",
            "SEX": "M",
            "PCA": "D",
            "ORI": "OR024015J",
        }
        sw.fake.advance(91 * 86400 - 2 * 86400)
        out = await wait(lic.next())
        assert (
            out.key == "AM" and "PPN/P0000001" in out.body and "NICS DOB/19751213" in flat(out.body)
        )
        out = await wait(court.next())
        assert out.key == "AM" and "NRI/177" in out.body
        assert "NOT ACTIVE IN THE PPF" in flat(out.body)


# ---------------------------------------------------------------- FICS

FCK = (
    "FCK.OR024905Z.NAM/PARSONS,EDNA.DOB/19751212.SEX/F.RAC/W.IDT/DL.IDN/A1234567"
    ".DLR/D1001.SER/K123456"
)


async def test_fics_approved_denied_and_stolen_gun(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        ncic, _nics = systems(sw)
        dealer = await sw.term("T13")
        out = await wait(dealer.request(FCK))
        assert out.key == "FCR" and "STATUS/APPROVED" in out.body and "FTN/F261123" in out.body
        ncic.hits.add("SER/K123456")
        out = await wait(dealer.request(FCK))
        assert "STATUS/DENIED" in out.body and "SER/K123456 REPORTED STOLEN" in out.body
        out = await wait(dealer.request("FSG.OR024905Z.SER/K123456"))
        assert out.key == "FCR" and "FIREARM REPORTED STOLEN" in out.body
        out = await wait(dealer.request("FSG.OR024905Z.SER/Q999"))
        assert "NOT REPORTED STOLEN" in out.body
        ncic.hits.clear()
        await wait((await sw.term("T08")).request(EPP))
        out = await wait(dealer.request(FCK))
        assert "STATUS/DENIED" in out.body and "PPN/" not in out.body  # never the reason
        out = await wait(dealer.request(FCK.replace(".IDN/", ".ADR/N.IDN/")))
        assert out.key == "REJ" and "ID-REQUIRED" in out.body


async def test_fics_identity_in_question_asks_for_thumbprint(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        systems(sw)
        isb = await sw.term("T07")
        sid = await enter_record(
            sw,
            isb,
            ARREST.replace("NAM/DOE,JOHN", "NAM/PARSONS,EDNA").replace(
                "DOB/19800101", "DOB/19751212"
            ),
        )
        await wait(isb.request(f"EDP.ORSIR0000.SID/{sid}.CYC/1.CHG/2202.DSP/CONV.DOD/20260601"))
        dealer = await sw.term("T13")
        out = await wait(dealer.request(FCK))  # the record is a man's; the purchaser is F
        assert "STATUS/PENDING" in out.body and "THUMBPRINT VERIFICATION" in out.body
        out = await wait(dealer.request(FCK + ".THB/TV778"))
        assert "STATUS/APPROVED" in out.body
        out = await wait(dealer.request(FCK.replace("SEX/F", "SEX/M")))
        assert "STATUS/DENIED" in out.body and "CONVICTION" not in out.body


async def test_fics_pending_resolves_by_unsolicited_message(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        ncic, nics = systems(sw)
        nics.down = True
        dealer = await sw.term("T13")
        out = await wait(dealer.request(FCK))
        assert "STATUS/PENDING" in out.body and "NICS" not in out.body
        ftn = out.body.split("FTN/")[1].split()[0]
        nics.down = False
        sw.fake.advance(1800)
        out = await wait(dealer.next())
        assert out.key == "FCR" and "RESOLVED" in out.body and f"FTN/{ftn}" in out.body
        assert "STATUS/APPROVED" in out.body
        out = await wait(dealer.request("FSG.OR024905Z.SER/K1"))
        assert "FIREARM NOT REPORTED STOLEN" in out.body
        ncic.down = True
        out = await wait(dealer.request("FSG.OR024905Z.SER/K1"))
        assert out.key == "REJ" and "NOT-AVAILABLE" in out.body


async def test_fics_check_records_purged_after_five_years(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        systems(sw)
        dealer = await sw.term("T13")
        await wait(dealer.request(FCK))
        await wait(
            sw.state.db.submit(
                [
                    (
                        "INSERT INTO fics_check (ftn, time, dealer_ori, terminal, dlr, name, dob, "
                        "result) VALUES ('F21010100001', '2021-11-01T00:00:00+00:00', 'OR024905Z', "
                        "'T13', 'D1', "
                        "'X,Y', '19700101', 'APPROVED')",
                        (),
                    )
                ]
            )
        )
        sw.fake.advance(86400)
        await settle(sw)
        await settle(sw)
        left = [r[0] for r in sw.state.db.query("SELECT ftn FROM fics_check")]
        assert left == ["F26112300001"]
        assert journal(sw, "disposition = 'purge' AND key = 'FCK'")


async def test_fics_pending_check_survives_a_switch_restart(tmp_path, reactor):
    from lems.lab import load_lab
    from lems.switch import Switch

    async with lab_switch(tmp_path, reactor) as sw:
        _, nics = systems(sw)
        nics.down = True
        out = await wait((await sw.term("T13")).request(FCK))
        assert "STATUS/PENDING" in out.body
        ftn = out.body.split("FTN/")[1].split()[0]
        await settle(sw)
    fake = task.Clock()
    sw = Switch(load_lab(tmp_path), reactor, clock=LabClock(fake, 1.0, START))
    sw.start()
    try:
        assert sw.stats["fics_resumed"] == 1
        systems(sw)
        port = await wait(sw.listen("tcp:0:interface=127.0.0.1"))
        sw.endpoint = f"tcp:host=127.0.0.1:port={port.getHost().port}"
        dealer = await signed_on(sw, reactor, "T13")
        fake.advance(1800)
        out = await wait(dealer.next())
        while out.key != "FCR":
            out = await wait(dealer.next())
        assert "RESOLVED" in out.body and f"FTN/{ftn}" in out.body
        assert "STATUS/APPROVED" in out.body
        dealer.close()
    finally:
        await wait(sw.stop())
