"""The account page's pages: numbers, conversations, messages, credits, keys and the operator."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import select

from smsbridge.app import Gateway
from smsbridge.carriers.base import InboundSms
from smsbridge.db.models import Message, ReplyNumber
from tests.conftest import FakeClock
from tests.dashboard.conftest import Browser

NUMBER = "447700900001"
CUSTOMER = "447700900123"
CONVERSATION = f"/account/numbers/{NUMBER}/conversations/{CUSTOMER}"


def send(browser: Browser, content: str, destination: str = CUSTOMER, **extra: str):
    form = {"destination": destination, "content": content, **extra}
    return browser.post(f"/account/numbers/{NUMBER}/send", form)


def customer_replies(gateway: Gateway, text: str) -> None:
    gateway.inbound.receive(
        InboundSms(
            carrier_ref="test-" + uuid.uuid4().hex,
            sender="+" + CUSTOMER,
            recipient="+" + NUMBER,
            content=text,
            received_at=gateway.clock.now(),
        )
    )


@pytest.fixture
def bob(gateway: Gateway, signed_in: Callable[..., Browser]) -> Browser:
    account = gateway.accounts.create_account("Bob's Bikes")
    return signed_in("bob@bikes.example", account.id)


def test_a_newcomer_is_told_to_request_a_number_and_gets_one_in_one_click(
    gateway: Gateway, signed_in: Callable[..., Browser]
):
    account = gateway.accounts.create_account("Newco")
    newcomer = signed_in("new@newco.example", account.id)
    overview = newcomer.get("/account/")
    assert "Request your free Reply Number" in overview.text
    empty = newcomer.post("/account/numbers")
    assert empty.status_code == 409
    assert "No Reply Number is free right now" in empty.text
    gateway.numbers.add_to_pool(["447700900002"])
    response = newcomer.post("/account/numbers")
    assert response.status_code == 303
    assert response.headers["location"] == "/account/numbers/447700900002?done=number-assigned"
    page = newcomer.get(response.headers["location"])
    assert "Your new Reply Number is ready" in page.text
    assert "No conversations yet" in page.text


def test_number_settings_are_validated_and_saved(alice: Browser, gateway: Gateway):
    url = f"/account/numbers/{NUMBER}"
    bad = alice.post(url, {"response_emails": "team@acme.example, not-an-email", "tags": "a"})
    assert bad.status_code == 400
    assert "not-an-email" in bad.text and "is not an email address" in bad.text
    assert "team@acme.example, not-an-email" in bad.text  # what was typed is kept
    long_tag = alice.post(url, {"response_emails": "", "tags": "x" * 51})
    assert long_tag.status_code == 400 and "the most is 50" in long_tag.text
    bad_sender = alice.post(url, {"authorised_senders": "@nodot"})
    assert bad_sender.status_code == 400
    saved = alice.post(
        url,
        {
            "response_emails": "team@acme.example\nboss@acme.example; team@acme.example",
            "tags": "support, bookings",
            "authorised_senders": "@acme.example",
        },
    )
    assert saved.status_code == 303
    row = gateway.numbers.get(alice_account(gateway), NUMBER)
    assert row.response_emails == ["team@acme.example", "boss@acme.example"]
    assert row.tags == ["support", "bookings"]
    assert row.authorised_senders == ["@acme.example"]
    assert row.copy_replies is False  # the box was not ticked
    alice.post(url, {"response_emails": "team@acme.example", "copy_replies": "on"})
    assert gateway.numbers.get(alice_account(gateway), NUMBER).copy_replies is True
    assert "Settings saved." in alice.get(url + "?done=number-saved").text


def alice_account(gateway: Gateway) -> str:
    return gateway.accounts.list_accounts()[0].id


def test_releasing_a_number_explains_itself_first(alice: Browser, gateway: Gateway):
    confirm = alice.get(f"/account/numbers/{NUMBER}/release")
    assert confirm.status_code == 200
    for fact in (
        "quarantine for 30 days",
        "answers to the emails it forwarded are refused",
        "history is kept",
    ):
        assert fact in confirm.text
    done = alice.post(f"/account/numbers/{NUMBER}/release")
    assert done.status_code == 303
    with gateway.db.read() as session:
        row = session.get(ReplyNumber, "+" + NUMBER)
    assert row is not None and row.state == "quarantine"
    assert alice.get(f"/account/numbers/{NUMBER}").status_code == 404


def test_sending_and_replying_from_the_page(alice: Browser, gateway: Gateway, clock: FakeClock):
    for form, status, message in [
        ({"content": ""}, 400, "The message content is empty."),
        ({"content": "hi", "destination": "12"}, 400, "is not a phone number"),
        ({"content": "hi", "destination": "+33612345678"}, 403, "domestically only"),
        ({"content": "x" * 160 * 200}, 400, "the most is"),
    ]:
        response = send(alice, **{"destination": CUSTOMER, **form})
        assert response.status_code == status, form
        assert message in response.text
    sent = send(alice, "Your table is booked", tag="booking")
    assert sent.status_code == 303
    assert sent.headers["location"] == CONVERSATION + "?done=sent"
    page = alice.get(CONVERSATION)
    assert "Your table is booked" in page.text and "ACCEPTED" in page.text
    assert "1 credits" in page.text
    version = alice.get(CONVERSATION + "/feed.json").json()["version"]

    clock.advance(seconds=5)
    customer_replies(gateway, "Can we make it 8pm?")
    feed = alice.get(CONVERSATION + "/feed.json").json()
    assert feed["version"] != version and feed["count"] == 2
    assert feed["html"].index("Your table is booked") < feed["html"].index("Can we make it 8pm?")

    clock.advance(seconds=5)
    reply = alice.post(CONVERSATION + "/reply", {"content": "Yes, 8pm is fine", "smart": ""})
    assert reply.status_code == 303
    with gateway.db.read() as session:
        rows = list(session.scalars(select(Message).order_by(Message.created)))
    assert [m.content for m in rows] == ["Your table is booked", "Yes, 8pm is fine"]
    assert rows[0].tag == "booking"
    listing = alice.get(f"/account/numbers/{NUMBER}")
    assert "+447700900123" in listing.text and "You: Yes, 8pm is fine" in listing.text
    empty = alice.post(CONVERSATION + "/reply", {"content": "  "})
    assert empty.status_code == 400 and "The message content is empty." in empty.text


def test_smart_encoding_from_the_form_keeps_a_message_gsm7(alice: Browser, gateway: Gateway):
    send(alice, "It\u2019s ready", smart="on")
    with gateway.db.read() as session:
        message = session.scalars(select(Message)).one()
    assert (message.content, message.encoding) == ("It's ready", "GSM-7")


def test_no_credit_says_so(gateway: Gateway, signed_in: Callable[..., Browser]):
    account = gateway.accounts.create_account("Broke")
    gateway.numbers.add_to_pool(["447700900003"])
    gateway.numbers.assign(account.id)
    broke = signed_in("broke@example.com", account.id)
    response = broke.post(
        "/account/numbers/447700900003/send", {"destination": CUSTOMER, "content": "hi"}
    )
    assert response.status_code == 402
    assert "add credit and try again" in response.text


def test_live_segment_count_and_cost(alice: Browser, gateway: Gateway):
    def count(text: str, to: str = CUSTOMER, smart: str = "") -> dict[str, object]:
        response = alice.get("/account/segments", params={"text": text, "to": to, "smart": smart})
        assert response.status_code == 200
        result: dict[str, object] = response.json()
        return result

    assert count("x" * 160)["segments"] == 1
    long = count("x" * 161)
    assert (long["segments"], long["credits"], long["encoding"]) == (2, 2.0, "GSM-7")
    curly = count("It\u2019s here")
    assert curly["encoding"] == "UCS-2" and curly["ucs2_characters"] == ["\u2019"]
    assert curly["smart_helps"] is True and "Smart encoding" in str(curly["note"])
    assert count("It\u2019s here", smart="on")["encoding"] == "GSM-7"
    emoji = count("Hi \U0001f600")
    assert emoji["smart_helps"] is False and "UCS-2" in str(emoji["note"])
    gateway.accounts.set_international(alice_account(gateway), True)
    assert count("hello", to="+61412345678")["credits"] == 2.5  # the AU rate
    assert count("hello", to="+6")["credits"] == 1.0  # still typing: home rate


def test_another_accounts_ids_answer_404(
    alice: Browser, bob: Browser, gateway: Gateway, funded_account: dict[str, str]
):
    send(alice, "Private to alice")
    with gateway.db.read() as session:
        message_id = session.scalars(select(Message.id)).one()
    key_id = gateway.accounts.list_keys(funded_account["account_id"])[0].id
    assert alice.get(f"/account/messages/{message_id}").status_code == 200
    for url in (
        f"/account/numbers/{NUMBER}",
        f"/account/numbers/{NUMBER}/release",
        CONVERSATION,
        CONVERSATION + "/feed.json",
        f"/account/messages/{message_id}",
    ):
        assert bob.get(url).status_code == 404, url
    for url, form in (
        (f"/account/numbers/{NUMBER}", {"response_emails": "bob@bikes.example"}),
        (f"/account/numbers/{NUMBER}/send", {"destination": CUSTOMER, "content": "hi"}),
        (f"/account/numbers/{NUMBER}/release", {}),
        (CONVERSATION + "/reply", {"content": "hi"}),
        (f"/account/keys/{key_id}/revoke", {}),
    ):
        assert bob.post(url, form).status_code == 404, url
    for url in ("/account/", "/account/messages", "/account/messages.csv", "/account/keys"):
        text = bob.get(url).text
        assert "Private to alice" not in text and NUMBER not in text, url
        assert key_id not in text
    # Nothing of alice's changed.
    assert gateway.accounts.authenticate(funded_account["key"]) == funded_account["account_id"]
    assert gateway.numbers.get(funded_account["account_id"], NUMBER).response_emails == []


def test_the_message_log_searches_pages_and_exports(alice: Browser, clock: FakeClock):
    for index in range(55):
        clock.advance(minutes=1)
        send(alice, f"Message {index}", tag="bulk" if index % 2 else "")
    send(alice, '=HYPERLINK("http://evil.example")', destination="447700900124", tag="x")
    first = alice.get("/account/messages")
    assert "56 messages" in first.text and "Page 1 of 2" in first.text
    assert "Older" in first.text and "HYPERLINK" in first.text
    second = alice.get("/account/messages?page=2")
    assert "Message 0<" in second.text and "Page 2 of 2" in second.text
    tagged = alice.get("/account/messages", params={"tag": "bulk"})
    assert "27 messages" in tagged.text
    by_number = alice.get("/account/messages", params={"number": "447700900124"})
    assert "1 message " in by_number.text
    assert "0 messages" in alice.get("/account/messages", params={"status": "delivered"}).text
    assert "56 messages" in alice.get("/account/messages", params={"status": "accepted"}).text
    today = clock.now().date().isoformat()
    assert "56 messages" in alice.get("/account/messages", params={"from": today}).text
    assert "0 messages" in alice.get("/account/messages", params={"to": "2020-01-01"}).text
    bad = alice.get("/account/messages", params={"from": "yesterday"})
    assert bad.status_code == 400 and "is not a date" in bad.text

    export = alice.get("/account/messages.csv", params={"tag": "x"})
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0][:4] == ["created", "messageid", "sender", "destination"]
    assert len(rows) == 2
    assert rows[1][3] == "+447700900124"  # numbers are not mangled...
    assert rows[1][-1].startswith("'=HYPERLINK")  # ...but formulas are defused


def test_credits_show_the_ledger_and_rates(alice: Browser):
    send(alice, "hello")
    page = alice.get("/account/credits")
    assert "99" in page.text and "SMS sent" in page.text and "Top-up" in page.text
    assert "GB (home)" in page.text and "Any other country" in page.text
    assert "You send to GB numbers only" in page.text


def test_api_keys_are_shown_once_and_can_be_revoked(alice: Browser, gateway: Gateway):
    assert alice.post("/account/keys", {"name": ""}).status_code == 400
    created = alice.post("/account/keys", {"name": "booking system"})
    assert created.status_code == 201
    key = created.text.split('id="new-key" class="key" readonly value="')[1].split('"')[0]
    assert key.startswith("smsb_")
    assert gateway.accounts.authenticate(key) == alice_account(gateway)
    listing = alice.get("/account/keys")
    assert key not in listing.text and "booking system" in listing.text
    new_id = next(
        k.id
        for k in gateway.accounts.list_keys(alice_account(gateway))
        if k.name == "booking system"
    )
    assert alice.post(f"/account/keys/{new_id}/revoke").status_code == 303
    assert gateway.accounts.authenticate(key) is None
    assert "Revoked" in alice.get("/account/keys").text


def test_text_from_customers_is_escaped(alice: Browser, gateway: Gateway):
    customer_replies(gateway, "<script>alert(1)</script>")
    page = alice.get(CONVERSATION)
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_the_operator_sees_every_account_adds_credit_and_loads_numbers(
    gateway: Gateway,
    funded_account: dict[str, str],
    bob: Browser,
    signed_in: Callable[..., Browser],
):
    operator = signed_in("root@gateway.example", None, role="operator")
    home = operator.get("/account/")
    assert home.status_code == 303 and home.headers["location"] == "/account/operator"
    page = operator.get("/account/operator")
    assert "Acme" in page.text and "Bob&#39;s Bikes" in page.text
    account = funded_account["account_id"]
    for amount in ("0", "-5", "abc", "2000000", "nan"):
        response = operator.post(
            "/account/operator/credit", {"account_id": account, "amount": amount}
        )
        assert response.status_code == 400, amount
        assert "between 0.001 and 1,000,000" in response.text
    added = operator.post(
        "/account/operator/credit", {"account_id": account, "amount": "25.5", "note": "INV-7"}
    )
    assert added.status_code == 303
    assert gateway.messages.balance(account) == 125.5
    assert (
        operator.post("/account/operator/credit", {"account_id": "nope", "amount": "1"}).status_code
        == 404
    )
    assert operator.post("/account/operator/numbers", {"numbers": ""}).status_code == 400
    bad = operator.post("/account/operator/numbers", {"numbers": "447700900010\nnot-a-number"})
    assert bad.status_code == 400 and "not-a-number" in bad.text
    loaded = operator.post(
        "/account/operator/numbers", {"numbers": "447700900010, 447700900011\n447700900001"}
    )
    assert loaded.status_code == 200
    assert "Added 2 numbers. 1 were in the pool already." in loaded.text
    assert "2 free" in loaded.text


def test_the_operator_page_shows_each_carriers_health(
    signed_in: Callable[..., Browser], gateway: Gateway
):
    operator = signed_in("root@gateway.example", None, role="operator")
    page = operator.get("/account/operator")
    assert page.status_code == 200
    assert "Carriers" in page.text and "simulator" in page.text
