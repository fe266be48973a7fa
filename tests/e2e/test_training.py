"""The training lab from the command line: ``lems exercise run`` with its own switch and a
scripted trainee, then ``lems exercise report`` as JSON and HTML, and ``lems serve --web``."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from lems.demo import init_lab

LEMS = str(Path(sys.executable).with_name("lems"))
TRAINEES = Path(__file__).parents[1] / "lems" / "training" / "trainees"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lems(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LEMS, *argv], capture_output=True, text=True, timeout=timeout)


def test_exercise_run_and_report(tmp_path):
    init_lab(tmp_path, listen=f"tcp:{free_port()}:interface=127.0.0.1")
    good = lems(
        "exercise",
        "run",
        "answer-yq",
        "--lab",
        str(tmp_path),
        "--trainee",
        "KIM",
        "--script",
        str(TRAINEES / "answer-yq.good"),
    )
    assert good.returncode == 0, good.stdout + good.stderr
    bad = lems(
        "exercise",
        "run",
        "broadcast-aml",
        "--lab",
        str(tmp_path),
        "--trainee",
        "KIM",
        "--script",
        str(TRAINEES / "broadcast-aml.bad"),
    )
    assert bad.returncode == 1
    assert "no AML was sent" in bad.stdout
    html = tmp_path / "report.html"
    report = lems("exercise", "report", "--lab", str(tmp_path), "--json", "--html", str(html))
    data = json.loads(report.stdout)
    assert [(g["exercise"], g["passed"]) for g in data["KIM"]] == [
        ("answer-yq", True),
        ("broadcast-aml", False),
    ]
    assert "1 of 2 passed" in html.read_text()


def test_serve_with_web_dashboard(tmp_path):
    init_lab(tmp_path, listen=f"tcp:{free_port()}:interface=127.0.0.1")
    web = free_port()
    proc = subprocess.Popen(
        [LEMS, "serve", str(tmp_path), "--web", f"tcp:{web}:interface=127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web}/api/dashboard") as r:
                    data = json.loads(r.read())
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("dashboard did not come up")
        assert data["lab"].startswith("Oregon LEDS training lab")
        assert data["endpoints"].get("ncic") in ("up", "down")
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/") as r:
            assert b"LEMS lab dashboard" in r.read()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "LISTENING web" in out


def test_exercise_runs_on_a_lab_that_keeps_only_password_hashes(tmp_path):
    """`lems init` keeps only scrypt hashes: an exercise with its own switch still signs its
    scripted setup terminal and trainee on (passwords made up for the run, written nowhere);
    against a switch elsewhere it says why it cannot, naming the operator."""
    port = free_port()
    init = lems("init", str(tmp_path), "--listen", f"tcp:{port}:interface=127.0.0.1")
    assert init.returncode == 0, init.stderr
    before = (tmp_path / "lab.toml").read_text()
    assert "password_hash" in before and "train-04" not in before
    good = lems(
        "exercise",
        "run",
        "answer-yq",
        "--lab",
        str(tmp_path),
        "--trainee",
        "KIM",
        "--script",
        str(TRAINEES / "answer-yq.good"),
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert (tmp_path / "lab.toml").read_text() == before
    elsewhere = lems(
        "exercise",
        "run",
        "answer-yq",
        "--lab",
        str(tmp_path),
        "--switch",
        f"tcp:127.0.0.1:{port}",
        "--script",
        str(TRAINEES / "answer-yq.good"),
    )
    assert elsewhere.returncode == 1
    assert "has only a password hash" in elsewhere.stderr and "--training-passwords" in (
        elsewhere.stderr
    )
