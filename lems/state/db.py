"""The state services' database: ``state.db`` beside the lab database, its own schema versions.

Writes go through a group-commit ``lems.store.Writer`` of their own (one writer process per
database file); reads run on the reactor thread and are small indexed lookups only.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred

from lems import store
from lems.store import Statement, Writer, when_committed

if TYPE_CHECKING:
    from lems.reactor import IWriterReactor

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE subject (
        sid TEXT PRIMARY KEY,
        fbi TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL,
        sex TEXT NOT NULL DEFAULT '',
        rac TEXT NOT NULL DEFAULT '',
        dob TEXT NOT NULL,                -- CCYYMMDD
        hgt TEXT NOT NULL DEFAULT '',
        wgt TEXT NOT NULL DEFAULT '',
        eye TEXT NOT NULL DEFAULT '',
        hai TEXT NOT NULL DEFAULT '',
        pob TEXT NOT NULL DEFAULT '',
        soc TEXT NOT NULL DEFAULT '',
        fpi INTEGER NOT NULL DEFAULT 0,   -- fingerprint identified
        challenged INTEGER NOT NULL DEFAULT 0,
        last_arrest TEXT NOT NULL DEFAULT '',
        created TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;
    CREATE INDEX subject_name ON subject (name, dob);
    CREATE INDEX subject_fbi ON subject (fbi);
    CREATE INDEX subject_age ON subject (dob, last_arrest);
    CREATE TABLE alias (
        name TEXT NOT NULL,
        sid TEXT NOT NULL,
        PRIMARY KEY (name, sid)
    ) WITHOUT ROWID;
    CREATE INDEX alias_sid ON alias (sid);
    CREATE TABLE cycle (
        sid TEXT NOT NULL,
        cyc INTEGER NOT NULL,
        doa TEXT NOT NULL,
        ori TEXT NOT NULL DEFAULT '',
        oca TEXT NOT NULL DEFAULT '',
        manual INTEGER NOT NULL DEFAULT 0,  -- on the manual (paper) file only: not for RISS
        sealed INTEGER NOT NULL DEFAULT 0,  -- set aside by court order: never disseminated
        PRIMARY KEY (sid, cyc)
    ) WITHOUT ROWID;
    CREATE TABLE charge (
        sid TEXT NOT NULL,
        cyc INTEGER NOT NULL,
        n INTEGER NOT NULL,
        chg TEXT NOT NULL,
        ocl TEXT NOT NULL DEFAULT '',
        dsp TEXT NOT NULL DEFAULT '',       -- '' = open: no disposition yet
        dod TEXT NOT NULL DEFAULT '',
        crt TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (sid, cyc, n)
    ) WITHOUT ROWID;
    CREATE TABLE custody (
        sid TEXT NOT NULL,
        n INTEGER NOT NULL,
        cyc INTEGER NOT NULL DEFAULT 0,
        dcs TEXT NOT NULL,
        cst TEXT NOT NULL,
        ori TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (sid, n)
    ) WITHOUT ROWID;
    CREATE TABLE dissemination (
        id INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        sid TEXT NOT NULL,
        ori TEXT NOT NULL,
        terminal TEXT NOT NULL,
        operator TEXT NOT NULL DEFAULT '',
        purpose TEXT NOT NULL DEFAULT '',
        form TEXT NOT NULL,                 -- full, computerized, filtered, none, yes, no
        challenged INTEGER NOT NULL DEFAULT 0,
        ref INTEGER NOT NULL DEFAULT 0      -- journal seq of the inquiry
    );
    CREATE INDEX dissemination_ori ON dissemination (ori, time);
    CREATE TABLE hit_request (
        id INTEGER PRIMARY KEY,
        requester TEXT NOT NULL,
        terminal TEXT NOT NULL,
        owner TEXT NOT NULL,
        nic TEXT NOT NULL DEFAULT '',
        oca TEXT NOT NULL DEFAULT '',
        rty TEXT NOT NULL DEFAULT '',
        pri TEXT NOT NULL,
        rno TEXT NOT NULL DEFAULT '1',
        opened TEXT NOT NULL,
        deadline TEXT NOT NULL,
        stage INTEGER NOT NULL DEFAULT 0,   -- 0 open 1 owner reminded 2 requester told 3 escalated
        closed TEXT NOT NULL DEFAULT '',
        outcome TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX hit_open ON hit_request (closed, deadline);
    CREATE TABLE ppf (
        ppn TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        dob TEXT NOT NULL,
        sex TEXT NOT NULL,
        pca TEXT NOT NULL,
        ori TEXT NOT NULL,
        entered TEXT NOT NULL,
        sent TEXT NOT NULL DEFAULT '',      -- lab time of the NICS batch that carried it
        nri TEXT NOT NULL DEFAULT '',       -- the NICS Index record number NICS assigned
        relieved TEXT NOT NULL DEFAULT '',
        relief_sent TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;
    CREATE INDEX ppf_name ON ppf (name, dob);
    CREATE INDEX ppf_unsent ON ppf (sent);
    CREATE TABLE fics_check (
        ftn TEXT PRIMARY KEY,
        time TEXT NOT NULL,
        dealer_ori TEXT NOT NULL,
        terminal TEXT NOT NULL,
        dlr TEXT NOT NULL,
        name TEXT NOT NULL,
        dob TEXT NOT NULL,
        ser TEXT NOT NULL DEFAULT '',
        result TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;
    CREATE INDEX fics_time ON fics_check (time);
    """,
    2: """
    -- PENDING checks waiting for a recheck survive a restart: the journal seq of the dealer's
    -- request, and whether a recheck is scheduled.
    ALTER TABLE fics_check ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE fics_check ADD COLUMN recheck INTEGER NOT NULL DEFAULT 0;
    """,
    3: """
    -- Hit confirmation is a state machine (lems/state/hits.py): stage 0 open, 1 overdue (owner
    -- reminded, requester told to send a second request), 2 escalated; next_at is when its next
    -- step is due ('' when none is).
    ALTER TABLE hit_request ADD COLUMN next_at TEXT NOT NULL DEFAULT '';
    UPDATE hit_request SET stage = 2 WHERE stage > 2;
    """,
    4: """
    -- Administrative actions (lems/state/adminlog.py): written by the admin commands, copied
    -- into the running switch's journal, read by the audit.
    CREATE TABLE admin_action (
        id INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        by TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX admin_action_time ON admin_action (time);
    """,
}


def path_for(lab_database: Path) -> Path:
    """``state.db`` beside the lab database."""
    return lab_database.parent / "state.db"


def connect(path: Path) -> sqlite3.Connection:
    """A connection to ``state.db`` (migrated to the current schema)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return store.connect(path, MIGRATIONS)


class StateDB:
    """The reader connection (reactor thread) and the writer of ``state.db``."""

    def __init__(self, path: Path, reactor: IWriterReactor) -> None:
        self.path = path
        self.reader = connect(path)
        self.writer = Writer(path, reactor, MIGRATIONS)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.reader.execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.reader.execute(sql, params).fetchone()
        return row

    def submit(self, statements: list[Statement]) -> Any:
        return when_committed(self.writer, statements)

    def close(self) -> Deferred[None]:
        """Commit what is queued, stop the writer, close the reader."""
        return self.writer.stop().addCallback(lambda _: self.reader.close())
