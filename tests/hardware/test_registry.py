"""The link registry: endpoint strings, adapters by name, entry points, missing packages."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hardware import endpoints, registry
from hardware.registry import AdapterMissing, AdapterSpec, EndpointError


def test_split_takes_project_options_out():
    kind, rest, opts = endpoints.split("tcp:5020:interface=127.0.0.1:framing=stx:idle=30")
    assert (kind, rest) == ("tcp", "tcp:5020:interface=127.0.0.1")
    assert opts == {"framing": "stx", "idle": "30"}
    assert endpoints.kind_of("mqtt://127.0.0.1:1883/lems") == "mqtt"


@pytest.mark.parametrize(
    "opts, error",
    [
        ({"framing": "morse"}, "unknown framing"),
        ({"max_frame": "x"}, "number"),
        ({"idle": "-1"}, "negative"),
        ({"max_frame": "0"}, "at least 1"),
    ],
)
def test_bad_project_options_are_refused(opts, error):
    with pytest.raises(EndpointError, match=error):
        endpoints.options_of(opts, 100)


def test_client_for_turns_server_strings_into_client_strings():
    assert (
        endpoints.client_for("tcp:5020:interface=127.0.0.1:framing=stx")
        == "tcp:host=127.0.0.1:port=5020:framing=stx"
    )
    assert (
        endpoints.client_for("tls:5021:certKey=s.pem:caCerts=ca.pem")
        == "tls:host=127.0.0.1:port=5021:caCerts=ca.pem"
    )
    assert endpoints.client_for("loop:x") == "loop:x"


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(EndpointError, match=r"unknown link kind 'x25'.*serial"):
        registry.load("x25")


def test_the_builtin_kinds_are_declared_once_in_the_entry_points():
    """The project's own entry points are the only declaration of its link kinds: the registry
    finds each there, with its target, and holds no second table."""
    from importlib.metadata import entry_points

    ours = {
        ep.name: ep.value
        for ep in entry_points(group=registry.GROUP)
        if ep.dist is not None and ep.dist.name == "lems-sim"
    }
    assert set(ours) == {"tcp", "unix", "ssl", "tls", "serial", "mqtt", "mqtts", "loop"}
    found = registry.specs()
    for name, target in ours.items():
        assert found[name].target == target and found[name].source == "lems-sim"
        assert registry.load(name) is not None
    assert not hasattr(registry, "BUILTIN")
    assert registry.load("ssl").requires == (("OpenSSL", "pyOpenSSL"),)


def test_missing_dependency_names_the_package():
    from twisted.internet.defer import succeed

    class NeedsADriver:
        requires = (("lems_x25_driver", "lems-x25-driver"),)

        def listen(self, reactor, address, handler_factory, options):
            return succeed("port")

    registry.register("x25", NeedsADriver())
    try:
        with pytest.raises(AdapterMissing, match="pip install lems-x25-driver") as e:
            registry.load("x25")
        assert e.value.package == "lems-x25-driver"
    finally:
        registry.unregister("x25")
    spec = AdapterSpec("x25", "lems_x25:ADAPTER", (("lems_x25_driver", "lems-x25-driver"),))
    assert registry.missing_package(spec) == "lems-x25-driver"


async def test_a_registered_adapter_is_used_for_its_kind(reactor):
    from twisted.internet.defer import succeed

    calls = []

    class Fake:
        def listen(self, reactor, address, handler_factory, options):
            calls.append((address, options.framing))
            return succeed("port")

        def connect(self, reactor, address, handler, options):
            return succeed("link")

    registry.register("fake", Fake())
    try:
        d = endpoints.listen(reactor, "fake:ABC:framing=stx", lambda: None)
        assert d.result == "port" and calls == [("fake:ABC", "stx")]
    finally:
        registry.unregister("fake")


def test_lems_links_lists_adapters():
    out = subprocess.run(
        [sys.executable, "-m", "lems.cli", "links"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    for kind in ("tcp", "tls", "serial", "mqtt", "loop"):
        assert kind in out.stdout
    assert "available" in out.stdout
    help_ = subprocess.run(
        [sys.executable, "-m", "lems.cli", "links", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert help_.returncode == 0 and "entry-point" in help_.stdout
