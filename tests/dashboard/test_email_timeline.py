"""The conversation page shows which SMS came from email replies, and the replies refused."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP, default
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from smsbridge.app import Gateway
from smsbridge.db.models import Conversation, InboundEmail, Message, OutboundEmail
from smsbridge.ids import new_id
from smsbridge.mail.ports import ReceivedEmail
from tests.conftest import FakeClock
from tests.dashboard.conftest import Browser
from tests.dashboard.test_pages import CONVERSATION, NUMBER, customer_replies, send

TEAM = "alice@acme.example"


@pytest.fixture
def bob(gateway: Gateway, signed_in: Callable[..., Browser]) -> Browser:
    account = gateway.accounts.create_account("Bob's Bikes")
    return signed_in("bob@bikes.example", account.id)


def forwarded_email(gateway: Gateway) -> EmailMessage:
    """The last email the gateway forwarded a customer's SMS in."""
    with gateway.db.read() as session:
        raw = session.scalars(
            select(OutboundEmail.raw)
            .where(OutboundEmail.kind == "forward")
            .order_by(OutboundEmail.created_at.desc())
        ).first()
    assert raw is not None, "no SMS was forwarded by email"
    parsed = BytesParser(policy=default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


def email_reply(gateway: Gateway, text: str, sender: str = TEAM) -> str:
    """Answer the forwarded email as `sender` would, through the real email-to-SMS path."""
    forward = forwarded_email(gateway)
    message = EmailMessage()
    message["From"] = f"Someone <{sender}>"
    message["To"] = str(forward["Reply-To"])
    message["Subject"] = "Re: " + str(forward["Subject"])
    message["Message-ID"] = make_msgid(domain="acme.example")
    message["In-Reply-To"] = str(forward["Message-ID"])
    message["References"] = str(forward["Message-ID"])
    message.set_content(f"{text}\n")
    email_id = gateway.conversations.store(
        ReceivedEmail(
            envelope_sender=sender,
            recipients=[str(message["To"])],
            raw=message.as_bytes(policy=SMTP),
            channel="smtp",
            peer="127.0.0.1",  # the trusted network: no DKIM needed
        )
    )
    return gateway.conversations.process(email_id)


def conversation_id(gateway: Gateway) -> str:
    with gateway.db.read() as session:
        return session.scalars(select(Conversation.id)).one()


def refused_email(
    gateway: Gateway,
    reason: str,
    *,
    from_address: str | None,
    raw: bytes = b"",
    conversation: str | None = None,
    account_id: str | None = None,
) -> None:
    """An email reply to the conversation that the gateway refused, as it is recorded."""
    now = gateway.clock.now()
    with gateway.db.write() as session:
        session.add(
            InboundEmail(
                id=new_id(),
                channel="smtp",
                envelope_sender="bounces@mailer.example",
                recipients=["reply-x@smsbridge.localhost"],
                peer="203.0.113.9",
                raw=raw,
                status="refused",
                reason=reason,
                attempts=0,
                account_id=account_id,
                conversation_id=conversation or conversation_id(gateway),
                message_id=None,
                from_address=from_address,
                received_at=now,
                processed_at=now,
            )
        )


def test_the_conversation_shows_email_replies_and_refused_ones_in_order(
    alice: Browser, gateway: Gateway, clock: FakeClock, funded_account: dict[str, str]
):
    account_id = funded_account["account_id"]
    gateway.numbers.update(account_id, "+" + NUMBER, {"response_emails": [TEAM]})
    send(alice, "Your table is booked")
    clock.advance(seconds=5)
    customer_replies(gateway, "Can we make it 8pm?")
    clock.advance(seconds=5)
    refused_email(
        gateway,
        "SENDER_NOT_ALLOWED: mallory@evil.example is not one of the addresses of this "
        "conversation, so the reply was not sent.",
        from_address="mallory@evil.example",
        account_id=account_id,
    )
    clock.advance(seconds=5)
    assert email_reply(gateway, "Yes, 8pm is fine") == "sent"
    clock.advance(seconds=5)
    # Refused before the From address was recorded: it is read from the email itself.
    headers = b"From: Carol <carol@acme.example>\r\nSubject: Re: SMS\r\n\r\nToo late\r\n"
    refused_email(gateway, "NUMBER_RELEASED: nothing was sent.", from_address=None, raw=headers)

    page = alice.get(CONVERSATION)
    assert page.status_code == 200
    text = page.text
    order = [
        "Your table is booked",
        "Can we make it 8pm?",
        "An email from mallory@evil.example was not sent: mallory@evil.example is not one of",
        "Yes, 8pm is fine",
        "by email from alice@acme.example",
        "An email from carol@acme.example was not sent: nothing was sent.",
    ]
    positions = [text.index(snippet) for snippet in order]
    assert positions == sorted(positions), positions
    assert text.count("by email from") == 1  # the SMS sent from the page says nothing of email
    assert "SENDER_NOT_ALLOWED" not in text  # the reason reads as a sentence, without its code
    assert text.count('class="thread-note"') == 2

    feed = alice.get(CONVERSATION + "/feed.json").json()
    assert feed["count"] == 3  # SMS only; the notices are not messages
    assert "by email from alice@acme.example" in feed["html"]
    assert "An email from carol@acme.example was not sent" in feed["html"]

    # A new refusal changes the feed's version, so an open page shows it without a reload.
    clock.advance(seconds=5)
    refused_email(gateway, "EMPTY_TEXT: We found no text to send.", from_address=TEAM)
    later = alice.get(CONVERSATION + "/feed.json").json()
    assert later["version"] != feed["version"]
    notice = "An email from alice@acme.example was not sent: We found no text to send."
    assert notice in later["html"]


def test_a_conversation_without_email_shows_no_email_lines(alice: Browser, gateway: Gateway):
    send(alice, "Just an SMS")
    customer_replies(gateway, "Just a reply")
    page = alice.get(CONVERSATION)
    assert "by email from" not in page.text and "was not sent" not in page.text


def test_email_rows_of_another_account_are_never_shown(
    alice: Browser,
    bob: Browser,
    gateway: Gateway,
    clock: FakeClock,
    funded_account: dict[str, str],
):
    send(alice, "Your table is booked")
    clock.advance(seconds=5)
    customer_replies(gateway, "Can we make it 8pm?")  # starts the conversation
    with gateway.db.read() as session:
        message_id = session.scalars(select(Message.id)).one()
    bob_account = next(a.id for a in gateway.accounts.list_accounts() if a.name == "Bob's Bikes")
    # Rows that name alice's SMS or conversation but belong to another account.
    with gateway.db.write() as session:
        now = gateway.clock.now()
        session.add(
            InboundEmail(
                id=new_id(),
                channel="smtp",
                envelope_sender="bob@bikes.example",
                recipients=["reply-x@smsbridge.localhost"],
                raw=b"",
                status="sent",
                attempts=0,
                account_id=bob_account,
                conversation_id=None,
                message_id=message_id,
                from_address="bob@bikes.example",
                received_at=now,
            )
        )
    refused_email(
        gateway, "X: not for alice", from_address="bob@bikes.example", account_id=bob_account
    )
    page = alice.get(CONVERSATION)
    assert "Your table is booked" in page.text
    assert "bob@bikes.example" not in page.text and "not for alice" not in page.text
    assert bob.get(CONVERSATION).status_code == 404
    assert bob.get(CONVERSATION + "/feed.json").status_code == 404


def test_email_addresses_and_reasons_are_escaped(
    alice: Browser, gateway: Gateway, funded_account: dict[str, str]
):
    send(alice, "Hello")
    customer_replies(gateway, "Hi")
    refused_email(
        gateway,
        "X: <script>alert(1)</script>",
        from_address="<img src=x>@evil.example",
        account_id=funded_account["account_id"],
    )
    page = alice.get(CONVERSATION)
    assert "<script>alert(1)</script>" not in page.text and "<img src=x>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_the_emails_page_lists_every_received_email_with_what_became_of_it(
    alice: Browser, gateway: Gateway, clock: FakeClock, funded_account: dict[str, str], bob: Browser
):
    account_id = funded_account["account_id"]
    gateway.numbers.update(account_id, "+" + NUMBER, {"response_emails": [TEAM]})
    send(alice, "Your table is booked")
    customer_replies(gateway, "Can we make it 8pm?")
    clock.advance(seconds=5)
    assert email_reply(gateway, "Yes, 8pm is fine") == "sent"
    clock.advance(seconds=5)
    refused_email(
        gateway,
        "AMBIGUOUS_AUTHOR: The From header names more than one author.",
        from_address=None,
        account_id=account_id,
    )
    page = alice.get("/account/emails")
    assert page.status_code == 200
    text = page.text
    assert "AMBIGUOUS_AUTHOR" in text and "names more than one author" in text
    assert text.index("AMBIGUOUS_AUTHOR") < text.index("SENT")  # newest first
    refused_only = alice.get("/account/emails?status=refused").text
    assert "AMBIGUOUS_AUTHOR" in refused_only and "s-sent" not in refused_only
    assert "AMBIGUOUS_AUTHOR" not in bob.get("/account/emails").text  # another account's
