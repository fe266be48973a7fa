"""SQL lives in the storage and repository modules of ``lems`` only (issue 21).

Everything else calls named statements and reads (``lems.repositories``, ``lems.journal``,
``lems.mailbox``, ``lems.store``, ``lems.state.db``), so a storage change is a change there.
``NOT_MOVED_YET`` lists the modules that still hold SQL of their own: a list that may only
shrink. A new module with SQL fails this test, and so does a listed module that no longer has
any (take it off the list).
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

NOT_MOVED_YET = {
    # command line tools reading and changing the database
    "lems/commands/admin.py",
    "lems/commands/endpoint.py",
    "lems/commands/federation.py",
    "lems/commands/state.py",
    # the simulated national systems, each over its own database
    "lems/endpoints/ncic.py",
    # the state files (state.db) and their jobs
    "lems/state/adminlog.py",
    "lems/state/audit.py",
    "lems/state/cch.py",
    "lems/state/fics.py",
    "lems/state/hits.py",
    "lems/state/install.py",
    "lems/state/jobs.py",
    "lems/state/ppf.py",
    "lems/state/removal.py",
    "lems/state/seed.py",
    # the rest
    "lems/federation/node.py",
    "lems/retention.py",
    "lems/training/dashboard.py",
    "lems/training/grading.py",
    "lems/training/run.py",
}


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
    allowed = REPOSITORIES | NOT_MOVED_YET
    found = holders()
    elsewhere = sorted(
        p for p in found if p not in allowed and not p.startswith("lems/repositories/")
    )
    assert elsewhere == [], "SQL outside the repositories: move it to lems/repositories/"
    moved = sorted(NOT_MOVED_YET - found)
    assert moved == [], "no SQL left here: take it off NOT_MOVED_YET"
    assert "lems/switch.py" not in found and "lems/directory.py" not in found
