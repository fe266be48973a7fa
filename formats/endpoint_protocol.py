"""The switch <-> national endpoint wire: one JSON object per length-framed frame.

Frames (``formats.framing`` ``length`` framing carries them, CRC-checked):

* ``{"t": "req", "id": 7, "ori": "OR0240000", "trm": "T01", "text": "QW.OR0240000...."}`` a
  transaction as the terminal typed it, with a correlation id;
* ``{"t": "rsp", "id": 7, "bodies": ["HIT.OR0240000\\n...", ...], "sensitive": ""}`` the
  endpoint's answers to that request (zero or more bodies, each a whole message);
* ``{"t": "uns", "ori": "OR0240000", "trm": "", "body": "...", "sensitive": ""}`` unsolicited
  traffic for an ORI (a ``$.L.`` locate notice, a delayed NICS decision, a CR from a state);
  ``trm`` names the terminal when the endpoint knows which one asked;
* ``{"t": "ping", "id": 8}`` / ``{"t": "pong", "id": 8}`` link heartbeat (faults apply);
* ``{"t": "ctl", "faults": {...}}`` the switch's operator console: fault settings and down/up.
  Control frames bypass the faults, as the real systems' consoles are not on the data line.

JSON keeps the bodies' line breaks and any character intact; the codec is pure. It is orjson
(already the recordings' codec): a frame crosses the codec four times per national transaction,
and orjson encodes and decodes one in a fraction of the standard library's time. Its output is
standard JSON (UTF-8, no ASCII escapes), so either end may be an older release.
"""

from __future__ import annotations

from typing import Any

import orjson

from formats.errors import FormatError

FRAMING = "length"
MAX_FRAME = 1 << 22
KINDS = ("req", "rsp", "uns", "ping", "pong", "ctl")


def encode(frame: dict[str, Any]) -> bytes:
    return orjson.dumps(frame)


def decode(payload: bytes) -> dict[str, Any]:
    """One frame; ``FormatError`` when it is not a JSON object of a known kind."""
    try:
        frame = orjson.loads(payload)
    except (ValueError, TypeError) as e:
        raise FormatError(f"endpoint frame is not JSON: {e}") from e
    if not isinstance(frame, dict) or frame.get("t") not in KINDS:
        raise FormatError(f"endpoint frame of unknown kind: {str(frame)[:60]}")
    return frame


def request(corr: int, ori: str, terminal: str, text: str) -> bytes:
    return encode({"t": "req", "id": corr, "ori": ori, "trm": terminal, "text": text})


def response(corr: int, bodies: list[str], sensitive: str = "") -> bytes:
    return encode({"t": "rsp", "id": corr, "bodies": bodies, "sensitive": sensitive})


def unsolicited(ori: str, body: str, terminal: str = "", sensitive: str = "") -> bytes:
    return encode({"t": "uns", "ori": ori, "trm": terminal, "body": body, "sensitive": sensitive})
