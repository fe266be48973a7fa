"""Record traffic against a real switch, replay it against a fresh lab, compare the answers.

The recorded day covers a rejected message before sign-on, sign-ons, an inquiry (answered by
whatever serves NCIC in this build), policy and format rejects, administrative messages between
terminals on line and an offline terminal that finds its message in the mailbox at sign-on."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support import demo_lab, running_switch, signed_on, wait
from twisted.internet import defer

from formats.recording import Comparison, Record
from lems.cli import main
from lems.store import when_committed
from terminals.client import TerminalClient
from terminals.recording_io import RecordingWriter, read, read_all
from terminals.replay import Credentials, Replayer, ReplayOptions


async def day_of_traffic(switch, reactor) -> None:
    """A small day, each step waiting for its answer so the recording is well ordered."""
    early = TerminalClient(reactor)
    await wait(early.connect(switch.endpoint))
    out = await wait(early.request("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"))
    assert out.key == "REJ"
    assert (await wait(early.logon("T01", "OP01", "train-01"))).key == "SON"
    t1 = early
    t2 = await signed_on(switch, reactor, "T02")
    await wait(t1.request("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101"))
    out = await wait(t1.request("QW.OR0260000.NAM/DOE,JOHN.DOB/19800101"))
    assert "CODE/SPOOF" in out.body
    # to T04's ORI while T04 is off line: waits in its mailbox
    t1.send("AM.OR0240000.OR0260000.TXT\nMEET AT THE COUNTY LINE\n1400 HOURS")
    await wait(t1.request("QW.OR0240000.NAM/ROE,JANE.DOB/19900202.SEX/F"))
    # to both Cascade terminals on line
    t2.send("AM.OR0240000.OR0240000.TXT\nSHIFT BRIEFING AT 0600")
    assert (await wait(t1.next())).key == "AM"
    assert (await wait(t2.next())).key == "AM"
    t4 = await signed_on(switch, reactor, "T04")
    assert (await wait(t4.next())).key == "AM"
    out = await wait(t4.request("QW.OR0260000.NAM/DOE"))
    assert out.key == "REJ"
    for c in (t1, t2, t4):
        c.close()
    await wait(when_committed(switch.writer, []))


def export(lab_dir: Path, out: Path, *extra: str) -> list[Record]:
    assert main(["record", str(lab_dir), "--out", str(out), *extra]) == 0
    return read_all(out)[1]


async def replay(switch, reactor, records, *, comparison=None, **options):
    lab = switch.lab
    creds = Credentials({o.id: o.password for o in lab.operators.values()})
    replayer = Replayer(
        reactor,
        switch.endpoint,
        lambda: iter(records),
        options=ReplayOptions(**{"wait": 2.0, **options}),
        credentials=creds,
        comparison=comparison,
    )
    report = await wait(defer.ensureDeferred(replayer.run()), 60)
    return replayer, report


@pytest.fixture
async def recording(tmp_path_factory, reactor) -> list[Record]:
    d = tmp_path_factory.mktemp("recorded")
    async with running_switch(demo_lab(d), reactor) as switch:
        await day_of_traffic(switch, reactor)
    return export(d, d / "day.jsonl.gz")


async def test_recording_holds_the_day(recording):
    keys_in = [r.key for r in recording if r.direction == "in"]
    assert keys_in[:2] == ["QW", "LOGON"] and "AM" in keys_in and "ACK" in keys_in
    logons = [r.text for r in recording if r.key == "LOGON" and r.direction == "in"]
    assert logons and all(t.endswith(".********") for t in logons)
    outs = [r for r in recording if r.direction == "out"]
    assert {"SON", "REJ", "AM"} <= {r.key for r in outs}
    assert all(r.ref for r in outs)
    assert any(r.terminal == "T04" and r.key == "AM" for r in outs)


async def test_deterministic_lab_replay_has_zero_differences(recording, tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        replayer, report = await replay(switch, reactor, recording)
    assert report.ok, "\n".join(report.lines())
    recorded_outs = sum(1 for r in recording if r.direction == "out")
    assert report.matched == recorded_outs and report.unobserved == 0
    assert replayer.sent == sum(1 for r in recording if r.direction == "in" and r.key != "ACK")


async def test_injected_change_in_the_switch_is_caught(recording, tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        real = switch._queue  # every message for a terminal passes here

        def changed(rows, terminal, body, **kw):
            return real(rows, terminal, body.replace("MEET AT", "MEET NEAR"), **kw)

        switch._queue = changed
        _, report = await replay(switch, reactor, recording, stall=0.5, wait=1.0)
    assert not report.ok
    assert len(report.differences) == 1 and not report.missing and not report.unexpected
    d = report.differences[0]
    assert d.expected.channel == "T04"
    assert "-MEET AT THE COUNTY LINE" in d.diff and "+MEET NEAR THE COUNTY LINE" in d.diff


async def test_extra_and_lost_responses_are_reported(recording, tmp_path, reactor):
    # drop one recorded output (its answer comes anyway: unexpected) and add a notice that
    # never comes (missing)
    outs = [i for i, r in enumerate(recording) if r.direction == "out" and r.key == "AM"]
    edited = list(recording)
    dropped = edited.pop(outs[0])
    edited.append(
        Record(
            seq=10_000,
            time=edited[-1].time,
            direction="out",
            terminal="T01",
            osn=99,
            key="NTF",
            text="OSN/0000099 TRM/T01 DTE/20261123 "
            "TIM/120000\nNTF.OR0240000\n$.L.\nLOCATE ON YOUR RECORD",
        )
    )
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        _, report = await replay(switch, reactor, edited, stall=0.5, wait=1.0)
    assert [i.channel for i in report.unexpected] == [dropped.channel]
    assert [i.text.split("\n")[1] for i in report.missing] == ["NTF.OR0240000"]
    assert not report.differences


async def test_remapping_a_terminal(recording, tmp_path, reactor):
    # the same day with Cascade records moved from T02 to T03 (given T02's ORI in this lab)
    def twin(text: str) -> str:
        return text.replace('id = "T03"\noris = ["OR0240100"]', 'id = "T03"\noris = ["OR0240000"]')

    async with running_switch(demo_lab(tmp_path, twin), reactor) as switch:
        lab = switch.lab
        creds = Credentials({o.id: o.password for o in lab.operators.values()})
        # OP02 may only use T02: sign T03 on with its own operator
        records = [
            r
            if not (r.key == "LOGON" and r.text.startswith("LOGON.T02"))
            else Record(**{**_asdict(r), "text": "LOGON.T02.OP03.********", "operator": "OP03"})
            for r in recording
        ]
        replayer = Replayer(
            reactor,
            switch.endpoint,
            lambda: iter(records),
            options=ReplayOptions(mapping={"T02": "T03"}, wait=1.0, stall=0.5),
            credentials=creds,
        )
        report = await wait(defer.ensureDeferred(replayer.run()), 60)
    # the SON names OP03 where the recording has OP02: the only difference
    assert len(report.differences) == 1, "\n".join(report.lines())
    assert report.differences[0].expected.channel.startswith("link:")
    assert "T03" in replayer.live and "T02" not in replayer.live
    assert not report.missing and not report.unexpected


def _asdict(r: Record) -> dict:
    return {k: getattr(r, k) for k in Record.__slots__}


async def test_cli_replay_exit_status_and_report(recording, tmp_path, reactor):
    """``lems replay`` as a real process against ``lems serve``: 0 on the recording, 1 when a
    recorded output was edited, with the diff in the printed and the JSON report."""
    from test_crash_recovery import start_server

    plain = tmp_path / "day.jsonl"
    edited = tmp_path / "edited.jsonl"
    with RecordingWriter(plain) as a, RecordingWriter(edited) as b:
        done = False
        for r in recording:
            a.write(r)
            if not done and r.direction == "out" and "1400 HOURS" in r.text:
                r = Record(**{**_asdict(r), "text": r.text.replace("1400", "1500")})
                done = True
            b.write(r)
    lab_dir = tmp_path / "lab"
    demo_lab(lab_dir)
    proc, endpoint = await start_server(lab_dir)
    try:
        loop = asyncio.get_running_loop()

        def run(path: Path, report: Path) -> subprocess.CompletedProcess:
            return subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "lems.cli",
                    "replay",
                    str(path),
                    "--to",
                    endpoint,
                    "--lab",
                    str(lab_dir),
                    "--wait",
                    "2",
                    "--report",
                    str(report),
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )

        ok = await loop.run_in_executor(None, run, plain, tmp_path / "ok.json")
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "0 different, 0 missing, 0 unexpected" in ok.stdout
        bad = await loop.run_in_executor(None, run, edited, tmp_path / "bad.json")
        assert bad.returncode == 1, bad.stdout + bad.stderr
        assert "-1500 HOURS" in bad.stdout and "+1400 HOURS" in bad.stdout
        data = json.loads((tmp_path / "bad.json").read_text())
        assert len(data["differences"]) == 1 and data["ok"] is False
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


async def test_export_filters_by_terminal_and_time(recording, tmp_path):
    lab_dir = tmp_path / "lab"
    lab = demo_lab(lab_dir)
    with RecordingWriter(tmp_path / "x.jsonl"):
        pass
    # put the recording's rows into a journal of a fresh lab to export them again
    import sqlite3

    conn = sqlite3.connect(lab.database)
    conn.executemany(
        "INSERT INTO journal (seq, time, direction, link, terminal, operator, ori, key, "
        "disposition, reason, osn, ref, text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            tuple(
                getattr(r, k)
                for k in (
                    "seq",
                    "time",
                    "direction",
                    "link",
                    "terminal",
                    "operator",
                    "ori",
                    "key",
                    "disposition",
                    "reason",
                    "osn",
                    "ref",
                    "text",
                )
            )
            for r in recording
        ],
    )
    conn.commit()
    conn.close()
    every = export(lab_dir, tmp_path / "all.jsonl")
    assert every == recording
    t4 = export(lab_dir, tmp_path / "t4.jsonl", "--terminal", "T04")
    assert {r.terminal for r in t4 if r.direction == "in"} == {"T04"}
    assert any(r.key == "SON" for r in t4)
    middle = recording[len(recording) // 2].time
    late = export(lab_dir, tmp_path / "late.jsonl", "--from", middle)
    assert late and all(r.time >= middle for r in late) and len(late) < len(recording)


async def test_live_recorder_killed_loses_nothing(tmp_path, reactor):
    """``lems record DIR --live`` as a real process, killed with SIGKILL mid-traffic: every
    message it had written is in the (gzip) file, readable."""
    lab = demo_lab(tmp_path)
    async with running_switch(lab, reactor) as switch:
        out = tmp_path / "live.jsonl.gz"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-u",
                "-m",
                "lems.cli",
                "record",
                str(tmp_path),
                "--live",
                "--out",
                str(out),
                "--poll",
                "0.05",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            loop = asyncio.get_running_loop()
            line = await asyncio.wait_for(loop.run_in_executor(None, proc.stdout.readline), 30)
            assert line.startswith("RECORDING"), line
            t1 = await signed_on(switch, reactor, "T01")
            for i in range(30):
                await wait(t1.request(f"QW.OR0240000.NAM/DOE,JOHN.DOB/19800101.MIS/{i}"))
            await wait(when_committed(switch.writer, []))
            import sqlite3

            conn = sqlite3.connect(lab.database)
            top = conn.execute("SELECT MAX(seq) FROM journal").fetchone()[0]
            conn.close()
            for _ in range(200):
                _, got = read_all(out)
                if got and got[-1].seq >= top:
                    break
                await asyncio.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            t1.close()
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
        header, got = read_all(out)
        assert header.source.endswith("live")
        seqs = [r.seq for r in got]
        assert seqs == sorted(seqs) and seqs[-1] == top
        assert sum(1 for r in got if r.key == "QW" and r.direction == "in") == 30
        # the killed writer left no gzip trailer; the reader took everything anyway
        assert len(got) == len(list(read(out)[1]))


def test_comparison_alone_reports_unobserved():
    c = Comparison()
    c.expect("T09", "OSN/0000001 TRM/T09 DTE/20261123 TIM/120000\nAM.OR0240000")
    report = c.finish(observed={"T01"})
    assert report.ok and report.unobserved == 1


def test_cli_import_text_and_help(tmp_path, capsys):
    log = tmp_path / "t.log"
    log.write_bytes(b"LOGON.T01.OP01.train-01\n\nQW.OR0240000.NAM/DOE,JOHN.MIS/\xe9\n")
    out = tmp_path / "t.jsonl.gz"
    assert main(["record", "--import-text", str(log), "--out", str(out)]) == 0
    _, recs = read_all(out)
    assert [r.key for r in recs] == ["LOGON", "QW"]
    assert recs[0].text == "LOGON.T01.OP01.********" and recs[1].payload.endswith(b"\xe9")
    for cmd in ("record", "replay"):
        with pytest.raises(SystemExit) as e:
            main([cmd, "--help"])
        assert e.value.code == 0
    assert "Passwords are masked" in capsys.readouterr().out.replace("\n", " ")
