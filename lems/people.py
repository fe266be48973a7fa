"""The fictitious people of a lab's world: one generator for the national files (NCIC, III,
Nlets, NICS: ``lems.endpoints.seed``) and the state's CCH (``lems.state.seed``), so the same
person is the same everywhere (name, sex, DOB, FBI and SID numbers, arrest history).

Person ``n`` of a seed is drawn from a generator seeded with ``(seed, n)`` alone, so any part of
the world can be rebuilt without the rest, and the same seed gives the same people on every
machine. Coherence rules (checked over 10,000 people by ``tests/lems/test_population.py``):

* the given name comes from Faker's pool for the person's sex (``first_names_male`` /
  ``first_names_female``), the surname from its surname pool, both weighted by frequency;
* every date is before ``REFERENCE`` (the seed's "today"; the lab's scenario starts after it):
  born 18 to 80 years before, arrested only as an adult, arrests in date order, each disposition
  dated after its arrest (an arrest whose disposition would fall after ``REFERENCE`` is open);
* FBI numbers (UCN style: 6 digits, 2 letters, 1 digit, 9 characters) only for people with a
  fingerprint-based record; a state SID (``OR`` + 8 digits) for each state holding arrests;
* the holders of a record are exactly the states where the arrests are (``FBI`` for a federal
  arrest), so III never names a state with nothing to send.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from faker.providers.person.en_US import Provider as _Faker

REFERENCE = date(2026, 1, 1)
"""The seeded world's "today": every seeded date is before it (``seed_lab`` enters records on
this date)."""

HOME = "OR"
FEDERAL = "US"
"""The "state" of a federal arrest: the FBI holds that part of the record."""
HOME_STATES = ("OR", "OR", "OR", "WA", "ID", "CA", "NV")
RACES = ("W",) * 12 + ("B",) * 3 + ("H",) * 2 + ("A", "I", "U")
OFFENCES = (
    ("0901", "FA"),
    ("1204", "FA"),
    ("2202", "FB"),
    ("2404", "FC"),
    ("2589", "FC"),
    ("1313", "MA"),
    ("2303", "MA"),
    ("5404", "MA"),
    ("4801", "MA"),
    ("3562", "MB"),
)
"""(NCIC offence code, Oregon offence class): homicide, robbery, burglary, vehicle theft,
forgery, assault, shoplifting, DUII, obstructing, drug possession."""
DISPOSITIONS = ("CONV", "CONV", "CONV", "DISM", "ACQ", "DIVD")
EYES = ("BRO", "BLU", "GRN", "HAZ", "GRY", "BLK")
HAIR = ("BRO", "BLK", "BLN", "RED", "GRY", "SDY")


def _pool(names: dict[str, float]) -> list[str]:
    """Names repeated by their frequency weight, so common names come up often."""
    out: list[str] = []
    for name, weight in sorted(names.items()):
        clean = name.upper().replace("'", "").replace(" ", "").replace("-", "")
        out += [clean] * max(1, round(weight * 1000))
    return out


_POOLS: dict[str, list[str]] = {}


def pools() -> dict[str, list[str]]:
    """Faker's en_US surname and gendered given-name pools (read once per process)."""
    if not _POOLS:
        _POOLS.update(
            last=_pool(_Faker.last_names),
            M=_pool(_Faker.first_names_male),
            F=_pool(_Faker.first_names_female),
        )
    return _POOLS


@dataclass(slots=True)
class Arrest:
    state: str
    doa: str
    off: str
    ocl: str
    dsp: str
    """CONV, DISM, ACQ, DIVD, or '' while the case is open."""
    dod: str


@dataclass(slots=True)
class Person:
    n: int
    nam: str
    sex: str
    rac: str
    dob: str
    hgt: str
    wgt: str
    eye: str
    hai: str
    soc: str
    state: str
    """Home state (driver licence, address)."""
    oln: str
    fbi: str = ""
    arrests: list[Arrest] = field(default_factory=list)

    @property
    def holders(self) -> list[str]:
        """States holding part of the record, in order of first arrest."""
        out: list[str] = []
        for a in self.arrests:
            if a.state not in out:
                out.append(a.state)
        return out

    def sid(self, state: str) -> str:
        return f"{state}{self.n:08d}"

    def descriptors(self) -> list[tuple[str, str]]:
        """(field code, value) of who they are, as an NCIC person record starts."""
        return [
            ("NAM", self.nam),
            ("SEX", self.sex),
            ("RAC", self.rac),
            ("DOB", self.dob),
            ("HGT", self.hgt),
            ("WGT", self.wgt),
            ("EYE", self.eye),
            ("HAI", self.hai),
        ]

    @property
    def given(self) -> str:
        return self.nam.partition(",")[2].split(" ")[0]


def person(seed: int, n: int, record_rate: float = 0.5) -> Person:
    """Person ``n`` of the world of ``seed``."""
    r = random.Random(f"{seed}:{n}")
    p = pools()
    sex = "M" if r.random() < 0.62 else "F"
    age_days = r.randrange(18 * 365 + 30, 80 * 365)
    born = REFERENCE - timedelta(days=age_days)
    state = r.choice(HOME_STATES)
    tall = (5, 6) if sex == "M" else (4, 5)
    who = Person(
        n=n,
        nam=f"{r.choice(p['last'])},{r.choice(p[sex])} {chr(65 + r.randrange(26))}",
        sex=sex,
        rac=r.choice(RACES),
        dob=born.strftime("%Y%m%d"),
        hgt=f"{r.randint(*tall)}{r.randint(0, 11):02d}",
        wgt=str(r.randint(140, 260) if sex == "M" else r.randint(105, 210)),
        eye=r.choice(EYES),
        hai=r.choice(HAIR),
        soc=f"9{r.randrange(10**8):08d}",
        state=state,
        oln=f"{state}{r.randrange(10**7):07d}",
    )
    if r.random() < record_rate:
        adult = (
            born.replace(year=born.year + 18)
            if not (born.month == 2 and born.day == 29)
            else date(born.year + 18, 3, 1)
        )
        span = max(1, (REFERENCE - adult).days - 1)
        days = sorted(r.randrange(span) for _ in range(r.choice((1, 1, 1, 2, 2, 3, 4))))
        for d in days:
            doa = adult + timedelta(days=d)
            x = r.random()
            where = state if x < 0.8 else FEDERAL if x < 0.86 else r.choice(HOME_STATES)
            off, ocl = r.choice(OFFENCES)
            dod = doa + timedelta(days=r.randint(20, 400))
            if dod >= REFERENCE:
                dsp, dod_s = "", ""
            else:
                dsp, dod_s = r.choice(DISPOSITIONS), dod.strftime("%Y%m%d")
            who.arrests.append(Arrest(where, doa.strftime("%Y%m%d"), off, ocl, dsp, dod_s))
        # unique by construction: the first seven characters come from n
        who.fbi = (
            f"{n % 10**6:06d}{chr(65 + (n // 10**6) % 26)}"
            f"{chr(65 + r.randrange(26))}{r.randrange(10)}"
        )
    return who
