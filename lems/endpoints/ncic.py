"""Mock NCIC: NCIC's 21 files in their own SQLite file, with NCIC's entry rules, edits and
search rules.

Entry rules: every accepted entry gets a NIC (``formats.nic``, file letter + serial); an entry
that duplicates a live record by the file's rules is answered ``REJECT ON FILE`` with the record
on file; dates of events may not be in the future and dependent fields come together
(``edits``); only the entering ORI may modify, cancel or clear its record (found
by NIC, or by OCA within the ORI's own records); a locate by any agency marks the record located
and sends the owner a ``$.L.`` notice; a record whose file's retention ends (an order's ``EXP``,
the NDTF's 180 days ...) is retired on the lab clock and its owner sent ``$.P.``. Search rules
(``search.py``) are columns computed at entry, each indexed, so a query is a handful of index
lookups whatever the file size.

What differs between NCIC's 21 files (hit header, caveat, duplicate rules, NIC letter) is a
table in ``ncic_files.py``; this module has one code path for all of them. Person queries (QW,
QWI) search every person file NCIC returns on a name/DOB inquiry, each hit with its own caveat;
a vehicle query searches the vehicle, license plate and part files and also returns the persons
linked to the vehicle (NCIC links records by ORI and OCA: a wanted person and the vehicle entered
under the same case). III keys (QH, QR) go to ``iii.py``; a QWI gets both answers.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from formats import responses
from formats.errors import Reject
from formats.message import Message
from formats.nic import FILE_LETTERS, make_nic
from formats.rejects import RejectCode
from lems.clock import LabClock
from lems.endpoints.iii import III
from lems.endpoints.ncic_files import QW_FILES, NcicFile, by_name
from lems.endpoints.search import dob_values, race_matches, serial_key, soundex, vin8
from lems.endpoints.system import Answer, System, open_db
from lems.repositories import ncic as ncic_records
from lems.repositories.ncic import LIVE, Record

SCHEMA = ncic_records.SCHEMA + III.SCHEMA
"""The tables of ``ncic.db``: the hot files (``lems.repositories.ncic``) and III's."""

RETIRED = "retired"
"""Status of a record its retention period removed (``$.P.`` to the owner)."""
PURGE_EVERY = 3600.0
"""Lab seconds between two looks for records whose retention has ended."""
MAX_HITS = 20
"""NCIC caps the records returned for one inquiry; the rest are counted."""


NOT_FUTURE = ("DOB", "DOW", "DOT", "DLC", "DBF", "DOL", "DCL", "DOE")
"""Dates of events that NCIC refuses when later than the current date (each file chapter's
"message field edits"); EXP (an order's expiry) is a future date by nature."""

NEEDS = (("OLN", ("OLS", "OLY")), ("LIC", ("LIS", "LIY", "LIT")))
"""Field dependencies: a field that needs others with it (Wanted Person File, "message field
code edits": OLN with OLS and OLY; the vehicular data LIC with LIS, LIY and LIT)."""

NEEDS_MIS = re.compile(r"SEE MIS|REQUIRES DATA IN THE MIS|MUST BE DESCRIBED IN THE MIS")
"""A code whose NCIC table text says so needs a MIS field (EXL 2/5/B/E, gun TYP Z, OFF codes
"... SEE MIS"): the dependency is read from the tables, not listed by hand."""

TRANSLATED = ("OFF", "CMC", "EXL", "PCO", "ECR", "VPC")
"""Coded fields a hit prints with their meaning (``CMC/05 - VIOLENT TENDENCIES``)."""

COLUMN_OF = {
    "SOC": "soc",
    "FBI": "fbi",
    "MNU": "mnu",
    "OLN": "oln",
    "LIC": "lic",
    "VIN": "vin8",
    "SER": "ser",
    "OAN": "oan",
    "REG": "reg",
    "BHN": "bhn",
    "PNO": "pno",
    "NTN": "ntn",
}
"""Indexed search column of an identifier (duplicate checks and number inquiries)."""

