"""The SMS Works-compatible API against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import iso

from smsbridge.app import Gateway


@pytest.fixture
def client(gateway: Gateway) -> TestClient:
    return TestClient(gateway.api())


def auth(account: dict[str, str]) -> dict[str, str]:
    return {"Authorization": account["key"]}


def send(client: TestClient, account: dict[str, str], **fields: Any) -> Any:
    body = {"sender": "Acme", "destination": "447700900123", "content": "Hello"}
    body.update(fields)
    return client.post("/v1/message/send", json=body, headers=auth(account))


def test_send_returns_id_status_and_credits(client: TestClient, funded_account: dict[str, str]):
    response = send(client, funded_account)
    assert response.status_code == 201, response.text
    body = response.json()
    # As The SMS Works answers: SENT, the credits left, the credits used.
    assert body["status"] == "SENT"
    assert (body["credits"], body["creditsUsed"], body["messageparts"]) == (99.0, 1.0, 1)
    looked_up = client.get(f"/v1/messages/{body['messageid']}", headers=auth(funded_account))
    assert looked_up.status_code == 200
    message = looked_up.json()
    assert message["destination"] == 447700900123  # a number, as the document types it
    assert message["identifier"] == "7700900123"
    assert message["status"] == "ACCEPTED"
    assert message["segments"] == 1


def test_bearer_and_bare_keys_both_work(client: TestClient, funded_account: dict[str, str]):
    bare = client.get("/v1/utils/test", headers={"Authorization": funded_account["key"]})
    bearer = client.get(
        "/v1/utils/test", headers={"Authorization": f"Bearer {funded_account['key']}"}
    )
    assert bare.status_code == bearer.status_code == 200
    assert bare.json()["customerid"] == funded_account["account_id"]


@pytest.mark.parametrize("header", [None, "nonsense", "Bearer smsb_wrong"])
def test_missing_or_unknown_key_is_401_json(client: TestClient, header: str | None):
    headers = {"Authorization": header} if header else {}
    response = client.get("/v1/credits/balance", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"
    assert response.json()["message"]


def test_revoked_key_is_refused(client: TestClient, gateway: Gateway, funded_account):
    key_id = gateway.accounts.list_keys(funded_account["account_id"])[0].id
    gateway.accounts.revoke_key(funded_account["account_id"], key_id)
    response = client.get("/v1/credits/balance", headers=auth(funded_account))
    assert response.status_code == 401


def test_balance_falls_by_the_price(client: TestClient, funded_account):
    before = client.get("/v1/credits/balance", headers=auth(funded_account)).json()["credits"]
    send(client, funded_account, content="x" * 161)  # two GSM-7 segments
    after = client.get("/v1/credits/balance", headers=auth(funded_account)).json()["credits"]
    assert before - after == 2.0


def test_another_accounts_message_is_not_found(
    client: TestClient, gateway: Gateway, funded_account
):
    message_id = send(client, funded_account).json()["messageid"]
    other = gateway.accounts.create_account("Other")
    other_key = gateway.accounts.create_key(other.id).key
    response = client.get(f"/v1/messages/{message_id}", headers={"Authorization": other_key})
    assert response.status_code == 404
    assert response.json()["code"] == "MESSAGE_NOT_FOUND"


BAD_INPUTS = [
    ({"content": ""}, 400, "EMPTY_CONTENT"),
    ({"content": "x" * 1281}, 400, "CONTENT_TOO_LONG"),
    ({"tag": "t" * 51}, 400, "TAG_TOO_LONG"),
    ({"tag": "bad\ttag"}, 400, "INVALID_TAG"),
    ({"destination": "12ab"}, 400, "INVALID_DESTINATION"),
    ({"destination": "442071234567"}, 400, "NOT_A_MOBILE"),
    ({"destination": "+33612345678"}, 403, "INTERNATIONAL_NOT_ALLOWED"),
    ({"sender": "+447700900999"}, 403, "SENDER_NOT_HELD"),
    ({"sender": "Way too long sender"}, 400, "INVALID_SENDER"),
    ({"schedule": "2020-01-01T00:00:00Z"}, 400, "SCHEDULE_IN_PAST"),
    # Far enough ahead in any year this suite will run.
    ({"schedule": "9999-12-31T00:00:00Z"}, 400, "SCHEDULE_TOO_FAR"),
    ({"schedule": "tomorrow"}, 400, "INVALID_DATE"),
    ({"responseemail": ["not-an-email"]}, 400, "INVALID_EMAIL"),
    ({"colour": "blue"}, 400, "UNKNOWN_FIELD"),
    ({"validity": 0}, 400, "INVALID_VALIDITY"),
    ({"content": "\u200b", "ai": True}, 400, "EMPTY_CONTENT"),
]


@pytest.mark.parametrize(("fields", "status", "code"), BAD_INPUTS)
def test_bad_input_gets_a_coded_json_error_and_costs_nothing(
    client: TestClient, funded_account, fields: dict[str, Any], status: int, code: str
):
    before = client.get("/v1/credits/balance", headers=auth(funded_account)).json()["credits"]
    response = send(client, funded_account, **fields)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert response.json()["message"]
    after = client.get("/v1/credits/balance", headers=auth(funded_account)).json()["credits"]
    assert after == before
    listed = client.post("/v1/messages", json={}, headers=auth(funded_account)).json()
    assert listed == []


def test_malformed_json_and_missing_fields(client: TestClient, funded_account):
    response = client.post(
        "/v1/message/send",
        content=b'{"sender": "Acme",',
        headers={**auth(funded_account), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "MALFORMED_JSON"
    response = client.post(
        "/v1/message/send", json={"sender": "Acme"}, headers=auth(funded_account)
    )
    assert response.json()["code"] == "MISSING_FIELD"


def test_lone_surrogate_content_is_refused(client: TestClient, funded_account):
    # JSON may carry an unpaired surrogate escape; it can be counted but never encoded.
    raw = b'{"sender": "Acme", "destination": "447700900123", "content": "\\ud83d alone"}'
    response = client.post(
        "/v1/message/send",
        content=raw,
        headers={**auth(funded_account), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_CONTENT"


def test_insufficient_credit_is_refused_and_nothing_queued(
    client: TestClient, gateway: Gateway, funded_account
):
    poor = gateway.accounts.create_account("Poor")
    key = {"Authorization": gateway.accounts.create_key(poor.id).key}
    body = {"sender": "Acme", "destination": "447700900123", "content": "Hi"}
    response = client.post("/v1/message/send", json=body, headers=key)
    assert response.status_code == 402
    assert response.json()["code"] == "INSUFFICIENT_CREDIT"
    assert client.post("/v1/messages", json={}, headers=key).json() == []


def test_reply_number_sender_is_accepted(client: TestClient, funded_account):
    response = send(client, funded_account, sender=funded_account["number"].lstrip("+"))
    assert response.status_code == 201, response.text
    message = client.get(
        f"/v1/messages/{response.json()['messageid']}", headers=auth(funded_account)
    ).json()
    # Numbers are written one way in every answer: digits, no '+'.
    assert message["sender"] == funded_account["number"].lstrip("+")


def test_international_allowed_when_the_account_says_so(
    client: TestClient, gateway: Gateway, funded_account
):
    gateway.accounts.set_international(funded_account["account_id"], True)
    response = send(client, funded_account, destination="+33612345678")
    assert response.status_code == 201, response.text
    assert response.json()["creditsUsed"] == 2.0  # FR in the shipped rate table


def test_idempotency_key_returns_first_result_and_sends_once(client: TestClient, funded_account):
    headers = {**auth(funded_account), "Idempotency-Key": "order-42"}
    body = {"sender": "Acme", "destination": "447700900123", "content": "Your order shipped"}
    first = client.post("/v1/message/send", json=body, headers=headers)
    second = client.post("/v1/message/send", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    listed = client.post("/v1/messages", json={}, headers=auth(funded_account)).json()
    assert len(listed) == 1
    changed = client.post(
        "/v1/message/send", json={**body, "content": "Different"}, headers=headers
    )
    assert changed.status_code == 422
    assert changed.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_schedule_and_cancel_refunds(client: TestClient, gateway: Gateway, funded_account):
    future = iso(gateway.clock.now() + timedelta(days=1))
    response = client.post(
        "/v1/message/schedule",
        json={
            "sender": "Acme",
            "destination": "447700900123",
            "content": "Later",
            "schedule": future,
        },
        headers=auth(funded_account),
    )
    assert response.status_code == 200, response.text
    [scheduled] = response.json()  # the document answers a list of one
    assert scheduled["status"] == "SCHEDULED"
    message_id = scheduled["messageid"]
    assert client.get("/v1/credits/balance", headers=auth(funded_account)).json()["credits"] == 99
    cancel = client.delete(f"/v1/messages/schedule/{message_id}", headers=auth(funded_account))
    assert cancel.status_code == 200
    assert client.get("/v1/credits/balance", headers=auth(funded_account)).json()["credits"] == 100
    again = client.delete(f"/v1/messages/schedule/{message_id}", headers=auth(funded_account))
    assert again.status_code == 409


def test_batch_send_lookup_and_limits(client: TestClient, gateway: Gateway, funded_account):
    destinations = [f"4477009001{i:02d}" for i in range(20)]
    response = client.post(
        "/v1/batch/send",
        json={"sender": "Acme", "destinations": destinations, "content": "Sale!"},
        headers=auth(funded_account),
    )
    assert response.status_code == 201, response.text
    batch_id = response.json()["batchid"]
    messages = client.get(f"/v1/batch/{batch_id}", headers=auth(funded_account)).json()
    assert sorted(str(m["destination"]) for m in messages) == sorted(destinations)
    too_many = client.post(
        "/v1/batch/send",
        json={"sender": "Acme", "destinations": ["447700900123"] * 5001, "content": "x"},
        headers=auth(funded_account),
    )
    assert too_many.json()["code"] == "BATCH_TOO_LARGE"


def test_batch_with_one_bad_destination_sends_nothing(client: TestClient, funded_account):
    response = client.post(
        "/v1/batch/send",
        json={"sender": "Acme", "destinations": ["447700900123", "nope"], "content": "x"},
        headers=auth(funded_account),
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["index"] == 1
    assert client.post("/v1/messages", json={}, headers=auth(funded_account)).json() == []


def test_batch_any_accepts_an_array(client: TestClient, funded_account):
    body = [
        {"sender": "Acme", "destination": "447700900123", "content": "one"},
        {"sender": "Acme", "destination": "447700900124", "content": "two €"},
    ]
    response = client.post("/v1/batch/any", json=body, headers=auth(funded_account))
    assert response.status_code == 201, response.text
    messages = client.get(
        f"/v1/batch/{response.json()['batchid']}", headers=auth(funded_account)
    ).json()
    assert {m["content"] for m in messages} == {"one", "two €"}


def test_batch_schedule_and_cancel(client: TestClient, gateway: Gateway, funded_account):
    response = client.post(
        "/v1/batch/schedule",
        json={
            "sender": "Acme",
            "destinations": ["447700900123", "447700900124"],
            "content": "later",
            "schedule": iso(gateway.clock.now() + timedelta(hours=21)),
        },
        headers=auth(funded_account),
    )
    assert response.json()["status"] == "SCHEDULED"
    cancelled = client.delete(
        f"/v1/batches/schedule/{response.json()['batchid']}", headers=auth(funded_account)
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["cancelled"] == 2
    assert client.get("/v1/credits/balance", headers=auth(funded_account)).json()["credits"] == 100


def test_delivered_then_failed_messages_and_refund(
    client: TestClient, gateway: Gateway, funded_account
):
    gateway.handsets.set_outcome("+447700900666", "undeliverable")
    ok = send(client, funded_account).json()["messageid"]
    bad = send(client, funded_account, destination="447700900666").json()["messageid"]

    async def pump() -> None:
        await gateway.pipeline.run_once("test-worker")
        await gateway.carrier.deliver_due_receipts(gateway.pipeline)  # type: ignore[attr-defined]

    asyncio.run(pump())
    headers = auth(funded_account)
    assert client.get(f"/v1/messages/{ok}", headers=headers).json()["status"] == "DELIVERED"
    failed = client.get(f"/v1/messages/{bad}", headers=headers).json()
    assert failed["status"] == "UNDELIVERABLE"
    assert failed["failurereason"]["permanent"] is True
    listed = client.post("/v1/messages/failed", json={}, headers=headers).json()
    assert [m["messageid"] for m in listed] == [bad]
    assert client.get("/v1/credits/balance", headers=headers).json()["credits"] == 99


def test_search_filters(client: TestClient, funded_account):
    send(client, funded_account, tag="spring")
    send(client, funded_account, tag="autumn", destination="447700900124")
    headers = auth(funded_account)
    by_tag = client.post("/v1/messages", json={"tag": "spring"}, headers=headers).json()
    assert len(by_tag) == 1
    by_destination = client.post(
        "/v1/messages", json={"destination": "447700900124"}, headers=headers
    ).json()
    assert by_destination[0]["tag"] == "autumn"
    page = client.post("/v1/messages", json={"limit": 1, "skip": 1}, headers=headers).json()
    assert len(page) == 1


def test_inbox_lists_inbound_sms(client: TestClient, gateway: Gateway, funded_account):
    from smsbridge.carriers.base import InboundSms

    sms = InboundSms(
        "sim-in-1", "+447700900123", funded_account["number"], "STOP please", gateway.clock.now()
    )
    gateway.inbound.receive(sms)
    gateway.inbound.receive(sms)  # a redelivery is stored once
    inbox = client.post("/v1/messages/inbox", json={}, headers=auth(funded_account)).json()
    assert [m["content"] for m in inbox] == ["STOP please"]
    assert inbox[0]["keyword"] == "STOP"
    assert (inbox[0]["status"], inbox[0]["unread"]) == ("INCOMING", True)
    assert inbox[0]["sender"] == "447700900123"


def test_openapi_and_docs_are_served(client: TestClient):
    spec = client.get("/openapi.json").json()
    assert "/v1/message/send" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_unknown_path_is_json(client: TestClient):
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_send_with_a_schedule_is_scheduled(client: TestClient, gateway: Gateway, funded_account):
    response = send(client, funded_account, schedule=iso(gateway.clock.now() + timedelta(hours=21)))
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "SCHEDULED"
    assert response.json()["creditsUsed"] == 1.0
