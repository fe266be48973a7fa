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


SLOW = (
    "e2e",
    "tools",
    "lems/federation",
    "lems/training/test_rerun.py",
    "lems/training/test_class.py",
    "lems/training/test_dashboard.py",
    "lems/test_cli.py",
    "lems/test_state_labs.py",
    "lems/state/test_hits_machine.py",
    "lems/endpoints/test_endpoint_cli.py",
    "terminals/test_console.py",
    "terminals/test_script_terminal.py",
    "hardware/test_tls.py::test_rsa_certificates_san_identity_and_a_revoked_terminal",
    "hardware/test_tls.py::test_lems_init_tls_writes_a_lab_pki",
    "hardware/test_registry.py::test_lems_links_lists_adapters",
    "hardware/test_serial_link.py::test_a_terminal_program_in_another_process_signs_on",
    "hardware/test_health.py::test_a_terminal_that_never_reads_is_dropped",
    # the inner loop's slowest (issue 21: under 30 s): a broker process, connect timeouts, TLS
    # handshakes with a switch each, switch restarts, training runs, seeding twice
    "hardware/test_mqtt_link.py::test_without_the_dynamic_security_plugin",
    "hardware/test_mqtt_link.py::test_unreachable_broker_fails_connect",
    "hardware/test_tls.py::test_tls_profiles",
    "hardware/test_tls.py::test_require_tls_refuses_the_terminal_on_any_other_link",
    "hardware/test_tls.py::test_the_certificate_names_the_terminal",
    "hardware/test_tls.py::test_no_certificate_or_a_foreign_one_is_refused",
    "hardware/test_serial_link.py::test_the_terminal_dropping_dtr_ends_its_session",
    "lems/test_scenario_clock.py::test_lab_starts_at_the_scenario_and_never_goes_back",
    "lems/test_store.py::test_the_wal_is_checkpointed_and_reused_not_grown",
    "lems/training/test_exercises.py",
    "lems/endpoints/test_faults_seed.py::test_seed_is_reproducible_and_vins_are_valid",
    "formats/test_framing.py::test_stx_many_stx_bytes_take_linear_time",
)
"""Tests that are ``slow``, by path under tests/ (a directory, a file, or a file::test name
prefix): end to end (a switch, often a ``lems serve`` process, a broker or a NATS cluster),
benchmarks, the CLI as a subprocess, the federation, the training runs, a few that start
processes. Hypothesis property tests are slow too (hundreds of examples each)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the slow tests, so ``pytest -m "not slow"`` is the inner loop (README) while CI
    runs everything."""
    root = Path(__file__).parent
    for item in items:
        where = item.path.relative_to(root).as_posix()
        test = f"{where}::{item.name}"
        if any(
            where == s or where.startswith(s + "/") or test.startswith(s) for s in SLOW
        ) or getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.slow)
