"""Tests for formats.nic (self-checking record numbers) and formats.ori (ORIs, destinations)."""

from __future__ import annotations

import random

import pytest

from formats.codes import NLETS_SPECIAL_DESTINATIONS, US_STATE_CODES
from formats.errors import FormatError
from formats.nic import FILE_LETTERS, is_valid_nic, make_nic, nic_serial
from formats.ori import (
    NLETS_ORI,
    agency_type_hint,
    destination_problem,
    is_state_destination,
    is_valid_ori,
    ori_problem,
)

# ------------------------------------------------------------------------------------- NIC


def _sample(n: int, seed: int = 7) -> list[str]:
    r = random.Random(seed)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return [make_nic(r.choice(letters), r.randint(0, 99_999_999)) for _ in range(n)]


def test_make_and_check_round_trip() -> None:
    for letter in [*FILE_LETTERS.values(), "A", "Z"]:
        for serial in (0, 1, 9, 12_345_678, 99_999_999):
            nic = make_nic(letter, serial)
            assert len(nic) == 10 and nic[0] == letter and nic[1:].isdigit()
            assert nic[1:9] == f"{serial:08d}"
            assert is_valid_nic(nic)
            assert nic_serial(nic) == serial
    for nic in _sample(2000):
        assert is_valid_nic(nic)


def test_file_letter_is_part_of_the_check() -> None:
    nic = make_nic("W", 12_345_678)
    others = [f"{c}{nic[1:]}" for c in "ABCDEFGHIJKLMNOPQRSTUVXYZ"]
    # the letter enters the check as two digits (A=01 .. Z=26): most other letters fail
    assert sum(is_valid_nic(o) for o in others) <= 3


def test_every_single_digit_change_is_caught() -> None:
    for nic in _sample(300):
        for i in range(1, 10):
            for d in "0123456789":
                if d != nic[i]:
                    assert not is_valid_nic(nic[:i] + d + nic[i + 1 :]), (nic, i, d)


def test_adjacent_swaps_are_nearly_all_caught() -> None:
    swaps = caught = 0
    for nic in _sample(3000):
        for i in range(1, 9):
            a, b = nic[i], nic[i + 1]
            if a == b:
                continue
            swaps += 1
            caught += not is_valid_nic(nic[:i] + b + a + nic[i + 2 :])
    assert swaps > 20_000
    assert caught / swaps >= 0.95, f"{caught}/{swaps}"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "W12345678",
        "W1234567890",
        "W 12345678",
        "w123456789",
        "1234567890",
        "WW23456789",
        "W12345678A",
        "W12345-789",
        "W\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",
    ],
)
def test_malformed_nic_refused(bad: str) -> None:
    assert not is_valid_nic(bad)
    with pytest.raises(FormatError):
        nic_serial(bad)


@pytest.mark.parametrize(
    ("letter", "serial"),
    [
        ("AA", 1),
        ("a", 1),
        ("1", 1),
        ("", 1),
        ("W", -1),
        ("W", 100_000_000),
    ],
)
def test_make_nic_refuses_bad_arguments(letter: str, serial: int) -> None:
    with pytest.raises(FormatError):
        make_nic(letter, serial)


# ------------------------------------------------------------------------------------- ORI


@pytest.mark.parametrize(
    "ori",
    [
        "OR0240000",
        "OR034015J",
        "NB0010000",
        "GM0010000",
        "AM0010000",
        "MK0010000",
        "DC0010000",
        "PR0010000",
        "WAKCS0000",
        NLETS_ORI,
        "TXT000000",
    ],
)
def test_valid_ori(ori: str) -> None:
    assert is_valid_ori(ori)
    assert ori_problem(ori) is None


@pytest.mark.parametrize(
    ("ori", "reason"),
    [
        ("", "ORI/ MUST BE 9 CHARACTERS"),
        ("OR024000", "ORI/OR024000 MUST BE 9 CHARACTERS"),
        ("OR02400000", "ORI/OR02400000 MUST BE 9 CHARACTERS"),
        ("or0240000", "ORI/or0240000 MUST BE 2 LETTERS AND 7 LETTERS OR DIGITS"),
        ("0R0240000", "ORI/0R0240000 MUST BE 2 LETTERS AND 7 LETTERS OR DIGITS"),
        ("OR-240000", "ORI/OR-240000 MUST BE 2 LETTERS AND 7 LETTERS OR DIGITS"),
        ("OR024000 ", "ORI/OR024000  MUST BE 2 LETTERS AND 7 LETTERS OR DIGITS"),
        ("NE0240000", "ORI/NE0240000 NE IS NOT AN NCIC STATE CODE"),
        ("BC0240000", "ORI/BC0240000 BC IS NOT AN NCIC STATE CODE"),
        ("ZZ0240000", "ORI/ZZ0240000 ZZ IS NOT AN NCIC STATE CODE"),
    ],
)
def test_invalid_ori(ori: str, reason: str) -> None:
    assert not is_valid_ori(ori)
    assert ori_problem(ori) == reason


def test_every_state_code_makes_an_ori() -> None:
    assert len(US_STATE_CODES) == 56
    for state in US_STATE_CODES:
        assert is_valid_ori(f"{state}0010000"), state


@pytest.mark.parametrize(
    ("ori", "hint"),
    [
        ("OR0240000", "law enforcement"),
        ("OR034015J", "court"),
        ("OR034015B", "criminal justice (non law enforcement)"),
        ("OR034015M", "criminal justice (non law enforcement)"),
        ("OR034015N", "criminal justice (non law enforcement)"),
        ("OR034015Y", "criminal justice (non law enforcement)"),
        ("OR034015X", "other"),
        ("", "other"),
    ],
)
def test_agency_type_hint(ori: str, hint: str) -> None:
    assert agency_type_hint(ori) == hint


# ------------------------------------------------------------------------------ destinations


def test_state_destinations() -> None:
    for code in ("WA", "OR", "NB", "GM", *NLETS_SPECIAL_DESTINATIONS):
        assert is_state_destination(code), code
    for code in ("XQ", "NE", "BC", "WAX", "W", "", "wa"):
        assert not is_state_destination(code), code
    assert {"NL", "FB", "CN", "FA", "NA", "CG", "OD", "Z1"} <= set(NLETS_SPECIAL_DESTINATIONS)


@pytest.mark.parametrize(
    ("dest", "kind", "problem"),
    [
        ("WA", "state", None),
        ("WA", "any", None),
        ("NL", "state", None),
        ("Z1", "any", None),
        ("WA0170000", "ori", None),
        ("WA0170000", "any", None),
        ("WA", "ori", "DESTINATION WA MUST BE A 9-CHARACTER ORI"),
        ("WA0170000", "state", "DESTINATION WA0170000 MUST BE A 2-CHARACTER STATE CODE"),
        ("XQ", "state", "DESTINATION XQ IS NOT A VALID STATE OR NLETS CODE"),
        ("NE", "any", "DESTINATION NE IS NOT A VALID STATE OR NLETS CODE"),
        ("NE0170000", "ori", "ORI/NE0170000 NE IS NOT AN NCIC STATE CODE"),
        ("WAX", "any", "DESTINATION WAX MUST BE A 2-CHARACTER CODE OR A 9-CHARACTER ORI"),
        ("", "state", "DESTINATION  MUST BE A 2-CHARACTER CODE OR A 9-CHARACTER ORI"),
    ],
)
def test_destination_problem(dest: str, kind: str, problem: str | None) -> None:
    assert destination_problem(dest, kind) == problem
