"""The Android carrier against the emulated phone: send, receipts, replies, offline, limits."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from smsbridge.app import Gateway
from smsbridge.db.models import InboundMessage
from tests.carriers.android.emulator import AndroidEmulator
from tests.carriers.live import (
    CUSTOMER,
    NUMBER,
    carrier_gateway,
    eventually,
    free_port,
    fund,
    message,
    send,
    serving,
    submit_round,
)

KEY = "signing-key-0123456789"


@pytest.fixture
def phone() -> Iterator[AndroidEmulator]:
    with AndroidEmulator("sms", "secret-pass", signing_key=KEY) as emulator:
        yield emulator


def android_phone(base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "phone",
        "base_url": base_url,
        "username": "sms",
        "password": "secret-pass",
        "webhook_signing_key": KEY,
        "numbers": [NUMBER],
        "sims": {NUMBER: 2},
        "timeout_seconds": 5,
        **extra,
    }


def android_gateway(database_url: str, port: int, *phones: dict[str, Any]) -> Gateway:
    return carrier_gateway(database_url, port, [], kind="android", android={"phones": list(phones)})


def _carrier_row(gateway: Gateway) -> dict[str, Any]:
    [row] = gateway.carrier.status()
    return row


async def _registered(gateway: Gateway) -> None:
    await eventually(lambda: _carrier_row(gateway)["webhooks_registered"], what="webhooks")


def test_a_message_goes_out_through_the_phone_and_its_webhooks_deliver_it(
    database_url: str, phone: AndroidEmulator
):
    port = free_port()
    gateway = android_gateway(database_url, port, android_phone(phone.base_url))
    account_id = fund(gateway)
    message_id = send(gateway, account_id, "Your table is booked", validity=60)

    async def main() -> None:
        async with serving(gateway):
            await _registered(gateway)
            await gateway.pipeline.run_once("w")
            await eventually(lambda: message(gateway, message_id).status == "DELIVERED")

    asyncio.run(main())
    [sent] = phone.messages.values()
    assert (sent.id, sent.phone_number, sent.text) == (message_id, CUSTOMER, "Your table is booked")
    assert sent.sim_number == 2 and sent.valid_until is not None
    assert message(gateway, message_id).carrier_ref == message_id
    assert {w["event"] for w in phone.webhooks.values()} == {
        "sms:received",
        "sms:sent",
        "sms:delivered",
        "sms:failed",
    }
    assert {w["url"] for w in phone.webhooks.values()} == {
        f"http://127.0.0.1:{port}/v1/carrier/phone/events"
    }
    assert all(status == 204 for _event, status in phone.deliveries)


def test_a_failed_send_is_undeliverable_and_refunded(database_url: str, phone: AndroidEmulator):
    phone.outcome[CUSTOMER] = "failed"
    gateway = android_gateway(database_url, free_port(), android_phone(phone.base_url))
    account_id = fund(gateway)
    message_id = send(gateway, account_id)

    async def main() -> None:
        async with serving(gateway):
            await _registered(gateway)
            await gateway.pipeline.run_once("w")
            await eventually(lambda: message(gateway, message_id).status == "UNDELIVERABLE")

    asyncio.run(main())
    assert "RESULT_ERROR_GENERIC_FAILURE" in (message(gateway, message_id).failure_detail or "")
    assert gateway.messages.balance(account_id) == 100


def _inbound(gateway: Gateway) -> list[InboundMessage]:
    with gateway.db.read() as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.received_at)))


def test_replies_are_stored_once_though_the_apps_ids_repeat_and_only_when_signed(
    database_url: str, phone: AndroidEmulator
):
    port = free_port()
    gateway = android_gateway(database_url, port, android_phone(phone.base_url))
    fund(gateway)

    async def main() -> None:
        async with serving(gateway):
            await _registered(gateway)
            when = gateway.clock.now() - timedelta(seconds=5)

            def post(text: str, **kwargs: Any) -> int:
                [answer] = phone.send_inbound(CUSTOMER, text, sim=2, received_at=when, **kwargs)
                return answer.status_code

            assert await asyncio.to_thread(post, "Hi", key="not-the-key") == 403
            assert await asyncio.to_thread(post, "Hi", signature="") == 403
            stale = str(int(time.time()) - 3600)
            assert await asyncio.to_thread(post, "Hi", timestamp=stale) == 403
            assert _inbound(gateway) == []
            # The app resends the same webhook: one SMS.
            assert await asyncio.to_thread(post, "Yes please") == 204
            assert await asyncio.to_thread(post, "Yes please") == 204
            # The same text again, later: the app gives it the same messageId, yet it is a
            # second SMS.
            when = gateway.clock.now()
            assert await asyncio.to_thread(post, "Yes please") == 204

    asyncio.run(main())
    stored = _inbound(gateway)
    assert [(m.sender, m.reply_number, m.content) for m in stored] == [
        (CUSTOMER, NUMBER, "Yes please"),
        (CUSTOMER, NUMBER, "Yes please"),
    ]
    assert stored[0].carrier_ref != stored[1].carrier_ref
    assert _carrier_row(gateway)["bad_signatures"] == 3


def test_a_malformed_webhook_is_acknowledged_logged_and_stores_nothing(
    database_url: str, phone: AndroidEmulator
):
    port = free_port()
    gateway = android_gateway(database_url, port, android_phone(phone.base_url))
    url = f"http://127.0.0.1:{port}/v1/carrier/phone/events"

    async def main() -> None:
        async with serving(gateway):
            answer = await asyncio.to_thread(
                phone.post_event, url, "sms:received", {"message": 42, "receivedAt": "never"}
            )
            assert answer.status_code == 204

    asyncio.run(main())
    assert _inbound(gateway) == []
    assert _carrier_row(gateway)["errors"]["malformed"] == 1


def test_a_phone_offline_for_hours_gets_the_message_once_when_back_or_it_expires(
    database_url: str, phone: AndroidEmulator
):
    gateway = android_gateway(database_url, free_port(), android_phone(phone.base_url))
    account_id = fund(gateway)
    clock = gateway.clock
    phone.offline()
    waiting = send(gateway, account_id, "Back soon?", validity=600)
    doomed = send(gateway, account_id, "Too late", validity=60)

    async def main() -> None:
        async with serving(gateway):
            for _ in range(5):  # hours of retries against a phone that does not answer
                await gateway.pipeline.run_once("w")
                clock.advance(minutes=30)  # type: ignore[attr-defined]
            assert message(gateway, doomed).status == "EXPIRED"
            row = message(gateway, waiting)
            assert (row.state, row.status, row.retries) == ("queued", "ACCEPTED", 0)
            assert "offline" in (row.failure_detail or "")
            assert _carrier_row(gateway)["state"] == "offline"
            phone.online()
            phone.clock_offset = clock.now().timestamp() - time.time()
            await _registered(gateway)  # retried in the background until the phone answers
            await gateway.pipeline.run_once("w")
            await eventually(lambda: message(gateway, waiting).status == "DELIVERED")

    asyncio.run(main())
    assert [m.text for m in phone.messages.values()] == ["Back soon?"]
    assert gateway.messages.balance(account_id) == 99  # the expired one refunded


def test_an_answer_lost_on_the_way_back_is_settled_by_asking_the_phone(
    database_url: str, phone: AndroidEmulator
):
    phone.lose_answers = 1
    gateway = android_gateway(database_url, free_port(), android_phone(phone.base_url))
    account_id = fund(gateway)
    message_id = send(gateway, account_id)

    async def main() -> None:
        async with serving(gateway):
            await gateway.pipeline.run_once("w")
            assert message(gateway, message_id).status in ("SENT", "DELIVERED")
            # Handed over again (an operator's resend): the phone has that id, so it is not
            # sent twice.
            [again] = await gateway.carrier.submit([_submission(gateway, message_id)])
            assert again.carrier_ref == message_id and again.error is None

    asyncio.run(main())
    assert len(phone.messages) == 1
    assert [s for _m, p, s in phone.requests if p.startswith("/messages/")] == [200]


def test_each_sims_hourly_limit_holds_across_a_restart(database_url: str, phone: AndroidEmulator):
    settings = android_phone(phone.base_url, max_per_hour_per_sim=2)
    gateway = android_gateway(database_url, free_port(), settings)
    account_id = fund(gateway)
    ids = [send(gateway, account_id, f"number {n}") for n in range(3)]

    async def first() -> None:
        async with serving(gateway):
            await gateway.pipeline.run_once("w")

    asyncio.run(first())
    assert len(phone.messages) == 2
    held = message(gateway, ids[2])
    assert held.state == "queued"
    assert "in the last hour" in (held.failure_detail or "")
    assert held.ready_at > gateway.clock.now() + timedelta(minutes=59)

    # Another process on the same database, 30 minutes later: still no room on that SIM.
    restarted = android_gateway(database_url, free_port(), settings)
    restarted.clock.current = gateway.clock.now() + timedelta(minutes=30)  # type: ignore[attr-defined]

    async def second() -> None:
        async with serving(restarted):
            [refused] = await restarted.carrier.submit([_submission(restarted, ids[2])])
            assert refused.error is not None and refused.error.error_class == "rate_limit"
            assert len(phone.messages) == 2
            restarted.clock.current += timedelta(minutes=31)  # type: ignore[attr-defined]
            phone.clock_offset = restarted.clock.now().timestamp() - time.time()
            await _registered(restarted)
            await restarted.pipeline.run_once("w")
            await eventually(lambda: message(restarted, ids[2]).status == "DELIVERED")

    asyncio.run(second())
    assert len(phone.messages) == 3


def _submission(gateway: Gateway, message_id: str) -> Any:
    from smsbridge.carriers.base import Submission

    row = message(gateway, message_id)
    return Submission(row.id, row.sender, row.destination, row.content, row.encoding, 1)


def test_bad_credentials_are_temporary(database_url: str, phone: AndroidEmulator):
    gateway = android_gateway(
        database_url, free_port(), android_phone(phone.base_url, password="wrong")
    )
    account_id = fund(gateway)
    message_id = send(gateway, account_id)

    submit_round(gateway)
    row = message(gateway, message_id)
    assert (row.state, row.failure_code) == ("queued", 401)
    assert phone.messages == {}
    assert json.dumps(_carrier_row(gateway))  # the health row is plain JSON


def test_an_offline_phone_fails_over_to_twilio_and_nothing_is_sent_twice(
    database_url: str, phone: AndroidEmulator
):
    from tests.carriers.live import SID, TOKEN, twilio_account
    from tests.carriers.twilio.emulator import TwilioEmulator

    with TwilioEmulator({SID: TOKEN}, numbers={SID: {NUMBER}}) as twilio:
        gateway = carrier_gateway(
            database_url,
            free_port(),
            [twilio_account("twilio", twilio.base_url, numbers=[])],
            kind="routed",
            android={"phones": [android_phone(phone.base_url, numbers=[], sims={})]},
            routes=[
                {"carrier": "phone", "destinations": ["+44"], "priority": 1},
                {"carrier": "twilio", "priority": 2},
            ],
        )
        account_id = fund(gateway)
        phone.offline()
        ids = [send(gateway, account_id, f"number {n}") for n in range(3)]

        async def main() -> None:
            async with serving(gateway):
                await gateway.pipeline.run_once("w")
                await eventually(
                    lambda: all(message(gateway, m).status == "DELIVERED" for m in ids)
                )
                rows = {r["name"]: r for r in gateway.carrier.status()}
                assert rows["phone"]["state"] == "offline" and rows["phone"]["failovers"] == 3

        asyncio.run(main())
        assert sorted(m.body for m in twilio.messages.values()) == [
            "number 0",
            "number 1",
            "number 2",
        ]
    assert phone.messages == {}
    with gateway.db.read() as session:
        from smsbridge.db.models import AndroidSend

        assert list(session.scalars(select(AndroidSend))) == []  # no send counted


@pytest.mark.parametrize(("mode", "final"), [("hold", "EXPIRED"), ("quiet", "DELIVERED")])
def test_a_message_with_no_final_webhook_is_settled_by_asking_the_phone_after_its_validity(
    database_url: str, phone: AndroidEmulator, mode: str, final: str
):
    setattr(phone, mode, True)
    gateway = android_gateway(database_url, free_port(), android_phone(phone.base_url))
    account_id = fund(gateway)
    message_id = send(gateway, account_id, validity=30)

    async def main() -> None:
        async with serving(gateway):
            await gateway.pipeline.run_once("w")
            assert message(gateway, message_id).status == "SENT"
            carrier = gateway.carrier.members["phone"]  # type: ignore[attr-defined]
            assert await carrier.settle_overdue(gateway.pipeline) == 0  # not overdue yet
            gateway.clock.advance(minutes=45)  # type: ignore[attr-defined]
            assert await carrier.settle_overdue(gateway.pipeline) == 1

    asyncio.run(main())
    assert message(gateway, message_id).status == final
    assert gateway.messages.balance(account_id) == (100 if final == "EXPIRED" else 99)
    assert len(phone.messages) == 1
