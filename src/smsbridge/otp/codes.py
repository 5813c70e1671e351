"""Passcodes (pure): make them, keep only a keyed digest of them, and put them in the text."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from smsbridge.errors import Invalid

DEFAULT_LENGTH = 6
MIN_LENGTH, MAX_LENGTH = 4, 10
PLACEHOLDER = re.compile(r"\{\{\s*passcode\s*\}\}")
_SUPPLIED = re.compile(r"^[A-Za-z0-9]{4,10}$")


def new_passcode(length: int) -> str:
    """A random numeric passcode. It never starts with 0: the document types the passcode as
    a number in its answers, where a leading zero would silently vanish."""
    first = str(1 + secrets.randbelow(9))
    return first + "".join(str(secrets.randbelow(10)) for _ in range(length - 1))


def passcode_length(value: Any) -> int:
    """The `length` field. The document types it `object` (its example is "{}"), and clients
    generated from it can only send an object: an empty one (or "{}") means the default, one
    holding a single number means that number; otherwise a whole number from 4 to 10."""
    if value is None or value == {} or value == "{}":
        return DEFAULT_LENGTH
    if isinstance(value, dict) and len(value) == 1:
        value = next(iter(value.values()))
    if isinstance(value, bool):
        raise Invalid("INVALID_LENGTH", "length is a number of digits from 4 to 10.")
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not MIN_LENGTH <= value <= MAX_LENGTH:
        raise Invalid("INVALID_LENGTH", "length is a number of digits from 4 to 10.")
    return value


def check_supplied(passcode: str) -> str:
    text = passcode.strip()
    if not _SUPPLIED.match(text):
        raise Invalid(
            "INVALID_PASSCODE", "A passcode you supply is 4 to 10 letters or digits, no spaces."
        )
    return text


def render(template: str | None, default: str, passcode: str) -> str:
    """The SMS text: the template with every {{passcode}} replaced."""
    text = default if template is None or not template.strip() else template
    if not PLACEHOLDER.search(text):
        raise Invalid(
            "INVALID_TEMPLATE", "The template must contain {{passcode}}, where the code goes."
        )
    return PLACEHOLDER.sub(passcode, text)


def digest(key: bytes, account_id: str, passcode: str) -> str:
    """What we store instead of the passcode. Keyed (HMAC) because a six-digit code hashed
    plainly is found by trying all million; per account, so equal codes of two accounts
    never meet. Case-insensitive for supplied letter codes, as a person types them."""
    message = f"{account_id}\x00{passcode.strip().upper()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
