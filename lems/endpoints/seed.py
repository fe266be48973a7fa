"""Fictitious populations for the national endpoints, generated with Faker, reproducible by seed.

One stream of subjects (a person with descriptors, maybe a criminal history, a licence, vehicles)
feeds all three databases, so the worlds agree: a subject's III record names the states that hold
parts of it, and those states' Nlets criminal-history files hold the same SID; a stolen vehicle
in NCIC is registered in its state's DMV. The people themselves come from ``lems.people`` (the
same people the state CCH holds, Oregon's SIDs included); ``random.Random(seed)`` composes the
rest, so the same seed and size give the same world on every machine. Numbers are visibly
fictitious: SOCs start with 9 (never issued as a Social Security number), VINs carry a valid
check digit but random content.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from formats.codes import COMMON_CODES, US_STATE_CODES, CodeBook
from lems import people
from lems.endpoints import nlets
from lems.endpoints.ncic import NcicStore
from lems.endpoints.search import VIN_ALPHABET, soundex, vin_check_digit
from lems.endpoints.system import open_db
from lems.repositories import iii
from lems.repositories import nics as nics_store
from lems.repositories import nlets as nlets_store

DEFAULT_SUBJECTS = 300
"""Size seeded on a lab's first start (fast enough for every test that starts a switch)."""

CHUNK = 5000
HOME_STATES = people.HOME_STATES
"""The states people live in (``lems.people``)."""


@dataclass(slots=True)
class Subject:
    """A person of the lab's world (``lems.people.Person``: who they are, where they were
    arrested) as the national files hold them: III's holders and each arrest with its
    arresting agency, both depending on the lab (which states the mock Nlets keeps, which
    agencies exist), which ``Person`` does not know."""

    person: people.Person
    holders: list[str] = field(default_factory=list)
    """Who holds parts of the record, as III names them: a state the mock Nlets keeps
    (``nlets.STATES``) or the home state by its code, ``FBI`` for any other."""
    arrests: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    """(holder, date of arrest, arresting ORI, offence, disposition or ``PEND``)."""


class World:
    """Name pools and code lists for one seed."""

    def __init__(self, seed: int, agencies: Sequence[str]) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        # the everyday codes of each table (real NCIC codes: tests/lems/test_codes_in_use.py)
        self.codes = {
            t: list(COMMON_CODES[t])
            for t in ("EYE", "HAI", "OFF", "VMA", "VST", "VCO", "MAK", "CAL", "DSP", "PCA")
        }
        # boat registration states (RES) keep the pre-1995 codes of eleven states (the 5.0.1
        # BOAT list: WN Washington, CF California ...): a seeded boat uses them
        book = CodeBook.builtin()
        names = {
            text.upper(): code for code, text in book.table("LIS").items() if code in US_STATE_CODES
        }
        self.res = {
            names[text.upper()]: code
            for code, text in book.table("BOAT").items()
            if text.upper() in names
        }
        self.agencies = list(agencies) or ["OR0240000"]
        # the arresting agencies of other states: a fixed three per member, so the seeded
        # population stays the same when ORION learns another agency
        self.out_of_state = [
            a.ori for a in nlets.orion_agencies() if a.ori[2:] in ("0010000", "0010100", "0020000")
        ]

    def ori(self) -> str:
        r = self.rng
        return r.choice(self.agencies) if r.random() < 0.3 else r.choice(self.out_of_state)

    def subject(self, n: int) -> Subject:
        """Person ``n`` of the lab's world (``lems.people``: the same person the state CCH
        holds), with the agencies that arrested them."""
        p = people.person(self.seed, n)
        s = Subject(p)
        holder = {st: st if st in nlets.STATES or st == people.HOME else "FBI" for st in p.holders}
        s.holders = list(dict.fromkeys(holder.values()))
        for a in p.arrests:
            h = holder[a.state]
            ori = (
                self.rng.choice([o for o in self.out_of_state if o.startswith(h)])
                if h in nlets.STATES
                else self.ori()
            )
            s.arrests.append((h, a.doa, ori, a.off, a.dsp or "PEND"))
        return s

    def vin(self) -> str:
        return random_vin(self.rng)

    def plate(self) -> str:
        return random_plate(self.rng)


