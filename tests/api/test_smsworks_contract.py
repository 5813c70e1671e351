"""Every operation of The SMS Works' OpenAPI document, answered as the document says.

A real server (uvicorn on loopback) on a real database (SQLite and PostgreSQL) is called over
HTTP, and each answer is validated by openapi-core against the document's response schema for
the status code it names, error cases included. The document is the contract; this test
cannot drift from it because it reads it.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from smsbridge.app import Gateway
from smsbridge.carriers.base import InboundSms
from smsbridge.messages import wire

JS_ZONE = "Europe/London"


class _Request:
    """An httpx request as openapi-core reads one."""

    def __init__(self, request: httpx.Request) -> None:
        url = urlsplit(str(request.url))
        self.host_url = f"{url.scheme}://{url.netloc}"
        self.path = url.path
        self.method = request.method.lower()
        self.body = request.content or None
        self.content_type = request.headers.get("content-type", "application/json").lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "")
        self.headers = Headers(dict(response.headers))
        self.data = response.content


@dataclass
class Contract:
    """A client that checks each answer against the document before handing it back."""

    spec: OpenAPI
    http: httpx.Client
    checked: list[tuple[str, str, int]]

    def call(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code == expect, (method, path, response.status_code, response.text)
        # Raises with the schema error when the answer is not what the document says.
        self.spec.validate_response(_Request(response.request), _Response(response))
        self.checked.append((method, path, response.status_code))
        return response.json()


def _spec_for(path: Path, base_url: str) -> OpenAPI:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document = copy.deepcopy(document)
    document["servers"] = [{"url": base_url + "/v1"}]  # the same paths, at our address
    return OpenAPI.from_dict(document)


@pytest.fixture
def contract(
    smsworks_spec: Path, live_api: str, funded_account: dict[str, str]
) -> Iterator[Contract]:
    spec = _spec_for(smsworks_spec, live_api)
    with httpx.Client(
        base_url=live_api + "/v1",
        headers={"Authorization": funded_account["key"]},
        timeout=30,
    ) as http:
        yield Contract(spec, http, [])


def js(gateway: Gateway, **delta: float) -> str:
    """A date as The SMS Works' examples write it: Sun Sep 03 2020 15:34:23 GMT+0100 (BST)."""
    from zoneinfo import ZoneInfo

    return wire.js_date(gateway.clock.now() + timedelta(**delta), ZoneInfo(JS_ZONE))


MESSAGE = {
    "sender": "YourCompany",
    "destination": "447777777777",
    "content": "Your super awesome message",
    "tag": "SummerSpecial",
    "validity": 1440,
    "ai": True,
    "metadata": [{"key": "myKey1", "value": "myValue1"}, {"key": "myKey2", "value": "myValue2"}],
}


