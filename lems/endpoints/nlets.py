"""Mock Nlets: every member (formats/nlets_members.py) with DMV, criminal history and ORION.

Each domestic member (50 states, DC, territories) answers DQ/KQ (driver licence, history), RQ
(registration by plate or VIN), IQ/FQ/AQ (criminal history) with the Nlets output header (time,
date, Nlets' own clocked input and output sequence numbers, and the request's control field) from
its generic ORI (``xxOLN0000``, ``xxLIC0000``/``xxVIN0000``, ``xxSIR0000``); ``NOT ON FILE`` when
nothing matches. Canada (CN) answers DQ/RQ/IQ/FQ/AQ (an IQ by name, DOB and sex only), Mexico (MX)
DQ/KQ by OLN; a member that does not take a key gets ``SM .01.``; one the lab marks out of service
``SM .04.``; a slow one answers after its delay (unsolicited, as a late state answer arrives).

A member's files are seeded the first time it is asked (deterministically from the lab seed and
its code), so a new lab stays small. WA, ID, CA and NV (``STATES``) are seeded with the lab's own
subjects by ``seed.py``, so their criminal histories share SIDs with NCIC's III.

A region code (``A1``..``H1``) or a DQG/RQG fans out to its members, each answering on its own; a
DQ/RQ/IQ to ``NL`` is Nlets' multi-state query: every domestic member is asked and one merged
answer comes back from Nlets.

Every ORI sent or received is checked against the ORION directory, as Nlets does: an unknown
sender is refused with ``ER .01.``, an unknown destination ORI with ``ER .19.``. ORION holds the
simulated out-of-state agencies and the lab's own agencies (registered at start); TQ reads it by
ORI or location (and type), TA/TU/TD change it for agencies of the sender's own state.
AM/AML/YQ/YR are delivered to out-of-state agencies; those with a ``yr_delay`` (lab seconds)
answer a YQ with a confirming YR after that delay, those with none never answer (for the
second-request drill). A YQ carrying data elements of another request type is refused, as the
guide says Nlets does.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from formats import nlets_xml, responses
from formats.errors import NletsError, Reject, RejectError
from formats.grammar import control_of
from formats.message import Message
from formats.nlets_members import (
    DOMESTIC,
    MEMBERS,
    MULTI_STATE,
    REGION_KEYS,
    REGIONS,
    expand,
    local_agencies,
)
from formats.ori import NLETS_ORI
from formats.responses import NletsClock, NletsStatus
from lems.clock import LabClock
from lems.endpoints.search import dob_values, soundex, vin8
from lems.endpoints.system import Answer, System, open_db
from lems.repositories import nlets as store

STATES = {"WA": "WASHINGTON", "ID": "IDAHO", "CA": "CALIFORNIA", "NV": "NEVADA"}
"""Members seeded with the lab's own subjects (seed.py), sharing SIDs with NCIC's III."""

KEYS_BY_KIND: Mapping[str, frozenset[str]] = {
    "state": frozenset({"DQ", "DQG", "KQ", "RQ", "RQG", "IQ", "FQ", "AQ"}),
    "territory": frozenset({"DQ", "DQG", "KQ", "RQ", "RQG", "IQ", "FQ", "AQ"}),
    "canada": frozenset({"DQ", "RQ", "IQ", "FQ", "AQ"}),
    "mexico": frozenset({"DQ", "KQ"}),
    "federal": frozenset(),
}
"""Which query keys each kind of member answers (the guide: Canada takes IQ/FQ/AQ and DQ/RQ,
Mexico's eLicencia DQ/KQ by OLN; a federal member's own keys are not simulated)."""

SEED_PEOPLE = 120
"""Drivers (and about as many vehicles) seeded for a member the first time it is asked."""

MSQ_WAIT_S = 60.0
"""How long Nlets' multi-state query waits for states before merging (Nlets blog, "Stop
wasting time: ... Multi-State Query", 2021: "waits for up to 60 seconds")."""


@dataclass(frozen=True, slots=True)
class OrionAgency:
    ori: str
    state: str
    loc: str
    type: str
    name: str
    auth: str = "ACDZ"
    yr_delay: float | None = None


