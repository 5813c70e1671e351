"""Status changes in the pipeline queue delivery-report webhooks, in the same transaction."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from smsbridge.app import Gateway
from smsbridge.carriers.base import InboundSms
from smsbridge.db.models import Account, WebhookDelivery
from smsbridge.messages.schemas import MessageIn


def events(gateway: Gateway) -> list[tuple[str, str]]:
    with gateway.db.read() as session:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at))
        return [(r.event, r.payload.get("status", "")) for r in rows]


def test_each_status_change_queues_one_event(gateway: Gateway, funded_account):
    gateway.settings.webhooks.allow_private_addresses = True
    body = MessageIn(
        sender="Acme",
        destination="447700900123",
        content="Hi",
        deliveryreporturl="https://hooks.example.com/dlr",
    )
    gateway.messages.send(funded_account["account_id"], body)
    no_url = MessageIn(sender="Acme", destination="447700900124", content="No hook")
    gateway.messages.send(funded_account["account_id"], no_url)

    async def pump() -> None:
        await gateway.pipeline.run_once("w")
        await gateway.carrier.deliver_due_receipts(gateway.pipeline)  # type: ignore[attr-defined]

    asyncio.run(pump())
    assert events(gateway) == [("message.status", "SENT"), ("message.status", "DELIVERED")]


def test_inbound_sms_goes_to_the_accounts_inbound_webhook(gateway: Gateway, funded_account):
    with gateway.db.write() as session:
        account = session.get(Account, funded_account["account_id"])
        assert account is not None
        account.inbound_webhook_url = "https://hooks.example.com/inbound"
    gateway.inbound.receive(
        InboundSms("in-1", "+447700900123", funded_account["number"], "Hello", gateway.clock.now())
    )
    assert [e for e, _ in events(gateway)] == ["message.inbound"]
