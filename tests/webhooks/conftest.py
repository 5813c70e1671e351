"""Webhook fixtures: a real HTTP receiver on 127.0.0.1 and a webhook service on the gateway."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select, update

from smsbridge.app import Gateway
from smsbridge.db.models import Message, WebhookDelivery
from smsbridge.messages.schemas import MessageIn
from smsbridge.settings import WebhookSettings
from smsbridge.webhooks.service import WebhookService
from tests.conftest import FakeClock


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server answering each POST with the next scripted status (200 when none)."""

    server: ThreadingHTTPServer
    thread: threading.Thread
    requests: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    # Paths whose answer waits this long (seconds), to play a slow receiver.
    slow_paths: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def next_status(self) -> int:
        with self.lock:
            return self.script.pop(0) if self.script else 200

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()  # joins the handler threads (daemon_threads is off)
        self.thread.join()


def _handler(receiver: list[Receiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            me = receiver[0]
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with me.lock:
                me.requests.append(Received(self.path, dict(self.headers.items()), body))
            delay = me.slow_paths.get(self.path)
            if delay:
                time.sleep(delay)
            status = me.next_status()
            answer = b"ok" if status < 300 else b"nope"
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://elsewhere.example/")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close waits for every handler: nothing leaks
    request_queue_size = 64  # the sender opens several connections at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout test) is expected, not a failure


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []
    server = _Server(("127.0.0.1", 0), _handler(holder))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    made = Receiver(server=server, thread=thread)
    holder.append(made)
    thread.start()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def webhook_settings() -> WebhookSettings:
    # The receiver is on loopback, so private addresses are allowed here; the refusal has
    # its own tests.
    return WebhookSettings(allow_private_addresses=True, retry_hours=1, timeout_seconds=5)


@pytest.fixture
def hooks(gateway: Gateway, clock: FakeClock, webhook_settings: WebhookSettings) -> WebhookService:
    return WebhookService(gateway.db, clock, webhook_settings)


def send_message(gateway: Gateway, account_id: str, url: str | None = None) -> str:
    body = MessageIn(
        sender="Acme", destination="447700900123", content="Hi", tag="t1", deliveryreporturl=url
    )
    return str(gateway.messages.send(account_id, body)["messageid"])


def change_status(
    gateway: Gateway,
    hooks: WebhookService,
    message_ids: list[str],
    status: str,
    **values: Any,
) -> int:
    """What the pipeline does: change statuses and queue webhooks in one transaction."""
    now = gateway.clock.now()
    with gateway.db.write() as session:
        session.execute(
            update(Message)
            .where(Message.id.in_(message_ids))
            .values(status=status, modified=now, **values)
        )
        return hooks.enqueue_status_changes(session, message_ids, now)


def deliveries(gateway: Gateway) -> list[WebhookDelivery]:
    with gateway.db.read() as session:
        return list(
            session.scalars(
                select(WebhookDelivery).order_by(WebhookDelivery.created_at, WebhookDelivery.id)
            )
        )


def only_delivery(gateway: Gateway) -> WebhookDelivery:
    [row] = deliveries(gateway)
    return row
