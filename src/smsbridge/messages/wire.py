"""The SMS Works wire format (pure): its dates, its way of writing numbers, its records.

The contract is The SMS Works' OpenAPI document (v1.9.0). Its dates are JavaScript's
`Date.prototype.toString()` form, "Wed Jul 19 2017 20:53:46 GMT+0100 (BST)", both in what it
sends and in its examples of what it takes; numbers are digits without '+'; `destination` in a
message record is a JSON number. No library writes or reads that date form (it is not RFC 2822
nor ISO 8601, and dateutil guesses wrongly at the parenthesised zone name), so it is done here,
with the numeric offset as the only authority.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {name.lower(): index + 1 for index, name in enumerate(_MONTHS)}

# "Sun Sep 03 2020 15:34:23 GMT+0100 (BST)": weekday optional (and ignored: the date decides),
# seconds optional, offset as +hhmm or +hh:mm, the zone's name in brackets ignored.
_JS_DATE = re.compile(
    r"""^(?:[A-Za-z]{3},?\s+)?
    (?P<month>[A-Za-z]{3})\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})\s+
    (?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d{1,6})?)?
    \s*(?:(?:GMT|UTC|Z)\s*(?P<offset>[+-]\d{2}:?\d{2})?)?
    \s*(?:\([^()]{0,64}\))?$""",
    re.VERBOSE,
)


class BadDate(ValueError):
    """Text that is none of the date forms we take."""


def parse_date(value: str) -> datetime:
    """An aware datetime from ISO 8601, the JavaScript date string, or RFC 2822.

    A time without a zone is UTC (The SMS Works is a UK service and its ISO examples end in Z).
    """
    text = value.strip()
    if not text or len(text) > 100:
        raise BadDate(value)
    parsed = _iso(text) or _javascript(text) or _rfc2822(text)
    if parsed is None:
        raise BadDate(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _iso(text: str) -> datetime | None:
    if not (text[:4].isascii() and text[:4].isdigit()):
        return None
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None


def _javascript(text: str) -> datetime | None:
    match = _JS_DATE.match(text)
    if match is None:
        return None
    month = _MONTH_NUMBER.get(match["month"].lower())
    if month is None:
        return None
    offset = match["offset"]
    zone = UTC
    if offset:
        digits = offset.replace(":", "")
        minutes = int(digits[1:3]) * 60 + int(digits[3:5])
        if minutes >= 24 * 60:
            return None
        zone = timezone(timedelta(minutes=-minutes if digits[0] == "-" else minutes))
    try:
        return datetime(
            int(match["year"]),
            month,
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"] or 0),
            tzinfo=zone,
        )
    except ValueError:
        return None


_RFC2822_START = re.compile(r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s")


def _rfc2822(text: str) -> datetime | None:
    # JavaScript's toUTCString() ("Mon, 06 Jan 2025 09:00:00 GMT"); only in that order, so
    # the lenient stdlib parser never takes a broken JavaScript date for something else.
    if not _RFC2822_START.match(text):
        return None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def js_date(when: datetime | None, zone: ZoneInfo) -> str:
    """`Date.prototype.toString()` of `when` in `zone`: "Tue Dec 01 2026 11:40:00 GMT+0000 (GMT)".

    The zone's abbreviation stands in the brackets, as in the document's examples (Node.js
    prints a long name there nowadays; readers ignore it, the offset is what counts).
    """
    if when is None:
        return ""
    local = when.astimezone(zone)
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return (
        f"{_DAYS[local.weekday()]} {_MONTHS[local.month - 1]} {local.day:02d} {local.year:04d} "
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d} "
        f"GMT{sign}{minutes // 60:02d}{minutes % 60:02d} ({local.tzname() or 'UTC'})"
    )


def digits(number: str) -> str:
    """A number as The SMS Works writes it: E.164 without '+'. Names pass unchanged."""
    return number[1:] if number.startswith("+") and number[1:].isdigit() else number


def number_value(number: str) -> int | str:
    """`destination` of a message record: a JSON number where the number is all digits."""
    plain = digits(number)
    return int(plain) if plain.isascii() and plain.isdigit() and len(plain) <= 17 else plain


def national_identifier(number: str) -> str:
    """The number without its country code ("7777777777" for 447777777777)."""
    try:
        parsed = phonenumbers.parse(number if number.startswith("+") else "+" + number, None)
    except phonenumbers.NumberParseException:
        return digits(number)
    return str(phonenumbers.national_significant_number(parsed))


def cap_page(
    records: list[dict[str, Any]], skip: int, max_bytes: int
) -> tuple[list[dict[str, Any]], int | None]:
    """At most `max_bytes` of records (at least one), and the `skip` that continues after
    them when the page was cut short (None when it was not)."""
    total = 0
    for index, record in enumerate(records):
        total += len(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())
        if total > max_bytes and index > 0:
            return records[:index], skip + index
    return records, None


def drop_empty(record: dict[str, Any], *keys: str) -> dict[str, Any]:
    """Leave out optional fields with no value: the document's types are not nullable, so a
    strict client refuses `"batchid": null` where it accepts no batchid at all."""
    for key in keys:
        if record.get(key) is None:
            record.pop(key, None)
    return record
