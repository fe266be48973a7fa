"""Fixtures: each mock national system on a fresh database with a fake clock (task.Clock)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from twisted.internet.task import Clock

from lems.clock import LabClock
from lems.endpoints.ncic import Ncic
from lems.endpoints.nics import Nics
from lems.endpoints.nlets import Nlets
from lems.endpoints.seed import seed_lab

START = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)


class Sent:
    """Collects what a system emits unsolicited."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str, str]] = []

    def __call__(self, ori: str, body: str, terminal: str, sensitive: str) -> None:
        self.items.append((ori, body, terminal, sensitive))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ncic(tmp_path, clock):
    system = Ncic.open(tmp_path / "ncic.db", LabClock(clock, 1.0, START))
    system.emit = Sent()
    yield system
    system.close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A small seeded world (all three databases), shared by a module's tests."""
    d = tmp_path_factory.mktemp("world")
    seed_lab(d, 2000, 7, ["OR0240000", "OR0260000"])
    return d


@pytest.fixture
def seeded_ncic(seeded, clock):
    system = Ncic.open(seeded / "ncic.db", LabClock(clock, 1.0, START))
    system.emit = Sent()
    yield system
    system.close()


@pytest.fixture
def nlets(seeded, clock):
    system = Nlets.open(
        seeded / "nlets.db",
        LabClock(clock, 1.0, START),
        [("OR0240000", "CASCADE COUNTY SHERIFF'S OFFICE", "SO")],
    )
    system.emit = Sent()
    yield system
    system.close()


@pytest.fixture
def nics(tmp_path, clock):
    system = Nics.open(tmp_path / "nics.db", tmp_path / "ncic.db", LabClock(clock, 1.0, START))
    system.emit = Sent()
    yield system
    system.close()
