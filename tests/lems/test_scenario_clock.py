"""The scenario clock: a configured start and zone, lab time persisted and never going backwards
across restarts and speed changes (real switch processes' worth of state: the lab database)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pytest
from support import demo_lab, running_switch, until, wait

from formats.errors import ConfigError
from lems.clock import show
from lems.lab import load_lab
from lems.store import when_committed


def scenario(speed: float):
    def edit(text: str) -> str:
        return text.replace('# start = "2026-03-14T08:00"', 'start = "2026-03-14T08:00"').replace(
            "clock_speed = 1.0", f"clock_speed = {speed}"
        )

    return edit


def journal_times(lab):
    conn = sqlite3.connect(lab.database)
    try:
        return [
            datetime.fromisoformat(t)
            for (t,) in conn.execute("SELECT time FROM journal ORDER BY seq")
        ]
    finally:
        conn.close()


async def test_lab_starts_at_the_scenario_and_never_goes_back(tmp_path, reactor):
    lab = demo_lab(tmp_path, scenario(3600.0))
    assert lab.timezone == "America/Los_Angeles" and lab.start == datetime(2026, 3, 14, 8, 0)
    async with running_switch(lab, reactor) as sw:
        first = sw.clock.now()
        assert first.utcoffset().total_seconds() == -7 * 3600  # PDT since 8 March 2026
        await wait(when_committed(sw.writer, []))
        started = journal_times(lab)[0]  # SWITCH STARTED, the turn the clock was set
        assert started.utcoffset().total_seconds() == 0  # stored in UTC, compared as text
        assert show(started, first.tzinfo).startswith("2026-03-14 08:00:")
        assert show(started, first.tzinfo).endswith(" PDT")
        # an hour of lab time per real second: run until two lab hours have gone by
        await until(lambda: (sw.clock.now() - first).total_seconds() >= 7200)
        await wait(when_committed(sw.writer, []))
    stopped = max(journal_times(lab))
    # restart at x1: the lab resumes where it stopped, not at the start or the wall clock
    lab = load_lab(tmp_path)
    lab.clock_speed = 1.0
    async with running_switch(lab, reactor) as sw:
        assert sw.clock.now() >= stopped
        assert (sw.clock.now() - stopped).total_seconds() < 60
        assert "PDT" in sw.clock.show() or "PST" in sw.clock.show()
    times = journal_times(lab)
    assert times == sorted(times)


def test_lab_time_shows_its_zone():
    assert show("2026-03-14T08:00:00-07:00") == "2026-03-14 08:00:00 -0700"
    from zoneinfo import ZoneInfo

    la = ZoneInfo("America/Los_Angeles")
    assert show(datetime(2026, 3, 14, 8, 0, tzinfo=la)) == "2026-03-14 08:00:00 PDT"
    assert show(datetime(2026, 1, 14, 8, 0, tzinfo=la)) == "2026-01-14 08:00:00 PST"


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ('timezone = "Mars/Olympus"', "unknown time zone"),
        ('start = "14/03/2026"', "not a date and time"),
        ('start = "2026-03-14T08:00-07:00"', "without an offset"),
    ],
)
def test_bad_scenario_settings_are_refused_with_the_key(tmp_path, line, why):
    def edit(text):
        return text.replace('timezone = "America/Los_Angeles"', line)

    with pytest.raises(ConfigError) as e:
        demo_lab(tmp_path, edit)
    assert why in str(e.value) and "lab." in str(e.value)
