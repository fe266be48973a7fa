"""Serial links over pseudo-terminals: STX/ETX with ACK/NAK, retransmission after noise and
dropped bytes, a cable pulled and plugged back, the line-speed throttle, a terminal program in
another process."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest
from support import Recorder, demo_lab, until, wait

from hardware import endpoints
from hardware.nullmodem import NullModem
from hardware.registry import EndpointError
from hardware.serial_link import parse_serial


def test_line_settings_come_from_the_endpoint_string():
    s = parse_serial("serial:/dev/ttyUSB0:baudrate=9600:bytesize=7:parity=E:stopbits=1:xonxoff=1")
    assert (s.device, s.baudrate, s.bytesize, s.parity, s.stopbits, s.xonxoff) == (
        "/dev/ttyUSB0",
        9600,
        7,
        "E",
        1,
        True,
    )
    assert s.chars_per_second == 960
    for bad in (
        "serial:",
        "serial:/dev/x:bytesize=9",
        "serial:/dev/x:parity=Q",
        "serial:/dev/x:speed=9600",
        "serial:/dev/x:baudrate=fast",
    ):
        with pytest.raises(EndpointError):
            parse_serial(bad)


async def test_arq_needs_stx_framing(reactor, tmp_path):
    with pytest.raises(EndpointError, match="framing=stx"):
        endpoints.connect(reactor, f"serial:{tmp_path}/x:arq=1", Recorder())


async def test_missing_device_is_refused_on_connect(reactor, tmp_path):
    from twisted.internet.error import ConnectionRefusedError

    with pytest.raises(ConnectionRefusedError):
        await wait(endpoints.connect(reactor, f"serial:{tmp_path}/nothing:framing=stx", Recorder()))


SEED = 11
"""A block check (XOR) misses some damage (two equal bytes dropped from one frame, inserted noise
that XORs to zero); the seed and rates are chosen so this run meets none of it, as a run against
a real noisy line would mostly not."""


async def test_frames_get_through_noise_and_dropped_bytes(reactor, tmp_path):
    modem = NullModem(reactor, tmp_path, noise=0.006, drop=0.002, seed=SEED).plug()
    server = Recorder(echo=True)
    port = await wait(
        endpoints.listen(
            reactor,
            f"serial:{modem.a}:ack_timeout=0.15:retries=20:reopen=0.05:framing=stx",
            lambda: server,
        )
    )
    client = Recorder()
    try:
        link = await wait(
            endpoints.connect(
                reactor, f"serial:{modem.b}:ack_timeout=0.15:retries=20:framing=stx", client
            )
        )
        sent = [f"QW.OR0240000.NAM/DOE,JOHN{i}.DOB/19800101".encode() for i in range(40)]
        for payload in sent:
            link.send(payload)
        await until(lambda: {p.upper() for p in sent} <= set(client.frames), 30)
        assert set(server.frames) >= set(sent)
        assert modem.inserted > 0 and modem.dropped > 0
        stats = link.stats
        theirs = port.link.stats
        assert stats["retransmitted"] + theirs["retransmitted"] > 0
        assert stats["naks_sent"] + theirs["naks_sent"] > 0
        assert stats["given_up"] == theirs["given_up"] == 0
        assert not client.bad and not server.bad  # broken frames are retried, not reported
        link.close()
    finally:
        await wait(port.stopListening())
        modem.close()


async def test_cable_pulled_and_plugged_back(reactor, tmp_path):
    modem = NullModem(reactor, tmp_path).plug()
    handlers: list[Recorder] = []

    def factory():
        handlers.append(Recorder(echo=True))
        return handlers[-1]

    port = await wait(
        endpoints.listen(reactor, f"serial:{modem.a}:reopen=0.05:framing=stx", factory)
    )
    try:
        client = Recorder()
        link = await wait(endpoints.connect(reactor, f"serial:{modem.b}:framing=stx", client))
        link.send(b"BEFORE")
        await until(lambda: client.frames == [b"BEFORE"])
        modem.pull()
        await until(lambda: handlers[0].lost and client.lost)
        assert port.link is None
        modem.plug()
        await until(lambda: port.opened == 2)
        assert len(handlers) == 2  # a new link, a new session
        client2 = Recorder()
        link2 = await wait(endpoints.connect(reactor, f"serial:{modem.b}:framing=stx", client2))
        link2.send(b"after")
        await until(lambda: client2.frames == [b"AFTER"])
        link2.close()
    finally:
        await wait(port.stopListening())
        modem.close()


async def test_throttle_paces_output_at_line_speed(reactor, tmp_path):
    modem = NullModem(reactor, tmp_path).plug()
    server = Recorder()
    port = await wait(endpoints.listen(reactor, f"serial:{modem.a}:framing=stx", lambda: server))
    try:
        results = {}
        for throttle in ("0", "1"):
            client = Recorder()
            link = await wait(
                endpoints.connect(
                    reactor,
                    f"serial:{modem.b}:baudrate=1200:throttle={throttle}:framing=stx",
                    client,
                )
            )
            server.frames.clear()
            start = time.monotonic()
            link.send(b"X" * 57)  # 60 bytes on the line at 120 characters a second
            await until(lambda: server.frames == [b"X" * 57])
            results[throttle] = time.monotonic() - start
            link.close()
            await until(lambda c=client: c.lost)
        assert results["1"] >= 0.4, results
        assert results["0"] < 0.2, results
    finally:
        await wait(port.stopListening())
        modem.close()


async def test_a_terminal_program_in_another_process_signs_on_over_serial(reactor, tmp_path):
    from lems.switch import Switch

    lab = demo_lab(tmp_path / "lab")
    modem = NullModem(reactor, tmp_path / "tty").plug()
    switch = Switch(lab, reactor)
    switch.start()
    try:
        await wait(switch.listen(f"serial:{modem.a}:baudrate=9600:reopen=0.05:framing=stx"))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lems.cli",
            "send",
            str(tmp_path / "lab"),
            "--terminal",
            "T01",
            "--to",
            f"serial:{modem.b}:framing=stx",
            "--wait",
            "1",
            "AM.OR0240000.OR0240000.TXT\\nTEST OVER THE WIRE",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        text = out.decode()
        assert proc.returncode == 0, err.decode()
        assert "SIGN-ON ACCEPTED TERMINAL/T01" in text
        assert "TEST OVER THE WIRE" in text
    finally:
        await wait(switch.stop())
        modem.close()


def test_terminal_loss_is_a_modem_line_seen_high_that_drops():
    from hardware.serial_link import lines_dropped

    assert lines_dropped(set(), {"DSR": False, "DCD": False}) == []  # never wired: no loss
    assert lines_dropped({"DSR"}, {"DSR": True, "DCD": False}) == []
    assert lines_dropped({"DSR", "DCD"}, {"DSR": False, "DCD": True}) == ["DSR"]
    assert lines_dropped({"DSR", "DCD"}, {"DSR": False, "DCD": False}) == ["DCD", "DSR"]


async def test_a_pty_has_no_modem_lines_and_the_idle_timer_notices_the_terminal(reactor, tmp_path):
    modem = NullModem(reactor, tmp_path).plug()
    server = Recorder()
    port = await wait(
        endpoints.listen(reactor, f"serial:{modem.a}:idle=0.3:reopen=0.05", lambda: server)
    )
    try:
        assert port.link.line_watch.startswith("no modem lines")
        await until(lambda: server.lost, 10)  # nothing heard for idle= seconds: link closed
        assert "idle" in server.lost[0]
    finally:
        await wait(port.stopListening())
        modem.close()


def test_a_pyserial_url_is_a_device():
    assert parse_serial("serial:nullmodem://t1/a:baudrate=1200").device == "nullmodem://t1/a"
    assert (
        parse_serial("serial:rfc2217://localhost:7000:baudrate=1200").device
        == "rfc2217://localhost:7000"
    )
    assert parse_serial("serial:/dev/ttyS0:baudrate=1200").device == "/dev/ttyS0"


async def test_a_url_port_without_a_file_descriptor_is_refused(reactor):
    """loop:// has no file descriptor for the reactor: the listen entry fails, naming why."""
    with pytest.raises(Exception, match="no file descriptor"):
        await wait(endpoints.listen(reactor, "serial:loop://", Recorder))


