"""Hostile values in every field of every operation: never a 500, never a charge, never a row
that breaks a later read (both databases).

The operations and their fields are read from our own OpenAPI document, so an operation added
later is swept too. Values are written as raw JSON, since a lone surrogate escape or NaN is
exactly what a well-behaved JSON library would never produce.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from smsbridge.app import Gateway

# Raw JSON texts, each put in place of a field's value.
HOSTILE = {
    "lone surrogate": '"a\\ud800b"',
    "NUL": '"a\\u0000b"',
    "control": '"a\\u001bb"',
    "2^63": str(2**63),
    "-2^63-1": str(-(2**63) - 1),
    "NaN": "NaN",
    "1e400": "1e400",
    "300 deep": "[" * 300 + "]" * 300,
    "300 deep object": '{"a":' * 300 + "1" + "}" * 300,
    "wrong type": "false",
    "huge string": json.dumps("x" * 200_000),
}
PATH_VALUES = ["%00", "%ED%A0%80", "a" * 5000, "..%2F..%2Fetc", "%C0%80", "%F0%9F%98%80"]


@pytest.fixture
def client(gateway: Gateway, funded_account: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(gateway.api(), headers={"Authorization": funded_account["key"]}) as client:
        yield client


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in item.items():
            yield method.upper(), path, operation


def body_fields(spec: dict[str, Any], operation: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A valid-looking JSON body for the operation (its properties set to simple values), and
    whether it is a list of such bodies."""
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if schema is None:
        return {}, False
    listed = False
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "array":
            listed = True
            option = option["items"]
        ref = option.get("$ref")
        if ref:
            model = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
            return {name: "x" for name in model.get("properties", {})}, listed
    return {}, listed


def substitute(path: str) -> str:
    return path.replace("{messageid}", "m").replace("{batchid}", "b").replace("{number}", "1")


def test_hostile_values_in_every_field_of_every_operation(
    client: TestClient, gateway: Gateway, funded_account: dict[str, str]
) -> None:
    spec = client.get("/openapi.json").json()
    balance = gateway.messages.balance(funded_account["account_id"])
    swept = 0
    for method, path, operation in operations(spec):
        fields, listed = body_fields(spec, operation)
        url = substitute(path)
        for field in fields:
            for name, raw in HOSTILE.items():
                parts = [
                    f'"{k}": {raw if k == field else json.dumps(v)}' for k, v in fields.items()
                ]
                body = "{" + ", ".join(parts) + "}"
                if listed:
                    body = "[" + body + "]"
                response = client.request(
                    method,
                    url,
                    content=body.encode("utf-8", "surrogatepass"),
                    headers={"Content-Type": "application/json"},
                )
                swept += 1
                assert response.status_code < 500, (method, path, field, name, response.text)
                assert response.json()["code"], (method, path, field, name)
        if method in ("POST", "PUT"):
            big = json.dumps({"content": "x" * 11_000_000})
            response = client.request(
                method, url, content=big, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 413, (method, path)
            assert response.json()["code"] == "REQUEST_TOO_LARGE"
        for value in PATH_VALUES:
            if "{" not in path:
                continue
            hostile = path.split("{")[0] + value
            response = client.request(method, hostile)
            assert response.status_code < 500, (method, hostile, response.text)
    assert swept > 500  # the sweep saw the operations
    assert gateway.messages.balance(funded_account["account_id"]) == balance  # nothing charged


def test_hostile_query_strings_and_headers(client: TestClient) -> None:
    for value in ("%00", "%ED%A0%80", "%1B"):
        response = client.post(f"/v1/inbound/email?recipient={value}", content=b"x")
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "INVALID_TEXT"
    response = client.post(
        "/v1/message/send",
        json={"sender": "Acme", "destination": "447700900123", "content": "hi"},
        headers={"Idempotency-Key": "a\x7fb"},
    )
    assert response.json()["code"] == "INVALID_IDEMPOTENCY_KEY"
    invalid_utf8 = client.post(
        "/v1/message/send",
        content=b'{"content": "\xff"}',
        headers={"Content-Type": "application/json"},
    )
    assert invalid_utf8.json()["code"] == "MALFORMED_JSON"


def test_accepted_metadata_always_reads_back(
    client: TestClient, gateway: Gateway, funded_account: dict[str, str]
) -> None:
    kept = [
        {"key": "é", "value": "\u2603 tab\tand\nnewline"},
        {"nested": {"list": [1, 2.5, None, True, {"deep": [[["ok"]]]}]}},
        [{"n": 2**53 - 1}],
    ]
    ids = []
    for metadata in kept:
        response = client.post(
            "/v1/message/send",
            json={
                "sender": "Acme",
                "destination": "447700900123",
                "content": "hi",
                "metadata": metadata,
            },
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["messageid"])
        assert client.get(f"/v1/messages/{ids[-1]}").json()["metadata"] == metadata
    deep: Any = "leaf"
    for _ in range(20):
        deep = [deep]
    for metadata in ({"n": 2**53}, {"x": "y" * 5000}, deep):
        response = client.post(
            "/v1/message/send",
            json={
                "sender": "Acme",
                "destination": "447700900123",
                "content": "hi",
                "metadata": metadata,
            },
        )
        assert response.json()["code"] == "INVALID_METADATA", response.text
    listed = client.post("/v1/messages", json={}).json()
    assert sorted(m["messageid"] for m in listed) == sorted(ids)


def test_a_wrong_method_names_every_method_the_path_takes(client: TestClient) -> None:
    response = client.put("/v1/messages/some-id")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) >= {"GET", "DELETE"}
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


def test_our_openapi_document_declares_400_not_422(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            assert "HTTPValidationError" not in str(operation["responses"]), (method, path)
            if path.startswith("/v1/"):
                assert "400" in operation["responses"], (method, path)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
