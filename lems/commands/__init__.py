"""Subcommands of ``lems``: one module each, with ``register(subparsers)``."""
