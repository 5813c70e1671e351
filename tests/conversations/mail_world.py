"""The mail world around a gateway for end-to-end tests: our real SMTP or LMTP server, a DNS
server on 127.0.0.1 holding SPF, DKIM and DMARC records, and signing keys for senders."""

from __future__ import annotations

import asyncio
import base64
import smtplib
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest

from smsbridge.app import Gateway
from smsbridge.mail.addresses import parse_address_list
from smsbridge.mail.dkim_keys import DkimSigner
from smsbridge.mail.parsing import Limits, Problem, scan_headers
from tests.mail.dns_server import Zone, ZoneResolver, dns_server

# Senders whose domains publish SPF for this machine and a DKIM key (fwd.example is a mailing
# list that seals what it forwards with ARC); forged.example publishes nothing, so mail
# claiming it cannot be authenticated.
SIGNING_DOMAINS = ("acme.example", "evil.example", "fwd.example")


class LoopThread:
    """An event loop in a thread, so sync tests can run our asyncio servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def make_key(directory: Path, name: str) -> tuple[bytes, str]:
    path = directory / f"{name}.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(path), "2048"], check=True, capture_output=True
    )
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(path), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return path.read_bytes(), "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode()


def world_zone(keys: dict[str, tuple[bytes, str]]) -> Zone:
    zone: Zone = {}
    for domain in SIGNING_DOMAINS:
        zone[(domain, "TXT")] = ["v=spf1 ip4:127.0.0.0/8 -all"]
        zone[(f"sel._domainkey.{domain}", "TXT")] = [keys[domain][1]]
        zone[(f"_dmarc.{domain}", "TXT")] = ["v=DMARC1; p=reject"]
    zone[("forged.example", "TXT")] = ["v=spf1 -all"]
    return zone


@dataclass
class Answer:
    code: int
    text: str


class Mailer:
    """Sends raw emails into the gateway's own mail server, as an MTA would."""

    def __init__(
        self, gateway: Gateway, channel: str, port: int, keys: dict[str, tuple[bytes, str]]
    ) -> None:
        self.gateway = gateway
        self.channel = channel
        self.port = port
        self.keys = keys

    def sign(self, message: EmailMessage | bytes, domain: str = "acme.example") -> bytes:
        raw = message if isinstance(message, bytes) else message.as_bytes(policy=SMTP)
        return DkimSigner(domain, "sel", self.keys[domain][0]).sign(raw)

    def send(
        self,
        message: EmailMessage | bytes,
        *,
        envelope: str = "alice@acme.example",
        recipients: list[str] | None = None,
    ) -> Answer:
        raw = message if isinstance(message, bytes) else message.as_bytes(policy=SMTP)
        if recipients is None:
            recipients = _to_addresses(raw)
        client: smtplib.SMTP = (
            smtplib.LMTP("127.0.0.1", self.port)
            if self.channel == "lmtp"
            else smtplib.SMTP("127.0.0.1", self.port, timeout=30)
        )
        with client:
            client.ehlo("mx.test")  # LHLO for LMTP
            code, text = client.mail(envelope)
            assert code == 250, text
            for recipient in recipients:
                code, text = client.rcpt(recipient)
                if code != 250:
                    return Answer(code, text.decode())
            code, text = client.data(raw)
            if self.channel == "lmtp":
                # RFC 2033: one reply per recipient after DATA; smtplib reads only the first.
                for _other in recipients[1:]:
                    client.getreply()
            return Answer(code, text.decode())

    def deliver(self, message: EmailMessage | bytes, **kwargs: Any) -> Answer:
        """Send, and let the gateway judge what arrived."""
        self.gateway.clock.advance(seconds=1)  # type: ignore[attr-defined]
        answer = self.send(message, **kwargs)
        self.gateway.conversations.process_pending()
        return answer


def _to_addresses(raw: bytes) -> list[str]:
    headers = scan_headers(raw, Limits())
    if isinstance(headers, Problem):  # a hostile header section: find a To line by hand
        lines = raw.split(b"\n\n", 1)[0].split(b"\n")
        to = ", ".join(
            line[3:].decode("utf-8", "replace").strip()
            for line in lines
            if line.lower().startswith(b"to:")
        )
    else:
        to = ", ".join(headers.get_all("To") or [])
    found = [box.address for box in parse_address_list(to).mailboxes]
    assert found, "the email has no To address to send it to"
    return found


@pytest.fixture(scope="session")
def world_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, str]]:
    directory = tmp_path_factory.mktemp("world-keys")
    return {domain: make_key(directory, domain.split(".")[0]) for domain in SIGNING_DOMAINS}


@pytest.fixture
def world_dns(world_keys: dict[str, tuple[bytes, str]]) -> Iterator[tuple[str, ZoneResolver]]:
    with dns_server(world_zone(world_keys)) as served:
        yield served


def world_overrides(dns_address: str) -> dict[str, Any]:
    # No trusted network: mail must prove where it comes from, as on a public server.
    return {
        "inbound": {
            "trusted_networks": [],
            "smtp_port": 0,
            "dns_servers": [dns_address],
            "dns_timeout_seconds": 2,
            "max_message_bytes": 3_000_000,
        },
    }


@pytest.fixture
def mail_overrides(world_dns: tuple[str, ZoneResolver]) -> dict[str, Any]:
    return world_overrides(world_dns[0])


@pytest.fixture(params=["smtp", "lmtp"])
def channel(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mailer(
    bridge: Gateway, channel: str, world_keys: dict[str, tuple[bytes, str]]
) -> Iterator[Mailer]:
    bridge.settings.mail.inbound.mode = channel  # type: ignore[assignment]
    loop = LoopThread()
    server = bridge.mail_server()
    loop.run(server.start())
    try:
        yield Mailer(bridge, channel, server.port, world_keys)
    finally:
        loop.run(server.stop())
        loop.close()
