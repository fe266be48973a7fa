"""Scripted terminals: send messages, wait for answers, assert on them, report pass or fail.

A script is a text file, one step a line (``#`` starts a comment)::

    send QW.${ORI}.NAM/DOE,JOHN.DOB/19800101
    expect NRC contains "NO NCIC WANT" within 5
    send EW.${ORI}.NAM/DOE,JOHN.SEX/M
    expect REJ code MISSING-FIELD field FLD=RAC
    expect YQ save NIC=nic save ORIGIN=ori          # ORIGIN is the sender of relayed traffic
    send YR.${ORI}.${ori}.TXT
    RTY/WP.RNO/1.CON/Y.NIC/${nic}.RNA/DISPATCH

    wait 2

A ``send`` takes its message as a terminal types it (docs/WIRE.md): an NCIC transaction is one
line; an Nlets header ending in ``.TXT`` takes the text lines after it up to an empty line; a
line ending in ``\\`` continues on the next (still accepted, never needed).

``expect KEY`` (``*`` for any key) waits for the next message with that key that satisfies the
options; other messages that arrive meanwhile are passed over (a lab has background traffic, and
terminals of one ORI see each other's traffic) and named in the failure if the wanted one never
comes, with the reason the last message of that key did not match. The options: ``contains
TEXT``, ``lacks TEXT``, ``code CODE`` (the reject code, ``REJECT CODE/…`` or an Nlets ``.22.``),
``field CODE=VALUE`` (a ``CODE/value`` pair anywhere in the body; ``field CODE`` only asks that
it is there), ``within SECONDS`` (default 10), ``save CODE=NAME`` (keep a value for ``${NAME}``).
``${TERMINAL}``, ``${OPERATOR}`` and ``${ORI}`` (the terminal's first ORI, from the sign-on
answer) are always set.

The runner is an asyncio coroutine on the reactor's loop; it knows the switch only through a
``TerminalClient``, so a script runs against a switch on another machine as well.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.internet.interfaces import IReactorTime

from formats.errors import LemsError
from formats.framing import Frame, LineFramer
from terminals.client import Output, TerminalClient, TimeoutError

__all__ = [
    "Credentials",
    "Pacer",
    "Result",
    "Script",
    "ScriptError",
    "Step",
    "load_script",
    "pairs_of",
    "parse_script",
    "reject_code",
    "run_many",
    "run_script",
    "run_terminal",
    "sign_on",
    "son_variables",
]

DEFAULT_WITHIN = 10.0
PAIR = re.compile(r"(?<![A-Z0-9])([A-Z]{2,4})/([^\s.]*(?:\.[^\s.]+)*?)(?=[\s.]|$)")
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ScriptError(LemsError):
    """A script that cannot be read: the file, the line and what is wrong."""


@dataclass(slots=True)
class Step:
    """One line of a script."""

    line: int
    verb: str
    text: str = ""
    key: str = "*"
    contains: list[str] = field(default_factory=list)
    lacks: list[str] = field(default_factory=list)
    code: str = ""
    fields: list[tuple[str, str | None]] = field(default_factory=list)
    saves: list[tuple[str, str]] = field(default_factory=list)
    within: float = DEFAULT_WITHIN
    seconds: float = 0.0


@dataclass(slots=True)
class Script:
    name: str
    steps: list[Step]


@dataclass(slots=True)
class Result:
    """What a script run came to: ``passed``, the failing step's line and reason, counts."""

    terminal: str
    passed: bool = True
    line: int = 0
    reason: str = ""
    sent: int = 0
    received: int = 0
    seconds: float = 0.0
    variables: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        head = f"{self.terminal}: {'PASS' if self.passed else 'FAIL'}"
        tail = f" ({self.sent} sent, {self.received} received, {self.seconds:.2f} s)"
        if self.passed:
            return head + tail
        return f"{head} at line {self.line}: {self.reason}{tail}"


def parse_script(text: str, name: str = "<script>") -> Script:
    steps: list[Step] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        number = i + 1
        line = lines[i]
        i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        verb, _, rest = stripped.partition(" ")
        verb = verb.lower()
        if verb == "send":
            # The message as a terminal types it (the switch's rule, docs/WIRE.md): a .TXT
            # header takes the text lines after it up to an empty line; \\ continues a line.
            if not rest.strip():
                raise ScriptError(f"{name} line {number}: send needs a message")
            reader = LineFramer(max_length=1 << 20)
            events = reader.feed(rest.strip().encode("latin-1", "replace") + b"\n")
            while not events and reader.buffered and i < len(lines):
                events = reader.feed(lines[i].strip().encode("latin-1", "replace") + b"\n")
                i += 1
            if not events:
                events = reader.finish()
            for event in events:
                if type(event) is Frame:
                    steps.append(Step(number, "send", text=event.payload.decode("latin-1")))
        elif verb == "expect":
            steps.append(_expect(rest, name, number))
        elif verb == "wait":
            try:
                steps.append(Step(number, "wait", seconds=float(rest)))
            except ValueError:
                raise ScriptError(
                    f"{name} line {number}: wait needs seconds, not {rest!r}"
                ) from None
        else:
            raise ScriptError(f"{name} line {number}: unknown step {verb!r} (send, expect, wait)")
    return Script(name, steps)


