"""Hit-confirmation tracking: every YQ has a deadline on the lab clock (MESSAGES.md section 6).

The record owner must answer a YQ with a YR within 10 minutes for PRI/U (urgent) and 1 hour for
PRI/R (routine) (NCIC Operating Manual, hit confirmation procedures). If no answer comes in time
the requester sends a second request (YQ RNO/2); if that goes unanswered too, the requester
tells the control terminal (the CSA). The tracker is a small state machine over each request:

==========  =======================  ==========================================================
stage       event                    what happens
==========  =======================  ==========================================================
open        expire (deadline)        RNO/1: the owner is reminded and the requester told to send
                                     a second request -> overdue; RNO/2 or more: -> escalated
overdue     expire (+ one period)    no second request came: the control terminal is told
                                     -> escalated
escalated   expire (after extend)    the control terminal is told again; stays escalated
any         answer (YR CON/Y|N|...)  closed (``confirmed``, ``denied``, ``answered``; ``-late``
                                     once the deadline has passed)
any         extend (YR CON/E TIM/n)  the deadline moves to now + n minutes; same stage
any         request (same record,    the old request is closed ``superseded``; the new one
            same requester)          starts open (RNO/2 keeps the clock of a second request)
==========  =======================  ==========================================================

TIME LEFT is always the time to the answer deadline (negative once overdue). Every transition is
journaled. Open requests live in ``state.db`` so ``lems hits`` can list them and a restarted
switch re-arms their timers.

The tracker installs itself in front of the router's relay: it records or closes, then relays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from formats import responses
from lems.router import Request
from lems.state.db import StateDB
from lems.state.repositories import hits as rows
from lems.store import Statement

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall

    from lems.ports import SwitchPort

DEADLINES = {"U": 600.0, "R": 3600.0}
"""Lab seconds an owner has to answer, by priority."""
OPEN, OVERDUE, ESCALATED = 0, 1, 2
STAGES = {OPEN: "open", OVERDUE: "overdue", ESCALATED: "escalated"}


@dataclass(slots=True)
class OpenRequest:
    id: int
    requester: str
    terminal: str
    owner: str
    nic: str
    oca: str
    rty: str
    pri: str
    rno: str
    opened: datetime
    deadline: datetime
    """When the owner's answer is due (moved only by CON/E)."""
    stage: int = OPEN
    next_at: datetime | None = None
    """When the next step is taken (None: nothing more is scheduled)."""

    @property
    def record(self) -> str:
        return f"NIC/{self.nic}" if self.nic else f"OCA/{self.oca}"

    @property
    def period(self) -> float:
        return DEADLINES.get(self.pri, DEADLINES["R"])

    @property
    def second(self) -> bool:
        """A second (or later) request: its expiry goes to the control terminal."""
        return self.rno.isdigit() and int(self.rno) >= 2

    def matches(self, nic: str, oca: str) -> bool:
        return bool((nic and nic == self.nic) or (oca and oca == self.oca))

    @classmethod
    def restored(cls, s: rows.Stored) -> OpenRequest:
        """The request as ``state.db`` holds it (a stage beyond escalated counts as escalated)."""
        opened, deadline, stage, next_at = s[9:]
        return cls(
            *s[:9],
            datetime.fromisoformat(opened),
            datetime.fromisoformat(deadline),
            min(int(stage), ESCALATED),
            datetime.fromisoformat(next_at) if next_at else None,
        )

    def stored(self) -> rows.Stored:
        return (
            self.id,
            self.requester,
            self.terminal,
            self.owner,
            self.nic,
            self.oca,
            self.rty,
            self.pri,
            self.rno,
            self.opened.isoformat(),
            self.deadline.isoformat(),
            self.stage,
            self.next_at.isoformat() if self.next_at else "",
        )


