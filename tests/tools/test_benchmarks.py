"""Smoke tests for the benchmark and check scripts in ``tools/``: each runs as its own process at
a tiny size and must exit 0 and print the figures it promises (its lines and tables, with
numbers in them).

Speed is never asserted: the figures are read for their shape (a number where a number belongs,
one row per run or size asked for), not for their size. The numbers the benchmarks report only
mean something at their default sizes, which take minutes; these tests guard that the tools
still run against the code they measure."""

from __future__ import annotations

import asyncio
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120.0
"""Seconds a tool may run before the test gives up on it (each takes a few seconds at most)."""
NUM = r"\d[\d,]*(?:\.\d+)?"
"""A figure as the tools print it: ``0.27``, ``7,025``, ``12``."""

# A little above the tools' own timeout, so that a hung tool fails with its output shown.
pytestmark = pytest.mark.timeout(TIMEOUT + 60)


def run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` from the repository root; with ``check``, exit status 0 is required."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):  # rich: plain text only
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=TIMEOUT,
    )
    if check:
        assert proc.returncode == 0, (
            f"{' '.join(map(str, args))} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def num(text: str) -> float:
    """A figure as printed (thousands separators allowed) as a float."""
    assert re.fullmatch(NUM, text), f"not a figure: {text!r}"
    return float(text.replace(",", ""))


def line(pattern: str, out: str) -> re.Match[str]:
    """The first line of ``out`` matching ``pattern`` (anchored at the line's start)."""
    m = re.search(pattern, out, re.MULTILINE)
    assert m, f"no line matching {pattern!r} in:\n{out}"
    return m


def rich_tables(out: str) -> list[list[dict[str, str]]]:
    """The rows of each ``rich`` table in ``out`` (box-drawn, titles ignored), each row a dict
    from column heading to cell text; a heading wrapped over several lines is joined."""
    tables: list[list[dict[str, str]]] = []
    columns: list[str] = []
    for raw in out.splitlines():
        text = raw.strip()
        if text.startswith("\u250f"):  # top-left corner: a new table
            tables.append([])
            columns = []
        elif text.startswith("\u2503") and tables:  # heading row
            cells = [c.strip() for c in text.strip("\u2503").split("\u2503")]
            columns = (
                cells
                if not columns
                else [f"{a} {b}".strip() for a, b in zip(columns, cells, strict=True)]
            )
        elif text.startswith("\u2502") and tables:  # body row
            cells = [c.strip() for c in text.strip("\u2502").split("\u2502")]
            tables[-1].append(dict(zip(columns, cells, strict=True)))
    return tables


def test_bench_parse_reports_its_figures():
    """bench_parse still runs and prints its corpus, best runs and median ratio."""
    out = run("tools/bench_parse.py", "--size", "20", "--n", "50", "--repeat", "2").stdout
    line(r"^corpus\s+20 messages, \d+ keys, \d+ bytes average, \d+ rejected", out)
    line(r"^timing\s+2 pairs of runs of 50 messages", out)
    for label in (r"baseline split/partition", r"Parser\.check"):
        line(rf"^{label}\s+{NUM} us/message\s+{NUM} messages/s", out)
    m = line(rf"^ratio check/baseline\s+({NUM})\s+\(median of the pairs; ({NUM})-({NUM})\)", out)
    low, median, high = num(m[2]), num(m[1]), num(m[3])
    assert low <= median <= high
    for label in (r"Nlets legacy Parser\.check", r"Nlets XML decode\+check"):
        line(rf"^{label}\s+{NUM} us/message\s+{NUM} messages/s", out)
    line(rf"^ratio xml/legacy\s+({NUM})\s+\(median of the pairs; ({NUM})-({NUM})\)", out)


MIX_LABELS = ["QW hit", "QW miss", "QV hit", "QV miss", "RQ", "AM", "EW", "XW", "EV", "XV"]
EXPECTED = {
    "QW hit": "HIT",
    "QW miss": "NRC",
    "QV hit": "HIT",
    "QV miss": "NRC",
    "RQ": "RR",
    "AM": "AM",
    "EW": "ACC",
    "XW": "ACC",
    "EV": "ACC",
    "XV": "ACC",
}
"""What the simulated systems answer each request of bench_switch's mix."""


def test_bench_switch_throughput_reports_rounds_and_median():
    """bench_switch (throughput) runs each round as echo, the switch with the national systems
    on and with them off; prints the mix, each run, each round's ratio and their median, and the
    latency of each request of the mix, each answered as the simulated system does."""
    out = run(
        "tools/bench_switch.py",
        "--terminals",
        "2",
        "--duration",
        "1",
        "--warmup",
        "0.3",
        "--reactor",
        "asyncio",
        "--repeat",
        "2",
    ).stdout
    line(
        r"^mix \(each terminal's cycle\): QW hit 10%, QW miss 10%, QV hit 10%, QV miss 10%, "
        r"RQ 10%, AM 10%, EW 10%, XW 10%, EV 10%, XV 10%$",
        out,
    )
    runs = re.findall(
        rf"^(echo|switch/inprocess|switch/off)\s+asyncio\s+2t\s+({NUM}) tx/s\s+"
        rf"p50\s+{NUM}\s+p99\s+{NUM}\s+p99\.9\s+{NUM} ms\s+server\s+\d+% "
        rf"\(reactor\s+\d+%\).*errors 0  answers: (.*)$",
        out,
        re.MULTILINE,
    )
    assert [r[0] for r in runs] == ["echo", "switch/inprocess", "switch/off"] * 2, out
    for server, _, answers in runs:
        words = answers.split()
        if server == "switch/inprocess":  # answered by NCIC, Nlets, or relayed
            assert {"HIT", "NRC", "ACC", "RR", "AM"} <= set(words), answers
        elif server == "switch/off":  # NOT AVAILABLE from the switch itself
            assert "REJ" in words and "AM" in words and "HIT" not in words, answers

    tables = rich_tables(out)
    per_run, summary, *per_request = tables
    assert [r["server"] for r in per_run] == ["echo", "switch/inpro…", "switch/off"] * 2 or [
        r["server"][:8] for r in per_run
    ] == ["echo", "switch/i", "switch/o"] * 2, per_run
    for r in per_run:
        assert (r["reactor"], r["terms"], r["errors"]) == ("asyncio", "2", "0"), r
        for col in ("tx/s", "p50 ms", "p99 ms", "p99.9 ms", "reactor \u00b5s/tx"):
            num(r[col])

    assert [row["switch"] for row in summary] == ["switch/inprocess", "switch/off"], summary
    for row in summary:
        rounds = [num(x) for x in row["ratio per round"].split()]
        assert len(rounds) == 2, row
        median = num(row["median"])
        assert abs(median - statistics.median(rounds)) <= 0.01, row
    assert summary[0]["goal"] in ("met", "NOT met")
    assert summary[1]["goal"] == "(not the goal's path)"

    inprocess = per_request[0]  # the median run of the national systems' path
    assert [r["request"] for r in inprocess] == [*MIX_LABELS, "all"], inprocess
    for r in inprocess[:-1]:
        assert r["answered"].split()[0] == EXPECTED[r["request"]], r
        for col in ("p50 ms", "p99 ms", "p99.9 ms"):
            num(r[col])
    line(r"^load average \d", out)


def test_bench_switch_open_loop_reports_latency_per_request():
    """--rate sends on a schedule: a closed-loop maximum first for a share, then one run per
    rate, each with p50/p99/p99.9 per request of the mix."""
    out = run(
        "tools/bench_switch.py",
        "--terminals",
        "2",
        "--duration",
        "1",
        "--warmup",
        "0.3",
        "--endpoints",
        "inprocess",
        "--rate",
        "40,50%",
    ).stdout
    top = num(line(rf"^maximum \(closed loop\): ({NUM}) tx/s$", out).group(1))
    offered = [num(x) for x in re.findall(rf"offered ({NUM})/s\s+{NUM} tx/s", out)]
    assert offered[0] == 40 and abs(offered[1] - top / 2) <= 1, (offered, top)
    tables = rich_tables(out)
    assert len(tables) == 2, out
    for table in tables:
        assert [r["request"] for r in table] == [*MIX_LABELS, "all"], table
        for r in table[:-1]:
            assert r["answered"].split()[0] == EXPECTED[r["request"]], r
        assert table[-1]["answered"].startswith("late sends"), table[-1]


def test_bench_switch_curve_writes_its_csv_with_or_without_a_plot(tmp_path):
    """--curve prints and writes one CSV row per point (terminals, journal rows, mailbox depth,
    each filled straight into the lab's schema), and a PNG when matplotlib is there."""
    csv_path = tmp_path / "curve.csv"
    proc = run(
        "tools/bench_switch.py",
        "--curve",
        "--terminals",
        "2",
        "--duration",
        "0.5",
        "--warmup",
        "0.2",
        "--curve-terminals",
        "1",
        "--curve-journal",
        "0,300",
        "--curve-mailbox",
        "20",
        "--out",
        csv_path,
    )
    import csv

    rows = list(csv.DictReader(proc.stdout.splitlines()[2:]))  # after the machine and the mix
    assert [(r["series"], r["x"]) for r in rows] == [
        ("terminals", "1"),
        ("journal_rows", "0"),
        ("journal_rows", "300"),
        ("mailbox_depth", "20"),
    ], proc.stdout
    assert [(r["terminals"], r["journal_rows"], r["mailbox_depth"]) for r in rows] == [
        ("1", "0", "0"),
        ("2", "0", "0"),
        ("2", "300", "0"),
        ("2", "0", "20"),
    ]
    for r in rows:
        assert r["errors"] == "0" and num(r["tx_s"]) > 0, r
        num(r["p99_ms"])
    assert list(csv.DictReader(csv_path.read_text().splitlines())) == rows
    try:
        import matplotlib  # noqa: F401  (the optional 'bench' extra)
    except ImportError:
        assert "matplotlib is not installed" in proc.stderr, proc.stderr
    else:
        assert csv_path.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_switch_profile_writes_the_switchs_profile(tmp_path):
    """--profile serves the switch under cProfile (the reactor thread's CPU clock) and writes
    PREFIX.<reactor>.prof once the switch has stopped: a profile of the switch's own code."""
    run(
        "tools/bench_switch.py",
        "--servers",
        "switch",
        "--endpoints",
        "off",
        "--terminals",
        "2",
        "--duration",
        "1",
        "--warmup",
        "0.3",
        "--repeat",
        "1",
        "--profile",
        tmp_path / "p",
    )
    stats = pstats.Stats(str(tmp_path / "p.asyncio.prof"))
    names = {(Path(path).name, name) for (path, _, name) in stats.stats}
    assert ("lab.py", "cmd_serve") in names and ("switch.py", "receive") in names


def test_bench_switch_idle_memory_reports_its_table():
    """bench_switch --idle still signs on N terminals and prints the switch's memory figures."""
    out = run("tools/bench_switch.py", "--idle", "20", "--reactor", "asyncio").stdout
    (table,) = rich_tables(out)
    (row,) = table
    assert (row["reactor"], row["terminals"]) == ("asyncio", "20"), row
    for col in ("serve start s", "RSS start MiB", "RSS connected MiB", "RSS signed on MiB"):
        assert num(row[col]) > 0, row
    for col in ("KiB/connection", "KiB/terminal"):  # a difference: may come out negative
        num(row[col].removeprefix("-"))
    assert row["goal"] in ("met", "NOT met")
    line(rf"^asyncio: connect {NUM} s, sign on {NUM} s$", out)


async def test_bench_links_reports_every_kind():
    """bench_links still echoes frames over every link kind (MQTT through a real broker) and
    prints a rate for each."""
    from mqtt_broker import any_broker

    async with any_broker() as broker:
        # In a thread: the broker may be amqtt on this very event loop and must keep serving.
        proc = await asyncio.to_thread(
            run,
            "tools/bench_links.py",
            "-n",
            "50",
            "--window",
            "5",
            "--mqtt",
            f"mqtt://{broker.host}:{broker.port}",
        )
    out = proc.stdout
    line(r"^kind\s+frames\s+window\s+echoes/s$", out)
    rows = re.findall(r"^(\w+)\s+(\d+)\s+(\d+)\s+(\S+)$", out, re.MULTILINE)
    assert [r[0] for r in rows] == ["tcp", "loop", "tls", "serial", "mqtt"], out
    for kind, frames, window, rate in rows:
        assert frames == "50", out
        assert window == ("1" if kind == "serial" else "5"), out
        num(rate)  # a number, not "no broker"
    line(r"^framing\s+frames\s+lems/s\s+plain/s\s+ratio$", out)
    rows = re.findall(rf"^([\w-]+)\s+(\d+)\s+({NUM})\s+({NUM})\s+({NUM})$", out, re.MULTILINE)
    assert [r[0] for r in rows] == ["line", "stx", "dle", "ascii4", "bin2", "bin4", "length"]


def ncic_rounds(out: str, records: int) -> list[tuple[str, ...]]:
    """The round rows bench_ncic printed for ``records``, each checked for sense."""
    line(r"^\s+records\s+round\s+p50 ms\s+p99 ms\s+max ms\s+cpu p99\s+disk kB\s+hits\s+load$", out)
    rows = re.findall(
        rf"^\s+{records}\s+(\d+)" + rf"\s+({NUM})" * 7 + "$",
        out,
        re.MULTILINE,
    )
    for _, p50, p99, worst, cpu, _, hits, _ in rows:
        assert num(p50) <= num(p99) <= num(worst), out
        assert num(cpu) > 0, out
        assert 0 < num(hits) <= 1, out  # two in five of the inquiries are built to hit
    for kind in ("QW hit", "QW miss", "QW EXD/Y", "QV VIN", "QV LIC"):
        line(rf"^\s+{re.escape(kind)} p50 {NUM} p99 {NUM} max {NUM}$", out)
    line(
        rf"^\s+{records} median p99 of {len(rows)} rounds: {NUM} ms \(goal <= 2 ms: (NOT )?met\)$",
        out,
    )
    return rows


def test_bench_ncic_reports_a_row_per_size():
    """bench_ncic still seeds each size, times its inquiries and prints a row per size."""
    out = run("tools/bench_ncic.py", "--records", "200,400", "--queries", "20").stdout
    for n in (200, 400):
        line(rf"^records {n}: loaded in \d+ s, \d+ rows/s \(load average {NUM} after\)$", out)
        assert [r[0] for r in ncic_rounds(out, n)] == ["1"], out


def test_bench_ncic_keeps_and_reuses_its_database(tmp_path):
    """With --db the first run loads and keeps the database, the next reuses it and times each
    of its rounds; a kept database loaded with other settings is refused, not reused."""
    db = tmp_path / "ncic.db"
    args = ("tools/bench_ncic.py", "--records", "300", "--queries", "20", "--db", db)
    first = run(*args).stdout
    line(r"^records 300: loaded in \d+ s", first)
    assert db.exists()
    again = run(*args, "--rounds", "3").stdout
    line(rf"^records 300: reused {re.escape(str(db))}$", again)
    assert [r[0] for r in ncic_rounds(again, 300)] == ["1", "2", "3"], again
    other = run(*args[:-2], "--seed", "2", "--db", db, check=False)
    assert other.returncode != 0
    assert (
        "loaded with (records, seed, files, done) = (300, 1, 'wanted,vehicle', 1)" in other.stderr
    )


def test_bench_cch_reports_each_kind_of_lookup(tmp_path):
    """bench_cch still looks subjects up in a small seeded lab and prints a line per kind."""
    lab = tmp_path / "lab"
    run("-m", "lems.cli", "init", lab)
    run("-m", "lems.cli", "cch", "seed", lab, "--subjects", "100")
    out = run("tools/bench_cch.py", lab, "--lookups", "40").stdout
    line(r"^subjects 100  lookups 40$", out)
    for kind in ("name+dob", "sid", "fbi", "miss", "all"):
        line(rf"^{re.escape(kind)}\s+p50\s+{NUM} ms\s+p99\s+{NUM} ms\s+max\s+{NUM} ms$", out)


@pytest.mark.parametrize("gzip", [False, True], ids=["jsonl", "gzip"])
def test_bench_replay_reports_the_replay(gzip):
    """bench_replay still records, replays every message against its echo peer and prints the
    rate."""
    out = run(
        "tools/bench_replay.py", "--messages", "200", "--links", "2", *(["--gzip"] if gzip else [])
    ).stdout
    name = "bench.jsonl.gz" if gzip else "bench.jsonl"
    line(
        rf"^recording: 200 in \+ 200 out -> {re.escape(name)} \({NUM} MB\) in {NUM} s "
        rf"\({NUM} records/s written",
        out,
    )
    line(r"^replay: 200 sent, 200 matched, 0 different, 0 missing, 0 unexpected", out)
    line(
        rf"^replay: {NUM} s wall, {NUM} s CPU, {NUM} messages/s sent and compared, "
        rf"max RSS {NUM} MB; echo peer {NUM} s CPU$",
        out,
    )
    line(r"^machine: \d+ CPUs, Python ", out)


def test_bench_replay_records_and_replays_a_switch_with_the_national_systems():
    """bench_replay --switch records the mix on one switch with NCIC, Nlets and NICS in it and
    replays it against another: every answer matches."""
    out = run("tools/bench_replay.py", "--switch", "--terminals", "1", "--cycles", "2").stdout
    line(rf"^driven: 20 answers to 1 terminals x 2 cycles of the mix in {NUM} s", out)
    line(rf"^record: {NUM} journal rows -> {NUM} MB in {NUM} s", out)
    line(
        rf"^replay: {NUM} inbound messages in {NUM} s \({NUM} messages/s sent and compared, "
        rf"process start included\); 21 matched, 0 different, 0 missing, 0 unexpected",
        out,
    )


def test_diff_switch_against_head():
    """diff_switch serves the mix with this tree's switch and HEAD's and compares every
    answer (the working tree may differ from HEAD only in ways that keep the answers)."""
    out = run("tools/diff_switch.py", "--ref", "HEAD", "--cycles", "2").stdout
    line(r"^20 answers here, 20 from HEAD; 0 differ$", out)


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=30
    )


def test_diff_parse_against_head():
    """diff_parse still takes the parser of a git revision (HEAD) and compares every answer."""
    if shutil.which("git") is None or git("rev-parse", "--verify", "HEAD").returncode != 0:
        pytest.skip("needs git and a checkout with a HEAD commit")
    # With formats/ edited and not committed the two parsers may rightly differ (exit 1).
    clean = git("status", "--porcelain", "--", "formats").stdout.strip() == ""
    proc = run(
        "tools/diff_parse.py", "--ref", "HEAD", "--seeds", "1", "--mutations", "200", check=clean
    )
    assert proc.returncode in (0, 1), proc.stderr
    m = line(
        r"^(\d+) inputs: (\d+) messages, (\d+) rejects, (\d+) exceptions; "
        r"(\d+) differ from HEAD$",
        proc.stdout,
    )
    total, messages, rejects, exceptions, differ = map(int, m.groups())
    assert total == messages + rejects + exceptions > 1000  # a corpus of 1,000 + every key + 200
    assert messages > 0 and rejects > 0
    if clean:
        assert differ == 0, proc.stdout


def test_bench_guardrails_reports_both_phases_and_the_goals():
    """bench_guardrails still runs honest terminals before and during a flood and a peer that
    does not read, round by round, and prints latency, journal growth, memory, the load average
    and the goals (judged on the median of the rounds)."""
    out = run(
        "tools/bench_guardrails.py",
        "--honest",
        "2",
        "--duration",
        "1",
        "--flood",
        "1",
        "--rounds",
        "2",
    ).stdout
    for n in (1, 2):
        line(
            rf"^round {n}\s+before n\s+\d+ p50\s+{NUM} p99\s+{NUM} ms \| during n\s+\d+ p50\s+"
            rf"{NUM} p99\s+{NUM} ms \| ratio\s+{NUM}x \| journal from flood\s+{NUM} KB/s, from "
            rf"not-reading\s+{NUM} KB/s \| rss\s+{NUM} MiB \| switch cpu\s+\d+ ->\s+\d+ % "
            rf"\(reactor\s+\d+ ->\s+\d+ %\)$",
            out,
        )
    line(
        rf"^median  p99 before {NUM} ms, during {NUM} ms; median of the rounds' ratios {NUM}x$", out
    )
    line(r"^load average \(1, 5, 15 min\) at start and after each phase: ", out)
    line(rf"^switch rss at start {NUM} MiB, at the end {NUM} MiB", out)
    line(r"; the attacking process used \d+ % of a core$", out)
    line(
        rf"^goal p99 during <= 2x before \(median of rounds\): {NUM}x (MET|NOT MET); goal "
        rf"journal growth from the flood <= 100 KB/s: {NUM} KB/s (MET|NOT MET)$",
        out,
    )
    m = re.search(
        r"(\d+) closed for frames without sign-on, (\d+) connections refused at "
        r"accept",
        out,
    )
    assert m and int(m.group(1)) + int(m.group(2)) > 0, out  # the flood met the limits


@pytest.mark.timeout(400)
def test_bench_federation_reports_each_run_the_ratio_and_the_goals():
    """bench_federation at a tiny size: the single-node run, 2 nodes over the broker and the
    broker kill, each with its figures; the ratio, the broker's share and both goal lines."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run(
        [
            sys.executable,
            "tools/bench_federation.py",
            "--rate",
            "20",
            "--duration",
            "2",
            "--warmup",
            "0.5",
            "--nodes",
            "2",
            "--terminals",
            "1",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=360,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    for name in ("inside", "2 nodes", "kill"):
        m = line(
            rf"^{name} +offered +({NUM}) tx/s +answered +({NUM}) tx/s +p50 +({NUM}) ms +"
            rf"p99 +({NUM}) ms +max +({NUM}) ms +lost (\d+) +cpu switches +({NUM}) % +"
            rf"brokers +({NUM}) % +switch cpu/tx +({NUM}) ms",
            out,
        )
        assert num(m.group(1)) == 20 and num(m.group(2)) > 0 and num(m.group(9)) > 0
    line(rf"^kill .* stall {NUM} s$", out)
    line(rf"^ratio 2 nodes / inside: tx/s {NUM} +p50 {NUM} +p99 {NUM}$", out)
    line(rf"^broker share: {NUM} % of server CPU; network adds {NUM} ms of the {NUM} ms p50", out)
    line(r"^goal p99 <= 20 ms at 20 tx/s between two nodes: (met|NOT met)", out)
    line(r"^goal 0 lost and flowing within 5 s after a broker kill: (met|NOT met) \(lost 0,", out)


def test_soak_crash_kills_restarts_and_accounts_for_every_input():
    """soak_crash at a tiny size: two kill -9 of the switch's process group, then its table per
    kill and in total, with the goal's verdict (it exits 1 if anything was lost)."""
    out = run(
        "tools/soak_crash.py", "--terminals", "3", "--rate", "60", "--kills", "2", "--duration", "4"
    ).stdout
    assert len(re.findall(r"^kill \d: at [\d.]+ s, back in [\d.]+ s$", out, re.MULTILINE)) == 2
    cols = ["sent", "acknowledged", "answered", "unanswered", "lost", "duplicated"]
    header = line(r"period\s+" + r"\s+".join(cols) + r"$", out)
    assert header
    rows = {
        m.group(1): [num(x) for x in m.group(2).split()]
        for m in re.finditer(
            rf"^(start|kill \d|total)\s+((?:{NUM}\s+){{5}}{NUM})$", out, re.MULTILINE
        )
    }
    assert set(rows) == {"start", "kill 1", "kill 2", "total"}, out
    total = dict(zip(cols, rows["total"], strict=True))
    assert total["acknowledged"] > 0 and total["answered"] == total["acknowledged"]
    assert line(
        rf"acknowledged inputs/s while up {NUM} \({NUM} s up, {NUM} s restarting\)\s+"
        rf"dead-lettered \d+\s+recovered at start \d+",
        out,
    )
    assert "goal (0 lost, 0 unanswered, 0 duplicated): met" in out


def test_fuzz_wire_reports_every_framing():
    """fuzz_wire at a tiny size: one row per framing with the counts and RSS, and the verdict
    on tracebacks, stuck mail and unanswered units."""
    out = run("tools/fuzz_wire.py", "--frames", "120").stdout
    for framing in ("line", "stx", "length"):
        m = line(rf"{framing}\s+((?:{NUM}\s+){{8}}{NUM})$", out)
        sent, units, journaled, answers, unanswered, stuck, *_ = (
            num(x) for x in m.group(1).split()
        )
        assert sent > 100 and units >= 1 and journaled >= units and answers >= 1
        assert unanswered == 0 and stuck == 0
    assert line(r"tracebacks in the switch log: 0\s+switch exit status: 0$", out)
    assert "goal (0 tracebacks, 0 stuck, every unit answered): met" in out
