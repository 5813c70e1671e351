"""SMPP addresses: TON/NPI and digits for what a sender or destination is, and MO numbers back
to E.164 (pure, no I/O).

SMSCs judge source_addr by its TON: TON 5 (alphanumeric) allows at most 11 GSM characters, so a
Reply Number written "+447700900801" as TON 5 is refused, or shown as a name nobody can reply
to. A number goes as digits only (no "+"), with TON 1 (international) or TON 2 (national), NPI 1
(E.164); a short code as TON 3 (network specific); a name as TON 5 / NPI 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

import phonenumbers

AddressKind: TypeAlias = Literal["international", "national", "short_code", "alphanumeric"]
NumberFormat: TypeAlias = Literal["international", "national"]

# TON and NPI per kind of address (SMPP 3.4 sections 5.2.5 and 5.2.6).
DEFAULT_TON_NPI: Final[Mapping[AddressKind, tuple[int, int]]] = {
    "international": (1, 1),
    "national": (2, 1),
    "short_code": (3, 0),
    "alphanumeric": (5, 0),
}
# Networks' short codes have 3 to 8 digits; an E.164 number written without "+" has more.
SHORT_CODE_DIGITS: Final = range(3, 9)
MAX_ALPHANUMERIC: Final = 11
# Alphanumeric senders travel as 7-bit GSM characters on the air and as ASCII in SMPP: the
# characters both have, and that every network passes.
_ALPHANUMERIC: Final = re.compile(r"^[A-Za-z0-9 .&\-_+!#%'()*,/:;<=>?@]+$")
TON_ALPHANUMERIC: Final = 5


class AddressError(ValueError):
    """An address this SMSC connection cannot carry (a permanent refusal: resending is useless)."""


@dataclass(frozen=True)
class SmppAddress:
    ton: int
    npi: int
    addr: str
    kind: AddressKind


def kind_of(address: str) -> AddressKind:
    """What an address is: "+44..." or a long digit string is an international number, "0..."
    a national one, 3-8 digits a short code, anything else a name."""
    text = address.strip()
    if text.startswith("+") and text[1:].isdigit():
        return "international"
    if text.isascii() and text.isdigit():
        if text.startswith("0") and len(text) > max(SHORT_CODE_DIGITS):
            return "national"
        if len(text) in SHORT_CODE_DIGITS:
            return "short_code"
        return "international"
    return "alphanumeric"


def _national_digits(e164: str, home_region: str) -> str | None:
    """The number as dialled inside `home_region` (trunk prefix included), or None when it is
    another country's number, which only international format can express."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    if parsed.country_code != phonenumbers.country_code_for_region(home_region):
        return None
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    digits = re.sub(r"\D", "", national)
    return digits or None


def outbound_address(
    address: str,
    *,
    home_region: str,
    number_format: NumberFormat = "international",
    ton_npi: Mapping[AddressKind, tuple[int, int]] | None = None,
    force_ton: int | None = None,
    force_npi: int | None = None,
) -> SmppAddress:
    """How `address` (a sender or a destination, as stored) goes in a submit_sm.

    `number_format` "national" writes numbers of `home_region` nationally (07700 900801 as
    "07700900801", TON 2); other countries' numbers stay international. `ton_npi` overrides the
    TON/NPI of a kind; `force_ton`/`force_npi` set them for every address (an SMSC that wants
    TON 0 for everything). Raises AddressError for a name SMSCs refuse.
    """
    text = address.strip()
    kind = kind_of(text)
    addr = text
    if kind == "international":
        digits = text.lstrip("+")
        addr = digits
        if number_format == "national":
            national = _national_digits("+" + digits, home_region)
            if national is not None:
                kind, addr = "national", national
    elif kind == "alphanumeric":
        if len(text) > MAX_ALPHANUMERIC:
            raise AddressError(
                f"the alphanumeric sender {text!r} has {len(text)} characters; SMSCs take at "
                f"most {MAX_ALPHANUMERIC}"
            )
        if not _ALPHANUMERIC.match(text):
            raise AddressError(
                f"the alphanumeric sender {text!r} has characters SMSCs do not carry "
                "(letters, digits, spaces and common punctuation only)"
            )
    table: dict[AddressKind, tuple[int, int]] = {**DEFAULT_TON_NPI, **(ton_npi or {})}
    ton, npi = table[kind]
    return SmppAddress(
        ton=ton if force_ton is None else force_ton,
        npi=npi if force_npi is None else force_npi,
        addr=addr,
        kind=kind,
    )


def inbound_number(addr: str, ton: int, npi: int, home_region: str) -> str:
    """An address from a deliver_sm as we store numbers: E.164 for any number (international,
    national, or of unknown type in either format), the text itself for a name or a short code.

    So a customer whose number arrives once as "447700900123" (TON 1) and once as "07700900123"
    (TON 2, or TON 0) is one handset and one conversation.
    """
    text = addr.strip()
    if ton == TON_ALPHANUMERIC or not text:
        return text
    digits = text.lstrip("+")
    if not (digits.isascii() and digits.isdigit()):
        return text
    if text.startswith("+") or ton == 1:
        candidate = "+" + digits
    elif digits.startswith("00"):
        candidate = "+" + digits[2:]
    elif ton == 2 or digits.startswith("0"):
        candidate = digits  # national: parsed with the home region below
    elif len(digits) in SHORT_CODE_DIGITS:
        return digits
    else:
        candidate = "+" + digits  # TON 0 without a trunk prefix: international without "+"
    try:
        parsed = phonenumbers.parse(candidate, home_region)
    except phonenumbers.NumberParseException:
        return "+" + digits if ton == 1 else digits
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
