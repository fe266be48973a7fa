"""Recording files (plain and gzip, a killed writer), the pacer, remapping, and the replayer
against a small echo peer on loopback."""

from __future__ import annotations

import gzip
import shutil
import time

import pytest
from support import wait
from twisted.internet import defer

from formats.recording import Header, Record, RecordingError
from hardware import endpoints
from terminals import replay
from terminals.recording_io import RecordingWriter, read, read_all
from terminals.replay import Credentials, Pacer, Replayer, ReplayError, ReplayOptions, TokenMap

T0 = 1_795_000_000.0


def rec(seq: int, text: str, direction: str = "in", t: float = 0.0, **kw) -> Record:
    from datetime import UTC, datetime

    stamp = datetime.fromtimestamp(T0 + t, UTC).isoformat(timespec="microseconds")
    return Record(seq=seq, time=stamp, direction=direction, text=text, **kw)


SAMPLE = [
    rec(1, "QW.OR0240000.NAM/DOE,JOHN\x00\xff", link="L1"),
    rec(2, "OSN/0000000 TRM/NONE DTE/1 TIM/1\nREJ.OR0240000", "out", 0.5, link="L1", ref=1),
]


@pytest.mark.parametrize("name", ["r.jsonl", "r.jsonl.gz"])
def test_write_read_every_format(tmp_path, name):
    path = tmp_path / name
    with RecordingWriter(path, Header(source="test")) as w:
        for r in SAMPLE:
            w.write(r)
    header, got = read_all(path)
    assert header.source == "test" and got == SAMPLE
    if name.endswith(".gz"):
        assert gzip.decompress(path.read_bytes()).count(b"\n") == 3


@pytest.mark.parametrize("name", ["r.jsonl", "r.jsonl.gz"])
def test_unclosed_writer_loses_nothing_written(tmp_path, name):
    """What a SIGKILL leaves: every record flushed, no gzip trailer, maybe half a record."""
    path = tmp_path / name
    w = RecordingWriter(path)
    for r in SAMPLE:
        w.write(r)
    snapshot = tmp_path / ("copy-" + name)
    shutil.copy(path, snapshot)  # the file as it is while the writer still runs
    assert read_all(snapshot)[1] == SAMPLE
    w.close()
    # half a record at the end (killed mid-write, plain text): skipped, the rest read
    if not name.endswith(".gz"):
        with open(snapshot, "ab") as f:
            f.write(b'{"seq": 3, "time"')
        assert read_all(snapshot)[1] == SAMPLE


