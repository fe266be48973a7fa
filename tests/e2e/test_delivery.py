"""Delivery end to end over real sockets: nothing the switch writes is unsendable, a message that
still cannot be sent costs only itself (dead letters), cumulative acknowledgements, half-close.

The peers here are raw asyncio sockets speaking the wire by hand (with the project's framers to
cut what comes back), so nothing in the client library hides what the switch really sends."""

from __future__ import annotations

import asyncio
import re
import socket
import sqlite3
import subprocess
import sys

import pytest
from support import demo_lab, running_switch, until, wait

from formats.framing import BadFrame, Frame, link_framer
from lems.store import when_committed
from lems.training.dashboard import snapshot
from terminals.client import parse_output


class Raw:
    """A terminal on a raw socket: writes framed payloads, reads and decodes frames."""

    def __init__(self, reader, writer, framing: str, max_frame: int = 16384) -> None:
        self.reader, self.writer = reader, writer
        # a terminal's end: writes input, reads the switch's output (docs/WIRE.md)
        self.framer = link_framer(framing, max_frame, role="terminal")
        self.frames: list = []
        self.controls: list[int] = []
        self.bad: list = []

    @classmethod
    async def open(cls, port: int, framing: str = "line", max_frame: int = 16384) -> Raw:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, framing, max_frame)

    def send(self, text: str | bytes) -> None:
        data = text.encode("latin-1") if isinstance(text, str) else text
        self.writer.write(self.framer.encode(data))

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def next(self, timeout: float = 10.0):
        async def fill() -> None:
            while not self.frames:
                data = await self.reader.read(65536)
                if not data:
                    raise EOFError("connection closed")
                for event in self.framer.feed(data):
                    if isinstance(event, Frame):
                        # a compliant terminal ACKs each frame on stx/dle (stop-and-wait)
                        self.writer.write(self.framer.ack())
                        self.frames.append(parse_output(event.payload.decode("latin-1")))
                    elif isinstance(event, BadFrame):
                        self.bad.append(event)
                    else:
                        self.controls.append(event.code)

        await asyncio.wait_for(fill(), timeout)
        return self.frames.pop(0)

    async def until_key(self, *keys: str, timeout: float = 10.0):
        while True:
            out = await self.next(timeout)
            if out.key in keys:
                return out

    async def read_to_end(self, timeout: float = 10.0) -> list:
        """Every frame until the switch closes the connection."""

        async def drain() -> None:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    return
                for event in self.framer.feed(data):
                    if isinstance(event, Frame):
                        self.frames.append(parse_output(event.payload.decode("latin-1")))

        await asyncio.wait_for(drain(), timeout)
        frames, self.frames = self.frames, []
        return frames

    def close(self) -> None:
        self.writer.close()


def password(lab, terminal: str) -> tuple[str, str]:
    op = next(o for o in lab.operators.values() if terminal in o.terminals and o.cleared)
    return op.id, op.password


async def sign_on(switch, port: int, terminal: str, framing: str = "line") -> Raw:
    raw = await Raw.open(port, framing)
    op, pw = password(switch.lab, terminal)
    raw.send(f"LOGON.{terminal}.{op}.{pw}")
    out = await raw.until_key("SON")
    assert f"TERMINAL/{terminal}" in out.body
    return raw


async def listen(switch, options: str) -> int:
    port = await wait(switch.listen(f"tcp:0:interface=127.0.0.1:{options}"))
    return port.getHost().port


def port_of(switch) -> int:
    return int(switch.endpoint.rsplit("=", 1)[1])


def rows(switch, sql: str, *args):
    conn = sqlite3.connect(switch.lab.database)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


async def settle(switch):
    await wait(when_committed(switch.writer, []))


# ------------------------------------------------------------------ nothing is unsendable


