"""The accept path (formats/patterns.py) against the exact walk it stands in front of.

The claim: whatever a key's accept pattern accepts, the exact walk accepts too, with the same
``Message``; and the plain messages terminals send every day do take the accept path (else it
would be dead weight). The reference is ``Parser(accept=False)``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_grammar import valid_message, value_for

from formats.codes import CodeBook
from formats.dictionary import Dictionary, KeySpec
from formats.errors import Reject
from formats.fields import FieldDef
from formats.grammar import Parser, build
from formats.message import Message
from formats.patterns import LARGE_TABLE, Accept, alternation

D = Dictionary.default()
FAST = Parser()
EXACT = Parser(accept=False)
KEYS = sorted(k for k, spec in D.keys.items() if spec.style != "positional")
ACCEPT = {k: Accept(D.keys[k], D.defs_for(k), D.codes) for k in KEYS}


def plain_value(fd: FieldDef, nlets: bool = False) -> str:
    """``value_for`` but never 29 February (the one date the patterns leave to the walk)."""
    return "19800228" if fd.type == "date" else value_for(fd, nlets)


def plain_text(key: str, *, full: bool) -> str:
    msg = valid_message(D.keys[key], full=full)
    nlets = D.keys[key].style == "nlets"
    msg.fields = [(c, plain_value(D.defs_for(key)[c], nlets)) for c, _ in msg.fields]
    return build(msg)


def agree(text: str, parser: Parser = FAST, exact: Parser = EXACT) -> Message | Reject:
    """The parser's answer, after checking it is the exact walk's."""
    got, want = parser.check(text), exact.check(text)
    assert got == want, text
    return got


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("full", [False, True])
def test_plain_message_of_every_key_takes_the_accept_path(key: str, full: bool) -> None:
    text = plain_text(key, full=full)
    msg = ACCEPT[key].read(text)
    assert msg is not None, text
    assert msg == EXACT.check(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("QW.OR0240000.NAM/SMITH,JOHN.DOB/20240229", "29 February: the leap rule"),
        ("qw.or0240000.nam/smith,john.dob/19800101", "lower case"),
        ("QW.OR0240000.NAM/SMITH,JOHN .DOB/19800101", "a blank the walk strips"),
        ("QW.OR0240000. NAM/SMITH,JOHN.DOB/19800101", "a blank around a code"),
        ("QW.OR0240000.NAM/SMITH,JOHN.\nDOB/19800101", "a line break between fields"),
        ("QW.OR0240000.NAM/SMITH,JOHN.DOB/19800101\x07", "a control character"),
        ("RQ.OR0240000.WA.TXT LIC/1ABC234.LIY/2025.LIT/PC", "TXT without a line break"),
        ("DQ.OR0240000.WA.TXT\nNAM/SMITH,JOHN.DOB/010280.SEX/M", "MMDDYY, which Nlets keys take"),
    ],
)
def test_valid_but_not_plain_is_left_to_the_walk_or_read_alike(text: str, why: str) -> None:
    assert isinstance(agree(text), Message), why


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("QW.OR0240000.NAM/SMITH,JOHN.NAM/DOE,JANE.DOB/19800101", "NAM"),  # not repeatable
        ("QW.OR0240000.NAM/SMITH,JOHN", "DOB"),  # no identifier
        ("QW.OR0240000.NAM/SMITH,JOHN.DOB/19800230", "DOB"),
        ("QW.OR0240000.NAM/SMITH,JOHN.DOB/19800101.SEX/X", "SEX"),
        ("QW.OR0240000.NAM/SMITH,JOHN.DOB/19800101.", None),  # trailing period
        ("AM.OR0240000.WA.TXT\n.", None),
        ("XW.OR0240000.NAM/SMITH,JOHN.NIC/W123456789", "NIC"),  # bad check digit
        ("RQ.OR0240000.WA.TXT\n.LIC/1ABC234.LIY/2025.LIT/PC", None),  # empty first field
    ],
)
def test_what_the_patterns_refuse_is_rejected_by_the_walk(text: str, field: str | None) -> None:
    assert ACCEPT[text.partition(".")[0]].read(text) is None
    rej = agree(text)
    assert isinstance(rej, Reject)
    assert rej.field == field


def test_repeatable_fields_may_repeat_on_the_accept_path() -> None:
    text = (
        "EW.OR0240000.NAM/SMITH,JOHN.SEX/M.RAC/W.HGT/510.WGT/180.HAI/BRO.OFF/1313"
        ".DOW/20250101.OCA/25-00001.DOB/19800101.AKA/DOE,JOHN.AKA/ROE,JOHN"
    )
    msg = ACCEPT["EW"].read(text)
    assert msg is not None and msg.get_all("AKA") == ["DOE,JOHN", "ROE,JOHN"]
    assert msg == EXACT.check(text)


def test_a_key_without_fields_still_refuses_a_trailing_period() -> None:
    """A lab key that takes no fields: the pattern must not read "KEY.ORI." as a message with
    an empty body (the walk refuses the trailing period)."""
    dictionary = Dictionary({}, {"ZQ": KeySpec(key="ZQ", label="TEST")}, D.codes)
    fast, exact = Parser(dictionary), Parser(dictionary, accept=False)
    assert isinstance(agree("ZQ.OR0240000", fast, exact), Message)
    assert isinstance(agree("ZQ.OR0240000.", fast, exact), Reject)


def test_alternation_matches_exactly_its_words() -> None:
    words = ["A", "AB", "ABC", "B", "0902", "4D", "X.Y", "(", "*"]
    pattern = re.compile(alternation(words))
    for word in words:
        assert pattern.fullmatch(word), word
    for other in ["", "AC", "ABCD", "C", "090", "X-Y", "XY", "**"]:
        assert not pattern.fullmatch(other), other
    assert not re.compile(alternation([])).fullmatch("")


# Characters that matter to the grammar, and a few that do not.
_ALPHABET = st.sampled_from([*"./* \n\t\r\x00-,'aAZ09", "TXT", "NAM/", "\u00e9", "\u00b2"])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(KEYS), full=st.booleans(), data=st.data())
def test_mutated_messages_get_the_walks_answer(key: str, full: bool, data: st.DataObject) -> None:
    text = plain_text(key, full=full)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(text)))
        how = data.draw(st.sampled_from(["insert", "delete", "replace", "lower"]))
        piece = data.draw(_ALPHABET)
        if how == "insert":
            text = text[:at] + piece + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + 1 :]
        elif how == "replace":
            text = text[:at] + piece + text[at + 1 :]
        else:
            text = text[:at] + text[at : at + 5].lower() + text[at + 5 :]
    agree(text)


@settings(max_examples=300)
@given(st.lists(_ALPHABET, max_size=30).map("".join), st.sampled_from(KEYS))
def test_arbitrary_text_after_a_key_gets_the_walks_answer(tail: str, key: str) -> None:
    agree(f"{key}.OR0240000.{tail}")
    agree(f"{key}.OR0240000.WA.TXT\n{tail}")


_CODES = Path(__file__).resolve().parents[3] / "shared" / "data" / "ncic-codes"


@pytest.mark.skipif(not _CODES.is_dir(), reason="the full NCIC code tables are not beside us")
def test_a_full_code_manual_gives_the_same_answers() -> None:
    """With the full tables some exceed LARGE_TABLE: matched by shape, then looked up."""
    book = CodeBook.load_dir(_CODES)
    assert any(len(book.table(t)) > LARGE_TABLE for t in book.names())
    dictionary = Dictionary.load(codes=book)
    fast, exact = Parser(dictionary), Parser(dictionary, accept=False)
    vma = sorted(book.table("VMA"))
    texts = [f"RQ.OR0240000.WA.TXT\nVIN/1HGCM82633A004352.VYR/2020.VMA/{v}" for v in vma[::25]]
    texts += [
        "RQ.OR0240000.WA.TXT\nVIN/1HGCM82633A004352.VMA/ZZZZZ",  # no such make
        "RQ.OR0240000.WA.TXT\nVIN/1HGCM82633A004352.VMA/FORD.VMA/FORD",
    ]
    for text in texts:
        agree(text, fast, exact)
    accepted = sum(isinstance(fast.check(t), Message) for t in texts)
    assert accepted > 100


# Any field a lab's dictionary may define, against values near and far from its shape.
_FIELD_DEFS = st.builds(
    lambda t, lo, hi, values, table: FieldDef(
        code="ZZ",
        type=t,
        min=lo,
        max=hi,
        table=table if t == "code" and not values else "",
        values=tuple(values) if t in ("code", "year") else (),
    ),
    st.sampled_from(
        ["name", "date", "code", "digits", "alnum", "text", "hgt", "ori", "nic", "year"]
    ),
    st.integers(0, 4),
    st.integers(0, 12),
    st.lists(st.text(st.sampled_from("AB1 ./-*(\u00e9a"), max_size=4), max_size=5),
    st.sampled_from(["SEX", "LIS", "OFF"]),
)
_VALUES = st.one_of(
    st.text(st.sampled_from("AZaz09 ,'-/*.\u00e9\u00b2"), max_size=14),
    st.sampled_from(
        [
            "SMITH,JOHN",
            "19800101",
            "20240229",
            "010280",
            "510",
            "OR0240000",
            "W123456788",
            "2025",
            "NX",
            "M",
            "OR",
            "1313",
            "A",
            "AB",
            "AB 1",
        ]
    ),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_FIELD_DEFS, st.lists(_VALUES, min_size=1, max_size=3), st.booleans())
def test_any_field_definition_gets_the_walks_answer(
    fd: FieldDef, values: list[str], nlets: bool
) -> None:
    """A key holding one field of any type and bounds (a lab may define such): whatever the
    value, the accept pattern answers as the walk does, or leaves the message to it."""
    style = "nlets" if nlets else "ncic"
    spec = KeySpec(key="ZQ", label="TEST", style=style, mandatory=("ZZ",))
    dictionary = Dictionary({"ZZ": fd}, {"ZQ": spec}, D.codes)
    fast, exact = Parser(dictionary), Parser(dictionary, accept=False)
    head = "ZQ.OR0240000.WA.TXT\n" if nlets else "ZQ.OR0240000."
    for value in values:
        agree(f"{head}ZZ/{value}", fast, exact)
    agree(head + ".".join(f"ZZ/{v}" for v in values), fast, exact)
