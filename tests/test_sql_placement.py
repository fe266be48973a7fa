"""SQL lives in the storage and repository modules of ``lems`` only (issue 21).

Everything else calls named statements and reads (``lems.repositories``, ``lems.journal``,
``lems.mailbox``, ``lems.store``; for ``state.db``, ``lems.state.db`` and
``lems.state.repositories``, beside the state services that own that database), so a storage
change is a change there (and a PostgreSQL backend a set of new modules). A module anywhere
else that holds SQL fails this test.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SQL = re.compile(
    r"""["'](?:[^"'\n]*\s)?(SELECT\s|INSERT\s+(?:OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s"""
    r"""|DELETE\s+FROM\s|CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX|VIEW|TRIGGER)\s)"""
)
"""A string literal that starts (or has a word that starts) an SQL statement."""

REPOSITORIES = {"lems/store.py", "lems/journal.py", "lems/mailbox.py", "lems/state/db.py"}
"""Storage modules: the schema, the writer, and the reads and statements of their tables."""

REPOSITORY_PACKAGES = ("lems/repositories/", "lems/state/repositories/")
"""Packages of repository modules: the switch database's, ``state.db``'s."""


def holders() -> set[str]:
    return {
        str(p.relative_to(ROOT)) for p in (ROOT / "lems").rglob("*.py") if SQL.search(p.read_text())
    }


def test_the_detector_sees_sql():
    assert SQL.search('"SELECT value FROM meta WHERE key = ?"')
    assert SQL.search("'INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'")
    assert SQL.search('("UPDATE mailbox SET dead = 0"')
    assert not SQL.search('"SELECT"') and not SQL.search('"an update of the record"')


def test_sql_only_in_repositories():
    found = holders()
    elsewhere = sorted(
        p for p in found if p not in REPOSITORIES and not p.startswith(REPOSITORY_PACKAGES)
    )
    assert elsewhere == [], "SQL outside the repositories: move it to a repository module"
    assert "lems/switch.py" not in found and "lems/directory.py" not in found
