"""Signed per-conversation reply tokens and the reply addresses that carry them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

# One leading byte names the layout of what follows, so the format can change later without
# an old token ever being read as a new one. The kind also lets the common id shapes
# (integers, UUIDs) pack far smaller than their text: a reply address must fit the 64-octet
# local-part limit of RFC 5321, and "reply+" plus a token for a text UUID would not.
_KIND_TEXT = 0x01
_KIND_INT = 0x02
_KIND_UUID = 0x03

# 80 bits: an attacker can only test a guess by sending an email, so this is far beyond reach,
# while keeping the token short (16 base32 characters of the total).
_MAC_BYTES = 10
# Separates these MACs from any other use of the same key elsewhere in the application.
_MAC_LABEL = b"smsbridge/reply-token/v1\x00"
# A key shorter than this could be brute-forced offline from a single token seen in an email.
_MIN_KEY_BYTES = 16
# Versions and integer ids are varints capped here so a crafted token cannot make us build a
# huge number; 63 bits is more than any counter or database id will reach.
_MAX_VARINT = (1 << 63) - 1
# Generous bound (a text id of 200 bytes) checked before any decoding work on hostile input.
_MAX_TOKEN_CHARS = 400

_BASE32_LOWER = re.compile(r"[a-z2-7]+")
_PREFIX = re.compile(r"[A-Za-z0-9_]+(?:[.\-][A-Za-z0-9_]+)*")
_SEPARATORS = "+.-"
# Tokens are signed, not encrypted, and reply addresses get forwarded around: an id in
# E.164 form is almost certainly a phone number passed by mistake.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# RFC 5321 section 4.5.3.1.1: servers may reject longer local parts.
_MAX_LOCAL_PART = 64


@dataclass(frozen=True)
class ReplyToken:
    """What a valid token proves: the reply belongs to this version of this conversation."""

    conversation_id: str
    version: int


def make_token(conversation_id: str, version: int, key: bytes) -> str:
    """Return the token for a conversation: lowercase base32 of (id, version, truncated MAC).

    The id is readable by anyone who decodes the token (it is signed, not encrypted), so it
    must be an opaque identifier such as a database id, never a phone number.
    """
    _check_key(key)
    payload = _encode_payload(conversation_id, version)
    return _b32(payload + _mac(key, payload))


def read_token(token: str, key: bytes | Sequence[bytes]) -> ReplyToken | None:
    """Return the conversation a token was made for, or None if it is not one of ours.

    `key` may be a list so tokens made with a retired key still work during a rotation. The
    token is compared whole, in constant time, against the one each key would produce; that
    also rejects every non-canonical spelling (odd padding bits, redundant varint bytes).
    """
    keys = [key] if isinstance(key, bytes) else list(key)
    if not keys:
        raise ValueError("read_token needs at least one key")
    for each in keys:
        _check_key(each)
    candidate = token.lower()
    if not 0 < len(candidate) <= _MAX_TOKEN_CHARS or not _BASE32_LOWER.fullmatch(candidate):
        return None
    try:
        raw = base64.b32decode(candidate.upper() + "=" * (-len(candidate) % 8))
    except (binascii.Error, ValueError):
        return None
    if len(raw) <= _MAC_BYTES:
        return None
    parsed = _decode_payload(raw[:-_MAC_BYTES])
    if parsed is None:
        return None
    conversation_id, version = parsed
    payload = _encode_payload(conversation_id, version)
    # Every key is tried even after a match, so timing does not reveal which key signed it.
    matched = False
    for each in keys:
        expected = _b32(payload + _mac(each, payload))
        matched |= hmac.compare_digest(expected.encode("ascii"), candidate.encode("ascii"))
    return ReplyToken(conversation_id, version) if matched else None


def reply_address(token: str, local_prefix: str, domain: str) -> str:
    """Return `<local_prefix>+<token>@<domain>`, e.g. reply+abc...@mail.example.com."""
    if not _PREFIX.fullmatch(local_prefix):
        raise ValueError(f"unusable local part prefix: {local_prefix!r}")
    if not _BASE32_LOWER.fullmatch(token):
        raise ValueError("a token is lowercase base32; pass what make_token returned")
    if not domain or "@" in domain or any(c.isspace() for c in domain):
        raise ValueError(f"unusable domain: {domain!r}")
    local = f"{local_prefix}+{token}"
    # Failing here beats an address some receiving servers silently refuse.
    if len(local) > _MAX_LOCAL_PART:
        raise ValueError(f"reply address local part exceeds {_MAX_LOCAL_PART} characters")
    return f"{local}@{domain}"


def token_from_address(address: str, local_prefix: str, domain: str) -> str | None:
    """Return the (lowercased, unverified) token in a reply address, or None.

    Accepts `+`, `.` or `-` between prefix and token, because some mail systems rewrite or
    strip `+`, and ignores case throughout, because some lowercase whole addresses. Accepts a
    bare address or one in angle brackets. Pass the result to read_token to verify it.
    """
    text = address.strip()
    if "<" in text:
        start = text.rfind("<")
        end = text.find(">", start)
        if end == -1:
            return None
        text = text[start + 1 : end].strip()
    local, at, addr_domain = text.rpartition("@")
    if not at or _norm_domain(addr_domain) != _norm_domain(domain):
        return None
    local = local.lower()
    prefix = local_prefix.lower()
    if not local.startswith(prefix) or len(local) <= len(prefix) + 1:
        return None
    if local[len(prefix)] not in _SEPARATORS:
        return None
    token = local[len(prefix) + 1 :]
    return token if _BASE32_LOWER.fullmatch(token) else None


def _norm_domain(domain: str) -> str:
    return domain.strip().rstrip(".").lower()


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) < _MIN_KEY_BYTES:
        raise ValueError(f"a token key must be at least {_MIN_KEY_BYTES} bytes")


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, _MAC_LABEL + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _b32(data: bytes) -> str:
    # Lowercase and unpadded: mail systems may lowercase local parts, and '=' is awkward there.
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _encode_payload(conversation_id: str, version: int) -> bytes:
    if not conversation_id:
        raise ValueError("conversation_id must not be empty")
    if _E164.fullmatch(conversation_id):
        raise ValueError("conversation_id looks like a phone number; use an opaque id")
    if not 0 <= version <= _MAX_VARINT:
        raise ValueError(f"version must be between 0 and {_MAX_VARINT}")
    as_int = _canonical_int(conversation_id)
    if as_int is not None:
        return bytes([_KIND_INT]) + _varint(version) + _varint(as_int)
    as_uuid = _canonical_uuid(conversation_id)
    if as_uuid is not None:
        return bytes([_KIND_UUID]) + _varint(version) + as_uuid.bytes
    return bytes([_KIND_TEXT]) + _varint(version) + conversation_id.encode("utf-8")


def _decode_payload(payload: bytes) -> tuple[str, int] | None:
    """Parse without judging; read_token re-encodes the result and compares the whole token."""
    if not payload:
        return None
    kind, rest = payload[0], payload[1:]
    read = _read_varint(rest)
    if read is None:
        return None
    version, rest = read
    if kind == _KIND_INT:
        read = _read_varint(rest)
        if read is None or read[1]:
            return None
        return str(read[0]), version
    if kind == _KIND_UUID:
        return (str(uuid.UUID(bytes=rest)), version) if len(rest) == 16 else None
    if kind == _KIND_TEXT:
        try:
            text = rest.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return (text, version) if text else None
    return None


def _canonical_int(text: str) -> int | None:
    # Only the exact decimal spelling str(n) packs as an integer, so reading it back gives the
    # same string ("007" or "+7" stay text).
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if str(value) == text and value <= _MAX_VARINT else None


def _canonical_uuid(text: str) -> uuid.UUID | None:
    if len(text) != 36:
        return None
    try:
        value = uuid.UUID(text)
    except ValueError:
        return None
    return value if str(value) == text else None


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes) -> tuple[int, bytes] | None:
    value = 0
    for index, byte in enumerate(data[:9]):
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return (value, data[index + 1 :]) if value <= _MAX_VARINT else None
    return None
