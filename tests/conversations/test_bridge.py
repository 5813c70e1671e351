"""Email2SMS on real databases: forward, reply, carry on; and every refusal path."""

from __future__ import annotations

from email.policy import SMTP
from pathlib import Path

import pytest
from sqlalchemy import select

from smsbridge.db.models import InboundEmail, Message
from smsbridge.mail.ports import ReceivedEmail
from smsbridge.messages.schemas import MessageIn
from tests.conversations.conftest import (
    CUSTOMER,
    bounces,
    customer_texts,
    deliver,
    pump,
    reply,
    sent_emails,
    sms_count,
    start_conversation,
)


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
    [listed] = bridge.messages.inbox(acme["account_id"], _query())
    assert listed["emailedto"] == ["team@acme.example"]
    assert listed["emailstatus"] == "queued"
    pump(bridge)
    [listed] = bridge.messages.inbox(acme["account_id"], _query())
    assert listed["emailstatus"] == "sent"


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


def test_forged_token_is_refused_at_rcpt_a_revoked_one_later(bridge, acme):
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
    # Taken at RCPT: a 550 here would tell anyone holding the old address that it was live.
    assert bridge.conversations.check_recipient(address) is None
    before = sms_count(bridge)
    assert deliver(bridge, reply(forward, "Too late"), peer="203.0.113.9") == "refused"
    assert sms_count(bridge) == before
    with bridge.db.read() as session:
        row = session.scalars(select(InboundEmail)).one()
    assert row.reason is not None and row.reason.startswith("REVOKED_ADDRESS")
    assert row.account_id == acme["account_id"]  # the account sees it
    assert bounces(bridge) == []  # not authenticated: told nothing


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


def test_a_refusal_is_recorded_with_its_conversation(bridge, acme):
    forward = start_conversation(bridge, acme)
    deliver(
        bridge, reply(forward, "x", sender="mallory@evil.example"), envelope="mallory@evil.example"
    )
    with bridge.db.read() as session:
        row = session.scalars(select(InboundEmail)).one()
    assert row.status == "refused"
    assert row.conversation_id is not None
    assert row.account_id == acme["account_id"]
    assert row.from_address == "mallory@evil.example"
