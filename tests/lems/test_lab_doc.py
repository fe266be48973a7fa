"""docs/LAB.md names every key lems/lab.py accepts, in the section that accepts it: a key added
to the lab file without a line in its reference fails here."""

from __future__ import annotations

import re
from pathlib import Path

from lems.lab import _ALLOWED

DOC = Path(__file__).parents[2] / "docs" / "LAB.md"
ARRAYS = {"agency", "terminal", "operator", "group", "endpoint"}


def _sections() -> dict[str, str]:
    text = DOC.read_text("utf-8")
    parts = re.split(r"^## `\[{1,2}([a-z_]+)\]{1,2}`\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_section_of_the_lab_file_has_its_heading():
    assert set(_sections()) == set(_ALLOWED)
    text = DOC.read_text("utf-8")
    for name in _ALLOWED:
        heading = f"[[{name}]]" if name in ARRAYS else f"[{name}]"
        assert f"## `{heading}`" in text, heading


def test_every_key_lab_py_accepts_is_in_its_section_of_lab_md():
    sections = _sections()
    missing = [
        f"{table}.{key}"
        for table, keys in _ALLOWED.items()
        for key in sorted(keys)
        if not re.search(rf"^\| `{re.escape(key)}` \|", sections.get(table, ""), re.M)
    ]
    assert not missing, f"docs/LAB.md does not document: {', '.join(missing)}"


def test_lab_md_documents_no_key_lab_py_refuses():
    sections = _sections()
    extra = [
        f"{table}.{key}"
        for table, body in sections.items()
        for key in re.findall(r"^\| `([a-z_]+)` \|", body, re.M)
        if key not in _ALLOWED.get(table, set())
    ]
    assert not extra, f"docs/LAB.md documents keys lab.toml refuses: {', '.join(extra)}"
