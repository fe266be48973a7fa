"""Code tables: the NCIC/Nlets code lists the switch validates fields against and prints out.

Why a built-in core *and* a loader: a switch must start and validate the common fields (SEX, RAC,
LIS, OFF, VMA …) even when no data directory is configured (unit tests, a bare lab install), but the
full public lists run to tens of thousands of codes (VMA alone has 5,192 makes) and belong in data
files, not in source.  So :meth:`CodeBook.builtin` is a small core written out below, and
:meth:`CodeBook.load_dir` merges the CSV lists from ``shared/data/ncic-codes`` over it.  Loading
only ever adds or re-describes codes, so nothing that validated against the core stops validating
once the full lists are loaded.

Sources.  Codes and descriptions of the NCIC tables are copied from the NIEM 2.0 ``fbi.xsd``
lists and the NIEM 5.0.1 NCIC update (the CSVs under ``shared/data/ncic-codes``).  Built-in
descriptions are upper case, as NCIC prints them: where a CSV gives mixed case or a run-on note
(``MotorcycleMotorized bikes…``), the built-in text is the upper-cased name part of that text.
OFF texts are copied exactly (they are already upper case in the CSV).  Loaded descriptions are
kept as the file has them (stripped, case untouched), so after loading some descriptions are mixed
case; callers that print them on a teletype upper-case them there.

Tables marked **state/lab table** (PUR, PCA, RTY, PRI, DSP, IDT, OCL) are this project's own: no
public code list ships them, so their codes follow the shared MESSAGES.md (sections 6-8) and their
descriptions are written here.

Nothing here touches the network; the only file access is :meth:`CodeBook.load_dir`.
"""

from __future__ import annotations

import csv
import functools
import io
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from formats.errors import ConfigError

__all__ = [
    "ALIASES",
    "NLETS_SPECIAL_DESTINATIONS",
    "STATE_LAB_TABLES",
    "US_STATE_CODES",
    "CodeBook",
]

_EMPTY: Mapping[str, str] = MappingProxyType({})

# --------------------------------------------------------------------------------------------
# States and territories (NCIC codes, not USPS: NB is Nebraska; NE is the Netherlands)
# --------------------------------------------------------------------------------------------

_US_STATES: dict[str, str] = {
    "AK": "ALASKA", "AL": "ALABAMA", "AR": "ARKANSAS", "AZ": "ARIZONA", "CA": "CALIFORNIA",
    "CO": "COLORADO", "CT": "CONNECTICUT", "DC": "DISTRICT OF COLUMBIA", "DE": "DELAWARE",
    "FL": "FLORIDA", "GA": "GEORGIA", "HI": "HAWAII", "IA": "IOWA", "ID": "IDAHO",
    "IL": "ILLINOIS", "IN": "INDIANA", "KS": "KANSAS", "KY": "KENTUCKY", "LA": "LOUISIANA",
    "MA": "MASSACHUSETTS", "MD": "MARYLAND", "ME": "MAINE", "MI": "MICHIGAN", "MN": "MINNESOTA",
    "MO": "MISSOURI", "MS": "MISSISSIPPI", "MT": "MONTANA", "NB": "NEBRASKA",
    "NC": "NORTH CAROLINA", "ND": "NORTH DAKOTA", "NH": "NEW HAMPSHIRE", "NJ": "NEW JERSEY",
    "NM": "NEW MEXICO", "NV": "NEVADA", "NY": "NEW YORK", "OH": "OHIO", "OK": "OKLAHOMA",
    "OR": "OREGON", "PA": "PENNSYLVANIA", "RI": "RHODE ISLAND", "SC": "SOUTH CAROLINA",
    "SD": "SOUTH DAKOTA", "TN": "TENNESSEE", "TX": "TEXAS", "UT": "UTAH", "VA": "VIRGINIA",
    "VT": "VERMONT", "WA": "WASHINGTON", "WI": "WISCONSIN", "WV": "WEST VIRGINIA",
    "WY": "WYOMING",
}
"""The 50 states and DC, as in the 5.0.1 ``UnitedStates`` list (51 codes)."""

_US_TERRITORIES: dict[str, str] = {
    "PR": "PUERTO RICO",
    "VI": "U.S. VIRGIN ISLANDS",
    "GM": "GUAM",
    "AM": "AMERICAN SAMOA",
    "MK": "NORTHERN MARIANA ISLANDS",
}
"""Territories that hold FBI-assigned ORIs (the minor outlying islands of ``USTerritories`` do
not: nobody is there to run a terminal)."""

