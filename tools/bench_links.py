"""Throughput per link kind and per framing: frames echoed through a link on this machine, on the
asyncio reactor.

    .venv/bin/python tools/bench_links.py [-n 5000] [--window 50] [--kinds tcp,loop,tls,serial,mqtt]
        [--framings line,stx,dle,ascii4,bin2,bin4,length] [--repeat 1]

The second table runs each framing over TCP twice in the same run: echoed by a LEMS link, and by
a plain asyncio socket server that frames the same way (the framer's feed and encode, with the
framing's ACK where it has one, nothing else); ``ratio`` is LEMS over plain, so the cost of the
link layer shows apart from the framing's own. ``stx`` and ``dle`` run stop-and-wait (one frame
in flight) as the acknowledgement rules require, on both sides. ``--repeat R`` measures each
kind and each framing R times (LEMS and plain alternating) and prints the best of each, which
a machine shared with other work needs: one run's ratio there is mostly the neighbours' noise.

Each kind listens with an echo handler and one client sends ``n`` 60-byte frames keeping
``window`` in flight, counting echoes. This measures the links (framing, TLS, the serial
STX/ETX ARQ over a pty pair, MQTT QoS 1 through the broker), not the switch. MQTT uses the
broker at --mqtt (default mqtt://127.0.0.1:1883) and is left out if none answers.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path


class Echo:
    def link_made(self, link):
        self.link = link

    def frame_received(self, payload):
        self.link.send(payload)

    def bad_frame(self, reason, raw):
        pass

    def control_received(self, code):
        pass

    def link_lost(self, reason):
        pass


class Counter(Echo):
    def __init__(self, done: asyncio.Event, n: int, window: int) -> None:
        self.done, self.n, self.window = done, n, window
        self.got = self.sent = 0

    def frame_received(self, payload):
        self.got += 1
        if self.sent < self.n:
            self.push()
        if self.got >= self.n:
            self.done.set()

    def push(self):
        self.sent += 1
        self.link.send(b"QW.OR0240000.NAM/DOE,JOHN.DOB/19800101.PUR/C.ATN/BENCH %06d" % self.sent)


async def one(reactor, kind: str, n: int, window: int, tmp: Path, mqtt: str) -> float | None:
    from hardware import endpoints

    modem = None
    if kind == "tcp":
        server, client = "tcp:0:interface=127.0.0.1", "tcp:host=127.0.0.1:port={port}"
    elif kind == "loop":
        server = client = f"loop:bench-{uuid.uuid4().hex[:6]}"
    elif kind == "tls":
        from hardware.tls import write_lab_pki

        pki = write_lab_pki(tmp / "pki", ["T01"])
        server = f"tls:0:interface=127.0.0.1:certKey={pki}/server.pem:caCerts={pki}/ca.pem"
        client = f"tls:host=127.0.0.1:port={{port}}:certKey={pki}/T01.pem:caCerts={pki}/ca.pem"
    elif kind == "serial":
        from hardware.nullmodem import NullModem

        modem = NullModem(reactor, tmp / "tty").plug()
        server = f"serial:{modem.a}:framing=stx"
        client = f"serial:{modem.b}:framing=stx"
        window = 1  # stop-and-wait: one frame on the line at a time
    elif kind == "mqtt":
        host, _, rest = mqtt[len("mqtt://") :].partition(":")
        port_s = rest.split("/")[0] or "1883"
        try:
            socket.create_connection((host, int(port_s)), timeout=0.5).close()
        except OSError:
            return None
        server = f"{mqtt}/bench-{uuid.uuid4().hex[:6]}"
        client = server + ":client=B1"
    else:
        raise SystemExit(f"unknown kind {kind}")
    listener = await endpoints.listen(reactor, server, Echo).asFuture(asyncio.get_running_loop())
    done = asyncio.Event()
    counter = Counter(done, n, window)
    host = listener.getHost()
    link = await endpoints.connect(
        reactor, client.format(port=getattr(host, "port", "")), counter
    ).asFuture(asyncio.get_running_loop())
    start = time.perf_counter()
    for _ in range(min(window, n)):
        counter.push()
    await asyncio.wait_for(done.wait(), 600)
    rate = n / (time.perf_counter() - start)
    link.close()
    await asyncio.sleep(0.2)
    d = listener.stopListening()
    if d is not None:
        await d.asFuture(asyncio.get_running_loop())
    if modem is not None:
        modem.close()
    return rate


class PlainEcho(asyncio.Protocol):
    """The baseline: a bare asyncio server with the same framer, echoing each frame."""

    def __init__(self, framing: str) -> None:
        from formats.framing import Frame, link_framer

        self.framer = link_framer(framing, 1 << 16)
        self.frame = Frame
        self.ack = self.framer.ack()

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        out = []
        for event in self.framer.feed(data):
            if type(event) is self.frame:
                out.append(self.ack + self.framer.encode(event.payload))
        if out:
            self.transport.write(b"".join(out))


async def framing_rate(reactor, framing: str, n: int, window: int, plain: bool) -> float:
    from hardware import endpoints

    loop = asyncio.get_running_loop()
    if plain:
        server = await loop.create_server(lambda: PlainEcho(framing), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
    else:
        listener = await endpoints.listen(
            reactor, f"tcp:0:interface=127.0.0.1:framing={framing}", Echo
        ).asFuture(loop)
        port = listener.getHost().port
    done = asyncio.Event()
    counter = Counter(done, n, window)
    link = await endpoints.connect(
        reactor, f"tcp:host=127.0.0.1:port={port}:framing={framing}", counter
    ).asFuture(loop)
    start = time.perf_counter()
    for _ in range(min(window, n)):
        counter.push()
    await asyncio.wait_for(done.wait(), 600)
    rate = n / (time.perf_counter() - start)
    link.close()
    await asyncio.sleep(0.1)
    if plain:
        server.close()
    else:
        await listener.stopListening().asFuture(loop)
    return rate


async def main(args) -> None:
    from twisted.internet import reactor

    reactor.startRunning(installSignalHandlers=False)
    print(f"{'kind':8} {'frames':>7} {'window':>6} {'echoes/s':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds.split(","):
            n = args.n if kind != "serial" else min(args.n, 2000)
            rates = [
                await one(reactor, kind, n, args.window, Path(tmp) / f"{kind}{i}", args.mqtt)
                for i in range(args.repeat)
            ]
            rate = None if None in rates else max(r for r in rates if r is not None)
            window = 1 if kind == "serial" else args.window
            shown = "no broker" if rate is None else f"{rate:10.0f}"
            print(f"{kind:8} {n:7d} {window:6d} {shown:>10}", flush=True)
    if not args.framings:
        return
    print(f"\n{'framing':8} {'frames':>7} {'lems/s':>10} {'plain/s':>10} {'ratio':>6}")
    for framing in args.framings.split(","):
        arq = framing in ("stx", "dle")
        n = min(args.n, 2000) if arq else args.n
        window = 1 if arq else args.window
        lems = plain = 0.0
        for _ in range(args.repeat):
            lems = max(lems, await framing_rate(reactor, framing, n, window, plain=False))
            plain = max(plain, await framing_rate(reactor, framing, n, window, plain=True))
        print(f"{framing:8} {n:7d} {lems:10.0f} {plain:10.0f} {lems / plain:6.2f}", flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=5000)
    p.add_argument("--window", type=int, default=50)
    p.add_argument("--kinds", default="tcp,loop,tls,serial,mqtt")
    p.add_argument("--mqtt", default="mqtt://127.0.0.1:1883")
    p.add_argument(
        "--framings",
        default="line,stx,dle,ascii4,bin2,bin4,length",
        help="framings to time over TCP against a plain socket echo ('' for none)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure each R times (LEMS and plain alternating), print the best",
    )
    args = p.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from twisted.internet import asyncioreactor

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    asyncioreactor.install(loop)
    loop.run_until_complete(main(args))
