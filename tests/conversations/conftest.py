"""Shared fixtures and helpers for the Email2SMS tests: a gateway, an account, a conversation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP, default
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from smsbridge.app import Gateway
from smsbridge.carriers.base import InboundSms
from smsbridge.db.models import Message, OutboundEmail
from smsbridge.mail.ports import ReceivedEmail
from smsbridge.messages.schemas import MessageIn
from smsbridge.settings import Settings
from tests.conftest import FakeClock, make_settings

CUSTOMER = "+447700900123"


@pytest.fixture
def mail_overrides() -> dict[str, Any]:
    """Extra [mail] settings; a test module overrides this fixture to change them."""
    return {}


@pytest.fixture
def dkim_dns() -> Any:
    return None


@pytest.fixture
def bridge(
    database_url: str,
    clock: FakeClock,
    tmp_path: Path,
    mail_overrides: dict[str, Any],
    dkim_dns: Any,
) -> Iterator[Gateway]:
    mail: dict[str, Any] = {"domain": "sms.acme.test", "out": {"maildir": str(tmp_path / "md")}}
    mail.update(mail_overrides)
    settings: Settings = make_settings(
        database_url, carrier={"simulator": {"receipt_delay_seconds": 0}}, mail=mail
    )
    gateway = Gateway(settings, clock=clock, dkim_dns=dkim_dns)
    yield gateway
    gateway.db.dispose()


@pytest.fixture
def acme(bridge: Gateway) -> dict[str, str]:
    from smsbridge.credits import ledger

    account = bridge.accounts.create_account("Acme")
    with bridge.db.write() as session:
        ledger.credit(session, account.id, 50_000, bridge.clock.now(), kind="topup")
    bridge.numbers.add_to_pool(["+447700900001"])
    number = bridge.numbers.assign(account.id).number
    bridge.numbers.update(
        account.id, number, {"response_emails": ["team@acme.example"], "tags": ["support"]}
    )
    return {"account_id": account.id, "number": number}


def pump(gateway: Gateway) -> None:
    async def run() -> None:
        await gateway.pipeline.run_once("w")
        await gateway.carrier.deliver_due_receipts(gateway.pipeline)  # type: ignore[attr-defined]
        await gateway.outbox.run_once("o")

    asyncio.run(run())


def customer_texts(gateway: Gateway, number: str, text: str, ref: str) -> str:
    return gateway.inbound.receive(InboundSms(ref, CUSTOMER, number, text, gateway.clock.now()))


def sent_emails(gateway: Gateway, *kinds: str) -> list[EmailMessage]:
    statement = select(OutboundEmail).order_by(OutboundEmail.created_at, OutboundEmail.id)
    if kinds:
        statement = statement.where(OutboundEmail.kind.in_(kinds))
    with gateway.db.read() as session:
        rows = list(session.scalars(statement))
    parsed = [BytesParser(policy=default).parsebytes(r.raw) for r in rows]
    return [p for p in parsed if isinstance(p, EmailMessage)]


def reply(
    to_email: EmailMessage, text: str, *, sender: str = "alice@acme.example", **headers: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Alice <{sender}>"
    message["To"] = str(to_email["Reply-To"])
    message["Subject"] = "Re: " + str(to_email["Subject"])
    message["Message-ID"] = make_msgid(domain="acme.example")
    message["In-Reply-To"] = str(to_email["Message-ID"])
    message["References"] = str(to_email["Message-ID"])
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(f"{text}\n\nOn Tue, 24 Nov 2026 at 10:00, SMS wrote:\n> old text\n")
    return message


def deliver(
    gateway: Gateway, message: EmailMessage, *, peer: str = "127.0.0.1", envelope: str = ""
) -> str:
    recipient = str(message["To"])
    assert gateway.conversations.check_recipient(recipient) is None
    gateway.clock.advance(seconds=1)  # type: ignore[attr-defined]  # replies come later
    email = ReceivedEmail(
        envelope_sender=envelope or "alice@acme.example",
        recipients=[recipient],
        raw=message.as_bytes(policy=SMTP),
        channel="smtp",
        peer=peer,
    )
    email_id = gateway.conversations.store(email)
    return gateway.conversations.process(email_id)


def start_conversation(bridge: Gateway, acme: dict[str, str]) -> EmailMessage:
    bridge.messages.send(
        acme["account_id"],
        MessageIn(
            sender=acme["number"],
            destination=CUSTOMER,
            content="Your table is booked",
            tag="spring",
            responseemail=["alice@acme.example"],
        ),
    )
    pump(bridge)
    customer_texts(bridge, acme["number"], "Can we make it 8pm?", "in-1")
    pump(bridge)
    [forward] = sent_emails(bridge, "forward")
    return forward


def bounces(bridge: Gateway) -> list[EmailMessage]:
    """Every explanation of a refusal: in the conversation's thread, or standalone."""
    return sent_emails(bridge, "bounce", "notice")


def sms_count(bridge: Gateway) -> int:
    with bridge.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Message)) or 0)
