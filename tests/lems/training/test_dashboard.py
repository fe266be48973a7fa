"""The instructor's dashboard: the snapshot from the journal, ``lems watch`` in plain mode, and
the web page rendered by a real headless browser (Debian's chromium)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

from support import demo_lab, running_switch, signed_on, wait

from lems.store import when_committed
from lems.training.dashboard import snapshot
from lems.training.web import serve

LEMS = str(Path(sys.executable).with_name("lems"))
YQ = (
    "YQ.OR0260000.OR0240000.TXT\nRTY/WP.RNO/1.PRI/U.OCA/26-00211.NIC/W000018426."
    "NAM/PRUITT,DALE.RNA/DISPATCH OLSEN.RAG/JUNIPER CO SO"
)
YR = "YR.OR0240000.OR0260000.TXT\nRTY/WP.RNO/1.CON/Y.NIC/W000018426.RNA/DISPATCH ABERNATHY"


async def busy_lab(switch, reactor):
    t1 = await signed_on(switch, reactor, "T01")
    t4 = await signed_on(switch, reactor, "T04")
    t4.send(YQ)
    assert (await wait(t1.next())).key == "YQ"
    t1.send("EW.OR0240000.NAM/DOE,JOHN.SEX/M")
    assert (await wait(t1.next())).key == "REJ"
    await wait(when_committed(switch.writer, []))
    return t1, t4


async def test_snapshot_shows_online_rates_rejects_and_open_hits(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        t1, t4 = await busy_lab(switch, reactor)
        snap = snapshot(switch.lab.database, switch.lab.name, switch=switch)
        assert snap.online == ["T01", "T04"]
        assert snap.rejects == {"MISSING-FIELD": 1}
        assert snap.rates["YQ"] > 0 and "EW" in snap.rates
        [hit] = snap.hits
        assert (hit["from"], hit["to"], hit["id"], hit["priority"]) == (
            "OR0260000",
            "OR0240000",
            "W000018426",
            "U",
        )
        assert 590 <= hit["left"] <= 600
        assert snap.recent[0]["key"] == "REJ" and snap.recent[0]["dir"] == "out"
        # from another process: the journal alone
        alone = snapshot(switch.lab.database, switch.lab.name)
        assert alone.online == ["T01", "T04"] and alone.hits[0]["id"] == "W000018426"
        t1.send(YR)
        assert (await wait(t4.next())).key == "YR"
        await wait(when_committed(switch.writer, []))
        assert snapshot(switch.lab.database, switch=switch).hits == []
        t1.close()
        t4.close()


async def test_lems_watch_plain_output(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        t1, t4 = await busy_lab(switch, reactor)
        proc = await asyncio.create_subprocess_exec(
            LEMS, "watch", str(tmp_path), "--count", "1", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
        text = out.decode()
        assert proc.returncode == 0
        assert "ONLINE T01 T04" in text
        assert "REJECTS MISSING-FIELD=1" in text
        assert "OPEN-HITS OR0260000->OR0240000:W000018426:U:" in text
        t1.close()
        t4.close()


async def test_web_dashboard_in_headless_chromium(tmp_path, reactor):
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (apt-get install chromium; .ci/run does it)"
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        t1, t4 = await busy_lab(switch, reactor)
        # a dead letter (a message no link could carry, lems mail dead) is shown in red
        conn = sqlite3.connect(switch.lab.database)
        conn.execute(
            "INSERT INTO mailbox (terminal, osn, seq, body, dead) VALUES "
            "('T06', 9, 1, 'OSN/0000009 TRM/T06\nAM.OR0240000\nTOO LONG', 1)"
        )
        conn.commit()
        conn.close()
        port = await wait(serve(switch, "tcp:0:interface=127.0.0.1"))
        url = f"http://127.0.0.1:{port.getHost().port}/"
        with tempfile.TemporaryDirectory() as profile:
            proc = await asyncio.create_subprocess_exec(
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=3000",
                "--dump-dom",
                url,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            out, _ = await asyncio.wait_for(proc.communicate(), 60)
        dom = out.decode()
        assert 'data-loaded="yes"' in dom, dom[:2000]
        assert '<span id="online">T01 T04</span>' in dom
        assert "<td>MISSING-FIELD</td><td>1</td>" in dom
        assert "<td>W000018426</td><td>PRI/U</td>" in dom
        assert "endpoints" in dom and switch.lab.name in dom
        assert '<div id="deadbox"><h2 class="bad">dead letters' in dom  # shown, not hidden
        assert (
            '<tr class="bad"><td>T06</td><td>OSN/0000009</td><td>AM.OR0240000 | TOO LONG</td></tr>'
        ) in dom, dom[dom.find("deadbox") - 100 : dom.find("deadbox") + 600]
        t1.close()
        t4.close()
