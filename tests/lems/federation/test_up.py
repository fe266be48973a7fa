"""``lems federation up``: brokers and one switch per state as real processes, the sign-on
table, traffic across, ``lems watch`` showing the network, a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time


def consecutive_free_ports(n: int) -> int:
    for base in range(31000, 60000, 97):
        ok = True
        for p in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port range")


def lems(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lems.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def test_federation_up_runs_an_exercise_and_stops_cleanly(tmp_path) -> None:
    port = consecutive_free_ports(2)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lems.cli",
            "federation",
            "up",
            str(tmp_path),
            "--states",
            "OR,WA",
            "--port",
            str(port),
            "--for",
            "120",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
            if line.startswith("Watch a node"):
                break
        out = "".join(lines)
        assert "NATS cluster: nats://127.0.0.1:" in out
        assert f"127.0.0.1:{port}" in out and f"127.0.0.1:{port + 1}" in out
        assert "LOGON.T01.OP01.train-01" in out
        sent = lems(
            "send",
            str(tmp_path / "WA"),
            "--terminal",
            "T01",
            "TQ.WA0010000.OR.TXT\nORI/OR0240000",
            "--wait",
            "6",
        )
        assert sent.returncode == 0, sent.stderr
        assert "TR.ORLEDS000" in sent.stdout and "CASCADE COUNTY SHERIFF" in sent.stdout
        watch = lems("watch", str(tmp_path / "WA"), "--count", "1")
        net = next(x for x in watch.stdout.splitlines() if x.startswith("NETWORK"))
        assert "OR=up" in net and "WA=up" in net, watch.stdout
        nats = [ln for ln in (tmp_path / "nats").glob("n*.conf")]
        assert len(nats) == 3
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "Federation stopped" in rest
    for st in ("OR", "WA"):
        assert "journal flushed" in (tmp_path / st / "serve.log").read_text()
    # the brokers are gone: nothing answers on their client ports any more
    for conf in (tmp_path / "nats").glob("n*.conf"):
        client = int(conf.read_text().split("listen: 127.0.0.1:")[1].split()[0])
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", client)) != 0
