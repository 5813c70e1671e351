"""What our carrier sends and what the emulator answers, checked against Twilio's own OpenAPI.

The description is twilio/twilio-oai (`twilio_api_v2010.json`), installed from the npm
package `@twilio-alpha/mcp`, which ships it: `npm ci --prefix tests/carriers/twilio/oai`.
Each request our carrier (the official `twilio` client) made is validated against the
document's request schema, and each successful answer of the emulator against its response
schema, so neither side can drift from the published interface unnoticed.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.carriers.live import (
    NUMBER,
    SID,
    TOKEN,
    carrier_gateway,
    eventually,
    free_port,
    fund,
    message,
    send,
    serving,
    twilio_account,
)
from tests.carriers.twilio.emulator import Exchange, TwilioEmulator

SPEC = (
    Path(__file__).resolve().parent
    / "oai/node_modules/@twilio-alpha/mcp/twilio-oai/spec/json/twilio_api_v2010.json"
)
PATHS = (
    "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json",
    "/2010-04-01/Accounts/{AccountSid}/Messages.json",
    "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json",
)


def _referenced(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            _referenced(value, found)
    elif isinstance(node, list):
        for value in node:
            _referenced(value, found)


def messages_spec(base_url: str) -> OpenAPI:
    """The Messages operations of the document (and the schemas they use), at `base_url`."""
    if not SPEC.exists():
        pytest.fail("Twilio's OpenAPI is not installed: npm ci --prefix tests/carriers/twilio/oai")
    document = json.loads(SPEC.read_text(encoding="utf-8"))
    paths = {}
    for name in PATHS:
        item = dict(document["paths"][name])
        item.pop("servers", None)
        paths[name] = item
    schemas = document["components"]["schemas"]
    needed: set[str] = set()
    _referenced(paths, needed)
    while True:
        more = set(needed)
        for name in needed:
            _referenced(schemas[name], more)
        if more == needed:
            break
        needed = more
    pruned = {
        "openapi": document["openapi"],
        "info": document["info"],
        "servers": [{"url": base_url}],
        "security": document.get("security", []),
        "paths": paths,
        "components": {
            "securitySchemes": document["components"]["securitySchemes"],
            "schemas": {name: schemas[name] for name in needed},
        },
    }
    return OpenAPI.from_dict(pruned)


class _Request:
    def __init__(self, base_url: str, exchange: Exchange, authorization: str) -> None:
        self.host_url = base_url
        self.path, _, query = exchange.path.partition("?")
        self.method = exchange.method.lower()
        self.body = exchange.body or None
        self.content_type = exchange.content_type or "application/x-www-form-urlencoded"
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(query)),
            header=Headers({"Authorization": authorization}),
            cookie=ImmutableMultiDict(),
        )


class _Response:
    def __init__(self, exchange: Exchange) -> None:
        self.status_code = exchange.status
        self.content_type = exchange.answer_type
        self.headers = Headers({"Content-Type": exchange.answer_type})
        self.data = exchange.answer


def test_our_requests_and_the_emulators_answers_follow_twilios_openapi(database_url: str):
    with TwilioEmulator({SID: TOKEN}, numbers={SID: {NUMBER}}) as twilio:
        twilio.outcome["+447700900124"] = "undelivered"
        gateway = carrier_gateway(
            database_url, free_port(), [twilio_account("twilio", twilio.base_url)]
        )
        account_id = fund(gateway)
        sent = [
            send(gateway, account_id, "Hello"),
            send(gateway, account_id, "Ünïcödé ✓ " * 10),
            send(gateway, account_id, "To a failing phone", destination="447700900124"),
        ]
        twilio.script.failures.append((400, 21211))
        twilio.lose_answers = 1  # one create unanswered: the carrier lists the messages
        refused = send(gateway, account_id, "refused")

        async def main() -> None:
            async with serving(gateway):
                await gateway.pipeline.run_once("w")
                await eventually(
                    lambda: all(message(gateway, m).state == "final" for m in [*sent, refused])
                )
                # The price fetches after each final callback.
                await eventually(
                    lambda: sum(e.method == "GET" for e in twilio.exchanges) >= 3,
                    what="the price fetches",
                )

        asyncio.run(main())
        exchanges = list(twilio.exchanges)
        spec = messages_spec(twilio.base_url)

    import base64

    authorization = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    creates = [e for e in exchanges if e.method == "POST"]
    fetches = [e for e in exchanges if e.method == "GET"]
    assert len(creates) == 4 and len(fetches) >= 4
    assert any(e.path.startswith(f"/2010-04-01/Accounts/{SID}/Messages.json?") for e in fetches)
    assert any("/IncomingPhoneNumbers.json" in e.path for e in fetches)
    for exchange in exchanges:
        request = _Request(twilio.base_url, exchange, authorization)
        spec.validate_request(request)
        if 200 <= exchange.status < 300:
            spec.validate_response(request, _Response(exchange))
        else:
            # Errors are not in the document; their shape is Twilio's documented error JSON.
            assert set(json.loads(exchange.answer)) == {"code", "message", "more_info", "status"}