def random_vin(r: random.Random) -> str:
    """A random VIN with a valid check digit."""
    body = [r.choice(VIN_ALPHABET) for _ in range(17)]
    body[8] = "0"
    drawn = "".join(body)
    return drawn[:8] + vin_check_digit(drawn) + drawn[9:]


def random_plate(r: random.Random) -> str:
    """A random licence plate (digit, three letters, three digits)."""
    letters = "".join(r.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3))
    return f"{r.randrange(10)}{letters}{r.randrange(1000):03d}"


LICENCE_STATUSES = ("VALID", "VALID", "VALID", "SUSPENDED", "EXPIRED")
"""A seeded licence's status, drawn from these."""


def driver_row(p: people.Person, state: str, oln: str, status: str) -> tuple[str, ...]:
    """A ``driver`` row (``lems.repositories.nlets``): ``p`` licensed by ``state`` as ``oln``."""
    return (state, oln, p.nam, soundex(p.nam), p.dob, p.sex, p.rac, p.hgt, p.wgt, p.eye, status)


def vehicle_row(p: people.Person, state: str, plate: str, vin: str, vma: str) -> tuple[str, ...]:
    """A ``vehicle`` row: a car of make ``vma`` registered to ``p`` in ``state``."""
    return (state, plate, "2026", "PC", vin, vin[-8:], p.nam, vma)


def chri_row(
    p: people.Person, state: str, sid: str, arrests: Sequence[tuple[str, ...]]
) -> tuple[str, ...]:
    """A ``chri`` row: ``state``'s criminal history ``sid`` of ``p``, with its arrests."""
    return (state, sid, p.fbi, p.nam, soundex(p.nam), p.dob, p.sex, p.rac, json.dumps(arrests))


FEDERAL_ORIS = {"kst": "DCFBIWA3Y", "immigration": "VTICE0900", "foreign": "DCINTER00"}
"""Entering agencies of the files only federal agencies enter (fictitious ORIs of the right
shape: TSC, ICE's Law Enforcement Support Center, INTERPOL Washington)."""

MORE_RATES = (
    ("gang", 0.01),
    ("kst", 0.002),
    ("sor", 0.01),
    ("supervised", 0.015),
    ("immigration", 0.004),
    ("foreign", 0.002),
    ("protective", 0.003),
    ("identity", 0.006),
    ("violent", 0.004),
    ("unidentified", 0.003),
    ("plate", 0.01),
    ("part", 0.004),
    ("security", 0.003),
)
"""Share of subjects with a record in each file the first seed did not fill."""


