"""One writer per lab: a served lab refuses a second writer; readers keep working beside it."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support import demo_lab, wait
from test_storage import start_server, stop

from lems.lablock import LabBusy, LabLock


def lems(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lems.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def refused(r: subprocess.CompletedProcess[str], pid: int) -> None:
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "is in use by" in r.stderr and f"pid {pid}" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


async def test_a_served_lab_refuses_other_writers_and_serves_readers(tmp_path, reactor):
    lab = demo_lab(tmp_path)
    proc, ports = await start_server(tmp_path)
    loop = asyncio.get_running_loop()
    try:
        from terminals.client import TerminalClient

        c = TerminalClient(reactor)
        await wait(c.connect(ports["line"]))
        assert (await wait(c.logon("T01", "OP01", "train-01"))).key == "SON"

        def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
            return lems(*args)

        second = await loop.run_in_executor(
            None, run, "serve", tmp_path, "--listen", "tcp:0:interface=127.0.0.1"
        )
        refused(second, proc.pid)
        assert "LISTENING" not in second.stdout
        refused(
            await loop.run_in_executor(None, run, "cch", "seed", tmp_path, "--subjects", "3"),
            proc.pid,
        )
        refused(
            await loop.run_in_executor(None, run, "seed", tmp_path, "--subjects", "3"), proc.pid
        )
        refused(
            await loop.run_in_executor(
                None,
                lambda: subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "lems.cli",
                        "exercise",
                        "run",
                        "answer-yq",
                        "--lab",
                        str(tmp_path),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    input="\n",
                ),
            ),
            proc.pid,
        )
        # the switch is unharmed
        out = await wait(c.request("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"))
        assert out.key in ("HIT", "NRC"), out.body
        # readers work beside it
        for args in (
            ("audit", tmp_path),
            ("hits", tmp_path),
            ("record", tmp_path, "--out", tmp_path / "day.jsonl"),
            ("watch", tmp_path, "--count", "1", "--interval", "0.1"),
            ("health", tmp_path),
        ):
            r = await loop.run_in_executor(None, run, *args)
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        assert (tmp_path / "day.jsonl").stat().st_size > 0
        c.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        await loop.run_in_executor(None, proc.wait, 20)
        stop(proc)
    # stopped: the lock is free again, health says so
    r = lems("health", tmp_path)
    assert r.returncode == 1 and "no switch serves" in r.stderr
    r = lems("cch", "seed", tmp_path, "--subjects", "2")
    assert r.returncode == 0, r.stderr
    assert Path(f"{lab.database}.lock").exists()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    lab = demo_lab(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom pathlib import Path\n"
            "from lems.lablock import LabLock\n"
            f"LabLock(Path({str(lab.database)!r}), 'command test')\n"
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LabBusy, match=f"pid {holder.pid}"):
            LabLock(lab.database, "command second")
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        LabLock(lab.database, "command third").release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        holder.stdout.close()


async def test_two_switches_in_one_process_on_one_lab(tmp_path, reactor):
    """``lems exercise run`` starts a switch in-process: the same lock refuses it."""
    from lems.switch import Switch

    lab = demo_lab(tmp_path)
    first = Switch(lab, reactor)
    first.start()
    try:
        with pytest.raises(LabBusy, match="is in use by"):
            Switch(lab, reactor).start()
    finally:
        await wait(first.stop())
    second = Switch(lab, reactor)
    second.start()
    await wait(second.stop())
