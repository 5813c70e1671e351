"""The webhook API: settings, the secret, delivery lists, and what other accounts cannot see."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from smsbridge.api.errors import install_error_handlers
from smsbridge.api.routes import account_dependency
from smsbridge.app import Gateway
from smsbridge.settings import WebhookSettings
from smsbridge.webhooks.routes import build_webhook_router
from smsbridge.webhooks.service import WebhookService
from tests.conftest import FakeClock
from tests.webhooks.conftest import change_status, send_message


def make_client(gateway: Gateway, service: WebhookService) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(build_webhook_router(service, account_dependency(gateway.accounts)))
    return TestClient(app)


@pytest.fixture
def client(gateway: Gateway, hooks: WebhookService) -> TestClient:
    return make_client(gateway, hooks)


def test_settings_round_trip_and_secret(client: TestClient, funded_account):
    auth = {"Authorization": funded_account["key"]}
    empty = client.get("/v1/account/webhooks", headers=auth)
    assert empty.status_code == 200, empty.text
    assert empty.json() == {"deliveryreporturl": None, "inboundurl": None, "hassecret": False}

    put = client.put(
        "/v1/account/webhooks",
        json={"deliveryreporturl": "https://hooks.acme.example/dr", "inboundurl": None},
        headers=auth,
    )
    assert put.status_code == 200, put.text
    assert put.json()["deliveryreporturl"] == "https://hooks.acme.example/dr"

    rotated = client.post("/v1/account/webhooks/secret", headers=auth)
    assert rotated.status_code == 200
    secret = rotated.json()["secret"]
    assert len(secret) >= 40
    shown = client.get("/v1/account/webhooks", headers=auth)
    assert shown.json() == {
        "deliveryreporturl": "https://hooks.acme.example/dr",
        "inboundurl": None,
        "hassecret": True,
    }
    assert secret not in shown.text
    again = client.post("/v1/account/webhooks/secret", headers=auth).json()["secret"]
    assert again != secret

    cleared = client.put("/v1/account/webhooks", json={}, headers=auth)
    assert cleared.json()["deliveryreporturl"] is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"deliveryreporturl": "ftp://files.example/x"}, "INVALID_URL"),
        ({"inboundurl": "not a url"}, "INVALID_URL"),
        ({"deliveryreporturl": "https://ok.example", "secret": "mine"}, "UNKNOWN_FIELD"),
        ({"inboundurl": 5}, "INVALID_FIELD"),
    ],
)
def test_bad_settings_are_refused(client: TestClient, funded_account, body, code):
    answer = client.put(
        "/v1/account/webhooks", json=body, headers={"Authorization": funded_account["key"]}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == code


def test_private_urls_refused_by_a_strict_gateway(
    gateway: Gateway, clock: FakeClock, funded_account
):
    strict = make_client(gateway, WebhookService(gateway.db, clock, WebhookSettings()))
    answer = strict.put(
        "/v1/account/webhooks",
        json={"deliveryreporturl": "http://169.254.169.254/latest/meta-data/"},
        headers={"Authorization": funded_account["key"]},
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_URL"
    assert "link-local" in answer.json()["message"]


def test_a_key_is_required(client: TestClient):
    answer = client.get("/v1/account/webhooks")
    assert answer.status_code == 401
    assert answer.json()["code"] == "UNAUTHORIZED"


def test_deliveries_are_per_account(
    client: TestClient, gateway: Gateway, hooks: WebhookService, funded_account
):
    auth = {"Authorization": funded_account["key"]}
    message_id = send_message(gateway, funded_account["account_id"], "https://hooks.acme.example/x")
    change_status(gateway, hooks, [message_id], "DELIVERED")

    mine = client.get(f"/v1/messages/{message_id}/webhooks", headers=auth)
    assert mine.status_code == 200, mine.text
    [delivery] = mine.json()["deliveries"]
    assert delivery["event"] == "message.status"
    assert delivery["url"] == "https://hooks.acme.example/x"
    assert delivery["status"] == "queued"
    recent = client.get("/v1/account/webhooks/deliveries", headers=auth).json()["deliveries"]
    assert [d["id"] for d in recent] == [delivery["id"]]
    limited = client.get("/v1/account/webhooks/deliveries?limit=0", headers=auth)
    assert limited.status_code == 400

    other = gateway.accounts.create_account("Other")
    other_auth = {"Authorization": gateway.accounts.create_key(other.id).key}
    hidden = client.get(f"/v1/messages/{message_id}/webhooks", headers=other_auth)
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "MESSAGE_NOT_FOUND"
    missing = client.get("/v1/messages/nope/webhooks", headers=auth)
    assert missing.json()["code"] == "MESSAGE_NOT_FOUND"
    theirs = client.get("/v1/account/webhooks/deliveries", headers=other_auth)
    assert theirs.json() == {"deliveries": []}
