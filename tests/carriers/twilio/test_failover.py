"""Routing and failover across real carriers: Twilio accounts (emulated) and the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from smsbridge.db.models import InboundMessage, Message
from tests.carriers.live import (
    CUSTOMER,
    NUMBER,
    OTHER_SID,
    OTHER_TOKEN,
    SID,
    carrier_gateway,
    eventually,
    free_port,
    fund,
    message,
    send,
    serving,
    twilio_account,
)
from tests.carriers.twilio.emulator import TwilioEmulator


@pytest.fixture
def twilio() -> Iterator[TwilioEmulator]:
    with TwilioEmulator(
        {SID: "t" * 32, OTHER_SID: OTHER_TOKEN}, numbers={SID: {NUMBER}, OTHER_SID: {NUMBER}}
    ) as emulator:
        yield emulator


def two_accounts(twilio: TwilioEmulator, *, pinned: bool = False) -> list[dict[str, object]]:
    return [
        twilio_account("primary", twilio.base_url, numbers=[NUMBER] if pinned else []),
        twilio_account(
            "backup",
            twilio.base_url,
            account_sid=OTHER_SID,
            auth_token=OTHER_TOKEN,
            numbers=[],
        ),
    ]


def test_an_outage_at_one_account_fails_over_to_the_next_with_nothing_lost_or_doubled(
    database_url: str, twilio: TwilioEmulator
):
    twilio.failing_accounts.add(SID)
    gateway = carrier_gateway(
        database_url,
        free_port(),
        two_accounts(twilio),
        kind="routed",
        routes=[
            {"carrier": "primary", "destinations": ["+44"], "priority": 1},
            {"carrier": "backup", "destinations": ["GB"], "priority": 2},
        ],
    )
    account_id = fund(gateway)
    ids = [send(gateway, account_id, f"message {n}") for n in range(5)]

    async def main() -> None:
        async with serving(gateway):
            await gateway.pipeline.run_once("w")
            await eventually(lambda: all(message(gateway, m).status == "DELIVERED" for m in ids))
            # The primary is now taken as down: the next message goes straight to the backup.
            later = send(gateway, account_id, "later")
            await gateway.pipeline.run_once("w")
            await eventually(lambda: message(gateway, later).status == "DELIVERED")
            ids.append(later)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{gateway.settings.http.port}"
            ) as http:
                rows = (await http.get("/v1/carrier/connections")).json()["connections"]
                metrics = (await http.get("/metrics")).text
            health = {r["name"]: r for r in rows}
            assert health["primary"]["carrier_state"] == "down"
            assert health["primary"]["recent_failures"] == 5
            assert health["primary"]["failovers"] == 5
            assert health["backup"]["carrier_state"] == "up"
            assert 'smsbridge_carrier_up{connection="primary",kind="twilio"} 0' in metrics
            assert 'smsbridge_carrier_failovers_total{connection="primary"} 5' in metrics

    asyncio.run(main())
    sent = list(twilio.messages.values())
    assert sorted(m.body for m in sent) == sorted(message(gateway, m).content for m in ids)
    assert {m.account_sid for m in sent} == {OTHER_SID}  # the failing account stored none
    assert sorted(message(gateway, m).carrier_ref or "" for m in ids) == sorted(m.sid for m in sent)
    primary_creates = [
        e for e in twilio.exchanges if e.method == "POST" and f"/Accounts/{SID}/" in e.path
    ]
    assert len(primary_creates) == 5 and all(e.status == 503 for e in primary_creates)


def test_twilio_unreachable_fails_over_to_another_kind_of_carrier(database_url: str):
    gateway = carrier_gateway(
        database_url,
        free_port(),
        [twilio_account("twilio", f"http://127.0.0.1:{free_port()}", numbers=[])],
        kind="routed",
        routes=[
            {"carrier": "twilio", "priority": 1},
            {"carrier": "simulator", "priority": 2},
        ],
    )
    account_id = fund(gateway)
    message_id = send(gateway, account_id, "through the backup")

    async def main() -> None:
        async with serving(gateway):
            await gateway.pipeline.run_once("w")
            await eventually(lambda: message(gateway, message_id).status == "DELIVERED")

    asyncio.run(main())
    [got] = gateway.handsets.inbox(CUSTOMER)
    assert got.content == "through the backup" and got.message_ref == message_id


def test_a_reply_number_held_by_a_failing_account_waits_for_it_instead_of_changing_sender(
    database_url: str, twilio: TwilioEmulator
):
    twilio.failing_accounts.add(SID)
    port = free_port()
    gateway = carrier_gateway(database_url, port, two_accounts(twilio, pinned=True), kind="routed")
    account_id = fund(gateway)
    message_id = send(gateway, account_id)

    async def main() -> None:
        async with serving(gateway):
            await gateway.pipeline.run_once("w")
            # An SMS to the number, arriving through the account that does not hold it, is
            # not taken (nor emailed); through the holder it is.
            backup = f"http://127.0.0.1:{port}/v1/carrier/backup/sms"
            primary = f"http://127.0.0.1:{port}/v1/carrier/primary/sms"
            wrong = await asyncio.to_thread(
                twilio.send_inbound, backup, OTHER_SID, CUSTOMER, NUMBER, "via backup"
            )
            right = await asyncio.to_thread(
                twilio.send_inbound, primary, SID, CUSTOMER, NUMBER, "via primary"
            )
            assert wrong.status_code == right.status_code == 200

    asyncio.run(main())
    row = message(gateway, message_id)
    assert (row.state, row.status, row.failure_code) == ("queued", "ACCEPTED", 20500)
    assert twilio.messages == {}
    with gateway.db.read() as session:
        assert [m.content for m in session.scalars(select(InboundMessage))] == ["via primary"]
        assert session.scalar(select(Message.carrier_ref).where(Message.id == message_id)) is None


def test_an_smsc_that_is_down_fails_over_to_twilio(database_url: str, twilio: TwilioEmulator):
    gateway = carrier_gateway(
        database_url,
        free_port(),
        [twilio_account("twilio", twilio.base_url, numbers=[])],
        kind="routed",
        routes=[
            {"carrier": "smpp", "destinations": ["GB"], "priority": 1},
            {"carrier": "twilio", "priority": 2},
        ],
        smpp={
            "connectors": [
                {"name": "smsc", "port": free_port(), "system_id": "acme", "password": "x"}
            ]
        },
    )
    account_id = fund(gateway)
    message_id = send(gateway, account_id, "via the backup")

    async def main() -> None:
        async with serving(gateway):
            await gateway.pipeline.run_once("w")
            await eventually(lambda: message(gateway, message_id).status == "DELIVERED")
            rows = {r["carrier"]: r for r in gateway.carrier.status()}
            assert rows["smpp"]["kind"] == "smpp" and rows["smpp"]["state"] != "bound"
            assert rows["smpp"]["failovers"] == 1 and rows["twilio"]["recent_failures"] == 0

    asyncio.run(main())
    [sent] = twilio.messages.values()
    assert sent.body == "via the backup"
    assert message(gateway, message_id).carrier_ref == sent.sid
