"""Webhook deliveries end to end: queued with the event, POSTed signed to a real receiver."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import timedelta

import pytest
from sqlalchemy import select

from smsbridge.app import Gateway
from smsbridge.carriers.base import InboundSms
from smsbridge.db.models import Account
from smsbridge.errors import NotFound
from smsbridge.messages.inbound import InboundService
from smsbridge.settings import WebhookSettings
from smsbridge.webhooks import signing
from smsbridge.webhooks.service import WebhookService
from tests.conftest import FakeClock, iso
from tests.webhooks.conftest import (
    Receiver,
    change_status,
    deliveries,
    only_delivery,
    send_message,
)


def account_secret(gateway: Gateway, account_id: str) -> str:
    with gateway.db.read() as session:
        secret = session.scalar(select(Account.webhook_secret).where(Account.id == account_id))
    assert secret
    return secret


def test_queued_only_when_the_status_change_commits(
    gateway: Gateway, hooks: WebhookService, receiver: Receiver, funded_account
):
    message_id = send_message(gateway, funded_account["account_id"], receiver.url + "/dr")
    now = gateway.clock.now()
    with pytest.raises(RuntimeError), gateway.db.write() as session:
        assert hooks.enqueue_status_changes(session, [message_id], now) == 1
        raise RuntimeError("the pipeline's transaction fails after queueing")
    assert deliveries(gateway) == []
    assert change_status(gateway, hooks, [message_id], "SENT") == 1
    assert len(deliveries(gateway)) == 1


def test_status_webhook_payload_headers_and_signature(
    gateway: Gateway, hooks: WebhookService, receiver: Receiver, funded_account, clock: FakeClock
):
    account_id = funded_account["account_id"]
    message_id = send_message(gateway, account_id, receiver.url + "/dr")
    created = clock.now()
    clock.advance(seconds=5)
    change_status(
        gateway,
        hooks,
        [message_id],
        "UNDELIVERABLE",
        failure_code=1,
        failure_detail="unreachable",
        failure_permanent=True,
    )
    assert asyncio.run(hooks.run_once()) == 1

    [request] = receiver.requests
    assert request.path == "/dr"
    row = only_delivery(gateway)
    assert (row.status, row.attempts, row.last_status_code) == ("sent", 1, 200)
    assert row.last_error is None
    assert row.sent_at == clock.now()
    payload = json.loads(request.body)
    assert payload == {
        "event": "message.status",
        "eventid": row.id,
        "messageid": message_id,
        "batchid": None,
        "customerid": account_id,
        "destination": "447700900123",
        "sender": "Acme",
        "status": "UNDELIVERABLE",
        "tag": "t1",
        "created": iso(created),
        "modified": iso(created + timedelta(seconds=5)),
        "failureReason": {"code": 1, "details": "unreachable", "permanent": True},
    }
    # Compact, sorted JSON: the exact bytes that were signed.
    assert request.body == json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["x-smsbridge-event"] == "message.status"
    assert headers["x-smsbridge-event-id"] == row.id
    timestamp = headers["x-smsbridge-timestamp"]
    assert int(timestamp) == int(clock.now().timestamp())

    secret = account_secret(gateway, account_id)  # created by the first delivery
    signature = headers["x-smsbridge-signature"]
    assert signing.verify(secret, timestamp, request.body, signature, now=clock.now())
    tampered = request.body.replace(b"UNDELIVERABLE", b"DELIVERED")
    assert not signing.verify(secret, timestamp, tampered, signature, now=clock.now())
    assert not signing.verify("guess", timestamp, request.body, signature, now=clock.now())


def test_event_id_is_stable_across_a_retry(
    gateway: Gateway, hooks: WebhookService, receiver: Receiver, funded_account, clock: FakeClock
):
    receiver.script = [500, 200]
    message_id = send_message(gateway, funded_account["account_id"], receiver.url + "/dr")
    change_status(gateway, hooks, [message_id], "DELIVERED")

    assert asyncio.run(hooks.run_once()) == 1
    row = only_delivery(gateway)
    assert (row.status, row.attempts, row.last_status_code) == ("queued", 1, 500)
    assert row.last_error == "HTTP 500: nope"
    assert row.ready_at == clock.now() + timedelta(seconds=10)
    assert asyncio.run(hooks.run_once()) == 0  # not due yet

    clock.advance(seconds=10)
    assert asyncio.run(hooks.run_once()) == 1
    first, second = receiver.requests
    assert first.headers["X-Smsbridge-Event-Id"] == second.headers["X-Smsbridge-Event-Id"] == row.id
    assert first.body == second.body
    # The retry is signed afresh, with its own timestamp.
    assert first.headers["X-Smsbridge-Timestamp"] != second.headers["X-Smsbridge-Timestamp"]
    secret = account_secret(gateway, funded_account["account_id"])
    assert signing.verify(
        secret,
        second.headers["X-Smsbridge-Timestamp"],
        second.body,
        second.headers["X-Smsbridge-Signature"],
        now=clock.now(),
    )
    row = only_delivery(gateway)
    assert (row.status, row.attempts, row.last_status_code) == ("sent", 2, 200)
    assert row.last_error is None


def test_backoff_then_failure_after_retry_hours(
    gateway: Gateway, hooks: WebhookService, receiver: Receiver, funded_account, clock: FakeClock
):
    receiver.script = [503] * 100
    message_id = send_message(gateway, funded_account["account_id"], receiver.url + "/dr")
    change_status(gateway, hooks, [message_id], "DELIVERED")
    created = clock.now()
    deadline = created + timedelta(hours=1)  # retry_hours=1 in these tests

    delays: list[float] = []
    while True:
        assert asyncio.run(hooks.run_once()) == 1
        row = only_delivery(gateway)
        if row.status == "failed":
            break
        assert row.status == "queued"
        delays.append((row.ready_at - clock.now()).total_seconds())
        clock.current = row.ready_at
    assert delays == [10, 20, 40, 80, 160, 320, 640, 1280, 1050]  # the last one meets the deadline
    assert clock.now() == deadline
    assert (row.attempts, row.last_status_code, row.last_error) == (10, 503, "HTTP 503: nope")
    clock.advance(hours=5)
    assert asyncio.run(hooks.run_once()) == 0
    assert len(receiver.requests) == 10


def test_redirects_are_not_followed(
    gateway: Gateway, hooks: WebhookService, receiver: Receiver, funded_account
):
    receiver.script = [302]
    message_id = send_message(gateway, funded_account["account_id"], receiver.url + "/dr")
    change_status(gateway, hooks, [message_id], "SENT")
    asyncio.run(hooks.run_once())
    row = only_delivery(gateway)
    assert (row.status, row.last_status_code) == ("queued", 302)
    assert row.last_error == "HTTP 302: redirect to http://elsewhere.example/ not followed."
    assert len(receiver.requests) == 1


def test_account_default_url_and_no_url(
    gateway: Gateway, hooks: WebhookService, receiver: Receiver, funded_account
):
    account_id = funded_account["account_id"]
    hooks.update_settings(account_id, receiver.url + "/default", None)
    plain = send_message(gateway, account_id)
    own = send_message(gateway, account_id, receiver.url + "/own")
    other = gateway.accounts.create_account("Other")
    from smsbridge.credits import ledger

    with gateway.db.write() as session:
        ledger.credit(session, other.id, 10_000, gateway.clock.now(), kind="topup")
    silent = send_message(gateway, other.id)

    assert change_status(gateway, hooks, [silent], "SENT") == 0
    assert deliveries(gateway) == []
    assert change_status(gateway, hooks, [plain, own, silent], "DELIVERED") == 2
    urls = {row.message_id: row.url for row in deliveries(gateway)}
    assert urls == {plain: receiver.url + "/default", own: receiver.url + "/own"}
    assert asyncio.run(hooks.run_once()) == 2
    assert sorted(r.path for r in receiver.requests) == ["/default", "/own"]


def test_many_messages_without_urls_queue_nothing(
    gateway: Gateway, hooks: WebhookService, funded_account
):
    ids = [send_message(gateway, funded_account["account_id"]) for _ in range(3)]
    assert change_status(gateway, hooks, [*ids, *ids], "SENT") == 0
    assert change_status(gateway, hooks, [], "SENT") == 0
    assert deliveries(gateway) == []


def test_one_message_events_go_in_order(
    gateway: Gateway, hooks: WebhookService, receiver: Receiver, funded_account, clock: FakeClock
):
    message_id = send_message(gateway, funded_account["account_id"], receiver.url + "/dr")
    change_status(gateway, hooks, [message_id], "SENT")
    clock.advance(seconds=1)
    change_status(gateway, hooks, [message_id], "DELIVERED")
    assert asyncio.run(hooks.run_once()) == 2
    statuses = [json.loads(r.body)["status"] for r in receiver.requests]
    assert statuses == ["SENT", "DELIVERED"]
    ids = {r.headers["X-Smsbridge-Event-Id"] for r in receiver.requests}
    assert len(ids) == 2


def test_inbound_sms_event(
    gateway: Gateway, hooks: WebhookService, receiver: Receiver, funded_account, clock: FakeClock
):
    account_id = funded_account["account_id"]
    inbound = InboundService(
        gateway.db, clock, lambda session, sms: hooks.enqueue_inbound(session, sms, clock.now())
    )
    sms = InboundSms(
        carrier_ref="c-1",
        sender="+447700900123",
        recipient=funded_account["number"],
        content="Stop please",
        received_at=clock.now(),
    )
    inbound.receive(sms)  # no inbound URL yet: nothing queued
    assert deliveries(gateway) == []

    hooks.update_settings(account_id, None, receiver.url + "/inbound")
    inbound_id = inbound.receive(
        InboundSms("c-2", "+447700900123", funded_account["number"], "Stop please", clock.now())
    )
    inbound.receive(  # a redelivery of the same SMS is stored once and reported once
        InboundSms("c-2", "+447700900123", funded_account["number"], "Stop please", clock.now())
    )
    assert asyncio.run(hooks.run_once()) == 1
    [request] = receiver.requests
    assert request.path == "/inbound"
    assert request.headers["X-Smsbridge-Event"] == "message.inbound"
    row = only_delivery(gateway)
    assert json.loads(request.body) == {
        "event": "message.inbound",
        "eventid": row.id,
        "messageid": inbound_id,
        "customerid": account_id,
        "sender": "447700900123",
        "destination": funded_account["number"].lstrip("+"),
        "content": "Stop please",
        "keyword": "STOP",
        "created": iso(clock.now()),
    }
    [view] = hooks.deliveries_for_message(account_id, inbound_id)
    assert (view["event"], view["status"]) == ("message.inbound", "sent")


def test_inbound_for_a_number_nobody_holds_is_not_sent(
    gateway: Gateway, hooks: WebhookService, clock: FakeClock
):
    inbound = InboundService(
        gateway.db, clock, lambda session, sms: hooks.enqueue_inbound(session, sms, clock.now())
    )
    inbound.receive(InboundSms("c-9", "+447700900123", "+447700900999", "Hi", clock.now()))
    assert deliveries(gateway) == []


def test_secret_is_created_once_and_rotation_takes_effect(
    gateway: Gateway, hooks: WebhookService, receiver: Receiver, funded_account, clock: FakeClock
):
    account_id = funded_account["account_id"]
    assert hooks.get_settings(account_id)["hassecret"] is False
    first = send_message(gateway, account_id, receiver.url + "/dr")
    change_status(gateway, hooks, [first], "SENT")
    asyncio.run(hooks.run_once())
    created = account_secret(gateway, account_id)
    assert hooks.get_settings(account_id)["hassecret"] is True

    second = send_message(gateway, account_id, receiver.url + "/dr")
    change_status(gateway, hooks, [second], "SENT")
    asyncio.run(hooks.run_once())
    assert account_secret(gateway, account_id) == created

    rotated = hooks.rotate_secret(account_id)
    assert rotated != created
    third = send_message(gateway, account_id, receiver.url + "/dr")
    change_status(gateway, hooks, [third], "SENT")
    asyncio.run(hooks.run_once())
    for request, secret in zip(receiver.requests, [created, created, rotated], strict=True):
        h = request.headers
        assert signing.verify(
            secret,
            h["X-Smsbridge-Timestamp"],
            request.body,
            h["X-Smsbridge-Signature"],
            now=clock.now(),
        )
    last = receiver.requests[-1].headers
    assert not signing.verify(
        created,
        last["X-Smsbridge-Timestamp"],
        receiver.requests[-1].body,
        last["X-Smsbridge-Signature"],
        now=clock.now(),
    )


def test_stale_sending_rows_are_recovered(
    gateway: Gateway, hooks: WebhookService, receiver: Receiver, funded_account, clock: FakeClock
):
    message_id = send_message(gateway, funded_account["account_id"], receiver.url + "/dr")
    change_status(gateway, hooks, [message_id], "SENT")
    [claimed] = hooks.claim()  # the worker dies right after claiming
    assert only_delivery(gateway).status == "sending"
    assert hooks.recover() == 0
    assert asyncio.run(hooks.run_once()) == 0  # a claimed row is nobody else's
    clock.advance(minutes=6)
    assert hooks.recover() == 1
    row = only_delivery(gateway)
    assert (row.status, row.claimed_at) == ("queued", None)
    assert asyncio.run(hooks.run_once()) == 1
    row = only_delivery(gateway)
    assert (row.status, row.attempts) == ("sent", 2)
    assert receiver.requests[0].headers["X-Smsbridge-Event-Id"] == claimed.id


def test_unreachable_receiver_is_retried_and_not_hammered(
    gateway: Gateway, hooks: WebhookService, funded_account, clock: FakeClock
):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    message_id = send_message(gateway, funded_account["account_id"], f"http://127.0.0.1:{port}/x")
    change_status(gateway, hooks, [message_id], "SENT")
    change_status(gateway, hooks, [message_id], "DELIVERED")
    assert asyncio.run(hooks.run_once()) == 2
    tried, skipped = sorted(deliveries(gateway), key=lambda row: row.last_error or "")
    assert tried.status == skipped.status == "queued"
    assert tried.last_status_code is None
    assert tried.last_error is not None and tried.last_error.startswith("ConnectError")
    assert skipped.last_error == "Not attempted: 127.0.0.1 could not be reached just now."


def test_a_slow_receiver_times_out_without_holding_up_others(
    gateway: Gateway, clock: FakeClock, receiver: Receiver, funded_account
):
    hooks = WebhookService(
        gateway.db,
        clock,
        # Generous enough that a loaded CI machine still answers the fast ones in time.
        WebhookSettings(allow_private_addresses=True, timeout_seconds=2.0),
    )
    receiver.slow_paths["/slow"] = 3.0
    account_id = funded_account["account_id"]
    slow = send_message(gateway, account_id, receiver.url + "/slow")
    fast = [send_message(gateway, account_id, receiver.url + "/fast") for _ in range(10)]
    change_status(gateway, hooks, [slow, *fast], "SENT")
    assert asyncio.run(hooks.run_once()) == 11
    rows = {row.message_id: row for row in deliveries(gateway)}
    assert rows[slow].status == "queued"
    assert rows[slow].last_error == "No answer within 2 s."
    assert all(rows[m].status == "sent" for m in fast)


def test_accounts_see_only_their_own_deliveries(
    gateway: Gateway, hooks: WebhookService, receiver: Receiver, funded_account
):
    account_id = funded_account["account_id"]
    message_id = send_message(gateway, account_id, receiver.url + "/dr")
    change_status(gateway, hooks, [message_id], "SENT")
    other = gateway.accounts.create_account("Other").id

    [view] = hooks.deliveries_for_message(account_id, message_id)
    assert view["status"] == "queued" and view["attempts"] == 0
    fields = "id event url status attempts last_status_code last_error created sent"
    assert set(view) >= set(fields.split())
    assert [d["id"] for d in hooks.recent_deliveries(account_id)] == [view["id"]]
    assert hooks.recent_deliveries(other) == []
    with pytest.raises(NotFound) as caught:
        hooks.deliveries_for_message(other, message_id)
    assert caught.value.code == "MESSAGE_NOT_FOUND"
    with pytest.raises(NotFound):
        hooks.deliveries_for_message(account_id, "no-such-message")


def test_the_worker_loop_delivers_until_stopped(
    gateway: Gateway, clock: FakeClock, receiver: Receiver, funded_account
):
    hooks = WebhookService(
        gateway.db,
        clock,
        WebhookSettings(allow_private_addresses=True, poll_interval_seconds=0.01),
    )
    message_id = send_message(gateway, funded_account["account_id"], receiver.url + "/dr")
    change_status(gateway, hooks, [message_id], "DELIVERED")

    async def scenario() -> None:
        stop = asyncio.Event()
        worker = asyncio.create_task(hooks.run(stop))
        for _ in range(500):
            if only_delivery(gateway).status == "sent":
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(worker, 5)

    asyncio.run(scenario())
    assert only_delivery(gateway).status == "sent"
    assert len(receiver.requests) == 1
    assert hooks.pending() == 0
