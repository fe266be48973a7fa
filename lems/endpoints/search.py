"""The search keys of the national files, computed once at entry and stored in indexed columns.

NCIC does not compare names letter by letter: a surname is reduced to a phonetic key, so SMITH
finds SMYTH and SCHMIDT. The key here is American Soundex (letter + 3 digits, H and W transparent),
the code NCIC's name search descends from; it is 15 lines, so no dependency is taken for it
(jellyfish has it too, but would add a compiled wheel for one function).

Other rules (MESSAGES.md §3): DOB exact unless ``EXD/Y`` widens it to the same day ±1 year; race
B searches every record but W, W every record but B, anything else all; a VIN is searched on its
last 8 characters; a serial number with the letter O reads it as zero.
"""

from __future__ import annotations

_CODES = {
    c: d
    for d, letters in {
        "1": "BFPV",
        "2": "CGJKQSXZ",
        "3": "DT",
        "4": "L",
        "5": "MN",
        "6": "R",
    }.items()
    for c in letters
}


def soundex(name: str) -> str:
    """American Soundex of the surname in ``LAST,FIRST`` (or a bare surname): ``S530``."""
    last = name.split(",", 1)[0].upper()
    letters = [c for c in last if "A" <= c <= "Z"]
    if not letters:
        return ""
    first = letters[0]
    out: list[str] = []
    prev = _CODES.get(first, "")
    for c in letters[1:]:
        code = _CODES.get(c, "")
        if code and code != prev:
            out.append(code)
            if len(out) == 3:
                break
        if c not in "HW":
            prev = code
    return (first + "".join(out) + "000")[:4]


def first_name(name: str) -> str:
    return name.partition(",")[2].strip().split(" ", 1)[0]


def dob_values(dob: str, expanded: bool) -> list[str]:
    """DOBs a search matches: the DOB itself, or the same day one year either side."""
    if not expanded or len(dob) != 8:
        return [dob]
    year, rest = int(dob[:4]), dob[4:]
    return [f"{year - 1}{rest}", dob, f"{year + 1}{rest}"]


def races_searched(race: str | None) -> tuple[str, ...] | None:
    """Races a record may have to match ``race``; None means every race (A, I, U, none)."""
    if race == "B":
        return ("A", "B", "I", "U", "H", "P", "")
    if race == "W":
        return ("A", "W", "I", "U", "H", "P", "")
    return None


def race_matches(asked: str | None, record: str) -> bool:
    allowed = races_searched(asked)
    return allowed is None or record in allowed


def vin8(vin: str) -> str:
    return vin.upper()[-8:]


def serial_key(serial: str) -> str:
    """Serial numbers compare with the letter O read as zero."""
    return serial.upper().replace("O", "0")


_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
"""Letters a 17-character VIN may hold (no I, O, Q)."""


def vin_check_digit(vin: str) -> str:
    """The check digit (position 9) of a 17-character VIN: ``0``-``9`` or ``X``."""
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin.upper(), _VIN_WEIGHTS, strict=True))
    r = total % 11
    return "X" if r == 10 else str(r)


def vin_is_valid(vin: str) -> bool:
    v = vin.upper()
    return len(v) == 17 and all(c in VIN_ALPHABET for c in v) and vin_check_digit(v) == v[8]
