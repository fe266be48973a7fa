"""``lems serve`` as a process with each link kind's real peer: Mosquitto started here with
mosquitto_pub/sub as the terminal; a listen entry that cannot open is one line and an exit."""

from __future__ import annotations

import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mqtt_broker import Mosquitto, free_port
from support import demo_lab


class Served:
    """``lems serve DIR --listen …`` running as its own process until ``stop``."""

    def __init__(self, lab_dir: Path, *listens: str) -> None:
        args = [a for desc in listens for a in ("--listen", desc)]
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "lems.cli", "serve", str(lab_dir), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.listening: list[str] = []
        deadline = time.monotonic() + 30
        while len(self.listening) < len(listens):
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise AssertionError("lems serve did not listen in 30 s") from None
            if not line:
                code, _out, err = self.stop()
                raise AssertionError(f"lems serve exited {code}: {err}")
            if line.startswith("LISTENING"):
                self.listening.append(line)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")

    def stop(self) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)
        out = "".join(iter(self.lines.get_nowait, ""))
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode, out, err


def sub(
    port: int, topic: str, count: int, client: str, *, extra: tuple[str, ...] = ()
) -> subprocess.Popen[str]:
    """mosquitto_sub as a terminal would run it: persistent session, QoS 1, ``count`` messages
    then exit (at most 20 s). Called once with ``-E`` first so the session exists before the
    switch publishes (a car's session outlives its connection)."""
    base = [
        "mosquitto_sub",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-t",
        topic,
        "-q",
        "1",
        "-c",
        "-i",
        client,
        *extra,
    ]
    subprocess.run([*base, "-E"], check=True, timeout=10)
    return subprocess.Popen(
        [*base, "-C", str(count), "-W", "20", "-F", "%p\x1e"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def pub(port: int, topic: str, text: str, *, extra: tuple[str, ...] = ()) -> None:
    subprocess.run(
        [
            "mosquitto_pub",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-t",
            topic,
            "-q",
            "1",
            "-m",
            text,
            *extra,
        ],
        check=True,
        timeout=10,
    )


def test_serve_answers_a_terminal_on_mqtt_through_mosquitto(tmp_path):
    demo_lab(tmp_path / "lab")
    with Mosquitto(tmp_path) as broker:
        served = Served(tmp_path / "lab", f"mqtt://127.0.0.1:{broker.port}/lems")
        try:
            assert f"127.0.0.1:{broker.port}" in served.listening[0]
            out = sub(broker.port, "lems/T01/out", 2, "T01-car")
            pub(broker.port, "lems/T01/in", "LOGON.T01.OP01.train-01")
            pub(broker.port, "lems/T01/in", "QW.OR0240000.NAM/DOE,JOHN.DOB/19800101")
            got, err = out.communicate(timeout=30)
            assert out.returncode == 0, err
            son, answer = got.split("\x1e")[:2]
            assert "\nSON.T01\n" in son and "SIGN-ON ACCEPTED" in son
            assert answer.strip().split("\n")[1].split(".")[0] in ("NRC", "HIT"), answer
        finally:
            code, _out, err = served.stop()
        assert code == 0, err
        assert "Traceback" not in err and "no running event loop" not in err
        # a handler that failed is logged, not raised: the link half-made (an MQTT link has no
        # transport, and the session was never registered) showed only as this line
        assert "CRITICAL" not in err, err


def _port_in_use() -> tuple[socket.socket, int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s, s.getsockname()[1]


@pytest.mark.parametrize("kind", ["tcp", "unix", "tls", "serial", "mqtt", "unknown", "framing"])
def test_a_listen_entry_that_cannot_open_is_one_line_and_an_exit(tmp_path, kind):
    demo_lab(tmp_path / "lab")
    busy, port = _port_in_use()
    try:
        desc = {
            "tcp": f"tcp:{port}:interface=127.0.0.1",
            "unix": f"unix:{tmp_path}/no/such/dir/sock",
            "tls": f"tls:0:interface=127.0.0.1:certKey={tmp_path}/none.pem:"
            f"caCerts={tmp_path}/none.pem",
            "serial": f"serial:{tmp_path}/ttyNONE",
            "mqtt": f"mqtt://127.0.0.1:{free_port()}/lems",
            "unknown": "x25:1",
            "framing": "tcp:0:interface=127.0.0.1:framing=morse",
        }[kind]
        # a good entry next to the bad one: the process still stops
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "lems.cli",
                "serve",
                str(tmp_path / "lab"),
                "--listen",
                "tcp:0:interface=127.0.0.1",
                "--listen",
                desc,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        busy.close()
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"lems: cannot listen on {desc}: "), lines[0]


# ---------------------------------------------------------------------- line links as typed


def _port_of(listening: str) -> int:
    return int(listening.rsplit(":", 1)[1])


def read_messages(read, count: int, end: bytes, timeout: float = 20) -> list[bytes]:
    """``count`` messages of the switch's output, each ended by an empty line (``end``)."""
    data = b""
    deadline = time.monotonic() + timeout
    while data.count(end) < count:
        assert time.monotonic() < deadline, f"only {data!r}"
        data += read()
    return data.split(end)[:count]


def test_nc_user_types_cr_only_lines_and_a_txt_block_over_tcp(tmp_path):
    """As a vendor with nc or a teletype emulator: CR-only line ends, an AM typed as its
    .TXT header, text lines and an empty line; output with eol=crlf, each message ended by an
    empty line, no backslashes."""
    demo_lab(tmp_path / "lab")
    served = Served(tmp_path / "lab", "tcp:0:interface=127.0.0.1:eol=crlf")
    try:
        sock = socket.create_connection(("127.0.0.1", _port_of(served.listening[0])), 10)
        sock.settimeout(1)

        def read() -> bytes:
            try:
                return sock.recv(65536)
            except TimeoutError:
                return b""

        sock.sendall(b"LOGON.T01.OP01.train-01\r")
        (son,) = read_messages(read, 1, b"\r\n\r\n")
        assert b"\r\nSON.T01\r\n" in son
        # a second terminal of the same ORI sees the AM
        sock.sendall(
            b"AM.OR0240000.OR0240000.TXT\rMEET AT THE COUNTY LINE\r1400 HOURS\r\r"
            b"QW.OR0240000.NAM/DOE,JOHN.DOB/19800101\r"
        )
        got = read_messages(read, 2, b"\r\n\r\n")
        text = b"\r\n\r\n".join(got)
        assert b"\\" not in text and b"\n\n" not in text.replace(b"\r\n", b"")
        am = next(m for m in got if b"\r\nAM.OR0240000" in m)
        assert am.endswith(b"\r\nMEET AT THE COUNTY LINE\r\n1400 HOURS")
        assert any(m.split(b"\r\n")[1].startswith((b"NRC", b"HIT")) for m in got), got
        assert not any(b"REJ" in m for m in got), got
        sock.close()
    finally:
        code, _out, err = served.stop()
    assert code == 0, err


def test_serial_terminal_on_a_socat_pty_types_cr_only_and_reads_crlf(tmp_path):
    """A teletype on a serial line (a socat pty pair, pyserial on the terminal's end): CR-only
    input is answered, output ends lines with CR LF (the serial default), and a half-typed line
    left by the terminal is not glued onto the next LOGON."""
    import serial

    demo_lab(tmp_path / "lab")
    a, b = tmp_path / "ttyS-switch", tmp_path / "ttyS-terminal"
    socat = subprocess.Popen(
        ["socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not (a.exists() and b.exists()):
            assert time.monotonic() < deadline, "socat made no ptys"
            time.sleep(0.02)
        served = Served(tmp_path / "lab", f"serial:{a}")
        try:
            with serial.Serial(str(b), 9600, timeout=0.5) as tty:
                tty.write(b"GARBAGE WITHOUT A LINE END")
                tty.write(b"\rLOGON.T01.OP01.train-01\r")
                got = read_messages(lambda: tty.read(4096), 2, b"\r\n\r\n")
                assert any(b"\r\nSON.T01\r\n" in m for m in got), got
                rej = next(m for m in got if b"SON.T01" not in m)
                assert b"GARBAGE WITHOUT A LINE END" in rej  # its own reject, not the LOGON's
        finally:
            code, _out, err = served.stop()
        assert code == 0, err
    finally:
        socat.terminate()
        socat.wait(10)


# ---------------------------------------------------------------------- MQTT identity


def test_mqtt_topics_are_bound_to_each_terminal_by_the_broker(tmp_path):
    """lems init --mqtt writes a Mosquitto configuration (the dynamic-security plugin); with it
    the broker refuses anonymous clients, a terminal's password with another client id, and
    another terminal's topic; the read-only T01-sub watches T01's output while mosquitto_pub
    sends as T01; the switch refuses a LOGON of another terminal on a terminal's topic; a
    message over max_frame is rejected, not relayed; the switch with another client id cannot
    open its listen entry."""
    port = free_port()
    lab = tmp_path / "lab"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "lems.cli",
            "init",
            str(lab),
            "--mqtt",
            "--mqtt-port",
            str(port),
            "--training-passwords",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "plugin_opt_config_file" in (lab / "mqtt" / "mosquitto.conf").read_text()
    rows = [
        line.split()
        for line in (lab / "mqtt" / "credentials.txt").read_text().splitlines()
        if not line.startswith("#")
    ]
    creds = {user: password for user, password, _id in rows}
    assert {user: cid for user, _pw, cid in rows if user in ("T01", "T01-sub", "lems-switch")} == {
        "T01": "T01",
        "T01-sub": "T01-sub",
        "lems-switch": "lems-switch-lems",
    }
    switch_url = (
        f"mqtt://127.0.0.1:{port}/lems:username=lems-switch:password={creds['lems-switch']}"
    )
    assert switch_url in r.stdout.replace("\n", "")
    with Mosquitto(tmp_path, port=port, conf_file=lab / "mqtt" / "mosquitto.conf") as broker:
        served = Served(lab, switch_url + ":max_frame=2000")
        try:
            as_t01 = ("-u", "T01", "-P", creds["T01"], "-i", "T01")
            as_t02 = ("-u", "T02", "-P", creds["T02"], "-i", "T02")
            refused = {
                "anonymous": (),
                "T01's password, another client id": (
                    "-u",
                    "T01",
                    "-P",
                    creds["T01"],
                    "-i",
                    "T01-car",
                ),
                "T01's password, no client id": ("-u", "T01", "-P", creds["T01"]),
                "T01 with T02's client id": ("-u", "T01", "-P", creds["T01"], "-i", "T02"),
            }
            for what, extra in refused.items():
                got = subprocess.run(
                    [
                        "mosquitto_pub",
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(port),
                        "-t",
                        "lems/T01/in",
                        "-q",
                        "1",
                        "-m",
                        "LOGON.T01.OP01.train-01",
                        *extra,
                    ],
                    capture_output=True,
                    text=True,
                    timeout=10,
                )
                assert got.returncode != 0 and "not authorised" in got.stderr.lower(), what
            # T01-sub publishing at all, T02 publishing on T01's topic: dropped by the broker,
            # never seen by the switch (T01-sub first: a second T01-sub connection would
            # throw the watching one off)
            pub(
                broker.port,
                "lems/T01/in",
                "LOGON.T01.OP01.train-01",
                extra=("-u", "T01-sub", "-P", creds["T01-sub"], "-i", "T01-sub"),
            )
            out = sub(
                broker.port,
                "lems/T01/out",
                3,
                "T01-sub",
                extra=("-u", "T01-sub", "-P", creds["T01-sub"]),
            )
            pub(broker.port, "lems/T01/in", "LOGON.T01.OP01.train-01", extra=as_t02)
            # T01 signing on as another terminal on its own topic: refused by the switch
            pub(broker.port, "lems/T01/in", "LOGON.T02.OP02.train-02", extra=as_t01)
            pub(broker.port, "lems/T01/in", "LOGON.T01.OP01.train-01", extra=as_t01)
            pub(
                broker.port,
                "lems/T01/in",
                "AM.OR0240000.OR0240000.TXT\n" + "X" * 3000,
                extra=as_t01,
            )
            got, err = out.communicate(timeout=30)
            assert out.returncode == 0, err
            refused_logon, son, too_long = [m.strip() for m in got.split("\x1e")[:3]]
            assert "MQTT TOPIC IDENTIFIES TERMINAL T01, NOT T02" in refused_logon, refused_logon
            assert "\nSON.T01\n" in son
            assert "BAD-FRAME" in too_long and "LONGER THAN 2000" in too_long, too_long
        finally:
            code, _out, err = served.stop()
        assert code == 0, err
        # the switch's password with another client id: the broker refuses it, lems serve
        # says so in one line and exits 2
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "lems.cli",
                "serve",
                str(lab),
                "--listen",
                switch_url + ":clientid=intruder",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 2 and "cannot listen on mqtt://" in r.stderr, r.stderr
        assert "not authori" in r.stderr.lower(), r.stderr
    import sqlite3

    conn = sqlite3.connect(lab / "lab.db")
    logons = conn.execute(
        "SELECT text FROM journal WHERE direction = 'in' AND text LIKE 'LOGON.%'"
    ).fetchall()
    conn.close()
    assert len(logons) == 2  # T02's and T01-sub's publishes on T01's topic never reached it


def test_mqtt_broker_restarted_under_load_loses_nothing(tmp_path):
    """A terminal keeps sending inquiries while the broker is stopped and started again
    (persistence on, as lems init --mqtt writes it): every inquiry is answered, none lost;
    duplicates (a publish sent again after the reconnect) are counted and allowed."""
    import re
    import sqlite3
    import threading

    import paho.mqtt.client as paho

    demo_lab(tmp_path / "lab")
    state = tmp_path / "broker"
    state.mkdir()
    import getpass

    # as lems init --mqtt writes it: the broker keeps running as us, so it can save its state
    broker = Mosquitto(
        state,
        f"user {getpass.getuser()}\nallow_anonymous true\n"
        f"persistence true\npersistence_location {state}/\n"
        "max_queued_messages 100000\n",
    ).start()
    served = None
    answers: list[str] = []
    lock = threading.Lock()

    def client(name: str) -> paho.Client:
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=name, clean_session=False)
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(0.05, 0.5)
        return c

    def received(_c: object, _u: object, message: paho.MQTTMessage) -> None:
        with lock:
            answers.append(message.payload.decode("latin-1"))

    car = client("T01-car")  # the terminal's receiving side, a persistent session
    car.on_message = received
    car.on_connect = lambda c, *_: c.subscribe("lems/T01/out", qos=1)
    mdt = client("T01-mdt")  # its sending side
    try:
        served = Served(tmp_path / "lab", f"mqtt://127.0.0.1:{broker.port}/lems")
        n = 150
        for c in (car, mdt):
            c.connect("127.0.0.1", broker.port)
            c.loop_start()
        mdt.publish("lems/T01/in", "LOGON.T01.OP01.train-01", qos=1).wait_for_publish(10)
        for i in range(n):
            mdt.publish("lems/T01/in", f"QW.OR0240000.NAM/DOE,JOHN{i:04d}.DOB/19800101", qos=1)
            if i == n // 2:
                broker.stop()  # SIGTERM: the broker saves its state, as at a planned restart
                broker.start()
            time.sleep(0.005)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                names = {m for a in answers for m in re.findall(r"JOHN(\d{4})", a)}
            if len(names) == n:
                break
            time.sleep(0.1)
        conn = sqlite3.connect(tmp_path / "lab" / "lab.db")
        journal = dict(conn.execute("SELECT direction, count(*) FROM journal GROUP BY 1"))
        conn.close()
        lost = n - len(names)
        # an inquiry the broker delivered twice across the restart is answered twice
        duplicates = sum(1 for a in answers if re.search(r"JOHN\d{4}", a)) - len(names)
        print(
            f"MQTT restart under load: {n} inquiries, {lost} lost, {duplicates} duplicates, "
            f"journal {journal}"
        )
        assert lost == 0, f"{lost} answers lost; journal {journal}"
    finally:
        for c in (car, mdt):
            c.loop_stop()
            c.disconnect()
        if served is not None:
            served.stop()
        broker.stop()


def test_mqtts_with_the_lab_ca(tmp_path):
    """mqtts:// to a Mosquitto TLS listener whose certificate the lab CA signed; a terminal
    with mosquitto_pub/sub --cafile signs on."""
    import getpass

    from hardware.tls import write_lab_pki

    demo_lab(tmp_path / "lab")
    pki = write_lab_pki(tmp_path / "pki", ["T01"])
    port = free_port()
    conf = (
        f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\nallow_anonymous true\n"
        f"cafile {pki}/ca.pem\ncertfile {pki}/server.pem\nkeyfile {pki}/server.pem\n"
        "tls_version tlsv1.2\n"
    )
    (tmp_path / "tls.conf").write_text(conf)
    with Mosquitto(tmp_path, port=port, conf_file=tmp_path / "tls.conf") as broker:
        served = Served(
            tmp_path / "lab", f"mqtts://localhost:{broker.port}/lems:cafile={pki}/ca.pem"
        )
        try:
            tls = ("--cafile", str(pki / "ca.pem"), "-h", "localhost")
            out = sub(broker.port, "lems/T01/out", 1, "T01-car", extra=tls)
            pub(broker.port, "lems/T01/in", "LOGON.T01.OP01.train-01", extra=tls)
            got, err = out.communicate(timeout=30)
            assert out.returncode == 0, err
            assert "\nSON.T01\n" in got
        finally:
            code, _out, err = served.stop()
        assert code == 0, err
    # no broker there: one line and exit 2, as for every link kind
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "lems.cli",
            "serve",
            str(tmp_path / "lab"),
            "--listen",
            f"mqtts://localhost:{free_port()}/lems:cafile={pki}/ca.pem",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "cannot listen on mqtts://" in r.stderr
