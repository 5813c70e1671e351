"""Check and price one outbound request (pure: the caller supplies the numbers it holds)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email

from smsbridge.boundary import text_problem
from smsbridge.credits.pricing import RateTable, price_milli
from smsbridge.errors import Invalid, ServiceError
from smsbridge.messages.wire import BadDate, parse_date
from smsbridge.numbers.phone import InvalidNumber, is_alphanumeric_sender, normalise_number
from smsbridge.segments import plan

TAG_MAX = 50
DEFAULT_VALIDITY_MINUTES = 2880
MAX_VALIDITY_MINUTES = 2880  # The SMS Works' maximum


@dataclass(frozen=True)
class Policy:
    """What the account and the operator allow; read once per request."""

    home_region: str
    allow_domestic: bool
    allow_international: bool
    held_numbers: frozenset[str]
    max_content_length: int
    max_schedule_days: int
    smart_encoding: bool
    rates: RateTable


@dataclass(frozen=True)
class Common:
    """The fields one batch shares: checked once, not per destination."""

    sender: str
    content: str
    tag: str | None
    response_emails: list[str]
    schedule: datetime | None
    validity_minutes: int
    deliveryreporturl: str | None
    encoding: str
    segments: int


@dataclass(frozen=True)
class Priced:
    destination: str
    country: str
    credits_milli: int


def check_common(
    *,
    sender: str,
    content: str,
    tag: str | None,
    responseemail: list[str] | None,
    schedule: str | None,
    validity: int | None,
    deliveryreporturl: str | None,
    ai: bool | None,
    policy: Policy,
    now: datetime,
) -> Common:
    clean_sender = check_sender(sender, policy)
    if content is None or not content.strip():
        raise Invalid("EMPTY_CONTENT", "The message content is empty.")
    problem = text_problem(content)
    if problem is not None:
        raise Invalid("INVALID_CONTENT", f"The content holds {problem}; no SMS can carry it.")
    if len(content) > policy.max_content_length:
        raise Invalid(
            "CONTENT_TOO_LONG",
            f"The content is {len(content)} characters; the most is {policy.max_content_length}.",
        )
    try:
        segment_plan = plan(content, smart_encoding=policy.smart_encoding if ai is None else ai)
    except ValueError as exc:  # e.g. a lone surrogate: billable in theory, never sendable
        raise Invalid("INVALID_CONTENT", f"The content cannot be sent as SMS: {exc}") from exc
    text = "".join(segment_plan.parts)
    if not text.strip():
        # Smart encoding may remove invisible characters and leave nothing to send.
        raise Invalid("EMPTY_CONTENT", "The message content is empty.")
    return Common(
        sender=clean_sender,
        content=text,
        tag=check_tag(tag),
        response_emails=check_emails(responseemail or []),
        schedule=check_schedule(schedule, policy, now),
        validity_minutes=check_validity(validity),
        deliveryreporturl=check_url(deliveryreporturl),
        encoding=str(segment_plan.encoding),
        segments=segment_plan.segments,
    )


def check_sender(sender: str, policy: Policy) -> str:
    raw = (sender or "").strip()
    if not raw:
        raise Invalid("INVALID_SENDER", "The sender is empty: give a Reply Number or a name.")
    if len(raw) > 20 or text_problem(raw) is not None:
        raise Invalid(
            "INVALID_SENDER",
            "The sender is not allowed: use 1-11 letters, digits, spaces or . & - _ with at "
            "least one letter, or a Reply Number you hold.",
        )
    if raw.lstrip("+").isdigit():
        try:
            number = normalise_number(raw, policy.home_region, require_mobile=False).e164
        except InvalidNumber as exc:
            raise Invalid("INVALID_SENDER", f"The sender '{raw}' is not a valid number.") from exc
        if number not in policy.held_numbers:
            raise ServiceError(
                403,
                "SENDER_NOT_HELD",
                f"The sender {number} is not a Reply Number this account holds.",
            )
        return number
    if not is_alphanumeric_sender(raw):
        raise Invalid(
            "INVALID_SENDER",
            f"The sender '{raw}' is not allowed: use 1-11 letters, digits, spaces or . & - _ "
            "with at least one letter, or a Reply Number you hold.",
        )
    return raw


def check_tag(tag: str | None) -> str | None:
    if tag is None or tag == "":
        return None
    if len(tag) > TAG_MAX:
        raise Invalid("TAG_TOO_LONG", f"The tag is {len(tag)} characters; the most is {TAG_MAX}.")
    if text_problem(tag) is not None or any(unicodedata.category(ch) in ("Cc", "Cf") for ch in tag):
        raise Invalid("INVALID_TAG", "The tag contains control or invalid characters.")
    return tag


def check_emails(addresses: list[str]) -> list[str]:
    if len(addresses) > 20:
        raise Invalid("TOO_MANY_EMAILS", "Give at most 20 addresses in responseemail.")
    clean: list[str] = []
    for address in addresses:
        if not isinstance(address, str) or len(address) > 320 or text_problem(address):
            raise Invalid("INVALID_EMAIL", "An address in responseemail is not an email address.")
        try:
            result = validate_email(address, check_deliverability=False)
        except EmailNotValidError as exc:
            raise Invalid(
                "INVALID_EMAIL", f"'{address}' in responseemail is not an email address: {exc}"
            ) from exc
        if result.normalized not in clean:
            clean.append(result.normalized)
    return clean


def parse_time(value: str, field: str) -> datetime:
    try:
        return parse_date(value)
    except BadDate as exc:
        raise Invalid(
            "INVALID_DATE",
            f"'{value[:100]}' in {field} is not a date-time: write it like 2026-12-01T09:30:00Z "
            "or Tue Dec 01 2026 09:30:00 GMT+0000.",
        ) from exc


def check_schedule(schedule: str | None, policy: Policy, now: datetime) -> datetime | None:
    if not schedule:
        return None
    when = parse_time(schedule, "schedule")
    if when < now - timedelta(seconds=30):
        raise Invalid("SCHEDULE_IN_PAST", f"The schedule {schedule} is in the past.")
    if when > now + timedelta(days=policy.max_schedule_days):
        raise Invalid(
            "SCHEDULE_TOO_FAR",
            f"The schedule {schedule} is more than {policy.max_schedule_days} days ahead.",
        )
    return when


def check_validity(validity: int | None) -> int:
    if validity is None:
        return DEFAULT_VALIDITY_MINUTES
    if not 1 <= validity <= MAX_VALIDITY_MINUTES:
        raise Invalid("INVALID_VALIDITY", f"validity must be 1 to {MAX_VALIDITY_MINUTES} minutes.")
    return validity


_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def check_url(url: str | None) -> str | None:
    if not url:
        return None
    if len(url) > 2048 or text_problem(url) is not None or not _URL.match(url):
        raise Invalid("INVALID_URL", f"'{url}' is not an http(s) URL.")
    return url


def price_destination(raw: str, common: Common, policy: Policy) -> Priced:
    try:
        destination = normalise_number(raw, policy.home_region)
    except InvalidNumber as exc:
        raise Invalid(exc.code, str(exc)) from exc
    domestic = destination.region == policy.home_region
    if domestic and not policy.allow_domestic:
        raise ServiceError(
            403, "DOMESTIC_NOT_ALLOWED", "This account may not send to domestic numbers."
        )
    if not domestic and not policy.allow_international:
        raise ServiceError(
            403,
            "INTERNATIONAL_NOT_ALLOWED",
            f"{destination.e164} is outside {policy.home_region} and this account sends "
            "domestically only; an operator can enable international sending.",
        )
    return Priced(
        destination=destination.e164,
        country=destination.region,
        credits_milli=price_milli(common.segments, destination.region, policy.rates),
    )
