"""Work left to the end of the reactor turn: sends collected while a turn's events are handled.

Why: the switch answers and forwards in bursts (every terminal that was ready in one turn), and
both its links (``hardware.link.Outbox``) and its SQLite writer (``lems.store.Writer``) do better
sending a turn's output together, once, than item by item. ``callLater(0)`` would do, but on
the asyncio reactor a timed call runs after the next turn's I/O events: the sends would wait for
a whole turn more, and the terminals and the writer process with them. asyncio's ``call_soon``
runs first in the next turn, before its I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from twisted.internet.asyncioreactor import AsyncioSelectorReactor
from twisted.internet.interfaces import IReactorTime


def at_turn_end(reactor: IReactorTime, fn: Callable[[], object]) -> None:
    """Call ``fn`` once the events of this reactor turn are handled, before the next turn's.

    On the asyncio reactor (from its thread, with its loop running) that is the loop's
    ``call_soon``; on any other reactor, and on a test's fake clock, ``callLater(0)``.
    """
    if isinstance(reactor, AsyncioSelectorReactor):
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            loop.call_soon(fn)
            return
    reactor.callLater(0, fn)
