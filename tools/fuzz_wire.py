"""Wire fuzz: random and mutated frames on every framing, from a signed-on terminal and from a
peer that never signs on, against a real ``lems serve``; then what the switch made of them.

Usage::

    .venv/bin/python tools/fuzz_wire.py [--frames 100000] [--framings line,stx,length]
                                        [--seed 1] [--keep DIR]

For each framing, ``--frames`` units are sent, alternately by a terminal signed on over that
framing and by a peer that is not signed on: random bytes (mostly short, some up to past the
lab's ``max_frame``) and mutations of valid messages (bytes flipped, control characters and
framing bytes inserted, spans cut or repeated, long runs appended, ``ISN/`` numbers reused),
framed as the framing frames them (or, where the framing cannot carry a payload, written as raw
bytes). A copy of the switch's own decoder on the client side counts the units the switch will
see (a raw run may make one unit of several, or none). Every output is acknowledged. At most
``--window`` units are outstanding at once. Everything is on loopback.

Printed per framing and in total: units sent, units the switch saw (journal), answers received,
units the journal shows without an answer, tracebacks in the switch's log, messages stuck in a
mailbox of the signed-on terminal after it acknowledged everything it got (mail for
terminals never on line is waiting, not stuck), and the switch's RSS before and after.
Goal (issue 14): 0 tracebacks, 0 stuck, every unit answered.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from wire_peer import FRAMINGS, Peer, Server, operators_by_terminal

from formats.errors import FormatError
from formats.framing import ETX, STX, BadFrame, Frame, block_check, link_framer, make_framer
from lems.demo import init_lab

TEMPLATES = [
    b"QW.OR0240000.NAM/DOE,JOHN.DOB/19800101",
    b"AM.OR0240000.OR0260000.TXT\nMEET AT THE COUNTY LINE\n1400 HOURS",
    b"EW.OR0240000.NAM/SMITH,JOHN.SEX/M.RAC/W.HGT/510.WGT/180.HAI/BRO.OFF/1313"
    b".DOW/20250101.OCA/FZ-00001.DOB/19800101",
    b"QV.OR0240000.LIC/ABC123.LIS/OR",
    b"YQ.OR0240000.OR0260000.PRI/U.NIC/W123456789.TXT\nCONFIRM",
    b"LOGON.T01.OP01.not-the-password",
    b"ISN/7\nQW.OR0240000.NAM/DOE,JANE.DOB/19800101",
    b"DQ.OR0240000.OR.LIC/ABC123",
]
CONTROL = bytes([0, STX, ETX, 4, 5, 6, 0x0A, 0x0D, 0x15, 0x1B, 0x5C, 0x7F, 0xFF])


def mutate(rng: random.Random, data: bytes, max_frame: int) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randrange(len(b) + 1)
        if op == 0 and b:
            b[min(pos, len(b) - 1)] = rng.randrange(256)
        elif op == 1:
            b[pos:pos] = bytes([rng.choice(CONTROL)])
        elif op == 2:
            del b[pos : pos + rng.randint(1, 20)]
        elif op == 3:
            b[pos:pos] = b[pos : pos + rng.randint(1, 30)] * rng.randint(1, 5)
        elif op == 4:
            b += bytes([rng.randrange(32, 127)]) * rng.choice((10, 500, max_frame))
        elif op == 5:
            b = bytearray(b"ISN/" + str(rng.randint(1, 20)).encode() + b"\n") + b
        else:
            b = b[:pos]
    return bytes(b)


def payload(rng: random.Random, max_frame: int) -> bytes:
    if rng.random() < 0.3:
        r = rng.random()
        n = (
            rng.randint(1, 200)
            if r < 0.8
            else rng.randint(200, 4000)
            if r < 0.95
            else rng.randint(4000, max_frame + max_frame // 5)
        )
        return rng.randbytes(n)
    return mutate(rng, rng.choice(TEMPLATES), max_frame)


def wire(framing: str, data: bytes, encoder) -> bytes:  # type: ignore[no-untyped-def]
    """``data`` framed; raw bytes shaped like the framing where it cannot carry them."""
    try:
        return encoder.encode(data)
    except FormatError:
        pass
    if framing == "line":
        return data.replace(b"\n", b" ") + b"\n"
    if framing == "stx":
        return bytes([STX]) + data + bytes([ETX, block_check(data)])
    import zlib

    return b"LM\x01\x00" + len(data).to_bytes(4, "big") + zlib.crc32(data).to_bytes(4, "big") + data


def expected(events: list) -> int:  # type: ignore[type-arg]
    """Units the switch will answer: frames and broken frames, not acknowledgements of output
    (``ACK.<n>``: nothing to answer when the number was sent) nor sign-offs."""
    n = 0
    for e in events:
        if type(e) is BadFrame or (
            type(e) is Frame and not e.payload.startswith((b"ACK.", b"LOGOFF"))
        ):
            n += 1
    return n


async def fuzz_framing(
    server: Server,
    lab,
    framing: str,
    terminal: str,
    frames: int,  # type: ignore[no-untyped-def]
    rng: random.Random,
    window: int,
) -> dict[str, int]:
    max_frame = lab.switch.max_frame
    port = server.ports[framing]
    signed = await Peer.open(port, framing)
    op, pw = operators_by_terminal(lab)[terminal]
    signed.send(f"LOGON.{terminal}.{op}.{pw}".encode())
    anon = await Peer.open(port, framing)
    end = time.monotonic() + 30
    while signed.outputs < 1 and time.monotonic() < end:
        await asyncio.sleep(0.01)
    peers = [signed, anon]
    mirrors = [make_framer(framing, max_length=max_frame) for _ in peers]  # the switch's reading
    encoder = link_framer(framing, max_frame, role="terminal")  # a terminal's writing
    base = [p.outputs for p in peers]
    rss_before = server.rss_kib()
    want = 0
    sent = 0
    for i in range(frames):
        k = i % 2
        data = payload(rng, max_frame)
        if not data:
            continue
        if k == 0 and data.startswith(b"LOGOFF"):
            continue  # would sign the terminal off: the rest would test only the unsigned path
        raw = wire(framing, data, encoder)
        want += expected(mirrors[k].feed(raw))
        peers[k].send_raw(raw)
        sent += 1
        if i % 50 == 49:  # keep at most about `window` units outstanding
            deadline = time.monotonic() + 30
            while (
                want - sum(p.outputs - b for p, b in zip(peers, base, strict=True)) > window
                and time.monotonic() < deadline
            ):
                await asyncio.sleep(0.005)
    # close the units a raw run may have left open, then let the answers come
    for k, p in enumerate(peers):
        tail = {"line": b"\n", "stx": b"\x03\x00", "length": b""}[framing]
        if tail:
            want += expected(mirrors[k].feed(tail))
            p.send_raw(tail)
    deadline = time.monotonic() + 60
    last, quiet = -1, 0.0
    while time.monotonic() < deadline:
        got = sum(p.outputs - b for p, b in zip(peers, base, strict=True))
        if got == last:
            quiet += 0.1
            if quiet >= 2.0:
                break
        else:
            last, quiet = got, 0.0
        await asyncio.sleep(0.1)
    rss_after = server.rss_kib()
    answers = sum(p.outputs - b for p, b in zip(peers, base, strict=True))
    for p in peers:
        p.close()
    return {
        "sent": sent,
        "units": want,
        "answers": answers,
        "rss_before": rss_before,
        "rss_after": rss_after,
    }


def journal_figures(database: Path, since: int, terminal: str) -> tuple[int, int, int]:
    """(units journaled, units without an answer, messages stuck in the mailbox of
    ``terminal``, which was on line and acknowledged everything it got)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        units = conn.execute(
            "SELECT COUNT(*) FROM journal WHERE seq > ? AND direction = 'in' AND "
            "disposition NOT IN ('acked', 'ack-again')",
            (since,),
        ).fetchone()[0]
        unanswered = conn.execute(
            "SELECT COUNT(*) FROM journal i WHERE i.seq > ? AND i.direction = 'in' AND "
            "i.disposition NOT IN ('acked', 'ack-again', 'duplicate') AND i.key != 'LOGOFF' AND "
            "NOT EXISTS (SELECT 1 FROM journal o WHERE o.seq > i.seq AND o.ref = i.seq)",
            (since,),
        ).fetchone()[0]
        stuck = conn.execute(
            "SELECT COUNT(*) FROM mailbox WHERE dead = 0 AND terminal = ?", (terminal,)
        ).fetchone()[0]
        return units, unanswered, stuck
    finally:
        conn.close()


