"""Fault decisions, the endpoint wire codec, seed reproducibility and VIN check digits."""

from __future__ import annotations

import hashlib
import random
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from formats import endpoint_protocol as protocol
from formats.errors import FormatError
from lems.endpoints.faults import DELIVER, DROP, ERROR, Faults
from lems.endpoints.search import soundex, vin_check_digit, vin_is_valid
from lems.endpoints.seed import seed_lab


def test_fault_rates_and_down() -> None:
    f = Faults(drop_rate=0.2, error_rate=0.1, rng=random.Random(3))
    got = [f.decide() for _ in range(5000)]
    assert 0.17 < got.count(DROP) / 5000 < 0.23
    assert 0.08 < got.count(ERROR) / 5000 < 0.12
    f.update({"down": True})
    assert {f.decide() for _ in range(100)} == {DROP}
    f.update({"down": False, "drop_rate": 0, "error_rate": 0})
    assert {f.decide() for _ in range(100)} == {DELIVER}


def test_latency_with_jitter_stays_in_range() -> None:
    f = Faults(latency_ms=100, jitter_ms=50)
    delays = [f.delay() for _ in range(500)]
    assert min(delays) >= 0.1 and max(delays) <= 0.15 and len(set(delays)) > 100


@given(st.integers(0, 2**31), st.text(max_size=300), st.text(max_size=9))
def test_wire_round_trip(corr, text, ori) -> None:
    assert protocol.decode(protocol.request(corr, ori, "T01", text))["text"] == text
    assert protocol.decode(protocol.response(corr, [text, text]))["bodies"] == [text, text]


def test_wire_refuses_junk() -> None:
    for junk in (b"not json", b"[1]", b'{"t":"nope"}'):
        with pytest.raises(FormatError):
            protocol.decode(junk)


def test_soundex() -> None:
    assert soundex("SMITH,JOHN") == soundex("SMYTH") == soundex("SCHMIDT") == "S530"
    assert soundex("ASHCRAFT") == "A261" and soundex("TYMCZAK") == "T522"
    assert soundex("PFISTER") == "P236" and soundex("O'HARA,PAT") == "O600"


def test_vin_check_digit() -> None:
    assert vin_check_digit("1M8GDM9AXKP042788") == "X"
    assert vin_is_valid("1HGCM82633A004352") and not vin_is_valid("1HGCM82643A004352")


def _digest(path) -> str:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT nic, fields FROM record ORDER BY id").fetchall()
    finally:
        conn.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_seed_is_reproducible_and_vins_are_valid(tmp_path) -> None:
    a = seed_lab(tmp_path / "a", 1500, 5, ["OR0240000"])
    seed_lab(tmp_path / "b", 1500, 5, ["OR0240000"])
    seed_lab(tmp_path / "c", 1500, 6, ["OR0240000"])
    assert a["ncic"] > 100 and a["nlets"] > 500 and a["nics"] > 5
    assert _digest(tmp_path / "a" / "ncic.db") == _digest(tmp_path / "b" / "ncic.db")
    assert _digest(tmp_path / "a" / "ncic.db") != _digest(tmp_path / "c" / "ncic.db")
    conn = sqlite3.connect(tmp_path / "a" / "nlets.db")
    vins = [v for (v,) in conn.execute("SELECT vin FROM vehicle")]
    conn.close()
    assert vins and all(vin_is_valid(v) for v in vins)
    assert seed_lab(tmp_path / "a", 1500, 5) == {}  # existing databases are left alone