_CANADA: dict[str, str] = {
    "AB": "ALBERTA",
    "BC": "BRITISH COLUMBIA",
    "MB": "MANITOBA",
    "NF": "NEWFOUNDLAND (INCLUDES LABRADOR)",
    "NK": "NEW BRUNSWICK",
    "NS": "NOVA SCOTIA",
    "NT": "NORTHWEST TERRITORIES",
    "ON": "ONTARIO",
    "PE": "PRINCE EDWARD ISLAND",
    "PQ": "QUEBEC",
    "SN": "SASKATCHEWAN",
    "XN": "NUNAVUT TERRITORY",
    "YT": "YUKON",
}

_COUNTRIES: dict[str, str] = {
    "CD": "CANADA",
    "MM": "MEXICO",
    "MX": "MEXICO (STATE)",
    "US": "UNITED STATES OF AMERICA (USA)",
    "GT": "GUATEMALA",
    "EL": "EL SALVADOR",
    "HD": "HONDURAS",
    "PI": "PHILIPPINES",
    "RV": "VIETNAM",
    "KO": "SOUTH KOREA",
    "RC": "PEOPLE'S REPUBLIC OF CHINA",
    "JA": "JAPAN",
    "II": "INDIA",
    "EN": "ENGLAND",
    "GE": "GERMANY",
    "NE": "NETHERLANDS (HOLLAND)",
    "RF": "RUSSIAN FEDERATION",
    "XX": "UNKNOWN PLACE OF BIRTH (FOR USE IN III RECORDS ONLY)",
}
"""A handful of countries.  NCIC quirks worth knowing: MM is Mexico the country and MX the
Mexican *state* of Mexico; NE is the Netherlands (Nebraska is NB); XX is valid only as a POB."""

US_STATE_CODES: frozenset[str] = frozenset(_US_STATES) | frozenset(_US_TERRITORIES)
"""NCIC codes valid as the first two characters of an ORI: 50 states, DC, PR VI GM AM MK.

Why a separate set and not "any LIS code": LIS also holds provinces, Mexican states, tribes and
countries, and an ORI beginning ``NE`` (the Netherlands) or ``BC`` must be refused.
"""

NLETS_SPECIAL_DESTINATIONS: Mapping[str, str] = MappingProxyType({
    "NL": "NLETS (SWITCH / MULTI-STATE)",
    "FB": "FBI / NCIC",
    "CN": "CANADA",
    "FA": "FEDERAL AVIATION ADMINISTRATION",
    "NA": "NATIONAL INSURANCE CRIME BUREAU",
    "CG": "U.S. COAST GUARD",
    "OD": "ORION DIRECTORY",
    "Z1": "ALL STATES",
    **{f"R{n}": f"NLETS REGION {n} (INFERRED)" for n in range(1, 9)},
})
"""Two-character Nlets destinations that are not states.

These are a different namespace from LIS: in LIS, NL is Nuevo Leon, NA Nayarit, FA the Falkland
Islands and CG the Caroline Islands, so a destination check must look here first.  Nlets has eight
regions, but no public source shows their destination codes: ``R1``..``R8`` are this project's
stand-in (**inferred**), to be replaced by configuration if a lab knows the real ones.
"""