def _expect(rest: str, name: str, number: int) -> Step:
    try:
        tokens = shlex.split(rest, comments=True)
    except ValueError as e:
        raise ScriptError(f"{name} line {number}: {e}") from None
    if not tokens:
        raise ScriptError(f"{name} line {number}: expect needs a key (or *)")
    step = Step(number, "expect", key=tokens[0].upper())
    it = iter(tokens[1:])
    for option in it:
        value = next(it, None)
        if value is None:
            raise ScriptError(f"{name} line {number}: {option} needs a value")
        if option == "contains":
            step.contains.append(value)
        elif option == "lacks":
            step.lacks.append(value)
        elif option == "code":
            step.code = value.upper()
        elif option == "field":
            code, eq, want = value.partition("=")
            step.fields.append((code.upper(), want if eq else None))
        elif option == "save":
            code, eq, var = value.partition("=")
            if not eq or not var:
                raise ScriptError(f"{name} line {number}: save CODE=NAME")
            step.saves.append((code.upper(), var))
        elif option == "within":
            try:
                step.within = float(value)
            except ValueError:
                raise ScriptError(f"{name} line {number}: within needs seconds") from None
        else:
            raise ScriptError(
                f"{name} line {number}: unknown expect option {option!r} "
                "(contains, lacks, code, field, save, within)"
            )
    return step


def load_script(path: str | Path) -> Script:
    p = Path(path)
    try:
        return parse_script(p.read_text("utf-8"), str(p))
    except OSError as e:
        raise ScriptError(f"cannot read script {p}: {e.strerror}") from e


def pairs_of(out: Output) -> dict[str, str]:
    """``CODE/value`` pairs of a body (first non-empty value of each code: a caveat's ``USE QR
    WITH FBI/ OR SID/`` names codes, it gives no value), plus ORIGIN for Nlets traffic (the
    sender on the first line) and KEY."""
    found: dict[str, str] = {"KEY": out.key, "ORIGIN": out.ori}
    for line in out.lines[1:]:
        for code, value in PAIR.findall(line):
            if not found.get(code):
                found[code] = value
    return found


def reject_code(out: Output) -> str:
    """``MISSING-FIELD`` from a REJ, ``.22.`` from an ER, "" otherwise."""
    for line in out.lines[1:]:
        if line.startswith("REJECT CODE/"):
            return line.split()[1].partition("/")[2]
        m = re.match(r"(\.\d\d\.)\s", line)
        if m and out.key == "ER":
            return m.group(1)
    return ""


def check(step: Step, out: Output, variables: dict[str, str]) -> str:
    """Why ``out`` does not satisfy ``step`` ("" when it does); saves variables on success."""
    body = out.body
    for text in step.contains:
        want = substitute(text, variables)
        if want not in body:
            return f"{out.key} does not contain {want!r}"
    for text in step.lacks:
        bad = substitute(text, variables)
        if bad in body:
            return f"{out.key} contains {bad!r}"
    if step.code and reject_code(out) != step.code:
        return f"reject code is {reject_code(out) or 'none'!r}, expected {step.code!r}"
    pairs = pairs_of(out)
    for code, wanted in step.fields:
        value = pairs.get(code)
        if value is None:
            return f"{out.key} has no field {code}"
        if wanted is not None and value != substitute(wanted, variables):
            return f"field {code} is {value!r}, expected {substitute(wanted, variables)!r}"
    for code, _var in step.saves:
        if code not in pairs:
            return f"{out.key} has no field {code} to save"
    for code, var in step.saves:
        variables[var] = pairs[code]
    return ""