def more_records(
    world: World, r: random.Random, p: people.Person, ori: str, when: str
) -> list[tuple[str, str, str, str, list[tuple[str, str]], str]]:
    """Records of the other NCIC files for person ``p`` (each file at its ``MORE_RATES``; the
    first subjects get one file each, so even a small lab has a record in every file)."""
    out: list[tuple[str, str, str, str, list[tuple[str, str]], str]] = []
    ids = [("SOC", p.soc), *([("FBI", p.fbi)] if p.fbi else [])]  # FBI: fingerprinted only
    for i, (file, rate) in enumerate(MORE_RATES):
        if r.random() >= rate and p.n != i + 1:
            continue
        who = FEDERAL_ORIS.get(file, ori)
        oca = f"{file[:2].upper()}{p.n:08d}"
        person = [*p.descriptors(), *ids]
        if file == "gang":
            row = (
                "EGM",
                [
                    *person,
                    ("GNG", r.choice(("EASTSIDE LOCOS", "RIVER ROAD CREW", "NORTH YARD BOYS"))),
                    ("ECR", r.choice("ABCD")),
                ],
            )
        elif file == "sor":
            row = ("EXS", [*person, ("OFF", r.choice(("1103", "1198", "3601")))])
        elif file == "supervised":
            row = (
                "ESR",
                [
                    *person,
                    ("OFF", r.choice(world.codes["OFF"])),
                    ("EXP", f"{r.randint(2027, 2031)}1231"),
                ],
            )
        elif file == "protective":
            row = ("EPI", person)
        elif file == "identity":
            row = ("EID", [*person, ("PWD", f"BLUE{r.randrange(1000)}"), ("DOT", "20250815")])
        elif file == "violent":
            row = ("EVP", [*person, ("VPC", r.choice("1234"))])
        elif file in FEDERAL_ORIS:
            row = (file.upper(), person)
        elif file == "unidentified":
            row = (
                "EU",
                [
                    ("SEX", p.sex),
                    ("RAC", p.rac),
                    ("HGT", p.hgt),
                    ("WGT", p.wgt),
                    ("DBF", "20250910"),
                ],
            )
        elif file == "plate":
            row = (
                "EL",
                [
                    ("LIC", world.plate()),
                    ("LIS", p.state),
                    ("LIY", "2027"),
                    ("LIT", "PC"),
                    ("DOT", "20250301"),
                ],
            )
        elif file == "part":
            row = ("EP", [("SER", world.vin()), ("CAT", "TN"), ("DOT", "20250301")])
        else:  # security
            row = (
                "ES",
                [
                    ("TYP", "BD"),
                    ("SER", f"SB{r.randrange(10**8):08d}"),
                    ("DEN", "100"),
                    ("DOT", "20250301"),
                ],
            )
        mke, fields = row
        out.append((file, mke, who, oca, [*fields, ("OCA", oca)], when))
    return out


HOME_DB = "home.db"
"""The lab's own state's DMV and criminal-history files (the ``lems.repositories.nlets``
tables ``driver``, ``vehicle``, ``chri`` for the home state only): what its switch answers other
states from when it is a node of a federation (lems.federation)."""