ALIASES: Mapping[str, str] = MappingProxyType({
    "RACE": "RAC",
    "HAIR": "HAI",
    "SKIN": "SKN",
    "VEHICLEEPD": "EPD",
    "UNITEDSTATES": "LIS",
    "CANADIAN": "LIS",
    "USTERRITORIES": "LIS",
    "COUNTRY": "LIS",
    "POB": "LIS",
})
"""Upper-cased file stem -> table name, for files that name an NCIC table differently.

Decisions, from the shared directory's INDEX.md files and CSV contents:

* NIEM 5.0.1 update: ``RACE``/``HAIR``/``SKIN`` are the RAC/HAI/SKN field codes (the update
  adds RAC H and P, HAI BLD); ``VehicleEPD`` is EPD with the same five codes.
* ``UnitedStates``, ``Canadian``, ``USTerritories``, ``Country`` are the 5.0.1 sections 2.6,
  2.1, 2.7, 2.2 of the state/country list: merged into LIS (no code clashes between them; they
  add e.g. XN Nunavut, KV Kosovo, UN United Kingdom).
* ``POB`` (NIEM 2.0) has exactly LIS's 403 codes: merged into LIS, and POB is then LIS itself
  (see :class:`CodeBook`), so a POB always validates like a LIS.

Deliberately *not* aliased:

* ``BOAT`` (5.0.1 section 1): the pre-1995 boat-file (RES) state codes, which clash with LIS
  (MI = Mississippi, MS = Massachusetts, AS = American Samoa, WS = Wisconsin …).  Merging it into
  LIS would corrupt LIS, so it stays its own table ``BOAT``.
* ``RES`` (boat registration state) and ``LSTA`` (state/country index) are separate NCIC fields
  with their own lists; ``Ethnicity`` (NIBRS H/N/U) is not the NCIC ETN list (H/N only).
* ``TYP`` is the gun type; ``TYPA``/``TYPS``/``TYPO`` (article, security, ORI type) stay apart.
* The NIBRS-style long names (``ArrestCategory`` …) become tables named by their upper stem.
"""

# --------------------------------------------------------------------------------------------
# Built-in core
# --------------------------------------------------------------------------------------------

