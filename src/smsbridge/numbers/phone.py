"""Normalise destinations to E.164 and validate sender IDs (pure, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

# Ofcom keeps 07700 900000-900999 for drama and documentation. libphonenumber calls these
# invalid, but they are the numbers our docs and the simulated handset use, so we accept
# them as GB mobiles; a real SMSC will refuse them, which is what we want.
_DRAMA_RANGE = re.compile(r"^\+447700900\d{3}$")

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}

# GSM alphanumeric sender IDs: letters, digits, space and a few punctuation marks that every
# network passes. At least one letter, or it is a (short) number, not a name.
_ALPHA_SENDER = re.compile(r"^[A-Za-z0-9 .&\-_]{1,11}$")


class InvalidNumber(ValueError):
    """A number we cannot send to; `code` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Destination:
    e164: str
    region: str


def normalise_number(raw: str, default_region: str, *, require_mobile: bool = True) -> Destination:
    """Turn `447...`, `+447...` or `07...` into E.164, or raise InvalidNumber."""
    text = re.sub(r"[\s\-().]", "", raw or "")
    if not text:
        raise InvalidNumber("INVALID_DESTINATION", "The destination is empty.")
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text.isdigit() and not text.startswith("0"):
        # SMS Works clients send international numbers without the plus: 447700900123.
        text = "+" + text
    if not re.fullmatch(r"\+?\d{3,17}", text):
        raise InvalidNumber(
            "INVALID_DESTINATION", f"'{raw}' is not a phone number: use digits, e.g. 447700900123."
        )
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber("INVALID_DESTINATION", f"'{raw}' is not a phone number.") from exc
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if _DRAMA_RANGE.match(e164):
        return Destination(e164=e164, region="GB")
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber("INVALID_DESTINATION", f"'{raw}' is not a valid phone number.")
    if require_mobile and phonenumbers.number_type(parsed) not in _MOBILE_TYPES:
        raise InvalidNumber(
            "NOT_A_MOBILE", f"'{raw}' is not a mobile number, so it cannot receive SMS."
        )
    region = phonenumbers.region_code_for_number(parsed) or "ZZ"
    return Destination(e164=e164, region=region)


def e164_or_as_written(raw: str, default_region: str) -> str:
    """`raw` in E.164 when it is a phone number of any type, else as written without its
    surrounding space: a short code or a sender name stays what it was, never refused."""
    try:
        return normalise_number(raw, default_region, require_mobile=False).e164
    except InvalidNumber:
        return raw.strip()


def region_of(raw: str, default_region: str) -> str:
    """The region (e.g. "GB") of a phone number of any type, or "" for anything else."""
    try:
        return normalise_number(raw, default_region, require_mobile=False).region
    except InvalidNumber:
        return ""


def is_alphanumeric_sender(sender: str) -> bool:
    """True for a valid alphanumeric sender ID (1-11 characters, at least one letter)."""
    return bool(_ALPHA_SENDER.match(sender)) and any(ch.isalpha() for ch in sender)