def test_every_operation_of_the_document_answers_as_it_says(
    contract: Contract, gateway: Gateway, funded_account: dict[str, str], smsworks_spec: Path
) -> None:
    reply_number = funded_account["number"].lstrip("+")
    gateway.handsets.set_outcome("+447700900666", "undeliverable")

    sent = contract.call("POST", "/message/send", 201, json=MESSAGE)
    assert sent["status"] == "SENT" and sent["creditsUsed"] == 1
    flash = contract.call("POST", "/message/flash", 201, json={**MESSAGE, "tag": None})
    scheduled = contract.call(
        "POST", "/message/schedule", 200, json={**MESSAGE, "schedule": js(gateway, hours=2)}
    )
    assert scheduled[0]["status"] == "SCHEDULED"
    failing = contract.call(
        "POST",
        "/message/send",
        201,
        json={"sender": reply_number, "destination": "447700900666", "content": "Hi"},
    )

    async def pump() -> None:
        await gateway.pipeline.run_once("contract-worker")
        await gateway.carrier.deliver_due_receipts(gateway.pipeline)  # type: ignore[attr-defined]

    asyncio.run(pump())
    gateway.inbound.receive(
        InboundSms(
            "contract-in-1",
            "+447700900123",
            funded_account["number"],
            "Yes please",
            gateway.clock.now(),
        )
    )

    found = contract.call(
        "POST",
        "/messages",
        200,
        json={
            "sender": "YourCompany",
            "destination": "447777777777",
            "credits": 1,
            "from": js(gateway, hours=-1),
            "to": js(gateway, hours=1),
            "limit": 1000,
            "skip": 0,
            "metadata": [{"key": "myKey1", "value": "myValue1"}],
        },
    )
    assert {m["messageid"] for m in found} == {
        sent["messageid"],
        flash["messageid"],
        scheduled[0]["messageid"],
    }
    record = contract.call("GET", f"/messages/{sent['messageid']}", 200)
    assert record["destination"] == 447777777777 and record["tag"] == "SummerSpecial"
    failed = contract.call("POST", "/messages/failed", 200, json={})
    assert [m["messageid"] for m in failed] == [failing["messageid"]]
    assert failed[0]["failurereason"]["permanent"] is True
    inbox = contract.call("POST", "/messages/inbox", 200, json={"unread": True})
    assert [m["content"] for m in inbox] == ["Yes please"]
    listing = contract.call("GET", "/messages/schedule", 200)
    assert listing["id"] == scheduled[0]["messageid"] and listing["status"] == "SCHEDULED"
    contract.call("DELETE", f"/messages/schedule/{scheduled[0]['messageid']}", 200)
    deleted = contract.call("DELETE", f"/messages/{flash['messageid']}", 200)
    assert deleted == {"messageid": flash["messageid"], "status": "DELETED"}

    batch = contract.call(
        "POST",
        "/batch/send",
        201,
        json={
            "sender": "YourCompany",
            "destinations": ["447777777777", "447777777778", "447777777779"],
            "content": "My super awesome batch message",
            "validity": 1440,
        },
    )
    members = contract.call("GET", f"/batch/{batch['batchid']}", 200)
    assert len(members) == 3
    contract.call(
        "POST",
        "/batch/any",
        201,
        json=[
            {"sender": "YourCompany", "destination": "447777777777", "content": "one"},
            {"sender": "YourCompany", "destination": "447777777778", "content": "two"},
        ],
    )
    later = contract.call(
        "POST",
        "/batch/schedule",
        201,
        json={
            "sender": "YourCompany",
            "destinations": ["447777777777"],
            "content": "later",
            "schedule": js(gateway, days=1),
        },
    )
    assert later["status"] == "SCHEDULED"
    contract.call("DELETE", f"/batches/schedule/{later['batchid']}", 200)

    otp = contract.call(
        "POST",
        "/otp/send",
        201,
        json={
            "sender": "YourCompany",
            "destination": "447777777777",
            "template": "This is your one-time passcode - {{passcode}}",
            "validity": 300,
            "passcode": "123456",
            "metadata": {"customer_id": "ABC123", "cart_id": "XYZ789"},
        },
    )
    looked_up = contract.call("GET", f"/otp/{otp['messageid']}", 200)
    assert looked_up["status"] == "SENT"
    verified = contract.call("POST", "/otp/verify", 200, json={"passcode": "123456"})
    assert verified["status"] == "VERIFIED" and verified["passcode"] == 123456
    assert verified["metadata"] == {"customer_id": "ABC123", "cart_id": "XYZ789"}

    balance = contract.call("GET", "/credits/balance", 200)
    assert balance["credits"] == gateway.messages.balance(funded_account["account_id"])
    contract.call("GET", "/utils/test", 200)
    sample = contract.call("GET", "/utils/errors/3000", 200)
    assert (sample["status"], sample["permanent"]) == ("INSUFFICIENT_CREDIT", False)

    # Every path and method of the document was called and checked.
    document = yaml.safe_load(smsworks_spec.read_text(encoding="utf-8"))
    operations = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete")
    }
    called = {(method, _template(path, document["paths"])) for method, path, _ in contract.checked}
    assert operations <= called, f"not called: {sorted(operations - called)}"


def _template(path: str, paths: dict[str, Any]) -> str:
    """The document's path that `path` is an instance of (/messages/abc -> /messages/{...})."""
    if path in paths:
        return path
    parts = path.strip("/").split("/")
    for candidate in paths:
        pieces = candidate.strip("/").split("/")
        if len(pieces) == len(parts) and all(
            p == q or (q.startswith("{") and q.endswith("}"))
            for p, q in zip(parts, pieces, strict=True)
        ):
            return candidate
    return path


