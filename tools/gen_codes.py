"""Generate the packaged NCIC code tables (``formats/ncic_codes.json.gz``) from public sources.

Usage::

    .venv/bin/python tools/gen_codes.py [--src ../shared/data/ncic-codes] [--check]

Sources, read in this order (a later source re-describes or adds codes, never removes one):

1. ``niem-2.0/``  the NCIC 2000 code tables of NIEM 2.0 ``fbi.xsd`` (github NIEM/NIEM-Releases,
   tag niem-2.0, path niem/fbi/2.0/fbi.xsd), one CSV per table (see its INDEX.md).
2. ``niem-5.0.1-update/``  the NCIC update of NIEM 5.0.1 (``xsd/codes/ncic-5.0.1.xsd``, tag
   niem-5.0.1-justice): RAC H and P, HAI BLD, the 2.x state/country sections (into LIS).
3. ``nlets/``  the NIEM 5.2 ``nlets.xsd`` directory code lists (ORION agency category etc.).
4. ``SUPPLEMENT`` below: codes that NCIC uses today but that no file in (1)-(3) holds.  Later NIEM
   releases carry the full current NCIC lists in ``xsd/codes/ncic.xsd`` (NIEM 5.x), but that file
   is stored as a large object that could not be retrieved for this build (the mirror of
   NIEM/NIEM-Releases lists it without its content).  Each supplement code names where it is
   documented; ``--niem-xsd FILE`` merges the VMA list of such a file when one is at hand.

Descriptions are upper-cased (NCIC prints upper case) and stripped; codes are kept as written.
The output records every source with its file count, so ``CodeBook.sources()`` can say where a
table came from.  ``--check`` regenerates in memory and exits 1 if the packaged file differs
(CI runs it through tests/tools/test_gen_codes.py).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from formats.codes import ALIASES, PACKAGED, read_table  # noqa: E402

DEFAULT_SRC = ROOT.parent / "shared" / "data" / "ncic-codes"
"""``../shared/data/ncic-codes``: shared/ stands beside the checkout (as on CI)."""

SOURCES = (
    (
        "niem-2.0",
        "NIEM 2.0 fbi.xsd (NCIC 2000 code tables), NIEM/NIEM-Releases tag niem-2.0, "
        "niem/fbi/2.0/fbi.xsd",
    ),
    (
        "niem-5.0.1-update",
        "NIEM 5.0.1 ncic-5.0.1.xsd (NCIC update), NIEM/NIEM-Releases tag "
        "niem-5.0.1-justice, xsd/codes/ncic-5.0.1.xsd",
    ),
    ("nlets", "NIEM 5.2 nlets.xsd code lists, NIEM/NIEM-Releases master, xsd/codes/nlets.xsd"),
)

SUPPLEMENT: dict[str, dict[str, tuple[str, str]]] = {
    "VMA": {
        "TESL": (
            "TESLA",
            "NCIC Vehicle Make (VMA) code list, NCIC Code Manual Part 1; the "
            "NIEM 2.0 list predates the make",
        ),
    },
}
"""Codes in use that the NIEM 2.0 / 5.0.1 files do not hold: table -> code -> (text, source)."""


def _tables_from_dir(directory: Path) -> dict[str, dict[str, str]]:
    tables: dict[str, dict[str, str]] = {}
    for file in sorted(directory.glob("*.csv")):
        stem = file.stem.upper()
        name = ALIASES.get(stem, stem)
        for code, text in read_table(file, name).items():
            # an empty text (SDT 1928: a series year says itself) prints as the code
            tables.setdefault(name, {})[code] = " ".join(text.split()).upper() or code
    return tables


def _vma_from_xsd(path: Path) -> dict[str, str]:
    """The VMA enumeration of a NIEM ``ncic.xsd``/``fbi_ncic.xsd`` (values and documentation)."""
    text = path.read_text("utf-8")
    block = re.search(r'<xs:simpleType name="VMACodeSimpleType">(.*?)</xs:simpleType>', text, re.S)
    if block is None:
        raise SystemExit(f"{path}: no VMACodeSimpleType")
    out = {}
    for m in re.finditer(
        r'<xs:enumeration value="([^"]+)">.*?<xs:documentation>(.*?)'
        r"</xs:documentation>",
        block.group(1),
        re.S,
    ):
        out[m.group(1).strip().upper()] = " ".join(m.group(2).split()).upper()
    return out


def generate(src: Path, niem_xsd: Path | None = None) -> dict[str, object]:
    tables: dict[str, dict[str, str]] = {}
    origin: dict[str, list[str]] = {}
    sources = []
    for sub, what in SOURCES:
        d = src / sub
        if not d.is_dir():
            raise SystemExit(f"missing source directory {d}")
        found = _tables_from_dir(d)
        for name, codes in found.items():
            tables.setdefault(name, {}).update(codes)
            origin.setdefault(name, []).append(sub)
        sources.append({"dir": sub, "what": what, "tables": len(found)})
    if niem_xsd is not None:
        tables["VMA"].update(_vma_from_xsd(niem_xsd))
        origin["VMA"].append(niem_xsd.name)
        sources.append(
            {"dir": str(niem_xsd), "what": "VMA from a later NIEM ncic.xsd", "tables": 1}
        )
    supplement = {}
    for name, codes in SUPPLEMENT.items():
        for code, (text, where) in codes.items():
            if code not in tables.get(name, {}):
                tables.setdefault(name, {})[code] = text
                supplement[f"{name}/{code}"] = where
    return {
        "generated_by": "tools/gen_codes.py",
        "sources": sources,
        "origin": {name: origin[name] for name in sorted(origin)},
        "supplement": supplement,
        "tables": {name: dict(sorted(tables[name].items())) for name in sorted(tables)},
    }


def encode(data: dict[str, object]) -> bytes:
    raw = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return gzip.compress(raw.encode("utf-8"), compresslevel=9, mtime=0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC)
    ap.add_argument(
        "--niem-xsd", type=Path, default=None, help="a later NIEM ncic.xsd whose VMA list to merge"
    )
    ap.add_argument("--out", type=Path, default=PACKAGED)
    ap.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if the packaged file is not what the sources give",
    )
    args = ap.parse_args(argv)
    blob = encode(generate(args.src, args.niem_xsd))
    if args.check:
        same = args.out.exists() and args.out.read_bytes() == blob
        print("up to date" if same else f"{args.out} differs from the sources")
        return 0 if same else 1
    args.out.write_bytes(blob)
    data = json.loads(gzip.decompress(blob))
    n = sum(len(t) for t in data["tables"].values())
    print(f"wrote {args.out}: {len(data['tables'])} tables, {n} codes, {len(blob)} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
