"""The state CCH's share of the lab's world (``lems cch seed``, ``lems seed``, a lab's first start).

The subjects are the people of ``lems.people`` whose record Oregon holds, under the SID and FBI
number III lists for them (``OR`` + the person's number), with their Oregon arrests as cycles and
the dispositions as charges: the same person everywhere. Rows are written straight to
``state.db`` in large transactions (an offline job, run while the lab's switch is stopped), or
handed as statements to a starting switch's writer (``lems.state.install``); the SQL is
``lems.state.repositories.cch``'s.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from lems import people
from lems.state.repositories import cch

OFFENCES = people.OFFENCES
CHUNK = 20_000
ARRESTING_ORIS = ("OR0240000", "OR0240100", "OR0260000", "OR0260200")


def oregon_people(seed: int, first: int = 1, last: int | None = None) -> Iterator[people.Person]:
    """People ``first``..``last`` (or on without end) whose record Oregon holds."""
    n = first
    while last is None or n <= last:
        p = people.person(seed, n)
        if people.HOME in p.holders:
            yield p
        n += 1


def rows(
    batch: Iterable[people.Person],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(subject, cycle, charge) rows of a batch of people."""
    subs, cycs, chgs = [], [], []
    for p in batch:
        sid = p.sid(people.HOME)
        mine = [a for a in p.arrests if a.state == people.HOME]
        for cyc, a in enumerate(mine, 1):
            cycs.append(
                (
                    sid,
                    cyc,
                    a.doa,
                    ARRESTING_ORIS[p.n % len(ARRESTING_ORIS)],
                    f"{a.doa[2:4]}-{p.n % 100000:05d}",
                    int(a.doa < "19750101"),
                )
            )
            chgs.append((sid, cyc, 1, a.off, a.ocl, a.dsp, a.dod))
        subs.append(
            (
                sid,
                p.fbi,
                p.nam,
                p.sex,
                p.rac,
                p.dob,
                p.hgt,
                p.wgt,
                p.eye,
                p.hai,
                p.soc,
                1,
                max(a.doa for a in mine),
            )
        )
    return subs, cycs, chgs


def seed_world(conn: sqlite3.Connection, persons: int, seed_value: int = 1) -> int:
    """Write the CCH of the lab's first ``persons`` people (as ``lems seed`` sizes the national
    world); returns the subjects written."""
    subs, cycs, chgs = rows(oregon_people(seed_value, 1, persons))
    cch.load(conn, subs, cycs, chgs)
    return len(subs)


def seed(
    conn: sqlite3.Connection,
    n: int,
    seed_value: int = 1,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Add ``n`` subjects: the next people Oregon holds a record of after the highest SID
    already there; returns the first new SID's number."""
    stream = oregon_people(seed_value, cch.last_sid(conn) + 1)
    first = 0
    left = n
    while left:
        batch = [next(stream) for _ in range(min(CHUNK, left))]
        first = first or batch[0].n
        cch.load(conn, *rows(batch))
        left -= len(batch)
        if progress:
            progress(len(batch))
    return first
