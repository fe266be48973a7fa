"""The ``lems`` command, run as a real subprocess."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support import demo_lab

from lems import store
from lems.cli import build_parser
from lems.directory import Directory
from lems.lab import load_lab


def lems(
    *args: str | Path, stdin: str | None = None, columns: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [sys.executable, "-m", "lems.cli", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


# ---------------------------------------------------------------------- --help


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(build_parser()))


def test_every_documented_command_is_covered():
    assert {
        (),
        ("parse",),
        ("init",),
        ("serve",),
        ("send",),
        ("operator",),
        ("operator", "unlock"),
        ("operator", "list"),
        ("agency",),
        ("agency", "suspend"),
        ("agency", "reinstate"),
        ("agency", "list"),
    } <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) or "lems" for c in COMMANDS])
def test_help(command):
    r = lems(*command, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"usage: {' '.join(('lems', *command))} ")
    assert r.stderr == ""


def test_no_command_prints_usage_and_exits_2():
    r = lems()
    assert r.returncode == 2
    assert r.stdout.startswith("usage: lems ")


def test_unknown_command_is_usage_error():
    r = lems("frobnicate")
    assert r.returncode == 2 and "invalid choice" in r.stderr


# ---------------------------------------------------------------------- parse


def parsed(r: subprocess.CompletedProcess[str]) -> list[dict]:
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_parse_valid_messages():
    r = lems(
        "parse",
        "-",
        stdin="QW.OR0240000.NAM/DOE,JOHN.DOB/19800101\n\nQV.OR0260000.LIC/ABC123.LIS/OR\r\n",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    qw, qv = parsed(r)  # the empty line is a keepalive, not a message
    assert qw["ok"] is True and qw["key"] == "QW" and qw["ori"] == "OR0240000"
    assert qw["fields"] == [["NAM", "DOE,JOHN"], ["DOB", "19800101"]]
    assert qv["ok"] is True and qv["ori"] == "OR0260000"
    assert qv["fields"] == [["LIC", "ABC123"], ["LIS", "OR"]]


def test_parse_without_final_newline():
    r = lems("parse", "-", stdin="QV.OR0260000.LIC/ABC123")
    assert r.returncode == 0 and parsed(r)[0]["key"] == "QV"


def test_parse_rejects():
    r = lems(
        "parse",
        "-",
        stdin="QW.OR0240000.NAM/DOE,JOHN.DOB/19800101\n"
        "QW.OR0240000.NAM/DOE,JOHN\n"
        "QW.ORX.NAM/DOE,JOHN.DOB/19800101\n",
    )
    assert r.returncode == 1
    good, missing, bad_ori = parsed(r)
    assert good["ok"] is True
    assert missing["ok"] is False
    assert missing["reject"]["code"] == "MISSING-FIELD" and missing["reject"]["field"] == "DOB"
    assert missing["reject"]["reason"].startswith("MISSING IDENTIFIERS")
    assert missing["text"].startswith("REJ.OR0240000\nREJECT CODE/MISSING-FIELD FLD/DOB\n")
    assert "ORIGINAL MESSAGE\nQW.OR0240000.NAM/DOE,JOHN" in missing["text"]
    assert bad_ori["reject"]["code"] == "BAD-ORI" and bad_ori["reject"]["field"] == "ORI"


def test_parse_nlets_reject_uses_error_number():
    r = lems("parse", "-", stdin="IQ.OR0240000.WA.TXT\\\nSOC/912345678.ATN/DET ROE\n")
    assert r.returncode == 1
    (out,) = parsed(r)
    assert out["reject"] == {
        "code": ".14.",
        "field": "PUR",
        "reason": "MISSING MANDATORY FIELD PUR",
    }


def test_parse_multi_line_message_with_backslash():
    r = lems(
        "parse",
        "-",
        stdin="AM.OR0240000.OR0260000.TXT\\\nMEET AT THE COUNTY LINE\\\n"
        "1400 HOURS\nQV.OR0260000.LIC/ABC123\n",
    )
    assert r.returncode == 0, r.stdout
    am, qv = parsed(r)
    assert am["ok"] and am["key"] == "AM" and am["destinations"] == ["OR0260000"]
    assert am["text"] == "MEET AT THE COUNTY LINE\n1400 HOURS"
    assert qv["key"] == "QV"


def test_parse_reads_the_natural_form_as_copied_from_a_manual():
    """A .TXT header, its text lines and an empty line are one message; an NCIC line is one
    message at its line end; CR-only and CRLF files read alike; a block ends at the file's end."""
    text = (
        "QW.OR0240000.NAM/DOE,JOHN.DOB/19800101\n"
        "AM.OR0240000.OR0260000.TXT\nMEET AT THE COUNTY LINE\n1400 HOURS\n\n"
        "QV.OR0260000.LIC/ABC123\n"
        "KQ.OR0240000.WA.TXT\nOLN/WDL1234567.PUR/C"
    )
    for eol in ("\n", "\r\n", "\r"):
        r = lems("parse", "-", stdin=text.replace("\n", eol))
        out = parsed(r)
        assert [o.get("key") for o in out] == ["QW", "AM", "QV", "KQ"], (eol, r.stdout)
        assert out[1]["text"] == "MEET AT THE COUNTY LINE\n1400 HOURS"
        assert all(o["ok"] for o in out), r.stdout


