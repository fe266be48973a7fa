"""CCH lookup benchmark: name+DOB, SID and FBI-number inquiries against a seeded ``state.db``,
timed through the same code the ``cch`` service runs (find, load, dissemination filter, rap sheet).
Prints the wall-clock percentiles and the CPU time per lookup (``time.process_time``, which a
shared machine's load does not inflate: the figure to compare before and after a change).

    .venv/bin/lems init /tmp/big && .venv/bin/lems cch seed /tmp/big --subjects 1000000
    .venv/bin/python tools/bench_cch.py /tmp/big --lookups 20000

Goal (issue 5): p99 <= 2 ms per lookup at 1 M subjects.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import date
from pathlib import Path

from formats.codes import CodeBook
from lems.lab import load_lab
from lems.state.cch import FULL, CchStore, form_for, rap_sheet, visible
from lems.state.db import connect, path_for


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dir", type=Path)
    p.add_argument("--lookups", type=int, default=20000)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    conn = connect(path_for(load_lab(a.dir).database))  # the reader a StateDB would hold
    store = CchStore(conn)
    codes = CodeBook.builtin()
    n = conn.execute("SELECT COUNT(*) FROM subject").fetchone()[0]
    rnd = random.Random(a.seed)
    sids = [r[0] for r in conn.execute("SELECT sid FROM subject")]  # sparse (lems.people)
    sample = [
        conn.execute(
            "SELECT sid, name, dob, fbi FROM subject WHERE sid = ?", (rnd.choice(sids),)
        ).fetchone()
        for _ in range(a.lookups)
    ]
    today = date(2026, 11, 23)
    results: dict[str, list[float]] = {"name+dob": [], "sid": [], "fbi": [], "miss": []}
    cpu = time.process_time()
    for i, (sid, name, dob, fbi) in enumerate(sample):
        kind = ("name+dob", "sid", "fbi", "miss")[i % 4]
        t0 = time.perf_counter()
        if kind == "name+dob":
            found = store.find(name=name, dob=dob)
        elif kind == "sid":
            found = store.find(sid=sid)
        elif kind == "fbi":
            found = store.find(fbi=fbi)
        else:
            found = store.find(name=name, dob="18000101")
        for s in found:
            rec = store.load(s)
            if rec is not None:
                rap_sheet(rec, visible(rec, form_for("cj", "C"), today), FULL, "C", codes)
        results[kind].append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu
    every = [x for v in results.values() for x in v]
    print(f"subjects {n:,}  lookups {len(every):,}")
    print(f"CPU per lookup {cpu / len(every) * 1e6:.1f} us (process time: load-independent)")
    for kind, v in [*results.items(), ("all", every)]:
        q = statistics.quantiles(v, n=100, method="inclusive")  # within min-max
        print(
            f"{kind:9s} p50 {q[49] * 1e3:6.3f} ms  p99 {q[98] * 1e3:6.3f} ms  "
            f"max {max(v) * 1e3:6.3f} ms"
        )


if __name__ == "__main__":
    main()