BAD_KEY_CALLS: list[tuple[str, str, Any]] = [
    ("POST", "/message/send", MESSAGE),
    ("POST", "/message/flash", MESSAGE),
    ("POST", "/message/schedule", MESSAGE),
    ("POST", "/messages", {}),
    ("POST", "/messages/inbox", {}),
    ("POST", "/messages/failed", {}),
    ("GET", "/messages/schedule", None),
    ("GET", "/messages/nope", None),
    ("DELETE", "/messages/nope", None),
    ("DELETE", "/messages/schedule/nope", None),
    ("POST", "/batch/send", {"sender": "Acme", "destinations": ["447777777777"], "content": "x"}),
    ("POST", "/batch/any", [MESSAGE]),
    ("GET", "/batch/nope", None),
    (
        "POST",
        "/batch/schedule",
        {"sender": "Acme", "destinations": ["447777777777"], "content": "x"},
    ),
    ("DELETE", "/batches/schedule/nope", None),
    ("POST", "/otp/send", {"sender": "Acme", "destination": "447777777777"}),
    ("POST", "/otp/verify", {"passcode": "123456"}),
    ("GET", "/otp/nope", None),
    ("GET", "/credits/balance", None),
    ("GET", "/utils/test", None),
    ("GET", "/utils/errors/3000", None),
]


def test_a_bad_key_is_refused_in_the_documents_error_model_everywhere(
    contract: Contract, smsworks_spec: Path
) -> None:
    for method, path, body in BAD_KEY_CALLS:
        headers = {"Authorization": "JWT not-a-key"}
        answer = contract.call(method, path, 401, json=body, headers=headers)
        assert answer["status"] == "UNAUTHORIZED" and isinstance(answer["errorCode"], int)
    document = yaml.safe_load(smsworks_spec.read_text(encoding="utf-8"))
    operations = sum(
        1
        for item in document["paths"].values()
        for method in item
        if method in ("get", "post", "delete")
    )
    assert len(BAD_KEY_CALLS) == operations == 21


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"destination": "12ab"}, 400, "INVALID_DESTINATION"),
        ({"validity": 2881}, 400, "INVALID_VALIDITY"),
        ({"tag": "t" * 51}, 400, "TAG_TOO_LONG"),
        ({"schedule": "Sun Sep 03 2020 15:34:23 GMT+0100 (BST)"}, 400, "SCHEDULE_IN_PAST"),
        ({"sender": "+447700900999"}, 403, "SENDER_NOT_HELD"),
    ],
)
def test_send_errors_are_the_extended_error_model(
    contract: Contract,
    gateway: Gateway,
    funded_account,
    fields: dict[str, Any],
    status: int,
    code: str,
) -> None:
    before = gateway.messages.balance(funded_account["account_id"])
    answer = contract.call("POST", "/message/send", status, json={**MESSAGE, **fields})
    assert (answer["status"], answer["code"], answer["permanent"]) == (code, code, True)
    assert gateway.messages.balance(funded_account["account_id"]) == before


def test_no_credit_is_402_not_permanent_and_nothing_is_queued(
    contract: Contract, gateway: Gateway
) -> None:
    poor = gateway.accounts.create_account("Poor")
    key = gateway.accounts.create_key(poor.id).key
    answer = contract.call(
        "POST", "/message/send", 402, json=MESSAGE, headers={"Authorization": key}
    )
    assert (answer["status"], answer["permanent"]) == ("INSUFFICIENT_CREDIT", False)
    assert contract.call("POST", "/messages", 200, json={}, headers={"Authorization": key}) == []


def test_unknown_ids_are_404_in_the_error_model(contract: Contract) -> None:
    for path in ("/messages/nope", "/batch/nope", "/otp/nope", "/utils/errors/99999"):
        answer = contract.call("GET", path, 404)
        assert answer["message"] and isinstance(answer["errorCode"], int)
    wrong = contract.call("POST", "/otp/verify", 404, json={"passcode": "000000"})
    assert wrong["code"] == "OTP_NOT_FOUND"


def test_our_own_openapi_document_says_what_we_answer(live_api: str) -> None:
    spec = httpx.get(live_api + "/openapi.json", timeout=30).json()
    send = spec["paths"]["/v1/message/send"]["post"]
    assert {"201", "400", "401", "402", "403"} <= set(send["responses"])
    media = send["responses"]["201"]["content"]
    assert list(media) == ["application/json;charset=UTF-8"]
    record = spec["components"]["schemas"]["MessageRecord"]
    assert {"destination", "failurereason", "schedule", "tag"} <= set(record["properties"])
    assert spec["components"]["securitySchemes"]["JWT"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "Your API key, bare or as 'Bearer <key>' or 'JWT <key>'.",
    }
    assert json.dumps(spec)  # the document we serve is plain JSON