def test_parse_a_file(tmp_path):
    f = tmp_path / "msgs.txt"
    f.write_text("QV.OR0260000.LIC/ABC123\nXX.OR0240000\n")
    r = lems("parse", f)
    assert r.returncode == 1
    ok, bad = parsed(r)
    assert ok["ok"] and bad["reject"]["code"] == "BAD-KEY"


# ---------------------------------------------------------------------- init


def test_init_writes_a_lab(tmp_path):
    d = tmp_path / "lab"
    r = lems("init", d, "--training-passwords")
    assert r.returncode == 0, r.stderr
    assert "Lab written" in r.stdout
    for word in ("T00", "T05", "T11", "OP05", "train-05", "control", "radio", "ORSIR0000"):
        assert word in r.stdout, word
    assert (d / "lab.toml").is_file() and (d / "lab.db").is_file()
    lab = load_lab(d)
    assert len(lab.terminals) == 13 and "T13" in r.stdout  # T13: the firearms dealer
    conn = store.connect(lab.database)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
    conn.close()


def test_init_generates_passwords_shows_them_once_and_keeps_hashes(tmp_path):
    from lems.signon import verify

    d = tmp_path / "lab"
    r = lems("init", d)
    assert r.returncode == 0, r.stderr
    assert "shown this once" in r.stdout
    lab = load_lab(d)
    text = (d / "lab.toml").read_text()
    assert "train-" not in text and 'password = "' not in text
    shown = {}
    for line in r.stdout.splitlines():  # operator, name, terminals, password, note
        cells = line.split()
        op = lab.operators.get(cells[0]) if cells else None
        if op is not None:
            shown[op.id] = cells[cells.index(op.terminals[0]) + 1]
    assert set(shown) == set(lab.operators)  # every operator's password, supervisor included
    for oid, password in shown.items():
        assert password not in text
        assert verify(lab.operators[oid].password_hash, password)
    assert len(set(shown.values())) == len(shown)


def test_operator_passwd_sets_a_hash_and_keeps_the_file(tmp_path):
    from lems.signon import verify

    d = tmp_path / "lab"
    assert lems("init", d, "--training-passwords").returncode == 0
    before = (d / "lab.toml").read_text()
    r = lems("operator", "passwd", d, "OP03", "--password", "-", stdin="n3w-Pass\n")
    assert r.returncode == 0, r.stderr
    assert "n3w-Pass" not in r.stdout + r.stderr
    after = (d / "lab.toml").read_text()
    assert 'password = "train-03"' in before and 'password = "train-03"' not in after
    assert len(after.splitlines()) == len(before.splitlines())
    assert after.count("password_hash") == 1 and "# failed passwords" in after
    lab = load_lab(d)
    assert verify(lab.operators["OP03"].password_hash, "n3w-Pass")
    assert lab.operators["OP04"].password == "train-04"  # the others untouched
    r = lems("operator", "passwd", d, "OP03")
    new = r.stdout.split("shown this once): ")[1].strip()
    assert verify(load_lab(d).operators["OP03"].password_hash, new)
    r = lems("operator", "passwd", d, "OP03", "--password", "with.period")
    assert r.returncode == 2 and "periods" in r.stderr
    r = lems("operator", "passwd", d, "NOBODY", "--password", "x")
    assert r.returncode == 2 and "NOBODY is not in" in r.stderr


