"""The ``lems`` command: one console script with subcommands, ``--help`` on each.

Tables and colour come from rich when the output is a terminal; piped output is plain text.
Exit status: 0 success, 1 a refused or failed operation, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from formats.errors import ConfigError, LemsError
from lems import __version__

console = Console(highlight=False, soft_wrap=True)  # piped output: lines are not folded
errors = Console(stderr=True, highlight=False, soft_wrap=True)


def show(table: Table, out: Console | None = None) -> None:
    """Print a table: drawn by rich on a terminal, tab-separated plain lines when piped (so
    `grep`, `cut` and spreadsheets can read it)."""
    c = out or console
    if c.is_terminal:
        c.print(table)
        return
    if table.title:
        c.print(str(table.title), markup=False)
    c.print("\t".join(str(col.header) for col in table.columns), markup=False)
    for row in zip(*(list(col.cells) for col in table.columns), strict=True):
        cells = [Text.from_markup(x).plain if isinstance(x, str) else str(x) for x in row]
        c.print("\t".join(x.replace("\n", " / ") for x in cells), markup=False)
    if table.caption:
        c.print(str(table.caption), markup=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigError as e:
        errors.print(f"lems: configuration refused: {e}", markup=False)
        return 2
    except (LemsError, FileExistsError, OSError) as e:
        errors.print(f"lems: {e}", markup=False)
        return 1
    except KeyboardInterrupt:
        return 130


COMMANDS = [
    "parse",
    "lab",
    "admin",
    "mail",
    "terminal",
    "record",
    "journal",
    "links",
    "endpoint",
    "state",
    "training",
    "federation",
]
"""Modules of ``lems.commands``, in help order; each has ``register(subparsers)``."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lems",
        description="LEMS message-switch simulator (Oregon LEDS, NCIC, Nlets, NICS) "
        "for training labs and terminal integration testing. All data is fictitious.",
    )
    p.add_argument("--version", action="version", version=f"lems {__version__}")
    sub = p.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"lems.commands.{name}").register(sub)
    return p


if __name__ == "__main__":
    sys.exit(main())
