"""The whole product, as a newcomer runs it: real processes, HTTP, SMTP, the CLI and a maildir."""

from __future__ import annotations

import json
import os
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

CUSTOMER = "447700900123"
NUMBER = "447700900001"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Deployment:
    def __init__(self, root: Path, database_url: str) -> None:
        self.root = root
        self.http_port = free_port()
        self.smtp_port = free_port()
        self.maildir = root / "maildir"
        self.config = root / "smsbridge.toml"
        self.config.write_text(
            f"""
[http]
port = {self.http_port}

[database]
url = "{database_url}"

[carrier.simulator]
receipt_delay_seconds = 0.2
poll_interval_seconds = 0.05

[pipeline]
poll_interval_seconds = 0.05

[mail]
domain = "sms.acme.test"

[mail.out]
maildir = "{self.maildir}"
poll_interval_seconds = 0.1

[mail.inbound]
smtp_port = {self.smtp_port}
""",
            encoding="utf-8",
        )
        self.base = f"http://127.0.0.1:{self.http_port}"

    def cli(self, *args: str) -> Any:
        result = subprocess.run(
            [sys.executable, "-m", "smsbridge", *args, "--config", str(self.config), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def account_with_number(self) -> Any:
        """An account with 100 credits holding the Reply Number NUMBER (the CLI's answer)."""
        account = self.cli("account", "create", "Acme Ltd", "--credits", "100")
        self.cli("numbers", "add", NUMBER)
        self.cli("numbers", "assign", account["account_id"])
        return account

    def api(self, account: Any) -> httpx.Client:
        return httpx.Client(
            base_url=self.base + "/v1", headers={"Authorization": account["api_key"]}, timeout=10
        )

    def reply_by_email(
        self, forward: EmailMessage, text: str, sender: str = "alice@acme.example"
    ) -> None:
        """Answer a forwarded SMS as a mail client does, through our SMTP server."""
        reply = EmailMessage()
        reply["From"] = sender
        reply["To"] = str(forward["Reply-To"])
        reply["Subject"] = "Re: " + str(forward["Subject"])
        reply["In-Reply-To"] = str(forward["Message-ID"])
        reply.set_content(text)
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=10) as smtp:
            smtp.send_message(reply)

    def start(self) -> subprocess.Popen[bytes]:
        log = open(self.root / "serve.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "smsbridge", "serve", "--config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ},
        )
        log.close()
        wait_until(lambda: self._healthy(), 30, "the gateway to start")
        return process

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.base + "/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def emails(self) -> list[EmailMessage]:
        new = self.maildir / "new"
        if not new.exists():
            return []
        files = sorted(new.iterdir(), key=lambda p: p.stat().st_mtime_ns)
        parsed = [BytesParser(policy=default).parsebytes(p.read_bytes()) for p in files]
        return [m for m in parsed if isinstance(m, EmailMessage)]


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def deployment(database_url: str, tmp_path: Path) -> Iterator[Deployment]:
    yield Deployment(tmp_path, database_url)


def test_a_whole_conversation_between_an_email_client_and_a_handset(deployment: Deployment):
    account = deployment.account_with_number()
    server = deployment.start()
    api = deployment.api(account)
    try:
        settings = api.put(
            f"/replynumbers/{NUMBER}",
            json={"responseemail": ["team@acme.example"], "tags": ["support"]},
        )
        assert settings.status_code == 200, settings.text

        sent = api.post(
            "/message/send",
            json={
                "sender": NUMBER,
                "destination": CUSTOMER,
                "content": "Your table is booked",
                "tag": "spring",
                "responseemail": ["alice@acme.example"],
            },
        )
        assert sent.status_code == 201, sent.text
        message_id = sent.json()["messageid"]
        wait_until(
            lambda: api.get(f"/messages/{message_id}").json()["status"] == "DELIVERED",
            20,
            "DELIVERED",
        )
        assert api.get("/credits/balance").json()["credits"] == 99

        deployment.cli(
            "handset", "reply", "--from", CUSTOMER, "--to", NUMBER, "Can we make it 8pm?"
        )
        wait_until(lambda: len(deployment.emails()) == 1, 20, "the forwarded email")
        [forward] = deployment.emails()
        assert forward["To"] == "alice@acme.example"
        text = forward.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "Can we make it 8pm?" in text
        assert "support > spring" in text

        deployment.reply_by_email(
            forward,
            "Yes, 8pm is fine. See you then.\n\n> Can we make it 8pm?\n",
            sender="Alice <alice@acme.example>",
        )

        def handset_has_reply() -> bool:
            inbox = deployment.cli("handset", "inbox", CUSTOMER)
            return any(m["content"] == "Yes, 8pm is fine. See you then." for m in inbox)

        wait_until(handset_has_reply, 20, "the SMS reply on the handset")
        assert api.get("/credits/balance").json()["credits"] == 98

        deployment.cli("handset", "reply", "--from", CUSTOMER, "--to", NUMBER, "Perfect!")
        wait_until(lambda: len(deployment.emails()) == 2, 20, "the second forwarded email")
        second = deployment.emails()[1]
        assert second["To"] == "alice@acme.example"  # the addresses carried over
        assert "support > spring" in second.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert second["Subject"] == forward["Subject"]

        # A spoofed reply from outside the conversation never reaches the handset.
        spoof = EmailMessage()
        spoof["From"] = "mallory@evil.example"
        spoof["To"] = str(forward["Reply-To"])
        spoof["Subject"] = "Re: hi"
        spoof.set_content("Send your card number")
        with smtplib.SMTP("127.0.0.1", deployment.smtp_port, timeout=10) as smtp:
            smtp.send_message(spoof)
        wait_until(lambda: len(deployment.emails()) == 3, 20, "the explanatory bounce")
        assert deployment.emails()[2]["To"] == "mallory@evil.example"
        contents = [m["content"] for m in deployment.cli("handset", "inbox", CUSTOMER)]
        assert "Send your card number" not in contents

        # Mail for anyone else is refused at RCPT: no open relay.
        with (
            smtplib.SMTP("127.0.0.1", deployment.smtp_port, timeout=10) as smtp,
            pytest.raises(smtplib.SMTPRecipientsRefused),
        ):
            smtp.sendmail("x@example.org", ["victim@example.com"], b"Subject: x\r\n\r\nx")
    finally:
        api.close()
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0, (deployment.root / "serve.log").read_text()
