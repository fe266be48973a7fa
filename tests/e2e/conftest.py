"""End-to-end tests: a socket, file or process a test leaves open is reported at that test.

Python reports an unclosed socket only when the garbage collector reaches it, which may be many
tests later (pytest turns the ResourceWarning into an error wherever it surfaces). Collecting
after each end-to-end test, where real links are opened and closed, pins the report on the test
that leaked.
"""

from __future__ import annotations

import gc

import pytest


@pytest.fixture(autouse=True)
def _collect_after():
    yield
    gc.collect()
