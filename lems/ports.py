"""What a service may ask of the switch: the one interface installers and services are given.

A service (the state files in ``lems.state``, the national endpoint clients in
``lems.endpoints``, the Nlets network node in ``lems.federation``) is installed with
``install(switch: SwitchPort)`` (``lems.services``) and keeps that port, never the ``Switch``
class: what it may read (the lab, the directory, the clock, the dictionary), where it may write
(the journal and its writer), how it hands traffic back (``deliver``, ``deliver_to_ori``,
``send_replies``, ``deliver_replies``), how it takes part in routing (``router``, a
``RouterPort``: ``register``, ``intercept``, ``service``…, never the router's tables) and in the
switch's life (``started``, ``stop_hooks``, ``storage_failed``).
mypy checks both sides: ``Switch`` must provide all of it, a service may use nothing else.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred

from formats.dictionary import Dictionary, KeySpec
from formats.grammar import Parser
from formats.responses import NletsClock
from lems.clock import LabClock
from lems.directory import Directory
from lems.journal import Journal
from lems.lab import LabConfig
from lems.store import Statement, Writer

if TYPE_CHECKING:
    from lems.reactor import ISwitchReactor
    from lems.router import Handler, Reply, Request, Service


class RouterPort(Protocol):
    """The router as a service sees it: a service registers itself, puts a route in front of a
    verb, asks which service holds a file and hands a message on, by name; it never edits the
    router's tables."""

    def register(self, service: Service) -> None: ...

    def intercept(self, verb: str, handler: Handler) -> None: ...

    def service(self, name: str) -> Service | None: ...

    def service_for(self, spec: KeySpec) -> str: ...

    def by_verb(self, verb: str) -> bool: ...

    def handler_for(self, verb: str) -> Handler: ...

    def relay(self, req: Request) -> list[Reply] | Deferred[list[Reply]]: ...

    def unavailable(self, req: Request, name: str) -> Reply: ...


class SwitchPort(Protocol):
    """The switch as a service sees it."""

    lab: LabConfig
    reactor: ISwitchReactor
    clock: LabClock
    directory: Directory
    dictionary: Dictionary
    parser: Parser
    journal: Journal
    writer: Writer
    reader: sqlite3.Connection

    @property
    def router(self) -> RouterPort: ...

    stats: Counter[str]
    online: dict[str, Any]
    """Terminal -> its signed-on session (an endpoint tells whether an answer can be sent)."""
    started: bool
    RECOVERY_WINDOW: int
    """How many journal rows back a restart looks for work left unanswered."""
    stop_hooks: list[Callable[[], Any]]
    state: Any
    """The state services (``lems.state.install.StateServices``) once installed, else None."""
    federation: Any
    """The Nlets network node (``lems.federation.node.Node``) once installed, else None."""

    def deliver(
        self,
        terminal: str,
        body: str,
        *,
        ref: int = 0,
        key: str = "",
        ori: str = "",
        sensitive: str = "",
        pre: list[Statement] | None = None,
        to_sender: bool = False,
        origin: str = "",
    ) -> None: ...

    def deliver_to_ori(self, ori: str, body: str, **kw: Any) -> list[str]: ...

    def send_replies(self, replies: list[Reply], req: Request) -> None: ...

    def deliver_replies(
        self, replies: list[Reply], req: Request, pre: list[Statement]
    ) -> Deferred[None]: ...

    def journaled_request(self, seq: int) -> Request | None: ...

    def nlets_clock(self, req: Request) -> NletsClock: ...

    def nlets_clock_for(self, seq: int, received: datetime | None = None) -> NletsClock: ...

    def storage_failed(self, reason: str) -> None: ...