_BUILTIN_TABLES: dict[str, dict[str, str]] = {
    "SEX": {"F": "FEMALE", "M": "MALE", "U": "UNKNOWN"},
    "RAC": {
        "A": "ASIAN",
        "B": "BLACK",
        "I": "AMERICAN INDIAN",
        "U": "UNKNOWN",
        "W": "WHITE",
        # Added by the 2021 NCIC update (NIEM 5.0.1 RACE list).
        "H": "HISPANIC OR LATINO",
        "P": "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER",
    },
    "EYE": {
        "BLK": "BLACK", "BLU": "BLUE", "BRO": "BROWN", "GRN": "GREEN", "GRY": "GRAY",
        "HAZ": "HAZEL", "MAR": "MAROON", "MUL": "MULTICOLORED", "PNK": "PINK",
        "XXX": "UNKNOWN",
    },
    "HAI": {
        "BLK": "BLACK", "BLN": "BLOND OR STRAWBERRY", "BLU": "BLUE", "BRO": "BROWN",
        "GRN": "GREEN", "GRY": "GRAY OR PARTIALLY GRAY", "ONG": "ORANGE", "PLE": "PURPLE",
        "PNK": "PINK", "RED": "RED OR AUBURN", "SDY": "SANDY", "WHI": "WHITE",
        "XXX": "UNKNOWN OR COMPLETELY BALD",
    },
    "SKN": {
        "ALB": "ALBINO", "BLK": "BLACK", "DBR": "DARK BROWN", "DRK": "DARK", "FAR": "FAIR",
        "LBR": "LIGHT BROWN", "LGT": "LIGHT", "MBR": "MEDIUM BROWN", "MED": "MEDIUM",
        "OLV": "OLIVE", "RUD": "RUDDY", "SAL": "SALLOW", "YEL": "YELLOW",
    },
    "LIS": {**_US_STATES, **_US_TERRITORIES, **_CANADA, **_COUNTRIES},
    "OFF": {
        "0901": "HOMICIDE - WILLFUL KILL-FAMILY-GUN",
        "0902": "HOMICIDE - WILLFUL KILL-FAMILY-WEAPON",
        "0903": "HOMICIDE - WILLFUL KILL-NONFAMILY-GUN",
        "0911": "HOMICIDE - WILLFUL KILL-GUN",
        "0912": "HOMICIDE - WILLFUL KILL-WEAPON",
        "0999": "HOMICIDE",
        "1006": "KIDNAP ADULT",
        "1099": "KIDNAPPING",
        "1103": "RAPE - STRONGARM",
        "1198": "RAPE",
        "1199": "SEX ASSAULT",
        "1204": "ROBBERY - STREET-GUN",
        "1299": "ROBBERY",
        "1313": "SIMPLE ASSLT",
        "1315": "AGGRAV ASSLT - WEAPON",
        "1316": "INTIMIDATION (INCLUDES STALKING)",
        "1399": "ASSAULT",
        "2202": "BURGL - FORCED ENTRY-RESID",
        "2299": "BURGLARY",
        "2303": "SHOPLIFTING",
        "2399": "LARCENY",
        "2404": "VEHICLE THEFT",
        "2499": "STOLEN VEHICLE",
        "2589": "FORGERY",
        "2605": "FRAUD - ILLEG USE CREDIT CARDS",
        "2699": "FRAUD",
        "3532": "COCAINE - POSSESS",
        "3562": "MARIJUANA - POSSESS",
        "3572": "AMPHETAMINE - POSSESS",
        "3599": "DANGEROUS DRUGS",
        "4801": "RESISTING OFFICER",
        "4899": "OBSTRUCT POLICE",
        "4901": "ESCAPE SEE MIS",
        "4902": "FLIGHT TO AVOID SEE MIS",
        "4999": "FLIGHT-ESCAPE",
        "5011": "PAROLE VIOLATION - SEE MIS",
        "5012": "PROB VIOLATION - SEE MIS",
        "5015": "FAILURE TO APPEAR - SEE MIS",
        "5016": "VIOLATION OF A COURT ORDER",
        "5099": "OBSTRUCT SEE MIS",
        "5202": "CARRYING CONCEALED WEAPON",
        "5212": "POSSESSION OF WEAPON",
        "5299": "WEAPON OFFENSE",
        "5401": "HIT AND RUN",
        "5403": "DRIVING UNDER INFLUENCE DRUGS",
        "5404": "DRIVING UNDER INFLUENCE ALCOHOL",
        "5499": "TRAFFIC OFFENSE",
    },
    "VMA": {
        "ACUR": "ACURA", "AUDI": "AUDI", "BMW": "BMW", "BUIC": "BUICK", "CADI": "CADILLAC",
        "CHEV": "CHEVROLET", "CHRY": "CHRYSLER", "DODG": "DODGE", "FORD": "FORD",
        "FRHT": "FREIGHTLINER CORP.", "GMC": "GENERAL MOTORS CORP.", "HD": "HARLEY-DAVIDSON",
        "HOND": "HONDA", "HYUN": "HYUNDAI", "INFI": "INFINITI", "INTL": "INTERNATIONAL HARVESTER",
        "JEEP": "JEEP", "KAWK": "KAWASAKI", "KIA": "KIA MOTORS CORPORATION",
        "KW": "KENWORTH MOTOR TRUCK CO.", "LEXS": "LEXUS", "LINC": "LINCOLN-CONTINENTAL",
        "LNDR": "LAND ROVER", "MAZD": "MAZDA", "MERZ": "MERCEDES-BENZ", "MITS": "MITSUBISHI",
        "NISS": "NISSAN", "PLYM": "PLYMOUTH", "PONT": "PONTIAC", "PTRB": "PETERBILT MOTORS CO.",
        "SUBA": "SUBARU", "SUZI": "SUZUKI", "TOYT": "TOYOTA", "VOLK": "VOLKSWAGEN",
        "VOLV": "VOLVO",
    },
    "VST": {
        "2D": "SEDAN, 2 DOOR", "4D": "SEDAN, 4 DOOR", "BU": "BUS", "CP": "COUPE",
        "CV": "CONVERTIBLE", "DS": "TRACTOR TRUCK, DIESEL", "HB": "HATCHBACK/FASTBACK",
        "LL": "CARRY-ALL", "LM": "LIMOUSINE", "MC": "MOTORCYCLE", "MD": "MOPED",
        "MH": "MOTORIZED HOME", "PK": "PICKUP", "SD": "SEDAN", "SW": "STATION WAGON",
        "TR": "TRACTOR TRUCK, GASOLINE", "TT": "TOW TRUCK/WRECKER", "UT": "UTILITY", "VN": "VAN",
    },
    "LIT": {
        "AQ": "ANTIQUE", "BU": "BUS", "CO": "COMMERCIAL", "DL": "DEALER",
        "DV": "DISABLED VETERAN", "DX": "DISABLED PERSON", "IT": "IN-TRANSIT",
        "MC": "MOTORCYCLE", "MP": "MOPED", "PC": "REGULAR PASSENGER AUTOMOBILE PLATES",
        "PE": "PERSONALIZED/CUSTOMIZED", "RV": "RENTED VEHICLE OR TRAILER",
        "ST": "STATE-OWNED VEHICLE", "TK": "TRUCK", "TL": "TRAILER", "TM": "TEMPORARY",
        "TX": "CAB", "US": "U. S. GOVERNMENT VEHICLES",
    },
    "VCO": {
        "BGE": "BEIGE", "BLK": "BLACK", "BLU": "BLUE", "BRO": "BROWN", "DBL": "BLUE, DARK",
        "GLD": "GOLD", "GRN": "GREEN", "GRY": "GRAY", "LBL": "BLUE, LIGHT",
        "MAR": "MAROON, BURGUNDY (PURPLE)", "ONG": "ORANGE", "PLE": "PURPLE", "RED": "RED",
        "SIL": "SILVER", "TAN": "TAN", "WHI": "WHITE", "YEL": "YELLOW",
    },
    "TYP": {
        "B": "SUBMACHINE GUN OR MACHINE PISTOL", "C": "RIFLE-SHOTGUN COMBINATION",
        "D": "DISGUISED GUN", "M": "MACHINE GUN", "P": "PISTOL", "Q": "SHOTGUN PISTOL",
        "R": "RIFLE", "S": "SHOTGUN", "V": "SILENCER (MUFFLER OR SOUND MODERATOR)",
        "Z": "ALL OTHERS (INCLUDING GUNS THAT FIRE ELECTRICALLY-CHARGED DARTS)",
    },
    # The MAK CSV describes each code by one brand or model it covers ("BodyguardModel of Smith
    # & Wesson" under SW); the maker's name is taken from that text.  COL is left out: its CSV
    # text ("Collath") does not show it is Colt.
    "MAK": {
        "AMR": "AMADEO ROSSI & CO.", "BER": "BERETTA", "CAC": "CHARTER ARMS CORPORATION",
        "FNH": "FNH USA, LLC", "GLC": "GLOCK, INC.", "HEC": "HECKLER & KOCH",
        "HIH": "HI-POINT", "ITH": "ITHACA", "KIE": "KIMBER", "MAR": "MARLIN",
        "MOS": "MOSSBERG", "NON": "NORINCO", "REM": "REMINGTON ARMS",
        "SR": "STURM, RUGER & CO.", "STE": "STEYR", "SW": "SMITH & WESSON", "WAL": "WALTHER",
        "WIN": "WINCHESTER",
    },
    "CAL": {
        "9": "9 MM LUGER/PARABELLUM/9X19",
        "12": "12.5 MM IS METRIC FOR .50-CALIBER BROWNING MACHINE GUN ROUND; "
              "ALSO USED FOR 12-GAUGE SHOTGUN",
        "22": ".22 SHORT/LONG/LONG RIFLE RIMFIRE CARTRIDGE FAMILY",
        "223": ".223 REMINGTON/5.56X45 MM NATO",
        "25": ".25 ACP",
        "32": ".32 ACP",
        "357": ".357 REMINGTON MAGNUM",
        "38": ".38 S&W, .38 (S&W) SPECIAL",
        "380": ".380 ACP",
        "40": ".40 S&W, 10 MM",
        "44": ".44-40 WINCHESTER, .44 RUSSIAN, .44 SPECIAL, .44 REMINGTON MAGNUM",
        "45": ".45 ACP",
        "308": ".308 WINCHESTER/7.62X51MM NATO",
        "3006": ".30-06 U.S. (.30 SPRINGFIELD)",
        "762": "7.62X39 SOVIET, 7.62X51 NATO/.308 WINCHESTER",
    },
    # ---- state/lab tables (this project's own; see module docstring) ----
    "PUR": {  # III purpose codes, MESSAGES.md section 7
        "A": "ADMINISTRATIVE FILE MAINTENANCE",
        "C": "CRIMINAL JUSTICE",
        "D": "DOMESTIC VIOLENCE AND STALKING",
        "F": "FIREARMS",
        "H": "PUBLIC HOUSING",
        "I": "APPROVED NON-CRIMINAL-JUSTICE LICENSING/EMPLOYMENT",
        "J": "CRIMINAL JUSTICE EMPLOYMENT",
        "R": "FBI ONLY",
        "S": "NATIONAL SECURITY",
        "V": "VISA",
        "X": "EXIGENT PROCEDURES - CAREGIVER",
    },
    "PCA": {  # NICS Indices prohibitor categories (Brady Act categories A1..J)
        "A1": "CONVICTED - CRIME PUNISHABLE BY MORE THAN ONE YEAR",
        "A2": "UNDER INDICTMENT OR INFORMATION",
        "B": "FUGITIVE FROM JUSTICE",
        "C": "UNLAWFUL USER OF / ADDICTED TO A CONTROLLED SUBSTANCE",
        "D": "ADJUDICATED MENTAL DEFECTIVE / COMMITTED TO MENTAL INSTITUTION",
        "E": "ILLEGAL / UNLAWFUL ALIEN",
        "F": "DISHONORABLE DISCHARGE",
        "G": "RENOUNCED U.S. CITIZENSHIP",
        "H": "SUBJECT OF PROTECTION / RESTRAINING ORDER",
        "I": "MISDEMEANOR CRIME OF DOMESTIC VIOLENCE CONVICTION",
        "J": "STATE PROHIBITOR",
    },
    "RTY": {  # YQ hit-confirmation request types, MESSAGES.md section 6
        "SV": "VEHICLE",
        "WP": "WANTED PERSON",
        "PO": "PROTECTION ORDER",
        "MP": "MISSING PERSON",
        "SL": "LICENSE PLATE",
        "SG": "GUN",
        "SA": "ARTICLE",
        "SS": "SECURITIES",
        "SB": "BOAT",
        "SP": "VEHICLE/BOAT PART",
    },
    "PRI": {  # YQ priority; the answer deadline is why the code matters
        "U": "URGENT - CONFIRM WITHIN 10 MINUTES",
        "R": "ROUTINE - CONFIRM WITHIN 1 HOUR",
    },
    "DSP": {  # state CCH court dispositions
        "CONV": "CONVICTED",
        "ACQ": "ACQUITTED",
        "DISM": "DISMISSED",
        "DIVD": "DISMISSED AFTER DIVERSION",
        "NOPR": "NO PROSECUTION",
        "SETA": "SET ASIDE",
        "PEND": "PENDING",
        "EXPG": "EXPUNGED",
    },
    "IDT": {  # NICS purchaser identification documents
        "DL": "DRIVER LICENSE",
        "ID": "STATE IDENTIFICATION CARD",
        "PP": "PASSPORT",
        "MIL": "MILITARY IDENTIFICATION",
    },
    "OCL": {  # state CCH charge class
        "FA": "FELONY CLASS A",
        "FB": "FELONY CLASS B",
        "FC": "FELONY CLASS C",
        "FU": "FELONY UNCLASSIFIED",
        "MA": "MISDEMEANOR CLASS A",
        "MB": "MISDEMEANOR CLASS B",
        "MC": "MISDEMEANOR CLASS C",
        "VI": "VIOLATION / TRAFFIC",
    },
}

