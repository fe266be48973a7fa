"""The Nlets members: each one's two-character code, name, kind, region and generic ORIs.

One table for everything that needs to know who is on Nlets: the mock Nlets (which members
answer which keys, where a region or ``NL`` fans out to), the parser (which two-character
destinations exist) and, later, the federation of state switches (a state code -> its name, its
ORIs, its region, its local agencies). Nothing here holds data of a member (drivers, vehicles,
records): that is the mock Nlets' business, or the business of that state's own node.

Sources (docs/FIDELITY.md, section Nlets, says which rows are guesses):

* the 50 states and DC: NCIC state codes (formats/codes.py; NB is Nebraska);
* territories: the NCIC codes of the territories that hold FBI-assigned ORIs;
* Canada ``CN`` (Nlets User Guide, "Communicating with Canada"; IQ/FQ/AQ "with an address of
  CN"), Mexico ``MX`` (eLicencia, "Communicating with Mexico": DQ/KQ by OLN only);
* federal members reached by a two-character code: the codes formats/codes.py lists (FBI ``FB``,
  FAA ``FA``, NICB ``NA``, Coast Guard ``CG``);
* regions: Nlets divides the country into eight regions, each with a two-character destination
  code (Wisconsin DOJ TIME manual, "NLETS Regional Broadcasts", names region ``E1``). The codes
  ``A1``..``H1`` follow that pattern; which states each region holds is not public, so the
  membership below is this project's geographic guess (a lab may learn the real one);
* local agencies (``local_agencies``): every member's two sheriff's offices and two police
  departments with invented county and city names, the one table both the mock Nlets' ORION
  and a lab made for that state (``lems init --state``) read, so the two worlds agree;
* ``NL``: the multi-state query (MSQ) for DQ, RQ and IQ (Nlets User Guide, Driver's License and
  CHRI articles: "sent in its typical format to the destination NL").
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from formats.codes import STATE_NAMES, TERRITORY_NAMES

GENERIC_OFFICES: Final = ("OLN", "LIC", "VIN", "SIR")
"""The offices of a member's generic ORIs (``xxOLN0000`` ...), as the guide's answers show."""


@dataclass(frozen=True, slots=True)
class Member:
    """One Nlets member reached by a two-character destination."""

    code: str
    name: str
    kind: str
    """``state`` (the 50 states and DC), ``territory``, ``canada``, ``mexico`` or ``federal``."""
    region: str = ""
    """The region code it belongs to (states, DC and territories), else ""."""

    def generic_ori(self, office: str) -> str:
        """The member's generic ORI for an office: ``OLN`` driver licences, ``LIC``/``VIN``
        registrations, ``SIR`` criminal history (the guide's ``xxOLN0000``-style ORIs)."""
        return f"{self.code}{office}0000"

    @property
    def generic_oris(self) -> tuple[str, ...]:
        """Every generic ORI the member answers from (driver licences, plates, VINs, criminal
        history)."""
        return tuple(self.generic_ori(office) for office in GENERIC_OFFICES)


_OTHERS: Final = (
    Member("CN", "CANADA (CPIC)", "canada"),
    Member("MX", "MEXICO (ELICENCIA)", "mexico"),
    Member("FB", "FBI / NCIC", "federal"),
    Member("FA", "FEDERAL AVIATION ADMINISTRATION", "federal"),
    Member("NA", "NATIONAL INSURANCE CRIME BUREAU", "federal"),
    Member("CG", "U.S. COAST GUARD", "federal"),
)

REGIONS: Final = MappingProxyType(
    {
        "A1": ("CT", "MA", "ME", "NH", "NY", "RI", "VT"),
        "B1": ("DC", "DE", "MD", "NJ", "PA", "VA", "WV"),
        "C1": ("AL", "FL", "GA", "KY", "MS", "NC", "PR", "SC", "TN", "VI"),
        "D1": ("IL", "IN", "MI", "OH"),
        "E1": ("IA", "KS", "MN", "MO", "NB", "ND", "SD", "WI"),
        "F1": ("AR", "LA", "NM", "OK", "TX"),
        "G1": ("AZ", "CO", "ID", "MT", "NV", "UT", "WY"),
        "H1": ("AK", "AM", "CA", "GM", "HI", "MK", "OR", "WA"),
    }
)
"""Region code -> the members in it (code pattern from a public manual, membership a guess)."""

MULTI_STATE: Final = "NL"
"""The destination of Nlets' multi-state query (DQ, RQ, IQ), and Nlets' own code."""

MULTI_STATE_KEYS: Final = frozenset({"DQ", "DQG", "RQ", "RQG", "IQ"})
"""Keys Nlets fans out to every participating state when sent to ``NL``."""

REGION_KEYS: Final = frozenset({"DQ", "DQG", "RQ", "RQG", "AM", "AML"})
"""Keys the guide lets a sender address to a region code."""


def _build() -> dict[str, Member]:
    region_of = {code: region for region, codes in REGIONS.items() for code in codes}
    out = {code: Member(code, name, "state", region_of[code]) for code, name in STATE_NAMES.items()}
    out.update(
        {
            code: Member(code, name, "territory", region_of[code])
            for code, name in TERRITORY_NAMES.items()
        }
    )
    out.update({m.code: m for m in _OTHERS})
    return out


MEMBERS: Final = MappingProxyType(_build())
"""Two-character code -> member: 50 states, DC, 5 territories, Canada, Mexico, 4 federal."""

DOMESTIC: Final = tuple(code for code, m in MEMBERS.items() if m.kind in ("state", "territory"))
"""The members holding state DMV and criminal-history files (the 50 states, DC, territories)."""

DESTINATION_CODES: Final = frozenset(MEMBERS) | frozenset(REGIONS) | {MULTI_STATE}
"""Every two-character destination Nlets routes on (members, regions, NL)."""


_FIXED_PLACES: Final = MappingProxyType(
    {
        "WA": ("TAMARACK", "BLUE HERON"),
        "ID": ("SAWTOOTH RIDGE", "CAMAS VALLEY"),
        "CA": ("MANZANITA", "CONDOR PEAK"),
        "NV": ("SILVER SAGE", "PINYON FLATS"),
    }
)
"""The first county and city of the members the mock Nlets seeds with the lab's own subjects
(names chosen by hand, kept as they were)."""

_PLACE_WORDS: Final = (
    "ALDER",
    "BASALT",
    "BIRCHWOOD",
    "BLUE HERON",
    "BRAMBLE",
    "CEDAR FORK",
    "CINDER",
    "COPPER BUTTE",
    "COTTONWOOD",
    "CRANE LAKE",
    "DEER HOLLOW",
    "DOVETAIL",
    "EAGLE RUN",
    "ELKHORN",
    "FALCON RIDGE",
    "FERNDALE HILLS",
    "FOXGLOVE",
    "GRANITE PASS",
    "HARROW",
    "HAWTHORN",
    "HEMLOCK",
    "IRONWOOD",
    "JUNCO",
    "KESTREL",
    "LARKSPUR",
    "LOON POINT",
    "MAPLE BEND",
    "MARSH HAWK",
    "MILLSTONE",
    "NETTLE CREEK",
    "OSPREY",
    "OTTER FALLS",
    "PAINTBRUSH",
    "PEREGRINE",
    "QUAIL HOLLOW",
    "RAVEN",
    "REDSTONE",
    "SAGEBRUSH",
    "SANDPIPER",
    "SHALE",
    "SORREL",
    "SPRUCE GAP",
    "STONECROP",
    "SUMAC",
    "TANAGER",
    "THISTLE",
    "TIMBERLINE",
    "TRILLIUM",
    "VERDANT",
    "WAGTAIL",
    "WHITE BIRCH",
    "WILLET",
    "WINDFALL",
    "WREN",
    "YARROW",
)
"""Invented place words; a member's county and city names are picked from them by its code."""


@dataclass(frozen=True, slots=True)
class Places:
    """A member's invented places: two counties and a city in each."""

    county1: str
    city1: str
    county2: str
    city2: str


def places(code: str) -> Places:
    """The invented county and city names of member ``code`` (stable for a code)."""
    n = len(_PLACE_WORDS)
    k = (ord(code[0]) * 31 + ord(code[1])) % n
    words = [_PLACE_WORDS[(k + i * 7) % n] for i in range(4)]
    if code in _FIXED_PLACES:
        words[0], words[1] = _FIXED_PLACES[code]
    return Places(*words)


@dataclass(frozen=True, slots=True)
class LocalAgency:
    """One of a member's invented local agencies (an NCIC-style ORI of that state)."""

    ori: str
    type: str
    """ORION type: ``SO`` sheriff's office, ``PD`` police department."""
    name: str
    loc: str
    """ORION location (the county or city)."""


def local_agencies(code: str) -> tuple[LocalAgency, ...]:
    """Member ``code``'s two sheriff's offices and two police departments (fictitious):
    ``<code>0010000`` and ``<code>0020000`` the counties', ``<code>0010100`` and
    ``<code>0020200`` a city's in each."""
    p = places(code)
    return (
        LocalAgency(f"{code}0010000", "SO", f"{p.county1} COUNTY SHERIFF'S OFFICE", p.county1),
        LocalAgency(f"{code}0010100", "PD", f"{p.city1} POLICE DEPARTMENT", p.city1),
        LocalAgency(f"{code}0020000", "SO", f"{p.county2} COUNTY SHERIFF'S OFFICE", p.county2),
        LocalAgency(f"{code}0020200", "PD", f"{p.city2} POLICE DEPARTMENT", p.city2),
    )


def member(code: str) -> Member | None:
    return MEMBERS.get(code)


def expand(dest: str, key: str) -> tuple[str, ...]:
    """The member codes a two-character destination reaches for ``key``: a member itself, the
    members of a region, or every domestic member for ``NL`` (the multi-state query)."""
    if dest in REGIONS:
        return REGIONS[dest]
    if dest == MULTI_STATE and key in MULTI_STATE_KEYS:
        return DOMESTIC
    return (dest,)


def by_kind(kind: str) -> tuple[Member, ...]:
    return tuple(m for m in MEMBERS.values() if m.kind == kind)
