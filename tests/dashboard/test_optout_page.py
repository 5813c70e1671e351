"""The account page's Opt-outs page and what an opt-out changes elsewhere on the page: the
list, search, adding (all or nothing), removing, the history, CSV, and refused sends."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable

from sqlalchemy import func, select

from smsbridge.app import Gateway
from smsbridge.carriers.base import InboundSms
from smsbridge.credits import ledger
from smsbridge.db.models import Message
from tests.dashboard.conftest import Browser

NUMBER = "447700900001"
CUSTOMER = "447700900123"
CONVERSATION = f"/account/numbers/{NUMBER}/conversations/{CUSTOMER}"


def customer_texts(gateway: Gateway, text: str) -> None:
    gateway.inbound.receive(
        InboundSms(
            carrier_ref="test-" + uuid.uuid4().hex,
            sender="+" + CUSTOMER,
            recipient="+" + NUMBER,
            content=text,
            received_at=gateway.clock.now(),
        )
    )


def message_count(gateway: Gateway) -> int:
    with gateway.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Message)) or 0)


def test_a_stop_shows_in_the_conversation_and_refuses_the_pages_sends(
    alice: Browser, gateway: Gateway, funded_account: dict[str, str]
) -> None:
    customer_texts(gateway, "STOP")
    page = alice.get(CONVERSATION)
    assert "The customer opted out (STOP)" in page.text
    assert "opted out of messages from +447700900001" in page.text
    before = (message_count(gateway), gateway.messages.balance(funded_account["account_id"]))
    reply = alice.post(CONVERSATION + "/reply", {"content": "Sorry to see you go"})
    assert reply.status_code == 403
    assert "opted out" in reply.text and "nothing was charged" in reply.text
    sent = alice.post(
        f"/account/numbers/{NUMBER}/send", {"destination": CUSTOMER, "content": "Promo"}
    )
    assert sent.status_code == 403 and "opted out" in sent.text
    assert (message_count(gateway), gateway.messages.balance(funded_account["account_id"])) == (
        before
    )
    listing = alice.get("/account/optouts")
    assert "+447700900123" in listing.text and "texted STOP" in listing.text
    # Removed by a user: sends work again, and the history says who did it.
    removed = alice.post(
        "/account/optouts/remove", {"customer": CUSTOMER, "replynumber": "+" + NUMBER}
    )
    assert removed.status_code == 303
    history = alice.get("/account/optouts").text
    assert "removed" in history and "user alice@acme.example" in history
    again = alice.post(
        f"/account/numbers/{NUMBER}/send", {"destination": CUSTOMER, "content": "Hello"}
    )
    assert again.status_code == 303


def test_adding_is_all_or_nothing_with_each_bad_line_named(alice: Browser) -> None:
    bad = alice.post(
        "/account/optouts", {"numbers": "447700900123\nnonsense\n447700900124", "note": ""}
    )
    assert bad.status_code == 400
    assert "Line 2 (nonsense)" in bad.text and "nothing was added" in bad.text
    assert "Nobody has opted out yet." in bad.text
    good = alice.post(
        "/account/optouts",
        {"numbers": "447700900123\n07700900124", "replynumber": "", "note": "called us"},
    )
    assert good.status_code == 201 and "Added 2 numbers." in good.text
    found = alice.get("/account/optouts", params={"search": "0124"}).text.split("Add numbers")[0]
    assert "+447700900124" in found and "+447700900123" not in found
    exported = alice.get("/account/optouts.csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert sorted(r[0] for r in rows[1:]) == ["+447700900123", "+447700900124"]
    assert {(r[5], r[7]) for r in rows[1:]} == {("user alice@acme.example", "called us")}


def test_another_accounts_list_is_never_shown(
    alice: Browser, gateway: Gateway, signed_in: Callable[..., Browser]
) -> None:
    customer_texts(gateway, "STOP")
    other = gateway.accounts.create_account("Globex")
    with gateway.db.write() as session:
        ledger.credit(session, other.id, 1000, gateway.clock.now(), kind="topup")
    bob = signed_in("bob@globex.example", other.id)
    page = bob.get("/account/optouts").text
    assert "+447700900123" not in page and "Nobody has opted out yet." in page
    # Bob cannot remove Alice's entry either.
    assert bob.post("/account/optouts/remove", {"customer": CUSTOMER}).status_code == 404
    assert "+447700900123" in alice.get("/account/optouts").text


def test_settings_change_the_scope_and_the_answer(alice: Browser, gateway: Gateway) -> None:
    saved = alice.post(
        "/account/optouts/settings",
        {"scope": "account", "text_optout": "Bye from {account}. Text {optin} to return."},
    )
    assert saved.status_code == 303
    customer_texts(gateway, "stop")
    with gateway.db.read() as session:
        answer = session.scalars(select(Message).order_by(Message.created.desc())).first()
    assert answer is not None and answer.content == "Bye from Acme. Text START to return."
    assert "every sender" in alice.get("/account/optouts").text
