"""Errors every service can raise, and the one table of error codes they come from.

Each code has a number (The SMS Works' `errorCode`), an HTTP status, whether it is permanent
(the same request will fail the same way until the client changes it) and a sentence. The API's
error bodies, `GET /v1/utils/errors/{errorcode}` and docs/api.md all read this table, and a test
checks that every code raised anywhere in the source is in it with the status it is raised with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorCode:
    code: str
    number: int
    http_status: int
    permanent: bool
    summary: str


def _table(*rows: tuple[str, int, int, bool, str]) -> dict[str, ErrorCode]:
    table: dict[str, ErrorCode] = {}
    numbers: set[int] = set()
    for code, number, status, permanent, summary in rows:
        if code in table or number in numbers:
            raise ValueError(f"error code {code} ({number}) is listed twice")
        table[code] = ErrorCode(code, number, status, permanent, summary)
        numbers.add(number)
    return table


# Numbers are grouped by what went wrong: 1xxx the request, 2xxx who is asking, 3xxx credit,
# 4xxx what was asked for, 5xxx the account page, 6xxx Reply Numbers and email, 9xxx us.
# A number, once given out, keeps its meaning: clients branch on it.
ERROR_CODES: dict[str, ErrorCode] = _table(
    # -- the request's shape -----------------------------------------------------------------
    ("MALFORMED_JSON", 1000, 400, True, "The request body is not valid JSON in UTF-8."),
    ("MISSING_BODY", 1001, 400, True, "The request needs a JSON body."),
    ("MISSING_FIELD", 1002, 400, True, "A required field is missing."),
    ("UNKNOWN_FIELD", 1003, 400, True, "A field is not part of this request (check spelling)."),
    ("INVALID_FIELD", 1004, 400, True, "A field has the wrong type or an impossible value."),
    ("REQUEST_TOO_LARGE", 1005, 413, True, "The request body is larger than the server allows."),
    ("UNSUPPORTED_MEDIA_TYPE", 1006, 415, True, "The request body must be application/json."),
    ("METHOD_NOT_ALLOWED", 1007, 405, True, "This path does not take that HTTP method."),
    ("NOT_FOUND", 1008, 404, True, "There is no such path or resource."),
    ("INVALID_IDEMPOTENCY_KEY", 1009, 400, True, "An Idempotency-Key is 1-255 characters."),
    (
        "IDEMPOTENCY_KEY_REUSED",
        1010,
        422,
        True,
        "The Idempotency-Key was already used for a different request.",
    ),
    (
        "IDEMPOTENCY_CONFLICT",
        1011,
        409,
        False,
        "A request with this Idempotency-Key is still in progress; retry shortly.",
    ),
    ("INVALID_METADATA", 1012, 400, True, "metadata is too large, too deep or not plain JSON."),
    ("INVALID_TEXT", 1013, 400, True, "A text field holds characters that cannot be stored."),
    # -- content and tag ---------------------------------------------------------------------
    ("EMPTY_CONTENT", 1100, 400, True, "The message content is empty."),
    ("CONTENT_TOO_LONG", 1101, 400, True, "The content is longer than the most allowed."),
    ("INVALID_CONTENT", 1102, 400, True, "The content holds characters no SMS can carry."),
    ("TOO_MANY_SEGMENTS", 1103, 400, True, "The text needs more SMS segments than allowed."),
    ("TAG_TOO_LONG", 1110, 400, True, "The tag is over 50 characters."),
    ("INVALID_TAG", 1111, 400, True, "The tag contains control characters."),
    # -- numbers and senders -----------------------------------------------------------------
    ("INVALID_DESTINATION", 1200, 400, True, "The destination is not a valid phone number."),
    ("NOT_A_MOBILE", 1201, 400, True, "The destination is not a mobile number."),
    ("INVALID_SENDER", 1202, 400, True, "The sender is neither a Reply Number nor a valid name."),
    ("SENDER_NOT_HELD", 1203, 403, True, "A numeric sender must be a Reply Number you hold."),
    (
        "INTERNATIONAL_NOT_ALLOWED",
        1204,
        403,
        True,
        "The account may not send outside its home country; an operator can enable it.",
    ),
    ("DOMESTIC_NOT_ALLOWED", 1205, 403, True, "The account may not send to domestic numbers."),
    (
        "DESTINATION_OPTED_OUT",
        1206,
        403,
        True,
        "The destination opted out (STOP) of messages from this sender; nothing was sent or "
        "charged. It can opt back in by texting START.",
    ),
    # -- dates, validity, URLs ---------------------------------------------------------------
    ("INVALID_DATE", 1300, 400, True, "A date is neither ISO 8601 nor a JavaScript date string."),
    ("SCHEDULE_IN_PAST", 1301, 400, True, "The schedule is in the past."),
    ("SCHEDULE_TOO_FAR", 1302, 400, True, "The schedule is further ahead than allowed."),
    ("MISSING_SCHEDULE", 1303, 400, True, "A scheduled send needs a schedule date-time."),
    ("INVALID_VALIDITY", 1304, 400, True, "validity must be 1 to 2880 minutes."),
    ("INVALID_URL", 1305, 400, True, "deliveryreporturl is not an http(s) URL."),
    ("INVALID_TTL", 1306, 400, True, "ttl must be a whole number of minutes, 1 or more."),
    # -- response emails ---------------------------------------------------------------------
    ("INVALID_EMAIL", 1400, 400, True, "An address in responseemail is not an email address."),
    ("TOO_MANY_EMAILS", 1401, 400, True, "responseemail holds more than 20 addresses."),
    # -- batches -----------------------------------------------------------------------------
    ("EMPTY_BATCH", 1500, 400, True, "The batch has no messages."),
    ("BATCH_TOO_LARGE", 1501, 400, True, "The batch has more than 5,000 messages."),
    # -- one-time passcodes ------------------------------------------------------------------
    ("INVALID_TEMPLATE", 1600, 400, True, "An OTP template must contain {{passcode}}."),
    ("INVALID_LENGTH", 1601, 400, True, "An OTP length is 4 to 10 digits."),
    ("INVALID_PASSCODE", 1602, 400, True, "A passcode is 4 to 10 letters or digits."),
    (
        "PASSCODE_IN_USE",
        1603,
        409,
        True,
        "That passcode is already live for this account; let it expire or verify it first.",
    ),
    ("OTP_NOT_FOUND", 1604, 404, True, "No live one-time passcode matches."),
    ("OTP_ALREADY_VERIFIED", 1605, 409, True, "That passcode was verified already."),
    (
        "TOO_MANY_OTP_ATTEMPTS",
        1606,
        429,
        False,
        "Too many wrong passcodes; wait before trying again.",
    ),
    # -- the opt-out list --------------------------------------------------------------------
    (
        "INVALID_IMPORT",
        1700,
        400,
        True,
        "Some lines of an opt-out list are not valid numbers; nothing was added (see details).",
    ),
    ("INVALID_KEYWORDS", 1701, 400, True, "A keyword list is empty, malformed or ambiguous."),
    ("INVALID_OPTOUT_TEXT", 1702, 400, True, "An automatic reply text is empty or too long."),
    ("INVALID_SCOPE", 1703, 400, True, "An opt-out scope is pair or account."),
    # -- who is asking -----------------------------------------------------------------------
    ("UNAUTHORIZED", 2000, 401, True, "The API key is missing, unknown or revoked."),
    ("FORBIDDEN", 2001, 403, True, "This key or user may not do that."),
    # -- credit ------------------------------------------------------------------------------
    (
        "INSUFFICIENT_CREDIT",
        3000,
        402,
        False,
        "The balance cannot cover the send; nothing was sent. Add credit and try again.",
    ),
    # -- what was asked for ------------------------------------------------------------------
    ("MESSAGE_NOT_FOUND", 4000, 404, True, "There is no such message on this account."),
    ("BATCH_NOT_FOUND", 4001, 404, True, "There is no such batch on this account."),
    ("ACCOUNT_NOT_FOUND", 4002, 404, True, "There is no such account."),
    ("NUMBER_NOT_FOUND", 4003, 404, True, "The account holds no such Reply Number."),
    ("KEY_NOT_FOUND", 4004, 404, True, "There is no such API key on this account."),
    ("USER_NOT_FOUND", 4005, 404, True, "There is no such user."),
    ("ERROR_CODE_NOT_FOUND", 4006, 404, True, "There is no such error code."),
    ("OPTOUT_NOT_FOUND", 4007, 404, True, "That number is not on the account's opt-out list."),
    ("NOT_SCHEDULED", 4100, 409, True, "The message is no longer scheduled."),
    ("NUMBER_NOT_AVAILABLE", 4101, 409, True, "That number cannot be assigned now."),
    ("POOL_EMPTY", 4102, 409, False, "No free Reply Number is left in the pool."),
    # -- the account page and its users ------------------------------------------------------
    ("SIGN_IN_FAILED", 5000, 401, True, "That email and password do not match."),
    ("TOO_MANY_ATTEMPTS", 5001, 429, False, "Too many failed sign-ins; wait and try again."),
    ("WRONG_PASSWORD", 5002, 400, True, "The current password is wrong."),
    ("PASSWORD_TOO_SHORT", 5003, 400, True, "The password is too short."),
    ("PASSWORD_TOO_LONG", 5004, 400, True, "The password is too long."),
    ("PASSWORDS_DIFFER", 5005, 400, True, "The two new passwords differ."),
    ("PASSWORD_UNCHANGED", 5006, 400, True, "The new password is the current one."),
    ("USER_EXISTS", 5007, 409, True, "There is already a user with that email."),
    ("INVALID_ROLE", 5008, 400, True, "A role is user or operator."),
    ("ACCOUNT_REQUIRED", 5009, 400, True, "A user who is not an operator needs an account."),
    ("INVALID_NAME", 5010, 400, True, "A name cannot be empty."),
    ("NOT_ALLOWED", 5011, 403, True, "Only an operator may do that."),
    # -- Reply Numbers and email -------------------------------------------------------------
    ("TOO_MANY_TAGS", 6000, 400, True, "A Reply Number has too many tags, or one too long."),
    ("EMPTY_EMAIL", 6001, 400, True, "The request body holds no email."),
    ("EMAIL_TOO_LARGE", 6002, 413, True, "The email is larger than the server accepts."),
    ("UNKNOWN_RECIPIENT", 6003, 422, True, "No Reply Number or conversation has that address."),
    # -- us ----------------------------------------------------------------------------------
    ("INTERNAL_ERROR", 9000, 500, False, "Something went wrong on our side; nothing was sent."),
    ("RATE_LIMITED", 9001, 429, False, "Too many requests; slow down and retry."),
)

_BY_NUMBER = {entry.number: entry for entry in ERROR_CODES.values()}


def error_code(code: str) -> ErrorCode:
    """The table's entry for `code`; an unlisted code (a bug) is reported as an internal one,
    never with a made-up number."""
    return ERROR_CODES.get(code) or ERROR_CODES["INTERNAL_ERROR"]


def find_error_code(text: str) -> ErrorCode | None:
    """Look a code up by its number ("3000") or its name ("INSUFFICIENT_CREDIT")."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        return _BY_NUMBER.get(int(text))
    return ERROR_CODES.get(text.upper())


class ServiceError(Exception):
    """A request we refuse. The API turns it into The SMS Works' error model plus our code."""

    def __init__(
        self, status: int, code: str, message: str, *, details: list[Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class NotFound(ServiceError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(404, code, message)


class Invalid(ServiceError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(400, code, message)