YR_DELAYS = {"0010000": 5.0, "0010100": 60.0}
"""Lab seconds a simulated agency takes to answer a hit confirmation (YQ), by ORI suffix;
the others never answer (the requester's deadlines then run out)."""


def orion_agencies() -> list[OrionAgency]:
    """The simulated out-of-state agencies (fictitious), per domestic member: its local
    agencies (formats/nlets_members.py, the same a lab made for that state holds) and the
    offices behind its generic ORIs."""
    out = [OrionAgency(NLETS_ORI, "NL", "PHOENIX", "SA", "NLETS")]
    for st in DOMESTIC:
        words = MEMBERS[st].name
        out += [
            OrionAgency(a.ori, st, a.loc, a.type, a.name, yr_delay=YR_DELAYS.get(a.ori[2:]))
            for a in local_agencies(st)
        ]
        out += [
            OrionAgency(
                f"{st}SIR0000", st, "CAPITAL", "SA", f"{words} STATE IDENTIFICATION BUREAU", "AC"
            ),
            OrionAgency(f"{st}OLN0000", st, "CAPITAL", "NJ", f"{words} DRIVER LICENSES", "AD"),
            OrionAgency(f"{st}LIC0000", st, "CAPITAL", "NJ", f"{words} REGISTRATIONS", "AD"),
            OrionAgency(f"{st}VIN0000", st, "CAPITAL", "NJ", f"{words} VIN REGISTRATIONS", "AD"),
        ]
    return out


def load_orion(conn: sqlite3.Connection, agencies: Iterable[tuple[str, str, str]] = ()) -> None:
    """Put the simulated agencies, and ``agencies`` (ori, name, ORION type), in ORION."""
    rows = [(a.ori, a.state, a.loc, a.type, a.name, a.auth, a.yr_delay) for a in orion_agencies()]
    rows += [(ori, ori[:2], name[:20], otype, name, "ACDZ", None) for ori, name, otype in agencies]
    store.put_agencies(conn, rows)
    conn.commit()


QUERY_REPLY = {
    "DQ": ("DR", "OLN"),
    "DQG": ("DR", "OLN"),
    "KQ": ("KR", "OLN"),
    "RQ": ("RR", "LIC"),
    "RQG": ("RR", "LIC"),
    "IQ": ("IR", "SIR"),
    "FQ": ("FR", "SIR"),
    "AQ": ("AR", "SIR"),
}
"""Query key -> (response key, generic ORI suffix of the answering office). The guide: a DQG
"Nlets will ... change the message type to DQ ... the requesting state will receive a DR"."""

YQ_SETS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "WP": (("NAM",), ("NAM", "DOB", "SEX")),
    "MP": (("NAM",), ("NAM", "DOB", "SEX")),
    "PO": (("NAM",), ("NAM", "DOB", "SEX")),
    "SV": ((), ("LIC", "VIN", "VYR", "VMA")),
    "SL": (("LIC", "LIS"), ("LIC", "LIS", "LIY", "LIT")),
    "SG": (("SER",), ("SER", "MAK", "CAL")),
    "SA": (("TYP",), ("SER", "OAN", "TYP")),
    "SS": (("SER", "TYP"), ("SER", "TYP", "DEN")),
    "SB": ((), ("REG", "BHN")),
    "SP": (("SER",), ("SER", "TYP", "VMA")),
}
"""YQ request type -> (data elements required, data elements allowed) beyond the common ones
(Nlets User Guide, Legacy Text Examples - Hit Confirmation: "AND ONE OF THE SETS OF DATA ELEMENTS
BELOW"; a set that does not pertain to the request type "will be rejected by Nlets")."""
YQ_ANY_OF = {"SV": ("LIC", "VIN"), "SB": ("REG", "BHN"), "SA": ("SER", "OAN")}
YQ_TYP_TABLE = {"SA": "TYPA", "SS": "TYPS", "SG": "TYP", "SP": "TYPA"}
"""The NCIC code table a YQ's TYP is read in, by request type (article, security, gun types)."""
YQ_COMMON = ("RTY", "RNO", "PRI", "OCA", "NIC", "RNA", "RAG", "PHO", "REM")

