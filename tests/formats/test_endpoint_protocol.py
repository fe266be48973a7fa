"""formats.endpoint_protocol: the switch <-> endpoint frames survive any text, and junk is told."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from formats import endpoint_protocol as protocol
from formats.errors import FormatError

texts = st.text(max_size=200)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=2**53),
    texts,
    texts,
    texts,
    st.lists(texts, max_size=4),
    st.sampled_from(["", "cch", "iii"]),
)
def test_every_frame_kind_round_trips(corr, ori, terminal, text, bodies, sensitive):
    assert protocol.decode(protocol.request(corr, ori, terminal, text)) == {
        "t": "req",
        "id": corr,
        "ori": ori,
        "trm": terminal,
        "text": text,
    }
    assert protocol.decode(protocol.response(corr, bodies, sensitive)) == {
        "t": "rsp",
        "id": corr,
        "bodies": bodies,
        "sensitive": sensitive,
    }
    assert protocol.decode(protocol.unsolicited(ori, text, terminal, sensitive)) == {
        "t": "uns",
        "ori": ori,
        "trm": terminal,
        "body": text,
        "sensitive": sensitive,
    }


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "unknown kind"),
        (b'{"t": "zzz"}', "unknown kind"),
        (b"{}", "unknown kind"),
    ],
)
def test_what_is_not_a_frame_is_refused_with_the_reason(payload, why):
    with pytest.raises(FormatError, match=why):
        protocol.decode(payload)


@given(st.binary(max_size=300))
def test_no_payload_raises_anything_but_format_error(payload):
    try:
        frame = protocol.decode(payload)
    except FormatError:
        return
    assert frame["t"] in protocol.KINDS
