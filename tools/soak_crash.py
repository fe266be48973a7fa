"""Soak under crashes: terminals on line, stx and length links send AM, queries and entries at a
steady rate while the switch's process group is killed with ``kill -9`` at random moments and
restarted; at the end, per kill and in total, what happened to every input.

Usage::

    .venv/bin/python tools/soak_crash.py [--terminals 6] [--rate 500] [--kills 10]
                                         [--duration 60] [--seed 1] [--keep DIR]

A fresh demo lab (``lems init``) is served by ``lems serve`` as its own process group, with one
loopback listener per framing. Terminal *i* uses framing ``line``, ``stx``, ``length`` in turn and
sends, in a cycle, an ``AM`` to the next terminal's ORI carrying a unique tag, a ``QW`` inquiry
to NCIC and an ``EW`` entry with a unique OCA, each numbered with an input sequence number
(``ISN/<n>``, docs/WIRE.md) so that the switch's input acknowledgement (``IAK``) says which inputs
it accepted. Every output is acknowledged (``ACK.<osn>``). ``--duration`` seconds are cut into
``--kills`` + 1 periods; in each of the first ``--kills`` the switch is killed at a uniformly random
moment, restarted at once, and every terminal reconnects, signs on and sends again every input
it has no IAK for, under the same ISN (a resend after a lost acknowledgement: the switch must
recognise what it already took).

When sending stops the tool waits (up to 60 s) until every accepted input has an answer, stops the
switch cleanly and counts, from the journal and from what the terminals received:

* acknowledged — inputs with an IAK (ACCEPTED or REJECTED);
* answered — acknowledged inputs the journal shows an answer for (an answer row, a relayed copy,
  or the notice that an entry was not run again after a crash);
* unanswered — acknowledged but not answered; lost — acknowledged AMs whose copy never reached
  the recipient terminal, or acknowledged inputs missing from the journal;
* duplicated — an AM accepted twice (the same tag in two accepted rows) or delivered to one
  terminal under two different OSNs;
* dead-lettered — messages no link could carry.

Goal (issue 14): 0 lost, 0 unanswered, 0 duplicated over at least 10 kills at 500 inputs/s or
more. ``--rate`` is offered while the switch is up (nothing is owed for the seconds it takes to
restart); the last line gives the rate the switch acknowledged while up.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from wire_peer import FRAMINGS, Peer, Server, operators_by_terminal

from lems.demo import init_lab


@dataclass
class Input:
    terminal: str
    isn: int
    text: str
    kind: str
    period: int
    seq: int = 0
    result: str = ""
    tag: str = ""


@dataclass
class Term:
    id: str
    ori: str
    framing: str
    operator: tuple[str, str]
    peer: Peer | None = None
    signed_on: bool = False
    next_isn: int = 0
    inputs: dict[int, Input] = field(default_factory=dict)
    received: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))


class Soak:
    def __init__(self, args: argparse.Namespace, lab_dir: Path) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.lab = init_lab(lab_dir, listen="tcp:0:interface=127.0.0.1")
        self.server = Server(lab_dir, FRAMINGS)
        ops = operators_by_terminal(self.lab)
        ids = [
            t
            for t, cfg in self.lab.terminals.items()
            if t in ops and not cfg.control and not cfg.radio
        ][: args.terminals]
        if len(ids) < 2:
            raise SystemExit("the demo lab has too few terminals")
        self.terms = [
            Term(t, self.lab.terminals[t].oris[0], FRAMINGS[i % len(FRAMINGS)], ops[t])
            for i, t in enumerate(ids)
        ]
        self.by_id = {t.id: t for t in self.terms}
        self.period = 0
        self.oca = 0

    # -------------------------------------------------------------- terminals

    def output(self, term: Term, out) -> None:  # type: ignore[no-untyped-def]
        if out.key == "SON":
            term.signed_on = True
        elif out.key == "IAK":
            words = out.lines[1].split() if len(out.lines) > 1 else []
            if len(words) >= 3 and words[0].startswith("ISN/"):
                inp = term.inputs.get(int(words[0][4:]))
                if inp is not None and not inp.result:
                    # "ISN/n SEQ/s ACCEPTED|REJECTED", or for a resend the switch recognised:
                    # "ISN/n SEQ/s DUPLICATE OF SEQ/original - ..." (the original is the input)
                    dup = words[2] == "DUPLICATE" and len(words) > 4
                    inp.seq = int((words[4] if dup else words[1])[4:])
                    inp.result = words[2]
        elif out.key in ("AM",) and out.lines and out.lines[-1].startswith("SOAK "):
            term.received[out.lines[-1]].add(out.osn)

    async def connect_all(self) -> None:
        for term in self.terms:
            term.signed_on = False
            term.peer = await Peer.open(
                self.server.ports[term.framing],
                term.framing,
                on_output=lambda p, o, t=term: self.output(t, o),
            )
            op, pw = term.operator
            term.peer.send(f"LOGON.{term.id}.{op}.{pw}".encode())
        end = time.monotonic() + 30
        while not all(t.signed_on for t in self.terms):
            if time.monotonic() > end:
                raise RuntimeError("terminals could not sign on")
            await asyncio.sleep(0.01)
        for term in self.terms:  # inputs that got no IAK: send them again, same ISN
            for inp in term.inputs.values():
                if not inp.result:
                    term.peer.send(inp.text.encode())  # type: ignore[union-attr]

    def new_input(self, term: Term, i: int) -> Input:
        term.next_isn += 1
        isn = term.next_isn
        kind = ("AM", "QW", "EW")[i % 3]
        tag = ""
        if kind == "AM":
            dest = self.terms[(self.terms.index(term) + 1) % len(self.terms)].ori
            tag = f"SOAK {term.id} {isn}"
            body = f"AM.{term.ori}.{dest}.TXT\n{tag}"
        elif kind == "QW":
            body = f"QW.{term.ori}.NAM/DOE,JOHN.DOB/19800101"
        else:
            self.oca += 1
            body = (
                f"EW.{term.ori}.NAM/SOAK,TEST.SEX/M.RAC/W.HGT/510.WGT/180.HAI/BRO.OFF/1313"
                f".DOW/20250101.OCA/SK-{self.oca:07d}.DOB/19800101"
            )
        inp = Input(term.id, isn, f"ISN/{isn}\n{body}", kind, self.period, tag=tag)
        term.inputs[isn] = inp
        return inp

    # -------------------------------------------------------------- run

    async def run(self) -> None:
        a = self.args
        self.server.start()
        await self.connect_all()
        periods = a.kills + 1
        length = a.duration / periods
        kills = [k * length + self.rng.uniform(0.1, 0.9) * length for k in range(a.kills)]
        start = time.monotonic()
        last = start
        owed = 0.0
        n = 0
        self.down = 0.0
        while (now := time.monotonic() - start) < a.duration:
            if kills and now >= kills[0]:
                kills.pop(0)
                self.server.kill9()
                for t in self.terms:
                    if t.peer is not None:
                        t.peer.close()
                self.period += 1
                t0 = time.monotonic()
                self.server.start()
                await self.connect_all()
                last = time.monotonic()  # nothing is owed for the time the switch was down
                self.down += last - t0
                print(f"kill {self.period}: at {now:.1f} s, back in {last - t0:.1f} s", flush=True)
                continue
            t = time.monotonic()
            owed = min(owed + a.rate * (t - last), a.rate)  # steady rate, at most 1 s behind
            last = t
            while owed >= 1:
                owed -= 1
                term = self.terms[n % len(self.terms)]
                inp = self.new_input(term, n // len(self.terms))
                term.peer.send(inp.text.encode())  # type: ignore[union-attr]
                n += 1
            await asyncio.sleep(0.01)
        self.sent_for = time.monotonic() - start
        await self.settle()
        code = self.server.stop()
        if code != 0:
            print(f"warning: lems serve exited {code}", file=sys.stderr)
        for t in self.terms:
            if t.peer is not None:
                t.peer.close()

    async def settle(self, limit: float = 60.0) -> None:
        """Until every input has an IAK and every accepted input an answer (or ``limit``)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            missing = [i for t in self.terms for i in t.inputs.values() if not i.result]
            if not missing and not self.unanswered() and self.copies_missing() == 0:
                return
            await asyncio.sleep(0.2)

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.lab.database}?mode=ro", uri=True)

    def answered_seqs(self) -> set[int]:
        conn = self.db()
        try:
            return {
                ref
                for (ref,) in conn.execute(
                    "SELECT ref FROM journal WHERE ref > 0 AND disposition != 'recovered'"
                )
            }
        finally:
            conn.close()

    def unanswered(self) -> list[Input]:
        done = self.answered_seqs()
        return [i for t in self.terms for i in t.inputs.values() if i.seq and i.seq not in done]

    def copies_missing(self) -> int:
        return sum(
            1
            for t in self.terms
            for i in t.inputs.values()
            if i.kind == "AM"
            and i.result in ("ACCEPTED", "DUPLICATE")
            and not self.recipient(i).received.get(i.tag)
        )

    def recipient(self, inp: Input) -> Term:
        return self.terms[(self.terms.index(self.by_id[inp.terminal]) + 1) % len(self.terms)]

    # -------------------------------------------------------------- figures

    def report(self) -> dict[str, int]:
        conn = self.db()
        try:
            journaled = {
                seq for (seq,) in conn.execute("SELECT seq FROM journal WHERE direction = 'in'")
            }
            am_rows = Counter(
                text.split("\n", 1)[-1]
                for (text,) in conn.execute(
                    "SELECT text FROM journal WHERE direction = 'in' AND key = 'AM' "
                    "AND disposition = 'accepted'"
                )
            )
            dead = conn.execute(
                "SELECT COUNT(*) FROM journal WHERE disposition = 'dead-letter'"
            ).fetchone()[0]
            recovered = conn.execute(
                "SELECT COUNT(*) FROM journal WHERE disposition = 'recovered'"
            ).fetchone()[0]
            duplicates_seen = conn.execute(
                "SELECT COUNT(*) FROM journal WHERE disposition = 'duplicate'"
            ).fetchone()[0]
        finally:
            conn.close()
        answered = self.answered_seqs()
        cols = ("sent", "acknowledged", "answered", "unanswered", "lost", "duplicated")
        rows: dict[int, Counter[str]] = defaultdict(Counter)
        for t in self.terms:
            for i in t.inputs.values():
                r = rows[i.period]
                r["sent"] += 1
                if not i.result:
                    continue
                r["acknowledged"] += 1
                if i.seq in answered:
                    r["answered"] += 1
                else:
                    r["unanswered"] += 1
                if i.seq not in journaled:
                    r["lost"] += 1
                if i.kind == "AM" and i.result in ("ACCEPTED", "DUPLICATE"):
                    got = self.recipient(i).received.get(i.tag, set())
                    if not got:
                        r["lost"] += 1
                    if len(got) > 1 or am_rows.get(i.tag, 0) > 1:
                        r["duplicated"] += 1
        total: Counter[str] = Counter()
        print()
        print(
            f"soak_crash: {len(self.terms)} terminals "
            f"({', '.join(f'{t.id}/{t.framing}' for t in self.terms)}), offered "
            f"{self.args.rate} inputs/s for {self.args.duration:g} s, {self.period} kills "
            f"(kill -9 of the process group)"
        )
        print(f"{'period':<10}" + "".join(f"{c:>14}" for c in cols))
        for k in range(self.period + 1):
            total.update(rows[k])
            name = "start" if k == 0 else f"kill {k}"
            print(f"{name:<10}" + "".join(f"{rows[k][c]:>14,}" for c in cols))
        print(f"{'total':<10}" + "".join(f"{total[c]:>14,}" for c in cols))
        up = self.sent_for - self.down
        rate = total["acknowledged"] / up if up > 0 else 0
        print(
            f"acknowledged inputs/s while up {rate:,.0f} ({up:.0f} s up, {self.down:.0f} s "
            f"restarting)   dead-lettered {dead}   recovered at start "
            f"{recovered}   resends recognised as duplicates {duplicates_seen}   "
            f"tracebacks {self.server.tracebacks()}"
        )
        verdict = all(total[c] == 0 for c in ("unanswered", "lost", "duplicated"))
        print(f"goal (0 lost, 0 unanswered, 0 duplicated): {'met' if verdict else 'NOT met'}")
        return {c: total[c] for c in cols} | {"dead": dead}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--terminals", type=int, default=6)
    p.add_argument("--rate", type=float, default=500.0, help="inputs per second offered")
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of sending")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", type=Path, help="keep the lab in this directory")
    a = p.parse_args(argv)
    if a.terminals < 2 or a.rate <= 0 or a.duration <= 0 or a.kills < 0:
        p.error("--terminals >= 2, --rate > 0, --duration > 0, --kills >= 0")
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        lab_dir = a.keep or Path(tmp)
        soak = Soak(a, lab_dir)
        try:
            asyncio.run(soak.run())
        finally:
            soak.server.kill9()
        total = soak.report()
    return 0 if total["unanswered"] == total["lost"] == total["duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
