"""``lems endpoint`` and ``lems seed`` as a user runs them."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from support import demo_lab


def lems(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lems.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_help() -> None:
    for args in (
        ("endpoint", "--help"),
        ("endpoint", "ncic", "--help"),
        ("seed", "--help"),
        ("endpoint", "down", "--help"),
    ):
        out = lems(*args)
        assert out.returncode == 0 and "usage:" in out.stdout


def test_seed_then_down_and_up(tmp_path) -> None:
    lab = demo_lab(tmp_path)
    out = lems("seed", str(tmp_path), "--subjects", "400")
    assert out.returncode == 0, out.stderr
    assert "ncic.db:" in out.stdout and (tmp_path / "nics.db").exists()
    assert lems("seed", str(tmp_path), "--subjects", "400").returncode == 1
    assert lems("endpoint", "down", "ncic", str(tmp_path)).returncode == 0
    conn = sqlite3.connect(lab.database)
    assert conn.execute("SELECT down FROM endpoint_state WHERE name='ncic'").fetchone() == (1,)
    conn.close()
    assert lems("endpoint", "up", "ncic", str(tmp_path)).returncode == 0
    conn = sqlite3.connect(lab.database)
    assert conn.execute("SELECT down FROM endpoint_state WHERE name='ncic'").fetchone() == (0,)
    conn.close()
