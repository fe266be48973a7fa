"""``install(switch)``: open ``state.db`` and register the state services with the switch.

Registers the router services ``cch``, ``fics`` and ``ppf``, puts the hit-confirmation tracker in
front of the YQ/YR relay, and starts the scheduled jobs on the lab clock. ``switch.state`` holds
what was installed (tests and the benchmark reach the stores through it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twisted.internet.task import LoopingCall

from lems.endpoints.seed import DEFAULT_SUBJECTS
from lems.state import seed
from lems.state.adminlog import AdminFeed
from lems.state.cch import CchService
from lems.state.db import StateDB, path_for
from lems.state.fics import FicsService
from lems.state.hits import HitTracker
from lems.state.jobs import Jobs
from lems.state.ppf import PpfService
from lems.state.repositories import cch as cch_rows
from lems.state.repositories import meta

if TYPE_CHECKING:
    from lems.ports import SwitchPort


@dataclass(slots=True)
class StateServices:
    db: StateDB
    cch: CchService
    fics: FicsService
    ppf: PpfService
    hits: HitTracker
    jobs: Jobs


def install(switch: SwitchPort) -> None:
    db = StateDB(path_for(switch.lab.database), switch.reactor)
    db.writer.on_failure = switch.storage_failed
    clock = switch.clock
    db.writer.submit_nowait(meta.clock_anchor(time.time(), clock.now().isoformat(), clock.speed))
    subjects: list[tuple[Any, ...]] = []
    if meta.get(db.reader, "cch_seeded") is None:
        # the lab's first start: the CCH of the same people the national files are seeded with
        people = seed.oregon_people(switch.lab.seed, 1, DEFAULT_SUBJECTS)
        subjects, cycles, charges = seed.rows(people)
        db.writer.submit_nowait(
            [*cch_rows.seeded(subjects, cycles, charges), meta.cch_seeded(DEFAULT_SUBJECTS)]
        )
    cch = CchService(switch, db)
    if subjects:
        cch.store.reserve(max(int(s[0][2:]) for s in subjects))
    ppf = PpfService(switch, db)
    fics = FicsService(switch, db, cch, ppf)
    fics.resume()
    hits = HitTracker(switch, db)
    for service in (cch, fics, ppf):
        switch.router.register(service)
    hits.install()
    jobs = Jobs(switch, db, cch, fics, ppf)
    jobs.start()
    switch.state = StateServices(db, cch, fics, ppf, hits, jobs)

    feed = AdminFeed(switch, db)
    poll = LoopingCall(feed.poll)
    poll.clock = switch.reactor
    poll.start(1.0, now=True)

    def stop() -> Any:
        if poll.running:
            poll.stop()
        feed.poll()
        jobs.stop()
        hits.cancel_timers()
        fics.cancel_timers()
        return db.close()

    switch.stop_hooks.append(stop)
