"""Scripted terminals: the script language, and scripts run against a real switch on loopback,
one terminal and many at once, through the library and through ``lems terminal``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from support import demo_lab, running_switch, wait

from terminals.client import parse_output
from terminals.script import (
    Credentials,
    ScriptError,
    pairs_of,
    parse_script,
    reject_code,
    run_many,
    run_terminal,
)

LEMS = str(Path(sys.executable).with_name("lems"))

ADMIN_SCRIPT = """\
# talk to ourselves: an AM to our own ORI comes back to every terminal of the ORI
send AM.${ORI}.${ORI}.TXT\\
HELLO FROM ${TERMINAL}
expect AM contains "HELLO FROM ${TERMINAL}" field ORIGIN=${ORI} within 5
send QW.${ORI}.NAM/DOE,JOHN
expect REJ code MISSING-FIELD field FLD=DOB save FLD=missing
"""


def test_script_send_takes_the_natural_form():
    script = parse_script(
        "send AM.${ORI}.${ORI}.TXT\nHELLO\nSECOND LINE\n\n"
        "send QW.${ORI}.NAM/DOE,JOHN\nwait 1\n"
        "send AM.${ORI}.${ORI}.TXT\nAT THE END\n"
    )
    assert [(s.verb, s.text) for s in script.steps] == [
        ("send", "AM.${ORI}.${ORI}.TXT\nHELLO\nSECOND LINE"),
        ("send", "QW.${ORI}.NAM/DOE,JOHN"),
        ("wait", ""),
        ("send", "AM.${ORI}.${ORI}.TXT\nAT THE END"),
    ]


def test_script_language_reads_steps_and_refuses_bad_lines():
    script = parse_script(ADMIN_SCRIPT)
    verbs = [s.verb for s in script.steps]
    assert verbs == ["send", "expect", "send", "expect"]
    assert script.steps[0].text == "AM.${ORI}.${ORI}.TXT\nHELLO FROM ${TERMINAL}"
    assert script.steps[1].within == 5 and script.steps[1].fields == [("ORIGIN", "${ORI}")]
    assert script.steps[3].code == "MISSING-FIELD" and script.steps[3].saves == [("FLD", "missing")]
    with pytest.raises(ScriptError, match="line 2: unknown step 'sned'"):
        parse_script("wait 1\nsned QW")
    with pytest.raises(ScriptError, match="unknown expect option 'contain'"):
        parse_script("expect HIT contain X")


def test_pairs_and_reject_code_from_output():
    out = parse_output(
        "OSN/0000003 TRM/T01 DTE/20261123 TIM/101010\nREJ.OR0240000\n"
        "REJECT CODE/MISSING-FIELD FLD/RAC\nMISSING MANDATORY FIELD RAC\n"
        "ORIGINAL MESSAGE\nEW.OR0240000.NAM/DOE,JOHN.SEX/M"
    )
    assert reject_code(out) == "MISSING-FIELD"
    pairs = pairs_of(out)
    assert pairs["FLD"] == "RAC" and pairs["NAM"] == "DOE,JOHN" and pairs["SEX"] == "M"


async def test_script_passes_against_a_switch_and_saves_values(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        result = await wait(
            _d(
                run_terminal(
                    reactor,
                    switch.endpoint,
                    Credentials("T01", "OP01", "train-01"),
                    parse_script(ADMIN_SCRIPT),
                )
            )
        )
        assert result.passed, result.summary()
        assert result.sent == 2 and result.variables["missing"] == "DOB"


async def test_failing_step_names_line_and_reason(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        script = parse_script("send QW.${ORI}.NAM/DOE,JOHN\nexpect HIT within 1\n")
        result = await wait(
            _d(
                run_terminal(
                    reactor, switch.endpoint, Credentials("T01", "OP01", "train-01"), script
                )
            )
        )
        assert not result.passed and result.line == 2
        assert result.reason == "no HIT within 1 s; received REJ"
        bad = await wait(
            _d(run_terminal(reactor, switch.endpoint, Credentials("T01", "OP01", "wrong"), script))
        )
        assert not bad.passed and "sign-on refused" in bad.reason


async def test_many_terminals_with_a_rate_cap(tmp_path, reactor):
    async with running_switch(demo_lab(tmp_path), reactor) as switch:
        creds = [Credentials(f"T{i:02d}", f"OP{i:02d}", f"train-{i:02d}") for i in (1, 3, 4, 6)]
        script = parse_script("send QW.${ORI}.NAM/DOE,JOHN\nexpect REJ code MISSING-FIELD\n")
        loop = asyncio.get_running_loop()
        start = loop.time()
        results = await wait(
            _d(run_many(reactor, switch.endpoint, creds, script, rate=20, repeat=3))
        )
        took = loop.time() - start
        assert [r.passed for r in results] == [True] * 4, [r.summary() for r in results]
        assert sum(r.sent for r in results) == 12
        assert took >= 11 / 20 * 0.9  # 12 sends at 20 a second take at least ~0.55 s
        assert switch.stats["refused:MISSING-FIELD"] + switch.stats["frames_in"] >= 12


async def test_lems_terminal_script_command_exit_status(tmp_path, reactor):
    lab = demo_lab(tmp_path)
    good = tmp_path / "good.script"
    good.write_text(ADMIN_SCRIPT)
    bad = tmp_path / "bad.script"
    bad.write_text("send QW.${ORI}.NAM/DOE,JOHN.DOB/19800101\nexpect REJ within 2\n")
    async with running_switch(lab, reactor) as switch:
        code, out = await _run(
            LEMS,
            "terminal",
            switch.endpoint,
            "--lab",
            str(tmp_path),
            "--script",
            str(good),
            "--count",
            "3",
        )
        assert code == 0, out
        assert "3/3 terminals passed, 6 messages sent" in out
        code, out = await _run(
            LEMS,
            "terminal",
            switch.endpoint,
            "--lab",
            str(tmp_path),
            "--terminal",
            "T01",
            "--script",
            str(bad),
        )
        assert code == 1
        assert "T01: FAIL at line 2: no REJ within 2 s" in out


async def _run(*argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


def _d(coro):
    from twisted.internet.defer import Deferred

    return Deferred.fromFuture(asyncio.ensure_future(coro))
