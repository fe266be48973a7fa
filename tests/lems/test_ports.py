"""lems.ports: services know the switch only through SwitchPort, and a Switch provides all of it."""

from __future__ import annotations

import re
from pathlib import Path

from support import demo_lab
from twisted.internet.task import Clock

from lems.ports import SwitchPort
from lems.switch import Switch

ROOT = Path(__file__).resolve().parents[2]
SERVICES = [
    ROOT / "lems" / "services.py",
    *sorted((ROOT / "lems" / "state").glob("*.py")),
    *sorted((ROOT / "lems" / "endpoints").glob("*.py")),
    *sorted((ROOT / "lems" / "federation").glob("*.py")),
]


def test_no_service_imports_the_switch_class():
    found = [
        str(p.relative_to(ROOT))
        for p in SERVICES
        if re.search(r"^\s*from lems\.switch import|^\s*import lems\.switch", p.read_text(), re.M)
    ]
    assert found == []


def test_a_switch_has_every_member_of_the_port(tmp_path):
    switch = Switch(demo_lab(tmp_path), Clock())
    members = [
        name
        for name in {**SwitchPort.__annotations__, **vars(SwitchPort)}
        if not name.startswith("_")
    ]
    assert {"deliver", "journal", "router", "state"} <= set(members)
    missing = [
        m for m in members if m not in ("writer", "reader", "journal") and not hasattr(switch, m)
    ]
    assert missing == []  # writer, reader and journal come with start()
