"""Nlets end to end: terminals over TCP through the switch to the mock Nlets, legacy and XML; and
``lems endpoint nlets --http`` answering Nlets XML over HTTP POST as its own process."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from support import demo_lab, running_switch, signed_on, wait

from formats import nlets_xml
from formats.grammar import parse

LEMS = str(Path(sys.executable).with_name("lems"))
STATES = ["TX", "NY", "FL", "OH", "GM"]


def fast(text: str) -> str:
    return re.sub(r"latency_ms = \d+", "latency_ms = 0\ntimeout_s = 2", text)


async def answers(client, n: int) -> list:
    return [await wait(client.next(5.0)) for _ in range(n)]


async def test_multi_state_dq_answered_by_every_state_with_the_control_field(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path, fast), reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        t1.send(f"DQ.OR0240000.{'.'.join(STATES)}.*CAR12RUN7.TXT\nOLN/NOSUCH1")
        outs = await answers(t1, len(STATES))
        assert sorted(o.ori for o in outs) == sorted(f"{s}OLN0000" for s in STATES)
        for out in outs:
            lines = out.body.split("\n")
            assert out.key == "DR" and lines[3:5] == ["*CAR12RUN7", "TXT"], out.body
            assert "NOT ON FILE" in out.body
        # an ER for a refused message carries the control field back too
        er = await wait(t1.request("DQ.OR0240000.TX.*CAR12RUN7.TXT\nOLN/X1.RSN/Q"))
        assert er.key == "ER" and er.body.split("\n")[3] == "*CAR12RUN7", er.body
        t1.close()


async def test_xml_dq_answered_in_xml_and_journaled(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path, fast), reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        xml = nlets_xml.encode_request(
            parse("DQ.OR0240000.TX.NY.*XML0001.TXT\nNAM/SMITH,JOHN.DOB/19500101.SEX/M")
        )
        t1.send(xml)
        outs = await answers(t1, 2)
        for out, state in zip(sorted(outs, key=lambda o: o.body), ("NY", "TX"), strict=True):
            body = out.body[out.body.index("<") :]
            key, originator, control, text = nlets_xml.answer_text(body)
            assert (key, originator, control) == ("DR", f"{state}OLN0000", "XML0001")
            assert "NOT ON FILE" in text
        # XML with an external entity: refused with an ER .03. in XML, nothing expanded
        t1.send(
            '<?xml version="1.0"?><!DOCTYPE n [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            '<n2:NLETS xmlns:n2="http://www.nlets.org/niem/1.0">&e;</n2:NLETS>'
        )
        (er,) = await answers(t1, 1)
        key, originator, _, text = nlets_xml.answer_text(er.body[er.body.index("<") :])
        assert (key, originator) == ("ER", "NL0000000") and text.startswith(".03. ")
        assert "root:" not in er.body
        t1.close()
    db = sqlite3.connect(tmp_path / "lab.db")
    rows = db.execute(
        "SELECT direction, disposition, text FROM journal WHERE terminal = 'T01' ORDER BY seq"
    ).fetchall()
    db.close()
    ins = [(d, t) for d, disp, t in rows if d == "in" and t.startswith("<")]
    assert [d for d, _ in ins] == ["in", "in"] and "XML0001" in ins[0][1]
    outs = [t for d, _, t in rows if d == "out" and "<n2:NLETS" in t]
    assert len(outs) == 3 and sum("NOT ON FILE" in t for t in outs) == 2


def test_lems_endpoint_nlets_serves_xml_over_http_post(tmp_path):
    demo_lab(tmp_path)
    proc = subprocess.Popen(
        [LEMS, "endpoint", "nlets", str(tmp_path), "--listen", "tcp:0", "--http", "tcp:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = 0
        while not port:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            m = re.search(r"HTTP LISTENING [\d.]+:(\d+)", line)
            port = int(m.group(1)) if m else 0
        url = f"http://127.0.0.1:{port}/nlets"
        xml = nlets_xml.encode_request(parse("RQ.OR0240000.MT.*HTTP1.TXT\nVIN/1FTFW1E50PFA00001"))
        req = urllib.request.Request(url, xml.encode(), {"content-type": "application/xml"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.headers["content-type"].startswith("application/xml")
            body = resp.read().decode()
        assert nlets_xml.answer_text(body)[:3] == ("RR", "MTVIN0000", "HTTP1")
        bad = urllib.request.Request(url, b"<n2:NLETS", {"content-type": "application/xml"})
        with urllib.request.urlopen(bad, timeout=10) as resp:
            key, _, _, text = nlets_xml.answer_text(resp.read().decode())
        assert key == "ER" and "NOT WELL-FORMED" in text
        try:
            urllib.request.urlopen(url, timeout=10).close()
            raise AssertionError("GET answered")
        except urllib.error.HTTPError as e:
            e.close()  # the error holds the response (and its socket) open
            assert e.code == 405
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_lems_endpoint_nlets_serves_xml_over_https(tmp_path):
    import ssl

    from hardware.tls import write_lab_pki

    demo_lab(tmp_path)
    pki = write_lab_pki(tmp_path / "pki", [])
    proc = subprocess.Popen(
        [
            LEMS,
            "endpoint",
            "nlets",
            str(tmp_path),
            "--listen",
            "tcp:0",
            "--http",
            f"ssl:0:privateKey={pki / 'server.pem'}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = 0
        while not port:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            m = re.search(r"HTTP LISTENING [\d.]+:(\d+)", line)
            port = int(m.group(1)) if m else 0
        xml = nlets_xml.encode_request(parse("KQ.OR0240000.AZ.*TLS1.TXT\nOLN/D11111111"))
        ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        req = urllib.request.Request(
            f"https://127.0.0.1:{port}/", xml.encode(), {"content-type": "application/xml"}
        )
        with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:
            body = resp.read().decode()
        assert nlets_xml.answer_text(body)[:3] == ("KR", "AZOLN0000", "TLS1")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


async def test_terminal_set_to_xml_gets_its_nlets_traffic_in_xml(tmp_path, reactor):
    def edit(text: str) -> str:
        return fast(text).replace(
            'description = "Cascade SO dispatch"',
            'description = "Cascade SO dispatch"\nnlets_format = "xml"',
            1,
        )

    async with running_switch(demo_lab(tmp_path, edit), reactor) as switch:
        t1 = await signed_on(switch, reactor, "T01")
        t4 = await signed_on(switch, reactor, "T04")
        dr = await wait(t1.request("DQ.OR0240000.TX.*LEG1.TXT\nOLN/NOSUCH1"))
        body = dr.body[dr.body.index("<") :]
        assert nlets_xml.answer_text(body)[:3] == ("DR", "TXOLN0000", "LEG1")
        # NCIC traffic stays as it is; another terminal still gets legacy Nlets text
        qw = await wait(t1.request("QW.OR0240000.NAM/NOBODY,NEVER.DOB/19000101"))
        assert "<" not in qw.body
        dr4 = await wait(t4.request("DQ.OR0260000.TX.TXT\nOLN/NOSUCH1"))
        assert dr4.key == "DR" and "<n2:NLETS" not in dr4.body
        t1.close()
        t4.close()
