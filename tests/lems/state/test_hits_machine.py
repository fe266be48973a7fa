"""The hit-confirmation state machine under every sequence of request / answer / extend / expire /
restart (a Hypothesis stateful test on ``task.Clock``), checked against a model of the rules:

* the owner is reminded and the requester told to send a second request when the deadline
  passes (10 minutes urgent, 1 hour routine); with no second request, control is told one period
  later; a second request unanswered goes to control at its own deadline;
* TIME LEFT is the time to the answer deadline; CON/E moves it; nothing ever raises;
* what ``state.db`` holds is what the tracker holds, and a restart re-arms the same steps.

The switch around the tracker is a recording stand-in (what it delivered and journaled); the
database is a real ``state.db`` whose statements are applied as they are submitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from twisted.internet.task import Clock

from lems.clock import LabClock
from lems.state import db as state_db
from lems.state.hits import DEADLINES, ESCALATED, OPEN, OVERDUE, STAGES, HitTracker

START = datetime(2026, 3, 14, 8, 0, tzinfo=UTC)
REQUESTERS = ("OR0240000", "OR0260000")
OWNERS = ("OR0110000", "OR0360000")
RECORDS = ("W000000001", "W000000002")
CONTROL = "OR0000000"


class SyncDB:
    """``StateDB``'s surface over one connection; submitted statements apply at once."""

    def __init__(self, conn):
        self.conn = self.reader = conn
        self.writer = SimpleNamespace(submit_nowait=self.apply)

    def apply(self, statements):
        for sql, params in statements:
            self.conn.execute(sql, params)
        self.conn.commit()


@dataclass
class FakeSwitch:
    clock: LabClock
    sent: list = field(default_factory=list)
    journaled: list = field(default_factory=list)
    started: bool = True

    def __post_init__(self):
        self.journal = SimpleNamespace(
            append=lambda d, text, **kw: self.journaled.append((kw.get("disposition"), text))
        )
        routes: dict = {}
        self.router = SimpleNamespace(
            routes=routes, relay=lambda req: None, intercept=routes.__setitem__
        )
        self.directory = SimpleNamespace(
            control_terminals=lambda: ["T00"], terminals={"T00": None, "T01": None}
        )
        self.lab = SimpleNamespace(switch=SimpleNamespace(ori=CONTROL))
        self.stop_hooks = []

    def deliver(self, terminal, body, key="", ori="", **kw):
        self.sent.append((terminal, ori, body))

    def deliver_to_ori(self, ori, body, **kw):
        self.sent.append((f"ORI:{ori}", ori, body))
        return [ori]


class Msg:
    def __init__(self, ori, dest, fields):
        self.ori, self.destinations, self._f = ori, [dest], dict(fields)

    def get(self, code):
        return self._f.get(code)


@dataclass
class Model:
    """What the rules say one request should be."""

    id: int
    requester: str
    owner: str
    nic: str
    pri: str
    rno: int
    deadline: datetime
    stage: int = OPEN
    next_at: datetime | None = None


