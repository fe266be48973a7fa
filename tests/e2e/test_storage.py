"""Storage that fails loudly, tried on a real ``lems serve`` process: the writer killed, a
database that cannot be written at start, a disk that fills up and empties again."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import demo_lab, wait

from lems import store
from terminals.client import TerminalClient

FRAMINGS = ("line", "stx", "length")


def lems(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lems.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


async def start_server(lab_dir: Path, *extra: str) -> tuple[subprocess.Popen, dict[str, str]]:
    """``lems serve`` listening once per framing; (process, framing -> client endpoint)."""
    listens = [a for f in FRAMINGS for a in ("--listen", f"tcp:0:interface=127.0.0.1:framing={f}")]
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "lems.cli", "serve", str(lab_dir), *listens, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    loop = asyncio.get_running_loop()
    ports: dict[str, str] = {}
    seen = []
    while len(ports) < len(FRAMINGS):
        line = await asyncio.wait_for(loop.run_in_executor(None, proc.stdout.readline), 30)
        if not line:
            raise AssertionError("server exited: " + "".join(seen) + proc.stderr.read())
        seen.append(line)
        m = re.search(r"LISTENING .*framing=(\w+) -> 127\.0\.0\.1:(\d+)", line)
        if m:
            ports[m.group(1)] = f"tcp:host=127.0.0.1:port={m.group(2)}:framing={m.group(1)}"
    return proc, ports


def writer_pid(server: int, database: Path) -> int:
    """The writer process (``lems/committer.py``) of ``database`` under ``server``."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if (
            ppid == server
            and any(a.endswith(b"committer.py") for a in argv)
            and str(database).encode() in argv
        ):
            return int(pid)
    raise AssertionError(f"no writer process for {database}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
    proc.stdout.close()
    proc.stderr.close()


async def test_a_killed_writer_is_told_to_every_link_refused_and_exits(tmp_path, reactor):
    lab = demo_lab(tmp_path)
    log_file = tmp_path / "serve.jsonl"
    proc, ports = await start_server(tmp_path, "--log-file", str(log_file))
    try:
        clients = {}
        for framing, endpoint in ports.items():
            c = TerminalClient(reactor)
            await wait(c.connect(endpoint))
            clients[framing] = c
        # one signed on (line), two not yet (stx, length)
        assert (await wait(clients["line"].logon("T01", "OP01", "train-01"))).key == "SON"
        clients["line"].drain()
        os.kill(writer_pid(proc.pid, lab.database), signal.SIGKILL)
        killed = time.monotonic()
        for framing, c in clients.items():
            out = await wait(c.next(5))
            assert out.key == "NTC", (framing, out.body)
            assert "SWITCH STORAGE FAILED" in out.body
        # new input is refused with a reject on every framing (while the switch is still up)
        for framing, c in clients.items():
            if not c.connected:
                continue
            try:
                c.send("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101")
                out = await wait(c.next(2))
            except Exception:  # the switch closed the link meanwhile: that is allowed too
                continue
            assert out.key == "REJ" and "NOT-AVAILABLE" in out.body, (framing, out.body)
        loop = asyncio.get_running_loop()
        code = await loop.run_in_executor(None, proc.wait, 15)
        assert time.monotonic() - killed < 10
        assert code == 3
        err = proc.stderr.read()
        assert "storage failed" in err and str(lab.database) in err
        assert "Traceback" not in err
        # the machine-readable log has it too, with the info-level events stderr leaves out
        records = [json.loads(line) for line in log_file.read_text().splitlines()]
        assert any(r["level"] == "critical" and "killed by signal 9" in r["text"] for r in records)
    finally:
        stop(proc)


async def test_no_notice_is_sent_twice_and_the_journal_says_nothing_false(tmp_path, reactor):
    """After the failure nothing claims to be journaled: a restart on the same lab serves."""
    lab = demo_lab(tmp_path)
    proc, ports = await start_server(tmp_path)
    try:
        c = TerminalClient(reactor)
        await wait(c.connect(ports["line"]))
        assert (await wait(c.logon("T01", "OP01", "train-01"))).key == "SON"
        os.kill(writer_pid(proc.pid, lab.database), signal.SIGKILL)
        assert (await wait(c.next(5))).key == "NTC"
        await asyncio.get_running_loop().run_in_executor(None, proc.wait, 15)
        assert [o.key for o in c.drain()].count("NTC") == 0
    finally:
        stop(proc)
    proc, ports = await start_server(tmp_path)
    try:
        c = TerminalClient(reactor)
        await wait(c.connect(ports["line"]))
        assert (await wait(c.logon("T01", "OP01", "train-01"))).key == "SON"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        stop(proc)


# ---------------------------------------------------------------------- at start


def one_line_refusal(r: subprocess.CompletedProcess[str], database: Path, words: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert str(database) in lines[0] and words in lines[0], lines[0]
    assert "LISTENING" not in r.stdout


def test_a_corrupt_database_is_one_line_and_exit_2(tmp_path):
    lab = demo_lab(tmp_path)
    for suffix in ("-wal", "-shm"):
        Path(f"{lab.database}{suffix}").unlink(missing_ok=True)
    lab.database.write_bytes(b"this is no database\n" * 400)
    one_line_refusal(lems("serve", tmp_path), lab.database, "corrupt or not a LEMS database")


def test_a_database_of_another_program_is_refused(tmp_path):
    lab = demo_lab(tmp_path)
    lab.database.unlink()
    conn = sqlite3.connect(lab.database)
    conn.execute("CREATE TABLE journal (x)")
    conn.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION}")
    conn.close()
    one_line_refusal(lems("serve", tmp_path), lab.database, "wrong schema")


def test_a_newer_schema_is_refused(tmp_path):
    lab = demo_lab(tmp_path)
    conn = sqlite3.connect(lab.database)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    one_line_refusal(lems("serve", tmp_path), lab.database, "newer than this program")


def test_a_locked_database_is_refused(tmp_path):
    lab = demo_lab(tmp_path)
    # another process holds the write lock for longer than the switch waits
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({str(lab.database)!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE'); print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        r = lems("serve", tmp_path)
    finally:
        holder.kill()
        holder.wait(10)
        holder.stdout.close()
    one_line_refusal(r, lab.database, "locked by another process")


def _mount_tmpfs(where: Path, size: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_read_only_database_is_refused(tmp_path):
    """A read-only file system (root ignores file modes, so a read-only mount, as on CI)."""
    mnt = tmp_path / "ro"
    _mount_tmpfs(mnt, "64m")
    try:
        lab = demo_lab(mnt / "lab")
        r = subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot remount read-only: {r.stderr.strip()}")
        one_line_refusal(lems("serve", mnt / "lab"), lab.database, "read-only")
    finally:
        _umount(mnt)


def test_a_read_only_file_is_refused_for_a_user(tmp_path):
    """Without root: file modes (as root this is the mount test above)."""
    if os.geteuid() == 0:
        pytest.skip("root writes read-only files: covered by the read-only mount test")
    lab = demo_lab(tmp_path)
    lab.database.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        one_line_refusal(lems("serve", tmp_path), lab.database, "read-only")
    finally:
        tmp_path.chmod(0o755)


# ---------------------------------------------------------------------- disk full


async def test_disk_full_says_so_and_recovers_when_space_returns(tmp_path, reactor):
    mnt = tmp_path / "small"
    _mount_tmpfs(mnt, "6m")
    proc = None
    try:
        lab_dir = mnt / "lab"
        demo_lab(lab_dir)
        proc, ports = await start_server(lab_dir)
        c = TerminalClient(reactor)
        await wait(c.connect(ports["line"]))
        assert (await wait(c.logon("T01", "OP01", "train-01"))).key == "SON"
        # fill the file system to the last byte
        filler = mnt / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for size in (65536, 512, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError:
                    pass
        finally:
            os.close(fd)
        # messages now fail to journal: each sender gets a reject saying why
        refused = None
        for i in range(100):
            for j in range(20):
                c.send(f"AM.OR0240000.OR0260000.TXT\n{'X' * 2000} {i} {j}")
            out = await answer(c)
            if out.key == "REJ":
                refused = out
                break
        assert refused is not None and "DISK FULL" in refused.body, refused
        # space returns: messages are journaled and answered again
        filler.unlink()
        deadline = time.monotonic() + 20
        while True:
            out = await answer(c)
            if out.key != "REJ":
                break
            assert time.monotonic() < deadline, "no recovery after space returned"
            await asyncio.sleep(0.2)  # a retry interval, as a terminal operator would
        assert proc.poll() is None, "the switch must survive a full disk"
        proc.send_signal(signal.SIGTERM)
        await asyncio.get_running_loop().run_in_executor(None, proc.wait, 15)
        err = proc.stderr.read()
        assert "disk full" in err
        assert "no transaction is active" not in err
        assert "Traceback" not in err
        assert "checkpoint" not in err or "works again" in err
    finally:
        if proc is not None:
            stop(proc)
        _umount(mnt)


async def answer(c: TerminalClient) -> object:
    """Send an inquiry; its answer (HIT, NRC) or the reject that refused it."""
    c.send("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101")
    while True:
        out = await wait(c.next(10))
        if out.key in ("HIT", "NRC", "REJ"):
            return out


@pytest.fixture(autouse=True)
def _no_leftover_mounts(tmp_path):
    yield
    for mnt in (tmp_path / "ro", tmp_path / "small"):
        if os.path.ismount(mnt):
            _umount(mnt)
    shutil.rmtree(tmp_path, ignore_errors=True)