def test_send_asks_for_the_password_of_a_hashed_lab(tmp_path):
    assert lems("init", tmp_path / "lab").returncode == 0
    r = lems("send", tmp_path / "lab", "--terminal", "T01", "QW.OR0240000.NAM/DOE,JOHN")
    assert r.returncode == 2 and "only as a hash: give --password" in r.stderr


def test_send_without_a_running_switch_says_so_plainly(tmp_path):
    assert lems("init", tmp_path / "lab", "--training-passwords").returncode == 0
    # a port nobody listens on (the demo lab's 5020 may be taken by a lab someone runs)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = lems(
        "send",
        tmp_path / "lab",
        "--terminal",
        "T01",
        "--to",
        f"tcp:host=127.0.0.1:port={port}",
        "QW.OR0240000.NAM/DOE,JOHN.DOB/19800101",
    )
    assert r.returncode == 1
    assert f"lems: cannot reach the switch at tcp:host=127.0.0.1:port={port}" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_init_refuses_an_existing_lab(tmp_path):
    d = tmp_path / "lab"
    assert lems("init", d).returncode == 0
    (d / "lab.toml").write_text((d / "lab.toml").read_text() + "# edited\n")
    r = lems("init", d)
    assert r.returncode == 1
    assert "exists" in r.stderr and "--force" in r.stderr
    assert (d / "lab.toml").read_text().endswith("# edited\n")

    r = lems("init", d, "--exist-ok")
    assert r.returncode == 0, r.stderr
    assert "left as it is" in r.stdout
    assert (d / "lab.toml").read_text().endswith("# edited\n")


def test_init_force_overwrites_lab_and_database(tmp_path):
    d = tmp_path / "lab"
    assert lems("init", d).returncode == 0
    assert lems("agency", "suspend", d, "OR0240000").returncode == 0
    (d / "lab.toml").write_text((d / "lab.toml").read_text() + "# edited\n")
    r = lems("init", d, "--force", "--listen", "tcp:5999:interface=127.0.0.1")
    assert r.returncode == 0, r.stderr
    lab = load_lab(d)
    assert lab.switch.listen == ("tcp:5999:interface=127.0.0.1",)
    assert "# edited" not in lab.path.read_text()
    conn = store.connect(lab.database)
    assert conn.execute("SELECT COUNT(*) FROM agency_state").fetchone()[0] == 0
    conn.close()


# ---------------------------------------------------------------------- serve


def test_serve_refuses_a_broken_lab(tmp_path):
    # a deep directory: the message must name the whole path even when it is long
    d = tmp_path / "a-rather-long-directory-name" / "for-a-training-lab-that-was-edited"
    path = demo_lab(d).path
    path.write_text(path.read_text().replace("max_frame = 16384", "max_frame = true"))
    line = next(i for i, s in enumerate(path.read_text().splitlines(), 1) if s == "[switch]")
    r = lems("serve", d)
    assert r.returncode == 2
    assert "LISTENING" not in r.stdout
    assert f"{path}:{line}:" in r.stderr
    assert "[switch.max_frame]" in r.stderr and "not a boolean" in r.stderr


def test_serve_without_a_lab(tmp_path):
    r = lems("serve", tmp_path)
    assert r.returncode == 2
    assert str(tmp_path / "lab.toml") in r.stderr and "cannot read" in r.stderr


# ---------------------------------------------------------------------- administration


def db_state(lab) -> tuple[int, list[tuple], list[tuple]]:
    conn = sqlite3.connect(str(lab.database))
    try:
        version = int(
            conn.execute("SELECT value FROM meta WHERE key = 'directory_version'").fetchone()[0]
        )
        agencies = conn.execute("SELECT ori, suspended, reason FROM agency_state").fetchall()
        operators = conn.execute("SELECT operator, failures, locked FROM operator_state").fetchall()
        return version, agencies, operators
    finally:
        conn.close()


