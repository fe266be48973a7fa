"""The interactive terminal driven through a pseudo-terminal, like a person at a keyboard:
sign on, HELP, a reject, a message arriving while a line is half typed, FORM, a dropped link
that reconnects, QUIT."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
from support import demo_lab, running_switch, signed_on, wait

LEMS = str(Path(sys.executable).with_name("lems"))


async def expect(child, pattern, timeout=10):
    return await child.expect(pattern, timeout=timeout, async_=True)


async def test_console_through_a_pty(tmp_path, reactor):
    lab = demo_lab(tmp_path)
    async with running_switch(lab, reactor) as switch:
        env = dict(os.environ, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", COLUMNS="120")
        child = pexpect.spawn(
            LEMS,
            [
                "terminal",
                switch.endpoint,
                "--lab",
                str(tmp_path),
                "--terminal",
                "T01",
                "--history",
                str(tmp_path / "history"),
            ],
            env=env,
            encoding="utf-8",
            dimensions=(40, 120),
            timeout=10,
        )
        try:
            await expect(child, "SIGN-ON ACCEPTED TERMINAL/T01")
            await expect(child, "T01>")

            child.sendline("HELP QW")
            await expect(child, "AT LEAST ONE COMPLETE IDENTIFIER SET")
            await expect(child, "NAM, DOB")

            child.sendline("EW.OR0240000.NAM/DOE,JOHN.SEX/M")
            await expect(child, r"REJECTED MISSING-FIELD FIELD RAC: MISSING MANDATORY FIELD RAC")

            # Half a line typed, then a message arrives: it is shown, the line survives.
            t4 = await signed_on(switch, reactor, "T04")
            child.send("AM.OR0240000.OR0260000.TXT PART ONE")
            await expect(child, "PART ONE")
            t4.send("AM.OR0260000.OR0240000.TXT UNSOLICITED HELLO FROM JUNIPER")
            await expect(child, "ADMINISTRATIVE MESSAGE")
            await expect(child, "UNSOLICITED HELLO FROM JUNIPER")
            child.send(" PART TWO\r")
            out = await wait(t4.next())
            assert out.key == "AM" and out.lines[-1] == "PART ONE PART TWO"

            # FORM walks the fields and sends what it built.
            child.sendline("FORM AM")
            await expect(child, r"DEST DESTINATIONS")
            child.sendline("OR0260000")
            await expect(child, r"TXT TEXT")
            child.sendline("BUILT BY THE FORM")
            await expect(child, r"SEND\? \[Y/n\]")
            child.sendline("y")
            out = await wait(t4.next())
            assert out.key == "AM" and out.lines[-1] == "BUILT BY THE FORM"

            # The link drops: the console reconnects, signs on again, traffic resumes.
            switch.online["T01"].link.close()
            await expect(child, "RECONNECTING")
            await expect(child, "RECONNECTED")
            t4.send("AM.OR0260000.OR0240000.TXT AFTER THE DROP")
            await expect(child, "AFTER THE DROP")

            child.sendline("QUIT")
            await expect(child, pexpect.EOF)
        finally:
            child.close(force=True)
        assert child.exitstatus == 0
        assert "HELP QW" in (tmp_path / "history").read_text()
        t4.close()
