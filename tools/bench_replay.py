"""Benchmark: replay rate, as fast as possible, counting messages sent and compared per second.

Usage::

    .venv/bin/python tools/bench_replay.py [--messages 1000000] [--links 10] [--gzip]
    .venv/bin/python tools/bench_replay.py --switch [--terminals 10] [--cycles 100]

The benchmark writes a recording of N inbound messages (NCIC-style inquiries spread round-robin
over ``--links`` recorded links, without sign-on) and, for each, the recorded answer: the
inquiry echoed under an output envelope whose date and time differ from what the peer will send
(so every comparison goes through the masking rules). It then starts a lightweight echo peer as a
separate process (this file with ``--echo-server``: a Twisted server with the project's line
framing that answers each frame with ``OSN/0000000 TRM/NONE DTE/<today> TIM/<now>`` + ``ECHO.X`` +
the frame, the date and time formatted once a second as the switch formats them) and replays the
file against it with ``terminals.replay.Replayer`` at speed 0, no link sync, on the asyncio
reactor — the same code path as ``lems replay``: read and decode the file, send, receive, mask
both sides, match. The rate is N / wall time from the first read to the
report; the peer is not the switch (the switch's own rate is tools/bench_switch.py's business).

``--switch``: record and replay with the national systems on. A lab of ``tools/bench_switch.py``
(its national files seeded, NCIC, Nlets and NICS in the switch's process) serves ``--terminals``
terminals, each sending ``--cycles`` times the benchmark's mix (NCIC inquiries that hit and
miss, an Nlets RQ, AM, entries cancelled again; closed loop, every answer acknowledged);
``lems record`` then exports its journal (timed: records/s), and ``lems replay --speed 0`` sends
the recording to a second switch on a pristine copy of the same lab and compares every answer
(timed: inbound messages sent and compared per second, the switch and the simulated systems
answering them in the path). Both are the real CLI, run as processes.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def echo_server() -> None:
    from lems.reactor import install

    reactor = install("epoll")
    from formats import envelope
    from hardware import endpoints

    head = [-1, b""]  # (second, envelope and key line): formatted once a second, as the switch

    class Echo:
        def link_made(self, link):
            self.link = link

        def frame_received(self, payload):
            second = int(time.time())
            if second != head[0]:
                when = envelope.stamp(datetime.fromtimestamp(second, UTC))
                head[:] = [second, envelope.build(0, "", when, "ECHO.X\n").encode()]
            self.link.send(head[1] + payload)

        def bad_frame(self, reason, raw):
            pass

        def control_received(self, code):
            pass

        def link_lost(self, reason):
            pass

    def listening(port):
        print(f"LISTENING {port.getHost().port}", flush=True)

    endpoints.listen(reactor, "tcp:0:interface=127.0.0.1", Echo, 1 << 16).addCallback(listening)
    reactor.run()


def write_recording(path: Path, n: int, links: int) -> None:
    from formats.recording import Header, Record
    from terminals.recording_io import RecordingWriter

    t0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    with RecordingWriter(path, Header(source="bench_replay")) as w:
        seq = 0
        for i in range(n):
            t = (t0 + timedelta(milliseconds=i)).isoformat(timespec="microseconds")
            link = f"tcp:127.0.0.1:{40000 + i % links}"
            text = f"QW.OR0240000.NAM/DOE,JOHN.DOB/19800101.SEX/M.RAC/W.MIS/BENCH {i:07d}"
            seq += 1
            w.write(
                Record(
                    seq=seq, time=t, direction="in", text=text, link=link, ori="OR0240000", key="QW"
                )
            )
            seq += 1
            w.write(
                Record(
                    seq=seq,
                    time=t,
                    direction="out",
                    link=link,
                    key="ECHO",
                    ref=seq - 1,
                    text=f"OSN/0000000 TRM/NONE DTE/20261123 TIM/080000\nECHO.X\n{text}",
                )
            )


def switch_round_trip(n: int, cycles: int) -> int:
    """``--switch``: record the mix on one switch, replay it against another (see above)."""
    import asyncio
    import shutil

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_switch as bench
    from diff_switch import transcript

    root = Path(__file__).resolve().parents[1]
    lems = [sys.executable, "-m", "lems.cli"]
    work = Path(tempfile.mkdtemp(prefix="bench-replay-switch-"))
    try:
        lab, hits = bench.prepare_lab(work, n, "inprocess")
        pristine = work / "pristine"
        shutil.copytree(lab, pristine)
        served = bench.Server(
            [*lems, "serve", str(lab), "--listen", "tcp:0:interface=127.0.0.1"], work / "record.log"
        )
        t = time.perf_counter()
        try:
            answers = asyncio.run(transcript(served.port, n, cycles, hits))
        finally:
            served.stop()
        drive = time.perf_counter() - t
        print(
            f"driven: {len(answers):,} answers to {n} terminals x {cycles} cycles of the mix "
            f"in {drive:.1f} s ({len(answers) / drive:,.0f} tx/s closed loop, incl. sign-on)"
        )
        rec = work / "mix.jsonl"
        t = time.perf_counter()
        subprocess.run(
            [*lems, "record", str(lab), "--out", str(rec)],
            cwd=root,
            check=True,
            capture_output=True,
        )
        took = time.perf_counter() - t
        records = sum(1 for _ in rec.open("rb")) - 1
        print(
            f"record: {records:,} journal rows -> {rec.stat().st_size / 1e6:.1f} MB in "
            f"{took:.1f} s ({records / took:,.0f} records/s, process start included)"
        )
        replayed = bench.Server(
            [*lems, "serve", str(pristine), "--listen", "tcp:0:interface=127.0.0.1"],
            work / "replay.log",
        )
        try:
            t = time.perf_counter()
            out = subprocess.run(
                [
                    *lems,
                    "replay",
                    str(rec),
                    "--lab",
                    str(pristine),
                    "--to",
                    f"tcp:host=127.0.0.1:port={replayed.port}",
                    "--speed",
                    "0",
                    "--quiet",
                    "--wait",
                    "5",
                ],
                cwd=root,
                capture_output=True,
                text=True,
            )
            took = time.perf_counter() - t
        finally:
            replayed.stop()
        inbound = sum(1 for line in rec.open() if '"direction":"in"' in line.replace(" ", ""))
        summary = next(
            (line for line in out.stdout.splitlines() if "matched" in line),
            out.stdout[-500:] + out.stderr[-500:],
        )
        print(
            f"replay: {inbound:,} inbound messages in {took:.1f} s "
            f"({inbound / took:,.0f} messages/s sent and compared, process start included); "
            f"{summary.strip()}"
        )
        print(
            f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        return out.returncode
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--links", type=int, default=10)
    p.add_argument("--gzip", action="store_true", help="replay from a .jsonl.gz recording")
    p.add_argument("--window", type=int, default=10000)
    p.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--switch",
        action="store_true",
        help="record a switch with the national systems on and replay it against "
        "another (see above)",
    )
    p.add_argument("--terminals", type=int, default=10, help="--switch: terminals")
    p.add_argument(
        "--cycles",
        type=int,
        default=100,
        help="--switch: times each terminal sends the mix (10 messages)",
    )
    args = p.parse_args()
    if args.echo_server:
        echo_server()
        return 0
    if args.switch:
        return switch_round_trip(args.terminals, args.cycles)

    tmp = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    path = tmp / ("bench.jsonl.gz" if args.gzip else "bench.jsonl")
    t = time.perf_counter()
    write_recording(path, args.messages, args.links)
    written = time.perf_counter() - t
    print(
        f"recording: {args.messages:,} in + {args.messages:,} out -> {path.name} "
        f"({path.stat().st_size / 1e6:.1f} MB) in {written:.1f} s "
        f"({2 * args.messages / written:,.0f} records/s written, flushed per record)"
    )

    peer = subprocess.Popen(
        [sys.executable, "-u", __file__, "--echo-server"], stdout=subprocess.PIPE, text=True
    )
    result: dict = {}
    try:
        line = peer.stdout.readline()
        m = re.match(r"LISTENING (\d+)", line)
        if not m:
            raise SystemExit(f"echo peer did not start: {line!r}")
        endpoint = f"tcp:host=127.0.0.1:port={m.group(1)}"
        from lems.reactor import install

        install()
        from twisted.internet import defer, task

        from terminals.recording_io import read
        from terminals.replay import Replayer, ReplayOptions

        async def run(r):
            replayer = Replayer(
                r,
                endpoint,
                lambda: read(path)[1],
                options=ReplayOptions(speed=0, sync=False, window=args.window, wait=5.0, grace=0.1),
            )
            cpu0 = time.process_time()
            t0 = time.perf_counter()
            report = await replayer.run()
            result.update(
                report=report,
                wall=time.perf_counter() - t0,
                cpu=time.process_time() - cpu0,
                sent=replayer.sent,
            )

        task.react(lambda r: defer.ensureDeferred(run(r)))
    except SystemExit as e:
        if e.code not in (0, None):
            raise
    finally:
        with open(f"/proc/{peer.pid}/stat") as f:
            ticks = f.read().rsplit(")", 1)[1].split()
        result["peer_cpu"] = (int(ticks[11]) + int(ticks[12])) / os.sysconf("SC_CLK_TCK")
        peer.terminate()
        peer.wait(10)
    if "report" not in result:
        raise SystemExit("the replay ended without a report (see the errors above)")
    report, wall = result["report"], result["wall"]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"replay: {result['sent']:,} sent, {report.summary()}")
    print(
        f"replay: {wall:.1f} s wall, {result['cpu']:.1f} s CPU, "
        f"{result['sent'] / wall:,.0f} messages/s sent and compared, max RSS {rss:.0f} MB; "
        f"echo peer {result['peer_cpu']:.1f} s CPU"
    )
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    return 0 if report.ok and report.matched == args.messages else 1


if __name__ == "__main__":
    sys.exit(main())
