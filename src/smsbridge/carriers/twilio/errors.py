"""What Twilio's answers mean to the pipeline: error codes as retry policy, statuses as receipts.

Pure: no I/O. Codes are Twilio's published error dictionary (twilio.com/docs/api/errors).
"""

from __future__ import annotations

from smsbridge.carriers.base import SubmitError
from smsbridge.messages.status import Status

# Refusals of the message itself: sending it again, here, can only be refused again.
PERMANENT_CODES: dict[int, str] = {
    21211: "invalid 'To' phone number",
    21212: "invalid 'From' phone number",
    21265: "'To' number cannot be a short code",
    21266: "'To' and 'From' are the same number",
    21408: "permission to send to this region is not enabled on the account",
    21601: "the 'To' number is not SMS-capable",
    21602: "message body is required",
    21603: "a 'From' phone number is required",
    21604: "a 'To' phone number is required",
    21606: "the 'From' number is not an SMS-capable number of this account",
    21610: "the recipient has replied STOP to this sender (unsubscribed)",
    21612: "Twilio cannot route to this 'To' number",
    21614: "the 'To' number is not a mobile number",
    21617: "the message body exceeds 1600 characters",
    21621: "the 'From' number is not enabled for this kind of message",
    21635: "the 'To' number cannot receive this message",
    21660: "the 'From' number does not belong to the account",
}

# The account as a whole cannot send right now: every message would fail alike, so another
# carrier should take them (failover) and this one is tried again later.
ACCOUNT_CODES: dict[int, str] = {
    20003: "authentication failed (account SID or Auth Token wrong)",
    20005: "the account is not active",
    30002: "the account is suspended",
}

THROTTLE_CODES = frozenset({20429, 14107, 30022})


def submit_error(http_status: int | None, code: int | None, message: str) -> SubmitError:
    """The pipeline's view of a refused Messages create: permanent for refusals of the
    message, temporary (with a policy) for throttling, the account, and Twilio's own faults."""
    detail = f"Twilio {code or http_status}: {message}".strip()[:500]
    if http_status == 429 or code in THROTTLE_CODES:
        return SubmitError(
            False,
            code,
            detail,
            retries=20,
            delay_seconds=30,
            max_delay_seconds=300,
            error_class="throttle",
        )
    if code in ACCOUNT_CODES or http_status in (401, 403):
        return SubmitError(
            False,
            code,
            f"{detail} ({ACCOUNT_CODES.get(code or 0, 'the account refused the request')})",
            retries=5,
            delay_seconds=60,
            max_delay_seconds=600,
            error_class="account",
        )
    if code in PERMANENT_CODES:
        return SubmitError(
            True, code, f"{detail} ({PERMANENT_CODES[code]})", error_class="permanent"
        )
    if http_status is not None and http_status >= 500:
        return SubmitError(
            False,
            code,
            detail,
            retries=5,
            delay_seconds=30,
            max_delay_seconds=300,
            error_class="temporary",
        )
    if http_status is not None and 400 <= http_status < 500:
        # Any other 4xx: Twilio judged the request itself; repeating it changes nothing.
        return SubmitError(True, code, detail, error_class="permanent")
    return SubmitError(False, code, detail, retries=5, delay_seconds=30, error_class="temporary")


# Delivery error codes that mean the message's time ran out rather than that it failed.
EXPIRED_CODES = frozenset({30001, 30036})

# MessageStatus values of status callbacks. Those mapped to None say nothing new to a client
# (the message is already SENT once Twilio has taken it).
_STATUSES: dict[str, Status | None] = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": None,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.DELIVERED,
    "undelivered": Status.UNDELIVERABLE,
    "failed": Status.UNDELIVERABLE,
    "canceled": Status.UNDELIVERABLE,
    "partially_delivered": Status.UNDELIVERABLE,
}


def receipt_status(message_status: str, error_code: int | None) -> Status | None:
    """Our status for a callback's MessageStatus; UNKNOWN for a word Twilio has not
    documented (kept, so the message waits for a later callback or its validity)."""
    word = message_status.strip().lower()
    if word not in _STATUSES:
        return Status.UNKNOWN
    status = _STATUSES[word]
    if status == Status.UNDELIVERABLE and error_code in EXPIRED_CODES:
        return Status.EXPIRED
    return status
