"""Install Twisted's asyncio reactor once, before anything imports ``twisted.internet.reactor``,
so Twisted protocols and asyncio libraries (aiomqtt) share one loop."""

from __future__ import annotations

import asyncio
import sys
from typing import Any


def install(kind: str = "asyncio") -> Any:
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

    return reactor
