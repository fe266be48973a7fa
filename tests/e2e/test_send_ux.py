"""``lems send`` as a user runs it (a real process) against a running switch: it never signs a
trainee's console off unless told to (``--take-over``), it leaves the terminal signed off, and it
never acknowledges after LOGOFF."""

from __future__ import annotations

import asyncio
import sqlite3
import sys

from support import demo_lab, running_switch, signed_on, until, wait


async def lems_send(lab_dir, endpoint, *args):
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lems.cli",
        "send",
        str(lab_dir),
        "--to",
        endpoint,
        "--wait",
        "0.5",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


def online(lab) -> str:
    conn = sqlite3.connect(lab.database)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'online'").fetchone()
        return row[0].partition(" ")[2] if row else ""
    finally:
        conn.close()


def journal_rows(lab, where):
    conn = sqlite3.connect(lab.database)
    try:
        return conn.execute(
            f"SELECT terminal, key, disposition, reason FROM journal WHERE {where} ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()


async def test_send_leaves_a_signed_on_console_alone_unless_taking_over(tmp_path, reactor):
    lab = demo_lab(tmp_path)
    async with running_switch(lab, reactor) as sw:
        console = await signed_on(sw, reactor, "T01")
        await until(lambda: "T01" in online(lab).split(","))
        code, out, err = await lems_send(
            tmp_path, sw.endpoint, "--terminal", "T01", "QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"
        )
        assert code == 1 and "signed on from another link" in err and "--take-over" in err
        assert "Traceback" not in err
        # the console is still signed on and answered
        out_ = await wait(console.request("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"))
        assert out_.key in ("NRC", "HIT"), out_.body
        # a free terminal: sent, answered, and left signed off (no ACK after LOGOFF)
        code, out, err = await lems_send(
            tmp_path, sw.endpoint, "--terminal", "T02", "QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"
        )
        assert code == 0, err
        assert "SIGN-ON ACCEPTED" in out and "SIGNED OFF" in out
        assert "NOT-SIGNED-ON" not in out
        # LOGOFF typed as a message: nothing is acknowledged after it
        code, out, err = await lems_send(
            tmp_path,
            sw.endpoint,
            "--terminal",
            "T03",
            "QW.OR0240100.NAM/DOE,JOHN.DOB/19800101",
            "LOGOFF.T03",
        )
        assert code == 0 and "NOT-SIGNED-ON" not in out, out
        # --take-over signs the console off, as asked
        code, out, err = await lems_send(
            tmp_path,
            sw.endpoint,
            "--terminal",
            "T01",
            "--take-over",
            "QW.OR0240000.NAM/DOE,JOHN.DOB/19800101",
        )
        assert code == 0, err
        sof = await wait(console.next())
        while sof.key != "SOF":
            sof = await wait(console.next())
        assert "SIGNED ON FROM ANOTHER LINK" in sof.body
        console.close()
    assert not [
        r
        for r in journal_rows(lab, "key = 'ACK' AND disposition != 'acked'")
        if r[0] in ("T02", "T03", "")
    ], journal_rows(lab, "key = 'ACK'")
    assert not journal_rows(lab, "reason LIKE 'NOT-SIGNED-ON%'")


async def test_send_to_no_switch_says_so_without_a_traceback(tmp_path):
    demo_lab(tmp_path)
    code, _out, err = await lems_send(
        tmp_path,
        "tcp:host=127.0.0.1:port=9",
        "--terminal",
        "T01",
        "QW.OR0240000.NAM/DOE,JOHN.DOB/19800101",
    )
    assert code == 1 and "cannot reach the switch" in err and "Traceback" not in err
