"""Scheduled jobs of the state services, all on the lab clock (so a fast lab runs them fast and
tests drive them with ``twisted.internet.task.Clock``):

* daily: the PPF batch to NICS, the CCH purge of subjects aged 99 or more with no arrest in the
  last 10 years (OAR 257-010-0020(3)), and the purge of FICS check records older than five years
  (OAR 257-010-0055);
* every three months: the PPF / NICS reconciliation (OAR 257-010-0060).

Each run is journaled (``sys`` rows), so the audit shows what the jobs did.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import maybeDeferred, succeed
from twisted.logger import Logger

from lems.state.cch import CchService, purge_cutoffs
from lems.state.db import StateDB
from lems.state.fics import FicsService
from lems.state.ppf import PpfService
from lems.state.repositories import cch as cch_rows
from lems.state.repositories import fics as fics_rows
from lems.store import Statement

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall

    from lems.ports import SwitchPort

log = Logger()

DAY = 86400.0
QUARTER = 91 * DAY
FICS_KEEP_DAYS = 5 * 365 + 1
PURGE_BATCH = 5000


class Jobs:
    def __init__(
        self, switch: SwitchPort, db: StateDB, cch: CchService, fics: FicsService, ppf: PpfService
    ) -> None:
        self.switch = switch
        self.db = db
        self.cch = cch
        self.fics = fics
        self.ppf = ppf
        self.timers: dict[str, IDelayedCall] = {}
        self.runs: dict[str, int] = {}
        self.schedule: dict[str, tuple[float, Callable[[], Any]]] = {
            "daily": (DAY, self.daily),
            "quarterly": (QUARTER, self.ppf.reconcile),
        }

    def start(self) -> None:
        for name, (every, _) in self.schedule.items():
            self._arm(name, every)

    def stop(self) -> None:
        for t in self.timers.values():
            if t.active():
                t.cancel()
        self.timers.clear()

    def _arm(self, name: str, every: float) -> None:
        self.timers[name] = self.switch.clock.call_later(every, self._run, name)

    def _run(self, name: str) -> Any:
        every, job = self.schedule[name]
        if not self.switch.started:
            return None
        self._arm(name, every)
        self.runs[name] = self.runs.get(name, 0) + 1
        d = maybeDeferred(job)
        d.addErrback(lambda f: log.failure("state job {name} failed", f, name=name))
        return d

    def daily(self) -> Any:
        d = self.ppf.daily_batch()
        d.addBoth(lambda _: self.purge_cch())
        d.addBoth(lambda _: self.purge_fics())
        return d

    def purge_cch(self) -> Any:
        """Subjects aged 99+ with no arrest in 10 years leave CCH (a batch per run)."""
        born, ten = purge_cutoffs(self.switch.clock.now().date())
        sids = cch_rows.purgeable(self.db.reader, born, ten, PURGE_BATCH)
        if not sids:
            return succeed(0)
        statements: list[Statement] = [s for sid in sids for s in cch_rows.remove_subject(sid)]
        self.switch.journal.append(
            "sys",
            f"CCH PURGE {len(sids)} SUBJECTS AGED 99 OR MORE WITH NO ARREST IN 10 YEARS "
            f"SID/{' SID/'.join(sids[:20])}" + (" ..." if len(sids) > 20 else ""),
            key="XCH",
            disposition="purge",
            ori=self.switch.lab.switch.ori,
        )
        return self.db.submit(statements).addCallback(lambda _: len(sids))

    def purge_fics(self) -> Any:
        """FICS check records are kept no longer than five years."""
        cutoff = (
            (self.switch.clock.now() - timedelta(days=FICS_KEEP_DAYS)).astimezone(UTC).isoformat()
        )  # stored times are UTC (LabClock.stamp)
        n = fics_rows.older_than(self.db.reader, cutoff)
        if not n:
            return succeed(0)
        self.switch.journal.append(
            "sys",
            f"FICS PURGE {n} CHECK RECORDS OLDER THAN FIVE YEARS",
            key="FCK",
            disposition="purge",
            ori=self.switch.lab.switch.ori,
        )
        return self.db.submit([fics_rows.purge(cutoff)]).addCallback(lambda _: n)
