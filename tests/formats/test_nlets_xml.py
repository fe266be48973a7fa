"""The Nlets XML codec: the same messages as legacy text, XML attacks refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from formats import nlets_xml as X
from formats.errors import RejectError
from formats.grammar import Parser
from formats.nic import make_nic

P = Parser()
ORI = "OR0240000"
NIC = make_nic("W", 184)

LEGACY = [
    f"DQ.{ORI}.WA.ID.*CAR12RUN7.TXT\nNAM/SMITH,JOHN Q.DOB/19800101.SEX/M.RSN/N",
    f"DQ.{ORI}.AZ.TXT\nOLN/D11111111.IMQ/Y",
    f"KQ.{ORI}.AZ.TXT\nOLN/D11111111.RSN/T.PUR/C.ATN/SGT ROE",
    f"RQ.{ORI}.AZ.NM.TXT\nLIC/4KXR221.LIY/2026.LIT/PC",
    f"RQ.{ORI}.MT.TXT\nVIN/1FTFW1E50PFA00001.VYR/2023.VMA/FORD",
    f"IQ.{ORI}.TX.TXT\nSOC/912345678.PUR/C.ATN/DET ROE",
    f"IQ.{ORI}.TX.TXT\nMNU/AS-1234567.PUR/C.ATN/DET ROE",
    f"FQ.{ORI}.TX.TXT\nSID/TX123456.PUR/C.ATN/DET ROE",
    f"AQ.{ORI}.TX.TXT\nFBI/1234567A8.PUR/C.ATN/DET ROE.REM/SEND DISPOSITIONS",
    f"YQ.{ORI}.AZ0010000.TXT\nRTY/SS.RNO/1.PRI/R.OCA/10000000000.NIC/{NIC}.SER/110011001100."
    "TYP/BD.DEN/1000.RNA/SGT ROE.RAG/CASCADE CO SO.PHO/5415550100.REM/PLS CONFIRM",
    f"YR.{ORI}.AZ0010000.TXT\nRTY/WP.RNO/1.CON/Y.NIC/{NIC}.RNA/DISPATCH.RAG/CASCADE CO SO",
    f"TQ.{ORI}.AZ.TXT\nLOC/CAPITAL.TYP/SA",
    f"TA.{ORI}.OD.TXT\nORI/OR0990000.LOC/FERN HOLLOW.TYP/PD",
    f"AM.{ORI}.A1.WA0010000.TXT\nATTN ALL AGENCIES.\nBOLO GREEN PICKUP.",
]


@pytest.mark.parametrize("text", LEGACY, ids=[t[:3].rstrip(".") for t in LEGACY])
def test_every_key_reads_the_same_in_xml_and_legacy(text) -> None:
    legacy = P.parse(text)
    xml = X.encode_request(legacy)
    assert X.is_xml(xml) and xml.startswith("<n2:NLETS")
    back = X.decode(xml)
    again = P.parse(X.to_legacy(back))
    assert (again.key, again.ori, again.destinations, again.control, again.fields, again.text) == (
        legacy.key,
        legacy.ori,
        legacy.destinations,
        legacy.control,
        legacy.fields,
        legacy.text,
    )


@pytest.mark.parametrize(
    "xml",
    [
        # external entity (XXE)
        '<?xml version="1.0"?><!DOCTYPE n [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        '<n2:NLETS xmlns:n2="http://www.nlets.org/niem/1.0">&e;</n2:NLETS>',
        # entity expansion ("billion laughs")
        '<?xml version="1.0"?><!DOCTYPE n [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        '<n2:NLETS xmlns:n2="http://www.nlets.org/niem/1.0">&b;</n2:NLETS>',
        # a bare DTD
        '<!DOCTYPE n SYSTEM "http://127.0.0.1:9/x.dtd"><n/>',
    ],
)
def test_xml_attacks_are_refused(xml) -> None:
    with pytest.raises(RejectError) as e:
        X.decode(xml)
    assert e.value.reject.code == ".03."
    assert "DTDS AND ENTITIES ARE NOT ALLOWED" in e.value.reject.reason


@pytest.mark.parametrize(
    ("xml", "words"),
    [
        ("<n2:NLETS", "NOT WELL-FORMED"),
        ("<NLETS/>", "ROOT ELEMENT MUST BE n2:NLETS"),
        ('<n2:NLETS xmlns:n2="http://www.nlets.org/niem/1.0"/>', "n2:NLETSMessageHeader MISSING"),
        (
            '<n2:NLETS xmlns:n2="http://www.nlets.org/niem/1.0"><n2:NLETSMessageHeader/>'
            "</n2:NLETS>",
            "nh2:MessageKeyCodeText MISSING",
        ),
        ("x" * (X.MAX_XML + 1), "LONGER THAN"),
    ],
)
def test_unreadable_xml_names_the_problem(xml, words) -> None:
    with pytest.raises(RejectError) as e:
        X.decode(xml)
    assert e.value.reject.code == ".03." and words in e.value.reject.reason


def test_unknown_element_is_refused_not_dropped() -> None:
    xml = X.encode_request(P.parse(f"DQ.{ORI}.AZ.TXT\nOLN/D1")).replace(
        "</n2:NLETSInquiryData>", "<n2:Mystery>1</n2:Mystery></n2:NLETSInquiryData>"
    )
    with pytest.raises(RejectError) as e:
        X.decode(xml)
    assert "ELEMENT n2:Mystery NOT KNOWN" in e.value.reject.reason


def test_answer_header_and_text() -> None:
    legacy = (
        "DR.WAOLN0000\n14:30 11/23/2026 00007\n14:31 11/23/2026 00008 OR0240000\n"
        "*CAR12RUN7\nTXT\nNOT ON FILE\nOLN/X1"
    )
    xml = X.encode_answer(legacy)
    assert "<nh2:MessageReceiveDate>11/23/2026</nh2:MessageReceiveDate>" in xml
    assert "<nh2:SendMessageNumeric>00008</nh2:SendMessageNumeric>" in xml
    assert "<nh2:DestinationORIID>OR0240000</nh2:DestinationORIID>" in xml
    assert X.answer_text(xml) == ("DR", "WAOLN0000", "CAR12RUN7", "NOT ON FILE\nOLN/X1")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_a_message_or_an_er_03(text) -> None:
    try:
        X.decode(text)
    except RejectError as e:
        assert e.reject.code == ".03."
