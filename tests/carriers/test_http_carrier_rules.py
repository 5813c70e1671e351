"""The pure rules of the HTTP carriers: Twilio's codes and statuses, the Android app's events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smsbridge.carriers.android.events import (
    inbound_ref,
    parse_received,
    receipt_status,
    sign,
    signature_valid,
)
from smsbridge.carriers.twilio.errors import receipt_status as twilio_status
from smsbridge.carriers.twilio.errors import submit_error
from smsbridge.messages.status import Status


@pytest.mark.parametrize(
    ("http", "code", "permanent", "kind"),
    [
        (400, 21211, True, "permanent"),
        (400, 21610, True, "permanent"),
        (400, 21606, True, "permanent"),
        (400, 21999, True, "permanent"),  # a 4xx we do not know: Twilio judged the request
        (429, 20429, False, "throttle"),
        (401, 20003, False, "account"),
        (500, 20500, False, "temporary"),
        (503, None, False, "temporary"),
        (None, None, False, "temporary"),
    ],
)
def test_twilio_errors_map_to_the_pipelines_policy(
    http: int | None, code: int | None, permanent: bool, kind: str
):
    error = submit_error(http, code, "message")
    assert (error.permanent, error.error_class, error.code) == (permanent, kind, code)
    assert str(code or http or "") in error.detail


@pytest.mark.parametrize(
    ("word", "code", "status"),
    [
        ("queued", None, None),
        ("sent", None, Status.SENT),
        ("delivered", None, Status.DELIVERED),
        ("read", None, Status.DELIVERED),
        ("undelivered", 30003, Status.UNDELIVERABLE),
        ("failed", 30036, Status.EXPIRED),
        ("Delivered ", None, Status.DELIVERED),
        ("teleported", None, Status.UNKNOWN),
    ],
)
def test_twilio_statuses_become_receipts(word: str, code: int | None, status: Status | None):
    assert twilio_status(word, code) == status


def test_android_signatures_are_hmac_of_body_and_timestamp_and_must_be_fresh():
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = str(int(now.timestamp()))
    body = b'{"event":"sms:received"}'
    good = sign("key", body, stamp)
    assert signature_valid("key", body, stamp, good, now, 300)
    assert signature_valid("key", body, stamp, good.upper(), now, 300)
    assert not signature_valid("other", body, stamp, good, now, 300)
    assert not signature_valid("key", body + b" ", stamp, good, now, 300)
    assert not signature_valid("key", body, stamp, good, now + timedelta(minutes=6), 300)
    assert not signature_valid("key", body, "", good, now, 300)
    assert not signature_valid("", body, stamp, sign("", body, stamp), now, 300)


def test_android_inbound_ids_are_the_sms_not_the_apps_content_hash():
    payload = {
        "messageId": "abc",
        "message": "Yes",
        "phoneNumber": "+447700900123",
        "simNumber": 1,
        "receivedAt": "2026-03-14T07:29:55.000+07:00",
    }
    first = parse_received(payload)
    assert first.received_at.tzinfo is not None and first.received_at.hour == 0
    again = parse_received(dict(payload))
    later = parse_received({**payload, "receivedAt": "2026-03-14T07:31:02.000+07:00"})
    assert inbound_ref("phone", first) == inbound_ref("phone", again)
    assert inbound_ref("phone", first) != inbound_ref("phone", later)
    assert inbound_ref("phone", first) != inbound_ref("other-phone", first)
    with pytest.raises((ValueError, KeyError, TypeError)):
        parse_received({"message": 1, "phoneNumber": "+44", "receivedAt": "x"})


def test_android_events_become_receipts():
    assert receipt_status("sms:delivered", None) == Status.DELIVERED
    assert receipt_status("sms:failed", "RESULT_ERROR_NO_SERVICE") == Status.UNDELIVERABLE
    assert receipt_status("sms:failed", "TTL expired") == Status.EXPIRED
    assert receipt_status("system:ping", None) is None