def substitute(text: str, variables: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in variables:
            raise KeyError(name)
        return variables[name]

    return VAR.sub(one, text)


async def aw(d: Any) -> Any:
    """Await a Deferred from an asyncio task on the reactor's loop."""
    return await d.asFuture(asyncio.get_running_loop())


async def run_script(
    client: TerminalClient,
    script: Script,
    variables: dict[str, str],
    *,
    pace: Callable[[], Any] | None = None,
    on_output: Callable[[Output], None] | None = None,
) -> Result:
    """Run ``script`` on a signed-on ``client``. ``pace`` is awaited before each send (rate
    limiting); ``on_output`` sees every message received."""
    result = Result(variables.get("TERMINAL", ""), variables=variables)
    start = time.monotonic()
    for step in script.steps:
        try:
            reason = await _step(client, step, variables, result, pace, on_output)
        except KeyError as e:
            reason = f"variable ${{{e.args[0]}}} is not set"
        if reason:
            result.passed, result.line, result.reason = False, step.line, reason
            break
    result.seconds = time.monotonic() - start
    return result


async def _step(
    client: TerminalClient,
    step: Step,
    variables: dict[str, str],
    result: Result,
    pace: Callable[[], Any] | None,
    on_output: Callable[[Output], None] | None,
) -> str:
    if step.verb == "send":
        text = substitute(step.text, variables)
        if pace is not None:
            await pace()
        if not client.connected:
            return "link to the switch is down"
        client.send(text)
        result.sent += 1
        return ""
    if step.verb == "wait":
        await asyncio.sleep(step.seconds)
        return ""
    passed_over: list[str] = []
    last_mismatch = ""
    deadline = time.monotonic() + step.within
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            out = await aw(client.next(left))
        except TimeoutError:
            break
        result.received += 1
        if on_output is not None:
            on_output(out)
        if step.key not in ("*", out.key):
            passed_over.append(out.key)
            continue
        mismatch = check(step, out, variables)
        if not mismatch:
            return ""
        passed_over.append(out.key)
        last_mismatch = mismatch
    if last_mismatch:
        return f"{last_mismatch} (waited {step.within:g} s)"
    seen = f"; received {', '.join(passed_over)}" if passed_over else "; nothing received"
    return f"no {step.key if step.key != '*' else 'message'} within {step.within:g} s{seen}"


@dataclass(frozen=True, slots=True)
class Credentials:
    """How one terminal signs on."""

    terminal: str
    operator: str
    password: str


async def sign_on(
    reactor: IReactorTime, endpoint: str, cred: Credentials, client: TerminalClient | None = None
) -> tuple[TerminalClient, Output]:
    """Connect and sign on; the answer is SON or a REJ (the caller decides what to do)."""
    client = client or TerminalClient(reactor)
    await aw(client.connect(endpoint))
    son = await aw(client.logon(cred.terminal, cred.operator, cred.password))
    return client, son


def son_variables(cred: Credentials, son: Output) -> dict[str, str]:
    """``TERMINAL``, ``OPERATOR`` and ``ORI`` (the first ``ORI/`` of the sign-on answer)."""
    oris = re.findall(r"ORI/([A-Z0-9]{9})", son.body)
    return {"TERMINAL": cred.terminal, "OPERATOR": cred.operator, "ORI": oris[0] if oris else ""}


class Pacer:
    """At most ``rate`` sends a second across every terminal sharing it (0: no limit)."""

    def __init__(self, rate: float) -> None:
        self.gap = 1.0 / rate if rate > 0 else 0.0
        self.next = time.monotonic()

    async def __call__(self) -> None:
        if not self.gap:
            return
        now = time.monotonic()
        slot = max(now, self.next)
        self.next = slot + self.gap
        if slot > now:
            await asyncio.sleep(slot - now)


async def run_terminal(
    reactor: IReactorTime,
    endpoint: str,
    cred: Credentials,
    script: Script,
    *,
    repeat: int = 1,
    pace: Callable[[], Any] | None = None,
    on_output: Callable[[Output], None] | None = None,
    variables: dict[str, str] | None = None,
) -> Result:
    """Sign on, run ``script`` ``repeat`` times (0: until cancelled), sign off; ``variables``
    are set for ``${NAME}`` besides the sign-on's (an exercise's ``${CASE}``)."""
    try:
        client, son = await sign_on(reactor, endpoint, cred)
    except Exception as e:
        return Result(cred.terminal, False, 0, f"cannot reach the switch at {endpoint}: {e}")
    if son.key != "SON":
        client.close()
        reason = next((x for x in son.lines[2:3]), son.body)
        return Result(cred.terminal, False, 0, f"sign-on refused: {reason}")
    variables = {**(variables or {}), **son_variables(cred, son)}
    total = Result(cred.terminal, variables=variables)
    n = 0
    try:
        while repeat == 0 or n < repeat:
            n += 1
            r = await run_script(client, script, variables, pace=pace, on_output=on_output)
            total.sent += r.sent
            total.received += r.received
            total.seconds += r.seconds
            if not r.passed:
                total.passed, total.line, total.reason = False, r.line, r.reason
                break
    finally:
        client.close()
    return total


async def run_many(
    reactor: IReactorTime,
    endpoint: str,
    creds: list[Credentials],
    script: Script,
    *,
    rate: float = 0.0,
    repeat: int = 1,
    on_output: Callable[[Output], None] | None = None,
) -> list[Result]:
    """Many scripted terminals at once (lab background traffic); ``rate`` caps the total sends
    a second across all of them."""
    pace = Pacer(rate) if rate > 0 else None
    return list(
        await asyncio.gather(
            *(
                run_terminal(
                    reactor, endpoint, c, script, repeat=repeat, pace=pace, on_output=on_output
                )
                for c in creds
            )
        )
    )
