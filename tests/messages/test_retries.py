"""Retries after temporary submit errors: capped per error, backed off, ended by validity."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from smsbridge.app import Gateway
from smsbridge.carriers.base import SubmitError, SubmitResult
from smsbridge.db.models import Message, WebhookDelivery
from smsbridge.messages.pipeline import valid_until
from smsbridge.messages.schemas import MessageIn


def queue(gateway: Gateway, account: dict[str, str], **fields: object) -> str:
    body = MessageIn(sender="Acme", destination="447700900123", content="Hi", **fields)
    return str(gateway.messages.send(account["account_id"], body)["messageid"])


def row(gateway: Gateway, message_id: str) -> Message:
    with gateway.db.read() as session:
        found = session.get(Message, message_id)
        assert found is not None
        return found


def fail_once(gateway: Gateway, error: SubmitError) -> list[str]:
    claimed = gateway.pipeline.claim("w1", 10)
    gateway.pipeline.record("w1", [SubmitResult(s.message_id, error=error) for s in claimed])
    return [s.message_id for s in claimed]


def test_a_temporary_error_is_retried_as_often_as_the_carrier_says_then_rejected(
    gateway: Gateway, funded_account, clock
):
    message_id = queue(gateway, funded_account)
    error = SubmitError(False, 8, "ESME_RSYSERR (0x8)", retries=2, delay_seconds=30)
    waits = []
    for _ in range(2):
        assert fail_once(gateway, error) == [message_id]
        message = row(gateway, message_id)
        assert (message.status, message.state) == ("ACCEPTED", "queued")
        waits.append(message.ready_at - clock.now())
        clock.advance(seconds=waits[-1].total_seconds())
    assert waits == [timedelta(seconds=30), timedelta(seconds=60)]  # doubling
    assert fail_once(gateway, error) == [message_id]
    message = row(gateway, message_id)
    assert (message.status, message.state, message.retries) == ("REJECTED", "final", 2)
    assert message.failure_detail == "Gave up after 3 retries: ESME_RSYSERR (0x8)"
    assert gateway.messages.balance(funded_account["account_id"]) == 100  # refunded


def test_the_next_attempt_never_falls_after_validity_which_expires_and_refunds_it(
    gateway: Gateway, funded_account, clock
):
    message_id = queue(gateway, funded_account, validity=1, deliveryreporturl="https://x.test/d")
    created = row(gateway, message_id)
    deadline = valid_until(created.created, created.schedule, created.validity_minutes)
    clock.advance(seconds=10)
    fail_once(gateway, SubmitError(False, 0x58, "throttled", retries=20, delay_seconds=300))
    assert row(gateway, message_id).ready_at == deadline
    clock.advance(seconds=49)
    assert gateway.pipeline.claim("w1", 10) == []  # not due yet
    clock.advance(seconds=1)
    assert gateway.pipeline.claim("w1", 10) == []  # due, and out of time: ended
    message = row(gateway, message_id)
    assert (message.status, message.state) == ("EXPIRED", "final")
    assert message.modified == deadline
    assert gateway.messages.balance(funded_account["account_id"]) == 100
    with gateway.db.read() as session:
        events = [
            w.payload["status"]
            for w in session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.message_id == message_id)
            )
        ]
    assert "EXPIRED" in events


def test_a_failure_that_never_reached_the_carrier_uses_up_no_retry(
    gateway: Gateway, funded_account, clock
):
    message_id = queue(gateway, funded_account)
    not_sent = SubmitError(False, None, "not bound", retries=None, counts=False)
    for _ in range(15):  # more than any retry limit
        fail_once(gateway, not_sent)
        clock.advance(seconds=600)
    message = row(gateway, message_id)
    assert (message.state, message.retries) == ("queued", 0)


def test_a_carrier_without_a_policy_gets_the_pipelines(gateway: Gateway, funded_account, clock):
    message_id = queue(gateway, funded_account)
    plain = SubmitError(False, 88, "throttled")
    limit = gateway.settings.pipeline.max_retries
    for _ in range(limit):
        fail_once(gateway, plain)
        assert row(gateway, message_id).state == "queued"
        clock.advance(seconds=gateway.settings.pipeline.max_retry_delay_seconds)
    fail_once(gateway, plain)
    assert row(gateway, message_id).status == "REJECTED"