def home_rows(
    s: Subject, home: str, rng: random.Random, world: World
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The home state's driver, vehicle and chri rows for subject ``s``, for a state the mock
    Nlets does not simulate (a simulated state's home rows are its Nlets rows). ``rng`` is a
    stream of its own so the rest of the world stays the same whatever the home state."""
    p = s.person
    if home in HOME_STATES:
        if p.state != home:
            return [], [], []
    elif rng.random() >= 0.3:  # a state the world does not draw: a share of everyone lives there
        return [], [], []
    oln = f"{home}{p.oln[2:]}"
    drivers: list[tuple[Any, ...]] = [driver_row(p, home, oln, rng.choice(LICENCE_STATUSES))]
    vehicles: list[tuple[Any, ...]] = []
    if rng.random() < 0.5:
        vehicles.append(
            vehicle_row(p, home, random_plate(rng), random_vin(rng), rng.choice(world.codes["VMA"]))
        )
    chri: list[tuple[Any, ...]] = []
    if s.arrests:
        chri.append(chri_row(p, home, f"{home}{p.n:08d}", [(home, *a[1:]) for a in s.arrests]))
    return drivers, vehicles, chri


def seed_lab(
    directory: str | Path,
    subjects: int = DEFAULT_SUBJECTS,
    seed: int = 1,
    agencies: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
    force: bool = False,
    home: str = "OR",
) -> dict[str, int]:
    """Create and fill ``ncic.db``, ``nlets.db`` and ``nics.db`` in ``directory`` (only those
    missing, unless ``force``); returns rows written per database. ``home``: the lab's state,
    whose own DMV and criminal-history files are written to ``home.db`` (``HOME_DB``) with
    ``nlets.db``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = {name: d / f"{name}.db" for name in ("ncic", "nlets", "nics")}
    paths["home"] = d / HOME_DB
    if force:
        for path in paths.values():
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
    todo = {name for name, path in paths.items() if not path.exists()}
    counts = dict.fromkeys(todo, 0)
    if not todo:
        return counts
    world = World(seed, agencies)
    home_rng = random.Random(f"{seed}-{home}")
    ncic = NcicStore.open(paths["ncic"]) if "ncic" in todo else None
    nl = open_db(paths["nlets"], nlets_store.SCHEMA) if "nlets" in todo else None
    hm = open_db(paths["home"], nlets_store.SCHEMA) if "home" in todo else None
    ni = open_db(paths["nics"], nics_store.SCHEMA) if "nics" in todo else None
    if nl is not None:
        nlets.load_orion(nl)
    when = "2026-01-01T00:00:00"
    r = world.rng
    # the files added later draw from their own stream, so the worlds of older seeds (and every
    # test written against them) are unchanged
    more = random.Random(seed * 7919 + 17)
    for start in range(0, subjects, CHUNK):
        batch = [world.subject(n) for n in range(start + 1, min(start + CHUNK, subjects) + 1)]
        records: list[tuple[str, str, str, str, list[tuple[str, str]], str]] = []
        identities, sids, arrests, drivers, vehicles, chri, indices = [], [], [], [], [], [], []
        home_drivers: list[tuple[Any, ...]] = []
        home_vehicles: list[tuple[Any, ...]] = []
        home_chri: list[tuple[Any, ...]] = []
        for s in batch:
            p = s.person
            ori = world.ori()
            oca = f"S{p.n:08d}"
            x = r.random()
            if x < 0.08:
                records.append(
                    (
                        "wanted",
                        "EW",
                        ori,
                        oca,
                        [
                            *p.descriptors(),
                            ("SOC", p.soc),
                            *([("FBI", p.fbi)] if p.fbi else []),
                            ("OFF", r.choice(world.codes["OFF"])),
                            ("DOW", "20250101"),
                            ("OCA", oca),
                        ],
                        when,
                    )
                )
            elif x < 0.09:
                records.append(
                    (
                        "missing",
                        "EMO",
                        ori,
                        oca,
                        [*p.descriptors(), ("DLC", "20250601"), ("OCA", oca)],
                        when,
                    )
                )
            elif x < 0.11:
                records.append(
                    (
                        "order",
                        "EPO",
                        ori,
                        oca,
                        [*p.descriptors(), ("PNO", f"PO{p.n}"), ("EXP", "20291231"), ("OCA", oca)],
                        when,
                    )
                )
            elif x < 0.115:
                records.append(
                    (
                        "ndtf",
                        "END",
                        ori,
                        oca,
                        [*p.descriptors()[:4], ("NTN", f"N{p.n:09d}"), ("OCA", oca)],
                        when,
                    )
                )
            if r.random() < 0.05:
                plate, vin = world.plate(), world.vin()
                state = p.state
                records.append(
                    (
                        "vehicle",
                        "EV",
                        ori,
                        oca,
                        [
                            ("VIN", vin),
                            ("VYR", str(r.randint(1998, 2026))),
                            ("VMA", r.choice(world.codes["VMA"])),
                            ("VST", r.choice(world.codes["VST"])),
                            ("VCO", r.choice(world.codes["VCO"])),
                            ("LIC", plate),
                            ("LIS", state),
                            ("LIY", "2027"),
                            ("LIT", "PC"),
                            ("DOT", "20250301"),
                            ("OCA", oca),
                        ],
                        when,
                    )
                )
                if state in nlets.STATES:
                    vehicles.append(vehicle_row(p, state, plate, vin, r.choice(world.codes["VMA"])))
            if r.random() < 0.03:
                records.append(
                    (
                        "gun",
                        "EG",
                        ori,
                        f"G{p.n:08d}",
                        [
                            ("SER", f"{r.choice('ABCDO')}{r.randrange(10**6):06d}"),
                            ("MAK", r.choice(world.codes["MAK"])),
                            ("CAL", r.choice(world.codes["CAL"])),
                            ("TYP", "P"),
                            ("DOT", "20250301"),
                            ("OCA", f"G{p.n:08d}"),
                        ],
                        when,
                    )
                )
            if r.random() < 0.01:
                records.append(
                    (
                        "article",
                        "EA",
                        ori,
                        f"A{p.n:08d}",
                        [
                            ("TYP", "RTELEVI"),
                            ("SER", f"TV{r.randrange(10**8)}"),
                            ("DOT", "20250301"),
                            ("OCA", f"A{p.n:08d}"),
                        ],
                        when,
                    )
                )
            if r.random() < 0.005:
                records.append(
                    (
                        "boat",
                        "EB",
                        ori,
                        f"B{p.n:08d}",
                        [
                            ("BTY", "RUN"),
                            ("REG", f"{p.state}{r.randrange(10**5)}"),
                            ("RES", world.res.get(p.state, p.state)),
                            ("DOT", "20250301"),
                            ("OCA", f"B{p.n:08d}"),
                        ],
                        when,
                    )
                )
            records += more_records(world, more, p, ori, when)
            if s.holders:
                identities.append(
                    (p.fbi, p.nam, soundex(p.nam), p.dob, p.sex, p.rac, p.soc, " ".join(s.holders))
                )
                for h in s.holders:
                    if h == people.HOME:  # the state CCH holds it (lems.state.seed)
                        sids.append((f"{h}{p.n:08d}", h, p.fbi))
                    elif h in nlets.STATES:
                        sid = f"{h}{p.n:08d}"
                        sids.append((sid, h, p.fbi))
                        chri.append(chri_row(p, h, sid, [a for a in s.arrests if a[0] == h]))
                arrests += [(p.fbi, *a) for a in s.arrests]
            if p.state in nlets.STATES and r.random() < 0.8:
                drivers.append(driver_row(p, p.state, p.oln, r.choice(LICENCE_STATUSES)))
            if p.state in nlets.STATES and r.random() < 0.5:
                vehicles.append(
                    vehicle_row(
                        p, p.state, world.plate(), world.vin(), r.choice(world.codes["VMA"])
                    )
                )
            if hm is not None and home not in nlets.STATES:
                hd, hv, hc = home_rows(s, home, home_rng, world)
                home_drivers += hd
                home_vehicles += hv
                home_chri += hc
            if r.random() < 0.02:
                indices.append(
                    (
                        p.nam,
                        soundex(p.nam),
                        p.dob,
                        p.sex,
                        world.ori(),
                        r.choice(world.codes["PCA"]),
                        when,
                    )
                )
        if ncic is not None:
            ncic.insert_many(records)
            c = ncic.conn
            iii.add_identities(c, identities)
            iii.add_sids(c, sids)
            iii.add_arrests(c, arrests)
            c.commit()
            counts["ncic"] += len(records) + len(identities)
        if nl is not None:
            nlets_store.add_drivers(nl, drivers)
            nlets_store.add_vehicles(nl, vehicles)
            nlets_store.add_chri(nl, chri)
            nl.commit()
            counts["nlets"] += len(drivers) + len(vehicles) + len(chri)
        if hm is not None:
            if home in nlets.STATES:  # a simulated state's own files are its Nlets rows
                home_drivers = [x for x in drivers if x[0] == home]
                home_vehicles = [x for x in vehicles if x[0] == home]
                home_chri = [x for x in chri if x[0] == home]
            nlets_store.add_drivers(hm, home_drivers)
            nlets_store.add_vehicles(hm, home_vehicles)
            nlets_store.add_chri(hm, home_chri)
            hm.commit()
            counts["home"] += len(home_drivers) + len(home_vehicles) + len(home_chri)
        if ni is not None:
            nics_store.enter_many(ni, indices)
            ni.commit()
            counts["nics"] += len(indices)
        if progress is not None:
            progress(len(batch))
    for conn in (ncic.conn if ncic else None, nl, ni, hm):
        if conn is not None:
            conn.close()
    return counts
