"""The message dictionary: field definitions and key specifications, loaded from TOML.

The shipped dictionary is ``formats/keys.toml``; a lab may lay its own file over it (new keys,
changed keys, new fields). Everything the parser and validator know about a key is here, so the
interactive terminal's ``HELP`` and ``FORM`` read the same definitions that reject messages.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from formats.codes import CodeBook
from formats.errors import ConfigError
from formats.fields import FIELD_TYPES, FieldDef, compile_checker

STYLES = ("ncic", "nlets", "positional")
DEST_KINDS = ("state", "ori", "any")
BODIES = ("fields", "text")


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What one message key requires."""

    key: str
    label: str
    style: str = "ncic"
    verb: str = ""
    file: str = ""
    mandatory: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    optional: tuple[str, ...] = ()
    repeat: frozenset[str] = frozenset()
    args: tuple[str, ...] = ()
    dest: str = "any"
    max_dest: int = 5
    body: str = "fields"
    tables: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(field code, code tables) pairs: the key checks that field as a code of its own table (an
    article's TYP against the article types TYPA, a gun's against the gun types TYP; a part's
    brand BRA against the part brands, where an article's brand is free text; an Nlets DQ's RSN
    against Nlets' reason codes, where an NCIC cancel's is free text), or of any of several
    (a YQ's TYP)."""
    allowed: frozenset[str] = field(init=False, repr=False, compare=False)
    """Every field code the key accepts (mandatory, identifier sets and optional)."""
    needs: tuple[frozenset[str], ...] = field(init=False, repr=False, compare=False)
    """The sets of codes a message must hold one of: every mandatory field plus one identifier
    set (or the mandatory fields alone when the key has no identifier sets)."""

    def __post_init__(self) -> None:
        codes = set(self.mandatory) | set(self.optional)
        for group in self.one_of:
            codes.update(group)
        object.__setattr__(self, "allowed", frozenset(codes))
        mandatory = frozenset(self.mandatory)
        object.__setattr__(
            self, "needs", tuple(mandatory.union(group) for group in self.one_of) or (mandatory,)
        )

    def options_text(self) -> list[str]:
        """The identifier sets, numbered, as an Nlets ``.22.`` error lists them."""
        return [f"{i}. {', '.join(group)}" for i, group in enumerate(self.one_of, 1)]


class Dictionary:
    """Field definitions and key specs, with checkers compiled against a code book."""

    def __init__(
        self, fields: dict[str, FieldDef], keys: dict[str, KeySpec], codes: CodeBook
    ) -> None:
        self.codes = codes
        self.fields = {c: replace(fd, check=compile_checker(fd, codes)) for c, fd in fields.items()}
        self.keys = keys
        self._per_key: dict[str, dict[str, FieldDef]] = {}

    def defs_for(self, key: str) -> dict[str, FieldDef]:
        """The field definitions as key ``key`` reads them: the shared ones, with the key's own
        code tables (``tables``) in place of the shared field's table."""
        spec = self.keys.get(key)
        if spec is None or not spec.tables:
            return self.fields
        defs = self._per_key.get(key)
        if defs is None:
            defs = dict(self.fields)
            for code, tables in spec.tables:
                if len(tables) == 1:
                    fd = replace(defs[code], type="code", table=tables[0], values=())
                else:  # a code of any of them
                    union = sorted({c for t in tables for c in self.codes.table(t)})
                    fd = replace(defs[code], type="code", table="", values=tuple(union))
                defs[code] = replace(fd, check=compile_checker(fd, self.codes))
            self._per_key[key] = defs
        return defs

    def spec(self, key: str) -> KeySpec | None:
        return self.keys.get(key)

    @classmethod
    def default(cls) -> Dictionary:
        """The shipped dictionary with the built-in code book (built once)."""
        return _default()

    @classmethod
    def load(cls, sources: Iterable[str | Path] = (), codes: CodeBook | None = None) -> Dictionary:
        """The shipped dictionary with each TOML file of ``sources`` laid over it in order."""
        raw = _read_toml(_SHIPPED.read_text("utf-8"), "formats/keys.toml")
        docs = [("formats/keys.toml", raw)]
        for src in sources:
            p = Path(src)
            try:
                text = p.read_text("utf-8")
            except OSError as e:
                raise ConfigError(f"cannot read dictionary: {e.strerror}", file=str(p)) from e
            docs.append((str(p), _read_toml(text, str(p))))
        return _build(docs, codes or CodeBook.builtin())


_SHIPPED = Path(__file__).with_name("keys.toml")
"""The shipped dictionary, found beside this module (not through the ``formats`` package name,
which a test directory also called ``formats`` on ``sys.path`` can shadow)."""


@cache
def _default() -> Dictionary:
    return Dictionary.load()


def _read_toml(text: str, name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(e), file=name) from e


def _build(docs: list[tuple[str, dict[str, Any]]], codes: CodeBook) -> Dictionary:
    groups: dict[str, list[str]] = {}
    fields: dict[str, FieldDef] = {}
    key_tables: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, doc in docs:
        unknown = set(doc) - {"groups", "fields", "keys"}
        if unknown:
            raise ConfigError(f"unknown section(s) {sorted(unknown)}", file=name)
        groups.update(doc.get("groups", {}))
        for code, spec in doc.get("fields", {}).items():
            fields[code] = _field(name, code, spec, codes)
        for key, spec in doc.get("keys", {}).items():
            key_tables[key] = (name, spec)
    keys = {
        key: _key(name, key, spec, groups, fields, codes)
        for key, (name, spec) in key_tables.items()
    }
    return Dictionary(fields, keys, codes)


_FIELD_ATTRS = {
    "type",
    "label",
    "min",
    "max",
    "table",
    "values",
    "er",
}
_KEY_ATTRS = {
    "label",
    "style",
    "verb",
    "file",
    "mandatory",
    "one_of",
    "optional",
    "repeat",
    "args",
    "dest",
    "max_dest",
    "body",
    "tables",
}


def _field(name: str, code: str, spec: dict[str, Any], codes: CodeBook) -> FieldDef:
    where = f"fields.{code}"
    extra = set(spec) - _FIELD_ATTRS
    if extra:
        raise ConfigError(f"unknown attribute(s) {sorted(extra)}", file=name, key=where)
    ftype = spec.get("type")
    if ftype not in FIELD_TYPES:
        raise ConfigError(
            f"type must be one of {', '.join(FIELD_TYPES)}, not {ftype!r}", file=name, key=where
        )
    if not (2 <= len(code) <= 4 and code.isalpha() and code.isupper()):
        raise ConfigError("a field code is 2 to 4 capital letters", file=name, key=where)
    if ftype == "code" and not spec.get("values"):
        table = spec.get("table", "")
        if table not in codes:
            raise ConfigError(f"code table {table!r} is not in the code book", file=name, key=where)
    return FieldDef(
        code=code,
        type=ftype,
        label=spec.get("label", code),
        min=int(spec.get("min", 1)),
        max=int(spec.get("max", 0)),
        table=spec.get("table", ""),
        values=tuple(spec.get("values", ())),
        er=spec.get("er", ".22."),
    )


def _key(
    name: str,
    key: str,
    spec: dict[str, Any],
    groups: dict[str, list[str]],
    fields: dict[str, FieldDef],
    codes: CodeBook,
) -> KeySpec:
    where = f"keys.{key}"

    def expand(items: list[str]) -> tuple[str, ...]:
        out: list[str] = []
        for item in items:
            if item.startswith("@"):
                if item[1:] not in groups:
                    raise ConfigError(f"unknown group {item}", file=name, key=where)
                out.extend(groups[item[1:]])
            else:
                out.append(item)
        for code in out:
            if code not in fields:
                raise ConfigError(f"field {code} is not defined in [fields]", file=name, key=where)
        return tuple(dict.fromkeys(out))

    extra = set(spec) - _KEY_ATTRS
    if extra:
        raise ConfigError(f"unknown attribute(s) {sorted(extra)}", file=name, key=where)
    style = spec.get("style", "ncic")
    if style not in STYLES:
        raise ConfigError(f"style must be one of {', '.join(STYLES)}", file=name, key=where)
    base, _, suffix = key.partition("-")
    if not (1 <= len(base) <= 6 and base.isalpha() and base.isupper()) or (
        suffix and not suffix.isalnum()
    ):
        raise ConfigError(
            "a key is up to 6 capital letters, optionally -SUFFIX", file=name, key=where
        )
    dest, body = spec.get("dest", "any"), spec.get("body", "fields")
    if dest not in DEST_KINDS:
        raise ConfigError(f"dest must be one of {', '.join(DEST_KINDS)}", file=name, key=where)
    if body not in BODIES:
        raise ConfigError(f"body must be one of {', '.join(BODIES)}", file=name, key=where)
    tables = spec.get("tables", {})
    if not isinstance(tables, dict):
        raise ConfigError(
            'tables must be a table of FIELD = "TABLE" or ["TABLE", ...]', file=name, key=where
        )
    key_tables: dict[str, tuple[str, ...]] = {}
    for code, table in tables.items():
        if code not in fields:
            raise ConfigError(
                f"tables: field {code} is not defined in [fields]", file=name, key=where
            )
        names = (
            (table,) if isinstance(table, str) else tuple(table) if isinstance(table, list) else ()
        )
        if not names or not all(isinstance(one, str) for one in names):
            raise ConfigError(
                f"tables: {code} must name a code table or a list of them", file=name, key=where
            )
        for one in names:
            if one not in codes:
                raise ConfigError(
                    f"tables: code table {one!r} is not in the code book", file=name, key=where
                )
        key_tables[code] = names
    return KeySpec(
        key=key,
        label=spec.get("label", key),
        tables=tuple(sorted(key_tables.items())),
        style=style,
        verb=spec.get("verb", ""),
        file=spec.get("file", ""),
        mandatory=expand(spec.get("mandatory", [])),
        one_of=tuple(expand(g) for g in spec.get("one_of", [])),
        optional=expand(spec.get("optional", [])),
        repeat=frozenset(expand(spec.get("repeat", []))),
        args=tuple(spec.get("args", ())),
        dest=dest,
        max_dest=int(spec.get("max_dest", 5)),
        body=body,
    )
