"""``install(switch)``: make the switch a node of the Nlets network when its lab has
``[nlets] network`` (runs after the national endpoints are installed, see ``lems.services``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from formats.errors import ConfigError

if TYPE_CHECKING:
    from lems.ports import SwitchPort


def install(switch: SwitchPort) -> None:
    if not switch.lab.nlets.network:
        return
    from twisted.internet import asyncioreactor

    if not isinstance(switch.reactor, asyncioreactor.AsyncioSelectorReactor):
        raise ConfigError(
            "[nlets] network needs the asyncio reactor (lems serve --reactor asyncio, the default)"
        )
    from lems.federation.node import Node

    node = Node(switch, switch.router.service("nlets"))
    switch.router.register(node)
    switch.federation = node
    node.start()
    switch.stop_hooks.append(node.stop)
