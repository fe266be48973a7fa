"""NCIC record numbers (NIC): one file letter and nine digits, the last a check digit.

The real NIC check algorithm is not public, so the simulator defines its own: the ninth digit is
the Luhn check digit over the file letter's alphabet position (two digits, A=01) followed by the
eight serial digits. Luhn catches every single-digit error and nearly every adjacent swap, which
is what an operator retyping a NIC gets wrong.
"""

from __future__ import annotations

import re

from formats.errors import FormatError

FILE_LETTERS: dict[str, str] = {
    "wanted": "W",
    "missing": "M",
    "unidentified": "U",
    "vehicle": "V",
    "gun": "G",
    "article": "A",
    "boat": "B",
    "security": "S",
    "order": "H",
    "ndtf": "E",
    "supervised": "C",
    "plate": "L",
    "part": "P",
    "gang": "T",
    "kst": "Y",
    "sor": "X",
    "immigration": "I",
    "foreign": "F",
    "protective": "K",
    "identity": "J",
    "violent": "N",
}
"""Letter per NCIC file, one per file so a NIC names its file. W, V and C are seen in public
examples; the others are inferred (docs/FIDELITY.md)."""

_NIC = re.compile(r"[A-Z][0-9]{9}")


_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")
"""Each digit doubled, less 9 when that makes two digits (Luhn)."""

_LETTER_DIGITS = {chr(64 + n): f"{n:02d}" for n in range(1, 27)}
"""A file letter's alphabet position as two digits (A=01 … Z=26)."""


def _luhn_digit(digits: str) -> int:
    """The Luhn check digit of the ASCII digits ``digits``."""
    # From the right: the check digit will be appended, so the rightmost payload digit and
    # every second one from it are doubled. Summing the bytes adds 48 per digit.
    rev = digits.encode("ascii")[::-1]
    total = sum(rev[0::2].translate(_DOUBLED)) + sum(rev[1::2])
    return -(total - 48 * len(digits)) % 10


def _payload(letter: str, serial: str) -> str:
    return _LETTER_DIGITS[letter] + serial


def make_nic(letter: str, serial: int) -> str:
    """The NIC for file ``letter`` and serial number ``serial`` (0 … 99,999,999)."""
    if len(letter) != 1 or not "A" <= letter <= "Z":
        raise FormatError(f"NIC file letter must be one letter A-Z, not {letter!r}")
    if not 0 <= serial <= 99_999_999:
        raise FormatError(f"NIC serial out of range: {serial}")
    body = f"{serial:08d}"
    return f"{letter}{body}{_luhn_digit(_payload(letter, body))}"


def is_valid_nic(value: str) -> bool:
    """True when ``value`` is a well-formed NIC whose check digit is right."""
    if len(value) != 10 or not _NIC.fullmatch(value):
        return False
    return _luhn_digit(_payload(value[0], value[1:9])) == ord(value[9]) - 48


def nic_serial(value: str) -> int:
    """The serial number inside a valid NIC."""
    if not is_valid_nic(value):
        raise FormatError(f"not a valid NIC: {value!r}")
    return int(value[1:9])
