"""Opt-out end to end, on SQLite and PostgreSQL: a customer's STOP, START and HELP arrive from
the simulated handset; the list, the answers, the forwarded email and the webhook follow; and
every send path (API single and batch, scheduled, email reply, email start, OTP) is refused
without a charge until the customer opts back in."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from smsbridge.app import Gateway
from smsbridge.db.models import (
    CreditEntry,
    InboundEmail,
    InboundMessage,
    Message,
    Suppression,
    SuppressionEvent,
    WebhookDelivery,
)
from tests.conftest import iso
from tests.conversations.conftest import (
    CUSTOMER,
    bounces,
    customer_texts,
    deliver,
    pump,
    reply,
    sent_emails,
    start_conversation,
)

OTHER = "+447700900456"


def texts(bridge: Gateway, acme: dict[str, str], text: str, ref: str) -> str:
    """The customer's handset sends `text` to the Reply Number; the gateway runs a round."""
    bridge.clock.advance(seconds=5)  # type: ignore[attr-defined]
    inbound_id = customer_texts(bridge, acme["number"], text, ref)
    pump(bridge)
    return inbound_id


def outbound(bridge: Gateway) -> list[Message]:
    with bridge.db.read() as session:
        return list(session.scalars(select(Message).order_by(Message.created, Message.id)))


def entries(bridge: Gateway) -> list[Suppression]:
    with bridge.db.read() as session:
        return list(session.scalars(select(Suppression)))


def body_of(email: EmailMessage) -> str:
    part = email.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def api_send(api: TestClient, key: str, path: str = "/v1/message/send", **fields: Any) -> Any:
    body: dict[str, Any] = {"sender": "447700900001", "destination": CUSTOMER, "content": "Hi"}
    body.update(fields)
    return api.post(path, json=body, headers={"Authorization": key})


