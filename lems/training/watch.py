"""``lems watch``: the instructor's live view in a terminal (rich Live), or plain text lines when
the output is not a terminal (one block per refresh, for logs and pipes)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from lems.training.dashboard import Snapshot, snapshot


def render(snap: Snapshot) -> Group:
    head = Table.grid(padding=(0, 2))
    head.add_row(
        f"[bold]{snap.lab}[/]", f"lab time {snap.now}", f"online: {' '.join(snap.online) or '-'}"
    )
    rates = Table(title="messages / s by key")
    rates.add_column("key")
    rates.add_column("rate", justify="right")
    for k, v in snap.rates.items():
        rates.add_row(k, f"{v:g}")
    rejects = Table(title="rejects by reason (last hour)")
    rejects.add_column("reason")
    rejects.add_column("count", justify="right")
    for k, n in snap.rejects.items():
        rejects.add_row(k, str(n))
    hits = Table(title="open hit confirmations")
    for col in ("from", "to", "NIC/OCA", "pri", "time left"):
        hits.add_column(col)
    for h in snap.hits:
        left = h["left"]
        shown = f"{left // 60}:{left % 60:02d}" if left >= 0 else f"[red]OVERDUE {-left}s[/]"
        hits.add_row(h["from"], h["to"], h["id"], h["priority"], shown)
    eps = " ".join(f"{k}:{v}" for k, v in snap.endpoints.items()) or "(from the switch only)"
    recent = Table(title="recent traffic")
    for col in ("seq", "time", "dir", "term", "key", "disp", "text"):
        recent.add_column(col, overflow="ellipsis", no_wrap=col == "text")
    for r in snap.recent:
        style = (
            "red"
            if r["disposition"] in ("rejected", "refused")
            else ("bold" if r["key"] == "HIT" else "")
        )
        recent.add_row(
            str(r["seq"]),
            r["time"],
            r["dir"],
            r["terminal"],
            r["key"],
            r["disposition"],
            r["text"],
            style=style,
        )
    row = Table.grid(padding=(0, 2))
    row.add_row(rates, rejects, hits)
    parts: list[Any] = [head, f"endpoints: {eps}"]
    if snap.network:
        net = Table(title="Nlets network (nodes)")
        for col in ("state", "node", "backlog", "sent", "received", "rtt p50 ms", "rtt p99 ms"):
            net.add_column(col)
        for node in snap.network:
            net.add_row(
                node["state"],
                "up" if node["up"] else "[red]DOWN[/]",
                _num(node["backlog"]),
                str(node["sent"]),
                str(node["received"]),
                _ms(node["rtt_p50_ms"]),
                _ms(node["rtt_p99_ms"]),
            )
        parts.append(net)
    parts.append(row)
    if snap.dead_letters:
        dead = Table(title="[red]dead letters[/] (lems mail dead | resend | drop)")
        for col in ("term", "OSN", "text"):
            dead.add_column(col)
        for d in snap.dead_letters:
            dead.add_row(d["terminal"], f"{d['osn']:07d}", d["text"], style="red")
        parts.append(dead)
    return Group(*parts, recent)


def _num(n: int) -> str:
    return "?" if n is None or n < 0 else str(n)


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def network_line(snap: Snapshot) -> str:
    """``NETWORK WA=up,backlog=0,rtt=3.1/9.8ms,sent=5,received=5 …`` (plain output)."""
    return "NETWORK " + " ".join(
        f"{n['state']}={'up' if n['up'] else 'DOWN'},backlog={_num(n['backlog'])},"
        f"rtt={_ms(n['rtt_p50_ms'])}/{_ms(n['rtt_p99_ms'])}ms,sent={n['sent']},"
        f"received={n['received']}"
        for n in snap.network
    )


def plain(snap: Snapshot) -> str:
    lines = [
        f"LAB {snap.lab} TIME {snap.now}",
        f"ONLINE {' '.join(snap.online) or '-'}",
        "RATES " + (" ".join(f"{k}={v:g}/s" for k, v in snap.rates.items()) or "-"),
        "REJECTS " + (" ".join(f"{k}={n}" for k, n in snap.rejects.items()) or "-"),
        "ENDPOINTS " + (" ".join(f"{k}={v}" for k, v in snap.endpoints.items()) or "-"),
        "OPEN-HITS "
        + (
            " ".join(
                f"{h['from']}->{h['to']}:{h['id']}:{h['priority']}:{h['left']}s" for h in snap.hits
            )
            or "-"
        ),
        "DEAD-LETTERS "
        + (" ".join(f"{d['terminal']}:{d['osn']:07d}" for d in snap.dead_letters) or "-"),
    ]
    if snap.network:
        lines.append(network_line(snap))
    lines += [
        f"  {r['seq']} {r['time']} {r['dir']:<3} {r['terminal']:<4} {r['key']:<5} "
        f"{r['disposition']:<9} {r['text']}"
        for r in snap.recent
    ]
    return "\n".join(lines)


def watch(
    database: Path, lab_name: str, console: Console, *, interval: float = 1.0, count: int = 0
) -> None:
    """Refresh every ``interval`` seconds; ``count`` refreshes (0: until Ctrl-C)."""
    n = 0
    if not console.is_terminal:
        while count == 0 or n < count:
            if n:
                time.sleep(interval)
            console.print(plain(snapshot(database, lab_name)), markup=False, soft_wrap=True)
            console.print("", markup=False)
            n += 1
        return
    with Live(render(snapshot(database, lab_name)), console=console, refresh_per_second=4) as live:
        while count == 0 or n < count:
            time.sleep(interval)
            live.update(render(snapshot(database, lab_name)))
            n += 1
