"""HMAC-SHA256 signatures of webhook bodies, so a receiver can tell our POSTs from forgeries.

How a receiver checks a webhook:

1. Take the raw request body (the exact bytes, before any JSON parsing) and the
   `X-Smsbridge-Timestamp` header (Unix seconds).
2. Compute `"sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body))` with the account's
   webhook secret, and compare it with `X-Smsbridge-Signature` in constant time.
3. Refuse a timestamp more than a few minutes from your own clock: the timestamp is inside the
   signature, so a captured request cannot be replayed later with a fresh one.
4. Use `X-Smsbridge-Event-Id` to ignore duplicates: a retried event keeps its id.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

SIGNATURE_HEADER = "X-Smsbridge-Signature"
TIMESTAMP_HEADER = "X-Smsbridge-Timestamp"
EVENT_ID_HEADER = "X-Smsbridge-Event-Id"
EVENT_HEADER = "X-Smsbridge-Event"

SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp` (Unix seconds)."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(
    secret: str,
    timestamp: int | str,
    body: bytes,
    signature: str,
    *,
    now: datetime | float,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """Whether `signature` is ours for this body and timestamp, and the timestamp is recent.

    `timestamp` may be the header text as received; `now` a datetime or Unix seconds.
    """
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(current - sent_at) > tolerance_seconds:
        return False
    expected = sign(secret, sent_at, body)
    # compare_digest: the time taken must not reveal how many leading characters matched.
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8"))
