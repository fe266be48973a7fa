"""Operator passwords read again from lab.toml by a running switch when the file changes.

Why: ``lems operator passwd`` writes a new hash into lab.toml; an operator whose password was
just changed (because it leaked, or was forgotten) must not wait for a restart that would cut
every terminal off. The switch looks at the file's modification time and size when a sign-on
arrives (one ``stat``, a few microseconds) and, when they changed, loads the file again and
takes the passwords of the operators it already knows. Everything else in lab.toml (terminals,
clearances, new operators, limits) still takes effect at the next start: those change who may do
what on links already signed on, which a restart makes plain.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import MutableMapping
from pathlib import Path

from twisted.logger import Logger

from lems.lab import OperatorConfig, load_lab

log = Logger()


class Credentials:
    """Keeps ``operators`` (the switch directory's table) in step with lab.toml's passwords."""

    def __init__(self, path: Path, operators: MutableMapping[str, OperatorConfig]) -> None:
        self.path = path
        self.operators = operators
        self.seen = self._stamp()
        self.reloads = 0

    def _stamp(self) -> tuple[int, int]:
        try:
            st = os.stat(self.path)
        except OSError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size)

    def refresh(self) -> list[str]:
        """Take the passwords lab.toml holds now if the file changed since last seen; the
        operators whose password changed. A file that does not load is logged, and the
        passwords in use are kept (an editor may be half-way through)."""
        stamp = self._stamp()
        if stamp == self.seen or stamp == (0, 0):
            return []
        try:
            lab = load_lab(self.path)
        except Exception as e:
            log.warn("lab.toml changed but does not load, passwords unchanged: {e}", e=e)
            return []
        self.seen = stamp
        self.reloads += 1
        changed = []
        for oid, new in lab.operators.items():
            old = self.operators.get(oid)
            if old is not None and (old.password, old.password_hash) != (
                new.password,
                new.password_hash,
            ):
                self.operators[oid] = dataclasses.replace(
                    old, password=new.password, password_hash=new.password_hash
                )
                changed.append(oid)
        if changed:
            log.info("passwords of {ops} taken from {path}", ops=" ".join(changed), path=self.path)
        return changed
