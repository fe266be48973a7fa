"""Nlets XML (NIEM) beside the legacy text: the second codec of the one message model.

The Nlets User Guide marks the legacy text formats deprecated and documents every message in
NIEM XML: an ``n2:NLETS`` root (``n2:version="4.00"``) holding ``n2:NLETSMessageHeader`` (message
key, originating ORI, destination ORIs, control field, and on output Nlets' receive/send dates,
times and sequence numbers) and one payload element: ``n2:NLETSInquiryData`` (queries),
``n2:NLETSMailData`` (AM/AML text, SM status text), ``n2:NLETSResponseData`` (answers and ER,
text in ``n2:ResponseText``).

Reading: ``decode`` turns a request into the same ``Message`` the legacy parser makes, and
``to_legacy`` into its canonical legacy text, so that one parser, one rule set and one journal
serve both forms (the edits and ER numbers are the legacy ones; an XML that cannot be read is
``.03. TXT NOT FOUND OR IMPROPERLY FORMED XML``, as the guide's title says).
Writing: ``encode_answer`` turns an answer in legacy layout (what the mock systems produce) into
its XML form, ``encode_request`` a ``Message`` into a request (tests, benchmarks, tools).

XML is parsed by the standard library's ElementTree behind defusedxml: a peer's XML must never
expand entities, fetch external ones or be bombed (defusedxml refuses DTDs, entity declarations
and external references outright); lxml would add a compiled dependency for nothing we need
(no schema is published that we can ship: see docs/FIDELITY.md).

Element paths: the guide's NIEM articles name the elements of each payload (``n2:ReasonCode``,
``nc:PersonName/nc:PersonSurName``, ``nc:PersonBirthDate/nc:Date`` in xsd:date form,
``nc:ConveyanceRegistrationPlateIdentification/nc:IdentificationID``, ``n2:QueryRequestActivity/
n2:QueryRequestSequenceNumber``, ``n2:RequestingAgency/nc:OrganizationName`` ...). Where the
excerpts read do not show an element, the NIEM 2.0 core name is used; ``FIELD_PATHS`` marks
each one and docs/FIDELITY.md lists the guesses.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import NoReturn

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from formats.errors import Reject, RejectError
from formats.message import Message

N2 = "http://www.nlets.org/niem/1.0"
NH2 = "http://www.nlets.org/niem/nlets-hdr/1.0"
NC = "http://niem.gov/niem/niem-core/2.0"
N2C = "http://www.nlets.org/niem/nlets-core/1.0"
J = "http://niem.gov/niem/domains/jxdm/4.0"
NAMESPACES = {"n2": N2, "nh2": NH2, "nc": NC, "n2c": N2C, "j": J}
for _prefix, _uri in NAMESPACES.items():
    ET.register_namespace(_prefix, _uri)

MAX_XML = 64 * 1024
"""The longest XML message read (a legacy Nlets message is far shorter; a frame is capped too)."""

_PERSON = "n2:Person"

FIELD_PATHS: dict[str, tuple[str, bool]] = {
    "RSN": ("n2:ReasonCode", False),
    "PUR": ("n2:PurposeCode", False),
    "ATN": ("n2:ResponseAttentionDescriptionText", False),
    "IMQ": ("n2:ImageRequestIndicator", True),
    "NAM": (f"{_PERSON}/nc:PersonName", False),
    "DOB": (f"{_PERSON}/nc:PersonBirthDate/nc:Date", False),
    "SEX": (f"{_PERSON}/nc:PersonSexCode", True),
    "RAC": (f"{_PERSON}/nc:PersonRaceCode", True),
    "OLN": (f"{_PERSON}/nc:PersonLicenseIdentification/nc:IdentificationID", True),
    "SOC": (f"{_PERSON}/nc:PersonSSNIdentification/nc:IdentificationID", True),
    "MNU": (f"{_PERSON}/nc:PersonOtherIdentification/nc:IdentificationID", True),
    "SID": (f"{_PERSON}/j:PersonStateFingerprintIdentification/nc:IdentificationID", True),
    "FBI": (f"{_PERSON}/j:PersonFBIIdentification/nc:IdentificationID", True),
    "LIC": ("nc:Vehicle/nc:ConveyanceRegistrationPlateIdentification/nc:IdentificationID", False),
    "LIT": (
        "nc:Vehicle/nc:ConveyanceRegistrationPlateIdentification/nc:IdentificationCategoryText",
        False,
    ),
    "LIY": (
        "nc:Vehicle/nc:ConveyanceRegistrationPlateIdentification/nc:IdentificationExpirationDate",
        False,
    ),
    "LIS": (
        "nc:Vehicle/nc:ConveyanceRegistrationPlateIdentification/nc:IdentificationJurisdictionText",
        True,
    ),
    "VIN": ("nc:Vehicle/nc:VehicleIdentification/nc:IdentificationID", True),
    "VYR": ("nc:Vehicle/nc:ItemModelYearDate", True),
    "VMA": ("nc:Vehicle/nc:VehicleMakeCode", True),
    "RTY": ("n2:QueryRequestActivity/n2:RequestTypeCode", True),
    "RNO": ("n2:QueryRequestActivity/n2:QueryRequestSequenceNumber", False),
    "PRI": ("n2:QueryRequestActivity/n2:PriorityCode", True),
    "OCA": ("nc:Incident/nc:ActivityIdentification/nc:IdentificationID", False),
    "NIC": ("n2:NCICIdentification/nc:IdentificationID", True),
    "RAG": ("n2:RequestingAgency/nc:OrganizationName", False),
    "PHO": (
        "n2:RequestingAgency/nc:OrganizationPrimaryContactInformation/nc:ContactTelephoneNumber",
        False,
    ),
    "RNA": ("n2:RequestingAgency/n2:RequestorName", True),
    "CON": ("n2:ConfirmationStatusCode", True),
    "TIM": ("n2:ConfirmationMinutesNumeric", True),
    "SER": ("n2:Item/nc:ItemSerialIdentification/nc:IdentificationID", True),
    "TYP": ("n2:Item/nc:ItemCategoryText", True),
    "MAK": ("n2:Item/nc:ItemMakeName", True),
    "CAL": ("n2:Item/n2:FirearmCaliberCode", True),
    "DEN": ("n2:Item/n2:SecurityDenominationText", True),
    "OAN": ("n2:Item/n2:OwnerAppliedIdentification/nc:IdentificationID", True),
    "REG": ("n2:Boat/n2:BoatRegistrationIdentification/nc:IdentificationID", True),
    "BHN": ("n2:Boat/n2:BoatHullIdentification/nc:IdentificationID", True),
    "ORI": (
        "n2:Agency/j:OrganizationAugmentation/j:OrganizationORIIdentification/nc:IdentificationID",
        False,
    ),
    "LOC": ("n2:Agency/nc:OrganizationLocation/nc:LocationName", True),
    "REM": ("n2:RemarksText", True),
}
"""Legacy field code -> (element path under the payload, whether the path is a guess: not shown
in the guide's NIEM excerpts). ``NAM`` and ``DOB`` are converted (name parts; xsd:date)."""

_BY_PATH = {path: code for code, (path, _guess) in FIELD_PATHS.items()}
_NAME_PARTS = ("PersonSurName", "PersonGivenName", "PersonMiddleName", "PersonNameSuffixText")


def _q(path: str) -> str:
    """``n2:A/nc:B`` in ElementTree's ``{uri}name`` form."""
    out = []
    for step in path.split("/"):
        prefix, _, local = step.partition(":")
        out.append(f"{{{NAMESPACES[prefix]}}}{local}")
    return "/".join(out)


def _local(tag: str) -> tuple[str, str]:
    uri, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    prefix = next((p for p, u in NAMESPACES.items() if u == uri), "?")
    return prefix, local


def _reject(reason: str, field: str | None = None) -> NoReturn:
    raise RejectError(Reject(".03.", f"TXT NOT FOUND OR IMPROPERLY FORMED XML - {reason}", field))


def is_xml(text: str) -> bool:
    """Whether a message is XML rather than legacy text (its first character is ``<``)."""
    return text.lstrip()[:1] == "<"


def _parse(text: str) -> ET.Element:
    if len(text) > MAX_XML:
        _reject(f"LONGER THAN {MAX_XML} CHARACTERS")
    try:
        return SafeET.fromstring(  # type: ignore[no-any-return]
            text.strip().encode("utf-8"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        )
    except DefusedXmlException as e:
        _reject(f"REFUSED: {type(e).__name__.upper()} (DTDS AND ENTITIES ARE NOT ALLOWED)")
    except ET.ParseError as e:
        _reject(f"NOT WELL-FORMED: {str(e).upper()[:60]}")
    raise AssertionError  # pragma: no cover - _reject always raises


def decode(text: str) -> Message:
    """The request an Nlets XML message carries; ``RejectError`` (``.03.``) if it cannot be
    read. The fields are validated afterwards by the legacy parser (``to_legacy``)."""
    root = _parse(text)
    if root.tag != f"{{{N2}}}NLETS":
        _reject(f"ROOT ELEMENT MUST BE n2:NLETS, NOT {':'.join(_local(root.tag))}")
    header = root.find(_q("n2:NLETSMessageHeader"))
    if header is None:
        _reject("n2:NLETSMessageHeader MISSING")
    key = (header.findtext(_q("nh2:MessageKeyCodeText")) or "").strip().upper()
    ori = (header.findtext(_q("nh2:OriginatingORIID")) or "").strip().upper()
    dests = [(d.text or "").strip().upper() for d in header.findall(_q("nh2:DestinationORIID"))]
    control = (header.findtext(_q("nh2:DocumentControlFieldText")) or "").strip()
    if not key:
        _reject("nh2:MessageKeyCodeText MISSING", "MKE")
    payloads = [child for child in root if child is not header]
    if len(payloads) != 1:
        _reject(f"ONE PAYLOAD ELEMENT EXPECTED, FOUND {len(payloads)}")
    payload = payloads[0]
    prefix, local = _local(payload.tag)
    if local == "NLETSMailData":
        body = payload.findtext(_q("n2:MailMessageText")) or ""
        return Message(key, ori, dests, control, [], body.strip("\n"), raw=text)
    if local != "NLETSInquiryData":
        _reject(f"PAYLOAD {prefix}:{local} NOT READ BY THIS SIMULATOR")
    fields: list[tuple[str, str]] = []
    for code, value in _leaves(payload, ""):
        fields.append((code, value))
    return Message(key, ori, dests, control, fields, raw=text)


def _leaves(elem: ET.Element, path: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for child in elem:
        step = ":".join(_local(child.tag))
        here = f"{path}/{step}" if path else step
        code = _BY_PATH.get(here)
        if code == "NAM":
            out.append((code, _name(child)))
        elif code == "DOB":
            out.append((code, (child.text or "").strip().replace("-", "")))
        elif code is not None:
            out.append((code, (child.text or "").strip().upper()))
        elif len(child):
            out += _leaves(child, here)
        else:
            _reject(f"ELEMENT {here} NOT KNOWN", step)
    return out


def _name(elem: ET.Element) -> str:
    parts = {_local(c.tag)[1]: (c.text or "").strip().upper() for c in elem}
    last = parts.get("PersonSurName", "")
    rest = " ".join(p for p in (parts.get(k, "") for k in _NAME_PARTS[1:]) if p)
    return f"{last},{rest}" if rest else last


def to_legacy(msg: Message) -> str:
    """The canonical legacy text of a decoded XML request (what the parser validates and what
    the journal can show beside the XML)."""
    head = ".".join(
        [msg.key, msg.ori, *msg.destinations] + ([f"*{msg.control}"] if msg.control else [])
    )
    body = msg.text or ".".join(f"{c}/{v}" for c, v in msg.fields)
    return f"{head}.TXT\n{body}" if body else f"{head}.TXT"


# ---------------------------------------------------------------------------- writing


def _sub(parent: ET.Element, path: str, text: str | None = None) -> ET.Element:
    """The element at ``path`` under ``parent``, made where missing; with ``text``, the last
    step is always a new element holding it (a repeated field makes a second one)."""
    steps = path.split("/")
    node = parent
    for i, step in enumerate(steps):
        tag = _q(step)
        found = node.find(tag)
        if found is not None and not (text is not None and i == len(steps) - 1):
            node = found
        else:
            node = ET.SubElement(node, tag)
    if text is not None:
        node.text = text
    return node


def _root(key: str, ori: str, dests: Sequence[str], control: str) -> tuple[ET.Element, ET.Element]:
    root = ET.Element(_q("n2:NLETS"), {_q("n2:version"): "4.00"})
    header = _sub(root, "n2:NLETSMessageHeader")
    ET.SubElement(header, _q("nh2:MessageKeyCodeText")).text = key
    ET.SubElement(header, _q("nh2:OriginatingORIID")).text = ori
    for dest in dests:
        ET.SubElement(header, _q("nh2:DestinationORIID")).text = dest
    if control:
        ET.SubElement(header, _q("nh2:DocumentControlFieldText")).text = control
    return root, header


def _text(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode")


def encode_request(msg: Message) -> str:
    """An Nlets XML request for ``msg`` (fields by ``FIELD_PATHS``; AM/AML text as mail)."""
    root, _header = _root(msg.full_key, msg.ori, msg.destinations, msg.control)
    if msg.text or not msg.fields:
        mail = _sub(root, "n2:NLETSMailData")
        mail.set(_q("n2:key"), msg.full_key)
        ET.SubElement(mail, _q("n2:MailMessageText")).text = msg.text
        return _text(root)
    data = _sub(root, "n2:NLETSInquiryData")
    for code, value in msg.fields:
        path = FIELD_PATHS[code][0]
        if code == "NAM":
            last, _, rest = value.partition(",")
            name = _sub(data, path)
            ET.SubElement(name, _q("nc:PersonSurName")).text = last.strip()
            given, _, middle = rest.strip().partition(" ")
            if given:
                ET.SubElement(name, _q("nc:PersonGivenName")).text = given
            if middle:
                ET.SubElement(name, _q("nc:PersonMiddleName")).text = middle
        elif code == "DOB":
            d = value if len(value) == 8 else _ccyy(value)
            _sub(data, path, f"{d[:4]}-{d[4:6]}-{d[6:]}")
        else:
            _sub(data, path, value)
    return _text(root)


def _ccyy(mmddyy: str) -> str:
    yy = int(mmddyy[4:])
    return f"{1900 + yy if yy > 30 else 2000 + yy}{mmddyy[:4]}"


def encode_answer(legacy: str) -> str:
    """The XML form of an answer written in the legacy layout: the header lines (key and
    originator, the input clock, the output clock and receiver, the control field) become the
    ``n2:NLETSMessageHeader``; the text after ``TXT`` becomes ``n2:ResponseText`` (an SM's
    ``n2:StatusMessageText``, an AM's ``n2:MailMessageText``), as the guide's free-text
    responses are carried."""
    lines = legacy.split("\n")
    key, _, originator = lines[0].partition(".")
    recv = lines[1].split() if len(lines) > 1 else []
    send = lines[2].split() if len(lines) > 2 else []
    at = 3
    control = ""
    if len(lines) > at and lines[at].startswith("*"):
        control = lines[at][1:]
        at += 1
    if len(lines) > at and lines[at] == "TXT":
        at += 1
    receiver = send[3] if len(send) > 3 else ""
    root, header = _root(key, originator, [receiver] if receiver else [], control)
    if len(recv) == 3 and len(send) >= 3:
        for name, value in (
            ("MessageReceiveDate", recv[1]),
            ("MessageReceiveTime", recv[0]),
            ("MessageSendDate", send[1]),
            ("MessageSendTime", send[0]),
            ("ReceiveMessageNumeric", recv[2]),
            ("SendMessageNumeric", send[2]),
        ):
            ET.SubElement(header, _q(f"nh2:{name}")).text = value
    text = "\n".join(lines[at:])
    if key == "SM":
        ET.SubElement(_sub(root, "n2:NLETSMailData"), _q("n2:StatusMessageText")).text = text
    elif key in ("AM", "AML"):
        ET.SubElement(_sub(root, "n2:NLETSMailData"), _q("n2:MailMessageText")).text = text
    else:
        ET.SubElement(_sub(root, "n2:NLETSResponseData"), _q("n2:ResponseText")).text = text
    return _text(root)


def sender_of(text: str) -> str:
    """The originating ORI of an XML message that could not be read, found by its element
    name alone (so that the ER goes back addressed to it), or ""."""
    start = text.find("OriginatingORIID>")
    if start < 0:
        return ""
    ori = text[start + 17 : start + 26]
    return ori if ori.isalnum() and ori.isascii() and len(ori) == 9 else ""


def is_nlets_layout(text: str) -> bool:
    """Whether ``text`` is an Nlets message in the legacy layout (``KEY.ORIGINATOR``, two clock
    lines, maybe a control field, then ``TXT``): what may be written in XML for a terminal."""
    lines = text.split("\n", 5)
    if len(lines) < 4 or "." not in lines[0] or " " in lines[0]:
        return False
    return lines[3] == "TXT" or (len(lines) > 4 and lines[3][:1] == "*" and lines[4] == "TXT")


def answer_text(xml: str) -> tuple[str, str, str, str]:
    """(key, originator, control field, text) of an XML answer (for tests and tools)."""
    root = _parse(xml)
    header = root.find(_q("n2:NLETSMessageHeader"))
    assert header is not None
    texts = [
        e.text or ""
        for e in root.iter()
        if _local(e.tag)[1] in ("ResponseText", "StatusMessageText", "MailMessageText")
    ]
    return (
        header.findtext(_q("nh2:MessageKeyCodeText")) or "",
        header.findtext(_q("nh2:OriginatingORIID")) or "",
        header.findtext(_q("nh2:DocumentControlFieldText")) or "",
        texts[0] if texts else "",
    )
