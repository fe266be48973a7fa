"""State answers over TCP: CCH name search by NCIC's rules, the fitness check, and notices that
say exactly what is true (no-record text, radio)."""

from __future__ import annotations

from support import wait
from test_fics_outcomes import fast
from test_state_services import ARREST, enter_record, lab_switch

HOMICIDE = (
    ARREST.replace("NAM/DOE,JOHN", "NAM/QUINTERO,LUIS ALBERTO")
    .replace("DOB/19800101", "DOB/19770707")
    .replace("CHG/2202.OCL/FB", "CHG/0901.OCL/FA")
    .replace("DOA/20260301", "DOA/20150301")
)


async def test_fitness_check_finds_a_homicide_conviction_by_surname_and_given_name(
    tmp_path, reactor
):
    async with lab_switch(tmp_path, reactor) as sw:
        isb = await sw.term("T07")
        sid = await enter_record(sw, isb, HOMICIDE)
        await wait(isb.request(f"EDP.ORSIR0000.SID/{sid}.CYC/1.CHG/0901.DSP/CONV.DOD/20160101"))
        qe = await sw.term("T10")
        for nam in ("QUINTERO,LUIS", "QUINTERO,L", "QUINTEROS,LUIS A"):
            out = await wait(
                qe.request(f"QFC.OR024902Z.NAM/{nam}.DOB/19770707.SEX/M.CRI/VOL1.ATN/SMITH")
            )
            assert out.key == "HIT" and "DISQUALIFYING RECORD/YES" in out.body, (nam, out.body)
        # another given initial, or a DOB a year off, is another person ... unless EXD/Y
        out = await wait(
            qe.request("QFC.OR024902Z.NAM/QUINTERO,MARIA.DOB/19770707.SEX/M.CRI/VOL1.ATN/SMITH")
        )
        assert "DISQUALIFYING RECORD/NO" in out.body
        q = "QFC.OR024902Z.NAM/QUINTERO,LUIS.DOB/19780707.SEX/M.CRI/VOL1.ATN/SMITH"
        assert "DISQUALIFYING RECORD/NO" in (await wait(qe.request(q))).body
        assert "DISQUALIFYING RECORD/YES" in (await wait(qe.request(q + ".EXD/Y"))).body
        t01 = await sw.term("T01")
        out = await wait(t01.request("QCH.OR0240000.NAM/QUINTERO,L.DOB/19780707.EXD/Y.PUR/C"))
        assert out.key == "HIT" and f"SID/{sid}" in out.body


async def test_no_record_answers_say_no(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor) as sw:
        t01 = await sw.term("T01")
        out = await wait(t01.request("QCH.OR0240000.NAM/NOBODY,NEVER.DOB/19700101.PUR/C"))
        assert out.key == "NRC"
        assert "NO OREGON CCH RECORD NAM/NOBODY,NEVER" in " ".join(out.body.split())
        noncj = await sw.term("T12")
        out = await wait(noncj.request("QCH.OR024904Z.NAM/NOBODY,NEVER.DOB/19700101.PUR/H"))
        assert out.key == "NRC" and "NO CRIMINAL RECORD" in out.body


async def test_radio_terminal_is_told_no_record_when_there_is_none(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor, edit=fast) as sw:
        radio = await sw.term("T05")
        out = await wait(radio.request("QH.OR0260200.NAM/NOBODY,NEVER.DOB/19700101.SEX/M.PUR/C"))
        assert out.key == "NRC", out.body
        assert "ON FILE" not in out.body and out.body.split("\n", 1)[1].startswith("NO ")
        out = await wait(radio.request("QCH.OR0260200.NAM/NOBODY,NEVER.DOB/19700101.PUR/C"))
        assert out.key == "NRC" and "ON FILE" not in out.body
        # a record that exists is still withheld from the radio
        await enter_record(sw, await sw.term("T07"))
        out = await wait(radio.request("QCH.OR0260200.NAM/DOE,JOHN.DOB/19800101.PUR/C"))
        assert out.key == "NTC" and "NOT SENT OVER RADIO" in out.body
