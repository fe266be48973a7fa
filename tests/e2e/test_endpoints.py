"""The national endpoints through the switch: terminals over TCP, NCIC/Nlets in-process over the
loopback link, and NCIC as a separate process over TCP."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys

from support import demo_lab, running_switch, signed_on, wait

from lems import store
from lems.lab import load_lab

EW = (
    "EW.OR0240000.NAM/ZYMANSKI,ORLA K.SEX/F.RAC/W.HGT/506.WGT/130.HAI/BRO.OFF/1299."
    "DOW/20261101.OCA/26-1001.DOB/19870412"
)


def fast(text: str, **extra: str) -> str:
    """Demo lab with no endpoint latency and short timeouts."""
    text = re.sub(r"latency_ms = \d+", "latency_ms = 0\ntimeout_s = 0.5", text)
    for name, mode in extra.items():
        text = text.replace(
            f'name = "{name}"\nmode = "inprocess"', f'name = "{name}"\nmode = "{mode}"'
        )
    return text


async def drain_until(client, key: str, timeout: float = 5.0):
    while True:
        out = await wait(client.next(timeout))
        if out.key == key:
            return out


async def test_enter_query_hit_and_locate_notice_to_owner(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path, fast), reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        t4 = await signed_on(switch, reactor, "T04")
        acc = await wait(t1.request(EW))
        assert acc.key == "ACC", acc.body
        nic = re.search(r"NIC/(W\d{9})", acc.body).group(1)
        # another agency queries with a phonetic spelling and gets the hit
        hit = await wait(t4.request("QW.OR0260000.NAM/ZIMANSKY,ORLA.DOB/19870412"))
        assert hit.key == "HIT" and f"NIC/{nic}" in hit.body
        assert "MKE/WANTED PERSON" in hit.body and "ORI/OR0240000" in hit.body
        # it locates the record: the owner gets $.L.
        acc = await wait(t4.request(f"LW.OR0260000.NAM/ZYMANSKI,ORLA K.NIC/{nic}.DOL/20261123"))
        assert acc.key == "ACC" and "LOCATED" in acc.body
        ntf = await drain_until(t1, "NTF")
        assert "$.L." in ntf.body and "BY ORI/OR0260000" in ntf.body and nic in ntf.body
        # only the owner may clear
        rej = await wait(t4.request(f"CW.OR0260000.NAM/ZYMANSKI,ORLA K.NIC/{nic}.DCL/20261123"))
        assert rej.key == "REJ" and "NOT-OWNER" in rej.body
        acc = await wait(t1.request(f"CW.OR0240000.NAM/ZYMANSKI,ORLA K.NIC/{nic}.DCL/20261123"))
        assert acc.key == "ACC" and "CLEARED" in acc.body
        nrc = await wait(t4.request("QW.OR0260000.NAM/ZYMANSKI,ORLA.DOB/19870412"))
        assert nrc.key == "NRC" and "NAM/ZYMANSKI,ORLA" in nrc.body
        t1.close()
        t4.close()


async def test_endpoint_down_queues_entries_and_announces(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path, fast), reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        conn = store.connect(switch.lab.database)
        conn.execute("INSERT OR REPLACE INTO endpoint_state VALUES ('ncic', 1, 'test')")
        sm = await drain_until(t1, "SM")
        assert "NCIC TEMPORARILY OUT OF SERVICE" in sm.body
        out = await wait(t1.request("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"))
        assert out.key == "REJ" and "NCIC NOT AVAILABLE" in out.body
        out = await wait(t1.request(EW))
        assert out.key == "NTC" and "QUEUED" in out.body
        conn.execute("UPDATE endpoint_state SET down = 0")
        conn.close()
        sm = await drain_until(t1, "SM", 6)
        assert "NCIC IN SERVICE" in sm.body
        acc = await drain_until(t1, "ACC")
        assert "WANTED PERSON ENTERED" in acc.body
        t1.close()


async def test_drop_rate_times_out_with_not_available(tmp_path, reactor):
    def edit(text: str) -> str:
        return fast(text).replace(
            'name = "ncic"\nmode = "inprocess"',
            'name = "ncic"\nmode = "inprocess"\ndrop_rate = 1.0',
        )

    async with running_switch(demo_lab(tmp_path, edit), reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        out = await wait(t1.request("QV.OR0240000.LIC/1ABC234"))
        assert out.key == "REJ" and "NCIC NOT AVAILABLE" in out.body
        assert switch.stats["ncic_timeouts"] >= 1
        t1.close()


async def test_ncic_as_a_separate_process_over_tcp(tmp_path, reactor):
    lab = demo_lab(tmp_path / "lab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lems.cli",
            "endpoint",
            "ncic",
            str(tmp_path / "lab"),
            "--listen",
            "tcp:0:interface=127.0.0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = await asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline)
        port = int(re.search(r":(\d+)$", line.strip()).group(1))
        mode = f"tcp:host=127.0.0.1:port={port}"
        path = tmp_path / "lab" / "lab.toml"
        path.write_text(fast(path.read_text(), ncic=mode))
        lab = load_lab(path)
        async with running_switch(lab, reactor) as switch:
            t1 = await signed_on(switch, reactor, "T01")
            acc = await wait(t1.request(EW))
            assert acc.key == "ACC", acc.body
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            sm = await drain_until(t1, "SM", 5)
            assert "NCIC TEMPORARILY OUT OF SERVICE" in sm.body
            out = await wait(t1.request("QW.OR0240000.NAM/ZYMANSKI,ORLA.DOB/19870412"))
            assert out.key == "REJ" and "NCIC NOT AVAILABLE" in out.body
            t1.close()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    rows = (
        sqlite3.connect(tmp_path / "lab" / "ncic.db")
        .execute("SELECT count(*) FROM record WHERE oca = '26-1001'")
        .fetchone()
    )
    assert rows[0] == 1


async def test_nlets_queries_relay_and_auto_hit_confirmation(tmp_path, reactor):
    def edit(text: str) -> str:
        return fast(text).replace("clock_speed = 1.0", "clock_speed = 20.0")

    async with running_switch(demo_lab(tmp_path, edit), reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        out = await wait(t1.request("DQ.OR0240000.WA.TXT\nOLN/NOSUCH1"))
        assert out.key == "DR" and "NOT ON FILE" in out.body
        out = await wait(t1.request("DQ.OR0240000.FA.TXT\nOLN/NOSUCH1"))
        assert out.key == "SM" and "FA USER DOES NOT RESPOND" in out.body
        out = await wait(t1.request("AM.OR0240000.WA9990000.TXT\nHELLO"))
        assert out.key == "ER" and ".19." in out.body
        # an out-of-state sheriff answers the hit confirmation after 5 lab seconds (0.25 s)
        t1.send(
            "YQ.OR0240000.WA0010000.TXT\nRTY/WP.RNO/1.PRI/U.OCA/24-1187.NIC/W000000184."
            "NAM/DOE,JOHN.RNA/SGT ROE.RAG/CASCADE CO SO"
        )
        yr = await drain_until(t1, "YR", 5)
        assert yr.ori == "WA0010000" and "CON/Y" in yr.body
        t1.close()


async def test_error_faults_answer_system_error_and_latency_is_added(tmp_path, reactor):
    def edit(text: str) -> str:
        text = fast(text).replace(
            'name = "ncic"\nmode = "inprocess"\nlatency_ms = 0',
            'name = "ncic"\nmode = "inprocess"\nlatency_ms = 0\nerror_rate = 1.0',
        )
        return text.replace(
            'name = "nlets"\nmode = "inprocess"\nlatency_ms = 0',
            'name = "nlets"\nmode = "inprocess"\nlatency_ms = 300',
        )

    async with running_switch(demo_lab(tmp_path, edit), reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        out = await wait(t1.request("QV.OR0240000.LIC/1ABC234"))
        assert out.key == "REJ" and "NCIC SYSTEM ERROR" in out.body
        start = reactor.seconds()
        out = await wait(t1.request("DQ.OR0240000.WA.TXT\nOLN/NOSUCH1"))
        assert out.key == "DR" and reactor.seconds() - start >= 0.3
        t1.close()


async def test_ask_for_other_services_and_unavailable_when_down(tmp_path, reactor):
    from lems.endpoints.client import EndpointUnavailable

    async with running_switch(demo_lab(tmp_path, fast), reactor) as switch:
        nics = switch.router.services["nics"]
        bodies = await wait(
            nics.ask("NCK.ORLEDS000.NAM/CLEAN,CARL.DOB/19700101.SEX/M", "ORLEDS000")
        )
        assert bodies[0].startswith("NCR.ORLEDS000") and "STATUS/PROCEED" in bodies[0]
        ncic = switch.router.services["ncic"]
        bodies = await wait(ncic.ask("QW.ORLEDS000.NAM/NOBODY,NEVER.DOB/19990909", "ORLEDS000"))
        assert bodies[0].startswith("NRC.ORLEDS000")
        ncic.set_down(True)
        try:
            await wait(ncic.ask("QW.ORLEDS000.NAM/NOBODY,NEVER.DOB/19990909", "ORLEDS000"))
        except EndpointUnavailable:
            pass
        else:
            raise AssertionError("ask() while down must fail")


async def test_queued_entries_survive_a_switch_restart(tmp_path, reactor):
    """An entry queued while NCIC was down is still sent after the switch restarts."""
    lab = demo_lab(tmp_path, fast)
    async with running_switch(lab, reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        conn = store.connect(switch.lab.database)
        conn.execute("INSERT OR REPLACE INTO endpoint_state VALUES ('ncic', 1, 'test')")
        await drain_until(t1, "SM")
        out = await wait(t1.request(EW))
        assert out.key == "NTC" and "QUEUED" in out.body
        t1.close()
    conn.execute("UPDATE endpoint_state SET down = 0")
    conn.close()
    async with running_switch(lab, reactor) as switch:
        assert switch.stats["ncic_requeued"] == 1
        t1 = await signed_on(switch, reactor, "T01")
        acc = await drain_until(t1, "ACC", 8)
        assert "WANTED PERSON ENTERED" in acc.body and "OCA/26-1001" in acc.body
        t1.close()
    async with running_switch(lab, reactor) as switch:  # answered: not queued a third time
        assert switch.stats["ncic_requeued"] == 0
