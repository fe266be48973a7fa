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

from formats.errors import ConfigError, LemsError

console = Console(highlight=False, soft_wrap=True)  # piped output: lines are not folded
errors = Console(stderr=True, highlight=False, soft_wrap=True)


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


COMMANDS = ["parse", "lab", "admin", "terminal", "record", "links", "endpoint", "state",
            "training"]
"""Modules of ``lems.commands``, in help order; each has ``register(subparsers)``."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lems", description="LEMS message-switch simulator (Oregon LEDS, NCIC, Nlets, NICS) "
        "for training labs and terminal integration testing. All data is fictitious.")
    sub = p.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"lems.commands.{name}").register(sub)
    return p


if __name__ == "__main__":
    sys.exit(main())
