"""``lems operator passwd`` on a served lab takes effect at the next sign-on, without a restart
(``lems.credentials``): a real ``lems serve`` process, the real command as another process."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

from support import demo_lab, wait
from test_storage import start_server, stop

from lems.signon import REFUSED
from terminals.client import TerminalClient


async def test_a_password_set_while_the_switch_runs_is_used_at_the_next_sign_on(tmp_path, reactor):
    demo_lab(tmp_path)
    proc, ports = await start_server(tmp_path)
    loop = asyncio.get_running_loop()
    clients: list[TerminalClient] = []

    async def logon(terminal: str, operator: str, password: str) -> str:
        c = TerminalClient(reactor)
        clients.append(c)
        await wait(c.connect(ports["line"]))
        out = await wait(c.logon(terminal, operator, password), 20)
        return out.key if out.key == "SON" else out.body

    try:
        working = TerminalClient(reactor)
        clients.append(working)
        await wait(working.connect(ports["line"]))
        assert (await wait(working.logon("T02", "OP02", "train-02"))).key == "SON"

        r = await loop.run_in_executor(
            None,
            lambda: subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "lems.cli",
                    "operator",
                    "passwd",
                    str(tmp_path),
                    "OP01",
                    "--password",
                    "n3w-Secret",
                ],
                capture_output=True,
                text=True,
                timeout=60,
            ),
        )
        assert r.returncode == 0, r.stderr
        assert "from the next sign-on" in r.stdout

        assert await logon("T01", "OP01", "n3w-Secret") == "SON"
        refused = await logon("T01", "OP01", "train-01")
        assert REFUSED in refused, refused
        # the other operators' passwords and the links signed on are untouched
        assert await logon("T03", "OP03", "train-03") == "SON"
        out = await wait(working.request("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"))
        assert out.key in ("HIT", "NRC"), out.body
        assert proc.poll() is None
    finally:
        for c in clients:
            c.close()
        proc.send_signal(signal.SIGTERM)
        await loop.run_in_executor(None, proc.wait, 20)
        stop(proc)
