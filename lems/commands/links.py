"""``lems links``: the link kinds this installation can use, and what a missing one needs."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from lems.cli import show


def register(sub: Any) -> None:
    s = sub.add_parser(
        "links",
        help="list link adapters (tcp, tls, serial, mqtt, loop, plugins)",
        description="List the link kinds an endpoint string may start with: the "
        "built-in adapters and those other packages register in the 'lems.links' "
        "entry-point group. A kind whose package is missing says what to install.",
    )
    s.add_argument(
        "--check", action="store_true", help="exit 1 if a kind is missing its package or broken"
    )
    s.set_defaults(func=cmd_links)


def cmd_links(args: argparse.Namespace) -> int:
    from hardware import registry

    table = Table(title="link adapters")
    for col in ("kind", "module", "source", "status", "what"):
        table.add_column(col)
    missing = 0
    for name, spec in sorted(registry.specs().items()):
        what = ""
        try:  # adapter modules import their dependency only when used: this is cheap
            adapter = registry.load(name)
        except registry.AdapterMissing as e:
            status = f"missing: pip install {e.package}"
        except registry.EndpointError as e:
            status = f"broken: {e}"
        else:
            status, what = "available", registry.summary(adapter)
        if not status.startswith("available"):
            missing += 1
        table.add_row(name, spec.target, spec.source, status, what)
    show(table)
    return 1 if missing and args.check else 0
