"""tools/gen_codes.py: the packaged tables are exactly what the public sources give."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_packaged_tables_are_up_to_date_with_their_sources() -> None:
    out = subprocess.run(
        [sys.executable, "tools/gen_codes.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "up to date" in out.stdout


def test_generator_writes_a_file_the_code_book_reads(tmp_path: Path) -> None:
    import gzip
    import json

    target = tmp_path / "codes.json.gz"
    out = subprocess.run(
        [sys.executable, "tools/gen_codes.py", "--out", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(gzip.decompress(target.read_bytes()))
    assert data["tables"]["OFF"]["1001"] == "KIDNAP MINOR FOR RANSOM"
    assert data["tables"]["VMA"]["TESL"] == "TESLA"
    assert "VMA/TESL" in data["supplement"]
    assert data["origin"]["RAC"] == ["niem-2.0", "niem-5.0.1-update"]
