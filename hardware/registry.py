"""Link adapters by name: one small table plus the ``lems.links`` entry-point group.

An endpoint string starts with its link kind (``tcp:``, ``tls:``, ``serial:``, ``mqtt://``,
``loop:``). The kind names an adapter; the adapter is imported only when a link of that kind is
opened (or ``lems links`` asks), so a lab without MQTT never imports aiomqtt, and an adapter whose
dependency is missing fails with an error naming the package to install (python-can's
``can/interfaces`` does the same).

A third party adds a link kind in its own package with an entry point::

    [project.entry-points."lems.links"]
    x25 = "lems_x25.link:ADAPTER"

where ``ADAPTER`` has ``listen(reactor, address, handler_factory, options)`` and
``connect(reactor, address, handler, options)`` (see ``LinkAdapter``) and optionally
``requires`` (a tuple of ``(import name, package name)``, checked before the adapter is used)
and ``summary`` (one line for ``lems links``). The built-in kinds are declared the same way, once,
in the project's own entry points (``pyproject.toml``); this module keeps no second table of
them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from formats.errors import LemsError
from hardware.link import LinkHandler

DEFAULT_WRITE_LIMIT = 1 << 20

GROUP = "lems.links"
"""The entry-point group third-party link adapters register in."""


class EndpointError(LemsError):
    """An endpoint string that cannot be used (unknown kind, bad option, missing package)."""


class AdapterMissing(EndpointError):
    """A link kind whose adapter cannot be imported; ``package`` says what to install."""

    def __init__(self, kind: str, package: str, detail: str = "") -> None:
        self.kind = kind
        self.package = package
        super().__init__(
            f"link kind {kind!r} needs the package {package!r}: "
            f"pip install {package}" + (f" ({detail})" if detail else "")
        )


@dataclass(frozen=True, slots=True)
class LinkOptions:
    """The project's options, valid on every link kind and taken out of the endpoint string
    before the adapter sees it."""

    framing: str = "line"
    max_frame: int = 16384
    idle: float = 0.0
    """Seconds without any received byte after which the link is closed (0: never)."""
    heartbeat: float = 0.0
    """Seconds without any sent byte after which a keepalive unit is sent (0: never)."""
    write_limit: int = DEFAULT_WRITE_LIMIT
    """Bytes a link may owe a peer that does not read before it counts as stuck and is closed."""
    arq: bool | None = None
    """Stop-and-wait ACK/NAK on framings that have them (``stx``, ``dle``); None: on."""
    ack_timeout: float | None = None
    """Seconds to wait for the peer's ACK before sending a frame again (None: 1 s)."""
    retries: int | None = None
    """Repeats before a frame is given up (None: 5)."""
    eol: str = ""
    """Line ending a line-framed link writes: ``crlf``, ``lf`` or ``cr``; empty: the link kind's
    default (CR LF on serial lines, LF elsewhere)."""
    extra: dict[str, str] = field(default_factory=dict)

    def eol_bytes(self, default: str = "lf") -> bytes:
        from formats.framing import EOLS

        return EOLS[self.eol or default]


class LinkAdapter(Protocol):
    """What a link kind provides. ``listen`` returns a Deferred of a port (``stopListening()``,
    ``getHost()``); ``connect`` a Deferred of the link (a ``FramedProtocol`` or alike)."""

    def listen(
        self,
        reactor: IReactorTime,
        address: str,
        handler_factory: Callable[[], LinkHandler],
        options: LinkOptions,
    ) -> Deferred[Any]: ...

    def connect(
        self, reactor: IReactorTime, address: str, handler: LinkHandler, options: LinkOptions
    ) -> Deferred[Any]: ...


@dataclass(frozen=True, slots=True)
class AdapterSpec:
    """Where a link kind's adapter lives, known without importing it."""

    name: str
    target: str
    """``module:attribute`` of the adapter object (the entry point's value)."""
    requires: tuple[tuple[str, str], ...] = ()
    """``(import name, package name)`` pairs checked before the adapter is used; read from the
    adapter's own ``requires`` once it is imported (``needs``)."""
    summary: str = ""
    source: str = "built-in"
    """The distribution that declares the entry point (``lems-sim`` for the built-in kinds)."""


_registered: dict[str, AdapterSpec] = {}
_objects: dict[str, Any] = {}


def register(name: str, adapter: Any, summary: str = "") -> None:
    """Register an adapter object in-process (tests, embedding); wins over everything else."""
    name = name.lower()
    _registered[name] = AdapterSpec(
        name, f"<in-process {type(adapter).__name__}>", (), summary, "register()"
    )
    _objects[name] = adapter


def unregister(name: str) -> None:
    _registered.pop(name.lower(), None)
    _objects.pop(name.lower(), None)


def specs() -> dict[str, AdapterSpec]:
    """Every known link kind: the ``lems.links`` entry points (the project's own among them),
    then ``register``."""
    found: dict[str, AdapterSpec] = {}
    for ep in entry_points(group=GROUP):
        dist = ep.dist.name if ep.dist is not None else "?"
        found[ep.name.lower()] = AdapterSpec(ep.name.lower(), ep.value, (), "", dist)
    found.update(_registered)
    return found


def missing_package(spec: AdapterSpec) -> str | None:
    """The first package ``spec`` needs that cannot be imported, or None."""
    from importlib.util import find_spec

    for module, package in spec.requires:
        try:
            if find_spec(module) is None:
                return package
        except (ImportError, ValueError):
            return package
    return None


def needs(adapter: Any) -> str | None:
    """The first package ``adapter`` names in its ``requires`` that cannot be imported, or
    None (adapter modules import their dependency inside their methods, so they can be
    imported to ask)."""
    return missing_package(AdapterSpec("", "", tuple(getattr(adapter, "requires", ()))))


def summary(adapter: Any) -> str:
    """What the adapter says it is (its ``summary``, else the first line of its docstring)."""
    text = getattr(adapter, "summary", "") or (type(adapter).__doc__ or "").strip()
    return str(text).split("\n", 1)[0]


def load(kind: str) -> Any:
    """The adapter for ``kind``, imported now; ``EndpointError`` naming what is wrong."""
    kind = kind.lower()
    obj = _objects.get(kind)
    if obj is None:
        known = specs()
        spec = known.get(kind)
        if spec is None:
            raise EndpointError(
                f"unknown link kind {kind!r}; known: "
                f"{', '.join(sorted(known)) or 'none (is lems-sim installed?)'}"
            )
        module, _, attr = spec.target.partition(":")
        try:
            obj = (
                getattr(importlib.import_module(module), attr)
                if attr
                else (importlib.import_module(module))
            )
        except ModuleNotFoundError as e:
            raise AdapterMissing(kind, (e.name or module).split(".")[0], str(e)) from e
        except AttributeError as e:
            raise EndpointError(f"link kind {kind!r}: {spec.target} does not exist ({e})") from e
    package = needs(obj)
    if package is not None:
        raise AdapterMissing(kind, package)
    _objects[kind] = obj
    return obj
