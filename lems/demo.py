"""The labs ``lems init`` writes: a small fictitious Oregon, or any other state's (``--state``).

Every agency name, operator name and password here is invented for training. ORIs follow the NCIC
pattern (state code, county, agency; the 9th character hints at the type) but name no real agency.

Oregon's lab keeps Oregon's rule set (``rules = "oregon"``: OAR 257-010, docs/RULES.md). A lab for
any other state or territory (``state_text``) gets the same shape of world (control terminal,
sheriffs, police, a court, the identification bureau, a licensing board, a qualified entity) with
that state's 2-letter ORI prefix, and starts from the documented generic rule set
(``rules = "generic"``, docs/FEDERATION.md "Rule sets").
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from formats.codes import US_STATE_CODES
from formats.errors import ConfigError
from formats.nlets_members import MEMBERS, local_agencies, places
from lems import store
from lems.lab import LabConfig, load_lab
from lems.signon import generate as generate_password
from lems.signon import hash_password

DEMO_LAB = """\
# A LEMS training lab: a fictitious slice of Oregon. Everything here is invented.
# Edit freely; `lems serve {dir}` refuses a bad file with the file, key and line.

[lab]
name = "Oregon LEDS training lab (fictitious)"
state = "OR"
rules = "oregon"        # Oregon's rule set (OAR 257-010, docs/RULES.md)
database = "lab.db"
clock_speed = 1.0       # lab seconds per real second; 60 runs a 1-hour deadline in a minute
seed = 1
timezone = "America/Los_Angeles"   # every lab time is shown in this zone (NCIC's DTE/ too)
# start = "2026-03-14T08:00"       # the scenario's first moment (lab-local); without it the lab
                                   # runs on wall time. Lab time is saved and never goes back.

[switch]
ori = "ORLEDS000"       # the state control terminal agency
listen = ["tcp:5020:interface=127.0.0.1"]
max_frame = 16384       # bytes; a longer frame is refused, the link stays up
lockout_after = 5       # failed passwords before an operator is locked out
# iak = "all"          # an IAK for every message, not only ISN/-numbered ones (WIRE.md)
# ncic_header = "ORLEDS"  # NCIC's messages under a line 1L01ORLEDS (a [[terminal]] may say
#                         # ncic_header = "" or its own); input 1N01<header>. is always taken

# ---------------------------------------------------------------- agencies
# category: cj (criminal justice), designated, riss, qe (qualified entity), noncj
# type: ORION agency type (PD SO SA LE FE JA JC JG JJ JF CJ NJ)

[[agency]]
ori = "ORLEDS000"
name = "LEDS CONTROL TERMINAL (TRAINING)"
type = "SA"

[[agency]]
ori = "OR0240000"
name = "CASCADE COUNTY SHERIFF'S OFFICE"
type = "SO"

[[agency]]
ori = "OR0240100"
name = "WILLOW CREEK POLICE DEPARTMENT"
type = "PD"

[[agency]]
ori = "OR0260000"
name = "JUNIPER COUNTY SHERIFF'S OFFICE"
type = "SO"

[[agency]]
ori = "OR0260200"
name = "JUNIPER CITY POLICE DEPARTMENT"
type = "PD"

[[agency]]
ori = "OR024015J"
name = "CASCADE COUNTY CIRCUIT COURT"
type = "JJ"

[[agency]]
ori = "ORSIR0000"
name = "STATE IDENTIFICATION BUREAU (IDENTIFICATION SERVICES SECTION)"
type = "SA"
cch_entry = true        # designated to enter and update CCH (OAR 257-010-0020(4))

[[agency]]
ori = "OR024901Z"
name = "STATE BOARD OF PRIVATE SECURITY LICENSING"
category = "designated"
type = "NJ"

[[agency]]
ori = "ORRISS000"
name = "WESTERN REGIONAL INFORMATION SHARING CENTER"
category = "riss"
type = "CJ"

[[agency]]
ori = "OR024902Z"
name = "SUNRISE YOUTH MENTORING ALLIANCE"
category = "qe"
type = "NJ"
criteria = ["0901", "1101", "1301", "3501"]   # offence codes that disqualify a volunteer

[[agency]]
ori = "OR024903Z"
name = "OREGON JUSTICE RESEARCH PROJECT (TEMPORARY RESEARCH ACCESS)"
category = "designated"
type = "NJ"
agreement_expires = {expired}   # research access lasts at most 30 days (OAR 257-010-0030(4))

[[agency]]
ori = "OR024905Z"
name = "CASCADE SPORTING GOODS (FIREARMS DEALER)"
category = "noncj"
type = "NJ"
keys = ["FCK", "FSG"]   # a dealer asks FICS only: a purchase check and a stolen-gun check

# ---------------------------------------------------------------- terminals

[[terminal]]
id = "T00"
oris = ["ORLEDS000"]
control = true
description = "LEDS control terminal"

[[terminal]]
id = "T01"
oris = ["OR0240000"]
description = "Cascade SO dispatch"