class HitTracker:
    def __init__(self, switch: SwitchPort, db: StateDB) -> None:
        self.switch = switch
        self.db = db
        self.open: dict[int, OpenRequest] = {}
        self.timers: dict[int, IDelayedCall] = {}
        self._last_id = rows.last_id(db.reader)

    def install(self) -> None:
        router = self.switch.router
        router.intercept("hitconfirm", self.on_request)
        router.intercept("hitreply", self.on_reply)
        self.switch.stop_hooks.append(self.cancel_timers)
        self._reload()

    def _reload(self) -> None:
        """Re-arm the open requests of a previous run (a step missed while stopped is taken
        at once)."""
        now = self.switch.clock.now()
        for s in rows.still_open(self.db.reader):
            r = OpenRequest.restored(s)
            self.open[r.id] = r
            if r.next_at is not None:
                self._arm(r, max(0.0, (r.next_at - now).total_seconds()))

    def cancel_timers(self) -> None:
        for t in self.timers.values():
            if t.active():
                t.cancel()
        self.timers.clear()

    # ------------------------------------------------------------ YQ and YR

    def on_request(self, req: Request) -> Any:
        msg = req.msg
        nic, oca = msg.get("NIC") or "", msg.get("OCA") or ""
        pri = msg.get("PRI") or "R"
        now = self.switch.clock.now()
        period = DEADLINES.get(pri, DEADLINES["R"])
        statements: list[Statement] = []
        for owner in msg.destinations:
            for old in [
                r
                for r in self.open.values()
                if r.requester == msg.ori and r.owner == owner and r.matches(nic, oca)
            ]:
                statements.append(self.close(old, "superseded"))
            self._last_id += 1
            deadline = now + timedelta(seconds=period)
            r = OpenRequest(
                self._last_id,
                msg.ori,
                req.terminal,
                owner,
                nic,
                oca,
                msg.get("RTY") or "",
                pri,
                msg.get("RNO") or "1",
                now,
                deadline,
                OPEN,
                deadline,
            )
            self.open[r.id] = r
            statements.append(rows.opened(r.stored()))
            self._journal(r, "requested", f"DEADLINE {self._show(deadline)}")
            self._arm(r, period)
        self.db.writer.submit_nowait(statements)
        return self.switch.router.relay(req)

    def on_reply(self, req: Request) -> Any:
        msg = req.msg
        nic, oca = msg.get("NIC") or "", msg.get("OCA") or ""
        statements: list[Statement] = []
        for r in [
            r
            for r in self.open.values()
            if r.owner == msg.ori and r.requester in msg.destinations and r.matches(nic, oca)
        ]:
            con = msg.get("CON") or ""
            if con == "E" and (msg.get("TIM") or "").isdigit():
                statements.append(self.extend(r, int(msg.get("TIM") or 0)))
                continue
            outcome = {"Y": "confirmed", "N": "denied"}.get(con, "answered")
            statements.append(self.close(r, outcome))
        if statements:
            self.db.writer.submit_nowait(statements)
        return self.switch.router.relay(req)

    # ------------------------------------------------------------ transitions

    def extend(self, r: OpenRequest, minutes: int) -> Statement:
        """CON/E TIM/n: the owner needs n more minutes; the deadline moves, the stage stays."""
        now = self.switch.clock.now()
        r.deadline = r.next_at = now + timedelta(minutes=minutes)
        self._cancel(r.id)
        self._arm(r, minutes * 60.0)
        self._journal(r, "extended", f"TIM/{minutes} NEW DEADLINE {self._show(r.deadline)}")
        return rows.extended(r.id, r.deadline.isoformat(), r.next_at.isoformat())

    def close(self, r: OpenRequest, outcome: str) -> Statement:
        now = self.switch.clock.now()
        if outcome != "superseded" and (now > r.deadline or r.stage > OPEN):
            outcome += "-late"
        self._forget(r.id)
        self._journal(r, outcome, "")
        return rows.closed(r.id, now.isoformat(), outcome)

    def _journal(self, r: OpenRequest, disposition: str, detail: str) -> None:
        what = f"YQ FROM {r.requester} TO {r.owner} {r.record} RTY/{r.rty} PRI/{r.pri} RNO/{r.rno}"
        self.switch.journal.append(
            "sys",
            f"HIT CONFIRMATION {disposition.upper()} {what} {detail}".rstrip(),
            terminal=r.terminal,
            ori=r.requester,
            key="YQ",
            disposition=f"hit-{disposition}",
        )

    def _show(self, when: datetime) -> str:
        return f"{when:%Y%m%d %H%M%S}"

    # ------------------------------------------------------------ deadlines

    def _arm(self, r: OpenRequest, lab_seconds: float) -> None:
        self.timers[r.id] = self.switch.clock.call_later(lab_seconds, self.expire, r.id)

    def _cancel(self, rid: int) -> None:
        t = self.timers.pop(rid, None)
        if t is not None and t.active():
            t.cancel()

    def _forget(self, rid: int) -> None:
        self._cancel(rid)
        self.open.pop(rid, None)

    def expire(self, rid: int) -> None:
        """The request's next step is due (see the table in the module docstring)."""
        self.timers.pop(rid, None)
        r = self.open.get(rid)
        if r is None or not self.switch.started:
            return
        sw = self.switch
        now = sw.clock.now()
        words = "URGENT (10 MINUTES)" if r.pri == "U" else "ROUTINE (1 HOUR)"
        what = f"YQ FROM {r.requester} TO {r.owner} {r.record} RTY/{r.rty} PRI/{r.pri}"
        since = f"OPENED {self._show(r.opened)} - NO YR RECEIVED"
        due = r.next_at or now  # steps keep the documented times even if a timer fires late
        if r.stage == OPEN and not r.second:
            r.stage = OVERDUE
            r.next_at = due + timedelta(seconds=r.period)
            sw.deliver_to_ori(
                r.owner,
                responses.notification(
                    "H",
                    r.owner,
                    [
                        "HIT CONFIRMATION REMINDER - YOUR RESPONSE IS OVERDUE",
                        what,
                        since,
                        f"RESPOND WITH YR NOW - {words} DEADLINE PASSED",
                    ],
                ),
                key="NTF",
            )
            body = responses.notification(
                "H",
                r.requester,
                [
                    "NO HIT CONFIRMATION RESPONSE FROM RECORD OWNER",
                    what,
                    since,
                    "SEND SECOND REQUEST: YQ WITH RNO/2",
                ],
            )
            if r.terminal in sw.directory.terminals:  # a YQ from another state's node: its
                sw.deliver(r.terminal, body, key="NTF", ori=r.requester)  # node tells it
        else:
            again = r.stage == ESCALATED
            r.stage = ESCALATED
            r.next_at = None
            body = responses.notification(
                "H",
                sw.lab.switch.ori,
                [
                    "HIT CONFIRMATION ESCALATED TO CONTROL TERMINAL" + (" AGAIN" if again else ""),
                    what,
                    since,
                    f"OWNER {r.owner} HAS NOT ANSWERED "
                    + (
                        "BY THE EXTENDED DEADLINE"
                        if again
                        else "A SECOND REQUEST"
                        if r.second
                        else "WITHIN TWO PERIODS"
                    ),
                ],
            )
            for t in sw.directory.control_terminals():
                sw.deliver(t, body, key="NTF", ori=sw.lab.switch.ori)
        self.db.writer.submit_nowait(
            [rows.staged(r.id, r.stage, r.next_at.isoformat() if r.next_at else "")]
        )
        self._journal(r, STAGES[r.stage], since)
        if r.next_at is not None:
            self._arm(r, max(0.0, (r.next_at - now).total_seconds()))

    def time_left(self, r: OpenRequest) -> float:
        """Seconds to the answer deadline (negative once it has passed)."""
        return (r.deadline - self.switch.clock.now()).total_seconds()