def last_seq(database: Path) -> int:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0]
    finally:
        conn.close()


async def run(args: argparse.Namespace, lab_dir: Path) -> int:
    lab = init_lab(lab_dir, listen="tcp:0:interface=127.0.0.1")
    # The fuzz wants every unit answered: turn off the guardrails that close, throttle or slow
    # down a peer on purpose (lems/limits.py, lems/signon.py; tools/bench_guardrails.py measures
    # them). What is left is the wire handling itself.
    path = lab_dir / "lab.toml"
    path.write_text(
        path.read_text().replace(
            "lockout_after = 5",
            "lockout_after = 5"
            if args.guardrails
            else (
                "lockout_after = 1000000\nsignon_delay = 0\npresignon_frames = 0\nrate_frames = 0\n"
                "rate_bytes = 0\nsource_frames = 0\nsource_bytes = 0\nsource_links = 0\n"
                "signon_timeout = 0"
            ),
        )
    )
    framings = tuple(args.framings.split(","))
    server = Server(lab_dir, framings)
    server.start()
    rng = random.Random(args.seed)
    terminals = {"line": "T01", "stx": "T03", "length": "T04"}
    rows = []
    try:
        for framing in framings:
            since = last_seq(lab.database)
            t0 = time.monotonic()
            fig = await fuzz_framing(
                server, lab, framing, terminals[framing], args.frames, rng, args.window
            )
            await asyncio.sleep(0.5)  # the last commits
            units, unanswered, stuck = journal_figures(lab.database, since, terminals[framing])
            fig.update(
                journaled=units,
                unanswered=unanswered,
                stuck=stuck,
                seconds=round(time.monotonic() - t0, 1),
            )
            rows.append((framing, fig))
    finally:
        tracebacks = server.tracebacks()
        code = server.stop()
    cols = (
        "sent",
        "units",
        "journaled",
        "answers",
        "unanswered",
        "stuck",
        "rss_before",
        "rss_after",
        "seconds",
    )
    print(
        f"fuzz_wire: {args.frames} units per framing, seed {args.seed}, max_frame "
        f"{lab.switch.max_frame}; RSS in KiB (switch and its writer)"
    )
    print(f"{'framing':<8}" + "".join(f"{c:>12}" for c in cols))
    for framing, fig in rows:
        print(
            f"{framing:<8}"
            + "".join(
                f"{fig[c]:>12,}" if isinstance(fig[c], int) else f"{fig[c]:>12}" for c in cols
            )
        )
    unanswered = sum(f["unanswered"] for _, f in rows)
    stuck = max((f["stuck"] for _, f in rows), default=0)
    print(f"tracebacks in the switch log: {tracebacks}   switch exit status: {code}")
    ok = tracebacks == 0 and stuck == 0 and unanswered == 0 and code == 0
    print(f"goal (0 tracebacks, 0 stuck, every unit answered): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=100_000, help="units per framing")
    p.add_argument("--framings", default=",".join(FRAMINGS))
    p.add_argument("--window", type=int, default=400, help="units outstanding at most")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--guardrails",
        action="store_true",
        help="keep the per-link limits and sign-on delays on (then links are closed "
        "and units go unanswered on purpose; look for tracebacks)",
    )
    p.add_argument("--keep", type=Path, help="keep the lab in this directory")
    a = p.parse_args(argv)
    if a.frames < 1 or any(f not in FRAMINGS for f in a.framings.split(",")):
        p.error(f"--frames >= 1 and --framings from {','.join(FRAMINGS)}")
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        return asyncio.run(run(a, a.keep or Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
