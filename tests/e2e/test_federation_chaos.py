"""Nothing lost (issue 22): three state nodes (real ``lems serve`` processes) on a three-server
NATS JetStream cluster on loopback, traffic between every pair of states while one broker server
is killed with ``kill -9`` and one state node is killed with ``kill -9`` and restarted. Every
interstate message a node accepted (journaled) is answered (DQ -> DR to the sender's terminal)
or delivered (AM -> the destination agency's terminals) exactly once, counted from the nodes'
journals."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

from federation_support import state_lab, until
from support import wait

from lems.commands.federation import sees_all
from lems.federation.cluster import NatsCluster, answers, free_ports

STATES = ("OR", "WA", "ID")
SENDER = {"OR": "OR0240000", "WA": "WA0010000", "ID": "ID0010000"}
"""Each state's sending terminal T01's ORI; AMs go to the other states' T01/T02 ORI."""


def serve(lab_dir: Path) -> subprocess.Popen[bytes]:
    log = (lab_dir / "serve.log").open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "lems.cli", "serve", str(lab_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()


def journal(lab_dir: Path, sql: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(f"file:{lab_dir / 'lab.db'}?mode=ro", uri=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


async def test_nothing_lost_across_a_broker_kill_and_a_node_crash(tmp_path, reactor) -> None:
    from terminals.client import TerminalClient

    cluster = NatsCluster(tmp_path / "nats").start()
    ports = dict(zip(STATES, free_ports(3), strict=True))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    clients: dict[str, TerminalClient | None] = {}
    try:
        for st in STATES:
            state_lab(
                tmp_path / st,
                st,
                cluster.url,
                "CHAOS",
                listen=f"tcp:{ports[st]}:interface=127.0.0.1",
            )
            procs[st] = serve(tmp_path / st)
        await until(lambda: all(answers(p) for p in ports.values()), 60, "switches listening")
        await until(
            lambda: all(sees_all(tmp_path / st / "lab.db", list(STATES)) for st in STATES),
            30,
            "every node sees every other",
        )

        async def sign_on(st: str) -> TerminalClient:
            c = TerminalClient(reactor)
            await wait(c.connect(f"tcp:host=127.0.0.1:port={ports[st]}"))
            out = await wait(c.logon("T01", "OP01", "train-01"))
            assert out.key == "SON", out.body
            return c

        for st in STATES:
            clients[st] = await sign_on(st)

        n = 0
        rounds = 36
        for r in range(rounds):
            if r == 10:
                cluster.kill(1)  # kill -9 one broker server
            if r == 16:
                os.kill(procs["WA"].pid, signal.SIGKILL)  # kill -9 a state node
                procs["WA"].wait(10)
                clients["WA"] = None
            if r == 20:
                procs["WA"] = serve(tmp_path / "WA")
            if r > 20 and clients["WA"] is None and answers(ports["WA"]):
                clients["WA"] = await sign_on("WA")
            for st in STATES:
                c = clients[st]
                if c is None:
                    continue
                for other in STATES:
                    if other == st:
                        continue
                    n += 1
                    c.send(f"DQ.{SENDER[st]}.{other}.TXT\nOLN/Q{st}{other}{n:05d}")
                    c.send(f"AM.{SENDER[st]}.{SENDER[other]}.TXT\nCHAOS TOKEN A{st}{other}{n:05d}")
            await asyncio.sleep(0.1)  # the offered rate, not a wait for a result

        # what each node accepted (journaled): those must all come through, exactly once
        accepted_dq: dict[str, set[str]] = {}
        accepted_am: dict[str, set[str]] = {}
        for st in STATES:
            rows = journal(
                tmp_path / st,
                "SELECT key, text FROM journal WHERE direction = 'in' "
                "AND disposition = 'accepted' AND key IN ('DQ', 'AM')",
            )
            accepted_dq[st] = {
                m for k, t in rows if k == "DQ" for m in re.findall(r"OLN/(Q\w+)", t)
            }
            accepted_am[st] = {
                m for k, t in rows if k == "AM" for m in re.findall(r"TOKEN (A\w+)", t)
            }
        assert sum(map(len, accepted_dq.values())) > 150, accepted_dq

        def answered(st: str) -> Counter[str]:
            rows = journal(
                tmp_path / st,
                "SELECT text FROM journal WHERE direction = 'out' "
                "AND key = 'DR' AND terminal = 'T01'",
            )
            return Counter(m for (t,) in rows for m in re.findall(r"OLN/(Q\w+)", t))

        def delivered(st: str) -> Counter[tuple[str, str]]:
            rows = journal(
                tmp_path / st,
                "SELECT terminal, text FROM journal WHERE "
                "direction = 'out' AND key = 'AM' AND terminal IN ('T01', 'T02')",
            )
            return Counter((term, m) for term, t in rows for m in re.findall(r"TOKEN (A\w+)", t))

        def missing() -> list[str]:
            out = []
            for st in STATES:
                out += sorted(accepted_dq[st] - set(answered(st)))
                got = delivered(st)
                for other in STATES:
                    out += [
                        f"{token}@{t}"
                        for token in sorted(accepted_am[other])
                        for t in ("T01", "T02")
                        if token[2:4] == st and (t, token) not in got
                    ]
            return out

        try:
            await until(lambda: not missing(), 40, "every accepted message answered or delivered")
        except AssertionError:
            gone = missing()
            why = []
            for token in gone[:5]:  # what the sender's journal says about each
                st = token[1:3] if token.startswith("Q") else token.split("@")[0][2:4]
                seqs = [
                    s
                    for (s,) in journal(
                        tmp_path / st,
                        "SELECT seq FROM journal WHERE direction = 'in' AND text LIKE ?",
                        f"%{token.split('@')[0]}%",
                    )
                ]
                why += [
                    journal(
                        tmp_path / st,
                        "SELECT seq, direction, key, disposition, "
                        "substr(text, 1, 120) FROM journal WHERE seq = ? OR ref = ?",
                        s,
                        s,
                    )
                    for s in seqs
                ]
            raise AssertionError(f"lost: {gone[:40]}; {why}") from None
        lost = dup = 0
        for st in STATES:
            a = answered(st)
            dup += sum(1 for m in accepted_dq[st] if a[m] > 1)
            got = delivered(st)
            dup += sum(1 for v in got.values() if v > 1)
        assert (lost, dup) == (0, 0)
        total = sum(map(len, accepted_dq.values())) + sum(map(len, accepted_am.values()))
        print(f"chaos: {total} interstate messages accepted, all answered or delivered once")
    finally:
        for c in clients.values():
            if c is not None:
                c.close()
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        cluster.stop()
