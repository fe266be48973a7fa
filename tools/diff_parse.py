"""Differential check: the parser of this tree against the parser of a git revision.

Usage::

    .venv/bin/python tools/diff_parse.py [--ref HEAD] [--seeds 1 2 3 4 5] [--mutations 150000]

Every input goes through ``Parser.check`` here and through the ``formats`` package of ``--ref``
(taken with ``git archive`` and run in a child process, so the two never share a module), and
the two answers must be equal: the same ``Message`` (every attribute) or the same ``Reject``
(code, reason, field, echoed input). Inputs: the ``tools/bench_parse.py`` corpus under each
seed, messages built for every key of the dictionary, and random mutations of both (characters
inserted, deleted and replaced; fields dropped and repeated; lower case; blanks around codes;
line breaks; control characters). Exit status 1 and the first differences printed when any
answer differs.
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_parse import Gen, corpus

from formats.dictionary import Dictionary
from formats.errors import Reject
from formats.grammar import Parser

ROOT = Path(__file__).resolve().parent.parent

# The child: reads the inputs, answers each with the reference parser, writes the answers.
_CHILD = r"""
import pickle, sys
sys.path.insert(0, sys.argv[1])
from formats.errors import Reject
from formats.grammar import Parser
import formats.grammar
assert formats.grammar.__file__.startswith(sys.argv[1]), formats.grammar.__file__
def answer(parser, text):
    try:
        r = parser.check(text)
    except Exception as e:
        return ("E", type(e).__name__, str(e))
    if isinstance(r, Reject):
        return ("R", r.code, r.reason, r.field, r.input)
    return ("M", r.key, r.ori, tuple(r.destinations), r.control, tuple(r.fields), r.text,
            r.suffix, tuple(r.args), r.raw)
texts = pickle.load(open(sys.argv[2], "rb"))
parser = Parser()
pickle.dump([answer(parser, t) for t in texts], open(sys.argv[3], "wb"))
"""

_SAMPLE = {
    "name": ["SMITH,JOHN", "O'BRIEN, MARY K", "VAN DYKE,JO"],
    "date": ["19800101", "20240229", "19991231"],
    "digits": ["1", "12", "123", "123456789"],
    "alnum": ["A1", "ABC123", "9ABC123"],
    "text": ["SOME TEXT", "X"],
    "hgt": ["510", "600"],
    "ori": ["OR0240000", "WA0170000"],
    "nic": [],
    "year": ["2024", "1999"],
}


def answer(parser: Parser, text: str) -> tuple[Any, ...]:
    """The parser's answer to ``text`` as a plain tuple (comparable across processes)."""
    try:
        r = parser.check(text)
    except Exception as e:  # an exception is an answer too: it must be the same one
        return ("E", type(e).__name__, str(e))
    if isinstance(r, Reject):
        return ("R", r.code, r.reason, r.field, r.input)
    return (
        "M",
        r.key,
        r.ori,
        tuple(r.destinations),
        r.control,
        tuple(r.fields),
        r.text,
        r.suffix,
        tuple(r.args),
        r.raw,
    )


def every_key(g: Gen, per_key: int) -> list[str]:
    """Messages for every key of the shipped dictionary: mandatory fields, one identifier set
    and some optional fields, each with a plausible value (valid or not)."""
    d = Dictionary.default()
    out = []
    for key, spec in d.keys.items():
        for _ in range(per_key):
            codes = list(spec.mandatory)
            if spec.one_of:
                codes += g.r.choice(spec.one_of)
            codes += g.r.sample(spec.optional, min(len(spec.optional), g.r.randint(0, 3)))
            fields = []
            for code in dict.fromkeys(codes):
                fd = d.fields[code]
                if fd.type == "code":
                    values = list(fd.values or d.codes.table(fd.table))
                elif fd.type == "nic":
                    values = [g.nic(g.pick("WVGAMBS"))]
                else:
                    values = _SAMPLE[fd.type]
                fields.append(f"{code}/{g.pick(values)}")
            body = ".".join(fields)
            if spec.style == "positional":
                text = ".".join([key, *(g.alnum(g.r.randint(1, 8)) for _ in spec.args)])
            elif spec.style == "ncic":
                text = f"{key}.{g.ori()}.{body}" if body else f"{key}.{g.ori()}"
            else:
                dests = ".".join(
                    g.r.sample(
                        ["WA", "ID", "CA", "NL", "OR0240000", "WA0170000"], g.r.randint(1, 2)
                    )
                )
                ctl = f".*{g.alnum(5)}" if g.r.random() < 0.3 else ""
                sep = g.pick(["\n", "\n", ".", " "])
                text = f"{key}.{g.ori()}.{dests}{ctl}.TXT{sep}{body or g.words(2, 6)}"
            out.append(text)
    return out


