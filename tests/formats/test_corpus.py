"""The corpus: messages in the shapes of public manual examples, each with the answer the manual
shows (tests/formats/corpus/README.md). The parser and the mock NCIC must give that answer."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from twisted.internet.task import Clock

from lems.clock import LabClock
from lems.endpoints.ncic import Ncic

CORPUS = Path(__file__).resolve().parent / "corpus"
CASES = sorted(CORPUS.glob("*.case"))
START = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)


def _steps(path: Path) -> tuple[str, list[tuple[str, str, list[str]]]]:
    source = ""
    steps: list[tuple[str, str, list[str]]] = []
    for line in path.read_text("utf-8").splitlines():
        if line.startswith("source:"):
            source = line[7:].strip()
        elif line.startswith("> "):
            ori, _, text = line[2:].partition(" ")
            steps.append((ori, text, []))
        elif line.startswith("< "):
            steps[-1][2].append(line[2:])
        elif line.strip() and not line.startswith("#"):
            raise AssertionError(f"{path.name}: bad line {line!r}")
    return source, steps


def test_corpus_is_not_empty() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(tmp_path, path: Path) -> None:
    source, steps = _steps(path)
    assert source, f"{path.name} names no source"
    ncic = Ncic.open(tmp_path / "ncic.db", LabClock(Clock(), 1.0, START))
    ncic.emit = lambda *a: None
    nic = ""
    try:
        for ori, text, expect in steps:
            answer = "\n".join(ncic.handle(text, ori, "T01").bodies)
            if answer.startswith("ACC."):
                nic = re.search(r"NIC/([A-Z]\d{9})", answer).group(1)
            at = 0
            for want in expect:
                want = want.replace("{nic}", nic)
                found = answer.find(want, at)
                assert found >= 0, f"{path.name}: {want!r} not in (after {at}):\n{answer}"
                at = found + len(want)
    finally:
        ncic.close()
