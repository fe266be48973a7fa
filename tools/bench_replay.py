"""Benchmark: replay rate, as fast as possible, counting messages sent and compared per second.

Usage::

    .venv/bin/python tools/bench_replay.py [--messages 1000000] [--links 10] [--gzip]

The benchmark writes a recording of N inbound messages (NCIC-style inquiries spread round-robin
over ``--links`` recorded links, without sign-on) and, for each, the recorded answer: the
inquiry echoed under an output envelope whose date and time differ from what the peer will send
(so every comparison goes through the masking rules). It then starts a lightweight echo peer as a
separate process (this file with ``--echo-server``: a Twisted server with the project's line
framing that answers each frame with ``OSN/0000000 TRM/NONE DTE/<today> TIM/<now>`` + ``ECHO.X`` +
the frame) and replays the file against it with ``terminals.replay.Replayer`` at speed 0, no link
sync, on the asyncio reactor — the same code path as ``lems replay``: read and decode the file,
send, receive, mask both sides, match. The rate is N / wall time from the first read to the
report; the peer is not the switch (the switch's own rate is tools/bench_switch.py's business).
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
    from hardware import endpoints

    class Echo:
        def link_made(self, link):
            self.link = link

        def frame_received(self, payload):
            now = datetime.now(UTC)
            self.link.send(f"OSN/0000000 TRM/NONE DTE/{now:%Y%m%d} TIM/{now:%H%M%S}\nECHO.X\n"
                           .encode() + payload)

        def bad_frame(self, reason, raw):
            pass

        def control_received(self, code):
            pass

        def link_lost(self, reason):
            pass

    def listening(port):
        print(f"LISTENING {port.getHost().port}", flush=True)

    endpoints.listen(reactor, "tcp:0:interface=127.0.0.1", Echo,
                     1 << 16).addCallback(listening)
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
            text = (f"QW.OR0240000.NAM/DOE,JOHN.DOB/19800101.SEX/M.RAC/W."
                    f"MIS/BENCH {i:07d}")
            seq += 1
            w.write(Record(seq=seq, time=t, direction="in", text=text, link=link,
                           ori="OR0240000", key="QW"))
            seq += 1
            w.write(Record(seq=seq, time=t, direction="out", link=link, key="ECHO", ref=seq - 1,
                           text=f"OSN/0000000 TRM/NONE DTE/20261123 TIM/080000\nECHO.X\n{text}"))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--links", type=int, default=10)
    p.add_argument("--gzip", action="store_true", help="replay from a .jsonl.gz recording")
    p.add_argument("--window", type=int, default=10000)
    p.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.echo_server:
        echo_server()
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    path = tmp / ("bench.jsonl.gz" if args.gzip else "bench.jsonl")
    t = time.perf_counter()
    write_recording(path, args.messages, args.links)
    written = time.perf_counter() - t
    print(f"recording: {args.messages:,} in + {args.messages:,} out -> {path.name} "
          f"({path.stat().st_size / 1e6:.1f} MB) in {written:.1f} s "
          f"({2 * args.messages / written:,.0f} records/s written, flushed per record)")

    peer = subprocess.Popen([sys.executable, "-u", __file__, "--echo-server"],
                            stdout=subprocess.PIPE, text=True)
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
            replayer = Replayer(r, endpoint, lambda: read(path)[1], options=ReplayOptions(
                speed=0, sync=False, window=args.window, wait=5.0, grace=0.1))
            cpu0 = time.process_time()
            t0 = time.perf_counter()
            report = await replayer.run()
            result.update(report=report, wall=time.perf_counter() - t0,
                          cpu=time.process_time() - cpu0, sent=replayer.sent)

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
    print(f"replay: {wall:.1f} s wall, {result['cpu']:.1f} s CPU, "
          f"{result['sent'] / wall:,.0f} messages/s sent and compared, max RSS {rss:.0f} MB; "
          f"echo peer {result['peer_cpu']:.1f} s CPU")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    return 0 if report.ok and report.matched == args.messages else 1


if __name__ == "__main__":
    sys.exit(main())