def test_operator_unlock(tmp_path):
    lab = demo_lab(tmp_path)
    conn = store.connect(lab.database)
    conn.execute("INSERT INTO operator_state (operator, failures, locked) VALUES ('OP01', 5, 1)")
    conn.close()
    r = lems("operator", "list", tmp_path, columns=200)
    assert r.returncode == 0 and "LOCKED" in r.stdout

    r = lems("operator", "unlock", tmp_path, "OP01")
    assert r.returncode == 0, r.stderr
    assert "operator OP01 unlocked" in r.stdout
    assert db_state(lab) == (1, [], [("OP01", 0, 0)])
    assert "LOCKED" not in lems("operator", "list", tmp_path, columns=200).stdout

    # unlocking an operator who never failed creates a clean row
    assert lems("operator", "unlock", tmp_path, "OP02").returncode == 0
    assert db_state(lab) == (2, [], [("OP01", 0, 0), ("OP02", 0, 0)])


def test_operator_unlock_refuses_unknown_operator(tmp_path):
    lab = demo_lab(tmp_path)
    r = lems("operator", "unlock", tmp_path, "NOBODY")
    assert r.returncode == 2
    assert "operator NOBODY is not in" in r.stderr and "lab.toml" in r.stderr
    assert db_state(lab) == (0, [], [])


def test_agency_suspend_reinstate_list(tmp_path):
    lab = demo_lab(tmp_path)
    r = lems("agency", "suspend", tmp_path, "OR0240000", "--reason", "AUDIT FINDING")
    assert r.returncode == 0, r.stderr
    assert "agency OR0240000 suspended" in r.stdout
    assert db_state(lab) == (1, [("OR0240000", 1, "AUDIT FINDING")], [])

    d = Directory(lab)  # what a running switch would see
    conn = store.connect(lab.database)
    assert d.load_state(conn) and d.suspended == {"OR0240000": "AUDIT FINDING"}

    r = lems("agency", "list", tmp_path, columns=250)
    assert r.returncode == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if "OR0240000" in line)
    assert "SUSPENDED AUDIT FINDING" in row
    assert sum("SUSPENDED" in line for line in r.stdout.splitlines()) == 1
    assert all(ori in r.stdout for ori in lab.agencies)

    r = lems("agency", "reinstate", tmp_path, "OR0240000")
    assert r.returncode == 0, r.stderr
    assert "agency OR0240000 reinstated" in r.stdout
    assert db_state(lab) == (2, [("OR0240000", 0, "")], [])
    assert d.load_state(conn) and d.suspended == {}
    conn.close()
    assert "SUSPENDED" not in lems("agency", "list", tmp_path, columns=250).stdout


@pytest.mark.parametrize("action", ["suspend", "reinstate"])
def test_agency_refuses_unknown_ori(tmp_path, action):
    lab = demo_lab(tmp_path)
    r = lems("agency", action, tmp_path, "OR0990000")
    assert r.returncode == 2
    assert "ORI OR0990000 is not an agency" in r.stderr
    assert db_state(lab) == (0, [], [])


def test_admin_refuses_a_broken_lab(tmp_path):
    path = demo_lab(tmp_path).path
    path.write_text(path.read_text().replace('type = "PD"', 'type = "XX"', 1))
    r = lems("agency", "list", tmp_path)
    assert r.returncode == 2
    assert "agency[2].type" in r.stderr and str(tmp_path / "lab.toml") in r.stderr


def test_parse_reads_nlets_xml():
    from formats import nlets_xml
    from formats.grammar import parse

    xml = nlets_xml.encode_request(parse("DQ.OR0240000.TX.*C1.TXT\nOLN/D1.RSN/N"))
    r = lems("parse", "-", stdin=xml + "\n<n2:NLETS\n")
    assert r.returncode == 1
    good, bad = parsed(r)
    assert (good["key"], good["destinations"], good["control"], good["fields"]) == (
        "DQ",
        ["TX"],
        "C1",
        [["OLN", "D1"], ["RSN", "N"]],
    )
    assert bad["reject"]["code"] == ".03." and "NOT WELL-FORMED" in bad["reject"]["reason"]


def test_version_names_the_installed_distribution():
    from importlib.metadata import version

    r = lems("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"lems {version('lems-sim')}"