STATE_LAB_TABLES: frozenset[str] = frozenset({"PUR", "PCA", "RTY", "PRI", "DSP", "IDT", "OCL"})
"""Built-in tables that are this project's own (no public code list behind them)."""


def _norm(text: str) -> str:
    """Codes and table names compare stripped and upper case, as NCIC input is upper case."""
    return text.strip().upper()


class CodeBook:
    """Named code tables: table name (upper case, e.g. "SEX", "OFF", "VMA") -> {code: description}.

    Immutable once built, because :meth:`builtin` hands the same object to every caller.  Lookups
    are KeyError-free (unknown table or code -> ``False`` / ``None`` / empty mapping) because
    validators ask about whatever a terminal typed, and "not a known code" is an answer, not an
    error.  Table names and codes are matched stripped and case-insensitively.

    POB ("place of birth") uses the LIS state/country codes, so when no POB table is given it
    *is* the LIS table (same mapping object).  That derived POB is not carried into
    :meth:`load_dir` as a table of its own, so codes loaded into LIS show up in POB too.
    """

    __slots__ = ("_derived", "_tables")

    def __init__(self, tables: Mapping[str, Mapping[str, str]]) -> None:
        built: dict[str, Mapping[str, str]] = {}
        for name, codes in tables.items():
            merged = dict(built.get(_norm(name), {}))
            merged.update((_norm(code), desc) for code, desc in codes.items())
            built[_norm(name)] = MappingProxyType(merged)
        derived: set[str] = set()
        if "POB" not in built and "LIS" in built:
            built["POB"] = built["LIS"]
            derived.add("POB")
        self._tables: dict[str, Mapping[str, str]] = built
        self._derived: frozenset[str] = frozenset(derived)

    @classmethod
    def builtin(cls) -> CodeBook:
        """The small core shipped in code; cached, so every caller shares one object."""
        return _builtin()

    @classmethod
    def load_dir(cls, path: str | os.PathLike[str], base: CodeBook | None = None) -> CodeBook:
        """Read every ``*.csv`` below ``path`` and merge the tables over ``base``.

        Files are read in order of their path relative to ``path`` so that, when two files fill
        the same table (NIEM 2.0 then the 5.0.1 update), the later one's descriptions win the
        same way on every machine.  Table name = ``ALIASES.get(STEM, STEM)`` with the stem upper
        case.  Loaded codes are added to, or re-describe, the base table's codes; base codes are
        never removed, so the built-in core (the default base) survives any load.

        Raises :class:`ConfigError` naming the file (and line) for a missing directory, an
        unreadable file, a bad header, a row that is not exactly ``code,description``, an empty
        code, or a code repeated within one file: code tables are configuration, and a switch
        should refuse to start on a broken one rather than validate against half of it.
        """
        root = Path(path)
        if not root.is_dir():
            raise ConfigError("code table directory not found", file=str(root))
        book = cls.builtin() if base is None else base
        merged: dict[str, dict[str, str]] = {
            name: dict(codes) for name, codes in book._tables.items() if name not in book._derived
        }
        files = sorted(
            (p for p in root.rglob("*") if p.suffix.lower() == ".csv" and p.is_file()),
            key=lambda p: p.relative_to(root).as_posix(),
        )
        for file in files:
            stem = _norm(file.stem)
            name = ALIASES.get(stem, stem)
            merged.setdefault(name, {}).update(_read_table(file, name))
        return cls(merged)

    def has(self, table: str, code: str) -> bool:
        """Whether ``code`` is in ``table`` (unknown table -> ``False``)."""
        return _norm(code) in self.table(table)

    def describe(self, table: str, code: str) -> str | None:
        """The description of ``code`` in ``table``, or ``None`` if either is unknown."""
        return self.table(table).get(_norm(code))

    def table(self, name: str) -> Mapping[str, str]:
        """The read-only table ``name``; an empty mapping for an unknown name."""
        return self._tables.get(_norm(name), _EMPTY)

    def names(self) -> list[str]:
        """All table names, sorted (POB included)."""
        return sorted(self._tables)

    def __contains__(self, table: object) -> bool:
        return isinstance(table, str) and _norm(table) in self._tables

    def __repr__(self) -> str:
        return f"CodeBook({len(self._tables)} tables)"


