"""Mock Nlets: simulated member states (WA, ID, CA, NV) with DMV, criminal history and ORION.

Each state answers DQ/KQ (driver licence, history), RQ (registration by plate or VIN), IQ/FQ/AQ
(criminal history) with the Nlets output header (time, date and Nlets' own clocked input and
output sequence numbers) from the state's generic ORI (``xxOLN0000``, ``xxLIC0000``/``xxVIN0000``,
``xxSIR0000``); ``NOT ON FILE`` when nothing matches. A destination that is not a simulated state
gets ``SM .01.``; a simulated state taken out of service (``set_state``) ``SM .04.``.

Every ORI sent or received is checked against the ORION directory, as Nlets does: an unknown
sender is refused with ``ER .01.``, an unknown destination ORI with ``ER .19.``. ORION holds the
simulated out-of-state agencies and the lab's own agencies (registered at start). AM/AML/YQ/YR
are delivered to out-of-state agencies; those with a ``yr_delay`` (lab seconds) answer a YQ with
a confirming YR after that delay, those with none never answer (for the second-request drill).
TQ asks ORION by ORI or location and gets TR.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from formats import responses
from formats.errors import Reject
from formats.message import Message
from formats.ori import NLETS_ORI
from formats.responses import NletsClock
from lems.endpoints.search import dob_values, soundex, vin8
from lems.endpoints.system import Answer, System, open_db

STATES = {"WA": "WASHINGTON", "ID": "IDAHO", "CA": "CALIFORNIA", "NV": "NEVADA"}
"""Simulated Nlets member states."""

_PLACES = {"WA": ("TAMARACK", "BLUE HERON"), "ID": ("SAWTOOTH RIDGE", "CAMAS VALLEY"),
           "CA": ("MANZANITA", "CONDOR PEAK"), "NV": ("SILVER SAGE", "PINYON FLATS")}
"""Invented county and city names for the simulated agencies."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS driver (state TEXT, oln TEXT, nam TEXT, sdx TEXT, dob TEXT,
    sex TEXT, rac TEXT, hgt TEXT, wgt TEXT, eye TEXT, status TEXT);
CREATE INDEX IF NOT EXISTS driver_oln ON driver (state, oln);
CREATE INDEX IF NOT EXISTS driver_name ON driver (state, sdx, dob);
CREATE TABLE IF NOT EXISTS vehicle (state TEXT, lic TEXT, liy TEXT, lit TEXT, vin TEXT,
    vin8 TEXT, owner TEXT, vma TEXT);
CREATE INDEX IF NOT EXISTS vehicle_lic ON vehicle (state, lic);
CREATE INDEX IF NOT EXISTS vehicle_vin ON vehicle (state, vin8);
CREATE TABLE IF NOT EXISTS chri (state TEXT, sid TEXT, fbi TEXT, nam TEXT, sdx TEXT, dob TEXT,
    sex TEXT, rac TEXT, arrests TEXT);
CREATE INDEX IF NOT EXISTS chri_sid ON chri (state, sid);
CREATE INDEX IF NOT EXISTS chri_fbi ON chri (state, fbi);
CREATE INDEX IF NOT EXISTS chri_name ON chri (state, sdx, dob);
CREATE TABLE IF NOT EXISTS orion (ori TEXT PRIMARY KEY, state TEXT, loc TEXT, type TEXT,
    name TEXT, auth TEXT, yr_delay REAL);
