"""Benchmark: the switch's memory with a million messages queued for terminals that are signed
off (issue 16: undelivered mail lives on disk; memory per queued message O(1)). Not a test.

Usage::

    .venv/bin/python tools/bench_mailbox.py [--messages 1000000] [--terminals 10] [--size 200]

A fresh copy of the demo lab plus ``--terminals`` bench terminals (``tools/bench_switch.py``'s
``write_lab``), none of them ever signed on, ``mailbox_limit`` raised so that every message is
queued. The switch runs in this process on the asyncio reactor, with its real writer process
and SQLite files. Each message is one ``Switch.deliver`` (what the switch does with a message for
a terminal once it is routed: journal row, mailbox row, one commit, send if on line: here
nobody is), ``--size`` bytes of text, round robin over the terminals; the bench waits for the
writer every 2,000 messages so that what it measures is the queue, not commits in flight.
Sockets are left out on purpose: a million messages through one TCP sender would take the
loaded machine the better part of an hour, and the memory in question is the mailbox's.

Printed: RSS of this process (the switch) and of its writer processes after the switch started,
after a 10,000-message warm-up, then every ``--messages / 5``; the growth per queued message
after the warm-up; the database's size; the rate. Goal (issue 16): RSS growth <= 50 MB with
1,000,000 queued messages.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_switch import bench_terminal, children, write_lab

from lems.store import when_committed


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def rss() -> tuple[float, float]:
    """(this process, its writer processes) resident MiB."""
    me = os.getpid()
    kids = 0
    for child in children(me):
        try:
            kids += rss_kib(child)
        except OSError:
            continue
    return rss_kib(me) / 1024, kids / 1024


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def run(args: argparse.Namespace, work: Path, reactor: object) -> int:
    from twisted.internet.defer import Deferred

    from lems.lab import load_lab
    from lems.switch import Switch

    path = write_lab(work / "lab", args.terminals, own_ori=True)
    text = path.read_text("utf-8").replace(
        "lockout_after = 5", f"lockout_after = 5\nmailbox_limit = {args.messages + 1}"
    )
    path.write_text(text, "utf-8")
    lab = load_lab(path)
    switch = Switch(lab, reactor)
    switch.start()
    terminals = [bench_terminal(i) for i in range(1, args.terminals + 1)]
    body = "AM.OR0240000\nQUEUED FOR A TERMINAL SIGNED OFF\n"
    body += "X" * max(0, args.size - len(body))

    async def flush() -> None:
        await Deferred.asFuture(when_committed(switch.writer, []), asyncio.get_running_loop())

    print(
        f"{args.messages:,} messages of {args.size} bytes for {args.terminals} terminals "
        f"signed off; load average {load()}"
    )
    marks: list[tuple[int, float, float]] = []
    r0 = rss()
    print(f"switch started          queued {0:>9,}  rss {r0[0]:7.1f} MiB  writer {r0[1]:6.1f} MiB")
    warm = min(10_000, args.messages)
    step = max(1, args.messages // 5)
    t0 = time.perf_counter()
    sent = 0
    t_warm = t0
    while sent < args.messages:
        for _ in range(min(2000, args.messages - sent)):
            switch.deliver(terminals[sent % len(terminals)], body, key="AM")
            sent += 1
        await flush()
        if sent == warm or sent % step == 0 or sent == args.messages:
            r = rss()
            marks.append((sent, *r))
            if sent == warm:
                t_warm = time.perf_counter()
            print(
                f"{'after warm-up' if sent == warm else '':<22}  queued {sent:>9,}  rss "
                f"{r[0]:7.1f} MiB  writer {r[1]:6.1f} MiB",
                flush=True,
            )
    secs = time.perf_counter() - t0
    queued = sum(switch.mailboxes.count(t) for t in terminals)
    db = lab.database
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())
    await Deferred.asFuture(switch.stop(), asyncio.get_running_loop())
    # a switch started on the lab as it is now loads the mailboxes from disk: the same O(1)
    t1 = time.perf_counter()
    before = rss()[0]
    again = Switch(lab, reactor)
    again.start()
    started = time.perf_counter() - t1
    waiting = sum(again.mailboxes.count(t) for t in terminals)
    after = rss()[0]
    await Deferred.asFuture(again.stop(), asyncio.get_running_loop())
    w = next(m for m in marks if m[0] == warm)
    end = marks[-1]
    growth = end[1] - w[1]
    per = growth * 1024 * 1024 / max(1, end[0] - w[0])
    print(f"queued in the mailboxes at the end: {queued:,} (switch's own count)")
    print(
        f"rss growth after the warm-up: switch {growth:+.1f} MiB "
        f"({per:.1f} bytes per queued message), writer {end[2] - w[2]:+.1f} MiB"
    )
    print(
        f"database with its WAL: {size / 1e6:,.0f} MB; {sent / secs:,.0f} messages/s "
        f"({(end[0] - w[0]) / max(1e-9, time.perf_counter() - t_warm):,.0f} after the "
        f"warm-up); load average {load()}"
    )
    print(
        f"restarted on the queued lab: {waiting:,} waiting, loaded in {started:.1f} s, rss "
        f"{before:.1f} -> {after:.1f} MiB ({after - before:+.1f})"
    )
    print(
        f"goal rss growth <= 50 MB with {end[0]:,} queued: {growth:.1f} MiB "
        f"{'MET' if growth * 1.048576 <= 50 else 'NOT MET'}"
    )
    return 0 if queued == args.messages else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--terminals", type=int, default=10)
    p.add_argument("--size", type=int, default=200, help="bytes of text per message")
    args = p.parse_args(argv)
    from lems.reactor import install

    reactor = install("asyncio")
    reactor.startRunning(installSignalHandlers=False)
    loop = asyncio.get_event_loop()
    with tempfile.TemporaryDirectory(prefix="bench-mailbox-") as tmp:
        return loop.run_until_complete(run(args, Path(tmp), reactor))


if __name__ == "__main__":
    sys.exit(main())
