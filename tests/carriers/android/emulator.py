"""A local stand-in for the "SMS Gateway for Android" app's API (local-server mode), loopback.

    with AndroidEmulator("user", "pass", signing_key="key") as phone:
        ... point the carrier's base_url at phone.base_url ...
        phone.offline(); phone.online()
        phone.send_inbound("+447700900123", "Hi", sim=1)

It implements what the app documents (docs.sms-gate.app; capcom6/android-sms-gateway):
`POST /messages` (JSON: phoneNumbers, textMessage, id, simNumber, withDeliveryReport, ttl or
validUntil, priority), `GET /messages/{id}`, `POST /webhooks`, `GET /webhooks`, with Basic
auth. It refuses what the app refuses: bad credentials (401), a body that is not JSON or has
fields the API does not define, no recipients or a malformed number, no text or two kinds of
content, ttl together with validUntil, a SIM the phone does not have (400), and an id it
already has (409). Accepted messages are "sent" by a phone thread that posts sms:sent then
sms:delivered (or sms:failed with a reason) to the registered webhooks; customers' SMS arrive as
sms:received, whose messageId, as in the app, is derived from the content and not unique.
Webhooks carry X-Timestamp and X-Signature = hex HMAC-SHA256(key, body + timestamp).

What it cannot check: a real radio (the operator's own limits and filtering), Android's
outgoing-SMS throttle, multipart delivery reports per part, cloud mode's server-side queue
(offline here means the phone's API is unreachable, as in local-server mode), and whether
the real app answers 409 to an id it already has (the app's documentation does not say; the
carrier asks GET /messages/{id} when unsure either way).
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import httpx

from smsbridge.carriers.android.events import sign

NUMBER = re.compile(r"^\+?[1-9]\d{6,14}$")
FIELDS = {
    "id",
    "deviceId",
    "textMessage",
    "dataMessage",
    "mmsMessage",
    "phoneNumbers",
    "simNumber",
    "withDeliveryReport",
    "isEncrypted",
    "ttl",
    "validUntil",
    "priority",
}


@dataclass
class PhoneMessage:
    id: str
    phone_number: str
    text: str
    sim_number: int | None
    valid_until: str | None
    state: str = "Pending"
    sent_at: float = field(default_factory=time.time)

    def resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "deviceId": "emulated-device",
            "state": self.state,
            "isHashed": False,
            "isEncrypted": False,
            "recipients": [{"phoneNumber": self.phone_number, "state": self.state}],
            "states": {self.state: datetime.now(UTC).isoformat()},
        }


class AndroidEmulator:
    def __init__(self, username: str, password: str, *, signing_key: str, sims: int = 2) -> None:
        self.username, self.password = username, password
        self.signing_key = signing_key
        self.sims = sims
        self.messages: dict[str, PhoneMessage] = {}
        self.webhooks: dict[str, dict[str, str]] = {}
        self.requests: list[tuple[str, str, int]] = []  # method, path, status
        self.outcome: dict[str, str] = {}  # per number: "delivered" (default) or "failed"
        self.deliveries: list[tuple[str, int | None]] = []  # event, our answer
        # Seconds the phone's clock is ahead of ours (X-Timestamp): tests that move the
        # gateway's clock move the phone's with it.
        self.clock_offset = 0.0
        # Cloud mode with the phone away: messages are taken and stay Pending, nothing is sent.
        self.hold = False
        # Messages are sent and delivered but their webhooks are lost.
        self.quiet = False
        self.lose_answers = 0  # take the next messages, then drop the connection unanswered
        self._lock = threading.Lock()
        self._events: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._server: ThreadingHTTPServer | None = None
        self._port = 0
        self._threads: list[threading.Thread] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def __enter__(self) -> AndroidEmulator:
        self.online()
        sender = threading.Thread(target=self._send_events, daemon=True)
        sender.start()
        self._threads.append(sender)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.offline()
        self._events.put(None)
        for thread in self._threads:
            thread.join(timeout=10)

    def online(self) -> None:
        """The phone's API listens (again, on the same port)."""
        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler())
        self._server.daemon_threads = True
        self._port = int(self._server.server_address[1])
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        self._threads.append(thread)

    def offline(self) -> None:
        """No signal, flat battery: connections to the phone are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- webhooks ----------------------------------------------------------------------------

    def post_event(
        self,
        url: str,
        event: str,
        payload: dict[str, Any],
        *,
        key: str | None = None,
        timestamp: str | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        body = json.dumps(
            {
                "deviceId": "emulated-device",
                "event": event,
                "id": secrets.token_urlsafe(15),
                "payload": payload,
                "webhookId": f"wh-{event}",
            }
        ).encode()
        stamp = timestamp or str(int(time.time() + self.clock_offset))
        headers = {"Content-Type": "application/json", "X-Timestamp": stamp}
        headers["X-Signature"] = (
            sign(key or self.signing_key, body, stamp) if signature is None else signature
        )
        return httpx.post(url, content=body, headers=headers, timeout=10)

    def _urls(self, event: str) -> list[str]:
        with self._lock:
            return [w["url"] for w in self.webhooks.values() if w["event"] == event]

    def send_inbound(
        self,
        sender: str,
        text: str,
        *,
        sim: int | None = 1,
        received_at: datetime | None = None,
        recipient: str | None = None,
        **signing: Any,
    ) -> list[httpx.Response]:
        """A customer's SMS reaching the phone: sms:received to every registered URL."""
        payload: dict[str, Any] = {
            # As in the app: an id made from the content, the same for the same text.
            "messageId": hashlib.sha1(text.encode()).hexdigest()[:8],
            "message": text,
            "phoneNumber": sender,
            "simNumber": sim,
            "receivedAt": (received_at or datetime.now(UTC)).isoformat(timespec="milliseconds"),
        }
        if recipient:
            payload["recipient"] = recipient
        return [
            self.post_event(url, "sms:received", payload, **signing)
            for url in self._urls("sms:received")
        ]

    def _send_events(self) -> None:
        while (item := self._events.get()) is not None:
            event, payload = item
            time.sleep(0.05)
            for url in self._urls(event):
                try:
                    status: int | None = self.post_event(url, event, payload).status_code
                except httpx.HTTPError:
                    status = None
                with self._lock:
                    self.deliveries.append((event, status))

    def _deliver(self, message: PhoneMessage) -> None:
        if self.hold:
            return
        if self.quiet:
            message.state = "Delivered"
            return
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        base = {
            "messageId": message.id,
            "phoneNumber": message.phone_number,
            "simNumber": message.sim_number,
        }
        message.state = "Sent"
        self._events.put(("sms:sent", {**base, "sentAt": now}))
        if self.outcome.get(message.phone_number) == "failed":
            message.state = "Failed"
            self._events.put(
                ("sms:failed", {**base, "failedAt": now, "reason": "RESULT_ERROR_GENERIC_FAILURE"})
            )
        else:
            message.state = "Delivered"
            self._events.put(("sms:delivered", {**base, "deliveredAt": now}))

    # -- the API -----------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, answer = emulator.answer(
                    method, self.path, self.headers.get("Authorization", ""), raw
                )
                with emulator._lock:
                    emulator.requests.append((method, self.path, status))
                    lose = status == 202 and emulator.lose_answers > 0
                    if lose:
                        emulator.lose_answers -= 1
                if lose:
                    self.close_connection = True
                    self.connection.shutdown(2)  # written, taken, and no answer comes back
                    return
                body = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                self._handle("POST")

            def do_GET(self) -> None:
                self._handle("GET")

        return Handler

    def answer(self, method: str, path: str, authorization: str, raw: bytes) -> tuple[int, Any]:
        if not self._authorised(authorization):
            return 401, {"message": "Unauthorized"}
        path = path.split("?", 1)[0]
        if path == "/messages" and method == "POST":
            return self._accept(raw)
        if path.startswith("/messages/") and method == "GET":
            with self._lock:
                message = self.messages.get(path.removeprefix("/messages/"))
            return (200, message.resource()) if message else (404, {"message": "not found"})
        if path == "/webhooks" and method == "POST":
            try:
                hook = json.loads(raw)
                assert isinstance(hook["url"], str) and isinstance(hook["event"], str)
            except (ValueError, KeyError, AssertionError, TypeError):
                return 400, {"message": "url and event are required"}
            hook_id = hook.get("id") or secrets.token_urlsafe(8)
            with self._lock:
                self.webhooks[hook_id] = {"id": hook_id, "url": hook["url"], "event": hook["event"]}
            return 201, self.webhooks[hook_id]
        if path == "/webhooks" and method == "GET":
            with self._lock:
                return 200, list(self.webhooks.values())
        return 404, {"message": "not found"}

    def _authorised(self, authorization: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return secrets.compare_digest(f"{user}:{password}", f"{self.username}:{self.password}")

    def _accept(self, raw: bytes) -> tuple[int, Any]:
        try:
            request = json.loads(raw)
        except ValueError:
            return 400, {"message": "the body is not JSON"}
        if not isinstance(request, dict):
            return 400, {"message": "the body must be an object"}
        unknown = set(request) - FIELDS
        if unknown:
            return 400, {"message": f"unknown fields: {sorted(unknown)}"}
        numbers = request.get("phoneNumbers")
        if not isinstance(numbers, list) or not numbers:
            return 400, {"message": "phoneNumbers is required"}
        if not all(isinstance(n, str) and NUMBER.match(n) for n in numbers):
            return 400, {"message": f"invalid phone number in {numbers}"}
        kinds = [k for k in ("textMessage", "dataMessage", "mmsMessage") if request.get(k)]
        if len(kinds) != 1:
            return 400, {"message": "exactly one of textMessage, dataMessage, mmsMessage"}
        text = (request.get("textMessage") or {}).get("text")
        if not isinstance(text, str) or not text:
            return 400, {"message": "textMessage.text is required"}
        sim = request.get("simNumber")
        if sim is not None and (not isinstance(sim, int) or not 1 <= sim <= self.sims):
            return 400, {"message": f"the phone has no SIM {sim}"}
        if request.get("ttl") is not None and request.get("validUntil") is not None:
            return 400, {"message": "ttl and validUntil are mutually exclusive"}
        valid_until = request.get("validUntil")
        if valid_until is not None:
            try:
                datetime.fromisoformat(valid_until)
            except (TypeError, ValueError):
                return 400, {"message": "validUntil is not a date-time"}
        message_id = request.get("id") or secrets.token_urlsafe(15)
        if not isinstance(message_id, str) or len(message_id) > 36:
            return 400, {"message": "id is at most 36 characters"}
        with self._lock:
            if message_id in self.messages:
                return 409, {"message": f"message {message_id} already exists"}
            messages = [PhoneMessage(message_id, n, text, sim, valid_until) for n in numbers[:1]]
            self.messages[message_id] = messages[0]
        self._deliver(messages[0])
        state = messages[0].resource()
        state["state"] = "Pending"
        state["recipients"] = [{"phoneNumber": n, "state": "Pending"} for n in numbers]
        return 202, state

    def sent_within(self, seconds: float) -> int:
        cutoff = time.time() - seconds
        with self._lock:
            return sum(1 for m in self.messages.values() if m.sent_at >= cutoff)
