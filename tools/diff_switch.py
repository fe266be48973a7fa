"""Differential check: the switch of this tree against the switch of a git revision, answer by
answer, on the benchmark's mix with the national systems in the process.

Usage::

    .venv/bin/python tools/diff_switch.py [--ref HEAD] [--terminals 1] [--cycles 30]
                                          [--endpoints inprocess|off]

Both switches serve the same lab (``tools/bench_switch.py``'s: seeded national files, one agency
and terminal per client), each started as ``python -m lems.cli serve`` from its own tree (the
revision's taken with ``git archive``); the same clients send each the same requests
(``--cycles`` times the mix of ``bench_switch.MIX`` per terminal, closed loop, every answer
acknowledged) and record every answer. The transcripts must be equal once the clock is masked
(the envelope's line, ``DTE/…``, Nlets' ``HH:MM MM/DD/YYYY`` stamps): what changes on the hot
path (the endpoint link, its codec, group commits) must not change a single answer. Exit status
1 and the first differences printed when any answer differs.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_switch as bench

ROOT = Path(__file__).resolve().parent.parent
CLOCK = [
    (re.compile(r"DTE/\d{8} \d{4}( [A-Z]{3})?"), "DTE/<time>"),
    (re.compile(r"\d{2}:\d{2} \d{2}/\d{2}/\d{4}"), "<time>"),
    (re.compile(r"TIM/\d{6}"), "TIM/<time>"),
]


def mask(frame: str) -> str:
    """An answer without its envelope line and with the clock's readings masked."""
    body = frame.split("\n", 1)[1] if frame.startswith("OSN/") else frame
    for pattern, repl in CLOCK:
        body = pattern.sub(repl, body)
    return body


async def transcript(
    port: int, n: int, cycles: int, hits: bench.Hits
) -> list[tuple[int, str, str]]:
    loop = asyncio.get_running_loop()
    load = bench.Load()
    load.transcript = []
    clients = []
    for i in range(1, n + 1):
        _, c = await loop.create_connection(
            lambda i=i: bench.Client(load, i, bench.SWITCH, hits), "127.0.0.1", port
        )
        c.limit = cycles * len(bench.MIX)
        clients.append(c)
    await asyncio.wait_for(asyncio.gather(*(c.signed_on for c in clients)), 120)
    for c in clients:
        c.send()
    await asyncio.wait_for(asyncio.gather(*(c.done for c in clients)), 600)
    load.stopping = True
    for c in clients:
        c.transport.close()
    await asyncio.wait_for(asyncio.gather(*(c.closed for c in clients)), 10)
    if load.errors:
        raise RuntimeError(f"errors: {load.errors[:3]}")
    return sorted(
        ((t, label, mask(body)) for t, label, body in load.transcript), key=lambda x: x[0]
    )  # stable: each terminal's answers in arrival order


def run(
    tree: Path, lab: Path, work: Path, n: int, cycles: int, hits: bench.Hits, name: str
) -> list[tuple[int, str, str]]:
    copy = work / f"lab-{name}"
    shutil.copytree(lab, copy)
    server = bench.Server(
        [
            sys.executable,
            "-m",
            "lems.cli",
            "serve",
            str(copy),
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--reactor",
            "asyncio",
        ],
        work / f"{name}.log",
        timeout=600.0,
        cwd=tree,
    )
    try:
        return asyncio.run(transcript(server.port, n, cycles, hits))
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ref", default="HEAD")
    p.add_argument(
        "--terminals",
        type=int,
        default=1,
        help="more than one interleaves their traffic: journal numbers and NICs "
        "then differ by the order of arrival, not by the code",
    )
    p.add_argument("--cycles", type=int, default=30)
    p.add_argument("--endpoints", choices=["inprocess", "off"], default="inprocess")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="diff_switch-"))
    try:
        ref = work / "ref"
        ref.mkdir()
        archive = subprocess.run(
            ["git", "archive", args.ref], cwd=ROOT, check=True, capture_output=True
        ).stdout
        with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
            tar.extractall(ref, filter="data")
        lab = work / "lab"
        bench.write_lab(lab, args.terminals, own_ori=True, endpoints=args.endpoints)
        hits = bench.find_hits(lab)
        ours = run(ROOT, lab, work, args.terminals, args.cycles, hits, "this")
        theirs = run(ref, lab, work, args.terminals, args.cycles, hits, args.ref)
        differ = [(a, b) for a, b in zip(ours, theirs, strict=False) if a != b]
        print(f"{len(ours)} answers here, {len(theirs)} from {args.ref}; {len(differ)} differ")
        for a, b in differ[:5]:
            print(f"--- terminal {a[0]} {a[1]} here:\n{a[2]}\n--- {args.ref}:\n{b[2]}")
        return 1 if differ or len(ours) != len(theirs) else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
