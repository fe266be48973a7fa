"""Sign-on that no one can abuse: password hashes, one refusal text, delays, a fair lockout.

Passwords
    ``lab.toml`` holds ``password_hash = "scrypt$16384$8$1$<salt>$<key>"`` (``hashlib.scrypt``,
    base64 without padding). A lab written before keeps its clear ``password = "…"``: it still
    works (compared in constant time) and ``lems operator passwd`` replaces it with a hash.
    Checking a hash costs ~40 ms of CPU, so it runs in a thread, never on the reactor.

One refusal text
    An unknown terminal, an unknown operator, a wrong password and an operator not allowed on
    that terminal all get ``SIGN-ON REFUSED - TERMINAL, OPERATOR OR PASSWORD NOT VALID``. Only a
    peer that gave the right password learns more (not cleared, locked out): it already knows
    the secret.

Delays (per source address and per operator)
    After a failed sign-on, the refusal is sent only after a delay that doubles with each
    failure of that source address or that operator (``signon_delay`` seconds, then twice as
    long…, at most ``signon_delay_max``); counts are forgotten after 15 minutes without a
    failure and on a good sign-on. While a source waits for a refusal, any other sign-on from
    that address is refused at once without checking its password: one address can try at most
    one password per delay, whatever the number of its connections. A right password is never
    delayed by failures of others.

Lockout (per operator, only from where the operator works)
    ``lockout_after`` failures lock the operator until ``lems operator unlock`` — but only
    failures from an address where that operator has signed on successfully since the switch
    started, or over a TLS link whose client certificate names the terminal. A peer that never
    authenticated can slow its own guesses down, never lock someone else out. Peers sharing an
    address with the operator (one lab host, NAT) share its fate: give them TLS certificates.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass, field

REFUSED = "SIGN-ON REFUSED - TERMINAL, OPERATOR OR PASSWORD NOT VALID"
"""The one text for every refusal a peer without the password may see."""

BUSY = "SIGN-ON REFUSED - WAIT FOR THE ANSWER TO THE LAST SIGN-ON FROM THIS ADDRESS"

SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1
"""scrypt costs (~40 ms and 16 MB per check here): the interactive figures of the scrypt paper
and of Python's documentation."""

FORGET_AFTER = 900.0
"""Seconds without a failure after which a source's or operator's failures are forgotten."""

MASK = "********"
"""What the journal shows in place of a password (always the same length)."""


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.b64decode(s + "=" * (-len(s) % 4))


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def hash_problem(stored: str) -> str | None:
    """Why ``stored`` is not a hash this program can check, or None."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return "must be scrypt$N$r$p$salt$key (made by lems operator passwd)"
    try:
        n, r, p = (int(x) for x in parts[1:4])
        _unb64(parts[4])
        _unb64(parts[5])
    except ValueError:
        return "must be scrypt$N$r$p$salt$key with numbers and base64"
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or n * r > 1 << 20:
        return "scrypt costs out of range"
    return None


def verify(stored: str, password: str) -> bool:
    """Does ``password`` match the hash ``stored``? (Slow on purpose: call from a thread.)"""
    try:
        _, n, r, p, salt, key = stored.split("$")
        want = _unb64(key)
        got = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
            maxmem=64 << 20,
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(got, want)


def same_clear(stored: str, password: str) -> bool:
    """A legacy clear password, compared in constant time."""
    return hmac.compare_digest(password.encode(), stored.encode())


def generate() -> str:
    """A new password: 12 characters of letters, digits, - and _ (no period, and no leading
    - that a command line would take for an option)."""
    while True:
        password = secrets.token_urlsafe(9)
        if not password.startswith("-"):
            return password


def mask_logon(text: str) -> str:
    """``text`` with everything after ``LOGON.<terminal>.<operator>.`` masked, whatever its
    form (a trailing period, extra fields, a missing one), so no password reaches the journal
    or an echo. Frames that are not a LOGON come back unchanged."""
    first, dot, _ = text.partition(".")
    if not dot or first.strip().upper() != "LOGON":
        return text
    parts = text.split(".", 3)
    return text if len(parts) < 4 else ".".join([*parts[:3], MASK])


@dataclass(slots=True)
class _Count:
    failures: int = 0
    last: float = 0.0


@dataclass(slots=True)
class SignOnGuard:
    """Failures per source address and per operator; delays; where each operator works."""

    base: float = 0.5
    cap: float = 30.0
    now: object = time.monotonic
    by_source: dict[str, _Count] = field(default_factory=dict)
    by_operator: dict[str, _Count] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)
    """Source addresses with a sign-on being checked or a refusal being delayed."""
    known: dict[str, set[str]] = field(default_factory=dict)
    """operator -> addresses it signed on from successfully (since the switch started)."""

    def _get(self, table: dict[str, _Count], key: str) -> _Count:
        c = table.get(key)
        t = self.now()  # type: ignore[operator]
        if c is None or t - c.last > FORGET_AFTER:
            c = table[key] = _Count(0, t)
        return c

    def delay(self, source: str, operator: str) -> float:
        """Seconds to hold back the refusal of a failed sign-on (after ``failed``)."""
        n = max(
            self._get(self.by_source, source).failures,
            self._get(self.by_operator, operator).failures,
        )
        return 0.0 if n == 0 else min(self.cap, self.base * 2 ** (n - 1))

    def failed(self, source: str, operator: str) -> None:
        t = self.now()  # type: ignore[operator]
        for table, key in ((self.by_source, source), (self.by_operator, operator)):
            c = self._get(table, key)
            c.failures += 1
            c.last = t
        if len(self.by_source) > 10_000:  # bounded: forget the oldest addresses
            for k in sorted(self.by_source, key=lambda k: self.by_source[k].last)[:1000]:
                del self.by_source[k]

    def succeeded(self, source: str, operator: str) -> None:
        self.by_source.pop(source, None)
        self.by_operator.pop(operator, None)
        places = self.known.setdefault(operator, set())
        if len(places) < 64:
            places.add(source)

    def may_lock(self, source: str, operator: str, certified: bool) -> bool:
        """Does a failure from ``source`` count toward locking ``operator`` out?"""
        return certified or source in self.known.get(operator, ())


_DUMMY: list[str] = []


def dummy_hash() -> str:
    """A hash to check unknown names against, so they cost what a wrong password costs."""
    if not _DUMMY:
        _DUMMY.append(hash_password("not-a-password"))
    return _DUMMY[0]
