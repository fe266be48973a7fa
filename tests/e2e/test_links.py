"""The same conversation over every link kind: sign-on, inquiry and response, an administrative
message between terminals, and mail kept for a terminal that was off line.

Each kind runs against a real peer on this machine: TCP on loopback, the in-process loopback,
TLS with client certificates, a serial line over pseudo-terminals (with the STX/ETX ARQ), and
MQTT through a real broker (``tests/hardware/brokers.py``)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import pytest_asyncio
from support import demo_lab, wait

from formats.message import Message
from lems.router import Reply, Request
from terminals.client import Output, TerminalClient

KINDS = ["tcp", "loop", "serial", "tls", "mqtt"]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def mqtt_broker(reactor):
    from mqtt_broker import any_broker

    async with any_broker() as broker:
        yield broker


class FakeNcic:
    """Answers every inquiry with a HIT naming what was asked (the real NCIC mock is elsewhere)."""

    name = "ncic"

    def handle(self, req: Request) -> list[Reply]:
        msg: Message = req.msg
        return [Reply(f"HIT.{msg.ori}\nNAM/{msg.get('NAM')}\nDOB/{msg.get('DOB')}", key="HIT")]


class Rig:
    """How one link kind is listened on and reached; ``offline``/``online`` model a terminal
    that goes away (a closed connection by default)."""

    def __init__(self, kind: str, tmp_path: Any, reactor: Any, broker: Any) -> None:
        self.kind = kind
        self.tmp = tmp_path
        self.reactor = reactor
        self.broker = broker
        self.listen_on = ""
        self.clients: dict[str, str] = {}
        self.modems: dict[str, Any] = {}

    async def start(self, switch: Any) -> None:
        kind = self.kind
        if kind == "tcp":
            port = await wait(switch.listen("tcp:0:interface=127.0.0.1"))
            to = f"tcp:host=127.0.0.1:port={port.getHost().port}"
            self.clients = {"T01": to, "T04": to}
        elif kind == "loop":
            name = f"e2e-{uuid.uuid4().hex[:8]}"
            await wait(switch.listen(f"loop:{name}"))
            self.clients = {"T01": f"loop:{name}", "T04": f"loop:{name}"}
        elif kind == "serial":
            from hardware.nullmodem import NullModem

            for t in ("T01", "T04"):
                modem = NullModem(self.reactor, self.tmp / f"tty-{t}").plug()
                self.modems[t] = modem
                await wait(
                    switch.listen(
                        f"serial:{modem.a}:baudrate=9600:bytesize=7:parity=E:"
                        "stopbits=1:ack_timeout=0.3:reopen=0.05:framing=stx"
                    )
                )
                self.clients[t] = f"serial:{modem.b}:ack_timeout=0.3:framing=stx"
        elif kind == "tls":
            from hardware.tls import write_lab_pki

            pki = write_lab_pki(self.tmp / "pki", ["T01", "T04"])
            port = await wait(
                switch.listen(
                    f"tls:0:interface=127.0.0.1:certKey={pki / 'server.pem'}:"
                    f"caCerts={pki / 'ca.pem'}"
                )
            )
            n = port.getHost().port
            self.clients = {
                t: f"tls:host=127.0.0.1:port={n}:certKey={pki / (t + '.pem')}:"
                f"caCerts={pki / 'ca.pem'}"
                for t in ("T01", "T04")
            }
        elif kind == "mqtt":
            broker = self.broker
            prefix = f"lems-e2e-{uuid.uuid4().hex[:8]}"
            url = f"mqtt://{broker.host}:{broker.port}/{prefix}"
            await wait(switch.listen(url))
            self.clients = {t: f"{url}:client={t}" for t in ("T01", "T04")}

    def offline(self, terminal: str, client: TerminalClient) -> None:
        if self.kind == "serial":
            self.modems[terminal].pull()
        client.close()

    def online(self, terminal: str) -> None:
        if self.kind == "serial":
            self.modems[terminal].plug()

    def stop(self) -> None:
        for modem in self.modems.values():
            modem.close()


async def until(client: TerminalClient, key: str, timeout: float = 8.0) -> tuple[Output, list]:
    """The next output with ``key``, and every output seen before it."""
    seen = []
    while True:
        out = await wait(client.next(timeout), timeout + 1)
        if out.key == key:
            return out, seen
        seen.append(out)


async def sign_on(rig: Rig, terminal: str, operator: str, password: str) -> TerminalClient:
    client = TerminalClient(rig.reactor)
    await wait(client.connect(rig.clients[terminal]))
    client.send(f"LOGON.{terminal}.{operator}.{password}")
    son, _ = await until(client, "SON")
    assert f"TERMINAL/{terminal}" in son.body
    return client


async def gone(switch: Any, terminal: str) -> None:
    """Wait until the switch has seen the terminal's link go."""
    for _ in range(200):
        if terminal not in switch.online:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"switch still thinks {terminal} is on line")