class HitMachine(RuleBasedStateMachine):
    @initialize()
    def start(self):
        import tempfile
        from pathlib import Path

        self.tmp = tempfile.TemporaryDirectory()
        self.conn = state_db.connect(Path(self.tmp.name) / "state.db")
        self.fake = Clock()
        self.switch = FakeSwitch(LabClock(self.fake, 1.0, START))
        self.db = SyncDB(self.conn)
        self.tracker = self._new_tracker()
        self.model: dict[int, Model] = {}
        self.closed: dict[int, str] = {}

    def teardown(self):
        if hasattr(self, "conn"):
            self.tracker.cancel_timers()
            self.conn.close()
            self.tmp.cleanup()

    def _new_tracker(self):
        t = HitTracker(self.switch, self.db)
        t.install()
        return t

    def now(self):
        return self.switch.clock.now()

    # ------------------------------------------------------------ events

    @rule(
        requester=st.sampled_from(REQUESTERS),
        owner=st.sampled_from(OWNERS),
        nic=st.sampled_from(RECORDS),
        pri=st.sampled_from("UR"),
        rno=st.sampled_from([1, 2]),
    )
    def request(self, requester, owner, nic, pri, rno):
        for m in [
            m
            for m in self.model.values()
            if (m.requester, m.owner, m.nic) == (requester, owner, nic)
        ]:
            self.closed[m.id] = "superseded"
            del self.model[m.id]
        msg = Msg(requester, owner, {"NIC": nic, "PRI": pri, "RNO": str(rno), "RTY": "WP"})
        self.tracker.on_request(SimpleNamespace(msg=msg, terminal="T01", operator="OP01"))
        rid = self.tracker._last_id
        deadline = self.now() + timedelta(seconds=DEADLINES[pri])
        self.model[rid] = Model(rid, requester, owner, nic, pri, rno, deadline, OPEN, deadline)

    def _pick(self, data):
        if not self.model:
            return None
        return self.model[data.draw(st.sampled_from(sorted(self.model)))]

    @rule(data=st.data(), con=st.sampled_from(["Y", "N", "P"]))
    def answer(self, data, con):
        m = self._pick(data)
        if m is None:
            return
        msg = Msg(m.owner, m.requester, {"NIC": m.nic, "CON": con})
        self.tracker.on_reply(SimpleNamespace(msg=msg, terminal="T04", operator="OP04"))
        outcome = {"Y": "confirmed", "N": "denied"}.get(con, "answered")
        late = self.now() > m.deadline or m.stage > OPEN
        self.closed[m.id] = outcome + ("-late" if late else "")
        del self.model[m.id]

    @rule(data=st.data(), tim=st.integers(1, 90))
    def extend(self, data, tim):
        m = self._pick(data)
        if m is None:
            return
        msg = Msg(m.owner, m.requester, {"NIC": m.nic, "CON": "E", "TIM": str(tim)})
        self.tracker.on_reply(SimpleNamespace(msg=msg, terminal="T04", operator="OP04"))
        m.deadline = m.next_at = self.now() + timedelta(minutes=tim)

    @rule(seconds=st.sampled_from([1, 59, 300, 599, 600, 601, 1200, 3600, 7200]))
    def advance(self, seconds):
        target = self.now() + timedelta(seconds=seconds)
        before = len(self.switch.sent)
        expected = []
        while True:
            due = [m for m in self.model.values() if m.next_at and m.next_at <= target]
            if not due:
                break
            m = min(due, key=lambda m: (m.next_at, m.id))
            at = m.next_at
            if m.stage == OPEN and m.rno < 2:
                m.stage, m.next_at = OVERDUE, at + timedelta(seconds=DEADLINES[m.pri])
                expected += [("reminder", m.owner, at), ("second", m.requester, at)]
            else:
                m.stage, m.next_at = ESCALATED, None
                expected.append(("control", CONTROL, at))
        self.fake.advance(seconds)
        got = self.switch.sent[before:]
        kinds = []
        for terminal, ori, body in got:
            kind = (
                "control"
                if "ESCALATED" in body
                else "reminder"
                if "REMINDER" in body
                else "second"
                if "SEND SECOND REQUEST" in body
                else "?"
            )
            assert kind != "?", body
            if kind == "control":
                assert terminal == "T00"
            kinds.append((kind, ori))
        assert sorted(kinds) == sorted((k, o) for k, o, _ in expected)

    @rule()
    def restart(self):
        self.tracker.cancel_timers()
        self.tracker = self._new_tracker()

    # ------------------------------------------------------------ what always holds

    @invariant()
    def tracker_matches_model(self):
        if not hasattr(self, "tracker"):
            return
        t = self.tracker
        assert set(t.open) == set(self.model)
        for rid, m in self.model.items():
            r = t.open[rid]
            assert r.stage == m.stage and r.stage in STAGES
            assert r.deadline == m.deadline
            assert t.time_left(r) == (m.deadline - self.now()).total_seconds()
            assert r.next_at == m.next_at
            assert (rid in t.timers and t.timers[rid].active()) == (m.next_at is not None)

    @invariant()
    def database_matches_model(self):
        if not hasattr(self, "conn"):
            return
        rows = {
            r[0]: r[1:]
            for r in self.conn.execute(
                "SELECT id, stage, deadline, next_at, closed, outcome FROM hit_request"
            )
        }
        for rid, m in self.model.items():
            stage, deadline, next_at, closed, _ = rows[rid]
            assert (stage, deadline, closed) == (m.stage, m.deadline.isoformat(), "")
            assert next_at == (m.next_at.isoformat() if m.next_at else "")
        for rid, outcome in self.closed.items():
            assert rows[rid][3] and rows[rid][4] == outcome, (rows[rid], outcome)


TestHitMachine = HitMachine.TestCase
TestHitMachine.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
