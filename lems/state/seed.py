"""Fictitious CCH subjects in bulk for labs and the lookup benchmark (``lems cch seed``).

Names come from pools Faker generates once (so a million subjects take seconds, not minutes);
dates, offences and dispositions are drawn from a seeded generator. No real person is described.
Rows are written straight to ``state.db`` in large transactions: seeding is an offline job, run
while the lab's switch is stopped.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable, Iterator
from datetime import date, timedelta

OFFENCES = [("2202", "FB"), ("2303", "MA"), ("1313", "MA"), ("2404", "FC"), ("3562", "MB"),
            ("5404", "MA"), ("1204", "FA"), ("2589", "FC"), ("4801", "MA"), ("0901", "FA")]
DISPOSITIONS = ["CONV", "CONV", "CONV", "DISM", "ACQ", "DIVD", ""]
CHUNK = 20_000


def name_pools(seed: int) -> tuple[list[str], list[str]]:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    last = sorted({fake.last_name().upper().replace("'", "").replace(" ", "")
                   for _ in range(4000)})
    first = sorted({fake.first_name().upper().replace("'", "") for _ in range(2000)})
    return last, first


def subjects(n: int, seed: int = 1, start: int = 1) -> Iterator[tuple[list[tuple], list[tuple],
                                                                     list[tuple]]]:
    """Chunks of (subject rows, cycle rows, charge rows)."""
    rnd = random.Random(seed)
    last, first = name_pools(seed)
    epoch = date(1925, 1, 1)
    for base in range(start, start + n, CHUNK):
        subs, cycs, chgs = [], [], []
        for i in range(base, min(base + CHUNK, start + n)):
            sid = f"OR{i:08d}"
            dob = epoch + timedelta(days=rnd.randrange(0, 365 * 82))
            name = f"{rnd.choice(last)},{rnd.choice(first)}"
            last_arrest = ""
            for cyc in range(1, rnd.choice((1, 1, 1, 2, 2, 3)) + 1):
                doa = dob + timedelta(days=rnd.randrange(18 * 365, 18 * 365 + 40 * 365))
                doa_s = doa.strftime("%Y%m%d")
                last_arrest = max(last_arrest, doa_s)
                cycs.append((sid, cyc, doa_s, "OR0240000", f"{doa:%y}-{i % 100000:05d}",
                             int(doa.year < 1975)))
                for n_ in range(1, rnd.choice((1, 1, 2)) + 1):
                    off, ocl = rnd.choice(OFFENCES)
                    dsp = rnd.choice(DISPOSITIONS)
                    dod = (doa + timedelta(days=90)).strftime("%Y%m%d") if dsp else ""
                    chgs.append((sid, cyc, n_, off, ocl, dsp, dod))
            subs.append((sid, f"{i:07d}AB{i % 10}", name, rnd.choice("MF"), rnd.choice("WBAIU"),
                         dob.strftime("%Y%m%d"), int(rnd.random() < 0.95), last_arrest))
        yield subs, cycs, chgs


def seed(conn: sqlite3.Connection, n: int, seed_value: int = 1,
         progress: Callable[[int], None] | None = None) -> int:
    """Add ``n`` subjects after the highest SID already there; returns the first new number."""
    row = conn.execute("SELECT MAX(sid) FROM subject WHERE sid LIKE 'OR%'").fetchone()
    start = int(row[0][2:]) + 1 if row and row[0] else 1
    for subs, cycs, chgs in subjects(n, seed_value, start):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO subject (sid, fbi, name, sex, rac, dob, fpi, last_arrest) "
                         "VALUES (?,?,?,?,?,?,?,?)", subs)
        conn.executemany("INSERT INTO cycle (sid, cyc, doa, ori, oca, manual) "
                         "VALUES (?,?,?,?,?,?)", cycs)
        conn.executemany("INSERT INTO charge (sid, cyc, n, chg, ocl, dsp, dod) "
                         "VALUES (?,?,?,?,?,?,?)", chgs)
        conn.execute("COMMIT")
        if progress:
            progress(len(subs))
    return start
