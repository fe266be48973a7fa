"""Install Twisted's asyncio reactor once, before anything imports ``twisted.internet.reactor``,
so Twisted protocols and asyncio libraries (aiomqtt) share one loop; and name, as Twisted
interfaces, the parts of a reactor the switch and its store call, so a reactor is typed by what
is asked of it (a ``task.Clock`` where only time is, in tests)."""

from __future__ import annotations

import asyncio
import sys
from typing import cast

from twisted.internet.interfaces import (
    IReactorCore,
    IReactorFDSet,
    IReactorTCP,
    IReactorThreads,
    IReactorTime,
)


class IWriterReactor(IReactorTime, IReactorFDSet):
    """What ``lems.store.Writer`` calls: timers, and the socket to its writer process, which it
    reads and writes itself (``addReader``/``addWriter``) rather than through a transport.

    A type for mypy only: no reactor declares it, and nothing checks ``providedBy`` against it;
    every Twisted reactor provides both parts."""


class ISwitchReactor(IWriterReactor, IReactorThreads):
    """What ``lems.switch.Switch`` calls: the writer's needs plus the reactor's thread pool (sign-on
    password checks and exports run off the reactor thread). A type for mypy only, as above."""


class IRunningReactor(ISwitchReactor, IReactorCore, IReactorTCP):
    """What a command asks of the reactor ``install`` gives it: the switch's needs, running and
    stopping it (``run``, ``stop``, ``callWhenRunning``, ``addSystemEventTrigger``) and TCP
    listeners (the mock Nlets' HTTP service). Links of every other kind are opened through
    endpoint strings (``hardware.endpoints``), which take the reactor as Twisted's endpoints
    do. A type for mypy; ``install`` checks the reactor provides each part."""


def install(kind: str = "asyncio") -> IRunningReactor:
    """Install and return the reactor (``asyncio`` by default, ``epoll`` for comparisons)."""
    if "twisted.internet.reactor" not in sys.modules:
        if kind == "asyncio":
            from twisted.internet import asyncioreactor

            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            asyncioreactor.install(loop)
        elif kind == "epoll":
            from twisted.internet import epollreactor

            epollreactor.install()
        else:
            raise ValueError(f"unknown reactor {kind!r}: asyncio or epoll")
    from twisted.internet import reactor

    parts = (IReactorTime, IReactorFDSet, IReactorThreads, IReactorCore, IReactorTCP)
    missing = [i.__name__ for i in parts if not i.providedBy(reactor)]
    if missing:
        raise TypeError(f"the {kind} reactor does not provide {', '.join(missing)}")
    return cast(IRunningReactor, reactor)
