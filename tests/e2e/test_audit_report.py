"""The auditor's report end to end: attributions in the journal, administrative actions from the
real CLI while the switch runs, NCIC's rejects counted, bad periods refused, and the printable
per-agency HTML report checked by parsing it."""

from __future__ import annotations

from html.parser import HTMLParser

from support import until, wait
from test_fics_outcomes import fast
from test_state_services import enter_record, journal, lab_switch, settle

from formats.nic import make_nic
from lems.cli import main
from terminals.client import TerminalClient


class Tables(HTMLParser):
    """Every <table class=…> of a page as {class: [[cell, …], …]} (header row first)."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[dict[str, list[list[str]]]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.current: list[list[str]] | None = None
        self.cell: list[str] | None = None
        self.css = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.tables = {"id": [[a.get("id", "")]]}
            self.sections.append(self.tables)
        elif tag == "table":
            self.current = self.tables.setdefault(a.get("class", ""), [])
        elif tag == "tr" and self.current is not None:
            self.current.append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.current is not None:
            self.current[-1].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "table":
            self.current = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)
        elif self.lasttag == "style":
            self.css += data


async def test_audit_attributes_counts_and_prints_per_agency(tmp_path, reactor):
    async with lab_switch(tmp_path, reactor, edit=fast) as sw:
        t01 = await sw.term("T01")
        # a spoof attempt: filed under the terminal's own ORI, naming the claimed one
        out = await wait(t01.request("QW.OR0260000.NAM/DOE,JOHN.DOB/19800101"))
        assert out.key == "REJ" and "SPOOF" in out.body
        # a CCH dissemination with purpose and attention line
        await enter_record(sw, await sw.term("T07"))
        out = await wait(
            t01.request("QCH.OR0240000.NAM/DOE,JOHN.DOB/19800101.PUR/C.ATN/DET HALVERSEN")
        )
        assert out.key == "HIT"
        # NCIC's own reject of an accepted message (locate of a record that is not there)
        nic = make_nic("W", 987654)
        out = await wait(t01.request(f"LW.OR0240000.NAM/DOE,JOHN.NIC/{nic}.DOL/20261123"))
        assert out.key == "REJ", out.body
        # a failed sign-on names terminal and operator; an ACK before sign-on names no ORI
        c = TerminalClient(reactor)
        await wait(c.connect(sw.endpoint))
        out = await wait(c.logon("T02", "OP02", "wrong-password"))
        assert out.key == "REJ"
        c.send("ACK.1")
        await wait(c.next())
        c.close()
        # administrative actions from the real CLI while the switch runs
        d = str(tmp_path)
        assert main(["agency", "suspend", d, "OR0260000", "--reason", "AUDIT FINDING"]) == 0
        assert main(["agency", "reinstate", d, "OR0260000"]) == 0
        assert main(["operator", "unlock", d, "OP02"]) == 0
        assert main(["endpoint", "down", "nlets", d]) == 0
        assert main(["endpoint", "up", "nlets", d]) == 0
        await until(lambda: len(journal(sw, "key = 'ADMIN'")) == 5)
        await settle(sw)
        rows = journal(sw, "direction = 'in'")
        spoof = [r for r in rows if (r[5] or "").startswith("SPOOF")]
        assert spoof and spoof[0][1:3] == ("T01", "OR0240000")
        assert "CLAIMED ORI/OR0260000" in spoof[0][5]
        logon = [r for r in rows if r[3] == "LOGON" and r[4] == "refused"]
        assert logon and logon[0][1] == "T02" and "PASSWORD NOT VALID" in logon[0][5]
        assert not [r for r in rows if r[2] == "1"]  # no bogus ORI "1" from ACK.1
        admin = [r[4] for r in journal(sw, "key = 'ADMIN'")]
        assert admin == [
            "admin-suspend",
            "admin-reinstate",
            "admin-unlock",
            "admin-endpoint-down",
            "admin-endpoint-up",
        ]

    # the operator row of the failed sign-on names OP02
    assert any(r[1] == "T02" for r in journal(sw, "key = 'LOGON' AND disposition = 'refused'"))
    html = tmp_path / "audit.html"
    assert (
        main(
            [
                "audit",
                str(tmp_path),
                "--ori",
                "OR0240000",
                "--html",
                str(html),
                "--from",
                "2026-11-01",
            ]
        )
        == 0
    )
    page = Tables()
    page.feed(html.read_text())
    assert "@page" in page.css and "page-break-inside: avoid" in page.css
    [agency] = page.sections
    assert agency["id"] == [["ori-OR0240000"]]
    summary = dict((r[0], r[1]) for r in agency["summary"][1:])
    assert "SPOOF:1" in summary["Refused by the switch"]
    assert "LW:NOT-FOUND" in summary["Rejected by the systems (NCIC, Nlets, state files)"]
    dis = agency["disseminations"]
    assert dis[0][:5] == ["Time", "SID", "Subject", "Purpose", "Attention"]
    assert dis[1][2] == "DOE,JOHN" and dis[1][3] == "C" and dis[1][4] == "DET HALVERSEN"
    assert dis[1][0] == "2026-11-23 00:00:00 PST"  # 08:00 UTC, shown in the lab's zone
    actions = [r[1] for r in agency["admin"][1:]]
    assert actions == ["unlock", "endpoint-down", "endpoint-up"]  # OP02 is T02's operator
    signons = agency["signons"][1:]
    assert signons[0][1:3] == ["T02", "OP02"]
    misuse = agency["misuse"][1:]
    assert misuse[0][4] == "SPOOF" and "CLAIMED ORI/OR0260000" in misuse[0][5]


def test_audit_refuses_a_bad_period(tmp_path, capsys):
    from support import demo_lab

    demo_lab(tmp_path)
    assert main(["audit", str(tmp_path), "--from", "yesterday"]) == 1
    assert "--from 'yesterday' refused" in capsys.readouterr().err
    assert main(["audit", str(tmp_path), "--to", "2026-13-01"]) == 1
    assert "--to" in capsys.readouterr().err
    assert main(["audit", str(tmp_path), "--from", "2026-03-14", "--to", "2026-03-13"]) == 1
    assert main(["audit", str(tmp_path), "--ori", "OR9999999"]) == 1
    assert main(["audit", str(tmp_path), "--from", "2026-03-14", "--to", "2026-03-14"]) == 0
