"""Test session setup: one asyncio loop for the whole session with Twisted's asyncio reactor on
it (DESIGN.md, "One event loop"). Test modules must not import ``twisted.internet.reactor`` at
module level: use the ``reactor`` fixture."""

from __future__ import annotations

import asyncio
import gc
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session", autouse=True)
async def reactor():
    from twisted.internet import asyncioreactor

    if "twisted.internet.reactor" in sys.modules:
        from twisted.internet import reactor as installed

        if not isinstance(installed, asyncioreactor.AsyncioSelectorReactor):
            raise RuntimeError("a module imported twisted.internet.reactor at collection time")
    else:
        asyncioreactor.install(asyncio.get_running_loop())
    from twisted.internet import reactor

    if not reactor.running:
        reactor.startRunning(installSignalHandlers=False)
    yield reactor
    # The reactor is never stopped in tests (DESIGN.md), so stop its thread pool ourselves:
    # its worker threads are not daemons and would keep the process alive after the run.
    if reactor.threadpool is not None:
        reactor.threadpool.stop()


@pytest.fixture(autouse=True)
def _collect_after_e2e(request: pytest.FixtureRequest):
    """A socket, file or process an end-to-end test leaves open is reported at that test.

    Python reports an unclosed socket only when the garbage collector reaches it, which may be
    many tests later (pytest turns the ResourceWarning into an error wherever it surfaces).
    Collecting after each end-to-end test, where real links are opened and closed, pins the
    report on the test that leaked. (A fixture here, not a conftest.py in tests/e2e: test
    modules import this one as ``conftest``.)"""
    yield
    if "e2e" in request.node.path.parts:
        gc.collect()


@pytest.fixture
def shared_codes() -> Path:
    """The full NCIC code tables beside the project (``../shared``)."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "ncic-codes"
    if not path.is_dir():
        pytest.skip("../shared/data/ncic-codes is not present")
    return path
