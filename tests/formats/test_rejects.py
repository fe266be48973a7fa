"""formats.rejects: one spelling for each reject code, and no second copy of one elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

from formats import responses
from formats.errors import Reject
from formats.rejects import MISUSE, RejectCode

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    p
    for room in ("formats", "hardware", "lems", "terminals")
    for p in sorted((ROOT / room).rglob("*.py"))
    if p.name != "rejects.py"
]


def test_a_code_is_its_wire_text():
    rej = Reject(RejectCode.SPOOF, "ORI OR0260000 IS NOT AUTHORIZED", "ORI")
    assert f"{RejectCode.SPOOF}" == str(RejectCode.SPOOF) == "SPOOF"
    assert RejectCode.EXPIRED_AGREEMENT == "EXPIRED-AGREEMENT"
    assert responses.reject(rej, "OR0240000") == responses.reject(
        Reject("SPOOF", "ORI OR0260000 IS NOT AUTHORIZED", "ORI"), "OR0240000"
    )
    assert {c.value for c in RejectCode} >= {c.value for c in MISUSE}


def test_no_module_spells_a_code_itself():
    """A reject code written as a string (a constant, a literal in a reject) outside
    formats/rejects.py is a second spelling that can drift: every one goes through the enum."""
    words = "|".join(re.escape(c.value) for c in RejectCode)
    copies = re.compile(
        rf'^\s*[A-Z_]+\s*=\s*"({words})"\s*$'  # a module constant
        rf'|(?:Reject|_reject\w*|reject)\((?:\w+, )?"({words})"',
        re.M,
    )
    found = [
        f"{p.relative_to(ROOT)}: {m.group(0).strip()}"
        for p in SOURCES
        for m in copies.finditer(p.read_text())
    ]
    assert found == []
