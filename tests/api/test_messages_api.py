"""Reading and deleting messages: filters that match however a number is written, metadata
and credits filters, DELETE, flash SMS and the scheduled-message listing (both databases)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import FakeClock, iso

from smsbridge.app import Gateway
from smsbridge.carriers.base import InboundSms
from smsbridge.db.models import Message, SimSubmission
from smsbridge.messages import wire


@pytest.fixture
def client(gateway: Gateway, funded_account: dict[str, str]) -> TestClient:
    return TestClient(gateway.api(), headers={"Authorization": funded_account["key"]})


def send(client: TestClient, **fields: Any) -> dict[str, Any]:
    body = {"sender": "Acme", "destination": "447700900123", "content": "Hello", **fields}
    response = client.post("/v1/message/send", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def search(client: TestClient, path: str = "/v1/messages", **query: Any) -> list[str]:
    response = client.post(path, json=query)
    assert response.status_code == 200, response.text
    return [m["messageid"] for m in response.json()]


def pump(gateway: Gateway) -> None:
    async def once() -> None:
        await gateway.pipeline.run_once("test-worker")
        await gateway.carrier.deliver_due_receipts(gateway.pipeline)  # type: ignore[attr-defined]

    asyncio.run(once())


@pytest.mark.parametrize(
    "written",
    ["447700900123", "+447700900123", "07700 900123", "0044 7700 900123", "+44 (0)7700-900123"],
)
def test_a_destination_is_found_however_it_is_written(client: TestClient, written: str) -> None:
    mine = send(client)["messageid"]
    send(client, destination="447700900124")
    assert search(client, destination=written) == [mine]


def test_a_reply_number_sender_is_found_however_it_is_written(
    client: TestClient, funded_account: dict[str, str]
) -> None:
    number = funded_account["number"]
    mine = send(client, sender=number.lstrip("+"))["messageid"]
    send(client)
    for written in (number, number.lstrip("+"), "07700 900001"):
        assert search(client, sender=written) == [mine]
    assert search(client, sender="acme") == []  # names match exactly
    assert len(search(client, sender="Acme")) == 1


def test_metadata_credits_and_date_filters(client: TestClient, gateway: Gateway) -> None:
    listed = send(client, metadata=[{"key": "order", "value": "A1"}, {"key": "shop", "value": "x"}])
    keyed = send(client, metadata={"order": "B2"})
    long = send(client, content="x" * 200)  # two segments, two credits
    assert search(client, metadata=[{"key": "order", "value": "A1"}]) == [listed["messageid"]]
    assert search(client, metadata={"schema": {"key": "order", "value": "B2"}}) == [
        keyed["messageid"]
    ]
    assert search(client, metadata={"key": "shop", "value": "x"}) == [listed["messageid"]]
    assert search(client, metadata=[{"key": "order", "value": "nope"}]) == []
    assert search(client, credits=2) == [long["messageid"]]
    zone = ZoneInfo("Europe/London")
    hour = timedelta(hours=1)
    now = gateway.clock.now()
    assert len(search(client, **{"from": wire.js_date(now - hour, zone)})) == 3
    assert search(client, to=wire.js_date(now - hour, zone)) == []
    assert len(search(client, **{"from": iso(now - hour), "to": iso(now + hour)})) == 3
    bad = client.post("/v1/messages", json={"from": "last tuesday"})
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_DATE")
    wrong_type = client.post("/v1/messages", json={"skip": False})
    assert (wrong_type.status_code, wrong_type.json()["code"]) == (400, "INVALID_FIELD")


def test_delete_before_the_carrier_has_it_cancels_and_refunds(
    client: TestClient, gateway: Gateway, funded_account: dict[str, str]
) -> None:
    message_id = send(client)["messageid"]
    assert gateway.messages.balance(funded_account["account_id"]) == 99
    deleted = client.delete(f"/v1/messages/{message_id}")
    assert deleted.json() == {"messageid": message_id, "status": "DELETED"}
    assert gateway.messages.balance(funded_account["account_id"]) == 100
    assert client.get(f"/v1/messages/{message_id}").status_code == 404
    assert search(client) == []
    pump(gateway)
    with gateway.db.read() as session:
        assert session.scalars(select(SimSubmission)).first() is None  # never sent
    assert client.delete(f"/v1/messages/{message_id}").status_code == 404


def test_delete_after_sending_erases_but_keeps_following_the_message(
    client: TestClient, gateway: Gateway, funded_account: dict[str, str]
) -> None:
    gateway.handsets.set_outcome("+447700900666", "undeliverable")
    message_id = send(client, destination="447700900666", metadata={"secret": "s"})["messageid"]
    asyncio.run(gateway.pipeline.run_once("test-worker"))
    assert client.delete(f"/v1/messages/{message_id}").status_code == 200
    pump(gateway)
    with gateway.db.read() as session:
        row = session.get(Message, message_id)
        assert row is not None
        assert (row.status, row.content, row.metadata_json) == ("UNDELIVERABLE", "", None)
    # The failure after deletion is still refunded.
    assert gateway.messages.balance(funded_account["account_id"]) == 100
    assert search(client, path="/v1/messages/failed") == []


def test_inbound_sms_are_read_and_deleted_by_id(
    client: TestClient, gateway: Gateway, funded_account: dict[str, str]
) -> None:
    inbound_id = gateway.inbound.receive(
        InboundSms(
            "in-1", "+447700900123", funded_account["number"], "Hi there", gateway.clock.now()
        )
    )
    record = client.get(f"/v1/messages/{inbound_id}").json()
    assert (record["status"], record["sender"], record["destination"]) == (
        "INCOMING",
        "447700900123",
        int(funded_account["number"].lstrip("+")),
    )
    assert search(client, status="INCOMING") == [inbound_id]
    assert search(client, path="/v1/messages/inbox", sender="07700900123") == [inbound_id]
    assert client.delete(f"/v1/messages/{inbound_id}").status_code == 200
    assert search(client, path="/v1/messages/inbox") == []


def test_flash_sms_reach_the_carrier_as_flash(client: TestClient, gateway: Gateway) -> None:
    response = client.post(
        "/v1/message/flash",
        json={"sender": "Acme", "destination": "447700900123", "content": "Now!"},
    )
    assert response.status_code == 201, response.text
    message_id = response.json()["messageid"]
    assert client.get(f"/v1/messages/{message_id}").json()["flash"] is True
    send(client)
    pump(gateway)
    with gateway.db.read() as session:
        flags = {row.message_ref: row.flash for row in session.scalars(select(SimSubmission))}
    assert flags[message_id] is True
    assert sorted(flags.values()) == [False, True]


def test_the_scheduled_listing(client: TestClient, gateway: Gateway, clock: FakeClock) -> None:
    empty = client.get("/v1/messages/schedule").json()
    assert empty == {"scheduled": []}
    soon = iso(clock.now() + timedelta(hours=1))
    single = client.post(
        "/v1/message/schedule",
        json={"sender": "Acme", "destination": "447700900123", "content": "A", "schedule": soon},
    ).json()[0]["messageid"]
    batch = client.post(
        "/v1/batch/schedule",
        json={
            "sender": "Acme",
            "destinations": ["447700900123", "447700900124"],
            "content": "B",
            "schedule": iso(clock.now() + timedelta(hours=2)),
        },
    ).json()["batchid"]
    cancelled = client.post(
        "/v1/message/schedule",
        json={
            "sender": "Acme",
            "destination": "447700900125",
            "content": "C",
            "schedule": iso(clock.now() + timedelta(minutes=30)),
        },
    ).json()[0]["messageid"]
    client.delete(f"/v1/messages/schedule/{cancelled}")
    clock.advance(hours=1, minutes=1)
    pump(gateway)
    listing = client.get("/v1/messages/schedule").json()
    items = {item["id"]: item for item in listing["scheduled"]}
    assert [item["id"] for item in listing["scheduled"]] == [batch, single, cancelled]
    assert (listing["id"], listing["batch"]) == (batch, True)
    assert items[batch]["status"] == "SCHEDULED"
    assert items[batch]["message"]["destinations"] == ["447700900123", "447700900124"]
    assert items[single]["status"] == "PROCESSED"
    assert items[single]["message"]["schedule"].endswith(".000Z")
    assert items[cancelled]["status"] == "CANCELLED"


def test_a_deleted_message_is_gone_from_its_webhook_log_too(client: TestClient) -> None:
    message_id = send(client)["messageid"]
    assert client.get(f"/v1/messages/{message_id}/webhooks").status_code == 200
    client.delete(f"/v1/messages/{message_id}")
    assert client.get(f"/v1/messages/{message_id}/webhooks").status_code == 404
