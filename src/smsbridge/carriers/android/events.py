"""The app's webhooks read as receipts and inbound SMS, and their signatures checked (pure).

The app signs each webhook with HMAC-SHA256 over the raw body followed by the X-Timestamp
header (Unix seconds), hex in X-Signature, with the signing key shown in its settings.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from smsbridge.messages.status import Status

RECEIPT_EVENTS = {
    "sms:sent": Status.SENT,
    "sms:delivered": Status.DELIVERED,
    "sms:failed": Status.UNDELIVERABLE,
}


def signature_valid(
    key: str, body: bytes, timestamp: str, signature: str, now: datetime, max_age_seconds: float
) -> bool:
    """Whether a webhook was signed with `key` and is fresh (an old one is a replay)."""
    if not key or not timestamp.isdigit() or not signature:
        return False
    if abs(now.timestamp() - int(timestamp)) > max_age_seconds:
        return False
    expected = hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def sign(key: str, body: bytes, timestamp: str) -> str:
    return hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ReceivedSms:
    sender: str
    text: str
    received_at: datetime
    sim_number: int | None
    recipient: str | None


def parse_received(payload: dict[str, Any]) -> ReceivedSms:
    """An sms:received payload; raises ValueError (KeyError, TypeError) when it is not one."""
    text = payload["message"]
    sender = payload["phoneNumber"]
    if not isinstance(text, str) or not isinstance(sender, str) or not sender:
        raise ValueError("message and phoneNumber must be strings")
    received = datetime.fromisoformat(str(payload["receivedAt"]).replace("Z", "+00:00"))
    if received.tzinfo is None:
        received = received.replace(tzinfo=UTC)
    sim = payload.get("simNumber")
    recipient = payload.get("recipient")
    return ReceivedSms(
        sender=sender,
        text=text,
        received_at=received.astimezone(UTC),
        sim_number=sim if isinstance(sim, int) else None,
        recipient=recipient if isinstance(recipient, str) and recipient else None,
    )


def inbound_ref(phone: str, sms: ReceivedSms) -> str:
    """The carrier id of an inbound SMS. The app's own messageId is derived from the content
    and is not unique (the same text twice has the same id), so ours is the SMS itself:
    phone, SIM, sender, the instant the phone received it, and the text. The app resending a
    webhook keeps all of these, so the SMS is stored once; the same text sent again later is
    received at another instant, so it is a new SMS."""
    fingerprint = hashlib.sha256(
        "|".join(
            (
                phone,
                str(sms.sim_number or ""),
                sms.sender,
                sms.received_at.isoformat(timespec="milliseconds"),
                sms.text,
            )
        ).encode()
    ).hexdigest()
    return f"android-{fingerprint[:40]}"


def receipt_status(event: str, reason: str | None) -> Status | None:
    status = RECEIPT_EVENTS.get(event)
    if (
        status == Status.UNDELIVERABLE
        and reason
        and any(word in reason.lower() for word in ("ttl", "expired", "valid until", "validuntil"))
    ):
        return Status.EXPIRED
    return status
