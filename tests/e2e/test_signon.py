"""Sign-on no one can abuse, on a real switch over loopback TCP."""

from __future__ import annotations

import sqlite3

from support import demo_lab, running_switch, until, wait

from lems.signon import hash_password
from lems.store import when_committed
from terminals.client import TerminalClient


def fast(text: str) -> str:
    """Failed sign-ons answered after 20 ms, 40 ms, 50 ms (the default: 0.5 s, 1 s… 30 s)."""
    return text.replace(
        "lockout_after = 5",
        "lockout_after = 5\nsignon_delay = 0.02\nsignon_delay_max = 0.05\nsource_frames = 20",
    )


async def client(switch, reactor, source: str = "127.0.0.1") -> TerminalClient:
    c = TerminalClient(reactor)
    await wait(c.connect(f"{switch.endpoint}:bindAddress={source}"))
    return c


def refusal_lines(body: str) -> list[str]:
    """The reject without its echo (the echo repeats what the peer sent)."""
    return body.split("\nORIGINAL MESSAGE")[0].splitlines()


async def test_one_refusal_text_whatever_was_wrong(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path, fast), reactor) as switch:
        c = await client(switch, reactor)
        bodies = []
        for logon in (
            ("T99", "OP01", "train-01"),  # unknown terminal
            ("T01", "OP99", "train-01"),  # unknown operator
            ("T01", "OP01", "wrong"),  # wrong password
            ("T02", "OP01", "wrong"),  # not OP01's terminal, wrong password
            ("T01", "NOCHECK", "wrong"),
        ):  # not cleared, wrong password
            out = await wait(c.logon(*logon))
            assert out.key == "REJ"
            bodies.append(refusal_lines(out.body))
        assert all(b == bodies[0] for b in bodies), bodies
        assert bodies[0] == [
            "REJ.UNKNOWN",
            "REJECT CODE/SIGN-ON",
            "SIGN-ON REFUSED - TERMINAL, OPERATOR OR PASSWORD NOT VALID",
        ]
        c.close()
        c = await client(switch, reactor)  # (a link may send 8 frames before it signs on)
        # with the right password the operator learns why
        out = await wait(c.logon("T02", "OP01", "train-01"))
        assert "OPERATOR OP01 IS NOT AUTHORIZED ON TERMINAL T02" in out.body
        out = await wait(c.logon("T01", "NOCHECK", "train-00"))
        assert "NO CLEARED FINGERPRINT BACKGROUND CHECK" in out.body
        # the supervisor is limited to the control terminal
        out = await wait(c.logon("T01", "SUPER1", "super-pass"))
        assert "OPERATOR SUPER1 IS NOT AUTHORIZED ON TERMINAL T01" in out.body
        assert (await wait(c.logon("T00", "SUPER1", "super-pass"))).key == "SON"
        c.close()