IDENT_CODES = (
    "NIC",
    "NAM",
    "DOB",
    "SOC",
    "FBI",
    "MNU",
    "OLN",
    "SID",
    "LIC",
    "LIS",
    "VIN",
    "SER",
    "OAN",
    "REG",
    "RES",
    "BHN",
    "PNO",
    "NTN",
    "SEX",
    "RAC",
    "OCA",
)
"""Identifiers an acknowledgment or a no-record answer echoes, in this order."""


def index_values(fields: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The search columns of a record from its fields."""
    f: dict[str, str] = {}
    for c, v in fields:
        f.setdefault(c, v)
    hgt = f.get("HGT")
    return {
        "sdx": soundex(f["NAM"]) if "NAM" in f else None,
        "dob": f.get("DOB"),
        "rac": f.get("RAC", ""),
        "sex": f.get("SEX", ""),
        "hgt": int(hgt[0]) * 12 + int(hgt[1:]) if hgt and hgt.isdigit() else None,
        "soc": f.get("SOC"),
        "fbi": f.get("FBI"),
        "mnu": f.get("MNU"),
        "oln": f.get("OLN"),
        "sid": f.get("SID"),
        "lic": f.get("LIC"),
        "lis": f.get("LIS"),
        "vin8": vin8(f["VIN"]) if "VIN" in f else None,
        "ser": serial_key(f["SER"]) if "SER" in f else None,
        "oan": f.get("OAN"),
        "reg": f.get("REG"),
        "bhn": f.get("BHN"),
        "pno": f.get("PNO"),
        "ntn": f.get("NTN"),
    }


def retire_day(file: str, fields: Sequence[tuple[str, str]], entered: str) -> str | None:
    """The first day (``CCYYMMDD``) a record of ``file`` is no longer kept, by the file's
    retention (``ncic_files``: the day after its ``EXP``, or ``keep_days`` after ``entered``,
    an ISO date); None when it is kept until cleared or cancelled."""
    f = by_name(file)
    if f.retire_on:
        value = next((v for c, v in fields if c == f.retire_on), "")
        if len(value) == 8 and value.isdigit():
            try:
                return (datetime.strptime(value, "%Y%m%d") + timedelta(days=1)).strftime("%Y%m%d")
            except ValueError:
                return None
    if f.keep_days:
        start = datetime.fromisoformat(entered[:10])
        return (start + timedelta(days=f.keep_days)).strftime("%Y%m%d")
    return None


class NcicStore:
    """The hot files: a record's NIC, search columns and retirement day made from its fields,
    then kept (``lems.repositories.ncic``); records found by NIC, owner, name or number. No
    message text here."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.next_id = ncic_records.last_id(conn) + 1

    @classmethod
    def open(cls, path: Any) -> NcicStore:
        return cls(open_db(path, SCHEMA))

    def insert(
        self,
        file: str,
        mke: str,
        ori: str,
        oca: str,
        fields: list[tuple[str, str]],
        when: str,
        commit: bool = True,
    ) -> str:
        # NICS writes NDTF records into this file through a store of its own: read the last id
        # again so the two never hand out the same one (a clash lost NICS's answer).
        rid = max(self.next_id, ncic_records.last_id(self.conn) + 1)
        self.next_id = rid + 1
        nic = make_nic(FILE_LETTERS[file], rid)
        idx = index_values(fields)
        ncic_records.insert(
            self.conn,
            (rid, nic, file, mke, ori, oca, when, when, json.dumps(fields), *idx.values()),
        )
        self.schedule(rid, file, fields, when)
        if commit:
            self.conn.commit()
        return nic

    def insert_many(
        self, rows: list[tuple[str, str, str, str, list[tuple[str, str]], str]]
    ) -> None:
        """Bulk load (seed): rows of (file, mke, ori, oca, fields, when); one transaction."""
        out = []
        for file, mke, ori, oca, fields, when in rows:
            rid = self.next_id
            self.next_id += 1
            out.append(
                (
                    rid,
                    make_nic(FILE_LETTERS[file], rid),
                    file,
                    mke,
                    ori,
                    oca,
                    when,
                    when,
                    json.dumps(fields),
                    *index_values(fields).values(),
                )
            )
        ncic_records.insert_many(self.conn, out)
        self.conn.commit()

    def schedule(
        self, rid: int, file: str, fields: Sequence[tuple[str, str]], entered: str
    ) -> None:
        """Note the day record ``rid`` is to be retired, if its file's retention has one (the
        seed's bulk load does not: seeded records stay until cancelled)."""
        ncic_records.set_retire_day(self.conn, rid, retire_day(file, fields, entered))

    def due(self, today: str) -> list[Record]:
        """Live records whose retirement day has come (``today``: ``CCYYMMDD``); their
        retirement notes are removed, with those of records no longer live."""
        recs = ncic_records.take_due(self.conn, today)
        self.conn.commit()
        return [rec for rec in recs if rec.status in LIVE]

    def by_nic(self, nic: str) -> Record | None:
        return ncic_records.by_nic(self.conn, nic)

    def by_oca(self, ori: str, oca: str, file: str) -> Record | None:
        return ncic_records.by_oca(self.conn, ori, oca, file)

    def update(
        self, rec: Record, when: str, *, status: str | None = None, located_by: str | None = None
    ) -> None:
        ncic_records.update(
            self.conn,
            rec.id,
            json.dumps(rec.fields),
            when,
            status or rec.status,
            rec.located_by if located_by is None else located_by,
            tuple(index_values(rec.fields).values()),
        )
        self.conn.commit()

    def where(self, files: Sequence[str], column: str, values: Sequence[Any]) -> list[Record]:
        """Live records of ``files`` whose indexed ``column`` is one of ``values``."""
        return ncic_records.where(self.conn, files, column, values)

    def by_name(self, files: Sequence[str], name: str, dobs: Sequence[str]) -> list[Record]:
        """Live records of ``files`` whose name sounds like ``name`` (soundex), born on one of
        ``dobs``."""
        return ncic_records.by_name(self.conn, files, soundex(name), dobs)

    def linked(self, rec: Record, files: Sequence[str]) -> list[Record]:
        """Records of ``files`` linked to ``rec``: same ORI and OCA (NCIC's LKI/LKA)."""
        if not rec.oca:
            return []
        return ncic_records.linked(self.conn, rec.ori, rec.oca, files, rec.id)

    def unidentified(self, sex: str | None) -> list[Record]:
        """Live unidentified-person records of ``sex`` or of unknown sex."""
        return ncic_records.unidentified(self.conn, sex)

    def count(self) -> int:
        return ncic_records.count(self.conn)


class Ncic(System):
    """The NCIC endpoint: the 21 files and III."""

    name = "ncic"
    words = "NCIC"

    def __init__(
        self, store: NcicStore, clock: LabClock, tz: tzinfo | None = None, **kw: Any
    ) -> None:
        super().__init__(clock, **kw)
        self.tz = tz
        """The zone NCIC prints times in (the lab's ``timezone``; None: the lab clock's)."""
        self.store = store
        self.iii = III(store.conn, self)
        self.needs_mis = {
            code: frozenset(
                c
                for c, text in self.codes.table(fd.table).items()
                if NEEDS_MIS.search(text.upper())
            )
            for code, fd in self.dictionary.fields.items()
            if fd.type == "code" and fd.table
        }
        """Field code -> its codes that need a MIS field (from the code tables' texts)."""
        self._purge_call = self.call_later(0, self._purge_tick)
        """The next look for records whose retention has ended (on the lab clock)."""

    @classmethod
    def open(cls, path: Any, clock: LabClock, tz: tzinfo | None = None, **kw: Any) -> Ncic:
        return cls(NcicStore.open(path), clock, tz, **kw)

    def close(self) -> None:
        call = self._purge_call
        if call is not None and call.active():
            call.cancel()
        self.store.conn.close()

    # ---------------------------------------------------------------- retention

    def _purge_tick(self) -> None:
        try:
            self.purge()
        finally:
            self._purge_call = self.call_later(PURGE_EVERY, self._purge_tick)

    def purge(self) -> list[str]:
        """Retire the records whose retention period has ended by the lab date (the file's
        ``retire_on`` date passed, or ``keep_days`` since entry) and send each owner a ``$.P.``
        purge notification; the NICs retired."""
        today = self.local_now().strftime("%Y%m%d")
        retired = []
        for rec in self.store.due(today):
            f = by_name(rec.file)
            self.store.update(rec, self.now().isoformat(timespec="seconds"), status=RETIRED)
            value = rec.get(f.retire_on) if f.retire_on else None
            why = (
                f"{f.retire_on}/{value} HAS PASSED"
                if value
                else f"RETENTION PERIOD OF {f.keep_days} DAYS FROM ENTRY HAS ENDED"
            )
            self.emit(
                rec.ori,
                responses.notification(
                    "P",
                    rec.ori,
                    [
                        f"PURGE NOTIFICATION - YOUR {f.words} RECORD WAS RETIRED ON {today}: {why}",
                        *responses.layout(
                            [
                                ("MKE", f.words),
                                *responses.display_pairs(self.identifiers(rec.fields), self.codes),
                                ("NIC", rec.nic),
                            ]
                        ),
                    ],
                ),
                "",
                "",
            )
            retired.append(rec.nic)
        return retired

    # ---------------------------------------------------------------- dispatch

    def handle(self, text: str, ori: str, terminal: str) -> Answer:
        msg = self.parser.check(text)
        if isinstance(msg, Reject):
            return Answer([responses.reject(msg.with_input(text), ori)])
        spec = self.dictionary.keys[msg.full_key]
        if spec.file == "iii":
            return self.iii.handle(msg, terminal)
        if spec.file not in FILE_LETTERS:
            return Answer(
                [
                    self._reject(
                        msg, RejectCode.BAD_KEY, f"{msg.full_key} IS NOT AN NCIC TRANSACTION", "MKE"
                    )
                ]
            )
        verb = spec.verb
        if verb == "enter":
            return Answer([self.enter(msg, spec.file)])
        if verb == "query":
            bodies = self.query(msg, spec.file)
            if msg.key == "QWI":  # the combined inquiry: the III answer follows the hot files
                iii = self.iii.handle(
                    Message("QH", msg.ori, [], "", msg.fields, "", "", [], msg.raw), terminal
                )
                return Answer(bodies + iii.bodies, iii.sensitive)
            return Answer(bodies)
        if verb in ("modify", "cancel", "clear", "locate"):
            return Answer([self.change(msg, spec.file, verb)])
        return Answer(
            [
                self._reject(
                    msg, RejectCode.BAD_KEY, f"{msg.full_key} IS NOT AN NCIC TRANSACTION", "MKE"
                )
            ]
        )

    def _reject(self, msg: Message, code: str, reason: str, field: str | None) -> str:
        return responses.reject(Reject(code, reason, field, msg.raw[:100]), msg.ori)

    @staticmethod
    def identifiers(fields: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        have: dict[str, str] = {}
        for c, v in fields:
            have.setdefault(c, v)
        return [(c, have[c]) for c in IDENT_CODES if c in have]

    # ---------------------------------------------------------------- edits

    def edits(self, msg: Message, fields: Sequence[tuple[str, str]]) -> str | None:
        """The first NCIC field edit ``fields`` fail (dates of events not in the future, field
        dependencies), as a reject body; None when they pass."""
        today = self.now().strftime("%Y%m%d")
        have = {c for c, _ in fields}
        for code, value in fields:
            if code in NOT_FUTURE and len(value) == 8 and value > today:
                return self._reject(
                    msg,
                    RejectCode.DATE_IN_FUTURE,
                    f"{code}/{value} CANNOT BE LATER THAN THE CURRENT DATE {today}",
                    code,
                )
            if value in self.needs_mis.get(code, ()) and "MIS" not in have:
                text = self.codes.describe(self.dictionary.fields[code].table, value) or ""
                return self._reject(
                    msg,
                    RejectCode.DEPENDENT_FIELD,
                    f"{code}/{value} REQUIRES THE MIS FIELD - {text.upper()}",
                    "MIS",
                )
        for code, needed in NEEDS:
            if code in have:
                missing = [c for c in needed if c not in have]
                if missing:
                    return self._reject(
                        msg,
                        RejectCode.DEPENDENT_FIELD,
                        f"{code} ENTERED WITHOUT "
                        f"{' AND '.join(missing)} - {code} REQUIRES "
                        f"{', '.join(needed)}",
                        missing[0],
                    )
        return None

    def on_file(self, msg: Message, file: NcicFile) -> Record | None:
        """A live record of ``file`` the entry duplicates by the file's rules, or None."""
        values: dict[str, str] = {}
        for c, v in msg.fields:
            values.setdefault(c, v)
        values["ORI"] = msg.ori
        s = self.store
        for rule in file.duplicates:
            if not all(c in values for c in rule):
                continue
            column = next((COLUMN_OF[c] for c in rule if c in COLUMN_OF), None)
            if column is not None:
                code = next(c for c in rule if c in COLUMN_OF)
                key = (
                    vin8(values[code])
                    if column == "vin8"
                    else serial_key(values[code])
                    if column == "ser"
                    else values[code]
                )
                found = s.where((file.name,), column, [key])
            elif "OCA" in rule:
                rec = s.by_oca(msg.ori, values["OCA"], file.name)
                found = [rec] if rec else []
            elif "DOB" in rule and "NAM" in rule:
                found = s.by_name((file.name,), values["NAM"], [values["DOB"]])
            else:
                continue
            for rec in found:
                if all((rec.ori if c == "ORI" else rec.get(c)) == values[c] for c in rule):
                    return rec
        return None

    # ---------------------------------------------------------------- entries

    def enter(self, msg: Message, file: str) -> str:
        fields = [(c, v) for c, v in msg.fields if c not in ("NIC",)]
        bad = self.edits(msg, fields)
        if bad is not None:
            return bad
        old = self.on_file(msg, by_name(file))
        if old is not None:  # NCIC answers REJECT ON FILE followed by the record on file
            return "\n".join(
                [responses.head("REJ", msg.ori), "REJECT ON FILE", *self.record_lines(old)]
            )
        oca = msg.get("OCA") or ""
        nic = self.store.insert(
            file, msg.full_key, msg.ori, oca, fields, self.now().isoformat(timespec="seconds")
        )
        return responses.accepted(
            "enter", file, msg.ori, self.identifiers(fields), nic, self.local_now(), self.codes
        )

    def change(self, msg: Message, file: str, verb: str) -> str:
        nic = msg.get("NIC")
        rec = (
            self.store.by_nic(nic)
            if nic
            else self.store.by_oca(msg.ori, msg.get("OCA") or "", file)
        )
        words = by_name(file).words
        if rec is None or rec.file != file or rec.status not in LIVE:
            ident = f"NIC/{nic}" if nic else f"OCA/{msg.get('OCA')}"
            return self._reject(
                msg,
                RejectCode.NOT_FOUND,
                f"NO ACTIVE {words} RECORD {ident}",
                "NIC" if nic else "OCA",
            )
        name = msg.get("NAM")
        have = rec.get("NAM")
        if name and have and name.replace(" ", "") != have.replace(" ", ""):
            return self._reject(
                msg,
                RejectCode.NAME_MISMATCH,
                f"NAM/{name} DOES NOT MATCH THE NAME ON RECORD NIC/{rec.nic}",
                "NAM",
            )
        when = self.now().isoformat(timespec="seconds")
        if verb == "locate":
            bad = self.edits(msg, msg.fields)
            return bad if bad is not None else self._locate(msg, rec, when)
        if rec.ori != msg.ori:
            return self._reject(
                msg,
                RejectCode.NOT_OWNER,
                f"ONLY THE ENTERING AGENCY ORI/{rec.ori} MAY {verb.upper()} RECORD NIC/{rec.nic}",
                "ORI",
            )
        if verb == "modify":
            keep = {"NIC", "OCA", "NAM"} if file != "unidentified" else {"NIC", "OCA"}
            new = [(c, v) for c, v in msg.fields if c not in keep]
            codes = {c for c, _ in new}
            fields = [(c, v) for c, v in rec.fields if c not in codes] + new
            bad = self.edits(msg, fields)
            if bad is not None:
                return bad
            rec.fields = fields
            self.store.schedule(rec.id, file, fields, rec.entered)  # a new EXP moves it
            self.store.update(rec, when)
        else:
            bad = self.edits(msg, msg.fields)
            if bad is not None:
                return bad
            extra = [(c, v) for c, v in msg.fields if c in ("DCL", "RSN", "MIS")]
            rec.fields = rec.fields + extra
            self.store.update(rec, when, status="cleared" if verb == "clear" else "cancelled")
        return responses.accepted(
            verb, file, msg.ori, self.identifiers(rec.fields), rec.nic, self.local_now(), self.codes
        )

    def _locate(self, msg: Message, rec: Record, when: str) -> str:
        if rec.status == "located":
            return self._reject(
                msg,
                RejectCode.RECORD_STATUS,
                f"RECORD NIC/{rec.nic} IS ALREADY LOCATED BY ORI/{rec.located_by}",
                "NIC",
            )
        dol = msg.get("DOL") or ""
        rec.fields = [*rec.fields, ("DOL", dol)]
        self.store.update(rec, when, status="located", located_by=msg.ori)
        words = by_name(rec.file).words
        notice = responses.notification(
            "L",
            rec.ori,
            [
                f"LOCATE PLACED ON YOUR RECORD BY ORI/{msg.ori}",
                *responses.layout(
                    [
                        ("MKE", words),
                        *responses.display_pairs(self.identifiers(rec.fields), self.codes),
                        ("NIC", rec.nic),
                        ("DOL", dol),
                    ]
                ),
                *([f"MIS/{msg.get('MIS')}"] if msg.get("MIS") else []),
                "CONFIRM AND CLEAR OR CANCEL YOUR RECORD AS APPROPRIATE",
            ],
        )
        self.emit(rec.ori, notice, "", "")
        return responses.accepted(
            "locate",
            rec.file,
            msg.ori,
            self.identifiers(rec.fields),
            rec.nic,
            self.local_now(),
            self.codes,
        )

    # ---------------------------------------------------------------- inquiries

    def query(self, msg: Message, file: str) -> list[str]:
        found = self.search(msg, file)
        if not found:
            what = by_name(file).none
            return [responses.no_record(msg.ori, self.identifiers(msg.fields), what)]
        bodies = [self.hit_body(rec, msg.ori) for rec in found[:MAX_HITS]]
        for rec in found[:MAX_HITS]:
            letter = by_name(rec.file).inquiry_notice
            if letter and rec.ori != msg.ori:
                self._inquiry_notice(letter, rec, msg)
        if len(found) > MAX_HITS:
            bodies.append(
                "\n".join(
                    [
                        responses.head("NTC", msg.ori),
                        f"{len(found) - MAX_HITS} MORE RECORDS NOT SHOWN - REFINE THE INQUIRY",
                    ]
                )
            )
        return bodies

    def _inquiry_notice(self, letter: str, rec: Record, msg: Message) -> None:
        """Tell the owner of a record that another agency's inquiry hit it (``$.H.`` for a
        protective interest record: the protectee's agency learns where the subject was)."""
        words = by_name(rec.file).words
        self.emit(
            rec.ori,
            responses.notification(
                letter,
                rec.ori,
                [
                    f"INQUIRY ON YOUR {words} RECORD BY ORI/{msg.ori} AT "
                    f"{self.local_now().strftime('%H%M %Z')} "
                    f"ON {self.local_now().strftime('%Y%m%d')}",
                    *responses.layout(
                        [
                            *responses.display_pairs(self.identifiers(rec.fields), self.codes),
                            ("NIC", rec.nic),
                        ]
                    ),
                    f"INQUIRY: {msg.raw[:150]}",
                ],
            ),
            "",
            "",
        )

    def local_now(self) -> datetime:
        """The lab time in the zone NCIC prints times in."""
        now = self.now()
        return now.astimezone(self.tz) if self.tz is not None else now

    def dte(self, rec: Record) -> str:
        """The entry date and time as a hit prints it: ``20261123 1430 PST`` in the lab clock's
        time zone (records stored without a zone are UTC)."""
        entered: str = rec.entered
        try:
            when = datetime.fromisoformat(entered)
        except ValueError:  # a bulk-loaded row with a bare date: print what it has
            return entered[:10].replace("-", "")
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        local = when.astimezone(self.tz or self.now().tzinfo)
        return f"{local.strftime('%Y%m%d %H%M')} {local.strftime('%Z') or 'UTC'}"

    def record_lines(self, rec: Record) -> list[str]:
        """``MKE/…`` in words and the record as NCIC prints it: coded fields with their meaning,
        ``NIC/`` and ``DTE/`` last."""
        f = by_name(rec.file)
        caution = " - CAUTION" if rec.get("CMC") else ""
        suffix = dict(f.suffixes).get(rec.mke.partition("-")[2])
        if suffix:
            caution += f" - {suffix}"
        pairs = [("ORI", rec.ori), *rec.fields]
        out: list[tuple[str, str]] = []
        for code, value in responses.display_pairs(pairs, self.codes):
            if code in TRANSLATED and code != "OFF":
                table = self.dictionary.fields[code].table if code in self.dictionary.fields else ""
                meaning = self.codes.describe(table, value) if table else None
                value = f"{value} - {meaning.upper()}" if meaning else value
            out.append((code, value))
        return [
            f"MKE/{f.words}{caution}",
            *responses.layout(out),
            f"NIC/{rec.nic} DTE/{self.dte(rec)}",
        ]

    def hit_body(self, rec: Record, ori: str) -> str:
        f = by_name(rec.file)
        trailer: tuple[str, ...] = f.trailer
        if rec.status == "located":
            trailer = (f"LOCATED BY ORI/{rec.located_by} - RECORD NOT YET CLEARED", *trailer)
        return "\n".join(
            [
                responses.head("HIT", ori),
                *_paged(f.caveat),
                *self.record_lines(rec),
                *_paged(trailer),
            ]
        )

    def search(self, msg: Message, file: str) -> list[Record]:
        """The records an inquiry finds, by NCIC's rules."""
        s = self.store
        nic = msg.get("NIC")
        if nic:
            rec = s.by_nic(nic)
            return [rec] if rec is not None and rec.status in LIVE else []
        this = by_name(file)
        if this.person and file != "unidentified":
            files = QW_FILES if msg.key in ("QW", "QWI") else (file,)
            found = self._person(msg, files)
            if msg.key == "QW" and (msg.get("LIC") or msg.get("VIN")):
                found += self._vehicle(msg)
            return found
        if file == "unidentified":
            return self._unidentified(msg)
        if file == "vehicle":
            vehicles = self._vehicle(msg)
            persons = [p for v in vehicles for p in s.linked(v, ("wanted", "missing"))]
            return _unique(vehicles + persons)
        if file == "gun":
            recs = self._numbers(msg, ("gun",), (("SER", "ser"), ("OAN", "oan")))
            mak = msg.get("MAK")
            return [r for r in recs if not mak or r.get("MAK") == mak]
        if file == "article":
            return self._numbers(msg, ("article",), (("SER", "ser"), ("OAN", "oan")))
        if file == "security":
            return self._numbers(msg, ("security",), (("SER", "ser"), ("SOC", "soc")))
        if file == "boat":
            recs = self._numbers(msg, ("boat",), (("REG", "reg"), ("BHN", "bhn")))
            res = msg.get("RES")
            return [r for r in recs if not res or not msg.get("REG") or r.get("RES") == res]
        return []

    def _numbers(
        self, msg: Message, files: Sequence[str], pairs: Sequence[tuple[str, str]]
    ) -> list[Record]:
        for code, column in pairs:
            value = msg.get(code)
            if value:
                return self.store.where(
                    files, column, [serial_key(value) if column == "ser" else value]
                )
        return []

    def _person(self, msg: Message, files: Sequence[str]) -> list[Record]:
        s = self.store
        # Name plus a number searches the number only (MESSAGES.md §3).
        for code, column in (
            ("SOC", "soc"),
            ("FBI", "fbi"),
            ("MNU", "mnu"),
            ("OLN", "oln"),
            ("PNO", "pno"),
            ("NTN", "ntn"),
        ):
            value = msg.get(code)
            if value:
                return s.where(files, column, [value])
        name, dob = msg.get("NAM"), msg.get("DOB")
        if not (name and dob):
            return []
        recs = s.by_name(files, name, dob_values(dob, msg.get("EXD") == "Y"))
        return self._filter(msg, recs)

    @staticmethod
    def _filter(msg: Message, recs: list[Record]) -> list[Record]:
        race, sex = msg.get("RAC"), msg.get("SEX")
        return [
            r
            for r in recs
            if race_matches(race, r.get("RAC") or "")
            and (not sex or (r.get("SEX") or "U") in (sex, "U"))
        ]

    def _vehicle(self, msg: Message) -> list[Record]:
        """A vehicle inquiry searches the vehicle and license plate files by plate, the vehicle
        file by VIN (last 8) and the part file by the same number as a serial."""
        s = self.store
        lic, vin, oan = msg.get("LIC"), msg.get("VIN"), msg.get("OAN")
        found: list[Record] = []
        if vin:
            found += s.where(("vehicle",), "vin8", [vin8(vin)])
            found += s.where(("part",), "ser", [serial_key(vin)])
        if lic:
            lis = msg.get("LIS")
            found += [
                r
                for r in s.where(("vehicle", "plate"), "lic", [lic])
                if not lis or r.get("LIS") in (lis, None)
            ]
        if oan:
            found += s.where(("vehicle",), "oan", [oan])
        return _unique(found)

    def _unidentified(self, msg: Message) -> list[Record]:
        sex, race = msg.get("SEX"), msg.get("RAC")
        recs = self.store.unidentified(sex)
        recs = [r for r in recs if race_matches(race, r.get("RAC") or "")]
        hgt = msg.get("HGT")
        if hgt and hgt.isdigit():
            inches = int(hgt[0]) * 12 + int(hgt[1:])
            recs = [
                r
                for r in recs
                if _inches(r.get("HGT")) is None or abs((_inches(r.get("HGT")) or 0) - inches) <= 4
            ]
        return recs


@lru_cache(maxsize=256)
def _paged(lines: tuple[str, ...]) -> tuple[str, ...]:
    """A file's caveat or trailer wrapped to the line width: the same few texts for every hit,
    wrapped once (``textwrap`` was a fifth of a QW's CPU time)."""
    return tuple(responses.page(lines))


def _inches(hgt: str | None) -> int | None:
    return int(hgt[0]) * 12 + int(hgt[1:]) if hgt and hgt.isdigit() and len(hgt) == 3 else None


def _unique(recs: list[Record]) -> list[Record]:
    seen: set[int] = set()
    out = []
    for r in recs:
        if r.id not in seen:
            seen.add(r.id)
            out.append(r)
    return out
