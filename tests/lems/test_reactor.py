"""``lems.reactor.install`` gives a reactor that provides every part of ``IRunningReactor``
(each kind in a fresh process: a reactor is installed once per process)."""

import subprocess
import sys

import pytest

CHECK = """
import sys
from lems.reactor import install
from twisted.internet.interfaces import (
    IReactorCore, IReactorFDSet, IReactorTCP, IReactorThreads, IReactorTime,
)
reactor = install(sys.argv[1])
parts = (IReactorTime, IReactorFDSet, IReactorThreads, IReactorCore, IReactorTCP)
print(type(reactor).__name__, all(i.providedBy(reactor) for i in parts))
"""


@pytest.mark.parametrize(
    ("kind", "name"), [("asyncio", "AsyncioSelectorReactor"), ("epoll", "EPollReactor")]
)
def test_install_gives_a_reactor_with_every_part_the_commands_use(kind, name):
    out = subprocess.run(
        [sys.executable, "-c", CHECK, kind], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == [name, "True"]


def test_an_unknown_kind_is_refused_by_name():
    out = subprocess.run(
        [sys.executable, "-c", CHECK, "select"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0
    assert "unknown reactor 'select': asyncio or epoll" in out.stderr