CREATE TABLE IF NOT EXISTS state_status (state TEXT PRIMARY KEY, in_service INTEGER);
"""


@dataclass(frozen=True, slots=True)
class OrionAgency:
    ori: str
    state: str
    loc: str
    type: str
    name: str
    auth: str = "ACDZ"
    yr_delay: float | None = None


def orion_agencies() -> list[OrionAgency]:
    """The simulated out-of-state agencies (fictitious), per state."""
    out = [OrionAgency(NLETS_ORI, "NL", "PHOENIX", "SA", "NLETS")]
    for st, words in STATES.items():
        county, city = _PLACES[st]
        out += [
            OrionAgency(f"{st}0010000", st, county, "SO", f"{county} COUNTY SHERIFF'S OFFICE",
                        yr_delay=5.0),
            OrionAgency(f"{st}0010100", st, city, "PD", f"{city} POLICE DEPARTMENT",
                        yr_delay=60.0),
            OrionAgency(f"{st}0020000", st, city, "SO", f"{city} COUNTY SHERIFF'S OFFICE"),
            OrionAgency(f"{st}SIR0000", st, "CAPITAL", "SA", f"{words} STATE IDENTIFICATION "
                        "BUREAU", "AC"),
            OrionAgency(f"{st}OLN0000", st, "CAPITAL", "SA", f"{words} DRIVER LICENSES", "AD"),
            OrionAgency(f"{st}LIC0000", st, "CAPITAL", "SA", f"{words} REGISTRATIONS", "AD"),
            OrionAgency(f"{st}VIN0000", st, "CAPITAL", "SA", f"{words} VIN REGISTRATIONS", "AD"),
        ]
    return out


def load_orion(conn: sqlite3.Connection,
               agencies: Iterable[tuple[str, str, str]] = ()) -> None:
    """Put the simulated agencies, and ``agencies`` (ori, name, ORION type), in ORION."""
    rows = [(a.ori, a.state, a.loc, a.type, a.name, a.auth, a.yr_delay)
            for a in orion_agencies()]
    rows += [(ori, ori[:2], name[:20], otype, name, "ACDZ", None) for ori, name, otype in agencies]
    conn.executemany("INSERT OR REPLACE INTO orion VALUES (?,?,?,?,?,?,?)", rows)
    conn.commit()


QUERY_REPLY = {"DQ": ("DR", "OLN"), "KQ": ("KR", "OLN"), "RQ": ("RR", "LIC"),
               "IQ": ("IR", "SIR"), "FQ": ("FR", "SIR"), "AQ": ("AR", "SIR")}
"""Query key -> (response key, generic ORI suffix of the answering state office)."""


class Nlets(System):
    """The Nlets endpoint."""

    name = "nlets"
    words = "NLETS"

    def __init__(self, conn: sqlite3.Connection, clock: Any, home_state: str = "OR",
                 **kw: Any) -> None:
        super().__init__(clock, **kw)
        self.conn = conn
        self.home = home_state
        self.in_seq = 0
        self.out_seq = 0

    @classmethod
    def open(cls, path: Any, clock: Any, agencies: Iterable[tuple[str, str, str]] = (),
             **kw: Any) -> Nlets:
        conn = open_db(path, SCHEMA)
        load_orion(conn, agencies)
        return cls(conn, clock, **kw)

    def close(self) -> None:
        self.conn.close()

    def set_state(self, state: str, in_service: bool) -> None:
        self.conn.execute("INSERT OR REPLACE INTO state_status VALUES (?, ?)",
                          (state, int(in_service)))
        self.conn.commit()

    def in_service(self, state: str) -> bool:
        row = self.conn.execute("SELECT in_service FROM state_status WHERE state = ?",
                                (state,)).fetchone()
        return row is None or bool(row[0])

    def orion(self, ori: str) -> tuple[Any, ...] | None:
        return self.conn.execute("SELECT ori, state, loc, type, name, auth, yr_delay FROM orion "
                                 "WHERE ori = ?", (ori,)).fetchone()

    def clock_for(self) -> NletsClock:
        self.out_seq = self.out_seq % 99999 + 1
        now = self.now()
        return NletsClock(now, self.in_seq, now, self.out_seq)

    def out(self, key: str, originator: str, receiver: str, body: list[str]) -> str:
        return responses.nlets_message(key, originator, self.clock_for(), receiver, body)

    def er(self, code: str, reason: str, field: str | None, text: str, receiver: str) -> str:
        return responses.er(Reject(code, reason, field, text[:100]), self.clock_for(), receiver)

    # ---------------------------------------------------------------- dispatch

    def handle(self, text: str, ori: str, terminal: str) -> Answer:
        self.in_seq = self.in_seq % 99999 + 1
        msg = self.parser.check(text)
        if isinstance(msg, Reject):
            code = msg.code if msg.code.startswith(".") else ".00."
            return Answer([self.er(code, msg.reason, msg.field, text, ori)])
        if self.orion(msg.ori) is None:
            return Answer([self.er(".01.", f"SENDING ORI/{msg.ori} IS NOT IN ORION", "ORI",
                                   text, msg.ori)])
        key = msg.key
        if key in QUERY_REPLY:
            return self.query(msg)
        if key == "TQ":
            return Answer(self.tq(msg))
        if key in ("AM", "AML", "YQ", "YR"):
            return Answer(self.relay(msg, terminal))
        return Answer([self.er(".02.", f"MESSAGE TYPE {key} NOT HANDLED BY THIS SIMULATOR",
                               "MKE", text, msg.ori)])

    def _status(self, dest: str, msg: Message) -> str | None:
        """An SM for a destination state that cannot answer, or None."""
        if dest not in STATES:
            return responses.sm(".01.", dest, self.clock_for(), msg.ori)
        if not self.in_service(dest):
            return responses.sm(".04.", dest, self.clock_for(), msg.ori)
        return None

    # ---------------------------------------------------------------- state files

    def query(self, msg: Message) -> Answer:
        rkey, office = QUERY_REPLY[msg.key]
        bodies: list[str] = []
        sensitive = "iii" if office == "SIR" else ""
        for dest in msg.destinations:
            status = self._status(dest, msg)
            if status is not None:
                bodies.append(status)
                continue
            if msg.key in ("DQ", "KQ"):
                lines = self._drivers(dest, msg)
            elif msg.key == "RQ":
                lines = self._vehicles(dest, msg)
                if msg.get("VIN") and not msg.get("LIC"):
                    office = "VIN"
            else:
                lines = self._chri(dest, msg)
            originator = f"{dest}{office}0000"
            if not lines:
                ident = " ".join(f"{c}/{v}" for c, v in msg.fields
                                 if c not in ("PUR", "ATN", "RSN", "IMQ"))
                lines = ["NOT ON FILE", *responses.wrap(ident)]
            if msg.get("ATN"):
                lines = [f"ATN/{msg.get('ATN')}", *lines]
            bodies.append(self.out(rkey, originator, msg.ori, lines))
        return Answer(bodies, sensitive)

    def _drivers(self, state: str, msg: Message) -> list[str]:
        cols = "oln, nam, dob, sex, rac, hgt, wgt, eye, status"
        if msg.get("OLN"):
            rows = self.conn.execute(f"SELECT {cols} FROM driver WHERE state = ? AND oln = ?",
                                     (state, msg.get("OLN"))).fetchall()
        else:
            dobs = dob_values(msg.get("DOB") or "", False)
            rows = [r for r in self.conn.execute(
                f"SELECT {cols} FROM driver WHERE state = ? AND sdx = ? AND dob = ?",
                (state, soundex(msg.get("NAM") or ""), dobs[0])).fetchall()
                if r[3] == msg.get("SEX")]
        out: list[str] = []
        for oln, nam, dob, sex, rac, hgt, wgt, eye, status in rows[:10]:
            out += responses.layout([("NAM", responses.print_name(nam)), ("SEX", sex),
                                     ("RAC", rac), ("DOB", dob), ("HGT", hgt), ("WGT", wgt),
                                     ("EYE", eye), ("OLN", oln), ("OLS", state)])
            out.append(f"LICENSE STATUS/{status}")
            if msg.key == "KQ":
                out.append("DRIVER HISTORY/NO CONVICTIONS ON FILE IN THE LAST 3 YEARS")
        return out

    def _vehicles(self, state: str, msg: Message) -> list[str]:
        cols = "lic, liy, lit, vin, owner, vma"
        if msg.get("LIC"):
            rows = self.conn.execute(f"SELECT {cols} FROM vehicle WHERE state = ? AND lic = ?",
                                     (state, msg.get("LIC"))).fetchall()
        else:
            rows = self.conn.execute(f"SELECT {cols} FROM vehicle WHERE state = ? AND vin8 = ?",
                                     (state, vin8(msg.get("VIN") or ""))).fetchall()
        out: list[str] = []
        for lic, liy, lit, vin, owner, vma in rows[:10]:
            out += responses.layout([("LIC", lic), ("LIS", state), ("LIY", liy), ("LIT", lit),
                                     ("VIN", vin), ("VMA", vma)])
            out.append(f"REGISTERED OWNER/{responses.print_name(owner)}")
        return out

    def _chri(self, state: str, msg: Message) -> list[str]:
        cols = "sid, fbi, nam, dob, sex, rac, arrests"
        if msg.get("SID"):
            rows = self.conn.execute(f"SELECT {cols} FROM chri WHERE state = ? AND sid = ?",
                                     (state, msg.get("SID"))).fetchall()
        elif msg.get("FBI"):
            rows = self.conn.execute(f"SELECT {cols} FROM chri WHERE state = ? AND fbi = ?",
                                     (state, msg.get("FBI"))).fetchall()
        else:
            rows = [r for r in self.conn.execute(
                f"SELECT {cols} FROM chri WHERE state = ? AND sdx = ? AND dob = ?",
                (state, soundex(msg.get("NAM") or ""), msg.get("DOB"))).fetchall()
                if r[4] == msg.get("SEX")]
        out: list[str] = []
        for sid, fbi, nam, dob, sex, rac, arrests in rows[:10]:
            out += responses.layout([("NAM", responses.print_name(nam)), ("SEX", sex),
                                     ("RAC", rac), ("DOB", dob), ("SID", sid), ("FBI", fbi)])
            if msg.key == "FQ":
                for n, (_h, doa, ori, off, dsp) in enumerate(json.loads(arrests), 1):
                    out.append(f"CYCLE {n:03d}")
                    out += responses.layout(responses.display_pairs(
                        [("DOA", doa), ("ORI", ori), ("CHG", off), ("DSP", dsp)], self.codes))
            else:
                out.append("RECORD ON FILE - USE FQ WITH SID/ FOR THE FULL RECORD")
        return out

    # ---------------------------------------------------------------- ORION

    def tq(self, msg: Message) -> list[str]:
        if msg.get("ORI"):
            rows = self.conn.execute("SELECT ori, state, loc, type, name, auth FROM orion WHERE "
                                     "ori = ?", (msg.get("ORI"),)).fetchall()
        else:
            rows = self.conn.execute("SELECT ori, state, loc, type, name, auth FROM orion WHERE "
                                     "loc LIKE ? ORDER BY ori LIMIT 20",
                                     ((msg.get("LOC") or "") + "%",)).fetchall()
        lines: list[str] = []
        for ori, state, loc, otype, name, auth in rows:
            lines += responses.layout([("ORI", ori), ("STA", state), ("LOC", loc),
                                       ("TYP", otype), ("ATH", auth)])
            lines.append(f"NAME/{name}")
        return [self.out("TR", NLETS_ORI, msg.ori, lines or ["NOT ON FILE"])]

    # ---------------------------------------------------------------- relay

    def relay(self, msg: Message, terminal: str) -> list[str]:
        out: list[str] = []
        for dest in msg.destinations:
            if dest == self.home or dest[:2] == self.home:
                continue  # delivered in state by the switch itself
            if len(dest) == 2:
                status = self._status(dest, msg)
                if status is not None:
                    out.append(status)
                continue
            agency = self.orion(dest)
            if agency is None:
                out.append(self.er(".19.", f"DESTINATION ORI/{dest} IS NOT IN ORION", "DEST",
                                   msg.raw, msg.ori))
                continue
            if not self.in_service(agency[1]) and agency[1] in STATES:
                out.append(responses.sm(".02.", dest, self.clock_for(), msg.ori))
            if msg.key == "YQ" and agency[6] is not None:
                self.call_later(float(agency[6]), self._answer_yq, agency, msg, terminal)
        return out

    def _answer_yq(self, agency: tuple[Any, ...], msg: Message, terminal: str) -> None:
        """A simulated out-of-state agency confirms a hit (YR) to the requester."""
        pairs = [("RTY", msg.get("RTY") or ""), ("RNO", msg.get("RNO") or "1")]
        for code in ("NIC", "OCA", "NAM", "LIC", "VIN", "SER"):
            if msg.get(code):
                pairs.append((code, msg.get(code) or ""))
        pairs += [("CON", "Y"), ("RNA", "RECORDS UNIT"), ("RAG", agency[4][:30])]
        body = [*responses.layout(responses.display_pairs(pairs, self.codes)),
                "REM/RECORD CONFIRMED - WARRANT/RECORD IS ACTIVE. ADVISE WHEN SUBJECT OR "
                "PROPERTY IS IN CUSTODY"]
        self.emit(msg.ori, self.out("YR", agency[0], msg.ori, responses.page(body)), terminal,
                  "")