async def test_a_flood_of_failed_sign_ons_does_not_lock_out_the_operator(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path, fast), reactor) as switch:
        # the operator works from 127.0.0.1 (signed on there before)
        real = await client(switch, reactor)
        assert (await wait(real.logon("T01", "OP01", "train-01"))).key == "SON"
        real.close()
        # a peer that never authenticated, from 127.0.0.2, floods wrong passwords for OP01
        # over five connections, 8 frames each (all a link may send unsigned), at once
        attackers = [await client(switch, reactor, "127.0.0.2") for _ in range(5)]
        for a in attackers:
            for i in range(8):
                a.send(f"LOGON.T01.OP01.guess-{i}")
        # meanwhile the operator signs on at once
        real = await client(switch, reactor)
        out = await wait(real.logon("T01", "OP01", "train-01"))
        assert out.key == "SON", out.body
        real.close()
        got = []

        def accounted() -> int:
            for a in attackers:
                got.extend(a.drain())
            more = sum(
                int(o.body.split("RATE LIMIT - ")[1].split()[0])
                for o in got
                if "MORE FRAMES NOT ACCEPTED" in o.body
            )
            return len([o for o in got if o.key == "REJ"]) + more

        await until(lambda: accounted() >= 40, 30)
        assert {o.key for o in got} <= {"REJ", "NTC"}
        bodies = [o.body for o in got if o.key == "REJ"]
        busy = sum("WAIT FOR THE ANSWER TO THE LAST SIGN-ON" in b for b in bodies)
        checked = sum("PASSWORD NOT VALID" in b for b in bodies)
        limited = sum("CODE/RATE-LIMIT" in b for b in bodies)
        # one address has one password checked at a time, the others are refused unchecked;
        # beyond 20 frames a second (source_frames) the address is refused and not read for a
        # second
        assert accounted() == 40 and busy > 0 and limited > 0 and checked >= 1
        assert switch.signon.guard.delay("tcp:127.0.0.2", "OP99") > 0  # the address is slowed down
        assert not switch.directory.operator_state["OP01"].locked
        assert switch.directory.operator_state["OP01"].failures == 0
        for a in attackers:
            a.close()
        await wait(when_committed(switch.writer, []))
        conn = sqlite3.connect(switch.lab.database)
        rows = conn.execute("SELECT locked FROM operator_state WHERE operator = 'OP01'").fetchall()
        conn.close()
        assert rows in ([], [(0,)])


async def test_passwords_are_never_journaled_in_any_form_of_logon(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path, fast), reactor) as switch:
        c = await client(switch, reactor)
        sent = [
            "LOGON.T07.OP07.train-07.",  # trailing period
            "LOGON .T07.OP07.train-07",  # space before the period
            "logon.T07.OP07.train-07.extra.more",  # extra fields
            "LOGON.T07.OP07.train-07",  # well formed, accepted
            "LOGON.T07.OP07.wrongpass-07",
        ]  # well formed, refused
        for text in sent:
            out = await wait(c.request(text))
            assert "train-07" not in out.frame and "wrongpass-07" not in out.frame
        await wait(when_committed(switch.writer, []))
        conn = sqlite3.connect(switch.lab.database)
        rows = conn.execute("SELECT text, reason FROM journal").fetchall()
        conn.close()
        assert not [r for r in rows if "train-07" in r[0] + r[1] or "wrongpass" in r[0] + r[1]]
        assert sum("LOGON.T07.OP07.********" in r[0] for r in rows) >= 4
        c.close()


async def test_a_hashed_password_signs_on(tmp_path, reactor):
    hashed = hash_password("s3cret-Pw")

    def edit(text: str) -> str:
        return fast(text).replace('password = "train-01"', f'password_hash = "{hashed}"')

    async with running_switch(demo_lab(tmp_path, edit), reactor) as switch:
        assert switch.lab.operators["OP01"].password == ""
        c = await client(switch, reactor)
        assert (await wait(c.logon("T01", "OP01", "train-01"))).key == "REJ"
        assert (await wait(c.logon("T01", "OP01", "s3cret-Pw"))).key == "SON"
        # frames sent right behind the LOGON wait for its answer, in order
        c.send("LOGOFF.T01")
        c.send("LOGON.T01.OP01.s3cret-Pw")
        c.send("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101")
        keys = [(await wait(c.next())).key for _ in range(3)]
        assert keys[:2] == ["SOF", "SON"] and keys[2] in ("HIT", "NRC"), keys
        c.close()


async def test_a_peer_that_floods_while_its_sign_on_is_checked_is_closed(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path, fast), reactor) as switch:
        c = await client(switch, reactor, "127.0.0.3")
        for i in range(40):
            c.send(f"LOGON.T01.OP01.guess-{i}")
        await wait(c.lost, 10)
        assert switch.stats["links_closed_flood"] == 1
        real = await client(switch, reactor)
        assert (await wait(real.logon("T01", "OP01", "train-01"))).key == "SON"
        real.close()