@pytest.mark.parametrize("kind", KINDS)
async def test_conversation_over_each_link_kind(kind, tmp_path, reactor, mqtt_broker):
    from lems.switch import Switch

    lab = demo_lab(tmp_path)
    switch = Switch(lab, reactor)
    switch.start()
    switch.router.register(FakeNcic())
    rig = Rig(kind, tmp_path, reactor, mqtt_broker)
    try:
        await rig.start(switch)
        t1 = await sign_on(rig, "T01", "OP01", lab.operators["OP01"].password)
        op4 = next(o for o in lab.operators.values() if "T04" in o.terminals and o.cleared)
        t4 = await sign_on(rig, "T04", op4.id, op4.password)

        # inquiry and response
        t1.send("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101")
        hit, _ = await until(t1, "HIT")
        assert hit.ori == "OR0240000" and "NAM/DOE,JOHN" in hit.body and hit.osn > 0

        # administrative message, terminal to terminal
        t1.send("AM.OR0240000.OR0260000.TXT\nMEET AT THE COUNTY LINE")
        am, _ = await until(t4, "AM")
        assert am.ori == "OR0240000" and am.lines[-1] == "MEET AT THE COUNTY LINE"

        # T04 goes away; mail for it waits in its mailbox and arrives at the next sign-on
        rig.offline("T04", t4)
        await gone(switch, "T04")
        t1.send("AM.OR0240000.OR0260000.TXT\nWHILE YOU WERE OUT")
        for _ in range(100):
            if switch.mailboxes.count("T04"):
                break
            await asyncio.sleep(0.02)
        assert switch.mailboxes.count("T04") >= 1
        rig.online("T04")
        t4 = await sign_on(rig, "T04", op4.id, op4.password)
        # the earlier AM comes again first if T04's ACK of it was lost with the link
        mail, _ = await until(t4, "AM")
        if mail.lines[-1] != "WHILE YOU WERE OUT":
            assert mail.lines[-1] == "MEET AT THE COUNTY LINE"
            mail, _ = await until(t4, "AM")
        assert mail.lines[-1] == "WHILE YOU WERE OUT"
        t1.close()
        t4.close()
    finally:
        await wait(switch.stop())
        rig.stop()


@pytest.mark.parametrize(
    "framing", ["ascii4", "ascii6-incl", "bin2", "bin4-incl", "dle", "stx", "length"]
)
async def test_conversation_over_tcp_in_each_declared_framing(framing, tmp_path, reactor):
    """Sign-on, an inquiry and an AM between terminals over TCP in each framing a real
    switch interface uses; the raw bytes of one frame are checked by hand too."""
    import socket

    from formats.framing import make_framer
    from lems.switch import Switch

    lab = demo_lab(tmp_path)
    switch = Switch(lab, reactor)
    switch.start()
    switch.router.register(FakeNcic())
    try:
        port = await wait(switch.listen(f"tcp:0:interface=127.0.0.1:framing={framing}"))
        to = f"tcp:host=127.0.0.1:port={port.getHost().port}:framing={framing}"
        rig = Rig("tcp", tmp_path, reactor, None)
        rig.clients = {"T01": to, "T04": to}
        t1 = await sign_on(rig, "T01", "OP01", lab.operators["OP01"].password)
        op4 = next(o for o in lab.operators.values() if "T04" in o.terminals and o.cleared)
        t4 = await sign_on(rig, "T04", op4.id, op4.password)
        t1.send("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101")
        hit, _ = await until(t1, "HIT")
        assert "NAM/DOE,JOHN" in hit.body
        t1.send("AM.OR0240000.OR0260000.TXT\nMEET AT THE COUNTY LINE")
        am, _ = await until(t4, "AM")
        assert am.lines[-1] == "MEET AT THE COUNTY LINE"
        t1.close()
        t4.close()

        # a vendor's own code: the frame built by hand, the answer read by hand
        framer = make_framer(framing)
        loop = asyncio.get_running_loop()
        sock = socket.create_connection(("127.0.0.1", port.getHost().port))
        sock.setblocking(False)
        await loop.sock_sendall(
            sock, framer.encode(b"LOGON.T01.OP01." + lab.operators["OP01"].password.encode())
        )
        frames = []
        while not frames:
            data = await asyncio.wait_for(loop.sock_recv(sock, 65536), 10)
            assert data
            frames = [e for e in framer.feed(data) if hasattr(e, "payload")]
        assert b"\nSON.T01\n" in frames[0].payload
        sock.close()
    finally:
        await wait(switch.stop())
