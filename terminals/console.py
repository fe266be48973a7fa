"""The interactive terminal: a prompt with line editing and history, messages as they arrive.

prompt_toolkit keeps the line being typed intact while answers and unsolicited traffic (admin
messages, ``$.`` notices, hit-confirmation requests) are printed above it (``patch_stdout``); it
runs on the asyncio loop that Twisted's asyncio reactor drives, so the link and the prompt share
one loop. Hits stand out, rejects are summarised (code, field, reason) before the full text, and
caveat lines are printed as they came. ``HELP [KEY]`` and ``FORM KEY`` read the format dictionary
(``terminals.forms``). Mailbox acknowledgements are the client's (automatic); a dropped link is
reconnected with backoff and signed on again, and the switch resends what was not acknowledged
(duplicates are dropped by OSN).

When standard input is not a terminal the console reads plain lines (for pipes and tests of the
logic), with the same commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet.interfaces import IReactorTime

from formats.dictionary import Dictionary
from formats.framing import Frame, LineFramer
from terminals.client import Output, TerminalClient, TimeoutError
from terminals.forms import Form, help_lines, key_list
from terminals.script import Credentials, aw, reject_code, sign_on, son_variables

__all__ = ["Console", "render"]

BANNERS = {
    "HIT": ("class:hit", "*** HIT - CONFIRM WITH THE ORI BEFORE ACTING (YQ) ***"),
    "NTF": ("class:notice", "*** NOTICE TO RECORD OWNER ***"),
    "YQ": ("class:notice", "*** HIT CONFIRMATION REQUEST - ANSWER WITH YR ***"),
    "YR": ("class:notice", "*** HIT CONFIRMATION RESPONSE ***"),
    "AM": ("class:admin", "--- ADMINISTRATIVE MESSAGE ---"),
    "AML": ("class:admin", "--- ADMINISTRATIVE MESSAGE (LAW ENFORCEMENT ONLY) ---"),
    "NTC": ("class:notice", "*** RECORD WITHHELD ***"),
    "SOF": ("class:reject", "*** SIGNED OFF ***"),
}
STYLE = {
    "hit": "bold reverse ansired",
    "reject": "bold ansired",
    "notice": "bold ansiyellow",
    "admin": "bold ansicyan",
    "info": "ansigreen",
    "body": "",
}


def render(out: Output) -> list[tuple[str, str]]:
    """(style, text) lines for one message: a banner for what needs attention, the body as
    received (caveats included), and for rejects a summary naming the field and the reason."""
    lines: list[tuple[str, str]] = []
    if out.key in ("REJ", "ER"):
        code = reject_code(out)
        field = next(
            (
                w.partition("/")[2]
                for line in out.lines[1:2]
                for w in line.split()
                if w.startswith("FLD/")
            ),
            "",
        )
        reason = _reject_reason(out)
        where = f" FIELD {field}" if field else ""
        lines.append(("class:reject", f"*** REJECTED {code}{where}: {reason} ***"))
    elif out.key in BANNERS:
        lines.append(BANNERS[out.key])
    body_style = "class:hit" if out.key == "HIT" else "class:body"
    for i, line in enumerate(out.frame.split("\n")):
        lines.append(("class:info" if i == 0 else body_style, line))
    return lines


def _reject_reason(out: Output) -> str:
    body = out.lines
    if out.key == "REJ" and len(body) > 2:
        return body[2]
    for line in body:
        if line[:1] == "." and line[3:4] == ".":
            return line[5:]
    return ""


class Console:
    """One interactive terminal session."""

    def __init__(
        self,
        reactor: IReactorTime,
        endpoint: str,
        cred: Credentials,
        *,
        dictionary: Dictionary | None = None,
        history: Path | None = None,
        interactive: bool | None = None,
    ) -> None:
        self.reactor = reactor
        self.endpoint = endpoint
        self.cred = cred
        self.dictionary = dictionary or Dictionary.default()
        self.history = history
        self.interactive = sys.stdin.isatty() if interactive is None else interactive
        self.client: TerminalClient | None = None
        self.variables: dict[str, str] = {}
        self.closing = False
        self.signed_off = False
        self._print: Callable[[list[tuple[str, str]]], None] = self._print_plain
        self._session: Any = None

    # ------------------------------------------------------------------ output

    def _print_plain(self, lines: list[tuple[str, str]]) -> None:
        for _, text in lines:
            print(text, flush=True)

    def _print_styled(self, lines: list[tuple[str, str]]) -> None:
        from prompt_toolkit import print_formatted_text
        from prompt_toolkit.formatted_text import FormattedText
        from prompt_toolkit.styles import Style

        parts: list[tuple[str, str]] = []
        for style, text in lines:
            parts += [(style, text), ("", "\n")]
        print_formatted_text(FormattedText(parts), end="", style=Style.from_dict(STYLE))

    def say(self, text: str, style: str = "class:info") -> None:
        self._print([(style, line) for line in text.split("\n")])

    # ------------------------------------------------------------------ link

    async def connect(self) -> bool:
        client, son = await sign_on(self.reactor, self.endpoint, self.cred, self._fresh_client())
        self._print(render(son))
        if son.key != "SON":
            client.close()
            return False
        self.client = client
        self.variables = son_variables(self.cred, son)
        return True

    def _fresh_client(self) -> TerminalClient:
        client = TerminalClient(self.reactor)
        if self.client is not None:
            client.seen = self.client.seen  # a resend after reconnecting is still a duplicate
        return client

    async def _reconnect(self) -> None:
        delay = 0.5
        self.say("*** LINK TO THE SWITCH LOST - RECONNECTING ***", "class:reject")
        while not self.closing:
            try:
                if await self.connect():
                    self.say("*** RECONNECTED - MAILBOX RESUMES ***")
                    return
                self.closing = True
                return
            except Exception as e:
                self.say(f"reconnect failed ({e.__class__.__name__}); retry in {delay:g} s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def receive(self) -> None:
        """Show every message as it arrives; reconnect when the link drops."""
        while not self.closing:
            client = self.client
            assert client is not None
            try:
                out = await aw(client.next(1.0))
            except TimeoutError:
                if not client.connected and not self.closing and not self.signed_off:
                    await self._reconnect()
                continue
            self._print(render(out))
            if out.key == "SOF":
                self.signed_off = True

    # ------------------------------------------------------------------ input

    async def _ask(self, prompt: str) -> str | None:
        if self.interactive:
            try:
                return str(await self._session.prompt_async(prompt))
            except (EOFError, KeyboardInterrupt):
                return None
        line = await asyncio.to_thread(sys.stdin.readline)
        return None if line == "" else line.rstrip("\n")

    def prompt_text(self) -> str:
        return f"{self.cred.terminal}> "

    async def handle(self, line: str) -> bool:
        """One typed line; False when the operator quits."""
        word, _, rest = line.strip().partition(" ")
        command = word.upper()
        if command in ("QUIT", "EXIT", "BYE"):
            return False
        if command in ("HELP", "?"):
            lines = (
                help_lines(self.dictionary, rest.strip())
                if rest.strip()
                else [
                    "TYPE A MESSAGE AND PRESS ENTER; AFTER A HEADER ENDING IN .TXT TYPE THE TEXT "
                    "LINES AND AN EMPTY LINE",
                    "HELP KEY shows a key's fields; FORM KEY builds a message field by field; "
                    "QUIT leaves",
                    *key_list(self.dictionary),
                ]
            )
            self.say("\n".join(lines), "class:body")
            return True
        if command == "FORM":
            await self.form(rest.strip())
            return True
        # The switch's own reading of a line link: an NCIC line goes at Enter; a .TXT header
        # line (or a line ending in \\) asks for more lines, an empty line ends them.
        reader = LineFramer(max_length=1 << 20)
        events = reader.feed(line.strip().encode("latin-1", "replace") + b"\n")
        while not events and reader.buffered:
            more = await self._ask("... ")
            if more is None:
                events = reader.finish()
                break
            events = reader.feed(more.rstrip().encode("latin-1", "replace") + b"\n")
        for event in events:
            if type(event) is Frame:
                self.send(event.payload.decode("latin-1"))
        return True

    def send(self, text: str) -> None:
        if self.client is None or not self.client.connected:
            self.say("*** LINK DOWN - MESSAGE NOT SENT ***", "class:reject")
            return
        self.client.send(text)

    async def form(self, key: str) -> None:
        if not key:
            self.say("FORM needs a key, e.g. FORM EW", "class:reject")
            return
        try:
            form = Form.start(self.dictionary, key, self.variables.get("ORI", ""))
        except KeyError:
            self.say(f"NO FORM FOR KEY {key.upper()} - HELP lists the keys", "class:reject")
            return
        self.say(
            f"FORM {form.spec.key} - {form.spec.label} (blank skips an optional field; "
            "CANCEL stops)"
        )
        while (p := form.current) is not None:
            mark = "*" if p.required else " "
            answer = await self._ask(f"{mark}{p.code} {p.label} [{p.hint}]: ")
            if answer is None or answer.strip().upper() == "CANCEL":
                self.say("FORM CANCELLED")
                return
            problem = form.answer(answer)
            if problem:
                self.say(problem, "class:reject")
        text = form.message()
        rej = form.problem()
        self.say(text, "class:body")
        if rej is not None:
            self.say(
                f"*** NOT SENT - {rej.code} {rej.field or ''}: {rej.reason} ***", "class:reject"
            )
            return
        confirm = await self._ask("SEND? [Y/n]: ")
        if confirm is not None and confirm.strip().upper() in ("", "Y", "YES"):
            self.send(text)

    async def run(self) -> int:
        """Sign on and run until QUIT or end of input. Exit status 0, or 1 if sign-on failed."""
        if self.interactive:
            from prompt_toolkit import PromptSession
            from prompt_toolkit.history import FileHistory, InMemoryHistory
            from prompt_toolkit.patch_stdout import patch_stdout

            history = FileHistory(str(self.history)) if self.history else InMemoryHistory()
            self._session = PromptSession(history=history)
            self._print = self._print_styled
            with patch_stdout(raw=True):
                return await self._run()
        return await self._run()

    async def _run(self) -> int:
        try:
            if not await self.connect():
                return 1
        except Exception as e:
            self.say(f"cannot reach the switch at {self.endpoint}: {e}", "class:reject")
            return 1
        receiver = asyncio.ensure_future(self.receive())
        try:
            while not self.signed_off:
                line = await self._ask(self.prompt_text())
                if line is None or not await self.handle(line):
                    break
        finally:
            self.closing = True
            if self.client is not None and self.client.connected:
                self.client.send(f"LOGOFF.{self.cred.terminal}")
                await asyncio.sleep(0.2)
                self.client.close()
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiver
        return 0
