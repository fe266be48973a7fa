"""docs/FIDELITY.md names every NCIC transaction the dictionary knows, in one table format."""

from __future__ import annotations

import re
from pathlib import Path

from formats.dictionary import Dictionary
from formats.nic import FILE_LETTERS

DOC = Path(__file__).resolve().parent.parent / "docs" / "FIDELITY.md"


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    nxt = text.find("\n## ", start + 1)
    return text[start : nxt if nxt != -1 else len(text)]


def test_every_ncic_key_has_a_row() -> None:
    ncic = _section(DOC.read_text("utf-8"), "NCIC")
    named = set(re.findall(r"\b[A-Z]{2,6}(?:-[A-Z0-9]+)?\b", ncic))
    keys = {
        k
        for k, spec in Dictionary.default().keys.items()
        if spec.file in FILE_LETTERS or spec.file == "iii"
    }
    assert keys - named == set()


def test_table_format_and_nlets_heading() -> None:
    text = DOC.read_text("utf-8")
    assert "\n## Nlets\n" in text
    heads = [line for line in text.splitlines() if line.startswith("| transaction |")]
    assert heads and all(
        h == "| transaction | public source | what the simulator does | guess? |" for h in heads
    )
