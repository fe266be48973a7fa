"""A class: a roster of trainees doing one exercise at once on their own terminals (scripted
here, one good and one bad), and the class report (CSV and HTML, parsed)."""

from __future__ import annotations

import asyncio
import csv
import io
from html.parser import HTMLParser

import pytest
from support import demo_lab, running_switch, wait
from test_exercises import TRAINEES

from formats.errors import ConfigError
from lems.cli import main
from lems.store import when_committed
from lems.training.classroom import read_roster, run_class
from lems.training.exercise import load_exercise
from terminals.script import load_script


class Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


async def test_a_class_of_two_and_its_report(tmp_path, reactor):
    lab = demo_lab(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text("trainee,terminal\nAvery Hollis,T01\nSam Calloway,T03\n")
    seats = read_roster(roster, lab)
    exercise = load_exercise("wanted-entry-packed")
    scripts = {
        "T01": load_script(TRAINEES / "wanted-entry-packed.good"),
        "T03": load_script(TRAINEES / "wanted-entry-packed.bad"),
    }
    async with running_switch(lab, reactor) as sw:

        async def settle():
            await wait(when_committed(sw.writer, []))

        grades = await asyncio.wait_for(
            run_class(
                reactor,
                sw.endpoint,
                lab,
                exercise,
                seats,
                "morning",
                scripts=scripts,
                settle=settle,
            ),
            60,
        )
    by = {g.trainee: g for g in grades}
    assert by["Avery Hollis"].passed and not by["Sam Calloway"].passed
    assert by["Avery Hollis"].terminal == "T01" and by["Sam Calloway"].terminal == "T03"
    out = tmp_path / "class.csv"
    page = tmp_path / "class.html"
    assert (
        main(
            [
                "class",
                "report",
                "--lab",
                str(tmp_path),
                "--id",
                "morning",
                "--csv",
                str(out),
                "--html",
                str(page),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["trainee"] for r in rows] == ["Avery Hollis", "Sam Calloway"]
    avery, sam = rows
    assert avery["result"] == "PASS" and avery["attempts"] == "1" and avery["rejects"] == "0"
    assert sam["result"] == "FAIL"
    times = dict(t.split(":") for t in avery["time to each task (lab s)"].split())
    assert set(times) == {"entered", "packed", "clean"} and float(times["entered"]) >= 0
    cells = Cells()
    cells.feed(page.read_text())
    assert cells.rows[0][:3] == ["trainee", "terminal", "exercise"]
    assert [r[0] for r in cells.rows[1:]] == ["Avery Hollis", "Sam Calloway"]
    assert cells.rows[1][4] == "PASS" and cells.rows[2][4] == "FAIL"


def test_bad_rosters_are_refused_with_the_row(tmp_path):
    lab = demo_lab(tmp_path)
    for text, why in [
        ("trainee,terminal\nA,T99\n", "terminal T99 is not in"),
        ("trainee,terminal\nA,T01\nB,T01\n", "given to two trainees"),
        ("trainee,terminal\n,T01\n", "trainee is empty"),
        ("trainee,terminal\n", "no trainees"),
    ]:
        p = tmp_path / "r.csv"
        p.write_text(text)
        with pytest.raises(ConfigError, match=why):
            read_roster(p, lab)
