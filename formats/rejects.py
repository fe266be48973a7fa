"""Every reject code the switch and its simulated systems answer with, as one enumeration.

A reject (``formats.errors.Reject``) carries a code, a field and a reason; ``responses.reject``
writes ``REJ.<ori>`` then ``<code> <field> <reason>``. The code is the word a trainee, a replay
comparison and an audit (``lems.state.audit``) go by, so each has one spelling, here. Members are
``str`` (a ``StrEnum``): the wire, the journal and JSON get the same text as before.

Nlets-style keys are refused with Nlets error numbers instead (``.01.``, ``.19.``…):
``formats.errors.NletsError``, their titles in ``formats.errors.NLETS_ERRORS``.
"""

from __future__ import annotations

from enum import StrEnum, unique


@unique
class RejectCode(StrEnum):
    """Reject codes, grouped by who answers with them."""

    # the grammar (formats.grammar): the message cannot be read
    BAD_FORMAT = "BAD-FORMAT"
    BAD_KEY = "BAD-KEY"
    BAD_ORI = "BAD-ORI"
    MISSING_FIELD = "MISSING-FIELD"
    BAD_VALUE = "BAD-VALUE"
    FIELD_NOT_ALLOWED = "FIELD-NOT-ALLOWED"
    DUPLICATE_FIELD = "DUPLICATE-FIELD"

    # the switch's session (lems.switch, lems.limits)
    NOT_SIGNED_ON = "NOT-SIGNED-ON"
    SIGN_ON = "SIGN-ON"
    BAD_FRAME = "BAD-FRAME"
    BAD_ACK = "BAD-ACK"
    MAILBOX_FULL = "MAILBOX-FULL"
    RATE_LIMIT = "RATE-LIMIT"

    # routing (lems.router): no service to take it
    NOT_AVAILABLE = "NOT-AVAILABLE"
    NOT_DELIVERABLE = "NOT-DELIVERABLE"
    SYSTEM_ERROR = "SYSTEM-ERROR"

    # policy (lems.policy, docs/RULES.md): who may send what
    SPOOF = "SPOOF"
    UNKNOWN_ORI = "UNKNOWN-ORI"
    SUSPENDED = "SUSPENDED"
    NO_AGREEMENT = "NO-AGREEMENT"
    EXPIRED_AGREEMENT = "EXPIRED-AGREEMENT"
    KEY_NOT_ALLOWED = "KEY-NOT-ALLOWED"
    NOT_DESIGNATED = "NOT-DESIGNATED"
    CJ_ONLY = "CJ-ONLY"
    CONSENT_REQUIRED = "CONSENT-REQUIRED"

    # record files (lems.endpoints.ncic, lems.endpoints.nics, lems.state.*)
    NOT_FOUND = "NOT-FOUND"
    NOT_OWNER = "NOT-OWNER"
    NAME_MISMATCH = "NAME-MISMATCH"
    RECORD_STATUS = "RECORD-STATUS"
    DATE_IN_FUTURE = "DATE-IN-FUTURE"
    DEPENDENT_FIELD = "DEPENDENT-FIELD"
    NOT_ON_FILE = "NOT-ON-FILE"
    BAD_RECORD = "BAD-RECORD"
    PPF_USE = "PPF-USE"
    ID_REQUIRED = "ID-REQUIRED"
    SET_ASIDE_REFUSED = "SET-ASIDE-REFUSED"
    FPI_REQUIRED = "FPI-REQUIRED"


MISUSE = frozenset(
    {
        RejectCode.SPOOF,
        RejectCode.KEY_NOT_ALLOWED,
        RejectCode.CJ_ONLY,
        RejectCode.CONSENT_REQUIRED,
        RejectCode.NOT_DESIGNATED,
        RejectCode.SUSPENDED,
        RejectCode.UNKNOWN_ORI,
        RejectCode.NO_AGREEMENT,
        RejectCode.EXPIRED_AGREEMENT,
    }
)
"""Refusals that mean an agency asked for what it may not have (the policy rejects): what an
audit counts as attempted misuse."""
