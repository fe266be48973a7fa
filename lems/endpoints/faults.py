"""Faults of a national endpoint, applied on the endpoint's side of the link.

A real NCIC or Nlets is slow sometimes, loses a message now and then, answers with a system error,
and goes down for maintenance. ``Faults`` decides, per answer, whether and when it goes out:
``latency_ms`` fixed plus uniform ``jitter_ms``; ``drop_rate`` answers never sent; ``error_rate``
answers replaced by the system's error message; ``down`` nothing answered at all (requests and
heartbeats alike) until it is up again. The random source is seeded so a lab run can be repeated.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

DELIVER, DROP, ERROR = "deliver", "drop", "error"


@dataclass(slots=True)
class Faults:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    drop_rate: float = 0.0
    error_rate: float = 0.0
    down: bool = False
    rng: random.Random = field(default_factory=lambda: random.Random(1), repr=False)

    def decide(self) -> str:
        """What happens to the next answer: deliver, drop or error."""
        if self.down:
            return DROP
        r = self.rng.random()
        if r < self.drop_rate:
            return DROP
        if r < self.drop_rate + self.error_rate:
            return ERROR
        return DELIVER

    def delay(self) -> float:
        """Seconds (reactor time) before the answer goes out."""
        ms = self.latency_ms + (self.rng.uniform(0, self.jitter_ms) if self.jitter_ms else 0.0)
        return max(ms, 0.0) / 1000.0

    def settings(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("rng")
        return d

    def update(self, settings: dict[str, Any]) -> None:
        for name in ("latency_ms", "jitter_ms", "drop_rate", "error_rate"):
            if name in settings:
                setattr(self, name, float(settings[name]))
        if "down" in settings:
            self.down = bool(settings["down"])
