"""NCIC's 21 files as data: hit header words, caveat, duplicate rules, retention.

The mock NCIC (``ncic.py``) has one code path for every file; what differs between files is
here, one ``NcicFile`` each, so adding or correcting a file is editing a row, not code. The message
keys of each file are in ``formats/keys.toml`` (``file = "<name>"``); docs/FIDELITY.md names the
public source of every row and says which parts are inferred.

Sources: the NCIC 2000 Operating Manual file chapters as reproduced by state control terminal
agencies (Oregon LEDS, Washington ACCESS/WACIC, Wisconsin TIME), sections "Message Key (MKE)
codes", "Record retention period", "Criteria for rejecting duplicate records"; the FBI CJIS
"NCIC File Reference" card (2017) for the list of files and their retention. Caveat texts are
written in the manner of the documented caveats; where the exact words are not public (most of
the restricted person files), FIDELITY.md marks the text as a paraphrase.
"""

from __future__ import annotations

from dataclasses import dataclass

from formats.nic import FILE_LETTERS
from formats.responses import FILE_WORDS

__all__ = ["FILES", "PERSON_FILES", "QW_FILES", "NcicFile", "by_name"]

CONFIRM = "IMMED CONFIRM RECORD WITH ORI"
DO_NOT_ACT = (
    "DO NOT SEARCH, DETAIN, OR ARREST BASED SOLELY ON THIS RECORD. CONTACT THE "
    "ENTERING AGENCY TO CONFIRM THE RECORD."
)


@dataclass(frozen=True, slots=True)
class NcicFile:
    """One NCIC file."""

    name: str
    """Internal name (the ``file`` of its keys in keys.toml)."""
    person: bool
    """A person file (searched by name and DOB) or a property file."""
    caveat: tuple[str, ...] = ()
    """Lines printed above the record in a hit."""
    trailer: tuple[str, ...] = (CONFIRM,)
    """Lines printed below the record."""
    none: str = ""
    """The words of a no-record answer (``NO NCIC WANT ...``)."""
    duplicates: tuple[tuple[str, ...], ...] = ()
    """Field sets that make an entry a duplicate of a live record with the same values
    (``ORI`` in a set means the same entering agency)."""
    qw: bool = False
    """Returned by a QW/QWI name or number inquiry (the person files NCIC searches together)."""
    retention: str = ""
    """How long a record stays (as the manual says it)."""
    local_entry: bool = True
    """Local agencies enter it (False: only a federal agency does; the seed fills it)."""
    inquiry_notice: str = ""
    """Letter of the ``$.`` notice NCIC sends the record's owner when another agency's inquiry
    hits the record ("" for none)."""
    retire_on: str = ""
    """A date field whose day, once past, retires the record (``EXP``: "until the expiration
    date"); "" for none."""
    keep_days: int = 0
    """Days after entry or last update after which the record is retired (0: no such limit)."""
    suffixes: tuple[tuple[str, str], ...] = ()
    """MKE suffix -> what a hit adds to the ``MKE/`` line (the entry key with the suffix is in
    keys.toml: ``EV-P`` enters a vehicle to be held for latent prints)."""

    @property
    def words(self) -> str:
        """What a hit's ``MKE/`` line says (``formats.responses.FILE_WORDS``, which the
        acknowledgments use too)."""
        return FILE_WORDS[self.name]

    @property
    def letter(self) -> str:
        """First character of its NICs (``formats.nic.FILE_LETTERS``)."""
        return FILE_LETTERS[self.name]


_PERSON_DUPLICATES = (
    ("FBI", "ORI"),
    ("MNU", "ORI"),
    ("SOC", "ORI"),
    ("OLN", "OLS", "ORI"),
    ("OCA", "NAM", "ORI"),
    ("DOB", "NAM", "ORI"),
)
"""The person files' duplicate rules (Wisconsin TIME, Identity Theft File, "Duplicate Records":
FBI/MNU/SOC with the ORI, OCA+NAM+ORI, DOB+NAM+ORI; OLN+OLS+ORI from the Wanted Person File
chapter, section 1.10)."""

