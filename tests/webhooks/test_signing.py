"""Webhook signatures: what a receiver computes, and what it must refuse."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from smsbridge.webhooks.signing import sign, verify

SECRET = "s3cret"
BODY = b'{"event":"message.status","status":"DELIVERED"}'
TS = 1_800_000_000


def test_signature_is_hmac_of_timestamp_and_body():
    expected = hmac.new(SECRET.encode(), f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, TS, BODY) == "sha256=" + expected


def test_verify_accepts_the_real_thing_from_header_text():
    signature = sign(SECRET, TS, BODY)
    assert verify(SECRET, TS, BODY, signature, now=TS)
    assert verify(SECRET, str(TS), BODY, signature, now=TS + 299)
    assert verify(SECRET, TS, BODY, signature, now=datetime.fromtimestamp(TS, UTC))


def test_verify_refuses_tampering_wrong_secret_and_old_timestamps():
    signature = sign(SECRET, TS, BODY)
    assert not verify(SECRET, TS, BODY + b" ", signature, now=TS)
    assert not verify("other", TS, BODY, signature, now=TS)
    # The timestamp is signed: moving it to look fresh breaks the signature...
    assert not verify(SECRET, TS + 1000, BODY, signature, now=TS + 1000)
    # ...and an old (replayed) or far-future one is refused even when correctly signed.
    assert not verify(SECRET, TS, BODY, signature, now=TS + 301)
    assert not verify(SECRET, TS, BODY, signature, now=TS - 301)
    assert verify(SECRET, TS, BODY, signature, now=TS + 3000, tolerance_seconds=3600)
    assert not verify(SECRET, "yesterday", BODY, signature, now=TS)
    assert not verify(SECRET, TS, BODY, signature.replace("sha256=", "sha1="), now=TS)
    assert not verify(SECRET, TS, BODY, "", now=TS)
