"""Email2SMS on real databases: forward, reply, carry on; and every refusal path."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP, default
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.conftest import FakeClock, make_settings

from smsbridge.app import Gateway
from smsbridge.carriers.base import InboundSms
from smsbridge.db.models import InboundEmail, Message, OutboundEmail
from smsbridge.mail.ports import ReceivedEmail
from smsbridge.messages.schemas import MessageIn
from smsbridge.settings import Settings

CUSTOMER = "+447700900123"


@pytest.fixture
def bridge(database_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[Gateway]:
    settings: Settings = make_settings(
        database_url,
        carrier={"simulator": {"receipt_delay_seconds": 0}},
        mail={"domain": "sms.acme.test", "out": {"maildir": str(tmp_path / "maildir")}},
    )
    gateway = Gateway(settings, clock=clock)
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


def sent_emails(gateway: Gateway, kind: str | None = None) -> list[EmailMessage]:
    statement = select(OutboundEmail).order_by(OutboundEmail.created_at)
    if kind:
        statement = statement.where(OutboundEmail.kind == kind)
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


def test_inbound_sms_is_emailed_to_the_last_messages_responseemail(bridge, acme):
    forward = start_conversation(bridge, acme)
    assert forward["To"] == "alice@acme.example"
    body = forward.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Can we make it 8pm?" in body
    assert CUSTOMER in body and acme["number"] in body
    assert "support > spring" in body  # number tags, then the message tag
    assert "##" in body  # the reply hint
    assert str(forward["Reply-To"]).startswith("reply")
    assert CUSTOMER.lstrip("+") not in str(forward["Reply-To"])
    assert forward["Auto-Submitted"] == "auto-generated"
    maildir = Path(bridge.settings.mail.out.maildir) / "new"
    assert len(list(maildir.iterdir())) == 1


def test_without_responseemail_the_numbers_default_gets_it(bridge, acme):
    customer_texts(bridge, acme["number"], "Hello?", "in-1")
    [forward] = sent_emails(bridge, "forward")
    assert forward["To"] == "team@acme.example"


def test_without_any_address_the_sms_waits_in_the_inbox(bridge, acme):
    bridge.numbers.update(acme["account_id"], acme["number"], {"response_emails": []})
    customer_texts(bridge, acme["number"], "Anyone there?", "in-1")
    assert sent_emails(bridge) == []
    inbox = bridge.messages.inbox(acme["account_id"], _query())
    assert [m["content"] for m in inbox] == ["Anyone there?"]


def test_sms_to_an_unheld_number_is_stored_not_lost(bridge, acme):
    bridge.numbers.add_to_pool(["+447700900002"])
    inbound_id = customer_texts(bridge, "+447700900002", "Wrong number?", "in-9")
    assert inbound_id
    assert sent_emails(bridge) == []


def test_email_reply_goes_out_as_sms_and_the_conversation_carries_on(bridge, acme):
    forward = start_conversation(bridge, acme)
    message = reply(forward, "Yes, 8pm is fine.", Cc="bob@acme.example")
    assert deliver(bridge, message) == "sent"
    pump(bridge)
    inbox = [s.content for s in bridge.handsets.inbox(CUSTOMER)]
    assert inbox == ["Your table is booked", "Yes, 8pm is fine."]
    with bridge.db.read() as session:
        sms = session.scalars(select(Message).order_by(Message.created.desc())).first()
    assert sms is not None
    assert sms.tag == "spring"  # the previous outbound message's tag carries over
    assert sms.sender == acme["number"]
    assert sorted(sms.response_emails) == ["alice@acme.example", "bob@acme.example"]
    assert bridge.messages.balance(acme["account_id"]) == 48  # billed as usual

    customer_texts(bridge, acme["number"], "Great, thanks", "in-2")
    forwards = sent_emails(bridge, "forward")
    assert len(forwards) == 2
    latest = forwards[-1]
    assert sorted(a.strip() for a in str(latest["To"]).split(",")) == [
        "alice@acme.example",
        "bob@acme.example",
    ]
    assert latest["Subject"] == forward["Subject"]  # one thread
    assert latest["References"] == forward["References"]


def test_other_people_get_a_copy_of_what_went_out(bridge, acme):
    bridge.messages.send(
        acme["account_id"],
        MessageIn(
            sender=acme["number"],
            destination=CUSTOMER,
            content="Hi",
            tag="spring",
            responseemail=["alice@acme.example", "bob@acme.example"],
        ),
    )
    customer_texts(bridge, acme["number"], "Question", "in-1")
    [forward] = sent_emails(bridge, "forward")
    assert deliver(bridge, reply(forward, "Answer")) == "sent"
    [copy] = sent_emails(bridge, "copy")
    assert copy["To"] == "bob@acme.example"
    assert "Answer" in copy.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_marker_cuts_the_text(bridge, acme):
    forward = start_conversation(bridge, acme)
    assert deliver(bridge, reply(forward, "See you then ##\nKind regards\nAlice")) == "sent"
    pump(bridge)
    assert bridge.handsets.inbox(CUSTOMER)[-1].content == "See you then"


def test_reply_to_from_address_found_by_references(bridge, acme):
    forward = start_conversation(bridge, acme)
    message = reply(forward, "Found by References")
    del message["To"]
    message["To"] = bridge.conversations.from_address
    assert deliver(bridge, message) == "sent"


def bounces(bridge: Gateway) -> list[EmailMessage]:
    return sent_emails(bridge, "bounce")


def sms_count(bridge: Gateway) -> int:
    with bridge.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Message)) or 0)


def test_spoofed_sender_is_refused_and_told(bridge, acme):
    forward = start_conversation(bridge, acme)
    before = sms_count(bridge)
    status = deliver(
        bridge,
        reply(forward, "Send me money", sender="mallory@evil.example"),
        envelope="mallory@evil.example",
    )
    assert status == "refused"
    assert sms_count(bridge) == before
    [bounce] = bounces(bridge)
    assert bounce["To"] == "mallory@evil.example"
    assert "not one of the addresses" in bounce.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_allowed_address_from_outside_without_authentication_is_refused(bridge, acme):
    forward = start_conversation(bridge, acme)
    # Alice's address, but from the internet with no DKIM: it could be anyone.
    assert deliver(bridge, reply(forward, "Hi"), peer="203.0.113.9") == "refused"
    with bridge.db.read() as session:
        row = session.scalars(select(InboundEmail)).one()
    assert row.reason is not None and row.reason.startswith("NOT_AUTHENTICATED")


def test_trusted_authentication_results_are_believed(bridge, acme):
    bridge.settings.mail.inbound.trusted_authserv_ids = ["mx.acme.test"]
    bridge.__dict__.pop("conversations", None)  # rebuild with the new setting
    forward = start_conversation(bridge, acme)
    message = reply(
        forward,
        "Verified by our MX",
        Authentication_Results="mx.acme.test; dkim=pass header.d=acme.example; dmarc=pass "
        "header.from=acme.example",
    )
    assert deliver(bridge, message, peer="203.0.113.9") == "sent"


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"X_Autoreply": "yes"},
        {"Precedence": "bulk"},
        {"List_Id": "<team.acme.example>"},
    ],
)
def test_auto_replies_never_become_sms_nor_get_bounced(bridge, acme, headers):
    forward = start_conversation(bridge, acme)
    before = sms_count(bridge)
    assert deliver(bridge, reply(forward, "I am out of office", **headers)) == "ignored"
    assert sms_count(bridge) == before
    assert bounces(bridge) == []


def test_empty_reply_is_bounced(bridge, acme):
    forward = start_conversation(bridge, acme)
    assert deliver(bridge, reply(forward, "")) == "refused"
    assert "no text" in bounces(bridge)[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_released_number_refuses_replies(bridge, acme):
    forward = start_conversation(bridge, acme)
    bridge.numbers.release(acme["account_id"], acme["number"])
    assert deliver(bridge, reply(forward, "Too late")) == "refused"
    assert "released" in bounces(bridge)[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_no_credit_refuses_and_charges_nothing(bridge, acme):
    from smsbridge.credits import ledger

    forward = start_conversation(bridge, acme)
    balance = bridge.messages.balance(acme["account_id"])
    with bridge.db.write() as session:
        ledger.credit(
            session,
            acme["account_id"],
            -round(balance * 1000),
            bridge.clock.now(),
            kind="adjustment",
        )
    before = sms_count(bridge)
    assert deliver(bridge, reply(forward, "No money")) == "refused"
    assert sms_count(bridge) == before
    assert bridge.messages.balance(acme["account_id"]) == 0
    assert "credits" in bounces(bridge)[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_forged_or_revoked_token_is_refused_at_rcpt(bridge, acme):
    forward = start_conversation(bridge, acme)
    address = str(forward["Reply-To"])
    local, domain = address.split("@")
    tampered = local[:-1] + ("a" if local[-1] != "a" else "b") + "@" + domain
    assert bridge.conversations.check_recipient(tampered) is not None
    assert bridge.conversations.check_recipient("someone@gmail.com") is not None
    from smsbridge.db.models import Conversation

    with bridge.db.write() as session:
        conversation = session.scalars(select(Conversation)).one()
        conversation.token_version += 1  # revoke every address issued so far
    assert bridge.conversations.check_recipient(address) is not None


def test_each_email_is_processed_once(bridge, acme):
    forward = start_conversation(bridge, acme)
    message = reply(forward, "Only once")
    email = ReceivedEmail(
        "alice@acme.example",
        [str(message["To"])],
        message.as_bytes(policy=SMTP),
        "smtp",
        peer="127.0.0.1",
    )
    email_id = bridge.conversations.store(email)
    before = sms_count(bridge)
    # A crash after storing: a fresh service (a restarted process) picks it up.
    bridge.__dict__.pop("conversations", None)
    assert bridge.conversations.process_pending() == 1
    assert bridge.conversations.process(email_id) == "sent"  # already done: no second SMS
    assert sms_count(bridge) == before + 1


def test_replies_are_rate_limited_per_conversation(bridge, acme):
    bridge.settings.mail.inbound.replies_per_conversation_per_hour = 2
    bridge.__dict__.pop("conversations", None)
    forward = start_conversation(bridge, acme)
    results = [deliver(bridge, reply(forward, f"Reply {i}")) for i in range(3)]
    assert results == ["sent", "sent", "refused"]


def test_bounces_to_one_address_are_capped(bridge, acme):
    forward = start_conversation(bridge, acme)
    for _ in range(8):
        deliver(
            bridge,
            reply(forward, "x", sender="mallory@evil.example"),
            envelope="mallory@evil.example",
        )
    assert len(bounces(bridge)) == 5


def _query():  # type: ignore[no-untyped-def]
    from smsbridge.messages.schemas import QueryIn

    return QueryIn()