_NOISE = "./\n \t\r ,-'*\x00\x7fé0123456789ABCXYZabcxyz"


def mutate(g: Gen, text: str) -> str:
    """One to three random edits of the kinds an operator or a line makes."""
    r = g.r
    for _ in range(r.randint(1, 3)):
        how = r.randrange(11)
        i = r.randrange(len(text) + 1)
        if how == 0:
            text = text[:i] + r.choice(_NOISE) + text[i:]
        elif how == 1:
            text = text[:i] + text[i + 1 :]
        elif how == 2:
            text = text[:i] + r.choice(_NOISE) + text[i + 1 :]
        elif how in (3, 4):
            parts = text.split(".")
            j = r.randrange(len(parts))
            if how == 3 and len(parts) > 1:
                del parts[j]
            else:
                parts.insert(r.randrange(len(parts) + 1), parts[j])
            text = ".".join(parts)
        elif how == 5:
            text = text[:i] + text[i:].lower()
        elif how == 6:
            text = text.replace("/", r.choice([" /", "/ ", " / "]), 1)
        elif how == 7:
            text = text.replace(".", r.choice(["\n", ".\n", "\r\n", ". "]), r.randint(1, 3))
        elif how == 8:
            text = r.choice([" ", "\t", "\n", ""]) + text + r.choice([" ", ".", "\n", ""])
        elif how == 9:
            text = text.replace("TXT", r.choice(["txt", "TXT ", " TXT", "TXT.", "TX"]), 1)
        else:
            text = text[:i]
    return text


def inputs(seeds: list[int], mutations: int) -> list[str]:
    texts: list[str] = []
    for seed in seeds:
        texts += corpus(1000, seed=seed)
        texts += every_key(Gen(seed), 4)
    g = Gen(seeds[0] * 7919)
    base = list(texts)
    texts += [mutate(g, g.pick(base)) for _ in range(mutations)]
    texts += ["", ".", "..", " ", "\n", "QW", "QW.", "RQ.OR0240000.WA.TXT", "LOGON"]
    return texts


def reference_answers(ref: str, texts: list[str]) -> list[tuple[Any, ...]]:
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "formats"], check=True, capture_output=True
        ).stdout
        tar = Path(tmp) / "ref.tar"
        tar.write_bytes(archive)
        with tarfile.open(tar) as t:
            t.extractall(tree, filter="data")
        (Path(tmp) / "in.pickle").write_bytes(pickle.dumps(texts))
        subprocess.run(
            [sys.executable, "-c", _CHILD, str(tree), f"{tmp}/in.pickle", f"{tmp}/out.pickle"],
            check=True,
            cwd=tmp,
        )
        return pickle.loads((Path(tmp) / "out.pickle").read_bytes())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--ref",
        default="HEAD",
        help="git revision to compare with (default HEAD: what the working tree changed)",
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--mutations", type=int, default=150_000)
    args = ap.parse_args(argv)

    texts = inputs(args.seeds, args.mutations)
    parser = Parser()
    ours = [answer(parser, t) for t in texts]
    theirs = reference_answers(args.ref, texts)
    diffs = [(t, a, b) for t, a, b in zip(texts, ours, theirs, strict=True) if a != b]
    kinds = {k: sum(a[0] == k for a in ours) for k in "MRE"}
    print(
        f"{len(texts)} inputs: {kinds['M']} messages, {kinds['R']} rejects, "
        f"{kinds['E']} exceptions; {len(diffs)} differ from {args.ref}"
    )
    for t, a, b in diffs[:10]:
        print(f"  input {t!r}\n    here {a}\n    {args.ref} {b}")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
