"""The Webhooks page: URLs with inline errors, the signing secret shown once, recent webhooks."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import select

from smsbridge.app import Gateway
from smsbridge.db.models import Account, Message, WebhookDelivery
from smsbridge.ids import new_id
from smsbridge.webhooks import signing
from tests.conftest import FakeClock
from tests.dashboard.conftest import Browser
from tests.dashboard.test_pages import NUMBER, send

PAGE = "/account/webhooks"
ALICE_HOOK = "https://hooks.acme.example/sms/status"
SECRET = re.compile(r'id="new-secret" class="key" readonly value="([^"]+)"')


@pytest.fixture
def bob(gateway: Gateway, signed_in: Callable[..., Browser]) -> Browser:
    account = gateway.accounts.create_account("Bob's Bikes")
    return signed_in("bob@bikes.example", account.id)


def settings_of(gateway: Gateway, account_id: str) -> dict[str, object]:
    return gateway.webhooks.get_settings(account_id)


def queue_status_webhook(gateway: Gateway, message_id: str) -> None:
    """What the pipeline does when a message's status changes."""
    with gateway.db.write() as session:
        gateway.webhooks.enqueue_status_changes(session, [message_id], gateway.clock.now())


def only_message_id(gateway: Gateway) -> str:
    with gateway.db.read() as session:
        return session.scalars(select(Message.id)).one()


def test_the_page_starts_empty_and_explains_itself(alice: Browser):
    page = alice.get(PAGE)
    assert page.status_code == 200
    assert "Coming soon" not in page.text
    assert 'aria-current="page">Webhooks' in page.text
    assert "No webhooks yet" in page.text
    assert "You have no signing secret yet" in page.text
    assert "Create a signing secret" in page.text
    assert 'id="deliveryreporturl"' in page.text and 'id="inboundurl"' in page.text