def test_bad_file_is_refused(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text("hello\n")
    with pytest.raises(RecordingError, match="not a lems-recording"):
        read(p)
    p.write_text("")
    with pytest.raises(RecordingError, match="empty"):
        read(p)
    with RecordingWriter(p) as w:
        w.write(SAMPLE[0])
    with open(p, "a") as f:
        f.write("garbage\n" + '{"seq": 1, "time": "t", "direction": "in", "text": ""}\n')
    with pytest.raises(RecordingError, match="line 3"):
        read_all(p)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pacer_keeps_recorded_timing_scaled_and_skips_gaps():
    clock = FakeClock()
    p = Pacer(speed=2.0, skip=5.0, clock=clock)
    assert p.delay(T0) == 0.0
    assert p.delay(T0 + 1.0) == pytest.approx(0.5)
    clock.now += 0.5
    # a 100 s gap shrinks to 5 s (2.5 s at speed 2)…
    assert p.delay(T0 + 101.0) == pytest.approx(2.5)
    clock.now += 2.5
    # …and everything after it moves up with it (not late by 95 s)
    assert p.delay(T0 + 102.0) == pytest.approx(0.5)
    # a sender that fell behind does not wait
    clock.now += 10
    assert p.delay(T0 + 103.0) == 0.0
    assert Pacer(speed=0).delay(T0 + 1e6) == 0.0
    with pytest.raises(ValueError):
        Pacer(speed=-1)


def test_token_map_replaces_whole_tokens():
    m = TokenMap({"T01": "T21", "OR0240000": "OR0249999"})
    assert m.text("LOGON.T01.OP01.x") == "LOGON.T21.OP01.x"
    assert m.text("QW.OR0240000.NAM/T011") == "QW.OR0249999.NAM/T011"
    assert m.token("T01") == "T21" and TokenMap().text("T01") == "T01"


def test_credentials_name_what_is_missing():
    with pytest.raises(ReplayError, match="--password T05="):
        Credentials().password("T05", "OP05")
    assert Credentials({"OP05": "pw"}).password("T05", "OP05") == "pw"


class Echo:
    """Answers each frame with an envelope and the frame echoed (session answer, OSN 0)."""

    frames: list[tuple[float, bytes]] = []

    def link_made(self, link):
        self.link = link

    def frame_received(self, payload):
        Echo.frames.append((time.monotonic(), payload))
        self.link.send(b"OSN/0000000 TRM/NONE DTE/20261123 TIM/000000\nECHO.X\n" + payload)

    def bad_frame(self, reason, raw):
        pass

    def control_received(self, code):
        pass

    def link_lost(self, reason):
        pass


@pytest.fixture
async def echo(reactor):
    Echo.frames = []
    port = await wait(endpoints.listen(reactor, "tcp:0:interface=127.0.0.1", Echo))
    yield f"tcp:host=127.0.0.1:port={port.getHost().port}"
    await wait(defer.maybeDeferred(port.stopListening))


def echo_recording(n: int, step: float = 0.0) -> list[Record]:
    out = []
    for i in range(n):
        text = f"QW.OR0240000.NAM/DOE,JOHN.MIS/{i}"
        out.append(rec(2 * i + 1, text, t=i * step, link="L1"))
        out.append(
            rec(
                2 * i + 2,
                f"OSN/0000000 TRM/NONE DTE/20261123 TIM/000000\nECHO.X\n{text}",
                "out",
                i * step,
                link="L1",
                ref=2 * i + 1,
            )
        )
    return out


async def test_replay_as_fast_as_possible_matches_everything(reactor, echo):
    records = echo_recording(2000)
    r = Replayer(
        reactor,
        echo,
        lambda: iter(records),
        options=ReplayOptions(speed=0, window=100, wait=1.0, grace=0.05),
    )
    report = await wait(defer.ensureDeferred(r.run()), 30)
    assert report.ok and report.matched == 2000 and r.sent == 2000
    # the replay reads its answers in bigger shares than a switch reads a terminal
    assert [link.link.frames_per_turn for link in r.links.values()] == [replay.FRAMES_PER_TURN]
    assert [p for _, p in Echo.frames[:2]] == [
        b"QW.OR0240000.NAM/DOE,JOHN.MIS/0",
        b"QW.OR0240000.NAM/DOE,JOHN.MIS/1",
    ]


async def test_replay_keeps_recorded_timing_and_loops(reactor, echo):
    records = echo_recording(4, step=0.1)
    r = Replayer(
        reactor,
        echo,
        lambda: iter(records),
        options=ReplayOptions(speed=1.0, loops=2, wait=1.0, grace=0.05),
    )
    report = await wait(defer.ensureDeferred(r.run()), 30)
    assert report.ok and report.matched == 8 and r.passes == 2
    times = [t for t, _ in Echo.frames]
    assert times[3] - times[0] == pytest.approx(0.3, abs=0.08)
    assert times[7] - times[4] == pytest.approx(0.3, abs=0.08)
    # 10 s gaps skipped to 0.15 s, at speed 3: 0.05 s each, 0.15 s for the three
    Echo.frames = []
    records = echo_recording(4, step=10.0)
    r = Replayer(
        reactor,
        echo,
        lambda: iter(records),
        options=ReplayOptions(speed=3.0, skip=0.15, wait=1.0, grace=0.05),
    )
    assert (await wait(defer.ensureDeferred(r.run()), 30)).ok
    times = [t for t, _ in Echo.frames]
    assert times[3] - times[0] == pytest.approx(0.15, abs=0.08)


async def test_unreachable_switch_is_a_replay_error(reactor):
    r = Replayer(reactor, "tcp:host=127.0.0.1:port=1", lambda: iter(echo_recording(1)))
    with pytest.raises(ReplayError, match="cannot reach"):
        await wait(defer.ensureDeferred(r.run()), 10)
