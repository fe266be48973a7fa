"""The router: where each accepted message goes, as a table, not a chain of ifs.

A key's ``verb`` and ``file`` (from the dictionary) pick a route: administrative traffic and hit
confirmations are relayed to terminals by ORI, group or state; record files go to the service that
holds them (NCIC, Nlets, NICS, the state's CCH, FICS and PPF). Services register by name; a
service that is not registered (or is down) answers the way the real systems do when a system is
unavailable, never with silence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.logger import Logger

from formats import responses
from formats.dictionary import KeySpec
from formats.errors import Reject
from formats.message import Message
from formats.nic import FILE_LETTERS
from formats.rejects import RejectCode
from formats.responses import NletsClock
from lems.directory import Directory

log = Logger()

FILE_SERVICE: dict[str, str] = {
    **dict.fromkeys(FILE_LETTERS, "ncic"),  # NCIC's 21 files (each has its NIC letter)
    "iii": "ncic",
    "dmv": "nlets",
    "chri": "nlets",
    "orion": "nlets",
    "cch": "cch",
    "fics": "fics",
    "ppf": "ppf",
}
"""Record file -> the service that holds it."""

SERVICE_WORDS = {
    "ncic": "NCIC",
    "nlets": "NLETS",
    "nics": "NICS",
    "cch": "CCH",
    "fics": "FICS",
    "ppf": "PPF",
}


@dataclass(slots=True)
class Request:
    """An accepted message, journaled, on its way to a service."""

    seq: int
    terminal: str
    operator: str
    msg: Message
    spec: KeySpec
    received: datetime
    link: str = ""
    xml: bool = False
    """The request came as Nlets XML: its Nlets answers go back in XML."""


@dataclass(slots=True)
class Reply:
    """Something a service sends: to the requester (default), a terminal, or every terminal of
    an ORI. ``sensitive`` marks criminal history (``cch`` or ``iii``) for the radio and
    non-criminal-justice rules applied at delivery."""

    body: str
    terminal: str | None = None
    ori: str | None = None
    sensitive: str = ""
    key: str = ""
    origin: str = ""
    """The national system the body comes from (``ncic``: the terminal's NCIC interface header
    goes on top, lab.toml ``ncic_header``)."""


class Service(Protocol):
    """A place messages can be routed to. ``handle`` returns replies (or a Deferred of them);
    unsolicited traffic later goes through ``Switch.deliver_to_ori``."""

    name: str

    def handle(self, req: Request) -> list[Reply] | Deferred[list[Reply]]: ...


Handler = Callable[[Request], "list[Reply] | Deferred[list[Reply]]"]
"""A route or a service's ``handle``: replies now, or a Deferred of them."""


def call(handler: Handler, req: Request) -> Deferred[list[Reply]]:
    """``handler(req)`` as a Deferred, whether it answered at once, later, or raised.
    (``maybeDeferred`` flattens a returned Deferred; its overloads cannot say so for a handler
    typed to return either, hence the cast.)"""
    return cast("Deferred[list[Reply]]", maybeDeferred(handler, req))