async def test_stx_reject_echoing_framing_bytes_is_sent_and_mail_keeps_flowing(tmp_path, reactor):
    """A frame with a bad block check is echoed in the reject: its STX and ETX bytes used to
    make the reject unsendable on the stx link, blocking the mailbox at every later sign-on."""
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        port = await listen(switch, "framing=stx")
        t1 = await sign_on(switch, port, "T01", "stx")
        t1.send_raw(b"\x02AM.OR0240000\x03\x00")  # wrong block check
        out = await t1.until_key("REJ")
        assert "CODE/BAD-FRAME" in out.body and "<STX>AM.OR0240000<ETX><NUL>" in out.body
        t1.send("AM.OR0240000.OR0240000.TXT\nAFTER THE NOISE")
        out = await t1.until_key("AM")
        assert out.lines[-1] == "AFTER THE NOISE"
        t1.close()
        # nothing was acknowledged: a new sign-on redelivers all of it, in order
        again = await sign_on(switch, port, "T01", "stx")
        got = [await again.next(), await again.next()]
        assert [o.key for o in got] == ["REJ", "AM"]
        assert got[0].osn < got[1].osn
        again.close()


async def test_line_answers_never_carry_cr_backslash_or_oversize(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        t1 = await sign_on(switch, port_of(switch), "T01")
        # a control character inside the ORI is copied into the reject's first line (a CR
        # would end the line: CR, LF and CR LF all end lines on input)
        t1.send_raw(b"QW.OR02\x0b4000.NAM/DOE,JOHN.DOB/19800101\n")
        out = await t1.next()
        assert out.lines[0] == "REJ.OR02<VT>4000" and "\x0b" not in out.frame
        # a 16,000-character field: the reject fits the link's frame limit
        t1.send("QW.OR0240000.NAM/" + "A" * 16_000 + ".DOB/19800101")
        out = await t1.until_key("REJ")
        assert len(out.frame) <= 16384 and "CHARACTERS, CUT)" in out.body
        t1.send("AM.OR0240000.OR0240000.TXT\nSTILL FLOWING")
        assert (await t1.until_key("AM")).lines[-1] == "STILL FLOWING"
        t1.close()


async def test_stx_text_ending_in_backslash_reaches_a_line_terminal(tmp_path, reactor):
    """On an stx link a line may end with a backslash; on a line link that read as a
    continuation and the copy could not be sent."""
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        port = await listen(switch, "framing=stx")
        t1 = await sign_on(switch, port, "T01", "stx")
        t4 = await sign_on(switch, port_of(switch), "T04")
        t1.send("AM.OR0240000.OR0260000.TXT\nPATH C:\\\nTAB\tAND BELL\x07\xe9")
        out = await t4.until_key("AM")
        assert out.lines[-2:] == ["PATH C:<x5C>", "TAB AND BELL<xE9>"]  # (the grammar
        # already turned the tab into a space and dropped the bell)
        t1.close()
        t4.close()


async def test_length_link_carries_answers_to_anything(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        port = await listen(switch, "framing=length")
        t1 = await sign_on(switch, port, "T01", "length")
        t1.send(bytes(range(256)))
        out = await t1.until_key("REJ")
        assert "<NUL><SOH><STX>" in out.body
        t1.close()


# ------------------------------------------------------------------ dead letters


async def test_unsendable_mail_is_dead_lettered_and_blocks_nothing(tmp_path, reactor):
    """Mail queued while the lab allowed 16 KB frames, then the lab's links are cut to 1 KB:
    the long message cannot be sent; it costs only itself, becomes a dead letter after three
    attempts, leaves the sign-on count, and the instructor can drop it with ``lems mail``."""
    lab = demo_lab(tmp_path)
    async with running_switch(lab, reactor) as switch:
        t1 = await sign_on(switch, port_of(switch), "T01")
        t1.send("AM.OR0240000.OR0260000.TXT\nFIRST")
        t1.send("AM.OR0240000.OR0260000.TXT\n" + "LONG " * 600)
        t1.send("AM.OR0240000.OR0260000.TXT\nLAST")
        await until(lambda: switch.mailboxes.count("T04") == 3)
        await settle(switch)
        t1.close()
    async with running_switch(lab, reactor) as switch:
        port = await listen(switch, "max_frame=1024")
        for attempt in range(3):
            t4 = await sign_on(switch, port, "T04")
            got = [await t4.next(), await t4.next()]
            assert [o.lines[-1] for o in got] == ["FIRST", "LAST"]
            t4.close()
            await until(lambda n=attempt + 1: switch.stats["send_failures"] == n)
        await settle(switch)
        assert switch.mailboxes.count("T04") == 2 and switch.mailboxes.dead("T04") == 1
        t4 = await sign_on(switch, port, "T04")
        assert "MAILBOX/2 MESSAGES WAITING" in (await wait_son(t4, switch, port))
        dead = rows(switch, "SELECT text, osn FROM journal WHERE disposition = 'dead-letter'")
        assert len(dead) == 1 and "DEAD LETTER T04 OSN/0000002 NOT SENT AFTER 3" in dead[0][0]
        listed = run_lems("mail", "dead", str(tmp_path))
        assert re.search(r"T04\s+0000002 ", listed.stdout) and "longer than 1024" in listed.stdout
        watched = run_lems("watch", str(tmp_path), "--count", "1")
        assert "DEAD-LETTERS T04:0000002" in watched.stdout, watched.stdout
        audit = run_lems("audit", str(tmp_path), "--terminal", "T04")
        assert "dead-letter" in audit.stdout and re.search(
            r"OR0260000\s.*\s1\s*$", audit.stdout, re.M
        ), audit.stdout
        snap = snapshot(switch.lab.database, switch=switch)
        assert [(d["terminal"], d["osn"]) for d in snap.dead_letters] == [("T04", 2)]
        dropped = run_lems("mail", "drop", str(tmp_path), "T04")
        assert dropped.returncode == 0 and "T04 OSN/0000002 dropped" in dropped.stdout
        await until(
            lambda: rows(switch, "SELECT 1 FROM journal WHERE disposition = 'dead-dropped'") != [],
            timeout=15,
        )
        assert switch.mailboxes.dead("T04") == 0
        t4.close()


async def wait_son(raw: Raw, switch, port: int) -> str:
    """The body of the SON already read by ``sign_on`` is gone: sign on again to read one."""
    op, pw = password(switch.lab, "T04")
    raw.send(f"LOGON.T04.{op}.{pw}")
    return (await raw.until_key("SON")).body


def run_lems(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lems.cli", *args], capture_output=True, text=True, timeout=60
    )


# ------------------------------------------------------------------ acknowledgements


async def test_ack_is_cumulative_and_an_unknown_osn_is_answered(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        t1 = await sign_on(switch, port_of(switch), "T01")
        for i in range(3):
            t1.send(f"AM.OR0240000.OR0260000.TXT\nMAIL {i}")
        await until(lambda: switch.mailboxes.count("T04") == 3)
        t4 = await sign_on(switch, port_of(switch), "T04")
        got = [await t4.next() for _ in range(3)]
        t4.send(f"ACK.{got[1].osn}")  # the first two
        await until(lambda: switch.mailboxes.count("T04") == 1)
        t4.send("ACK.99")
        out = await t4.until_key("REJ")
        assert "CODE/BAD-ACK FLD/OSN" in out.body
        assert (
            f"NO OUTPUT SEQUENCE NUMBER 99 WAS SENT TO T04 - LAST OSN SENT {out.osn - 1:07d}"
            in out.body
        )
        t4.send(f"ACK.{out.osn}")  # the third and the reject
        await until(lambda: switch.mailboxes.count("T04") == 0)
        await settle(switch)
        acks = rows(
            switch,
            "SELECT disposition FROM journal WHERE key = 'ACK' AND "
            "direction = 'in' AND terminal = 'T04' ORDER BY seq",
        )
        assert [a for (a,) in acks] == ["acked", "ack-unknown", "acked"]
        t1.close()
        t4.close()


# ------------------------------------------------------------------ half-close


async def test_half_closed_peer_gets_every_answer_then_the_close(tmp_path, reactor):
    """A client that sends and shuts its write side (``nc -N``, socat) reads every answer."""
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        raw = await Raw.open(port_of(switch))
        op, pw = password(switch.lab, "T01")
        raw.send(f"LOGON.T01.{op}.{pw}")
        raw.send("QW.OR0240000.NAM/DOE,JOHN.DOB/19800101")
        raw.send("AM.OR0240000.OR0240000.TXT\nTO MYSELF")
        raw.send("BOGUS")
        raw.writer.write_eof()
        frames = await raw.read_to_end(timeout=20)
        keys = [f.key for f in frames]
        assert keys[0] == "SON"
        assert {"AM", "REJ"} <= set(keys)
        assert any(k in ("HIT", "NRC") for k in keys), keys  # the NCIC answer, 60 ms later
        raw.close()


async def test_half_close_before_sign_on_still_answers(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        with socket.create_connection(("127.0.0.1", port_of(switch)), timeout=10) as s:
            s.sendall(b"HELLO\n")
            s.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := await asyncio.get_running_loop().run_in_executor(None, s.recv, 65536):
                data += chunk
        assert b"CODE/" in data and b"REJ" in data


async def test_unacknowledged_output_is_resent_in_session_unless_the_link_turns_it_off(
    tmp_path, reactor
):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        eager = await listen(switch, "resend=0.3:window=2")
        quiet = await listen(switch, "resend=0")
        t1 = await sign_on(switch, eager, "T01")
        for i in range(3):
            t1.send(f"AM.OR0240000.OR0260000.TXT\nMAIL {i}")
        await until(lambda: switch.mailboxes.count("T04") == 3)
        t4 = await sign_on(switch, eager, "T04")
        first = [await t4.next(), await t4.next()]  # the window: two at a time
        again = await t4.next()  # no ACK for 0.3 s: the same two again, same OSNs
        assert again.osn == first[0].osn and again.lines[-1] == "MAIL 0"
        t4.send(f"ACK.{first[1].osn}")
        while (out := await t4.next()).lines[-1] != "MAIL 2":
            pass
        t4.send(f"ACK.{out.osn}")
        await until(lambda: switch.mailboxes.count("T04") == 0)
        t4.close()
        t1.send("AM.OR0240000.OR0260000.TXT\nONCE")
        await until(lambda: switch.mailboxes.count("T04") == 1)
        t4 = await sign_on(switch, quiet, "T04")
        assert (await t4.next()).lines[-1] == "ONCE"
        with pytest.raises(asyncio.TimeoutError):
            await t4.next(timeout=1.0)  # resend=0: nothing again in this session
        t1.close()
        t4.close()


# ------------------------------------------------------------------ mailbox limit


async def test_a_full_mailbox_refuses_new_mail_with_a_clear_answer(tmp_path, reactor):
    lab = demo_lab(
        tmp_path, lambda t: t.replace("lockout_after = 5", "lockout_after = 5\nmailbox_limit = 3")
    )
    async with running_switch(lab, reactor) as switch:
        t1 = await sign_on(switch, port_of(switch), "T01")
        for i in range(5):
            t1.send(f"AM.OR0240000.OR0260000.TXT\nMAIL {i}")
        full = [await t1.until_key("REJ"), await t1.until_key("REJ")]
        for out in full:
            assert "REJECT CODE/MAILBOX-FULL" in out.body
            assert "NOT DELIVERED TO TERMINAL T04 - ITS MAILBOX IS FULL (3 MESSAGES" in out.body
        assert switch.mailboxes.count("T04") == 3
        await settle(switch)
        assert len(rows(switch, "SELECT 1 FROM journal WHERE disposition = 'mailbox-full'")) == 2
        # the instructor (control terminal T00) is told once
        control = await sign_on(switch, port_of(switch), "T00")
        notice = await control.until_key("NTC")
        assert "MAILBOX OF TERMINAL T04 IS FULL (3 MESSAGES" in " ".join(notice.lines)
        # the terminal signs on, acknowledges, and mail flows again
        t4 = await sign_on(switch, port_of(switch), "T04")
        got = [await t4.next() for _ in range(3)]
        assert [o.lines[-1] for o in got] == ["MAIL 0", "MAIL 1", "MAIL 2"]
        t4.send(f"ACK.{got[-1].osn}")
        await until(lambda: switch.mailboxes.count("T04") == 0)
        t1.send("AM.OR0240000.OR0260000.TXT\nAGAIN")
        assert (await t4.until_key("AM")).lines[-1] == "AGAIN"
        for raw in (t1, t4, control):
            raw.close()


# ------------------------------------------------------------------ input acknowledgement


async def test_numbered_input_is_acknowledged_and_a_resend_is_a_duplicate(tmp_path, reactor):
    """``ISN/<n>`` on the first line: an IAK names the ISN and the result, on line and length
    links alike; the same ISN again (a resend after a lost IAK) is not processed twice but
    answered with the original result, also after a restart."""
    lab = demo_lab(tmp_path)
    async with running_switch(lab, reactor) as switch:
        port = await listen(switch, "framing=length")
        for framing, p in (("line", port_of(switch)), ("length", port)):
            t1 = await sign_on(switch, p, "T01", framing)
            isn = 1 if framing == "line" else 2
            t1.send(f"ISN/{isn}\nAM.OR0240000.OR0240000.TXT\nNUMBERED {framing}")
            got = [await t1.next(), await t1.next()]
            iak = next(o for o in got if o.key == "IAK")
            copy = next(o for o in got if o.key == "AM")
            assert iak.osn == 0 and iak.lines[1].startswith(f"ISN/{isn:07d} SEQ/")
            assert iak.lines[1].endswith(" ACCEPTED")
            t1.send(f"ISN/{isn}\nAM.OR0240000.OR0240000.TXT\nNUMBERED {framing}")
            dup = await t1.next()
            assert dup.key == "IAK" and f"DUPLICATE OF {iak.lines[1].split()[1]}" in dup.body
            again = await t1.next()  # the original result, with its original OSN
            assert again.osn == copy.osn and again.lines[-1] == f"NUMBERED {framing}"
            t1.send(f"ACK.{copy.osn}")
            t1.close()
        await settle(switch)
        assert (
            len(
                rows(
                    switch,
                    "SELECT 1 FROM journal WHERE direction = 'in' AND key = 'AM' "
                    "AND disposition = 'accepted'",
                )
            )
            == 2
        )
        assert len(rows(switch, "SELECT 1 FROM journal WHERE disposition = 'duplicate'")) == 2
        t1 = await sign_on(switch, port_of(switch), "T01")
        t1.send("ISN/3\nQW.OR0240000.NAM/DOE,JOHN.DOB/19801345")
        assert (await t1.until_key("IAK")).lines[1].endswith(" REJECTED")
        t1.send("ISN/X\nQW.OR0240000.NAM/DOE,JOHN.DOB/19800101")
        out = await t1.until_key("REJ")
        assert "FLD/ISN" in out.body and "ISN/ MUST BE 1 TO 9 DIGITS" in out.body
        t1.close()
    async with running_switch(lab, reactor) as switch:  # remembered across a restart
        t1 = await sign_on(switch, port_of(switch), "T01")
        t1.send("ISN/1\nAM.OR0240000.OR0240000.TXT\nNUMBERED line")
        assert "DUPLICATE OF" in (await t1.until_key("IAK")).body
        t1.close()


async def test_iak_all_acknowledges_every_message_on_line_and_length_links(tmp_path, reactor):
    """``iak=all`` on a listener: an unnumbered message of a signed-on terminal draws an IAK
    (``SEQ/<seq>`` and the result) once journaled, after its answers; an ACK, LOGON or LOGOFF
    draws none. A message sent behind the LOGON (held while the password is checked) gets
    its IAK too; a numbered one keeps its ISN in front."""
    lab = demo_lab(tmp_path)
    async with running_switch(lab, reactor) as switch:
        for framing in ("line", "length", "stx"):  # stx: its frame ACKs still come
            port = await listen(switch, f"framing={framing}:iak=all")
            t1 = await Raw.open(port, framing)
            op, pw = password(lab, "T01")
            t1.send(f"LOGON.T01.{op}.{pw}")
            t1.send(f"AM.OR0240000.OR0240000.TXT\nHELD {framing}")  # before the SON comes
            assert (await t1.next()).key == "SON"  # no IAK for the LOGON
            copy = await t1.next()
            assert copy.key == "AM" and copy.lines[-1] == f"HELD {framing}"
            iak = await t1.next()
            (seq,) = rows(
                switch,
                "SELECT seq FROM journal WHERE direction = 'in' AND text LIKE ?",
                f"%HELD {framing}",
            )[0]
            assert iak.key == "IAK" and iak.osn == 0
            assert iak.lines[1] == f"SEQ/{seq:07d} ACCEPTED"
            t1.send(f"ACK.{copy.osn}")  # acknowledged silently
            t1.send("QW.OR0240000.NAM/DOE,JOHN.DOB/19801345")
            rej = await t1.next()  # the REJ first: had the ACK drawn an IAK, it would be here
            assert rej.key == "REJ" and "DOB" in rej.body
            iak = await t1.next()
            assert iak.key == "IAK" and re.fullmatch(r"SEQ/\d{7} REJECTED", iak.lines[1])
            t1.send(f"ISN/{len(framing)}\nQW.OR0240000.NAM/DOE,JOHN.DOB/19801345")
            rej = await t1.next()
            assert rej.key == "REJ"
            assert re.fullmatch(
                rf"ISN/{len(framing):07d} SEQ/\d{{7}} REJECTED", (await t1.next()).lines[1]
            )
            t1.send(f"ACK.{rej.osn}")  # both REJs: nothing left for the next link
            t1.send("LOGOFF.T01")
            assert (await t1.next()).key == "SOF"
            t1.send("AM.OR0240000.OR0240000.TXT\nSIGNED OFF")  # not signed on: no IAK
            assert (await t1.next()).key == "REJ"
            t1.send("ACK.1")
            assert (await t1.next()).key == "REJ"  # and the ACK before it drew nothing
            assert framing != "stx" or t1.controls.count(0x06) >= 7  # each frame ACKed
            t1.close()


async def test_iak_numbered_by_default_leaves_unnumbered_input_unacknowledged(tmp_path, reactor):
    """Without ``iak=all`` (the lab default ``numbered``) a message without ``ISN/`` gets its
    answers and nothing more, as existing clients expect."""
    lab = demo_lab(tmp_path)
    async with running_switch(lab, reactor) as switch:
        assert switch.lab.switch.iak == "numbered"
        t1 = await sign_on(switch, port_of(switch), "T01")
        t1.send("AM.OR0240000.OR0240000.TXT\nQUIET")
        copy = await t1.next()
        assert copy.key == "AM"
        t1.send(f"ACK.{copy.osn}")
        t1.send("QW.OR0240000.NAM/DOE,JOHN.DOB/19801345")
        assert (await t1.next()).key == "REJ"
        t1.send("QW.OR0240000.NAM/DOE,JANE.DOB/19801346")
        second = await t1.next()  # an IAK of the first REJ or the AM would come first
        assert second.key == "REJ" and "DOE,JANE" in second.body
        t1.close()


async def test_listener_iak_option_is_checked(tmp_path, reactor):
    lab = demo_lab(tmp_path)
    async with running_switch(lab, reactor) as switch:
        with pytest.raises(Exception) as e:
            await listen(switch, "iak=some")
        assert "iak= must be numbered or all" in str(e.value)