def new_email(to: str, text: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Acme Team <team@acme.example>"
    message["To"] = to
    message["Subject"] = "Your booking"
    message["Message-ID"] = make_msgid(domain="acme.example")
    message.set_content(text + "\n")
    return message


def test_stop_suppresses_answers_marks_and_refuses_every_send_path(
    bridge: Gateway, acme: dict[str, str], api: TestClient, key: str
) -> None:
    account_id = acme["account_id"]
    bridge.webhooks.update_settings(account_id, None, "https://hooks.example.com/inbound")
    forward = start_conversation(bridge, acme)
    # Scheduled before the customer opts out: checked again when it is due.
    due = bridge.clock.now() + timedelta(hours=1)
    scheduled = api_send(
        api, key, "/v1/message/schedule", schedule=iso(due), responseemail=["alice@acme.example"]
    )
    assert scheduled.status_code == 200, scheduled.text
    scheduled_id = scheduled.json()[0]["messageid"]
    balance = bridge.messages.balance(account_id)

    stop_id = texts(bridge, acme, "  Stop \n", "in-stop")

    # On the list, with where it came from.
    [entry] = entries(bridge)
    assert (entry.customer, entry.reply_number, entry.keyword, entry.source) == (
        CUSTOMER,
        acme["number"],
        "STOP",
        "keyword",
    )
    assert entry.inbound_message_id == stop_id
    # Still stored and in the inbox: nothing is hidden from the business.
    with bridge.db.read() as session:
        stored = session.get(InboundMessage, stop_id)
        assert stored is not None and stored.content == "  Stop \n"
        assert stored.conversation_id is not None
    # The confirmation went out from the Reply Number, in the conversation, charged, delivered.
    confirmation = outbound(bridge)[-1]
    assert (confirmation.sender, confirmation.destination) == (acme["number"], CUSTOMER)
    assert "Acme" in confirmation.content and "START" in confirmation.content
    assert confirmation.conversation_id == stored.conversation_id
    assert confirmation.status == "DELIVERED"
    assert confirmation.credits_milli > 0
    assert bridge.messages.balance(account_id) == balance - confirmation.credits_milli / 1000
    with bridge.db.read() as session:
        debit = session.scalars(
            select(CreditEntry).where(CreditEntry.message_id == confirmation.id)
        ).one()
        assert debit.kind == "send"
        [event] = session.scalars(select(SuppressionEvent)).all()
        assert (event.action, event.keyword, event.message_id) == (
            "opted_out",
            "STOP",
            confirmation.id,
        )
        hooks = list(
            session.scalars(select(WebhookDelivery).where(WebhookDelivery.message_id == stop_id))
        )
    assert sorted(h.event for h in hooks) == ["message.inbound", "message.keyword"]
    [keyword_hook] = [h for h in hooks if h.event == "message.keyword"]
    assert keyword_hook.payload["keywordclass"] == "optout"
    assert keyword_hook.payload["keyword"] == "STOP"
    # Forwarded to the conversation's people, clearly marked.
    marked = sent_emails(bridge, "forward")[-1]
    assert marked["X-Smsbridge-Keyword"] == "optout"
    assert marked["To"] == forward["To"]
    assert "The customer opted out (they texted STOP)" in body_of(marked)
    balance = bridge.messages.balance(account_id)
    before = {m.id for m in outbound(bridge)}

    # The API: refused with the stable code, nothing charged or stored.
    refused = api_send(api, key)
    assert refused.status_code == 403
    assert refused.json()["code"] == "DESTINATION_OPTED_OUT"
    assert refused.json()["errorCode"] == 1206
    assert api_send(api, key, "/v1/message/schedule", schedule=iso(due)).status_code == 403
    # A batch goes to the others and lists the one left out.
    batch = api.post(
        "/v1/batch/send",
        json={"sender": "447700900001", "destinations": [CUSTOMER, OTHER], "content": "News"},
        headers={"Authorization": key},
    )
    assert batch.status_code == 201, batch.text
    assert batch.json()["creditsUsed"] == 1.0
    assert [(r["index"], r["destination"], r["code"]) for r in batch.json()["refused"]] == [
        (0, CUSTOMER.lstrip("+"), "DESTINATION_OPTED_OUT")
    ]
    only_them = api.post(
        "/v1/batch/send",
        json={"sender": "447700900001", "destinations": [CUSTOMER], "content": "News"},
        headers={"Authorization": key},
    )
    assert only_them.status_code == 403
    assert only_them.json()["code"] == "DESTINATION_OPTED_OUT"
    assert only_them.json()["details"][0]["destination"] == CUSTOMER.lstrip("+")
    assert bridge.messages.balance(account_id) == balance - 1  # only OTHER was charged
    assert [m.destination for m in outbound(bridge) if m.id not in before] == [OTHER]
    balance = bridge.messages.balance(account_id)

    # An email reply: refused, and its writer told why in the conversation's thread.
    assert deliver(bridge, reply(forward, "Are you sure?")) == "refused"
    [notice] = bounces(bridge)
    assert notice["Subject"] == forward["Subject"]
    assert "opted out" in body_of(notice)
    assert "nothing was charged" in body_of(notice)
    with bridge.db.read() as session:
        email_row = session.scalars(select(InboundEmail)).all()[-1]
    assert email_row.reason is not None and email_row.reason.startswith("DESTINATION_OPTED_OUT")
    # A conversation started by email: refused the same way.
    start = new_email(f"{CUSTOMER.lstrip('+')}@sms.acme.test", "Hello again ##")
    assert deliver(bridge, start, envelope="team@acme.example") == "refused"
    told = bounces(bridge)[-1]
    assert "opted out" in body_of(told)
    assert told["Subject"] == forward["Subject"]  # in the existing conversation's thread
    # A one-time passcode: refused too (the operator has not exempted OTPs).
    otp = api.post(
        "/v1/otp/send",
        json={"sender": "447700900001", "destination": CUSTOMER},
        headers={"Authorization": key},
    )
    assert otp.status_code == 403 and otp.json()["code"] == "DESTINATION_OPTED_OUT"
    assert bridge.messages.balance(account_id) == balance
    assert len(outbound(bridge)) == len(before) + 1

    # The scheduled message, when due: not sent, failed for a clear reason, refunded.
    bridge.clock.advance(hours=2)  # type: ignore[attr-defined]
    pump(bridge)
    looked_up = api.get(f"/v1/messages/{scheduled_id}", headers={"Authorization": key}).json()
    assert looked_up["status"] == "REJECTED"
    assert looked_up["failurereason"]["code"] == 1206
    assert "opted out" in looked_up["failurereason"]["details"]
    assert bridge.messages.balance(account_id) == balance + 1  # its credit came back
    assert [s.destination for s in bridge.handsets.inbox(CUSTOMER)].count(CUSTOMER) == 2

    # START lifts it: confirmed, marked, and the next send goes.
    balance = bridge.messages.balance(account_id)
    texts(bridge, acme, "START", "in-start")
    assert entries(bridge) == []
    assert "opted back in" in outbound(bridge)[-1].content
    assert sent_emails(bridge, "forward")[-1]["X-Smsbridge-Keyword"] == "optin"
    sent = api_send(api, key, content="Welcome back")
    assert sent.status_code == 201, sent.text
    assert bridge.messages.balance(account_id) == balance - 2  # confirmation + this one
    with bridge.db.read() as session:
        actions = [
            e.action
            for e in session.scalars(select(SuppressionEvent).order_by(SuppressionEvent.id))
        ]
    assert actions == ["opted_out", "opted_in"]


def test_help_is_answered_and_changes_nothing(bridge: Gateway, acme: dict[str, str]) -> None:
    start_conversation(bridge, acme)
    texts(bridge, acme, "help", "in-help")
    assert entries(bridge) == []
    answer = outbound(bridge)[-1]
    assert answer.destination == CUSTOMER
    assert "Acme" in answer.content and "STOP" in answer.content
    assert answer.status == "DELIVERED"
    marked = sent_emails(bridge, "forward")[-1]
    assert marked["X-Smsbridge-Keyword"] == "help"
    assert "asked for help" in body_of(marked)


@pytest.mark.parametrize("text", ["stop please", "STOP!!", "Stopp", "S T O P", "stop."])
def test_near_misses_are_ordinary_replies(
    bridge: Gateway, acme: dict[str, str], api: TestClient, key: str, text: str
) -> None:
    start_conversation(bridge, acme)
    count = len(outbound(bridge))
    texts(bridge, acme, text, "in-near")
    assert entries(bridge) == []
    assert len(outbound(bridge)) == count  # no automatic answer
    forwarded = sent_emails(bridge, "forward")[-1]
    assert forwarded["X-Smsbridge-Keyword"] is None
    assert text in body_of(forwarded)
    assert api_send(api, key).status_code == 201


def test_every_default_keyword_is_recognised(bridge: Gateway, acme: dict[str, str]) -> None:
    words = ["STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"]
    for index, word in enumerate(words):
        texts(bridge, acme, word.lower(), f"out-{index}")
        assert len(entries(bridge)) == 1, word
        texts(bridge, acme, ["START", "yes", "Unstop"][index % 3], f"in-{index}")
        assert entries(bridge) == [], word


def test_an_opt_out_is_for_its_reply_number_by_default(
    bridge: Gateway, acme: dict[str, str], api: TestClient, key: str
) -> None:
    bridge.numbers.add_to_pool(["+447700900002"])
    second = bridge.numbers.assign(acme["account_id"]).number
    texts(bridge, acme, "STOP", "in-stop")
    assert api_send(api, key).status_code == 403
    # Another Reply Number of the account may still text the customer.
    assert api_send(api, key, sender=second.lstrip("+")).status_code == 201


def test_account_scope_covers_every_sender(
    bridge: Gateway, acme: dict[str, str], api: TestClient, key: str
) -> None:
    put = api.put("/v1/optouts/settings", json={"scope": "account"}, headers={"Authorization": key})
    assert put.status_code == 200, put.text
    texts(bridge, acme, "STOP", "in-stop")
    [entry] = entries(bridge)
    assert entry.reply_number == "*"
    assert "from Acme" in outbound(bridge)[-1].content
    refused = api_send(api, key, sender="Acme")
    assert refused.status_code == 403 and refused.json()["code"] == "DESTINATION_OPTED_OUT"
    texts(bridge, acme, "START", "in-start")
    assert api_send(api, key, sender="Acme").status_code == 201


def test_own_keywords_and_texts_in_another_language(
    bridge: Gateway, acme: dict[str, str], api: TestClient, key: str
) -> None:
    settings = {
        "keywords": {
            "en": {"optout": ["STOP"], "optin": ["START"], "help": ["HELP"]},
            "fr": {"optout": ["ARRET"], "optin": ["DEMARRER"], "help": ["AIDE"]},
        },
        "texts": {"optout": {"fr": "{account} : desinscrit. Envoyez {optin} pour revenir."}},
    }
    put = api.put("/v1/optouts/settings", json=settings, headers={"Authorization": key})
    assert put.status_code == 200, put.text
    texts(bridge, acme, "Arret", "in-fr")
    assert len(entries(bridge)) == 1
    assert outbound(bridge)[-1].content == "Acme : desinscrit. Envoyez DEMARRER pour revenir."
    # A default word the account's list no longer holds is an ordinary reply.
    texts(bridge, acme, "UNSUBSCRIBE", "in-en")
    assert len(entries(bridge)) == 1
    texts(bridge, acme, "demarrer", "in-fr-2")
    assert entries(bridge) == []


def test_a_keyword_to_a_number_nobody_holds_is_kept_and_changes_nothing(
    bridge: Gateway, acme: dict[str, str]
) -> None:
    customer_texts(bridge, "+447700900999", "STOP", "in-nobody")
    pump(bridge)
    assert entries(bridge) == []
    with bridge.db.read() as session:
        assert session.scalars(select(InboundMessage)).one().account_id is None


def test_yes_from_a_customer_who_never_opted_out_is_an_ordinary_reply(
    bridge: Gateway, acme: dict[str, str]
) -> None:
    start_conversation(bridge, acme)
    count = len(outbound(bridge))
    texts(bridge, acme, "Yes", "in-yes")
    assert len(outbound(bridge)) == count
    forwarded = sent_emails(bridge, "forward")[-1]
    assert forwarded["X-Smsbridge-Keyword"] is None
    with bridge.db.read() as session:
        assert session.scalars(select(SuppressionEvent)).all() == []


def test_an_email_to_a_listed_number_with_no_conversation_is_refused_by_reply(
    bridge: Gateway, acme: dict[str, str], api: TestClient, key: str
) -> None:
    added = api.post(
        "/v1/optouts", json={"numbers": [OTHER.lstrip("+")]}, headers={"Authorization": key}
    )
    assert added.status_code == 201
    balance = bridge.messages.balance(acme["account_id"])
    start = new_email(f"{OTHER.lstrip('+')}@sms.acme.test", "Hello ##")
    assert deliver(bridge, start, envelope="team@acme.example") == "refused"
    [told] = bounces(bridge)
    assert "is on the opt-out list" in body_of(told)
    assert outbound(bridge) == []
    assert bridge.messages.balance(acme["account_id"]) == balance
