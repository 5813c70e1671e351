"""A local stand-in for Twilio's Programmable Messaging REST API and its webhooks (loopback).

    with TwilioEmulator({SID: TOKEN}, numbers={SID: {"+447700900001"}}) as twilio:
        ... point the carrier's api_base_url at twilio.base_url ...
        twilio.outcome["+447700900123"] = "undelivered"
        twilio.send_inbound(url, SID, "+447700900123", "+447700900001", "Hi")

It answers as Twilio documents (twilio.com/docs/messaging/api/message-resource and the
public OpenAPI description, twilio/twilio-oai) and refuses what the real one refuses: bad
credentials (401, 20003), another account's path (404, 20404), a body that is not
form-encoded, no To (21604), a To that is not E.164 (21211), no From nor MessagingServiceSid
(21603), a From the account does not own (21606), an alphanumeric From where the account has
none (21212), no Body (21602), a Body over 1,600 characters (21617), a StatusCallback that is
not an http(s) URL (21609). Errors are Twilio's JSON: {code, message, more_info, status}.
It also lists an account's messages (by To and From) and its phone numbers (with each one's
inbound webhook URL), and can answer errors as RFC 9457 problem details. Status callbacks
(sent, then delivered/undelivered/failed) and inbound SMS are POSTed form-encoded and signed
with the official library's RequestValidator.compute_signature.

What it cannot check: real delivery, Twilio's queueing and rate limits (only scripted),
prices (a fixed rate per segment), carrier filtering, and anything about the account's
console configuration (which URL a number's inbound webhook points at is the test's choice).
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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from twilio.request_validator import RequestValidator

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
ALPHANUMERIC = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
NUMBERS = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/IncomingPhoneNumbers\.json$")
MESSAGE = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages/(?P<msid>[^/]+)\.json$")
PRICE_PER_SEGMENT = "0.04000"
# GSM 03.38: the basic set and the extension table (each extension character costs two).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = "^{}\\[~]|€\f"


def segments(body: str) -> int:
    """How many SMS Twilio would count for `body` (its own, independent count)."""
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in body):
        septets = sum(2 if c in GSM_EXTENDED else 1 for c in body)
        return 1 if septets <= 160 else -(-septets // 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)


def twilio_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=False).replace("-0000", "+0000")


@dataclass
class EmulatedMessage:
    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None
    validity_period: int | None
    created: datetime
    status: str = "queued"
    error_code: int | None = None
    num_segments: int = 1

    def resource(self, *, priced: bool) -> dict[str, Any]:
        """The message resource as Twilio's API writes it (api.v2010.account.message)."""
        date = twilio_date(self.created)
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": self.body,
            "date_created": date,
            "date_sent": date if self.status != "queued" else None,
            "date_updated": date,
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(self.num_segments),
            "price": f"-{float(PRICE_PER_SEGMENT) * self.num_segments:.5f}" if priced else None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {
                "media": f"{base}/Media.json",
                "feedback": f"{base}/Feedback.json",
            },
            "to": self.to,
            "uri": f"{base}.json",
        }


@dataclass
class Exchange:
    """One request to the emulator and its answer, for tests to inspect and validate."""

    method: str
    path: str
    content_type: str
    body: bytes
    status: int
    answer: bytes
    answer_type: str = "application/json"


@dataclass
class Callback:
    url: str
    params: dict[str, str]
    status: int | None


@dataclass
class Scripted:
    """Answers the next creates get instead of the normal one: (http status, Twilio code)."""

    failures: list[tuple[int, int]] = field(default_factory=list)
    garbage: int = 0  # 201 with a body that is not JSON
    # Errors as RFC 9457 problem details, the format Twilio's newer APIs answer with.
    problem_details: bool = False
    no_sid: int = 0  # 201 with JSON that has no sid