ORION_TYPES = frozenset({"PD", "SO", "SA", "LE", "FE", "JA", "JC", "JG", "JJ", "JF", "CJ", "NJ"})
"""ORION agency types (Nlets ORION article; NIEM nlets.xsd OrganizationCategory)."""


class Nlets(System):
    """The Nlets endpoint."""

    name = "nlets"
    words = "NLETS"

    def __init__(
        self,
        conn: sqlite3.Connection,
        clock: LabClock,
        home_state: str = "OR",
        seed: int = 1,
        out_of_service: Iterable[str] = (),
        slow: Mapping[str, float] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(clock, **kw)
        self.conn = conn
        self.home = home_state
        self.seed = seed
        self.in_seq = 0
        self.out_seq = 0
        self.slow: dict[str, float] = dict(slow or {})
        """Member code -> lab seconds it takes to answer (a lab setting)."""
        self._world: Any = None
        self._xml = False
        """True while an XML request is answered (late answers to it go out in XML too)."""
        # the lab's setting decides, at every start, which members are out of service
        store.clear_status(self.conn)
        for code in out_of_service:
            self.set_state(code, False)
        self.conn.commit()

    @classmethod
    def open(
        cls, path: Any, clock: LabClock, agencies: Iterable[tuple[str, str, str]] = (), **kw: Any
    ) -> Nlets:
        conn = open_db(path, store.SCHEMA)
        load_orion(conn, agencies)
        return cls(conn, clock, **kw)

    def close(self) -> None:
        self.conn.close()

    def set_state(self, state: str, in_service: bool) -> None:
        store.set_in_service(self.conn, state, in_service)
        self.conn.commit()

    def in_service(self, state: str) -> bool:
        return store.in_service(self.conn, state)

    def orion(self, ori: str) -> tuple[Any, ...] | None:
        return store.agency(self.conn, ori)

    def clock_for(self) -> NletsClock:
        self.out_seq = self.out_seq % 99999 + 1
        now = self.now()
        return NletsClock(now, self.in_seq, now, self.out_seq)

    def out(
        self, key: str, originator: str, receiver: str, body: list[str], control: str = ""
    ) -> str:
        return responses.nlets_message(key, originator, self.clock_for(), receiver, body, control)

    def er(self, code: str, reason: str, field: str | None, text: str, receiver: str) -> str:
        return responses.er(
            Reject(code, reason, field, text[:100]), self.clock_for(), receiver, control_of(text)
        )

    def sm(self, code: NletsStatus, subject: str, msg: Message) -> str:
        return responses.sm(code, subject, self.clock_for(), msg.ori, control=msg.control)

    # ---------------------------------------------------------------- dispatch

    def handle(self, text: str, ori: str, terminal: str) -> Answer:
        self.in_seq = self.in_seq % 99999 + 1
        msg = self.parser.check(text)
        if isinstance(msg, Reject):
            code = msg.code if msg.code.startswith(".") else NletsError.FORMAT_STRUCTURE
            return Answer([self.er(code, msg.reason, msg.field, text, ori)])
        return self.handle_message(msg, terminal)

    def handle_xml(self, xml: str, terminal: str = "") -> Answer:
        """Answer an Nlets XML request in Nlets XML: read by the XML codec into the one message
        model, checked by the same parser and rules as legacy text, answered the same way; an
        XML that cannot be read (malformed, a DTD or entity) is ``ER .03.``."""
        try:
            msg = nlets_xml.decode(xml)
        except RejectError as e:
            self.in_seq = self.in_seq % 99999 + 1
            rej = e.reject
            sender = nlets_xml.sender_of(xml)
            return Answer(
                [nlets_xml.encode_answer(self.er(rej.code, rej.reason, rej.field, xml, sender))]
            )
        self._xml = True
        try:
            answer = self.handle(nlets_xml.to_legacy(msg), msg.ori, terminal)
        finally:
            self._xml = False
        return Answer([nlets_xml.encode_answer(b) for b in answer.bodies], answer.sensitive)

    def _later(self, ori: str, body: str, terminal: str, sensitive: str, xml: bool) -> None:
        """Send an answer that comes late (a slow member, a YR), in the requester's form."""
        self.emit(ori, nlets_xml.encode_answer(body) if xml else body, terminal, sensitive)

    def handle_message(self, msg: Message, terminal: str) -> Answer:
        """Answer a parsed message (read from legacy text or from Nlets XML)."""
        text = msg.raw
        if self.orion(msg.ori) is None:
            return Answer(
                [
                    self.er(
                        NletsError.INVALID_HEADER,
                        f"SENDING ORI/{msg.ori} IS NOT IN ORION",
                        "ORI",
                        text,
                        msg.ori,
                    )
                ]
            )
        key = msg.key
        region = next((d for d in msg.destinations if d in REGIONS), "")
        if region and key not in REGION_KEYS:
            return Answer(
                [
                    self.er(
                        NletsError.TYPE_NOT_ALLOWED,
                        f"REGION CODE {region} NOT ALLOWED FOR {key}",
                        "DEST",
                        text,
                        msg.ori,
                    )
                ]
            )
        if region and key in ("DQ", "DQG") and msg.has("OLN"):
            # the guide: a DQ to a region is handled as a DQG, and OLN is "not valid for DQG"
            return Answer(
                [
                    self.er(
                        NletsError.INVALID_FORMAT,
                        f"OLN NOT VALID TO A REGION ({region}) - USE NAM, DOB AND SEX",
                        "OLN",
                        text,
                        msg.ori,
                    )
                ]
            )
        if key in QUERY_REPLY:
            return self.query(msg, terminal)
        if key == "TQ":
            return Answer(self.tq(msg))
        if key in ("TA", "TU", "TD"):
            return Answer(self.orion_update(msg))
        if key == "YQ":
            why = yq_problem(msg, self.codes)
            if why:
                return Answer([self.er(NletsError.INVALID_FORMAT, why, "RTY", text, msg.ori)])
        if key in ("AM", "AML", "SM", "YQ", "YR"):
            return Answer(self.relay(msg, terminal))
        return Answer(
            [
                self.er(
                    NletsError.TYPE_NOT_ALLOWED,
                    f"MESSAGE TYPE {key} NOT HANDLED BY THIS SIMULATOR",
                    "MKE",
                    text,
                    msg.ori,
                )
            ]
        )

    def _status(self, dest: str, msg: Message) -> str | None:
        """An SM for a destination member that cannot answer ``msg``, or None."""
        member = MEMBERS.get(dest)
        if member is None or msg.key not in KEYS_BY_KIND[member.kind]:
            return self.sm(NletsStatus.NO_RESPONSE, dest, msg)
        if not self.in_service(dest):
            return self.sm(NletsStatus.OUT_NOT_FORWARDED, dest, msg)
        return None

    # ---------------------------------------------------------------- state files

    def query(self, msg: Message, terminal: str) -> Answer:
        rkey, _office = QUERY_REPLY[msg.key]
        sensitive = "iii" if rkey in ("IR", "FR", "AR") else ""
        bodies: list[str] = []
        for dest in msg.destinations:
            if dest == MULTI_STATE and msg.key in ("DQ", "DQG", "RQ", "RQG", "IQ"):
                bodies += self._multi_state(msg, rkey, terminal, sensitive)
                continue
            for member in expand(dest, msg.key):
                status = self._status(member, msg)
                if status is not None:
                    bodies.append(status)
                    continue
                problem = self._member_edit(member, msg)
                if problem:
                    bodies.append(problem)
                    continue
                originator, lines = self._answer(member, msg)
                body = self.out(rkey, originator, msg.ori, lines, msg.control)
                delay = self.slow.get(member)
                if delay:
                    self.call_later(
                        delay, self._later, msg.ori, body, terminal, sensitive, self._xml
                    )
                else:
                    bodies.append(body)
        return Answer(bodies, sensitive)

    def _member_edit(self, member: str, msg: Message) -> str | None:
        """An ER for what a member's own edits refuse (the guide's Canada and Mexico rules)."""
        kind = MEMBERS[member].kind
        if kind == "canada" and msg.key == "IQ" and not (msg.has("NAM") and msg.has("DOB")):
            return self.er(
                NletsError.CANADA_FORMAT,
                "IQ TO CN MAY ONLY INCLUDE NAM, DOB AND SEX",
                "NAM",
                msg.raw,
                msg.ori,
            )
        if kind == "mexico" and not msg.get("OLN"):
            return self.er(
                NletsError.MEXICAN_CDL, "MX ACCEPTS DQ/KQ BY OLN ONLY", "OLN", msg.raw, msg.ori
            )
        return None

    def _answer(self, member: str, msg: Message) -> tuple[str, list[str]]:
        """(originator ORI, body lines) of one member's answer to ``msg``."""
        office = QUERY_REPLY[msg.key][1]
        self._ensure_seeded(member)
        if msg.key in ("DQ", "DQG", "KQ"):
            lines = self._drivers(member, msg)
        elif msg.key in ("RQ", "RQG"):
            lines = self._vehicles(member, msg)
            if msg.get("VIN") and not msg.get("LIC"):
                office = "VIN"
        else:
            lines = self._chri(member, msg)
        if not lines:
            ident = " ".join(
                f"{c}/{v}" for c, v in msg.fields if c not in ("PUR", "ATN", "RSN", "IMQ")
            )
            lines = ["NOT ON FILE", *responses.wrap(ident)]
        if msg.get("ATN"):
            lines = [f"ATN/{msg.get('ATN')}", *lines]
        return MEMBERS[member].generic_ori(office), lines

    def _multi_state(self, msg: Message, rkey: str, terminal: str, sensitive: str) -> list[str]:
        """Nlets' multi-state query: every participating member is asked; one merged answer
        from Nlets suppresses the NO HIT answers and sums up which members were sent the query,
        which had a hit, which had none and which did not answer in time (slow beyond
        ``MSQ_WAIT_S`` or out of service), then the hits. It comes when the slowest member
        answered, or after ``MSQ_WAIT_S`` when one never will."""
        found: list[str] = []
        hits: list[str] = []
        misses: list[str] = []
        silent: list[str] = []
        waited = 0.0
        for member in DOMESTIC:
            if not self.in_service(member) or self.slow.get(member, 0) > MSQ_WAIT_S:
                silent.append(member)
                continue
            waited = max(waited, self.slow.get(member, 0.0))
            originator, lines = self._answer(member, msg)
            if "NOT ON FILE" in lines[:2]:
                misses.append(member)  # the guide: NO HIT answers are suppressed
                continue
            hits.append(member)
            found += [f"** {member} - {originator} **", *lines]
        body = [
            f"MULTI-STATE QUERY - {len(DOMESTIC)} MEMBERS SENT, {len(hits)} HIT, "
            f"{len(misses)} NO HIT, {len(silent)} NO RESPONSE"
        ]
        body += responses.wrap("HIT: " + (" ".join(hits) or "NONE"))
        body += responses.wrap("NO HIT: " + (" ".join(misses) or "NONE"))
        if silent:
            body += responses.wrap("NO RESPONSE FROM: " + " ".join(silent))
            waited = MSQ_WAIT_S  # Nlets waits its full time for those that do not answer
        body += found
        merged = self.out(rkey, NLETS_ORI, msg.ori, responses.page(body), msg.control)
        if waited:
            # the merged answer leaves when the slowest member answered (or Nlets gave up)
            self.call_later(waited, self._later, msg.ori, merged, terminal, sensitive, self._xml)
            return []
        return [merged]

    def _ensure_seeded(self, member: str) -> None:
        """Give a member its fictitious files the first time it is asked (deterministic from
        the lab seed and the member's code, whatever order members are asked in)."""
        conn = self.conn
        if store.seeded(conn, member):
            return
        if member not in STATES and not store.has_drivers(conn, member):
            self._seed_member(member)
        store.mark_seeded(conn, member)
        conn.commit()

    def _seed_member(self, member: str) -> None:
        # seed imports this module: import when needed
        from lems.endpoints.seed import World, chri_row, driver_row, vehicle_row

        if self._world is None:
            self._world = World(self.seed, [])
        world = self._world
        world.rng = r = random.Random(f"{self.seed}:{member}")
        drivers, vehicles, chri, socs = [], [], [], []
        offs, dsps = world.codes["OFF"], world.codes["DSP"]
        # people of their own for each member (lems.people: person n is the same everywhere),
        # numbered far above the national world's
        base = 50_000_000 + sum(ord(c) * 256**i for i, c in enumerate(member)) * 1000
        for n in range(SEED_PEOPLE):
            p = world.subject(base + n).person
            oln = f"{member}{r.randrange(10**7):07d}"
            status = r.choice(("VALID",) * 8 + ("SUSPENDED", "EXPIRED"))
            drivers.append(driver_row(p, member, oln, status))
            vin = world.vin()
            vehicles.append(
                vehicle_row(p, member, world.plate(), vin, r.choice(world.codes["VMA"]))
            )
            if r.random() < 0.3:
                arrests = [
                    (
                        "",
                        f"{int(p.dob[:4]) + r.randint(18, 40)}{p.dob[4:]}",
                        f"{member}0010000",
                        r.choice(offs),
                        r.choice(dsps),
                    )
                    for _ in range(r.randint(1, 3))
                ]
                sid = f"{member}{r.randrange(10**6):06d}"
                chri.append(chri_row(p, member, sid, arrests))
                socs.append((member, p.soc, sid))
        store.add_drivers(self.conn, drivers)
        store.add_vehicles(self.conn, vehicles)
        store.add_chri(self.conn, chri)
        store.add_chri_socs(self.conn, socs)

    def _drivers(self, state: str, msg: Message) -> list[str]:
        oln = msg.get("OLN")
        if oln:
            rows = store.drivers_by_oln(self.conn, state, oln)
        else:
            dobs = dob_values(msg.get("DOB") or "", False)
            rows = [
                r
                for r in store.drivers_by_name(
                    self.conn, state, soundex(msg.get("NAM") or ""), dobs[0]
                )
                if r[3] == msg.get("SEX")
            ]
        out: list[str] = []
        for oln, nam, dob, sex, rac, hgt, wgt, eye, status in rows[:10]:
            out += responses.layout(
                [
                    ("NAM", responses.print_name(nam)),
                    ("SEX", sex),
                    ("RAC", rac),
                    ("DOB", dob),
                    ("HGT", hgt),
                    ("WGT", wgt),
                    ("EYE", eye),
                    ("OLN", oln),
                    ("OLS", state),
                ]
            )
            out.append(f"LICENSE STATUS/{status}")
            if msg.key == "KQ":
                out.append("DRIVER HISTORY/NO CONVICTIONS ON FILE IN THE LAST 3 YEARS")
        return out

    def _vehicles(self, state: str, msg: Message) -> list[str]:
        lic = msg.get("LIC")
        if lic:
            rows = store.vehicles_by_plate(self.conn, state, lic)
        else:
            rows = store.vehicles_by_vin8(self.conn, state, vin8(msg.get("VIN") or ""))
        out: list[str] = []
        for lic, liy, lit, vin, owner, vma in rows[:10]:
            out += responses.layout(
                [
                    ("LIC", lic),
                    ("LIS", state),
                    ("LIY", liy),
                    ("LIT", lit),
                    ("VIN", vin),
                    ("VMA", vma),
                ]
            )
            out.append(f"REGISTERED OWNER/{responses.print_name(owner)}")
        return out

    def _chri(self, state: str, msg: Message) -> list[str]:
        searched = ""
        sid, fbi, nam, soc = msg.get("SID"), msg.get("FBI"), msg.get("NAM"), msg.get("SOC")
        if sid:
            rows = store.chri_by_sid(self.conn, state, sid)
        elif fbi:
            rows = store.chri_by_fbi(self.conn, state, fbi)
        else:
            rows = []
            if nam:
                dobs = dob_values(msg.get("DOB") or "", False)
                rows = [
                    r
                    for r in store.chri_by_name(self.conn, state, soundex(nam), dobs[0])
                    if r[4] == msg.get("SEX")
                ]
                searched = "NAM/DOB/SEX"
            if not rows and soc:  # the guide: say which index produced the hit
                rows = store.chri_by_soc(self.conn, state, soc)
                searched = "SOC"
            # MNU: no simulated state file is indexed by it (NOT ON FILE)
        out: list[str] = []
        if rows and msg.has("NAM") and msg.has("SOC"):
            out.append(f"SEARCHED BY NAM/DOB/SEX AND SOC - HIT ON {searched}")
        for sid, fbi, nam, dob, sex, rac, arrests in rows[:10]:
            out += responses.layout(
                [
                    ("NAM", responses.print_name(nam)),
                    ("SEX", sex),
                    ("RAC", rac),
                    ("DOB", dob),
                    ("SID", sid),
                    ("FBI", fbi),
                ]
            )
            if msg.key == "FQ":
                for n, (_h, doa, ori, off, dsp) in enumerate(json.loads(arrests), 1):
                    out.append(f"CYCLE {n:03d}")
                    out += responses.layout(
                        responses.display_pairs(
                            [("DOA", doa), ("ORI", ori), ("CHG", off), ("DSP", dsp)], self.codes
                        )
                    )
            else:
                out.append("RECORD ON FILE - USE FQ WITH SID/ FOR THE FULL RECORD")
        return out

    # ---------------------------------------------------------------- ORION

    def tq(self, msg: Message) -> list[str]:
        typ = msg.get("TYP")
        if typ and typ not in ORION_TYPES:
            return [
                self.er(
                    NletsError.INVALID_FORMAT,
                    f"INVALID TYP CODE {typ} - USE AN ORION AGENCY TYPE",
                    "TYP",
                    msg.raw,
                    msg.ori,
                )
            ]
        ori = msg.get("ORI")
        if ori:
            rows = store.find_by_ori(self.conn, ori)
        else:
            where = msg.destinations[0]
            rows = store.find_by_place(
                self.conn,
                msg.get("LOC") or "",
                where if where in MEMBERS or where == MULTI_STATE else None,
                typ,
            )
        lines: list[str] = []
        for ori, state, loc, otype, name, auth in rows:
            lines += responses.layout(
                [("ORI", ori), ("STA", state), ("LOC", loc), ("TYP", otype), ("ATH", auth)]
            )
            lines.append(f"NAME/{name}")
        return [self.out("TR", NLETS_ORI, msg.ori, lines or ["NOT ON FILE"], msg.control)]

    def orion_update(self, msg: Message) -> list[str]:
        """TA/TU/TD: an agency's ORION record, changed by a terminal of its own state (the
        guide: "Indiana may not enter an Illinois ORI")."""
        ori = msg.get("ORI") or ""
        if ori[:2] != msg.ori[:2]:
            return [
                self.er(
                    NletsError.INVALID_FORMAT,
                    f"ORI/{ori} IS NOT OF THE SENDER'S STATE {msg.ori[:2]}",
                    "ORI",
                    msg.raw,
                    msg.ori,
                )
            ]
        typ = msg.get("TYP")
        if typ and typ not in ORION_TYPES:
            return [
                self.er(
                    NletsError.INVALID_FORMAT,
                    f"INVALID TYP CODE {typ} - USE AN ORION AGENCY TYPE",
                    "TYP",
                    msg.raw,
                    msg.ori,
                )
            ]
        have = self.orion(ori)
        if msg.key == "TA":
            if have is not None:
                return [
                    self.er(
                        NletsError.INVALID_FORMAT,
                        f"ORI/{ori} ALREADY IN ORION",
                        "ORI",
                        msg.raw,
                        msg.ori,
                    )
                ]
            loc = msg.get("LOC") or ""
            store.add_agency(self.conn, ori, loc[:20], typ, msg.get("REM") or loc)
            done = "ADDED"
        elif have is None:
            return [
                self.er(
                    NletsError.INVALID_FORMAT, f"ORI/{ori} NOT IN ORION", "ORI", msg.raw, msg.ori
                )
            ]
        elif msg.key == "TD":
            store.delete_agency(self.conn, ori)
            done = "DELETED"
        else:
            store.update_agency(self.conn, ori, msg.get("LOC"), typ, msg.get("REM"))
            done = "UPDATED"
        self.conn.commit()
        return [
            self.out("TR", NLETS_ORI, msg.ori, [f"ORION RECORD {done} - ORI/{ori}"], msg.control)
        ]

    # ---------------------------------------------------------------- relay

    def relay(self, msg: Message, terminal: str) -> list[str]:
        out: list[str] = []
        for dest in msg.destinations:
            if dest == self.home or dest[:2] == self.home:
                continue  # delivered in state by the switch itself
            if len(dest) == 2:
                for member in expand(dest, msg.key):
                    if member == self.home:
                        continue
                    if member not in MEMBERS:
                        out.append(self.sm(NletsStatus.NO_RESPONSE, member, msg))
                    elif not self.in_service(member):
                        out.append(self.sm(NletsStatus.OUT_NOT_FORWARDED, member, msg))
                continue
            agency = self.orion(dest)
            if agency is None:
                out.append(
                    self.er(
                        NletsError.INVALID_DESTINATION,
                        f"DESTINATION ORI/{dest} IS NOT IN ORION",
                        "DEST",
                        msg.raw,
                        msg.ori,
                    )
                )
                continue
            if not self.in_service(agency[1]) and agency[1] in MEMBERS:
                out.append(self.sm(NletsStatus.OUT_FORWARDED, dest, msg))
            if msg.key == "YQ" and agency[6] is not None:
                delay = float(agency[6]) + self.slow.get(agency[1], 0.0)
                self.call_later(delay, self._answer_yq, agency, msg, terminal, self._xml)
        return out

    def _answer_yq(
        self, agency: tuple[Any, ...], msg: Message, terminal: str, xml: bool = False
    ) -> None:
        """A simulated out-of-state agency confirms a hit (YR) to the requester."""
        pairs = [("RTY", msg.get("RTY") or ""), ("RNO", msg.get("RNO") or "1")]
        for code in ("NIC", "OCA", "NAM", "LIC", "VIN", "SER", "REG", "BHN"):
            if msg.get(code):
                pairs.append((code, msg.get(code) or ""))
        pairs += [("CON", "Y"), ("RNA", "RECORDS UNIT"), ("RAG", agency[4][:30])]
        body = [
            *responses.layout(responses.display_pairs(pairs, self.codes)),
            "REM/RECORD CONFIRMED - WARRANT/RECORD IS ACTIVE. ADVISE WHEN SUBJECT OR "
            "PROPERTY IS IN CUSTODY",
        ]
        self._later(
            msg.ori,
            self.out("YR", agency[0], msg.ori, responses.page(body), msg.control),
            terminal,
            "",
            xml,
        )


def yq_problem(msg: Message, codes: Any = None) -> str:
    """Why Nlets refuses a YQ for its request type's data elements ("" when it does not): the
    set of the type must be there and no element of another type's set may be; a TYP must be a
    code of the type's table (with ``codes``)."""
    rty = msg.get("RTY") or ""
    if rty not in YQ_SETS:
        return ""
    typ = msg.get("TYP")
    if (
        typ
        and codes is not None
        and rty in YQ_TYP_TABLE
        and typ not in codes.table(YQ_TYP_TABLE[rty])
    ):
        return f"INVALID MESSAGE FORMAT - TYP/{typ} IS NOT A {YQ_TYP_TABLE[rty]} CODE FOR RTY/{rty}"
    need, allowed = YQ_SETS[rty]
    present = {c for c, _ in msg.fields}
    extra = sorted(present - set(allowed) - set(YQ_COMMON))
    missing = [c for c in need if c not in present]
    any_of = YQ_ANY_OF.get(rty)
    if any_of and not present & set(any_of):
        missing.append(" OR ".join(any_of))
    if not extra and not missing:
        return ""
    options = ", ".join(["RTY", "RNO", "PRI", "OCA", "NIC", *allowed, "RNA", "RAG"])
    why = (
        f"FIELD(S) {' '.join(extra)} NOT VALID FOR RTY/{rty}"
        if extra
        else f"RTY/{rty} NEEDS {' '.join(missing)}"
    )
    return f"INVALID MESSAGE FORMAT - REFER TO YQ MKE OPTIONS BELOW\n1. {options}\n{why}"