[[terminal]]
id = "T02"
oris = ["OR0240000"]
description = "Cascade SO records"

[[terminal]]
id = "T03"
oris = ["OR0240100"]
description = "Willow Creek PD front desk"

[[terminal]]
id = "T04"
oris = ["OR0260000"]
description = "Juniper SO dispatch"

[[terminal]]
id = "T05"
oris = ["OR0260200"]
radio = true
description = "Juniper City PD patrol car 12 (mobile data terminal over radio)"

[[terminal]]
id = "T06"
oris = ["OR024015J"]
description = "Cascade County Circuit Court clerk"

[[terminal]]
id = "T07"
oris = ["ORSIR0000"]
description = "Identification Services Section, CCH entry"

[[terminal]]
id = "T08"
oris = ["OR024901Z"]
description = "Private security licensing desk"

[[terminal]]
id = "T09"
oris = ["ORRISS000"]
description = "RISS analyst"

[[terminal]]
id = "T10"
oris = ["OR024902Z"]
description = "Volunteer screening (qualified entity)"

[[terminal]]
id = "T11"
oris = ["OR024903Z"]
description = "Research project workstation"

[[terminal]]
id = "T13"
oris = ["OR024905Z"]
description = "Firearms dealer counter (FICS)"

# ---------------------------------------------------------------- operators (fictitious)

[[operator]]
id = "SUPER1"
name = "MORROW, DANA"
password = "super-pass"
supervisor = true
terminals = ["T00"]     # supervisors are limited to the terminals listed (here the control one)

{operators}

[[operator]]
id = "OP13"
name = "TENNANT, BLAIR"
password = "train-13"
terminals = ["T13"]

[[operator]]
id = "NOCHECK"
name = "QUILL, ROBIN"
password = "train-00"
terminals = ["T01"]
cleared = false         # no cleared background check: sign-on refused (OAR 257-010-0025(7))

# ---------------------------------------------------------------- groups (broadcast by name)

[[group]]
name = "ORALLSO00"
members = ["OR0240000", "OR0260000"]
description = "all sheriff's offices"

# ---------------------------------------------------------------- national endpoints
# mode: inprocess (default), off, or an endpoint string such as tcp:host=127.0.0.1:port=5101

[[endpoint]]
name = "ncic"
mode = "inprocess"
latency_ms = 60

[[endpoint]]
name = "nlets"
mode = "inprocess"
latency_ms = 200
# out_of_service = ["TX"]      # members answered SM .04. (Nlets member codes)
# slow = {{ UT = 30 }}         # members that answer after this many lab seconds
# format = "xml"               # Nlets traffic to terminals in Nlets XML (a [[terminal]] may
#                              # say nlets_format = "legacy" or "xml" for itself)

[[endpoint]]
name = "nics"
mode = "inprocess"
latency_ms = 500
"""

OPERATOR_NAMES = ["ABERNATHY, LEE", "BRISCOE, JORDAN", "CALLOWAY, SAM", "DELACROIX, PAT",
                  "EMBERLY, CASEY", "FAIRWEATHER, RILEY", "GALLOWAY, MORGAN", "HOLLIS, AVERY",
                  "IVERSON, QUINN", "JESSUP, TAYLOR", "KINCAID, JAMIE", "LANGSTON, DREW"]


def demo_text(directory: Path, today: date | None = None) -> str:
    today = today or date.today()
    ops = []
    for i, name in enumerate(OPERATOR_NAMES):
        ops.append(f'[[operator]]\nid = "OP{i:02d}"\nname = "{name}"\n'
                   f'password = "train-{i:02d}"\nterminals = ["T{i:02d}"]\n')
    return DEMO_LAB.format(dir=directory, expired=(today - timedelta(days=1)).isoformat(),
                           operators="\n".join(ops).rstrip())


STATE_LAB = """\
# A LEMS training lab: a fictitious slice of {words}. Everything here is invented.
# Edit freely; `lems serve {dir}` refuses a bad file with the file, key and line.

[lab]
name = "{words} message switch training lab (fictitious)"
state = "{st}"
rules = "generic"       # the generic rule set (docs/FEDERATION.md, "Rule sets")
database = "lab.db"
clock_speed = 1.0       # lab seconds per real second
seed = 1

[switch]
ori = "{st}CTL0000"       # the state control terminal agency
listen = ["tcp:5020:interface=127.0.0.1"]
max_frame = 16384
lockout_after = 5

# ---------------------------------------------------------------- agencies

[[agency]]
ori = "{st}CTL0000"
name = "{words} CONTROL TERMINAL (TRAINING)"
type = "SA"

{local}
[[agency]]
ori = "{st}001015J"
name = "{county1} COUNTY DISTRICT COURT"
type = "JJ"

[[agency]]
ori = "{st}SIR0000"
name = "{words} STATE IDENTIFICATION BUREAU"
type = "SA"
cch_entry = true

[[agency]]
ori = "{st}001901Z"
name = "{words} BOARD OF PRIVATE SECURITY LICENSING"
category = "designated"
type = "NJ"

