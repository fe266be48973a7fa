"""The labs ``lems init`` writes: a small fictitious Oregon, or any other state's (``--state``).

Every agency name, operator name and password here is invented for training. ORIs follow the NCIC
pattern (state code, county, agency; the 9th character hints at the type) but name no real agency.

Oregon's lab keeps Oregon's rule set (``rules = "oregon"``: OAR 257-010, docs/RULES.md). A lab for
any other state or territory (``state_text``) gets the same shape of world (control terminal,
sheriffs, police, a court, the identification bureau, a licensing board, a qualified entity) with
that state's 2-letter ORI prefix, and starts from the documented generic rule set
(``rules = "generic"``, docs/FEDERATION.md "Rule sets").

Both labs are data files in the package, ``lems/demo_lab.toml`` and ``lems/state_lab.toml``,
filled in by one mechanism (``template``).
"""

from __future__ import annotations

import string
from dataclasses import replace
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

from formats.codes import US_STATE_CODES
from formats.errors import ConfigError
from formats.nlets_members import MEMBERS, local_agencies, places
from lems import store
from lems.lab import LabConfig, load_lab
from lems.signon import generate as generate_password
from lems.signon import hash_password


def template(name: str) -> string.Template:
    """A lab template shipped in the package (``lems/demo_lab.toml``, ``lems/state_lab.toml``):
    the lab file with ``${placeholders}`` for what depends on the directory, the day and the
    state (``string.Template``, so TOML's own braces need no escaping)."""
    return string.Template(resources.files("lems").joinpath(name).read_text("utf-8"))


OPERATOR_NAMES = [
    "ABERNATHY, LEE",
    "BRISCOE, JORDAN",
    "CALLOWAY, SAM",
    "DELACROIX, PAT",
    "EMBERLY, CASEY",
    "FAIRWEATHER, RILEY",
    "GALLOWAY, MORGAN",
    "HOLLIS, AVERY",
    "IVERSON, QUINN",
    "JESSUP, TAYLOR",
    "KINCAID, JAMIE",
    "LANGSTON, DREW",
]


def demo_text(directory: Path, today: date | None = None) -> str:
    today = today or date.today()
    ops = []
    for i, name in enumerate(OPERATOR_NAMES):
        ops.append(
            f'[[operator]]\nid = "OP{i:02d}"\nname = "{name}"\n'
            f'password = "train-{i:02d}"\nterminals = ["T{i:02d}"]\n'
        )
    return template("demo_lab.toml").substitute(
        dir=directory,
        expired=(today - timedelta(days=1)).isoformat(),
        operators="\n".join(ops).rstrip(),
    )


def state_name(st: str) -> str:
    """The Nlets member name of ``st`` (a state, DC or a territory)."""
    return MEMBERS[st].name


def state_text(st: str, directory: Path) -> str:
    """``lab.toml`` of a fictitious lab for state ``st`` (any NCIC state code but Oregon's)."""
    p = places(st)
    local = "\n".join(
        f'[[agency]]\nori = "{a.ori}"\nname = "{a.name}"\ntype = "{a.type}"\n'
        for a in local_agencies(st)
    )
    ops = []
    for i in range(10):
        ops.append(
            f'[[operator]]\nid = "OP{i:02d}"\nname = "{OPERATOR_NAMES[i]}"\n'
            f'password = "train-{i:02d}"\nterminals = ["T{i:02d}"]\n'
        )
    return template("state_lab.toml").substitute(
        st=st,
        words=state_name(st),
        dir=directory,
        local=local,
        county1=p.county1,
        city1=p.city1,
        county2=p.county2,
        city2=p.city2,
        operators="\n".join(ops).rstrip(),
    )


def init_lab(
    directory: str | Path,
    *,
    force: bool = False,
    listen: str | None = None,
    today: date | None = None,
    state: str = "OR",
    generate: bool = False,
) -> LabConfig:
    """Write ``DIR/lab.toml`` for ``state`` and create its database; refuse to overwrite unless
    ``force``. ``state``: any NCIC code of a state, DC or territory (``US_STATE_CODES``).

    ``generate``: every operator gets a new random password and ``lab.toml`` keeps only its
    scrypt hash; the returned lab carries the clear passwords in memory (``operator.password``)
    so the caller can show them once. Without it the operators keep the fixed training
    passwords (``train-01``…) in clear, for classrooms and scripts."""
    state = state.upper()
    if state not in US_STATE_CODES:
        raise ConfigError(
            f"--state {state}: not an NCIC code of a state, DC or territory "
            f"(one of {' '.join(sorted(US_STATE_CODES))})"
        )
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
