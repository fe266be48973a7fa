"""``lems parse``: parse and validate messages, print JSON per message."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from formats.rejects import RejectCode


def register(sub: Any) -> None:
    s = sub.add_parser(
        "parse",
        help="parse and validate messages, print JSON per message",
        description="Read messages as a terminal types them (an NCIC transaction "
        "is one line; an Nlets header line ending in .TXT, its text lines and an "
        "empty line are one message; a line ending in \\ continues; see "
        "docs/WIRE.md) and print one JSON object per message; a line starting "
        "with < is read as Nlets XML (n2:NLETS). Exit 1 if any is rejected.",
    )
    s.add_argument("file", nargs="?", default="-", help="file to read, or - for stdin")
    s.set_defaults(func=cmd_parse)


def cmd_parse(args: argparse.Namespace) -> int:
    from formats import nlets_xml
    from formats.errors import Reject
    from formats.framing import Frame, LineFramer
    from formats.grammar import Parser
    from formats.responses import reject

    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    framer = LineFramer(max_length=1 << 20)
    parser = Parser()
    ok = True
    for event in framer.feed(data) + framer.finish():
        if not isinstance(event, Frame):
            ok = False
            print(
                json.dumps(
                    {
                        "ok": False,
                        "reject": {
                            "code": RejectCode.BAD_FRAME,
                            "field": None,
                            "reason": getattr(event, "reason", ""),
                        },
                    }
                )
            )
            continue
        text = event.payload.decode("latin-1")
        result = _check_xml(parser, text) if nlets_xml.is_xml(text) else parser.check(text)
        if isinstance(result, Reject):
            ok = False
            ori = text.split(".")[1][:9] if text.count(".") else ""
            print(
                json.dumps({"ok": False, "reject": result.as_dict(), "text": reject(result, ori)})
            )
        else:
            m = result
            print(
                json.dumps(
                    {
                        "ok": True,
                        "key": m.full_key,
                        "ori": m.ori,
                        "destinations": m.destinations,
                        "control": m.control,
                        "fields": [list(f) for f in m.fields],
                        "text": m.text,
                    }
                )
            )
    return 0 if ok else 1


def _check_xml(parser: Any, text: str) -> Any:
    """An Nlets XML message, read by the XML codec and checked as its legacy form."""
    from formats import nlets_xml
    from formats.errors import RejectError

    try:
        return parser.check(nlets_xml.to_legacy(nlets_xml.decode(text)))
    except RejectError as e:
        return e.reject.with_input(text)