def test_urls_are_validated_with_errors_beside_each_box_and_then_saved(
    alice: Browser, gateway: Gateway, funded_account: dict[str, str]
):
    account_id = funded_account["account_id"]
    bad = alice.post(
        PAGE,
        {"deliveryreporturl": "ftp://hooks.acme.example/x", "inboundurl": "http://127.0.0.1/in"},
    )
    assert bad.status_code == 400
    assert "Nothing was saved" in bad.text
    assert "is not an http(s) URL" in bad.text
    assert "127.0.0.1 is a loopback address" in bad.text
    assert bad.text.count('aria-invalid="true"') == 2
    assert 'id="deliveryreporturl-error"' in bad.text and 'id="inboundurl-error"' in bad.text
    assert 'value="ftp://hooks.acme.example/x"' in bad.text  # what was typed is kept

    # One good URL is not saved while the other is wrong.
    half = alice.post(PAGE, {"deliveryreporturl": ALICE_HOOK, "inboundurl": "http://10.1.2.3/"})
    assert half.status_code == 400
    assert half.text.count('aria-invalid="true"') == 1
    assert "10.1.2.3 is a private address" in half.text
    assert settings_of(gateway, account_id)["deliveryreporturl"] is None

    saved = alice.post(
        PAGE, {"deliveryreporturl": f"  {ALICE_HOOK} ", "inboundurl": "https://acme.example/in"}
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == PAGE + "?done=webhooks-saved"
    assert settings_of(gateway, account_id) == {
        "deliveryreporturl": ALICE_HOOK,
        "inboundurl": "https://acme.example/in",
        "hassecret": False,
    }
    page = alice.get(saved.headers["location"])
    assert "Webhook URLs saved." in page.text
    assert f'value="{ALICE_HOOK}"' in page.text
    assert "aria-invalid" not in page.text

    cleared = alice.post(PAGE, {"deliveryreporturl": "", "inboundurl": ""})
    assert cleared.status_code == 303
    assert settings_of(gateway, account_id)["deliveryreporturl"] is None
    assert settings_of(gateway, account_id)["inboundurl"] is None


def test_webhook_forms_without_the_csrf_token_are_refused(
    alice: Browser, gateway: Gateway, funded_account: dict[str, str]
):
    account_id = funded_account["account_id"]
    for url, form in (
        (PAGE, {"deliveryreporturl": ALICE_HOOK}),
        (PAGE, {"deliveryreporturl": ALICE_HOOK, "csrf": "forged"}),
        (PAGE + "/secret", {}),
        (PAGE + "/secret", {"csrf": "forged"}),
    ):
        response = alice.client.post(url, data=form)
        assert response.status_code == 403, (url, form)
        assert "did not come from this site" in response.text
        assert SECRET.search(response.text) is None
    assert settings_of(gateway, account_id) == {
        "deliveryreporturl": None,
        "inboundurl": None,
        "hassecret": False,
    }


def test_a_new_signing_secret_is_shown_once(
    alice: Browser, gateway: Gateway, funded_account: dict[str, str]
):
    rotated = alice.post(PAGE + "/secret")
    assert rotated.status_code == 200
    match = SECRET.search(rotated.text)
    assert match
    secret = match.group(1)
    assert 'data-copy="#new-secret"' in rotated.text
    assert "shown only this once" in rotated.text
    # How receivers check a webhook, in a line.
    assert signing.SIGNATURE_HEADER in rotated.text and signing.TIMESTAMP_HEADER in rotated.text
    assert "HMAC-SHA256" in rotated.text
    with gateway.db.read() as session:
        account = session.get(Account, funded_account["account_id"])
    assert account is not None and account.webhook_secret == secret

    later = alice.get(PAGE)
    assert secret not in later.text and SECRET.search(later.text) is None
    assert "Replace the signing secret" in later.text
    assert "no signing secret yet" not in later.text
    for other in ("/account/", "/account/keys", "/account/messages"):
        assert secret not in alice.get(other).text, other

    again = alice.post(PAGE + "/secret")
    match = SECRET.search(again.text)
    assert match and match.group(1) != secret
    assert secret not in again.text


def test_recent_webhooks_are_listed_with_their_outcome_and_per_message(
    alice: Browser, gateway: Gateway, clock: FakeClock, funded_account: dict[str, str]
):
    account_id = funded_account["account_id"]
    send(alice, "Before any webhook URL")
    message_id = only_message_id(gateway)
    detail = alice.get(f"/account/messages/{message_id}")
    assert "No webhooks for this message" in detail.text

    gateway.webhooks.update_settings(account_id, ALICE_HOOK, None)
    queue_status_webhook(gateway, message_id)
    clock.advance(seconds=5)
    # A URL the gateway refuses to call (set before the check existed) is recorded as failed.
    with gateway.db.write() as session:
        account = session.get(Account, account_id)
        assert account is not None
        account.default_deliveryreporturl = "http://10.0.0.7/hook"
    queue_status_webhook(gateway, message_id)

    page = alice.get(PAGE)
    assert "No webhooks yet" not in page.text
    assert page.text.count("Delivery report") >= 2
    assert ALICE_HOOK in page.text and "http://10.0.0.7/hook" in page.text
    assert "w-queued" in page.text and "w-failed" in page.text
    assert "10.0.0.7 is a private address" in page.text
    assert f'href="/account/messages/{message_id}"' in page.text

    detail = alice.get(f"/account/messages/{message_id}")
    assert "No webhooks for this message" not in detail.text
    assert ALICE_HOOK in detail.text and "10.0.0.7 is a private address" in detail.text
    # Oldest first here; newest first on the Webhooks page.
    assert detail.text.index(ALICE_HOOK) < detail.text.index("http://10.0.0.7/hook")
    assert page.text.index(ALICE_HOOK) > page.text.index("http://10.0.0.7/hook")


def test_another_accounts_webhooks_are_never_shown(
    alice: Browser, bob: Browser, gateway: Gateway, funded_account: dict[str, str]
):
    gateway.webhooks.update_settings(funded_account["account_id"], ALICE_HOOK, None)
    send(alice, "Private to alice")
    message_id = only_message_id(gateway)
    queue_status_webhook(gateway, message_id)
    alice_secret = gateway.webhooks.rotate_secret(funded_account["account_id"])
    assert ALICE_HOOK in alice.get(PAGE).text

    bobs = bob.get(PAGE)
    assert bobs.status_code == 200
    assert "No webhooks yet" in bobs.text
    assert ALICE_HOOK not in bobs.text and message_id not in bobs.text
    assert alice_secret not in bobs.text and "You have no signing secret yet" in bobs.text
    assert bob.get(f"/account/messages/{message_id}").status_code == 404

    # Bob's own webhook is listed for him, alice's still not.
    bob_account = next(a.id for a in gateway.accounts.list_accounts() if a.name == "Bob's Bikes")
    with gateway.db.write() as session:
        now = gateway.clock.now()
        session.add(
            WebhookDelivery(
                id=new_id(),
                account_id=bob_account,
                event="message.inbound",
                message_id=new_id(),
                url="https://bikes.example/inbound",
                payload={},
                status="sent",
                attempts=1,
                ready_at=now,
                last_status_code=204,
                created_at=now,
                sent_at=now,
            )
        )
    bobs = bob.get(PAGE)
    assert "https://bikes.example/inbound" in bobs.text and "Inbound SMS" in bobs.text
    assert "204" in bobs.text and "w-sent" in bobs.text
    assert ALICE_HOOK not in bobs.text
    assert "https://bikes.example/inbound" not in alice.get(PAGE).text

    # Bob's settings and secret are his own: changing them leaves alice's alone.
    assert bob.post(PAGE, {"deliveryreporturl": "https://bikes.example/dr"}).status_code == 303
    assert bob.post(PAGE + "/secret").status_code == 200
    mine = settings_of(gateway, funded_account["account_id"])
    assert mine["deliveryreporturl"] == ALICE_HOOK
    with gateway.db.read() as session:
        account = session.get(Account, funded_account["account_id"])
    assert account is not None and account.webhook_secret == alice_secret
    assert NUMBER not in bobs.text


def test_an_operator_without_an_account_is_sent_to_the_operator_page(
    signed_in: Callable[..., Browser],
):
    operator = signed_in("root@gateway.example", None, role="operator")
    for response in (operator.get(PAGE), operator.post(PAGE + "/secret")):
        assert response.status_code == 303
        assert response.headers["location"] == "/account/operator"
