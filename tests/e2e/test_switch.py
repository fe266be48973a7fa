"""The switch end to end over real TCP on loopback: sign-on, policy, relay, mailboxes, bad frames.

Each test starts a fresh demo lab in its own directory and a switch on a free port."""

from __future__ import annotations

import sqlite3

from support import demo_lab, running_switch, signed_on, until, wait

from lems import store
from lems.router import Reply
from lems.store import when_committed
from terminals.client import TerminalClient


async def connect(switch, reactor):
    client = TerminalClient(reactor)
    await wait(client.connect(switch.endpoint))
    return client


def journal(switch, where: str = "1", *args):
    conn = sqlite3.connect(switch.lab.database)
    try:
        return conn.execute(
            f"SELECT direction, terminal, key, disposition, reason, osn, text "
            f"FROM journal WHERE {where} ORDER BY seq",
            args,
        ).fetchall()
    finally:
        conn.close()


async def settle(switch):
    """Wait until everything queued so far is committed."""
    await wait(when_committed(switch.writer, []))


async def test_sign_on_names_the_oris_and_the_mailbox(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        c = await connect(switch, reactor)
        out = await wait(c.logon("T01", "OP01", "train-01"))
        assert out.key == "SON" and out.osn == 0
        assert "ORI/OR0240000" in out.body and "MAILBOX/0" in out.body
        c.close()


async def test_anything_before_sign_on_is_rejected_and_link_stays(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        c = await connect(switch, reactor)
        out = await wait(c.request("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"))
        assert out.key == "REJ" and "CODE/NOT-SIGNED-ON" in out.body
        out = await wait(c.logon("T01", "OP01", "train-01"))
        assert out.key == "SON"
        c.close()


def fast_refusals(text: str) -> str:
    """A lab whose failed sign-ons are answered after 10 ms, 20 ms… (not 0.5 s, 1 s…)."""
    return text.replace("lockout_after = 5", "lockout_after = 5\nsignon_delay = 0.01")


async def test_wrong_passwords_lock_out_until_a_supervisor_unlocks(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path, fast_refusals), reactor) as switch:
        c = await connect(switch, reactor)
        # signed on here once: failures from this address now count toward a lockout
        assert (await wait(c.logon("T01", "OP01", "train-01"))).key == "SON"
        assert (await wait(c.request("LOGOFF.T01"))).key == "SOF"
        for _ in range(5):
            out = await wait(c.logon("T01", "OP01", "wrong"))
            assert out.key == "REJ" and "CODE/SIGN-ON" in out.body
            assert "TERMINAL, OPERATOR OR PASSWORD NOT VALID" in out.body
        # the right password now learns why: locked
        out = await wait(c.logon("T01", "OP01", "train-01"))
        assert out.key == "REJ" and "LOCKED OUT - A SUPERVISOR MUST UNLOCK" in out.body
        # `lems operator unlock` writes the database and bumps the directory version.
        await settle(switch)
        conn = store.connect(switch.lab.database)
        conn.execute("UPDATE operator_state SET failures = 0, locked = 0 WHERE operator = 'OP01'")
        store.bump_directory_version(conn)
        conn.close()
        await until(lambda: not switch.directory.operator_state["OP01"].locked, 4)
        out = await wait(c.logon("T01", "OP01", "train-01"))
        assert out.key == "SON"
        c.close()
        await settle(switch)
        rows = journal(switch, "key = 'LOGON' AND direction = 'in'")
        assert all("wrong" not in r[6] and "train-01" not in r[6] for r in rows)
        assert [r[3] for r in rows].count("refused") == 6


async def test_uncleared_operator_cannot_sign_on(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        c = await connect(switch, reactor)
        out = await wait(c.logon("T01", "NOCHECK", "train-00"))
        assert out.key == "REJ" and "NO CLEARED FINGERPRINT BACKGROUND CHECK" in out.body
        c.close()


async def test_spoofed_ori_is_rejected_and_journaled(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        c = await signed_on(switch, reactor, "T01")
        out = await wait(c.request("QW.OR0260000.NAM/DOE,JOHN.DOB/19800101"))
        assert out.key == "REJ" and "CODE/SPOOF FLD/ORI" in out.body
        assert "OR0260000 IS NOT AUTHORIZED FOR TERMINAL T01" in out.body
        await settle(switch)
        rows = journal(switch, "direction = 'in' AND key = 'QW'")
        assert rows[-1][3] == "refused" and rows[-1][4].startswith("SPOOF")
        c.close()


POLICY_CASES = [
    # terminal, message, expected reject code
    ("T10", "QW.OR024902Z.NAM/DOE,JOHN.DOB/19800101", "KEY-NOT-ALLOWED"),
    (
        "T01",
        "EAR.OR0240000.NAM/DOE,JOHN.SEX/M.RAC/W.DOB/19800101.DOA/20260101.CHG/1313",
        "NOT-DESIGNATED",
    ),
    ("T11", "QCH.OR024903Z.NAM/DOE,JOHN.DOB/19800101.PUR/I.ATN/RESEARCH", "EXPIRED-AGREEMENT"),
    ("T08", "QCH.OR024901Z.NAM/DOE,JOHN.DOB/19800101.PUR/C", "CONSENT-REQUIRED"),
    ("T09", "QH.ORRISS000.NAM/DOE,JOHN.DOB/19800101.SEX/M.PUR/C", "KEY-NOT-ALLOWED"),
]


async def test_each_policy_refusal_over_tcp(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        for terminal, text, code in POLICY_CASES:
            c = await signed_on(switch, reactor, terminal)
            out = await wait(c.request(text))
            assert out.key == "REJ" and f"CODE/{code}" in out.body, (terminal, out.body)
            assert text[:40] in out.body  # the input is echoed
            c.close()
        await settle(switch)
        reasons = [r[4] for r in journal(switch, "disposition = 'refused'")]
        for _, _, code in POLICY_CASES:
            assert any(r.startswith(code) for r in reasons)


def _research_with_iii(text: str) -> str:
    text = text.replace(
        'category = "riss"\ntype = "CJ"', 'category = "riss"\ntype = "CJ"\nkeys = ["QH", "QW"]'
    )
    return text.replace(
        'name = "CASCADE COUNTY CIRCUIT COURT"\ntype = "JJ"',
        'name = "CASCADE COUNTY CIRCUIT COURT"\ntype = "JJ"\nagreement = false',
    )


async def test_iii_only_for_criminal_justice_and_agreement_required(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path, _research_with_iii), reactor) as switch:
        riss = await signed_on(switch, reactor, "T09")
        out = await wait(riss.request("QH.ORRISS000.NAM/DOE,JOHN.DOB/19800101.SEX/M.PUR/C"))
        assert "CODE/CJ-ONLY" in out.body
        court = await signed_on(switch, reactor, "T06")
        out = await wait(court.request("QW.OR024015J.NAM/DOE,JOHN.DOB/19800101"))
        assert "CODE/NO-AGREEMENT" in out.body
        riss.close()
        court.close()


async def test_suspended_agency_is_refused_then_reinstated(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        c = await signed_on(switch, reactor, "T03")
        conn = store.connect(switch.lab.database)
        conn.execute(
            "INSERT INTO agency_state (ori, suspended, reason) "
            "VALUES ('OR0240100', 1, 'MISUSE UNDER REVIEW')"
        )
        store.bump_directory_version(conn)
        await until(lambda: "OR0240100" in switch.directory.suspended, 4)
        out = await wait(c.request("QW.OR0240100.NAM/DOE,JOHN.DOB/19800101"))
        assert "CODE/SUSPENDED" in out.body and "MISUSE UNDER REVIEW" in out.body
        conn.execute("UPDATE agency_state SET suspended = 0 WHERE ori = 'OR0240100'")
        store.bump_directory_version(conn)
        conn.close()
        await until(lambda: "OR0240100" not in switch.directory.suspended, 4)
        out = await wait(c.request("QW.OR0240100.NAM/DOE,JOHN.DOB/19800101"))
        assert "CODE/SUSPENDED" not in out.body
        c.close()


async def test_admin_message_to_an_ori_a_group_and_law_enforcement_only(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        t2 = await signed_on(switch, reactor, "T02")
        t4 = await signed_on(switch, reactor, "T04")
        t8 = await signed_on(switch, reactor, "T08")
        t1.send("AM.OR0240000.OR0260000.OR024901Z.TXT\nROAD CLOSED AT MILEPOST 12\nUSE DETOUR")
        out = await wait(t4.next())
        assert out.key == "AM" and out.lines[-2:] == ["ROAD CLOSED AT MILEPOST 12", "USE DETOUR"]
        assert out.lines[2].endswith("OR0260000")  # output clock line names the receiver
        assert (await wait(t8.next())).key == "AM"
        # A group reaches every terminal of its member ORIs (T01 and T02 are Cascade SO).
        t4.send("AM.OR0260000.ORALLSO00.TXT\nBOLO BLUE PICKUP")
        got = [await wait(t.next()) for t in (t1, t2, t4)]
        assert all(o.lines[-1] == "BOLO BLUE PICKUP" for o in got)
        # AML goes to criminal-justice terminals only.
        t4.send("AML.OR0260000.OR0240000.OR024901Z.TXT\nLE ONLY")
        assert "FOR LAW ENFORCEMENT DISSEMINATION ONLY" in (await wait(t1.next())).body
        # T08 (non-CJ) did not get it: the next message it gets is the one sent after the AML
        # (one sender's messages are delivered in the order they were sent)
        t4.send("AM.OR0260000.OR024901Z.TXT\nAFTER THE AML")
        assert (await wait(t8.next())).lines[-1] == "AFTER THE AML"
        assert t8.drain() == []
        # An in-state ORI that does not exist gets an Nlets .19.
        out = await wait(t1.request("AM.OR0240000.OR0999999.TXT\nHELLO"))
        assert out.key == "ER" and ".19." in out.body
        for t in (t1, t2, t4, t8):
            t.close()


async def test_offline_mail_waits_in_order_and_leaves_only_when_acknowledged(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        for i in range(5):
            t1.send(f"AM.OR0240000.OR0260000.TXT\nMESSAGE {i}")
        await until(lambda: switch.mailboxes.count("T04") == 5)
        await settle(switch)
        # T04 signs on without acknowledging: all five arrive in order.
        t4 = TerminalClient(reactor, auto_ack=False)
        await wait(t4.connect(switch.endpoint))
        son = await wait(t4.logon("T04", "OP04", "train-04"))
        assert "MAILBOX/5 MESSAGES WAITING" in son.body
        first = [await wait(t4.next()) for _ in range(5)]
        assert [o.lines[-1] for o in first] == [f"MESSAGE {i}" for i in range(5)]
        osns = [o.osn for o in first]
        assert osns == sorted(osns) and len(set(osns)) == 5
        t4.ack(osns[0])
        t4.ack(osns[1])
        t4.close()
        await until(lambda: "T04" not in switch.online)  # after the two ACKs, in order
        # Signing on again: the unacknowledged three come again, with the same numbers.
        t4 = TerminalClient(reactor, auto_ack=True)
        await wait(t4.connect(switch.endpoint))
        await wait(t4.logon("T04", "OP04", "train-04"))
        again = [await wait(t4.next()) for _ in range(3)]
        assert [o.osn for o in again] == osns[2:]
        await until(lambda: switch.mailboxes.count("T04") == 0)
        await settle(switch)
        assert switch.mailboxes.count("T04") == 0
        conn = sqlite3.connect(switch.lab.database)
        assert conn.execute("SELECT COUNT(*) FROM mailbox WHERE terminal='T04'").fetchone()[0] == 0
        conn.close()
        t1.close()
        t4.close()


async def test_odd_acknowledgements_are_answered_and_journaled(tmp_path, reactor):
    """``ACK.<osn>`` is read without the grammar; what that short path does not take still gets
    the grammar's answer (a superscript two is a digit to Python but no OSN; the answer shows it
    in the outbound notation, ``<xB2>``). An OSN never sent is answered too."""
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        c = await signed_on(switch, reactor, "T01")
        for token, reason in [
            ("\u00b2", "NOT <xB2>"),
            ("9" * 5000, "NOT 9999999999"),
            ("12X", "NOT 12X"),
            ("", "MUST NOT END WITH A PERIOD"),
        ]:
            c.link.send_raw(f"ACK.{token}\n".encode("latin-1"))
            out = await wait(c.next())
            assert out.key == "REJ" and reason in out.body, out.body
        c.link.send_raw(b"ACK.4242\n")  # a number never sent
        out = await wait(c.next())
        assert out.key == "REJ" and "CODE/BAD-ACK FLD/OSN" in out.body, out.body
        assert "NO OUTPUT SEQUENCE NUMBER 4242 WAS SENT TO T01 - LAST OSN SENT 0000004" in out.body
        out = await wait(c.request("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"))
        assert out.key in ("REJ", "HIT", "NRC")
        await settle(switch)
        acks = journal(switch, "direction = 'in' AND text LIKE 'ACK.%' AND disposition != 'acked'")
        assert [r[3] for r in acks] == ["rejected"] * 4 + ["ack-unknown"]
        assert acks[-1][5] == 4242  # the OSN column
        c.close()


async def test_garbage_is_answered_and_the_link_survives(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        c = await signed_on(switch, reactor, "T01")
        c.link.send_raw(b"\x00\xff\xfe%%garbage..\x07\n")
        out = await wait(c.next())
        assert out.key == "REJ" and "REJECT CODE/" in out.body
        c.link.send_raw(b"QW.OR0240000.NAM/DOE,JOHN.DOB/19801345\n")
        out = await wait(c.next())
        assert "DOB/19801345 NOT A VALID DATE" in out.body and "FLD/DOB" in out.body
        out = await wait(c.request("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"))
        assert out.key in ("REJ", "HIT", "NRC")
        assert c.connected
        c.close()


async def test_oversized_frame_is_refused_without_harming_others(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        big = await signed_on(switch, reactor, "T01")
        other = await signed_on(switch, reactor, "T04")
        big.link.send_raw(b"AM.OR0240000.OR0260000.TXT\\\n" + b"X" * 100_000 + b"\n")
        out = await wait(big.next())
        assert out.key == "REJ" and "CODE/BAD-FRAME" in out.body
        assert "FRAME LONGER THAN 16384 BYTES" in out.body
        # Both links still work, and the other terminal never saw the giant.
        big.send("AM.OR0240000.OR0260000.TXT\nSTILL HERE")
        assert (await wait(other.next())).lines[-1] == "STILL HERE"
        assert big.connected and other.connected
        big.close()
        other.close()


class RecordService:
    """A stand-in CCH that answers every query with a full record marked sensitive."""

    name = "cch"

    def handle(self, req):
        body = f"CHR.{req.msg.ori}\nOREGON CCH RECORD\nSID/OR12345678 NAM/DOE, JOHN"
        return [Reply(body, sensitive="cch", key="CHR")]


async def test_radio_terminal_gets_a_notice_instead_of_a_criminal_history(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        switch.router.register(RecordService())
        wired = await signed_on(switch, reactor, "T04")
        radio = await signed_on(switch, reactor, "T05")
        out = await wait(wired.request("QCH.OR0260000.NAM/DOE,JOHN.DOB/19800101.PUR/C"))
        assert out.key == "CHR" and "SID/OR12345678" in out.body
        out = await wait(radio.request("QCH.OR0260200.NAM/DOE,JOHN.DOB/19800101.PUR/C"))
        assert out.key == "NTC" and "NOT SENT OVER RADIO" in out.body
        assert "SID/" not in out.body
        await settle(switch)
        rows = journal(switch, "terminal = 'T05' AND direction = 'out' AND key = 'CHR'")
        assert rows[-1][3] == "withheld-radio"
        wired.close()
        radio.close()


async def test_second_sign_on_moves_the_terminal(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        first = await signed_on(switch, reactor, "T01")
        second = await signed_on(switch, reactor, "T01")
        out = await wait(first.next())
        assert out.key == "SOF"
        await wait(first.lost)
        assert switch.online["T01"].link is not None
        sender = await signed_on(switch, reactor, "T04")
        sender.send("AM.OR0260000.OR0240000.TXT\nTO THE NEW LINK")
        assert (await wait(second.next())).lines[-1] == "TO THE NEW LINK"
        second.close()
        sender.close()


async def test_accepted_relay_without_copies_is_routed_again_at_start(tmp_path, reactor):
    """A crash between committing an AM and committing its copies: the restart delivers it."""
    lab = demo_lab(tmp_path)
    async with running_switch(lab, reactor):
        pass
    conn = store.connect(lab.database)
    seq = conn.execute("SELECT MAX(seq) FROM journal").fetchone()[0] + 1
    conn.execute(
        "INSERT INTO journal (seq, time, direction, terminal, operator, ori, key, "
        "disposition, text) VALUES (?, '2026-11-23T04:00:00+00:00', 'in', 'T01', "
        "'OP01', 'OR0240000', 'AM', 'accepted', ?)",
        (seq, "AM.OR0240000.OR0260000.TXT\nLOST IN THE CRASH"),
    )
    conn.close()
    got = []
    for _ in range(2):  # the second start must not route it again
        async with running_switch(lab, reactor) as switch:
            t4 = await signed_on(switch, reactor, "T04")
            # a message sent now comes after anything recovered at start: wait for it
            t1 = await signed_on(switch, reactor, "T01")
            t1.send("AM.OR0240000.OR0260000.TXT\nSENT AFTER THE START")
            seen: list[str] = []
            while "SENT AFTER THE START" not in seen:
                out = await wait(t4.next())
                if out.key == "AM":
                    seen.append(out.lines[-1])
            got.append(seen[:-1])
            t1.close()
            t4.close()
            await settle(switch)
        rows = journal(switch, "disposition = 'recovered'")
        assert len(rows) == 1 and f"SEQ/{seq}" in rows[0][6]
    assert got == [["LOST IN THE CRASH"], []]


async def test_a_query_recovered_but_killed_again_before_its_answer_is_recovered_again(
    tmp_path, reactor
):
    """Crash, restart (the query is recovered and waits for NCIC), crash again before the
    answer commits: the third start must still answer it (a "recovered" trace is no answer).
    Found by tools/soak_crash.py."""
    lab = demo_lab(tmp_path)
    async with running_switch(lab, reactor):
        pass
    conn = store.connect(lab.database)
    seq = conn.execute("SELECT MAX(seq) FROM journal").fetchone()[0] + 1
    conn.executemany(
        "INSERT INTO journal (seq, time, direction, terminal, operator, ori, key, disposition, "
        "ref, text) VALUES (?, '2026-11-23T04:00:00+00:00', ?, 'T01', 'OP01', 'OR0240000', "
        "'QW', ?, ?, ?)",
        [
            (seq, "in", "accepted", 0, "QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"),
            (seq + 1, "sys", "recovered", seq, f"RECOVERED QW SEQ/{seq}"),
        ],
    )
    conn.close()
    async with running_switch(lab, reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        out = await wait(t1.next(), 20)
        assert out.key in ("HIT", "NRC") and "DOE" in out.body
        t1.close()
        await settle(switch)
        assert journal(switch, "direction = 'out' AND key IN ('HIT', 'NRC')")