async def test_the_terminal_dropping_dtr_ends_its_session_and_keeps_its_mail(reactor, tmp_path):
    """A terminal on a null-modem cable with modem lines (nullmodem://, driven by a real
    pyserial Serial object as a vendor's program would) signs on, gets an answer it does not
    acknowledge, then drops DTR: the switch sees DSR and DCD fall, ends the session, keeps the
    answer in the mailbox, reopens the line, and the terminal's next sign-on finds it there."""
    import serial

    from hardware import serial_link  # registers nullmodem:// with pyserial
    from lems.switch import Switch

    assert serial_link
    lab = demo_lab(tmp_path / "lab")
    switch = Switch(lab, reactor)
    switch.start()
    term = None
    got = bytearray()

    def heard(text: bytes) -> bool:
        got.extend(term.read(term.in_waiting or 1))
        return text in got

    try:
        port = await wait(switch.listen("serial:nullmodem://dtr-test/a:reopen=0.05"))
        assert port.link.line_watch == "DSR/DCD"
        term = serial.serial_for_url("nullmodem://dtr-test/b", timeout=0)
        term.write(b"LOGON.T01.OP01.train-01\r")  # CR only, as a teletype ends a line
        await until(lambda: heard(b"SIGN-ON ACCEPTED TERMINAL/T01"), 10)
        assert b"\r\n" in got  # CRLF on serial by default
        term.write(b"QW.OR0240000.NAM/DOE,JOHN.DOB/19800101\r")
        await until(lambda: heard(b"NO NCIC WANT"), 10)
        assert switch.mailboxes.count("T01") == 1  # answered, not acknowledged
        first = port.link
        term.dtr = False  # the terminal leaves: powered off, cable pulled at its end
        await until(lambda: not any(s.terminal == "T01" for s in switch.sessions), 10)
        assert "DSR" in first.lost_reason and "DCD" in first.lost_reason, first.lost_reason
        assert switch.mailboxes.count("T01") == 1  # the answer waits for the next sign-on
        await until(lambda: port.link is not None and port.link is not first, 10)
        got.clear()
        term.dtr = True
        term.write(b"LOGON.T01.OP01.train-01\r")
        await until(lambda: heard(b"MESSAGES WAITING") and heard(b"NO NCIC WANT"), 10)
        assert b"MAILBOX/1 MESSAGES WAITING" in got, bytes(got)
    finally:
        if term is not None:
            term.close()
        await wait(switch.stop())
