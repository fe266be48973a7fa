"""The services a switch routes to, installed at start from the lab's configuration.

Each entry of ``INSTALLERS`` names a function ``install(switch) -> None`` that registers its
services with ``switch.router.register`` (and may start timers on ``switch.clock``). Installers
and services get the switch as a ``lems.ports.SwitchPort``: what a service may ask of it. A service
that is not installed is answered by the router as NOT AVAILABLE, never silently dropped.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lems.ports import SwitchPort

INSTALLERS: list[str] = [
    "lems.state.install:install",
    "lems.endpoints.install:install",
    "lems.federation.install:install",
]
"""``module:function`` strings, installed in order."""


def install(switch: SwitchPort) -> None:
    for spec in INSTALLERS:
        module, _, func = spec.partition(":")
        getattr(importlib.import_module(module), func)(switch)
