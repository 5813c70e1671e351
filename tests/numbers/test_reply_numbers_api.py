"""Reply Numbers over the API: request from the pool, configure, release, quarantine."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from smsbridge.app import Gateway


@pytest.fixture
def client(gateway: Gateway) -> TestClient:
    return TestClient(gateway.api())


@pytest.fixture
def account(gateway: Gateway) -> dict[str, str]:
    created = gateway.accounts.create_account("Acme")
    return {"id": created.id, "key": gateway.accounts.create_key(created.id).key}


def test_request_configure_and_release(client: TestClient, gateway: Gateway, account, clock):
    headers = {"Authorization": account["key"]}
    empty = client.post("/v1/replynumbers", headers=headers)
    assert empty.status_code == 409
    assert empty.json()["code"] == "POOL_EMPTY"

    gateway.numbers.add_to_pool(["447700900001"])
    got = client.post(
        "/v1/replynumbers", json={"responseemail": ["team@acme.example"]}, headers=headers
    )
    assert got.status_code == 200, got.text
    assert got.json()["number"] == "447700900001"
    assert got.json()["responseemail"] == ["team@acme.example"]

    updated = client.put(
        "/v1/replynumbers/447700900001",
        json={
            "tags": ["support", "uk"],
            "copyreplies": False,
            "authorisedsenders": ["@acme.example"],
        },
        headers=headers,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["tags"] == ["support", "uk"]
    assert updated.json()["copyreplies"] is False
    assert updated.json()["responseemail"] == ["team@acme.example"]  # untouched
    listed = client.get("/v1/replynumbers", headers=headers).json()["numbers"]
    assert [n["number"] for n in listed] == ["447700900001"]

    released = client.delete("/v1/replynumbers/447700900001", headers=headers)
    assert released.json()["status"] == "RELEASED"
    assert client.get("/v1/replynumbers", headers=headers).json()["numbers"] == []
    # Quarantined: nobody gets it until the quarantine is over.
    assert client.post("/v1/replynumbers", headers=headers).status_code == 409
    clock.advance(days=gateway.settings.numbers.quarantine_days + 1)
    again = client.post("/v1/replynumbers", headers=headers)
    assert again.status_code == 200
    assert again.json()["tags"] == []  # a fresh start for the new holder


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"responseemail": ["nope"]}, "INVALID_EMAIL"),
        ({"tags": ["x" * 51]}, "TAG_TOO_LONG"),
        ({"authorisedsenders": ["@@bad"]}, "INVALID_EMAIL"),
        ({"colour": "red"}, "UNKNOWN_FIELD"),
    ],
)
def test_bad_settings_are_refused(client: TestClient, gateway: Gateway, account, body, code):
    gateway.numbers.add_to_pool(["447700900001"])
    gateway.numbers.assign(account["id"])
    response = client.put(
        "/v1/replynumbers/447700900001", json=body, headers={"Authorization": account["key"]}
    )
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_another_accounts_number_is_not_found(client: TestClient, gateway: Gateway, account):
    gateway.numbers.add_to_pool(["447700900001"])
    gateway.numbers.assign(account["id"])
    other = gateway.accounts.create_account("Other")
    headers = {"Authorization": gateway.accounts.create_key(other.id).key}
    assert client.get("/v1/replynumbers/447700900001", headers=headers).status_code == 404
    assert client.delete("/v1/replynumbers/447700900001", headers=headers).status_code == 404
    response = client.post(
        "/v1/message/send",
        json={"sender": "447700900001", "destination": "447700900123", "content": "hi"},
        headers=headers,
    )
    assert response.status_code == 403
    assert response.json()["code"] == "SENDER_NOT_HELD"