@functools.cache
def _builtin() -> CodeBook:
    return CodeBook(_BUILTIN_TABLES)


def _read_table(file: Path, table: str) -> dict[str, str]:
    """One ``code,description`` CSV as {CODE: description}; ConfigError on anything malformed."""
    where = str(file)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read code table: {exc.strerror or exc}", file=where,
                          key=table) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError("not UTF-8 text", file=where, key=table, line=line) from exc

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    try:
        for fields in reader:
            if any(f.strip() for f in fields):  # blank lines are layout, not data
                rows.append((reader.line_num, fields))
    except csv.Error as exc:
        raise ConfigError(f"unreadable row: {exc}", file=where, key=table,
                          line=reader.line_num) from exc
    if not rows:
        raise ConfigError("empty file: expected header 'code,description'", file=where,
                          key=table, line=1)
    line, header = rows[0]
    if [_norm(f).lower() for f in header] != ["code", "description"]:
        raise ConfigError(f"bad header {','.join(header)!r}: expected 'code,description'",
                          file=where, key=table, line=line)
    codes: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for line, fields in rows[1:]:
        if len(fields) != 2:
            raise ConfigError(f"expected 2 fields (code,description), found {len(fields)}"
                              " (quote descriptions that contain commas)",
                              file=where, key=table, line=line)
        code = _norm(fields[0])
        if not code:
            raise ConfigError("empty code", file=where, key=table, line=line)
        if code in codes:
            raise ConfigError(f"duplicate code {code!r} (first on line {first_line[code]})",
                              file=where, key=table, line=line)
        codes[code] = fields[1].strip()
        first_line[code] = line
    return codes
