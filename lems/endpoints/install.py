"""Start the national endpoints of a lab and register their clients as router services.

Per ``[[endpoint]]`` table (an endpoint without one runs in-process with no faults):

* ``mode = "inprocess"`` (default): the system runs in the switch's process behind a loopback
  link (``hardware.loopback``), its database next to the lab's (``ncic.db``, ``nlets.db``,
  ``nics.db``), seeded on first start from the lab's seed (``seed.DEFAULT_SUBJECTS`` subjects;
  ``lems seed DIR --subjects N`` makes bigger worlds);
* ``mode = "off"``: not started; the router answers NOT AVAILABLE;
* any other mode is an endpoint string of a separate ``lems endpoint NAME DIR --listen …``
  process, e.g. ``tcp:host=127.0.0.1:port=5101``.

Faults (latency, jitter, drop and error rates) come from the table and are sent to the endpoint
over the link. ``lems endpoint down|up`` writes ``endpoint_state`` in the lab database; the switch
reads it every second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from formats import endpoint_protocol as protocol
from formats.codes import CodeBook
from formats.dictionary import Dictionary
from hardware import endpoints
from hardware.loopback import connect_loop, listen_loop
from lems.clock import LabClock
from lems.endpoints.client import EndpointClient
from lems.endpoints.faults import Faults
from lems.endpoints.ncic import Ncic
from lems.endpoints.nics import Nics
from lems.endpoints.nlets import Nlets
from lems.endpoints.seed import DEFAULT_SUBJECTS, seed_lab
from lems.endpoints.server import EndpointServer
from lems.endpoints.system import System
from lems.lab import EndpointConfig, LabConfig
from lems.repositories import endpoint_state

if TYPE_CHECKING:
    from lems.ports import SwitchPort

log = Logger()

NAMES = ("ncic", "nlets", "nics")
POLL_S = 1.0


def lab_codes(lab: LabConfig) -> CodeBook:
    """The code tables the lab validates with: the packaged NCIC tables, with the lab's own
    CSV tables laid over them when it has a ``codes`` directory."""
    return CodeBook.load_dir(lab.codes_dir) if lab.codes_dir else CodeBook.builtin()


def make_system(name: str, lab: LabConfig, clock: LabClock) -> System:
    """Open (seeding if needed) the system ``name`` of ``lab``."""
    base = lab.database.parent
    seed_lab(
        base,
        DEFAULT_SUBJECTS,
        lab.seed,
        [a.ori for a in lab.agencies.values() if a.category == "cj"],
        home=lab.state,
    )
    if name == "ncic":
        codes = lab_codes(lab)
        return Ncic.open(
            base / "ncic.db",
            clock,
            tz=ZoneInfo(lab.timezone),
            codes=codes,
            dictionary=Dictionary.load(lab.dictionary, codes)
            if lab.codes_dir or lab.dictionary
            else None,
        )
    if name == "nlets":
        config = lab.endpoints.get("nlets", EndpointConfig("nlets"))
        return Nlets.open(
            base / "nlets.db",
            clock,
            [(a.ori, a.name, a.type) for a in lab.agencies.values()],
            home_state=lab.state,
            seed=lab.seed,
            out_of_service=config.out_of_service,
            slow=dict(config.slow),
        )
    return Nics.open(base / "nics.db", base / "ncic.db", clock)


def client_string(mode: str) -> str:
    """A remote endpoint string with the endpoint link's framing."""
    if "framing=" not in mode:
        mode += f":framing={protocol.FRAMING}"
    if "max_frame=" not in mode:
        mode += f":max_frame={protocol.MAX_FRAME}"
    return mode


def install(switch: SwitchPort) -> None:
    reactor = switch.reactor
    clients: dict[str, EndpointClient] = {}
    for name in NAMES:
        config = switch.lab.endpoints.get(name, EndpointConfig(name))
        if config.mode == "off":
            continue
        server: EndpointServer | None = None
        ports: list[Any] = []
        if config.mode == "inprocess":
            system = make_system(name, switch.lab, switch.clock)
            server = EndpointServer(system, reactor, Faults())
            loop_name = f"{name}-{id(switch):x}"
            listen_loop(
                reactor, loop_name, server.handler, protocol.FRAMING, protocol.MAX_FRAME
            ).addCallback(ports.append)

            def loop_connector(handler: Any, loop_name: str = loop_name) -> Any:
                return connect_loop(
                    reactor, loop_name, handler, protocol.FRAMING, protocol.MAX_FRAME
                )

            connector: Callable[[Any], Any] = loop_connector
        else:
            remote = client_string(config.mode)

            def remote_connector(handler: Any, remote: str = remote) -> Any:
                return endpoints.connect(reactor, remote, handler, protocol.MAX_FRAME)

            connector = remote_connector

        client = EndpointClient(switch, config, connector)
        client.server = server  # type: ignore[attr-defined]
        clients[name] = client
        switch.router.register(client)
        client.start()
        switch.stop_hooks.append(_stopper(client, server, ports))
    if clients:
        poll = LoopingCall(_poll_state, switch, clients)
        poll.clock = reactor
        poll.start(POLL_S, now=True)
        switch.stop_hooks.append(lambda: poll.stop() if poll.running else None)


def _stopper(client: EndpointClient, server: EndpointServer | None, ports: list[Any]) -> Any:
    def stop() -> None:
        client.stop()
        for port in ports:
            port.stopListening()
        if server is not None:
            server.system.close()

    return stop


def _poll_state(switch: SwitchPort, clients: dict[str, EndpointClient]) -> None:
    """Apply ``lems endpoint down|up`` written to the lab database."""
    try:
        rows = endpoint_state.marks(switch.reader)
    except Exception:
        log.failure("endpoint state poll failed")
        return
    for name, down in rows:
        client = clients.get(name)
        if client is not None:
            client.set_down(bool(down))
