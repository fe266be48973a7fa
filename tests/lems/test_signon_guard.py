"""Sign-on guard: delays, a fair lockout, password hashes, masking."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lems.signon import (
    MASK,
    SignOnGuard,
    generate,
    hash_password,
    hash_problem,
    mask_logon,
    verify,
)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_the_delay_doubles_per_failure_of_a_source_or_an_operator_and_is_capped():
    clock = Clock()
    g = SignOnGuard(0.5, 4.0, clock)
    assert g.delay("tcp:10.0.0.9", "OP01") == 0
    delays = []
    for _ in range(5):
        g.failed("tcp:10.0.0.9", "OP01")
        delays.append(g.delay("tcp:10.0.0.9", "OP01"))
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0]
    # another operator from the same address: the address's count applies
    assert g.delay("tcp:10.0.0.9", "OP02") == 4.0
    # the same operator from another address: the operator's count applies
    assert g.delay("tcp:10.0.0.8", "OP01") == 4.0
    # an unrelated address and operator: nothing
    assert g.delay("tcp:10.0.0.7", "OP03") == 0
    # forgotten after 15 quiet minutes
    clock.t += 901
    assert g.delay("tcp:10.0.0.9", "OP01") == 0


def test_a_good_sign_on_clears_the_counts_and_marks_the_address():
    g = SignOnGuard(0.5, 30, Clock())
    g.failed("tcp:10.0.0.9", "OP01")
    assert not g.may_lock("tcp:10.0.0.9", "OP01", certified=False)
    g.succeeded("tcp:10.0.0.9", "OP01")
    assert g.delay("tcp:10.0.0.9", "OP01") == 0
    assert g.may_lock("tcp:10.0.0.9", "OP01", certified=False)
    assert not g.may_lock("tcp:10.0.0.2", "OP01", certified=False)
    assert g.may_lock("tcp:10.0.0.2", "OP01", certified=True)


def test_hashes_verify_and_are_salted():
    h1, h2 = hash_password("train-01"), hash_password("train-01")
    assert h1 != h2 and h1.startswith("scrypt$16384$8$1$")
    assert hash_problem(h1) is None
    assert verify(h1, "train-01") and verify(h2, "train-01")
    assert not verify(h1, "train-02") and not verify(h1, "")
    assert hash_problem("train-01") and hash_problem("scrypt$3$8$1$AA$AA")
    assert not verify("scrypt$x$8$1$AA$AA", "train-01")


def test_generated_passwords_are_usable_in_a_logon():
    for _ in range(50):
        pw = generate()
        assert len(pw) == 12 and "." not in pw and pw.isprintable()


@given(
    st.text(alphabet=st.characters(blacklist_characters="."), min_size=1, max_size=30),
    st.sampled_from(["LOGON", "logon", " LOGON", "LOGON ", "Logon"]),
    st.sampled_from(["", ".", ".X", "..", ".A.B"]),
)
def test_a_password_never_survives_masking(password, key, tail):
    text = f"{key}.T07.OP07.{password}{tail}"
    masked = mask_logon(text)
    assert masked == f"{key}.T07.OP07.{MASK}"  # nothing of the password, not even its length


def test_other_frames_are_not_masked():
    for text in ("QW.OR0240000.NAM/DOE,JOHN", "LOGOFF.T01", "ACK.5", "LOGON", "LOGON.T01.OP01"):
        assert mask_logon(text) == text
