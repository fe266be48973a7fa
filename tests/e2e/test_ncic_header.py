"""The NCIC computer-interface header over a real link: a terminal may put ``1N01<header>.`` in
front of a message (stripped, the message after it routed, the input journaled as received);
NCIC's answers and ``$.`` notices to a terminal with an ``ncic_header`` (lab-wide or its own)
come under a line ``1L01<header>`` with the NCIC body untouched beneath it; the switch's own
messages never carry it."""

from __future__ import annotations

import re

from support import demo_lab, running_switch, signed_on, wait
from test_endpoints import EW, drain_until, fast


def headers(text: str) -> str:
    """The demo lab with a lab-wide header ORLEDS and terminal T04 opting out."""
    text = fast(text).replace('ori = "ORLEDS000"', 'ori = "ORLEDS000"\nncic_header = "ORLEDS"', 1)
    return text.replace('id = "T04"', 'id = "T04"\nncic_header = ""', 1)


async def test_interface_header_in_and_out(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path, headers), reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        t4 = await signed_on(switch, reactor, "T04")
        # an entry with an input header: accepted, the acknowledgment under 1L01ORLEDS
        acc = await wait(t1.request(f"1N01T01CAD.{EW}"))
        assert acc.key == "ACC", acc.body
        lines = acc.body.split("\n")
        assert lines[0] == "1L01ORLEDS" and lines[1] == "ACC.OR0240000", acc.body
        nic = re.search(r"NIC/(W\d{9})", acc.body).group(1)
        row = switch.reader.execute(
            "SELECT text FROM journal WHERE direction = 'in' AND key = 'EW'"
        ).fetchone()
        assert row[0].startswith("1N01T01CAD.EW.OR0240000."), row  # journaled as received
        # T04 opted out: no header on its hit, whether or not it sent one
        for text in (
            "QW.OR0260000.NAM/ZYMANSKI,ORLA.DOB/19870412",
            "1N01.QW.OR0260000.NAM/ZYMANSKI,ORLA.DOB/19870412",
        ):
            hit = await wait(t4.request(text))
            assert hit.key == "HIT" and hit.body.startswith("HIT.OR0260000\n"), hit.body
            assert f"NIC/{nic}" in hit.body
        # the owner's $.L. notice is NCIC's: under the header
        acc = await wait(t4.request(f"LW.OR0260000.NAM/ZYMANSKI,ORLA K.NIC/{nic}.DOL/20261123"))
        assert acc.key == "ACC" and not acc.body.startswith("1L01")
        ntf = await drain_until(t1, "NTF")
        assert ntf.body.startswith("1L01ORLEDS\nNTF.OR0240000\n$.L.\n"), ntf.body
        # an NCIC no-record answer to a message without a header still gets it (lab setting)
        nrc = await wait(t1.request("QW.OR0240000.NAM/NOBODY,NEVER.DOB/19010101"))
        assert nrc.key == "NRC" and nrc.body.startswith("1L01ORLEDS\nNRC.OR0240000\n")
        # the switch's own reject is not NCIC's: no header
        rej = await wait(t1.request("1N01T01CAD.QW.OR0240000.NAM/NOBODY,NEVER"))
        assert rej.key == "REJ" and rej.body.startswith("REJ.OR0240000\n"), rej.body
        assert "ORIGINAL MESSAGE\n1N01T01CAD.QW" in rej.body  # echoed as sent
        t1.close()
        t4.close()


async def test_broken_input_header_is_refused_by_name(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path, headers), reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        for text, why in (
            ("1N01NO PERIOD AT ALL", "MUST END WITH A PERIOD"),
            ("1N01SPLIT\nHEADER.QW.OR0240000.NAM/A,B.DOB/19800101", "MUST END WITH A PERIOD"),
            ("1N01" + "H" * 41 + ".QW.OR0240000.NAM/A,B.DOB/19800101", "LONGER THAN 40"),
        ):
            rej = await wait(t1.request(text))
            assert rej.key == "REJ", rej.body
            assert "REJECT CODE/BAD-HEADER FLD/HDR" in rej.body and why in rej.body, rej.body
        # the link is still good
        nrc = await wait(t1.request("1N01X.QW.OR0240000.NAM/NOBODY,NEVER.DOB/19010101"))
        assert nrc.key == "NRC"
        t1.close()