class Router:
    """Routes by verb (``routes``) or by the service holding the file (``services``). It knows
    the directory (to relay by ORI) and the Nlets clock (to head what it answers), not the
    switch."""

    def __init__(self, directory: Directory, nlets_clock: Callable[[Request], NletsClock]) -> None:
        self.directory = directory
        self.nlets_clock = nlets_clock
        self.services: dict[str, Service] = {}
        self.routes: dict[str, Handler] = dict.fromkeys(
            ("admin", "hitconfirm", "hitreply"), self.relay
        )
        self._plain_relay = set(self.routes)
        """Verbs still routed by ``relay`` itself: ``answer_now`` may relay them between local
        terminals at once (a route put in front with ``intercept`` acts elsewhere too)."""

    def register(self, service: Service) -> None:
        self.services[service.name] = service

    def intercept(self, verb: str, handler: Handler) -> None:
        """Route ``verb`` to ``handler`` instead (the hit-confirmation tracker in front of the
        YQ/YR relay: it records, then calls ``relay`` itself)."""
        self.routes[verb] = handler
        self._plain_relay.discard(verb)

    def service_for(self, spec: KeySpec) -> str:
        return FILE_SERVICE.get(spec.file, spec.file or spec.key.lower())

    def service(self, name: str) -> Service | None:
        """The registered service called ``name`` (``nics``, ``nlets``…), or None."""
        return self.services.get(name)

    def by_verb(self, verb: str) -> bool:
        """Is ``verb`` routed by verb (a relay, or a route put in front with ``intercept``)
        rather than to the service holding the file?"""
        return verb in self.routes

    def handler_for(self, verb: str) -> Handler:
        """What handles a message relayed under ``verb``: its route, else the plain relay."""
        return self.routes.get(verb, self.relay)

    def route(self, req: Request) -> Deferred[list[Reply]]:
        handler = self.routes.get(req.spec.verb)
        if handler is None:
            name = self.service_for(req.spec)
            service = self.services.get(name)
            if service is None:
                return maybeDeferred(lambda: [self.unavailable(req, name)])
            handler = service.handle
        d = call(handler, req)

        def failed(f: Any) -> list[Reply]:
            log.failure("route of seq {seq} failed", f, seq=req.seq)
            return [self.unavailable(req, self.service_for(req.spec))]

        return d.addErrback(failed)

    def answer_now(self, req: Request) -> list[Reply] | None:
        """The replies, if the switch can answer ``req`` from what it holds, with no effect
        outside itself (a relay between local terminals, a service that is not there); None if
        the route acts elsewhere and must wait until the request is durable (``route``)."""
        handler = self.routes.get(req.spec.verb)
        if handler is None:
            name = self.service_for(req.spec)
            return [self.unavailable(req, name)] if name not in self.services else None
        if req.spec.verb in self._plain_relay:
            resolved = [self.resolve(dest) for dest in req.msg.destinations]
            if all(problem != "" for _, problem in resolved):  # nothing leaves the state
                return self._relay_local(req, resolved)
        return None

    def unavailable(self, req: Request, name: str) -> Reply:
        words = SERVICE_WORDS.get(name, name.upper())
        if name == "nlets":
            body = responses.sm(
                "TEMPORARILY OUT OF SERVICE",
                "NLETS",
                self.nlets_clock(req),
                req.msg.ori,
                control=req.msg.control,
            )
            return Reply(body, key="SM")
        rej = Reject(
            RejectCode.NOT_AVAILABLE,
            f"{words} NOT AVAILABLE - TRY AGAIN LATER",
            "MKE",
            req.msg.raw[:100],
        )
        return Reply(responses.reject(rej, req.msg.ori), key="REJ")

    # -------------------------------------------------------------- relay by ORI

    def resolve(self, dest: str) -> tuple[list[tuple[str, str]], str | None]:
        """Terminals (terminal, receiving ORI) for one destination, or the reason there are none.

        A reason of "" means the destination lies outside this state (Nlets' business)."""
        d = self.directory
        state = d.lab.state
        if dest in d.groups:
            out = [(t, ori) for ori in d.groups[dest].members for t in d.terminals_by_ori[ori]]
            return out, None
        if dest == state:
            return [(t, d.terminals[t].oris[0]) for t in d.in_state_terminals()], None
        if len(dest) == 9 and dest in d.agencies:
            return [(t, dest) for t in d.terminals_by_ori.get(dest, [])], None
        if dest[:2] == state:
            return [], f"DESTINATION {dest} IS NOT IN THE DIRECTORY"
        return [], ""

    def relay(self, req: Request) -> list[Reply] | Deferred[list[Reply]]:
        resolved = [self.resolve(dest) for dest in req.msg.destinations]
        replies = self._relay_local(req, resolved)
        if any(problem == "" for _, problem in resolved):
            nlets = self.services.get("nlets")
            if nlets is None:
                replies.append(self.unavailable(req, "nlets"))
            else:
                return call(nlets.handle, req).addCallback(lambda r: replies + r)
        return replies

    def _relay_local(
        self, req: Request, resolved: list[tuple[list[tuple[str, str]], str | None]]
    ) -> list[Reply]:
        """The copies for local terminals and the ERs for unknown destinations (``resolved``:
        ``resolve`` of each destination, in order)."""
        msg = req.msg
        replies: list[Reply] = []
        seen: set[str] = set()
        le_only = msg.key == "AML"
        body: list[str] | None = None
        for targets, problem in resolved:
            if problem:
                rej = Reject(".19.", f"INVALID DESTINATION ORIS - {problem}", "DEST", msg.raw[:100])
                replies.append(
                    Reply(responses.er(rej, self.nlets_clock(req), msg.ori, msg.control), key="ER")
                )
                continue
            for terminal, ori in targets:
                if terminal in seen:
                    continue
                if le_only and not self.directory.terminal_is_cj(terminal):
                    continue
                seen.add(terminal)
                if body is None:
                    body = msg.text.split("\n") if msg.text else responses.layout(msg.fields)
                    if le_only:
                        body = ["FOR LAW ENFORCEMENT DISSEMINATION ONLY", *body]
                text = responses.nlets_message(
                    msg.full_key, msg.ori, self.nlets_clock(req), ori, body, msg.control
                )
                replies.append(Reply(text, terminal=terminal, key=msg.full_key))
        return replies
