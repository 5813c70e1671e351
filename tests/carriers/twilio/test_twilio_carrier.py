"""The Twilio carrier against the emulator: the official client out, signed webhooks in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import func, select

from smsbridge.db.models import CarrierCharge, CreditEntry, InboundMessage
from tests.carriers.live import (
    CUSTOMER,
    NUMBER,
    OTHER_SID,
    OTHER_TOKEN,
    SID,
    TOKEN,
    carrier_gateway,
    eventually,
    free_port,
    fund,
    message,
    send,
    serving,
    submit_round,
    twilio_account,
)
from tests.carriers.twilio.emulator import TwilioEmulator


@pytest.fixture
def twilio() -> Iterator[TwilioEmulator]:
    with TwilioEmulator(
        {SID: TOKEN, OTHER_SID: OTHER_TOKEN}, numbers={SID: {NUMBER}, OTHER_SID: set()}
    ) as emulator:
        yield emulator


def _form(exchange_body: bytes) -> dict[str, str]:
    return dict(parse_qsl(exchange_body.decode()))


def test_a_message_goes_out_through_twilio_and_its_callbacks_deliver_it(
    database_url: str, twilio: TwilioEmulator
):
    port = free_port()
    gateway = carrier_gateway(database_url, port, [twilio_account("twilio", twilio.base_url)])
    account_id = fund(gateway)
    message_id = send(gateway, account_id, "Your table is booked", validity=60)

    async def main() -> None:
        async with serving(gateway):
            assert await gateway.pipeline.run_once("w") == 1
            await eventually(lambda: message(gateway, message_id).status == "DELIVERED")

            def charged() -> bool:
                with gateway.db.read() as session:
                    return (
                        session.get(CarrierCharge, message(gateway, message_id).carrier_ref or "")
                        is not None
                    )

            await eventually(charged, what="the price fetched")

    asyncio.run(main())
    row = message(gateway, message_id)
    assert row.carrier_ref is not None and row.carrier_ref.startswith("SM")
    [create] = [e for e in twilio.exchanges if e.method == "POST"]
    form = _form(create.body)
    assert form["To"] == CUSTOMER and form["From"] == NUMBER
    assert form["Body"] == "Your table is booked"
    assert form["StatusCallback"] == f"http://127.0.0.1:{port}/v1/carrier/twilio/status"
    # What is left of the message's validity, never more than Twilio's 36,000 s.
    assert 3500 <= int(form["ValidityPeriod"]) <= 3600
    assert [c.params["MessageStatus"] for c in twilio.callbacks] == ["sent", "delivered"]
    assert all(c.status == 204 for c in twilio.callbacks)
    with gateway.db.read() as session:
        charge = session.get(CarrierCharge, row.carrier_ref)
        assert charge is not None
        assert (charge.billed_segments, charge.reported_segments) == (1, 1)
        assert charge.price == "-0.04000" and charge.price_unit == "USD"
        assert not charge.mismatch
    [health] = gateway.carrier.status()
    assert health["kind"] == "twilio" and health["carrier_state"] == "up"
    assert health["submitted"] == 1 and health["receipts"] == 2


def test_twilio_counting_other_segments_than_we_billed_is_recorded(
    database_url: str, twilio: TwilioEmulator
):
    twilio.segments_override[CUSTOMER] = 3
    gateway = carrier_gateway(
        database_url, free_port(), [twilio_account("twilio", twilio.base_url)]
    )
    account_id = fund(gateway)
    message_id = send(gateway, account_id, "Short")

    async def main() -> None:
        async with serving(gateway):
            await gateway.pipeline.run_once("w")

            def mismatch() -> bool:
                with gateway.db.read() as session:
                    return bool(
                        session.scalar(select(func.count()).where(CarrierCharge.mismatch.is_(True)))
                    )

            await eventually(mismatch, what="the mismatch recorded")

    asyncio.run(main())
    assert message(gateway, message_id).status == "DELIVERED"
    [health] = gateway.carrier.status()
    assert health["billing_mismatches"] >= 1


@pytest.mark.parametrize(
    ("status", "code", "final", "permanent"),
    [
        (400, 21211, "REJECTED", True),  # invalid To
        (400, 21610, "REJECTED", True),  # the customer replied STOP
        (429, 20429, "ACCEPTED", False),  # throttled: retried later
        (503, 20500, "ACCEPTED", False),  # Twilio's fault: retried later
    ],
)
def test_twilio_errors_become_permanent_or_temporary(
    database_url: str, twilio: TwilioEmulator, status: int, code: int, final: str, permanent: bool
):
    twilio.script.failures.append((status, code))
    gateway = carrier_gateway(
        database_url, free_port(), [twilio_account("twilio", twilio.base_url)]
    )
    account_id = fund(gateway)
    message_id = send(gateway, account_id)

    submit_round(gateway)
    row = message(gateway, message_id)
    assert row.status == final
    assert row.failure_code == code and row.failure_permanent is permanent
    assert f"Twilio {code}" in (row.failure_detail or "")
    with gateway.db.read() as session:
        refunds = session.scalar(
            select(func.count()).where(
                CreditEntry.kind == "refund", CreditEntry.message_id == message_id
            )
        )
    assert refunds == (1 if permanent else 0)


def test_a_from_the_account_does_not_own_is_refused_by_the_emulator(
    database_url: str, twilio: TwilioEmulator
):
    twilio.numbers[SID] = set()  # the account holds no number at all
    gateway = carrier_gateway(
        database_url, free_port(), [twilio_account("twilio", twilio.base_url)]
    )
    account_id = fund(gateway)
    message_id = send(gateway, account_id)

    submit_round(gateway)
    row = message(gateway, message_id)
    assert (row.status, row.failure_code) == ("REJECTED", 21606)


def test_bad_credentials_are_temporary_and_count_against_the_account(
    database_url: str, twilio: TwilioEmulator
):
    gateway = carrier_gateway(
        database_url,
        free_port(),
        [twilio_account("twilio", twilio.base_url, auth_token="wrong" * 6)],
    )
    account_id = fund(gateway)
    message_id = send(gateway, account_id)

    submit_round(gateway)
    row = message(gateway, message_id)
    assert (row.status, row.state, row.failure_code) == ("ACCEPTED", "queued", 20003)
    assert "authentication failed" in (row.failure_detail or "")
    assert twilio.exchanges[0].status == 401
    assert twilio.messages == {}


@pytest.mark.parametrize(
    ("kind", "state", "status"),
    [
        # 201 and a body that is not JSON, and the message cannot be found at Twilio: it may
        # still appear there, so it is neither resent nor called failed.
        ("garbage", "in_doubt", "UNKNOWN"),
        # Twilio took it but the answer had no sid, or never came back: found by handset,
        # sender and text among the account's latest messages, and followed from there.
        ("no_sid", "final", "DELIVERED"),
        ("lose_answers", "final", "DELIVERED"),
    ],
)
def test_an_unreadable_or_lost_answer_is_settled_by_asking_twilio_never_by_resending(
    database_url: str, twilio: TwilioEmulator, kind: str, state: str, status: str
):
    setattr(twilio.script if kind != "lose_answers" else twilio, kind, 1)
    gateway = carrier_gateway(
        database_url, free_port(), [twilio_account("twilio", twilio.base_url)]
    )
    account_id = fund(gateway)
    first = send(gateway, account_id, "first")

    async def main() -> None:
        async with serving(gateway):
            await gateway.pipeline.run_once("w")
            await eventually(lambda: message(gateway, first).state == state)
            await eventually(lambda: message(gateway, first).status == status)
            second = send(gateway, account_id, "second")
            await gateway.pipeline.run_once("w")
            await eventually(lambda: message(gateway, second).status == "DELIVERED")

    asyncio.run(main())
    bodies = sorted(m.body for m in twilio.messages.values())
    assert bodies == (["second"] if kind == "garbage" else ["first", "second"])
    if kind != "garbage":
        [held] = [m for m in twilio.messages.values() if m.body == "first"]
        assert message(gateway, first).carrier_ref == held.sid


def test_twilio_unreachable_uses_no_retry_and_the_message_waits(database_url: str):
    gateway = carrier_gateway(
        database_url, free_port(), [twilio_account("twilio", f"http://127.0.0.1:{free_port()}")]
    )
    account_id = fund(gateway)
    message_id = send(gateway, account_id)

    submit_round(gateway)
    row = message(gateway, message_id)
    assert (row.state, row.status, row.retries) == ("queued", "ACCEPTED", 0)
    assert "unreachable" in (row.failure_detail or "")


def test_an_undelivered_callback_refunds(database_url: str, twilio: TwilioEmulator):
    twilio.outcome[CUSTOMER] = "undelivered"
    gateway = carrier_gateway(
        database_url, free_port(), [twilio_account("twilio", twilio.base_url)]
    )
    account_id = fund(gateway)
    message_id = send(gateway, account_id)

    async def main() -> None:
        async with serving(gateway):
            await gateway.pipeline.run_once("w")
            await eventually(lambda: message(gateway, message_id).status == "UNDELIVERABLE")

    asyncio.run(main())
    assert message(gateway, message_id).failure_code == 30003
    assert gateway.messages.balance(account_id) == 100


def _inbound(gateway_port: int) -> str:
    return f"http://127.0.0.1:{gateway_port}/v1/carrier/twilio/sms"


def _stored(gateway: object) -> list[InboundMessage]:
    with gateway.db.read() as session:  # type: ignore[attr-defined]
        return list(session.scalars(select(InboundMessage)))


def test_inbound_sms_is_stored_once_and_only_with_a_good_signature(
    database_url: str, twilio: TwilioEmulator
):
    port = free_port()
    gateway = carrier_gateway(database_url, port, [twilio_account("twilio", twilio.base_url)])
    fund(gateway)
    url = _inbound(port)

    async def main() -> None:
        async with serving(gateway):

            def post(**kwargs: object) -> int:
                return twilio.send_inbound(
                    url, SID, CUSTOMER, NUMBER, "Hi there", **kwargs
                ).status_code  # type: ignore[arg-type]

            assert await asyncio.to_thread(post, signature="bm90IGEgc2lnbmF0dXJl") == 403
            assert await asyncio.to_thread(post, signature="") == 403
            # Signed with another account's token, or for another account: refused too.
            assert await asyncio.to_thread(post, token=OTHER_TOKEN) == 403

            def other_account() -> int:
                return twilio.send_inbound(url, OTHER_SID, CUSTOMER, NUMBER, "x").status_code

            assert await asyncio.to_thread(other_account) == 403
            assert _stored(gateway) == []
            good = await asyncio.to_thread(post, message_sid="SM" + "a" * 32)
            again = await asyncio.to_thread(post, message_sid="SM" + "a" * 32)
            assert good == again == 200

    asyncio.run(main())
    [stored] = _stored(gateway)
    assert (stored.sender, stored.reply_number, stored.content) == (CUSTOMER, NUMBER, "Hi there")
    assert stored.account_id is not None
    assert stored.carrier_ref == "SM" + "a" * 32
    [health] = gateway.carrier.status()
    assert health["bad_signatures"] == 4 and health["inbound"] == 2


def test_a_status_callback_with_a_bad_signature_changes_nothing(
    database_url: str, twilio: TwilioEmulator
):
    port = free_port()
    gateway = carrier_gateway(database_url, port, [twilio_account("twilio", twilio.base_url)])
    account_id = fund(gateway)
    message_id = send(gateway, account_id)
    twilio.outcome[CUSTOMER] = "silent"

    async def main() -> None:
        async with serving(gateway):
            await gateway.pipeline.run_once("w")
            sid = message(gateway, message_id).carrier_ref or ""
            params = {
                "MessageSid": sid,
                "MessageStatus": "delivered",
                "AccountSid": SID,
                "To": CUSTOMER,
            }
            url = f"http://127.0.0.1:{port}/v1/carrier/twilio/status"
            forged = await asyncio.to_thread(twilio.signed_post, url, params, "forged-token")
            assert forged.status_code == 403
            assert message(gateway, message_id).status == "SENT"
            genuine = await asyncio.to_thread(twilio.signed_post, url, params, TOKEN)
            assert genuine.status_code == 204

    asyncio.run(main())
    assert message(gateway, message_id).status == "DELIVERED"


def test_reply_numbers_missing_at_twilio_or_with_their_webhook_elsewhere_are_reported(
    database_url: str, twilio: TwilioEmulator
):
    port = free_port()
    twilio.numbers[SID] = {NUMBER, "+447700900002"}
    twilio.sms_urls["+447700900002"] = f"http://127.0.0.1:{port}/v1/carrier/twilio/sms"
    gateway = carrier_gateway(
        database_url,
        port,
        [
            twilio_account(
                "twilio", twilio.base_url, numbers=[NUMBER, "+447700900002", "+447700900009"]
            )
        ],
    )

    async def main() -> None:
        async with serving(gateway):
            await eventually(lambda: gateway.carrier.status()[0]["numbers_missing"] is not None)
            [row] = gateway.carrier.status()
            assert row["numbers_missing"] == ["+447700900009"]
            assert row["numbers_webhook_elsewhere"] == [NUMBER]  # still the console's demo URL

    asyncio.run(main())


@pytest.mark.parametrize(
    ("status", "code", "final"), [(400, 21211, "REJECTED"), (503, 20500, "ACCEPTED")]
)
def test_errors_as_problem_details_are_understood_too(
    database_url: str, twilio: TwilioEmulator, status: int, code: int, final: str
):
    twilio.script.problem_details = True
    twilio.script.failures.append((status, code))
    gateway = carrier_gateway(
        database_url, free_port(), [twilio_account("twilio", twilio.base_url)]
    )
    account_id = fund(gateway)
    message_id = send(gateway, account_id)

    submit_round(gateway)
    row = message(gateway, message_id)
    assert (row.status, row.failure_code) == (final, code)
