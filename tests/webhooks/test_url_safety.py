"""SSRF guard: webhook URLs may not point at the gateway's own machine or network."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

from smsbridge.app import Gateway
from smsbridge.errors import Invalid
from smsbridge.settings import WebhookSettings
from smsbridge.webhooks.service import WebhookService, check_webhook_url
from tests.conftest import FakeClock
from tests.webhooks.conftest import change_status, only_delivery, send_message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.9.9.9:8080/hook",
        "http://localhost/hook",
        "http://LOCALHOST./hook",
        "http://api.localhost/hook",
        "http://10.1.2.3/hook",
        "http://172.16.5.4/hook",
        "http://192.168.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://224.0.0.1/hook",
        "http://127.1/hook",
        "http://2130706433/hook",
        "http://0x7f000001/hook",
        "http://user:pw@10.0.0.1/hook",
    ],
)
def test_private_addresses_are_refused(url: str):
    reason = check_webhook_url(url, allow_private=False)
    assert reason is not None
    assert "public addresses only" in reason
    assert check_webhook_url(url, allow_private=True) is None


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "not a url", "http://example.com:99999/", "http:///nohost", ""],
)
def test_malformed_urls_are_refused_even_when_private_is_allowed(url: str):
    assert check_webhook_url(url, allow_private=True) is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook",
        "http://hooks.example.com:8080/a?b=c",
        "http://93.184.216.34/hook",
        "https://[2606:4700::1111]/hook",
    ],
)
def test_public_urls_pass(url: str):
    assert check_webhook_url(url, allow_private=False) is None


def strict(
    gateway: Gateway, clock: FakeClock, transport: httpx.AsyncBaseTransport
) -> WebhookService:
    return WebhookService(gateway.db, clock, WebhookSettings(retry_hours=1), transport)


def no_http() -> tuple[httpx.MockTransport, list[httpx.Request]]:
    calls: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200)

    return httpx.MockTransport(handle), calls


def test_settings_refuse_private_urls(gateway: Gateway, clock: FakeClock, funded_account):
    transport, _calls = no_http()
    service = strict(gateway, clock, transport)
    with pytest.raises(Invalid) as caught:
        service.update_settings(funded_account["account_id"], "http://127.0.0.1/dr", None)
    assert caught.value.code == "INVALID_URL"
    with pytest.raises(Invalid):
        service.update_settings(funded_account["account_id"], None, "http://10.0.0.2/in")


def test_a_private_message_url_is_recorded_as_failed_not_called(
    gateway: Gateway, clock: FakeClock, funded_account
):
    transport, calls = no_http()
    service = strict(gateway, clock, transport)
    message_id = send_message(gateway, funded_account["account_id"], "http://10.0.0.1/dr")
    assert change_status(gateway, service, [message_id], "DELIVERED") == 0
    row = only_delivery(gateway)
    assert row.status == "failed"
    assert row.last_error is not None and "10.0.0.1 is a private address" in row.last_error
    assert asyncio.run(service.run_once()) == 0
    assert calls == []


def fake_resolver(address: str) -> Any:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        assert host == "hooks.example.com"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    return getaddrinfo


def test_a_name_resolving_to_a_private_address_is_refused_at_send_time(
    gateway: Gateway, clock: FakeClock, funded_account, monkeypatch: pytest.MonkeyPatch
):
    transport, calls = no_http()
    service = strict(gateway, clock, transport)
    message_id = send_message(gateway, funded_account["account_id"], "https://hooks.example.com/dr")
    assert change_status(gateway, service, [message_id], "DELIVERED") == 1
    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver("192.168.1.20"))
    assert asyncio.run(service.run_once()) == 1
    row = only_delivery(gateway)
    assert row.status == "failed"
    assert row.last_error == (
        "hooks.example.com resolves to 192.168.1.20 is a private address; "
        "webhooks go to public addresses only."
    )
    assert calls == []


def test_a_public_resolution_is_sent_and_a_dns_failure_retried(
    gateway: Gateway, clock: FakeClock, funded_account, monkeypatch: pytest.MonkeyPatch
):
    transport, calls = no_http()
    service = strict(gateway, clock, transport)
    message_id = send_message(gateway, funded_account["account_id"], "https://hooks.example.com/dr")
    change_status(gateway, service, [message_id], "SENT")

    def broken(*_args: Any, **_kwargs: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", broken)
    asyncio.run(service.run_once())
    row = only_delivery(gateway)
    assert row.status == "queued"
    assert row.last_error is not None and row.last_error.startswith("Cannot resolve")

    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver("93.184.216.34"))
    clock.advance(seconds=10)
    assert asyncio.run(service.run_once()) == 1
    assert only_delivery(gateway).status == "sent"
    assert [str(c.url) for c in calls] == ["https://hooks.example.com/dr"]
