"""Hit-confirmation tracking: every YQ has a deadline on the lab clock (MESSAGES.md section 6).

The record owner must answer a YQ with a YR within 10 minutes for PRI/U (urgent) and 1 hour for
PRI/R (routine). When a deadline passes without an answer the switch acts, one step per missed
period: (1) a reminder to the record owner, (2) a notice to the requester to send the second
request (YQ RNO/2), (3) escalation to the control terminal. A YR from the owner closes the request
(``CON/E`` with ``TIM/minutes`` moves the deadline instead); a new YQ for the same record from the
same requester replaces the open one. Open requests live in ``state.db`` so ``lems hits`` can list
them and a restarted switch re-arms their timers.

The tracker installs itself in front of the router's relay: it records or closes, then relays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from formats import responses
from lems.router import Request
from lems.state.db import StateDB

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall

    from lems.switch import Switch

DEADLINES = {"U": 600.0, "R": 3600.0}
"""Lab seconds an owner has to answer, by priority."""
STAGES = {1: "owner-reminded", 2: "requester-notified", 3: "escalated"}


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
    stage: int = 0

    @property
    def record(self) -> str:
        return f"NIC/{self.nic}" if self.nic else f"OCA/{self.oca}"

    def matches(self, nic: str, oca: str) -> bool:
        return bool((nic and nic == self.nic) or (oca and oca == self.oca))


class HitTracker:
    def __init__(self, switch: Switch, db: StateDB) -> None:
        self.switch = switch
        self.db = db
        self.open: dict[int, OpenRequest] = {}
        self.timers: dict[int, IDelayedCall] = {}
        row = db.one("SELECT COALESCE(MAX(id), 0) FROM hit_request")
        self._last_id = row[0] if row else 0

    def install(self) -> None:
        routes = self.switch.router.routes
        routes["hitconfirm"] = self.on_request
        routes["hitreply"] = self.on_reply
        self.switch.stop_hooks.append(self.cancel_timers)
        self._reload()

    def _reload(self) -> None:
        """Re-arm the open requests of a previous run."""
        now = self.switch.clock.now()
        for row in self.db.query(
                "SELECT id, requester, terminal, owner, nic, oca, rty, pri, rno, opened, "
                "deadline, stage FROM hit_request WHERE closed = '' AND stage < 3"):
            r = OpenRequest(*row[:9], datetime.fromisoformat(row[9]),  # type: ignore[arg-type]
                            datetime.fromisoformat(row[10]), row[11])
            self.open[r.id] = r
            self._arm(r, max(0.0, (r.deadline - now).total_seconds()))

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
        statements = []
        for owner in msg.destinations:
            for old in [r for r in self.open.values() if r.requester == msg.ori
                        and r.owner == owner and r.matches(nic, oca)]:
                statements.append(self._close_stmt(old, now, "superseded"))
                self._forget(old.id)
            self._last_id += 1
            r = OpenRequest(self._last_id, msg.ori, req.terminal, owner, nic, oca,
                            msg.get("RTY") or "", pri, msg.get("RNO") or "1", now,
                            now + timedelta(seconds=period))
            self.open[r.id] = r
            statements.append((
                "INSERT INTO hit_request (id, requester, terminal, owner, nic, oca, rty, pri, "
                "rno, opened, deadline) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (r.id, r.requester, r.terminal, r.owner, nic, oca, r.rty, pri, r.rno,
                 now.isoformat(), r.deadline.isoformat())))
            self._arm(r, period)
        self.db.writer.submit_nowait(statements)
        return self.switch.router.relay(req)

    def on_reply(self, req: Request) -> Any:
        msg = req.msg
        nic, oca = msg.get("NIC") or "", msg.get("OCA") or ""
        now = self.switch.clock.now()
        statements = []
        for r in [r for r in self.open.values() if r.owner == msg.ori
                  and r.requester in msg.destinations and r.matches(nic, oca)]:
            con = msg.get("CON") or ""
            if con == "E" and (msg.get("TIM") or "").isdigit():
                r.deadline = now + timedelta(minutes=int(msg.get("TIM") or 0))
                statements.append(("UPDATE hit_request SET deadline = ? WHERE id = ?",
                                   (r.deadline.isoformat(), r.id)))
                self._cancel(r.id)
                self._arm(r, (r.deadline - now).total_seconds())
                continue
            late = now > r.deadline or r.stage > 0
            outcome = {"Y": "confirmed", "N": "denied"}.get(con, "answered")
            statements.append(self._close_stmt(r, now, outcome + ("-late" if late else "")))
            self._forget(r.id)
        if statements:
            self.db.writer.submit_nowait(statements)
        return self.switch.router.relay(req)

    def _close_stmt(self, r: OpenRequest, now: datetime, outcome: str) -> tuple[str, tuple]:
        return ("UPDATE hit_request SET closed = ?, outcome = ? WHERE id = ?",
                (now.isoformat(), outcome, r.id))

    # ------------------------------------------------------------ deadlines

    def _arm(self, r: OpenRequest, lab_seconds: float) -> None:
        self.timers[r.id] = self.switch.clock.call_later(lab_seconds, self._overdue, r.id)

    def _cancel(self, rid: int) -> None:
        t = self.timers.pop(rid, None)
        if t is not None and t.active():
            t.cancel()

    def _forget(self, rid: int) -> None:
        self._cancel(rid)
        self.open.pop(rid, None)

    def _overdue(self, rid: int) -> None:
        self.timers.pop(rid, None)
        r = self.open.get(rid)
        if r is None or not self.switch.started:
            return
        r.stage += 1
        sw = self.switch
        period = DEADLINES.get(r.pri, DEADLINES["R"])
        words = "URGENT (10 MINUTES)" if r.pri == "U" else "ROUTINE (1 HOUR)"
        what = f"YQ FROM {r.requester} TO {r.owner} {r.record} RTY/{r.rty} PRI/{r.pri}"
        since = f"OPENED {r.opened:%Y%m%d %H%M%S} - NO YR RECEIVED"
        if r.stage == 1:
            body = responses.notification("H", r.owner, [
                "HIT CONFIRMATION REMINDER - YOUR RESPONSE IS OVERDUE", what, since,
                f"RESPOND WITH YR NOW - {words} DEADLINE PASSED"])
            sw.deliver_to_ori(r.owner, body, key="NTF")
        elif r.stage == 2:
            body = responses.notification("H", r.requester, [
                "NO HIT CONFIRMATION RESPONSE FROM RECORD OWNER", what, since,
                "SEND SECOND REQUEST: YQ WITH RNO/2"])
            if r.terminal in sw.directory.terminals:  # a YQ from another state's node: its
                sw.deliver(r.terminal, body, key="NTF", ori=r.requester)  # node tells it
        else:
            body = responses.notification("H", sw.lab.switch.ori, [
                "HIT CONFIRMATION ESCALATED TO CONTROL TERMINAL", what, since,
                f"OWNER {r.owner} HAS NOT ANSWERED A REMINDER AND A SECOND REQUEST NOTICE"])
            for t in sw.directory.control_terminals():
                sw.deliver(t, body, key="NTF", ori=sw.lab.switch.ori)
        now = sw.clock.now()
        r.deadline = now + timedelta(seconds=period)
        self.db.writer.submit_nowait([
            ("UPDATE hit_request SET stage = ?, deadline = ? WHERE id = ?",
             (r.stage, r.deadline.isoformat(), r.id))])
        sw.journal.append("sys", f"HIT CONFIRMATION {STAGES[r.stage].upper()} {what}",
                          ori=r.requester, key="YQ", disposition=STAGES[r.stage])
        if r.stage < 3:
            self._arm(r, period)

    def time_left(self, r: OpenRequest) -> float:
        return (r.deadline - self.switch.clock.now()).total_seconds()
