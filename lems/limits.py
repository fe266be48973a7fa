"""Per-link limits: what one peer may cost the switch before anyone else pays for it.

* Before sign-on a link may send ``presignon_frames`` (8) frames; each is journaled with at most
  ``PRE_SIGNON_BYTES`` of its text (a longer one as its head, its length and a SHA-256 digest).
  The next frame closes the link, and what it sent is journaled as one row: a count and a digest.
  A link that has not signed on ``signon_timeout`` seconds after it connected is closed.
* Rates (token buckets, like Kafka's client quotas): each signed-on terminal may send
  ``rate_frames`` frames and ``rate_bytes`` bytes per second, each source address of links not
  signed on ``source_frames`` / ``source_bytes``; a burst of one second's worth is allowed
  (``ACK.<osn>`` frames are not counted: they answer the switch's own output). The first frame
  over the limit is refused with ``REJ … REJECT CODE/RATE-LIMIT`` (journaled at most once a
  second per terminal or address); then the link is not read for
  a second (TCP makes the sender wait, as Kafka throttles a client over its quota); frames read
  meanwhile are counted and answered by one ``NTC`` (``RATE LIMIT - N MORE FRAMES NOT
  ACCEPTED``). The link stays up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

PRE_SIGNON_BYTES = 256


def shortened(text: str, limit: int = PRE_SIGNON_BYTES) -> str:
    """``text`` as it may be journaled before sign-on: its head, its length and its digest."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("latin-1", "replace")).hexdigest()[:16]
    return f"{text[:limit]}...[{len(text)} BYTES SHA256/{digest}]"


@dataclass(slots=True)
class Bucket:
    """Frames and bytes per second, with a burst of one second's worth."""

    frames: float
    bytes: float
    at: float
    f_left: float = 0.0
    b_left: float = 0.0
    refused_at: float = -1e9
    """When a refusal for this bucket was last journaled (at most one a second)."""

    def __post_init__(self) -> None:
        self.f_left, self.b_left = self.frames, self.bytes

    def take(self, now: float, size: int) -> bool:
        elapsed = max(0.0, now - self.at)
        self.at = now
        self.f_left = min(self.frames, self.f_left + elapsed * self.frames)
        self.b_left = min(self.bytes, self.b_left + elapsed * self.bytes)
        if self.f_left < 1 or self.b_left < size:
            return False
        self.f_left -= 1
        self.b_left -= size
        return True


@dataclass(slots=True)
class Rates:
    """Buckets by key (a terminal, a source address); a limit of 0 turns the check off."""

    frames: float
    bytes: float
    now: Callable[[], float]
    buckets: dict[str, Bucket] = field(default_factory=dict)

    def allow(self, key: str, size: int) -> Bucket | None:
        """None if the frame may pass, else the bucket it overflowed."""
        if self.frames <= 0 and self.bytes <= 0:
            return None
        t = self.now()
        b = self.buckets.get(key)
        if b is None:
            if len(self.buckets) > 10_000:  # bounded: drop the idlest
                for k in sorted(self.buckets, key=lambda k: self.buckets[k].at)[:1000]:
                    del self.buckets[k]
            b = self.buckets[key] = Bucket(
                self.frames or float("inf"), self.bytes or float("inf"), t
            )
        return None if b.take(t, size) else b

    def describe(self) -> str:
        parts = [
            f"{self.frames:g} FRAMES/S" if self.frames > 0 else "",
            f"{int(self.bytes)} BYTES/S" if self.bytes > 0 else "",
        ]
        return " AND ".join(p for p in parts if p)
