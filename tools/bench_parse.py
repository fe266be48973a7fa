"""Benchmark: parse + validate (``formats.grammar.Parser.check``) against a bare split baseline.

Usage::

    .venv/bin/python tools/bench_parse.py [--n 50000] [--repeat 15] [--seed 1]

Builds a mixed corpus of about 1,000 messages shaped like switch traffic (NCIC and Nlets queries
dominate, then entries and maintenance, administrative messages and III, about 5 % invalid), then
times ``Parser.check`` on every message and, in the same run, the bare baseline
``[tok.partition("/") for tok in text.split(".")]`` on the same corpus. The two are timed in
turns, ``--repeat`` pairs of runs of ``--n`` messages each (the corpus cycled, measured with
``time.perf_counter``): each figure is the best of its runs, and the ratio is the median of the
pairs' ratios, because the speed of a shared or virtual machine drifts from second to second and
only a baseline timed next to the parser says what the parser costs.

The corpus repeats, so any cache of whole messages would make the figure meaningless: the parser
keeps none.

The Nlets XML codec is timed beside the legacy text in the same run: the corpus' valid Nlets
messages, each also written as Nlets XML (``formats.nlets_xml.encode_request``), are read in
turns as legacy text (``Parser.check``) and as XML (``nlets_xml.decode`` through defusedxml, then
``Parser.check`` of its legacy form: what the switch does with an XML frame); messages/s of each
and the median of the pairs' ratios.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable

from formats import nlets_xml
from formats.errors import Reject
from formats.grammar import Parser
from formats.nic import make_nic

ORIS = [
    "OR0240000",
    "OR0260200",
    "OR0030100",
    "OR034015J",
    "ORODOT000",
    "WA0170000",
    "OR0200000",
    "ORSP00000",
    "OR0010300",
    "ORLEDS000",
]
STATES = ["WA", "ID", "CA", "NV", "AZ", "TX", "NB", "MT", "UT", "CO"]
LAST = [
    "SMITH",
    "JOHNSON",
    "WILLIAMS",
    "BROWN",
    "JONES",
    "GARCIA",
    "MILLER",
    "DAVIS",
    "RODRIGUEZ",
    "MARTINEZ",
    "HERNANDEZ",
    "LOPEZ",
    "GONZALEZ",
    "WILSON",
    "ANDERSON",
    "O'BRIEN",
    "NGUYEN",
    "VAN DYKE",
    "SMITH-JONES",
    "THOMPSON",
]
FIRST = [
    "JOHN",
    "MARY",
    "JAMES",
    "PATRICIA",
    "ROBERT",
    "JENNIFER",
    "MICHAEL",
    "LINDA",
    "WILLIAM",
    "ELIZABETH",
    "DAVID",
    "BARBARA",
    "RICHARD",
    "SUSAN",
    "JOSEPH",
    "JESSICA",
]
SEX, RAC = "MFU", "WBAIUHP"
EYE = ["BRO", "BLU", "GRN", "HAZ", "GRY"]
HAI = ["BRO", "BLK", "BLN", "RED", "GRY", "WHI"]
OFF = ["0902", "1299", "1313", "2202", "2404", "3562", "5012", "5015", "5404", "4801"]
VMA = ["FORD", "CHEV", "TOYT", "HOND", "DODG", "NISS", "SUBA", "VOLK", "JEEP", "KIA"]
VST = ["4D", "2D", "PK", "UT", "VN", "SW"]
VCO = ["BLK", "WHI", "SIL", "RED", "BLU", "GRY"]
LIT = ["PC", "TK", "MC", "TL", "PE"]
MAK = ["SW", "GLC", "SR", "BER", "REM", "WIN"]
CAL = ["9", "22", "38", "40", "45", "357"]
WORDS = [
    "SUBJECT",
    "LAST",
    "SEEN",
    "DRIVING",
    "NORTHBOUND",
    "ON",
    "I5",
    "NEAR",
    "EXIT",
    "308",
    "ARMED",
    "AND",
    "DANGEROUS",
    "CONTACT",
    "DETECTIVE",
    "UNIT",
    "AFTER",
    "HOURS",
    "CALL",
    "DISPATCH",
    "TATTOO",
    "LEFT",
    "ARM",
    "WEARING",
    "BLUE",
    "JACKET",
    "VEHICLE",
    "HAS",
    "DAMAGE",
    "REAR",
    "BUMPER",
    "WARRANT",
    "FULL",
    "EXTRADITION",
    "WITHIN",
    "STATE",
]


class Gen:
    """Random but plausible field values."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def pick(self, items: list[str] | str) -> str:
        return self.r.choice(items)

    def ori(self) -> str:
        return self.pick(ORIS)

    def name(self) -> str:
        first = self.pick(FIRST)
        middle = f" {self.pick('ABCDEJKLMRST')}" if self.r.random() < 0.5 else ""
        comma = ", " if self.r.random() < 0.2 else ","
        return f"{self.pick(LAST)}{comma}{first}{middle}"

    def date(self, lo: int = 1940, hi: int = 2008) -> str:
        return f"{self.r.randint(lo, hi)}{self.r.randint(1, 12):02d}{self.r.randint(1, 28):02d}"

    def digits(self, n: int) -> str:
        return "".join(self.pick("0123456789") for _ in range(n))

    def alnum(self, n: int) -> str:
        return "".join(self.pick("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(n))

    def nic(self, letter: str) -> str:
        return make_nic(letter, self.r.randint(0, 99_999_999))

    def plate(self) -> str:
        return f"{self.digits(1)}{self.alnum(3)}{self.digits(3)}"

    def vin(self) -> str:
        return self.alnum(17)

    def words(self, lo: int, hi: int) -> str:
        return " ".join(self.pick(WORDS) for _ in range(self.r.randint(lo, hi)))

    def person(self) -> str:
        return f"NAM/{self.name()}.SEX/{self.pick(SEX)}.RAC/{self.pick(RAC)}.DOB/{self.date()}"


def _qw(g: Gen) -> str:
    opt = ""
    if g.r.random() < 0.6:
        opt += f".SEX/{g.pick(SEX)}.RAC/{g.pick(RAC)}"
    if g.r.random() < 0.2:
        opt += f".OLS/{g.pick(STATES)}.EXD/Y"
    if g.r.random() < 0.15:
        return f"QW.{g.ori()}.NAM/{g.name()}.SOC/{g.digits(9)}{opt}"
    return f"QW.{g.ori()}.NAM/{g.name()}.DOB/{g.date()}{opt}"


def _qv(g: Gen) -> str:
    if g.r.random() < 0.7:
        return (
            f"QV.{g.ori()}.LIC/{g.plate()}.LIS/OR.LIY/{g.r.randint(2018, 2027)}.LIT/{g.pick(LIT)}"
        )
    return f"QV.{g.ori()}.VIN/{g.vin()}"


def _qg(g: Gen) -> str:
    return f"QG.{g.ori()}.SER/{g.alnum(8)}.MAK/{g.pick(MAK)}.CAL/{g.pick(CAL)}.TYP/P"


def _rq(g: Gen) -> str:
    dests = ".".join(g.r.sample(STATES, g.r.randint(1, 3)))
    if g.r.random() < 0.7:
        body = f"LIC/{g.plate()}.LIY/{g.r.randint(2018, 2027)}.LIT/{g.pick(LIT)}"
    else:
        body = f"VIN/{g.vin()}.VYR/{g.r.randint(1995, 2026)}.VMA/{g.pick(VMA)}"
    return f"RQ.{g.ori()}.{dests}.TXT\n{body}"


def _dq(g: Gen) -> str:
    dests = ".".join(g.r.sample(STATES, g.r.randint(1, 2)))
    if g.r.random() < 0.5:
        body = f"OLN/{g.alnum(9)}.IMQ/Y"
    else:
        dob = g.date() if g.r.random() < 0.7 else f"{g.r.randint(1, 12):02d}15{g.digits(2)}"
        body = f"NAM/{g.name()}.DOB/{dob}.SEX/{g.pick(SEX)}.RSN/{g.pick('NFVTSHI')}"
    return f"DQ.{g.ori()}.{dests}.*{g.alnum(6)}.TXT\n{body}"


def _ew(g: Gen) -> str:
    akas = "".join(f".AKA/{g.name()}" for _ in range(g.r.randint(0, 2)))
    return (
        f"EW.{g.ori()}.{g.person()}.HGT/5{g.r.randint(0, 11):02d}"
        f".WGT/{g.r.randint(110, 260)}.EYE/{g.pick(EYE)}.HAI/{g.pick(HAI)}"
        f".OFF/{g.pick(OFF)}.DOW/{g.date(2020, 2026)}.OCA/{g.r.randint(20, 26)}-{g.digits(5)}"
        f".SOC/{g.digits(9)}.SMT/TAT L ARM{akas}.MIS/{g.words(30, 65)}"
    )


def _ev(g: Gen) -> str:
    return (
        f"EV.{g.ori()}.VIN/{g.vin()}.VYR/{g.r.randint(1995, 2026)}.VMA/{g.pick(VMA)}"
        f".VMO/{g.alnum(3)}.VST/{g.pick(VST)}.VCO/{g.pick(VCO)}.LIC/{g.plate()}.LIS/OR"
        f".LIY/{g.r.randint(2018, 2027)}.LIT/{g.pick(LIT)}.DOT/{g.date(2024, 2026)}"
        f".OCA/{g.r.randint(20, 26)}-{g.digits(5)}.MIS/{g.words(25, 60)}"
    )


def _eg(g: Gen) -> str:
    return (
        f"EG.{g.ori()}.SER/{g.alnum(9)}.MAK/{g.pick(MAK)}.CAL/{g.pick(CAL)}.TYP/P"
        f".MOD/MODEL {g.digits(2)}.DOT/{g.date(2024, 2026)}.OCA/{g.digits(8)}"
        f".MIS/{g.words(20, 50)}"
    )


def _maint(g: Gen) -> str:
    kind = g.pick("WVG")
    key = g.pick(["C", "X", "L", "M"])
    nic = g.nic(kind)
    nam = f".NAM/{g.name()}" if kind == "W" else ""
    if key == "C":
        return f"C{kind}.{g.ori()}{nam}.NIC/{nic}.DCL/{g.date(2025, 2026)}.MIS/{g.words(10, 30)}"
    if key == "X":
        return f"X{kind}.{g.ori()}{nam}.NIC/{nic}.RSN/{g.words(3, 8)}"
    if key == "L":
        return f"L{kind}.{g.ori()}{nam}.NIC/{nic}.DOL/{g.date(2025, 2026)}.MIS/{g.words(10, 30)}"
    extra = (
        f".HGT/5{g.r.randint(0, 11):02d}.WGT/{g.r.randint(110, 260)}"
        if kind == "W"
        else (f".VCO/{g.pick(VCO)}" if kind == "V" else f".CAL/{g.pick(CAL)}")
    )
    return f"M{kind}.{g.ori()}{nam}.NIC/{nic}{extra}.MIS/{g.words(10, 30)}"


def _am(g: Gen) -> str:
    dests = ".".join(g.r.sample(STATES, g.r.randint(1, 5)))
    lines = "\n".join(g.words(7, 12) for _ in range(g.r.randint(11, 26)))
    key = g.pick(["AM", "AM", "AML"])
    attn = g.pick(["DISPATCH", "RECORDS", "DETECTIVES"])
    return f"{key}.{g.ori()}.{dests}.TXT\nATTN: {attn}\n{lines}"


def _iii(g: Gen) -> str:
    pur = g.pick("CCCCJF")
    if g.r.random() < 0.6:
        return (
            f"QH.{g.ori()}.PUR/{pur}.NAM/{g.name()}.DOB/{g.date()}.SEX/{g.pick(SEX)}"
            f".RAC/{g.pick(RAC)}.ATN/DET {g.pick(LAST)}"
        )
    return f"QR.{g.ori()}.PUR/{pur}.FBI/{g.alnum(9)}.ATN/DET {g.pick(LAST)} UNIT {g.digits(2)}"


def _yq(g: Gen) -> str:
    return (
        f"YQ.{g.ori()}.{g.pick(['WA0170000', 'ID0010000', 'CA0190000'])}.TXT\n"
        f"RTY/WP.RNO/1.PRI/{g.pick('UR')}.OCA/{g.alnum(8)}.NIC/{g.nic('W')}.NAM/{g.name()}"
        f".RNA/DISPATCHER {g.pick(LAST)}.RAG/{g.pick(['SALEM PD', 'MARION SO'])}"
        f".PHO/503555{g.digits(4)}.REM/{g.words(4, 10)}"
    )


def _state(g: Gen) -> str:
    return g.pick(
        [
            f"QCH.{g.ori()}.PUR/C.NAM/{g.name()}.DOB/{g.date()}.SEX/{g.pick(SEX)}",
            f"FCK.{g.ori()}.{g.person()}.IDT/DL.IDN/{g.alnum(9)}.DLR/{g.alnum(6)}.SER/{g.alnum(8)}"
            f".MAK/{g.pick(MAK)}.CAL/{g.pick(CAL)}.TYP/P",
            f"KQ.{g.ori()}.{g.pick(STATES)}.TXT\nPUR/C.OLN/{g.alnum(8)}.ATN/{g.pick(LAST)}",
        ]
    )


# (weight, generator): queries QW/QV/QG/RQ/DQ about 60 %, the rest entries, maintenance,
# administrative, III, hit confirmation and state transactions.
MIX: list[tuple[int, Callable[[Gen], str]]] = [
    (24, _qw),
    (14, _qv),
    (4, _qg),
    (10, _rq),
    (8, _dq),
    (6, _ew),
    (5, _ev),
    (2, _eg),
    (8, _maint),
    (8, _am),
    (5, _iii),
    (3, _yq),
    (3, _state),
]


def _break(g: Gen, text: str) -> str:
    """A plausible operator error: bad code, bad date, trailing period, missing field …"""
    how = g.r.randrange(6)
    if how == 0:
        return text + "."
    if how == 1:
        return text.replace(".SEX/", ".SEX/X", 1) if ".SEX/" in text else text + ".SEX/X"
    if how == 2:
        return text.replace(".DOB/", ".DOB/1980134", 1) if ".DOB/" in text else text + ".ZZZ/1"
    if how == 3:
        parts = text.split(".")
        del parts[g.r.randrange(2, len(parts))]
        return ".".join(parts)
    if how == 4:
        return "X" + text
    return text.replace("OR", "NE", 1)


def corpus(size: int = 1000, invalid: float = 0.05, seed: int = 1) -> list[str]:
    """``size`` messages, a share ``invalid`` of them broken so that the parser refuses them."""
    g = Gen(seed)
    parser = Parser()
    weights = [w for w, _ in MIX]
    makers = [m for _, m in MIX]
    every = round(1 / invalid) if invalid > 0 else 0
    out = []
    for i in range(size):
        text = g.r.choices(makers, weights)[0](g)
        if every and i % every == every - 1:
            good = text
            for _ in range(10):  # dropping an optional field may leave it valid: try again
                text = _break(g, good)
                if isinstance(parser.check(text), Reject):
                    break
        out.append(text)
    return out


def _time(fn: Callable[[str], object], batch: list[str]) -> float:
    """Seconds per message for one run over ``batch``."""
    t0 = time.perf_counter()
    for text in batch:
        fn(text)
    return (time.perf_counter() - t0) / len(batch)


def _baseline(text: str) -> object:
    return [tok.partition("/") for tok in text.split(".")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=50_000, help="messages per timed run")
    ap.add_argument(
        "--repeat",
        type=int,
        default=15,
        help="pairs of timed runs (baseline, parser) taken in turns",
    )
    ap.add_argument("--size", type=int, default=1000, help="distinct messages in the corpus")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    texts = corpus(args.size, seed=args.seed)
    parser = Parser()
    results = [parser.check(t) for t in texts]
    rejects = sum(isinstance(r, Reject) for r in results)
    keys = Counter(t.partition(".")[0] for t in texts)
    avg = sum(len(t.encode()) for t in texts) / len(texts)

    print(f"python   {platform.python_implementation()} {sys.version.split()[0]}")
    print(
        f"machine  {platform.platform()} {platform.machine()} "
        f"({platform.processor() or 'unknown cpu'})"
    )
    print(
        f"corpus   {len(texts)} messages, {len(keys)} keys, {avg:.0f} bytes average, "
        f"{rejects} rejected ({rejects / len(texts):.1%})"
    )
    print(
        f"timing   {args.repeat} pairs of runs of {args.n} messages, baseline and parser in turns"
    )

    batch = (texts * (args.n // len(texts) + 1))[: args.n]
    pairs = [(_time(_baseline, batch), _time(parser.check, batch)) for _ in range(args.repeat)]
    base = min(b for b, _ in pairs)
    check = min(c for _, c in pairs)
    ratios = sorted(c / b for b, c in pairs)
    print(
        f"baseline split/partition  {base * 1e6:7.2f} us/message  {1 / base:12,.0f} messages/s"
        "  (best run)"
    )
    print(
        f"Parser.check              {check * 1e6:7.2f} us/message  {1 / check:12,.0f} messages/s"
        "  (best run)"
    )
    print(
        f"ratio check/baseline      {statistics.median(ratios):7.2f}  (median of the pairs; "
        f"{ratios[0]:.2f}-{ratios[-1]:.2f})"
    )
    _bench_xml(parser, texts, results, args.n, args.repeat)
    return 0


def _bench_xml(
    parser: Parser, texts: list[str], results: list[object], n: int, repeat: int
) -> None:
    """Nlets legacy text against Nlets XML, the same messages, timed in turns."""
    legacy = [
        t
        for t, r in zip(texts, results, strict=True)
        if not isinstance(r, Reject) and r.destinations
    ]
    if not legacy:
        print("nlets    no valid Nlets message in the corpus")
        return
    xmls = [nlets_xml.encode_request(parser.parse(t)) for t in legacy]

    def read_xml(xml: str) -> object:
        return parser.check(nlets_xml.to_legacy(nlets_xml.decode(xml)))

    size = n // 4 or 1
    lb = (legacy * (size // len(legacy) + 1))[:size]
    xb = (xmls * (size // len(xmls) + 1))[:size]
    pairs = [(_time(parser.check, lb), _time(read_xml, xb)) for _ in range(repeat)]
    best_l = min(a for a, _ in pairs)
    best_x = min(b for _, b in pairs)
    ratios = sorted(b / a for a, b in pairs)
    avg_x = sum(len(x.encode()) for x in xmls) / len(xmls)
    print(
        f"nlets    {len(legacy)} valid Nlets messages, {avg_x:.0f} bytes average as XML; "
        f"{repeat} pairs of runs of {size}"
    )
    print(
        f"Nlets legacy Parser.check {best_l * 1e6:7.2f} us/message  {1 / best_l:12,.0f} "
        "messages/s  (best run)"
    )
    print(
        f"Nlets XML decode+check    {best_x * 1e6:7.2f} us/message  {1 / best_x:12,.0f} "
        "messages/s  (best run)"
    )
    print(
        f"ratio xml/legacy          {statistics.median(ratios):7.2f}  (median of the pairs; "
        f"{ratios[0]:.2f}-{ratios[-1]:.2f})"
    )


if __name__ == "__main__":
    sys.exit(main())