[[agency]]
ori = "{st}001902Z"
name = "{city1} YOUTH MENTORING ALLIANCE"
category = "qe"
type = "NJ"
criteria = ["0901", "1101", "1301", "3501"]

# ---------------------------------------------------------------- terminals

[[terminal]]
id = "T00"
oris = ["{st}CTL0000"]
control = true
description = "control terminal"

[[terminal]]
id = "T01"
oris = ["{st}0010000"]
description = "{county1} SO dispatch"

[[terminal]]
id = "T02"
oris = ["{st}0010000"]
description = "{county1} SO records"

[[terminal]]
id = "T03"
oris = ["{st}0010100"]
description = "{city1} PD front desk"

[[terminal]]
id = "T04"
oris = ["{st}0020000"]
description = "{county2} SO dispatch"

[[terminal]]
id = "T05"
oris = ["{st}0020200"]
radio = true
description = "{city2} PD patrol car (mobile data terminal over radio)"

[[terminal]]
id = "T06"
oris = ["{st}001015J"]
description = "{county1} County District Court clerk"

[[terminal]]
id = "T07"
oris = ["{st}SIR0000"]
description = "identification bureau, criminal history entry"

[[terminal]]
id = "T08"
oris = ["{st}001901Z"]
description = "private security licensing desk"

[[terminal]]
id = "T09"
oris = ["{st}001902Z"]
description = "volunteer screening (qualified entity)"

# ---------------------------------------------------------------- operators (fictitious)

[[operator]]
id = "SUPER1"
name = "MORROW, DANA"
password = "super-pass"
supervisor = true

{operators}

# ---------------------------------------------------------------- groups

[[group]]
name = "{st}ALLSO00"
members = ["{st}0010000", "{st}0020000"]
description = "all sheriff's offices"

# ---------------------------------------------------------------- national endpoints

[[endpoint]]
name = "ncic"
mode = "inprocess"
latency_ms = 60

[[endpoint]]
name = "nlets"
mode = "inprocess"
latency_ms = 200

[[endpoint]]
name = "nics"
mode = "inprocess"
latency_ms = 500
"""

def state_name(st: str) -> str:
    """The Nlets member name of ``st`` (a state, DC or a territory)."""
    return MEMBERS[st].name


def state_text(st: str, directory: Path) -> str:
    """``lab.toml`` of a fictitious lab for state ``st`` (any NCIC state code but Oregon's)."""
    p = places(st)
    local = "\n".join(f'[[agency]]\nori = "{a.ori}"\nname = "{a.name}"\ntype = "{a.type}"\n'
                      for a in local_agencies(st))
    ops = []
    for i in range(10):
        ops.append(f'[[operator]]\nid = "OP{i:02d}"\nname = "{OPERATOR_NAMES[i]}"\n'
                   f'password = "train-{i:02d}"\nterminals = ["T{i:02d}"]\n')
    return STATE_LAB.format(st=st, words=state_name(st), dir=directory, local=local,
                            county1=p.county1, city1=p.city1, county2=p.county2,
                            city2=p.city2, operators="\n".join(ops).rstrip())


def init_lab(directory: str | Path, *, force: bool = False, listen: str | None = None,
             today: date | None = None, state: str = "OR", generate: bool = False
             ) -> LabConfig:
    """Write ``DIR/lab.toml`` for ``state`` and create its database; refuse to overwrite unless
    ``force``. ``state``: any NCIC code of a state, DC or territory (``US_STATE_CODES``).

    ``generate``: every operator gets a new random password and ``lab.toml`` keeps only its
    scrypt hash; the returned lab carries the clear passwords in memory (``operator.password``)
    so the caller can show them once. Without it the operators keep the fixed training
    passwords (``train-01``…) in clear, for classrooms and scripts."""
    state = state.upper()
    if state not in US_STATE_CODES:
        raise ConfigError(f"--state {state}: not an NCIC code of a state, DC or territory "
                         f"(one of {' '.join(sorted(US_STATE_CODES))})")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    path = d / "lab.toml"
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists (use --force to overwrite)")
    text = demo_text(d, today) if state == "OR" else state_text(state, d)
    if listen:
        text = text.replace('listen = ["tcp:5020:interface=127.0.0.1"]', f'listen = ["{listen}"]')
    clear: dict[str, str] = {}
    if generate:
        lines, oid = text.split("\n"), ""
        for i, line in enumerate(lines):
            if line.startswith("id = "):
                oid = line.split('"')[1]
            elif line.startswith('password = "') and oid:
                clear[oid] = generate_password()
                lines[i] = f'password_hash = "{hash_password(clear[oid])}"'
        text = "\n".join(lines)
    path.write_text(text, "utf-8")
    lab = load_lab(path)
    if force and lab.database.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(lab.database) + suffix).unlink(missing_ok=True)
    store.connect(lab.database).close()
    for oid, password in clear.items():
        lab.operators[oid] = replace(lab.operators[oid], password=password)
    return lab
