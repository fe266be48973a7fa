"""The instructor's live view as data: one ``Snapshot`` built from the journal (any process can
read it: WAL allows readers beside the switch's writer), completed with what only the switch
process knows (links online, endpoint services) when it is the switch that asks.

Open hit confirmations come from the journal too: a YQ accepted and relayed is open until the
destination agency's YR with the same NIC (or OCA) is accepted; its deadline is 10 minutes for
PRI/U and 1 hour for PRI/R, in lab time.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from formats.errors import Reject
from formats.grammar import Parser
from lems.clock import saved_time, show

PRIORITY_SECONDS = {"U": 600, "R": 3600}
WINDOW = 10.0
"""Lab seconds over which messages per second are counted."""


@dataclass(slots=True)
class Snapshot:
    lab: str
    now: str
    online: list[str] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)
    recent: list[dict[str, Any]] = field(default_factory=list)
    rejects: dict[str, int] = field(default_factory=dict)
    endpoints: dict[str, str] = field(default_factory=dict)
    hits: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    """Messages no link could carry (``lems mail dead``): terminal, OSN, first line."""
    totals: dict[str, int] = field(default_factory=dict)
    network: list[dict[str, Any]] = field(default_factory=list)
    """The Nlets network as this node sees it (lems.federation): per state up, backlog, round
    trips; empty when the lab is not a node."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _network(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """``federation_status`` rows (written every second by a federation node), if any."""
    try:
        rows = conn.execute(
            "SELECT state, up, backlog, rtt_p50_ms, rtt_p99_ms, sent, received "
            "FROM federation_status ORDER BY state"
        ).fetchall()
    except sqlite3.OperationalError:  # not a node of a federation
        return []
    return [
        {
            "state": r[0],
            "up": bool(r[1]),
            "backlog": r[2],
            "rtt_p50_ms": r[3],
            "rtt_p99_ms": r[4],
            "sent": r[5],
            "received": r[6],
        }
        for r in rows
    ]


def snapshot(
    database: str | Path,
    lab_name: str = "",
    *,
    recent: int = 15,
    switch: Any = None,
    now: datetime | None = None,
) -> Snapshot:
    """The live view of a lab from its journal (and from ``switch`` when in its process)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        if now is None:  # out of process: the lab time the switch saves every second
            now = (
                switch.clock.now()
                if switch is not None
                else (saved_time(conn) or datetime.now().astimezone())
            )
        since = (now - timedelta(hours=1)).astimezone(UTC).isoformat()  # journal is UTC
        rows = conn.execute(
            "SELECT seq, time, direction, terminal, operator, ori, key, disposition, reason, "
            "text FROM journal WHERE time >= ? ORDER BY seq",
            (since,),
        ).fetchall()
        network = _network(conn)
        dead = conn.execute(
            "SELECT terminal, osn, body FROM mailbox WHERE dead = 1 "
            "ORDER BY terminal, osn LIMIT 100"
        ).fetchall()
    finally:
        conn.close()
    snap = Snapshot(lab_name, show(now), network=network)
    window = (now - timedelta(seconds=WINDOW)).astimezone(UTC).isoformat()
    rates: Counter[str] = Counter()
    rejects: Counter[str] = Counter()
    online: dict[str, bool] = {}
    for _s, time, direction, terminal, _o, _ori, key, disp, reason, _x in rows:
        if direction == "in":
            if key == "LOGON" and disp == "accepted":
                online[terminal] = True
            elif key == "LOGOFF":
                online[terminal] = False
            if disp in ("rejected", "refused", "bad-frame"):
                rejects[reason.split(" ", 1)[0] or disp] += 1
            if time >= window and key not in ("ACK", ""):
                rates[key] += 1
        elif direction == "sys" and disp in ("start", "stop"):
            online.clear()
    snap.rates = {k: round(v / WINDOW, 2) for k, v in rates.most_common()}
    snap.rejects = dict(rejects.most_common())
    snap.online = sorted(t for t, on in online.items() if on)
    shown = [r for r in rows if r[2] in ("in", "out") and r[6] != "ACK"][-recent:]
    snap.recent = [
        {
            "seq": r[0],
            "time": r[1][11:19],
            "dir": r[2],
            "terminal": r[3],
            "key": r[6] or r[9].split("\n", 2)[-1][:3],
            "disposition": r[7],
            "text": _first_line(r[9], r[2]),
        }
        for r in reversed(shown)
    ]
    snap.hits = open_hits(rows, now)
    snap.dead_letters = [
        {"terminal": t, "osn": osn, "text": _first_line(body, "out")} for t, osn, body in dead
    ]
    if switch is not None:
        snap.online = sorted(switch.online)
        snap.totals = {k: v for k, v in switch.stats.items() if ":" not in k}
        snap.endpoints = endpoint_states(switch)
    return snap


def _first_line(text: str, direction: str) -> str:
    if direction == "out":
        text = text.split("\n", 1)[-1]
    return text.replace("\n", " | ")[:90]


def open_hits(rows: list[tuple[Any, ...]], now: datetime) -> list[dict[str, Any]]:
    """Hit confirmations (YQ) not yet answered (YR), with lab seconds left."""
    parser = Parser()
    pending: list[dict[str, Any]] = []
    for _seq, time, direction, _t, _o, ori, key, disp, _r, text in rows:
        if direction != "in" or disp != "accepted" or key not in ("YQ", "YR"):
            continue
        msg = parser.check(text)
        if isinstance(msg, Reject):
            continue
        ident = msg.get("NIC") or msg.get("OCA") or ""
        if key == "YQ":
            pri = msg.get("PRI") or "R"
            due = datetime.fromisoformat(time) + timedelta(seconds=PRIORITY_SECONDS.get(pri, 3600))
            for dest in msg.destinations:
                pending.append({"from": ori, "to": dest, "id": ident, "priority": pri, "due": due})
        else:
            pending = [
                p
                for p in pending
                if not (p["from"] in msg.destinations and p["to"] == ori and p["id"] == ident)
            ]
    return [
        {
            "from": p["from"],
            "to": p["to"],
            "id": p["id"],
            "priority": p["priority"],
            "left": int((p["due"] - now).total_seconds()),
        }
        for p in pending
    ]


def endpoint_states(switch: Any) -> dict[str, str]:
    """Each configured national endpoint: ``up`` when a service answers for it, else ``down``
    or ``off``; services can report more through an ``up`` attribute."""
    out = {}
    for ep in switch.lab.endpoints.values():
        name, mode = ep.name, ep.mode
        service = switch.router.service(name)
        if mode == "off":
            out[name] = "off"
        elif service is None:
            out[name] = "down"
        else:
            up = getattr(service, "up", True)
            out[name] = "up" if (up() if callable(up) else up) else "down"
    return out