class TwilioEmulator:
    def __init__(
        self,
        accounts: dict[str, str],
        *,
        numbers: dict[str, set[str]] | None = None,
        alphanumeric: bool = False,
        callback_delay_seconds: float = 0.05,
    ) -> None:
        self.accounts = accounts
        self.numbers = numbers or {}
        self.alphanumeric = alphanumeric
        self.callback_delay_seconds = callback_delay_seconds
        self.messages: dict[str, EmulatedMessage] = {}
        self.exchanges: list[Exchange] = []
        self.callbacks: list[Callback] = []
        # Per destination: "delivered" (default), "undelivered", "failed", or "silent".
        self.outcome: dict[str, str] = {}
        # Twilio's segment count, overridden per destination (to test reconciliation).
        self.segments_override: dict[str, int] = {}
        self.script = Scripted()
        # Accounts whose API answers 503 (Twilio's 20500) to every create: an outage.
        self.failing_accounts: set[str] = set()
        # Each number's "A message comes in" webhook, as set in the console.
        self.sms_urls: dict[str, str] = {}
        # Take the next creates, then answer nothing (the connection drops): a lost answer.
        self.lose_answers = 0
        self._lock = threading.Lock()
        self._callbacks: queue.Queue[tuple[EmulatedMessage, str, dict[str, str]] | None] = (
            queue.Queue()
        )
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> TwilioEmulator:
        self._threads = [
            threading.Thread(target=self._server.serve_forever, daemon=True),
            threading.Thread(target=self._send_callbacks, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._callbacks.put(None)
        for thread in self._threads:
            thread.join(timeout=10)

    # -- what Twilio sends us ----------------------------------------------------------------

    def signed_post(
        self, url: str, params: dict[str, str], token: str, *, signature: str | None = None
    ) -> httpx.Response:
        """POST a webhook as Twilio does: form-encoded, X-Twilio-Signature over URL + params."""
        headers = {"User-Agent": "TwilioProxy/1.1"}
        computed = RequestValidator(token).compute_signature(url, params)
        headers["X-Twilio-Signature"] = computed if signature is None else signature
        if signature == "":
            del headers["X-Twilio-Signature"]
        return httpx.post(url, data=params, headers=headers, timeout=10)

    def send_inbound(
        self,
        url: str,
        account_sid: str,
        sender: str,
        to: str,
        body: str,
        *,
        signature: str | None = None,
        token: str | None = None,
        message_sid: str | None = None,
    ) -> httpx.Response:
        """A customer's SMS arriving at a number of the account: the number's inbound webhook."""
        sid = message_sid or "SM" + secrets.token_hex(16)
        params = {
            "ToCountry": "GB",
            "ToState": "",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": "GB",
            "To": to,
            "ToZip": "",
            "NumSegments": str(segments(body)),
            "MessageSid": sid,
            "AccountSid": account_sid,
            "From": sender,
            "ApiVersion": "2010-04-01",
        }
        return self.signed_post(
            url, params, token or self.accounts[account_sid], signature=signature
        )

    def _send_callbacks(self) -> None:
        while (item := self._callbacks.get()) is not None:
            message, word, params = item
            # time.sleep, not a timed Event.wait: timed lock waits never return under
            # libfaketime with an offset (the suite's +3y run).
            time.sleep(self.callback_delay_seconds)
            with self._lock:
                message.status = word
            url = message.status_callback or ""
            try:
                token = self.accounts[message.account_sid]
                status: int | None = self.signed_post(url, params, token).status_code
            except httpx.HTTPError:
                status = None  # Twilio logs a debugger alert (11200) and moves on
            with self._lock:
                self.callbacks.append(Callback(url, params, status))

    def _queue_status(self, message: EmulatedMessage, status: str) -> None:
        if not message.status_callback:
            message.status = status
            return
        params = {
            "SmsSid": message.sid,
            "SmsStatus": status,
            "MessageStatus": status,
            "To": message.to,
            "MessageSid": message.sid,
            "AccountSid": message.account_sid,
            "From": message.from_ or "",
            "ApiVersion": "2010-04-01",
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if message.error_code:
            params["ErrorCode"] = str(message.error_code)
        self._callbacks.put((message, status, params))

    # -- the REST API ------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(
                self, status: int, body: bytes, content_type: str = "application/json"
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                path = split.path
                status, body, content_type = emulator.answer(
                    method,
                    path,
                    self.headers.get("Authorization", ""),
                    self.headers.get("Content-Type", ""),
                    raw,
                    split.query,
                )
                with emulator._lock:
                    emulator.exchanges.append(
                        Exchange(
                            method,
                            path + ("?" + split.query if split.query else ""),
                            self.headers.get("Content-Type", ""),
                            raw,
                            status,
                            body,
                            content_type,
                        )
                    )
                with emulator._lock:
                    lose = status == 201 and method == "POST" and emulator.lose_answers > 0
                    if lose:
                        emulator.lose_answers -= 1
                if lose:
                    self.close_connection = True
                    self.connection.shutdown(2)  # taken, and no answer comes back
                    return
                self._answer(status, body, content_type)

            def do_POST(self) -> None:
                self._handle("POST")

            def do_GET(self) -> None:
                self._handle("GET")

        return Handler

    def answer(
        self,
        method: str,
        path: str,
        authorization: str,
        content_type: str,
        raw: bytes,
        query: str = "",
    ) -> tuple[int, bytes, str]:
        account = self._authenticate(authorization)
        if account is None:
            return _error(401, 20003, "Authenticate")
        create, fetch, numbers = MESSAGES.match(path), MESSAGE.match(path), NUMBERS.match(path)
        match = create or fetch or numbers
        if match is None:
            return _error(404, 20404, "The requested resource was not found")
        if match["sid"] != account:
            return _error(404, 20404, f"The requested resource {path} was not found")
        if fetch is not None and method == "GET":
            with self._lock:
                message = self.messages.get(fetch["msid"])
            if message is None or message.account_sid != account:
                return _error(404, 20404, f"The requested resource {path} was not found")
            priced = message.status not in ("queued", "sending", "accepted")
            return 200, json.dumps(message.resource(priced=priced)).encode(), "application/json"
        if numbers is not None and method == "GET":
            return self._numbers_list(account)
        if create is not None and method == "GET":
            return self._list(account, dict(parse_qsl(query)))
        if create is None or method != "POST":
            return _error(405, 20004, "Method not allowed")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return _error(400, 20001, "Request body must be application/x-www-form-urlencoded")
        try:
            form = dict(
                parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            )
        except UnicodeDecodeError:
            return _error(400, 20001, "Request body is not UTF-8")
        return self._create(account, form)

    def _list(self, account: str, query: dict[str, str]) -> tuple[int, bytes, str]:
        """Messages of the account, newest first, filtered by To and From (a first page)."""
        with self._lock:
            found = [
                m
                for m in self.messages.values()
                if m.account_sid == account
                and query.get("To", m.to) == m.to
                and query.get("From", m.from_) == m.from_
            ]
        found.sort(key=lambda m: m.created, reverse=True)
        size = int(query.get("PageSize", "50"))
        uri = f"/2010-04-01/Accounts/{account}/Messages.json?PageSize={size}&Page=0"
        page = {
            "messages": [m.resource(priced=False) for m in found[:size]],
            "end": max(len(found[:size]) - 1, 0),
            "first_page_uri": uri,
            "next_page_uri": None,
            "page": 0,
            "page_size": size,
            "previous_page_uri": None,
            "start": 0,
            "uri": uri,
        }
        return 200, json.dumps(page).encode(), "application/json"

    def _numbers_list(self, account: str) -> tuple[int, bytes, str]:
        """The account's phone numbers (IncomingPhoneNumbers), one page."""
        uri = f"/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json?PageSize=50&Page=0"
        owned = sorted(self.numbers.get(account, set()))
        page = {
            "incoming_phone_numbers": [
                {
                    "account_sid": account,
                    "api_version": "2010-04-01",
                    "capabilities": {"sms": True, "mms": False, "voice": True, "fax": False},
                    "friendly_name": number,
                    "phone_number": number,
                    "sid": "PN" + hashlib.md5(number.encode()).hexdigest(),
                    "sms_method": "POST",
                    "sms_url": self.sms_urls.get(
                        number, "https://demo.twilio.com/welcome/sms/reply"
                    ),
                    "status": "in-use",
                    "uri": f"/2010-04-01/Accounts/{account}/IncomingPhoneNumbers/{number}.json",
                }
                for number in owned
            ],
            "end": max(len(owned) - 1, 0),
            "first_page_uri": uri,
            "next_page_uri": None,
            "page": 0,
            "page_size": 50,
            "previous_page_uri": None,
            "start": 0,
            "uri": uri,
        }
        return 200, json.dumps(page).encode(), "application/json"

    def _authenticate(self, authorization: str) -> str | None:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        token = self.accounts.get(user)
        if token is None or not secrets.compare_digest(token, password):
            return None
        return user

    def _create(self, account: str, form: dict[str, str]) -> tuple[int, bytes, str]:
        if account in self.failing_accounts:
            return _error(503, 20500, "Service Unavailable")
        with self._lock:
            if self.script.failures:
                status, code = self.script.failures.pop(0)
                if self.script.problem_details:
                    return _problem(status, code, f"Scripted failure {code}")
                return _error(status, code, f"Scripted failure {code}")
            if self.script.garbage:
                self.script.garbage -= 1
                return 201, b"<html>502 Bad Gateway</html>", "text/html"
        to = form.get("To", "")
        sender = form.get("From") or None
        service = form.get("MessagingServiceSid") or None
        body = form.get("Body", "")
        callback = form.get("StatusCallback") or None
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not E164.match(to):
            return _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if sender is None and service is None:
            return _error(400, 21603, "A 'From' phone number is required.")
        if sender is not None:
            if E164.match(sender):
                if sender not in self.numbers.get(account, set()):
                    return _error(
                        400,
                        21606,
                        f"The From phone number {sender} is not a valid, SMS-capable inbound "
                        "phone number or short code for your account.",
                    )
            elif not (self.alphanumeric and ALPHANUMERIC.match(sender)):
                return _error(400, 21212, f"The 'From' number {sender} is not a valid phone number")
        if not body and not form.get("MediaUrl"):
            return _error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            return _error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if callback is not None and urlsplit(callback).scheme not in ("http", "https"):
            return _error(400, 21609, f"Invalid StatusCallback url: {callback}")
        validity = form.get("ValidityPeriod")
        message = EmulatedMessage(
            sid="SM" + secrets.token_hex(16),
            account_sid=account,
            to=to,
            from_=sender
            or (self.numbers.get(account) and sorted(self.numbers[account])[0])
            or None,
            messaging_service_sid=service,
            body=body,
            status_callback=callback,
            validity_period=int(validity) if validity and validity.isdigit() else None,
            created=datetime.now(UTC),
            num_segments=self.segments_override.get(to, segments(body)),
        )
        with self._lock:
            self.messages[message.sid] = message
            no_sid = self.script.no_sid > 0
            if no_sid:
                self.script.no_sid -= 1
        resource = message.resource(priced=False)
        if no_sid:
            resource.pop("sid")
        outcome = self.outcome.get(to, "delivered")
        if outcome != "silent":
            self._queue_status(message, "sent")
            if outcome in ("undelivered", "failed"):
                message.error_code = 30003 if outcome == "undelivered" else 30008
            self._queue_status(message, outcome)
        return 201, json.dumps(resource).encode(), "application/json"

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
        for _ in range(int(timeout / 0.05)):
            if predicate():
                return
            time.sleep(0.05)  # not a timed Event.wait: those hang under libfaketime
        raise AssertionError("timed out waiting on the Twilio emulator")


def _error(status: int, code: int, message: str) -> tuple[int, bytes, str]:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return status, json.dumps(body).encode(), "application/json"


def _problem(status: int, code: int, detail: str) -> tuple[int, bytes, str]:
    body = {
        "type": f"https://www.twilio.com/docs/errors/{code}",
        "title": "Scripted failure",
        "status": status,
        "code": code,
        "detail": detail,
    }
    return status, json.dumps(body).encode(), "application/problem+json"
