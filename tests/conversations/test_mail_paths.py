"""Email reaching the bridge for real: our SMTP and LMTP servers, DKIM, the HTTP endpoint."""

from __future__ import annotations

import asyncio
import base64
import smtplib
import subprocess
import threading
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from smsbridge.app import Gateway
from smsbridge.db.models import InboundEmail
from smsbridge.mail.dkim_keys import DkimSigner
from tests.conversations.conftest import reply, sms_count, start_conversation


class LoopThread:
    """An event loop in a thread, so sync tests can run our asyncio servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    path = tmp_path_factory.mktemp("dkim") / "key.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(path), "2048"], check=True, capture_output=True
    )
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(path), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return path.read_bytes(), b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


@pytest.fixture
def mail_overrides() -> dict[str, Any]:
    # No trusted network: mail must prove where it comes from, as on a public server.
    return {
        "inbound": {
            "trusted_networks": [],
            "smtp_port": 0,
            "max_message_bytes": 200_000,
            "http_secret": "s3cret",
        },
    }


@pytest.fixture
def dkim_dns(dkim_key: tuple[bytes, bytes]) -> Callable[..., bytes | None]:
    records = {"sel._domainkey.acme.example": dkim_key[1]}

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        return records.get(name.decode().rstrip("."))

    return lookup


def serve(bridge: Gateway, mode: str) -> Iterator[int]:
    bridge.settings.mail.inbound.mode = mode  # type: ignore[assignment]
    loop = LoopThread()
    server = bridge.mail_server()
    loop.run(server.start())
    try:
        yield server.port
    finally:
        loop.run(server.stop())
        loop.close()


@pytest.fixture
def smtp_port(bridge: Gateway) -> Iterator[int]:
    yield from serve(bridge, "smtp")


@pytest.fixture
def lmtp_port(bridge: Gateway) -> Iterator[int]:
    yield from serve(bridge, "lmtp")


def signed(message: EmailMessage, key: bytes) -> bytes:
    return DkimSigner("acme.example", "sel", key).sign(message.as_bytes(policy=SMTP))


def test_dkim_signed_reply_over_smtp_becomes_an_sms(bridge, acme, smtp_port, dkim_key):
    forward = start_conversation(bridge, acme)
    message = reply(forward, "Signed and sealed")
    before = sms_count(bridge)
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
        client.sendmail("alice@acme.example", [str(message["To"])], signed(message, dkim_key[0]))
    assert bridge.conversations.process_pending() == 1
    assert sms_count(bridge) == before + 1


def test_unsigned_reply_from_the_right_address_is_refused(bridge, acme, smtp_port):
    forward = start_conversation(bridge, acme)
    message = reply(forward, "Trust me")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
        client.send_message(message)
    before = sms_count(bridge)
    bridge.conversations.process_pending()
    assert sms_count(bridge) == before
    with bridge.db.read() as session:
        row = session.scalars(select(InboundEmail)).one()
    assert row.status == "refused"
    assert row.reason is not None and "NOT_AUTHENTICATED" in row.reason


def test_tampered_signed_reply_is_refused(bridge, acme, smtp_port, dkim_key):
    forward = start_conversation(bridge, acme)
    raw = signed(reply(forward, "Pay 10 pounds"), dkim_key[0]).replace(b"10 pounds", b"99 pounds")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
        client.sendmail("alice@acme.example", [str(reply(forward, "x")["To"])], raw)
    before = sms_count(bridge)
    bridge.conversations.process_pending()
    assert sms_count(bridge) == before


def test_unknown_recipient_refused_at_rcpt_and_nothing_stored(bridge, acme, smtp_port):
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
        client.ehlo()
        client.mail("someone@example.org")
        code, _ = client.rcpt("reply+notatoken@sms.acme.test")
        assert code == 550
        code, _ = client.rcpt("postmaster@gmail.com")
        assert code == 550  # never a relay
    with bridge.db.read() as session:
        assert session.scalars(select(InboundEmail)).all() == []


def test_oversized_email_refused_with_552(bridge, acme, smtp_port, dkim_key):
    forward = start_conversation(bridge, acme)
    message = reply(forward, "x" * 300_000)
    with (
        smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client,
        pytest.raises(smtplib.SMTPException) as refused,
    ):
        client.send_message(message)
    assert "552" in str(refused.value)
    with bridge.db.read() as session:
        assert session.scalars(select(InboundEmail)).all() == []


def test_lmtp_delivery_as_postfix_would_do_it(bridge, acme, lmtp_port, dkim_key):
    forward = start_conversation(bridge, acme)
    message = reply(forward, "Via LMTP")
    with smtplib.LMTP("127.0.0.1", lmtp_port) as client:
        refused = client.sendmail(
            "alice@acme.example", [str(message["To"])], signed(message, dkim_key[0])
        )
    assert refused == {}
    before = sms_count(bridge)
    bridge.conversations.process_pending()
    assert sms_count(bridge) == before + 1


def test_malformed_mime_is_handled_not_crashed_on(bridge, acme, smtp_port):
    forward = start_conversation(bridge, acme)
    garbage = (
        f"From: alice@acme.example\r\nTo: {forward['Reply-To']}\r\n"
        'Content-Type: multipart/mixed; boundary="nope\r\n\r\n--nope\r\n\xff\xfe broken'
    ).encode("latin-1")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
        client.sendmail("alice@acme.example", [str(forward["Reply-To"])], garbage)
    bridge.conversations.process_pending()
    with bridge.db.read() as session:
        row = session.scalars(select(InboundEmail)).one()
    assert row.status in {"refused", "ignored"}  # judged and explained, never a crash loop


def test_http_inbound_endpoint_needs_the_secret_and_stores(bridge, acme, dkim_key):
    forward = start_conversation(bridge, acme)
    message = reply(forward, "By HTTP")
    raw = message.as_bytes(policy=SMTP)
    client = TestClient(bridge.api())
    url = "/v1/inbound/email"
    params = {"recipient": str(message["To"]), "sender": "alice@acme.example"}
    assert client.post(url, params=params, content=raw).status_code == 401
    wrong = client.post(url, params=params, content=raw, headers={"X-Smsbridge-Secret": "no"})
    assert wrong.status_code == 401
    bad = client.post(
        url,
        params={"recipient": "x@elsewhere.example"},
        content=raw,
        headers={"X-Smsbridge-Secret": "s3cret"},
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "UNKNOWN_RECIPIENT"
    good = client.post(url, params=params, content=raw, headers={"X-Smsbridge-Secret": "s3cret"})
    assert good.status_code == 202
    # Without DKIM checks on this path and no trusted Authentication-Results, it is refused.
    bridge.conversations.process_pending()
    with bridge.db.read() as session:
        row = session.get(InboundEmail, good.json()["id"])
    assert row is not None and row.status == "refused"
