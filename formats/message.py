"""The ``Message`` value: one parsed transaction or response."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Message:
    """One transaction as the grammar read it.

    ``key`` is the message key without suffix (``EV``), ``suffix`` the typed suffix (``P`` for
    ``EV-P``) or ``""``.  ``ori`` is the sender ORI (for positional keys such as LOGON, the first
    positional token).  ``destinations`` and ``control`` come from an Nlets-style header.
    ``fields`` keeps every ``CODE/value`` pair in the order typed, repeats included; ``text`` is
    the free text of a message whose body is not fields (AM, YR remarks), and ``args`` the
    positional tokens of a positional key.  ``raw`` is the original input, untouched.
    """

    key: str
    ori: str = ""
    destinations: list[str] = field(default_factory=list)
    control: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""
    suffix: str = ""
    args: list[str] = field(default_factory=list)
    raw: str = ""

    @property
    def full_key(self) -> str:
        """The key as typed, suffix included (``EV-P``)."""
        return f"{self.key}-{self.suffix}" if self.suffix else self.key

    def get(self, code: str, default: str | None = None) -> str | None:
        """The first value of field ``code``."""
        for c, v in self.fields:
            if c == code:
                return v
        return default

    def get_all(self, code: str) -> list[str]:
        """Every value of a repeatable field, in order."""
        return [v for c, v in self.fields if c == code]

    def has(self, code: str) -> bool:
        return any(c == code for c, _ in self.fields)

    def field_map(self) -> dict[str, str]:
        """First value of each field; convenient for lookups that ignore repeats."""
        out: dict[str, str] = {}
        for c, v in self.fields:
            out.setdefault(c, v)
        return out