FILES: tuple[NcicFile, ...] = (
    # ------------------------------------------------------------------ person files
    NcicFile(
        "wanted",
        True,
        trailer=("IMMED CONFIRM WARRANT AND EXTRADITION WITH ORI",),
        none="NCIC WANT",
        duplicates=_PERSON_DUPLICATES,
        qw=True,
        retention="UNTIL CLEARED OR CANCELLED (TEMPORARY FELONY WANT: 48 HOURS)",
    ),
    NcicFile(
        "missing",
        True,
        caveat=(
            "MISSING PERSON RECORD - CONFIRM STATUS WITH THE ENTERING AGENCY BEFORE TAKING ACTION.",
        ),
        none="NCIC MISSING PERSON",
        duplicates=_PERSON_DUPLICATES,
        qw=True,
        retention="UNTIL LOCATED, CLEARED OR CANCELLED",
    ),
    NcicFile(
        "unidentified",
        True,
        caveat=("UNIDENTIFIED PERSON RECORD - COMPARE DESCRIPTORS; CONTACT THE ENTERING AGENCY.",),
        trailer=(),
        none="NCIC UNIDENTIFIED PERSON",
        duplicates=(("OCA", "ORI"),),
        retention="UNTIL CANCELLED OR CLEARED",
    ),
    NcicFile(
        "order",
        True,
        caveat=(
            "WARNING - THE FOLLOWING IS AN NCIC PROTECTION ORDER RECORD. DO NOT SEARCH, "
            "DETAIN, OR ARREST BASED SOLELY ON THIS RECORD. CONTACT ENTERING AGENCY TO "
            "CONFIRM STATUS AND TERMS OF PROTECTION ORDER.",
        ),
        none="NCIC PROTECTION ORDER",
        retire_on="EXP",
        duplicates=(("PNO", "ORI"), *_PERSON_DUPLICATES),
        qw=True,
        retention="UNTIL THE EXPIRATION DATE (EXP), OR INDEFINITELY WITHOUT ONE",
    ),
    NcicFile(
        "ndtf",
        True,
        caveat=(
            "NICS DENIED TRANSACTION FILE - THE SUBJECT WAS DENIED A FIREARM TRANSFER. "
            + DO_NOT_ACT,
        ),
        trailer=(),
        none="NCIC NICS DENIED TRANSACTION",
        duplicates=(("NTN",),),
        qw=True,
        keep_days=180,
        retention="180 DAYS FROM THE DATE OF DENIAL",
        local_entry=False,
    ),
    NcicFile(
        "gang",
        True,
        caveat=(
            "WARNING - THE SUBJECT IN THIS RECORD HAS BEEN IDENTIFIED AS A MEMBER OF A "
            "GANG. USE CAUTION. " + DO_NOT_ACT,
        ),
        none="NCIC GANG MEMBER",
        duplicates=_PERSON_DUPLICATES,
        qw=True,
        keep_days=1826,
        retention="5 YEARS FROM ENTRY OR LAST UPDATE",
    ),
    NcicFile(
        "kst",
        True,
        caveat=(
            "***LAW ENFORCEMENT SENSITIVE INFORMATION***",
            "WARNING - APPROACH WITH CAUTION. CONTACT THE TERRORIST SCREENING CENTER "
            "(TSC) IMMEDIATELY. DO NOT ADVISE THIS INDIVIDUAL THAT THEY MAY BE ON A "
            "TERRORIST WATCHLIST. DO NOT DETAIN OR ARREST BASED SOLELY ON THIS RECORD "
            "UNLESS THERE IS A WARRANT OR OTHER LAWFUL BASIS.",
        ),
        trailer=("CONTACT THE TERRORIST SCREENING CENTER DURING THIS ENCOUNTER",),
        none="NCIC KST",
        qw=True,
        retention="UNTIL CANCELLED BY THE TSC",
        local_entry=False,
    ),
    NcicFile(
        "sor",
        True,
        caveat=(
            "***CAUTION - THE SUBJECT OF THIS RECORD IS A REGISTERED SEX OFFENDER. "
            "REGISTRATION STATUS MUST BE CONFIRMED WITH THE REGISTERING AGENCY. " + DO_NOT_ACT,
        ),
        none="NCIC SEX OFFENDER",
        duplicates=_PERSON_DUPLICATES,
        qw=True,
        retention="UNTIL THE REGISTRATION PERIOD ENDS OR THE RECORD IS CANCELLED",
    ),
    NcicFile(
        "supervised",
        True,
        caveat=(
            "CAUTION - THE SUBJECT OF THIS RECORD IS UNDER SUPERVISED RELEASE. "
            "CONTACT THE SUPERVISING AGENCY. " + DO_NOT_ACT,
        ),
        none="NCIC SUPERVISED RELEASE",
        duplicates=_PERSON_DUPLICATES,
        qw=True,
        retire_on="EXP",
        retention="UNTIL THE SUPERVISION ENDS (EXPIRATION DATE)",
    ),
    NcicFile(
        "immigration",
        True,
        caveat=(
            "WARNING - THE SUBJECT OF THIS RECORD IS AN IMMIGRATION VIOLATOR. CONTACT "
            "THE LAW ENFORCEMENT SUPPORT CENTER (LESC) TO CONFIRM STATUS.",
        ),
        trailer=("IMMED CONFIRM WITH LESC",),
        none="NCIC IMMIGRATION VIOLATOR",
        qw=True,
        retention="UNTIL CANCELLED BY ICE",
        local_entry=False,
    ),
    NcicFile(
        "foreign",
        True,
        caveat=(
            "WARNING - THE SUBJECT OF THIS RECORD IS WANTED OUTSIDE THE UNITED STATES. "
            "CONTACT INTERPOL WASHINGTON (USNCB) OR THE RCMP BEFORE TAKING ACTION.",
        ),
        trailer=("IMMED CONFIRM WITH INTERPOL WASHINGTON OR RCMP",),
        none="NCIC FOREIGN FUGITIVE",
        qw=True,
        retention="UNTIL CANCELLED",
        local_entry=False,
    ),
    NcicFile(
        "protective",
        True,
        caveat=(
            "WARNING - THE SUBJECT OF THIS RECORD MAY POSE A THREAT TO A PROTECTEE. "
            "USE CAUTION. " + DO_NOT_ACT,
        ),
        none="NCIC PROTECTIVE INTEREST",
        duplicates=_PERSON_DUPLICATES,
        qw=True,
        inquiry_notice="H",
        retire_on="EXP",
        retention="UNTIL CANCELLED (OR THE EXPIRATION DATE)",
    ),
    NcicFile(
        "identity",
        True,
        caveat=(
            "WARNING - THE IDENTITY OF THE SUBJECT IN THIS RECORD HAS BEEN REPORTED "
            "STOLEN. ASK THE PERSON FOR THE PASSWORD (PWD) BELOW TO CONFIRM THEIR "
            "IDENTITY. A PERSON WHO DOES NOT KNOW IT MAY BE USING A STOLEN IDENTITY. " + DO_NOT_ACT,
        ),
        none="NCIC IDENTITY THEFT",
        duplicates=_PERSON_DUPLICATES,
        qw=True,
        keep_days=1826,
        retention="5 YEARS FROM ENTRY",
    ),
    NcicFile(
        "violent",
        True,
        caveat=(
            "WARNING - THE SUBJECT OF THIS RECORD HAS A HISTORY OF VIOLENCE TOWARD "
            "LAW ENFORCEMENT OR A CREDIBLE THREAT OF VIOLENCE. APPROACH WITH CAUTION. "
            + DO_NOT_ACT,
        ),
        none="NCIC VIOLENT PERSON",
        duplicates=_PERSON_DUPLICATES,
        qw=True,
        retention="UNTIL CANCELLED",
    ),
    # ------------------------------------------------------------------ property files
    NcicFile(
        "vehicle",
        False,
        none="NCIC WANT",
        suffixes=(("P", "HOLD FOR LATENT PRINTS"),),
        duplicates=(("VIN", "VMA"), ("LIC", "LIS", "LIY", "LIT"), ("OCA", "ORI")),
        retention="UNTIL RECOVERED; WITHOUT A VIN OR OAN: YEAR OF ENTRY PLUS 4",
    ),
    NcicFile(
        "plate",
        False,
        none="NCIC WANT",
        duplicates=(("LIC", "LIS", "LIY", "LIT"), ("OCA", "ORI")),
        retention="YEAR OF ENTRY PLUS 4 (NON-EXPIRING PLATES: UNTIL CLEARED)",
    ),
    NcicFile(
        "part",
        False,
        none="NCIC WANT PART",
        duplicates=(("SER", "BRA", "CAT"), ("OCA", "ORI")),
        retention="YEAR OF ENTRY PLUS 4",
    ),
    NcicFile(
        "gun",
        False,
        none="NCIC WANT GUN",
        duplicates=(("SER", "MAK", "CAL"), ("OCA", "ORI")),
        retention="UNTIL CLEARED OR CANCELLED",
    ),
    NcicFile(
        "article",
        False,
        none="NCIC WANT ARTICLE",
        duplicates=(("SER", "TYP", "ORI"), ("OAN", "TYP", "ORI"), ("OCA", "ORI")),
        retention="YEAR OF ENTRY PLUS 1 (PUBLIC SAFETY IDENTIFICATION: PLUS 4)",
    ),
    NcicFile(
        "boat",
        False,
        none="NCIC WANT BOAT",
        duplicates=(("BHN", "BMA"), ("REG", "RES"), ("OCA", "ORI")),
        retention="UNTIL RECOVERED; WITHOUT A HULL NUMBER: YEAR OF ENTRY PLUS 4",
    ),
    NcicFile(
        "security",
        False,
        none="NCIC WANT SECURITY",
        duplicates=(("SER", "TYP", "DEN", "ORI"), ("OCA", "ORI")),
        retention="YEAR OF ENTRY PLUS 4 (SOME TYPES LONGER)",
    ),
)

_BY_NAME = {f.name: f for f in FILES}

PERSON_FILES: tuple[str, ...] = tuple(f.name for f in FILES if f.person)
QW_FILES: tuple[str, ...] = tuple(f.name for f in FILES if f.qw)
"""The files a QW name/DOB or number inquiry searches and returns (each with its caveat)."""


def by_name(name: str) -> NcicFile:
    """The file ``name`` (KeyError for a file that does not exist)."""
    return _BY_NAME[name]
