"""The Android carrier: SMS out through the phone's API, receipts and replies in by webhook.

A phone is often offline (no signal, battery, a reboot), for hours. A submit that cannot reach
it uses up no retry: the message waits, retried with backoff, until its validity ends it
(EXPIRED, refunded). Every message goes with our own id, so asking again is safe: the phone
answers 409 for an id it already has, and GET /messages/<id> says whether it took one whose
answer was lost. Nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from android_sms_gateway import AsyncAPIClient, TextMessage, Webhook
from android_sms_gateway import Message as AppMessage
from android_sms_gateway.ahttp import HttpxAsyncHttpClient
from android_sms_gateway.enums import WebhookEvent
from android_sms_gateway.errors import APIError
from fastapi import APIRouter, Request, Response
from sqlalchemy import delete, func, select, text

from smsbridge.carriers.android.events import (
    inbound_ref,
    parse_received,
    receipt_status,
    signature_valid,
)
from smsbridge.carriers.base import (
    CarrierEvents,
    InboundSms,
    Receipt,
    Submission,
    SubmitError,
    SubmitResult,
)
from smsbridge.clock import Clock
from smsbridge.db.engine import Database
from smsbridge.db.models import AndroidSend, Message
from smsbridge.messages.pipeline import valid_until
from smsbridge.messages.status import State, Status
from smsbridge.numbers.phone import e164_or_as_written
from smsbridge.settings import AndroidPhoneSettings

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
# How often, and how long after a message's validity, the phone is asked about messages that
# got no final receipt.
SWEEP_SECONDS = 60.0
OVERDUE_GRACE = timedelta(minutes=10)
# What the phone's state of an overdue message means: still pending after validUntil is a
# message it will never send.
OVERDUE_STATES = {
    "Pending": Status.EXPIRED,
    "Processed": Status.EXPIRED,
    "Cancelled": Status.EXPIRED,
    "Delivered": Status.DELIVERED,
    "Failed": Status.UNDELIVERABLE,
}
# The phone's default SIM, for the hourly count of numbers no SIM is configured for.
DEFAULT_SIM = 0
WEBHOOK_EVENTS = ("sms:received", "sms:sent", "sms:delivered", "sms:failed")


class _NotTaken(Exception):
    """The phone surely does not have the message (refused, or never reached)."""

    def __init__(self, error: SubmitError) -> None:
        super().__init__(error.detail)
        self.error = error


class AndroidCarrier:
    """One phone. Webhook: POST /v1/carrier/<name>/events, every event of the app."""

    kind = "android"

    def __init__(
        self,
        settings: AndroidPhoneSettings,
        *,
        db: Database,
        clock: Clock,
        public_base_url: str,
        home_region: str,
    ) -> None:
        if not settings.username or not settings.password:
            raise ValueError(f"Android phone {settings.name!r}: username and password are required")
        if not settings.webhook_signing_key:
            raise ValueError(
                f"Android phone {settings.name!r}: webhook_signing_key is required (without it "
                "anyone could post us SMS and receipts)"
            )
        if settings.register_webhooks and not public_base_url:
            raise ValueError(
                f"Android phone {settings.name!r} needs http.public_base_url (the address the "
                "phone reaches this gateway at) to register its webhooks"
            )
        self.name = settings.name
        self._settings = settings
        self._db = db
        self._clock = clock
        self._home_region = home_region
        self._public_base = public_base_url.rstrip("/")
        self._sims = {self._number(n): sim for n, sim in settings.sims.items()}
        self._numbers = [self._number(n) for n in settings.numbers]
        self._events: CarrierEvents | None = None
        self._http: httpx.AsyncClient | None = None
        self._client: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self.counters: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.last_error: str | None = None
        self.last_seen: datetime | None = None
        self.state = "stopped"
        self.webhooks_registered = False

    # -- the port ----------------------------------------------------------------------------

    async def start(self, events: CarrierEvents) -> None:
        self._events = events
        self._http = httpx.AsyncClient(timeout=self._settings.timeout_seconds)
        self._client = AsyncAPIClient(
            self._settings.username,
            self._settings.password,
            base_url=self._settings.base_url.rstrip("/"),
            http_client=HttpxAsyncHttpClient(self._http),
        )
        self.state = "unknown"
        if self._settings.register_webhooks and self._public_base:
            self._tasks.append(asyncio.create_task(self._register_webhooks()))
        self._tasks.append(asyncio.create_task(self._sweep_loop(events)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._http is not None:
            await self._http.aclose()
        self.state = "stopped"

    async def submit(self, batch: Sequence[Submission]) -> list[SubmitResult]:
        # One at a time: a phone sends SMS one by one anyway, and its hourly count must see
        # each send before the next.
        return [await self._submit_one(s) for s in batch]

    async def lookup(self, message_ids: Sequence[str]) -> dict[str, str | None] | None:
        found: dict[str, str | None] = {}
        for message_id in message_ids:
            try:
                found[message_id] = await self._held(message_id)
            except Exception as exc:  # the phone is away: it cannot tell now
                log.info("Android %s: cannot look %s up: %r", self.name, message_id, exc)
                return None
        return found

    def status(self) -> list[dict[str, Any]]:
        now = self._clock.now()
        return [
            {
                "name": self.name,
                "kind": self.kind,
                "state": self.state,
                "base_url": self._settings.base_url,
                "numbers": self._numbers,
                "last_seen": self.last_seen.isoformat() if self.last_seen else None,
                "webhooks_registered": self.webhooks_registered,
                "sent_last_hour": self._sent_last_hour(now),
                "max_per_hour_per_sim": self._settings.max_per_hour_per_sim,
                "submitted": self.counters["submitted"],
                "receipts": self.counters["receipts"],
                "inbound": self.counters["inbound"],
                "bad_signatures": self.counters["bad_signatures"],
                "errors": dict(self.errors),
                "last_error": self.last_error,
            }
        ]

    def webhooks(self, events: CarrierEvents) -> APIRouter:
        async def webhook(request: Request) -> Response:
            return await self._webhook(request, events)

        router = APIRouter()
        router.add_api_route(
            f"/{self.name}/events", webhook, methods=["POST"], include_in_schema=False
        )
        return router

    def webhook_url(self) -> str:
        return f"{self._public_base}/v1/carrier/{self.name}/events"

    # -- out ---------------------------------------------------------------------------------

    async def _submit_one(self, submission: Submission) -> SubmitResult:
        message_id = submission.message_id
        if self._client is None:
            return SubmitResult(
                message_id, error=SubmitError(False, None, "phone not started", counts=False)
            )
        sim = self._sims.get(submission.sender, DEFAULT_SIM)
        now = self._clock.now()
        wait = await asyncio.to_thread(self._reserve, sim, message_id, now)
        if wait is not None:
            self._note_error("rate_limit", f"SIM {sim or 'default'} reached its hourly limit")
            return SubmitResult(
                message_id,
                error=SubmitError(
                    False,
                    None,
                    f"SIM {sim or 'default'} has sent {self._settings.max_per_hour_per_sim} SMS "
                    "in the last hour (max_per_hour_per_sim)",
                    delay_seconds=max(wait, 1.0),
                    max_delay_seconds=max(wait, 1.0),
                    error_class="rate_limit",
                    counts=False,
                ),
            )
        try:
            ref = await self._send(submission, sim)
        except _NotTaken as refused:
            await asyncio.to_thread(self._unreserve, message_id)
            return SubmitResult(message_id, error=refused.error)
        if ref is None:
            return SubmitResult(message_id, in_doubt=True)
        self.counters["submitted"] += 1
        self.state, self.last_seen = "up", self._clock.now()
        return SubmitResult(message_id, carrier_ref=ref)

    async def _send(self, submission: Submission, sim: int) -> str | None:
        """The message's carrier id once the phone has it; None when that cannot be known;
        raises _NotTaken when the phone surely does not have it."""
        message = AppMessage(
            phone_numbers=[submission.destination],
            text_message=TextMessage(text=submission.content),
            id=submission.message_id,
            sim_number=sim or None,
            with_delivery_report=True,
            valid_until=submission.valid_until,
        )
        try:
            state = await self._client.send(message)
            ref = getattr(state, "id", None)
            if isinstance(ref, str) and ref == submission.message_id:
                return ref
            raise ValueError(f"the phone answered for id {ref!r}")
        except APIError as exc:
            status = exc.status_code or 0
            if status == 409:
                return submission.message_id  # it has this id already: an earlier attempt
            self._note_error(str(status), _api_detail(exc))
            raise _NotTaken(_api_error(status, _api_detail(exc))) from exc
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            self.state = "offline"
            self._note_error("offline", str(exc) or type(exc).__name__)
            raise _NotTaken(
                SubmitError(
                    False,
                    None,
                    f"the phone is offline: {exc or type(exc).__name__}",
                    error_class="offline",
                    counts=False,
                )
            ) from exc
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            # Sent, and no usable answer: ask the phone whether it took the message.
            self._note_error("no_answer", f"{type(exc).__name__}: {exc}")
            log.warning(
                "Android %s: no usable answer for %s: %r", self.name, submission.message_id, exc
            )
        try:
            held = await self._held(submission.message_id)
        except Exception as exc:
            log.warning(
                "Android %s: cannot tell whether it has %s: %r",
                self.name,
                submission.message_id,
                exc,
            )
            return None
        if held is None:
            raise _NotTaken(
                SubmitError(
                    False, None, "the phone did not take it (asked after no answer)", counts=False
                )
            )
        return held

    async def _held(self, message_id: str) -> str | None:
        try:
            state = await self._client.get_state(message_id)
        except APIError as exc:
            if exc.status_code == 404:
                return None
            raise
        return message_id if getattr(state, "id", None) == message_id else None

    def _reserve(self, sim: int, message_id: str, now: datetime) -> float | None:
        """Count this send against the SIM's hour before it happens; the seconds to wait
        instead when the SIM has had its hour's worth."""
        with self._db.write() as session:
            if not self._db.is_sqlite:
                # Two workers counting at once would each see room for one more.
                session.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                    {"key": f"android|{self.name}|{sim}"},
                )
            recent = [
                row
                for row in session.scalars(
                    select(AndroidSend.sent_at)
                    .where(
                        AndroidSend.phone == self.name,
                        AndroidSend.sim == sim,
                        AndroidSend.sent_at > now - HOUR,
                    )
                    .order_by(AndroidSend.sent_at)
                )
            ]
            if len(recent) >= self._settings.max_per_hour_per_sim:
                oldest = recent[len(recent) - self._settings.max_per_hour_per_sim]
                return (oldest + HOUR - now).total_seconds()
            session.add(AndroidSend(phone=self.name, sim=sim, message_id=message_id, sent_at=now))
            # Old rows say nothing about the limit any more.
            session.execute(
                delete(AndroidSend).where(
                    AndroidSend.phone == self.name, AndroidSend.sent_at < now - 2 * HOUR
                )
            )
        return None

    def _unreserve(self, message_id: str) -> None:
        with self._db.write() as session:
            session.execute(
                delete(AndroidSend).where(
                    AndroidSend.phone == self.name, AndroidSend.message_id == message_id
                )
            )

    def _sent_last_hour(self, now: datetime) -> dict[str, int]:
        with self._db.read() as session:
            rows = session.execute(
                select(AndroidSend.sim, func.count())
                .where(AndroidSend.phone == self.name, AndroidSend.sent_at > now - HOUR)
                .group_by(AndroidSend.sim)
            )
            return {str(sim or "default"): int(count) for sim, count in rows}

    async def _register_webhooks(self) -> None:
        delay = 5.0
        while True:
            try:
                for event in WEBHOOK_EVENTS:
                    await self._client.create_webhook(
                        Webhook(
                            id=f"smsbridge-{self.name}-{event.replace(':', '-')}",
                            url=self.webhook_url(),
                            event=WebhookEvent(event),
                        )
                    )
                self.webhooks_registered = True
                log.info("Android %s: webhooks registered at %s", self.name, self.webhook_url())
                return
            except Exception as exc:  # the phone is away: try again later
                self._note_error("webhooks", f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 300.0)

    async def _sweep_loop(self, events: CarrierEvents) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self.settle_overdue(events)
            except Exception:  # a bad round must not end the sweep
                log.exception("Android %s: settling overdue messages failed", self.name)

    async def settle_overdue(self, events: CarrierEvents) -> int:
        """Ask the phone about messages it took that are past their validity with no final
        receipt, and report what it says. In cloud mode the server queues a message while the
        phone is away; a phone that never came back before validUntil will not send it (it is
        EXPIRED, refunded), and a webhook that was lost is made good (DELIVERED, failed)."""
        overdue = await asyncio.to_thread(self._overdue)
        receipts: list[Receipt] = []
        for message_id in overdue:
            try:
                state = await self._client.get_state(message_id)
            except APIError as exc:
                if exc.status_code == 404:
                    continue  # another phone's message
                raise
            word = getattr(getattr(state, "state", None), "value", "")
            status = OVERDUE_STATES.get(word)
            if status is not None:
                receipts.append(
                    Receipt(message_id, status, detail=f"Android: {word} past its validity")
                )
        if receipts:
            await events.on_receipts(receipts)
            self.counters["receipts"] += len(receipts)
        return len(receipts)

    def _overdue(self) -> list[str]:
        """Messages sent through an Android phone (their carrier id is their own id) that are
        still waiting for a final receipt a while after their validity ended."""
        now = self._clock.now()
        with self._db.read() as session:
            rows = session.execute(
                select(Message.id, Message.created, Message.schedule, Message.validity_minutes)
                .where(Message.state == State.SUBMITTED.value, Message.carrier_ref == Message.id)
                .limit(500)
            ).all()
        return [
            r.id
            for r in rows
            if valid_until(r.created, r.schedule, r.validity_minutes) + OVERDUE_GRACE < now
        ]

    def _note_error(self, code: str, detail: str) -> None:
        self.errors[code] += 1
        self.last_error = f"{code}: {detail}"[:500]

    # -- in ----------------------------------------------------------------------------------

    async def _webhook(self, request: Request, events: CarrierEvents) -> Response:
        body = await request.body()
        if not signature_valid(
            self._settings.webhook_signing_key,
            body,
            request.headers.get("X-Timestamp", ""),
            request.headers.get("X-Signature", ""),
            self._clock.now(),
            self._settings.webhook_max_age_seconds,
        ):
            self.counters["bad_signatures"] += 1
            log.warning("Android %s: webhook with a bad, missing or stale signature", self.name)
            return Response("signature does not match\n", status_code=403, media_type="text/plain")
        self.state, self.last_seen = "up", self._clock.now()
        try:
            event = json.loads(body)
            kind = event["event"]
            payload = event.get("payload") or {}
            if not isinstance(kind, str) or not isinstance(payload, dict):
                raise ValueError("event and payload")
        except (ValueError, KeyError, TypeError) as exc:
            # Signed but unreadable: answering an error would only make the app resend it.
            log.warning("Android %s: unreadable webhook (%s): %r", self.name, exc, body[:500])
            self._note_error("malformed", str(exc))
            return Response(status_code=204)
        if kind == "sms:received":
            try:
                received = parse_received(payload)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("Android %s: unreadable sms:received (%s): %r", self.name, exc, payload)
                self._note_error("malformed", str(exc))
                return Response(status_code=204)
            await events.on_inbound(
                InboundSms(
                    carrier_ref=inbound_ref(self.name, received),
                    sender=self._number(received.sender),
                    recipient=self._recipient(received.recipient, received.sim_number),
                    content=received.text,
                    received_at=received.received_at,
                )
            )
            self.counters["inbound"] += 1
            return Response(status_code=204)
        reason = payload.get("reason")
        status = receipt_status(kind, reason if isinstance(reason, str) else None)
        ref = payload.get("messageId") or payload.get("id")
        if status is None or not isinstance(ref, str) or not ref:
            return Response(status_code=204)  # system:ping and the like
        await events.on_receipts(
            [
                Receipt(
                    carrier_ref=ref,
                    status=status,
                    detail=f"Android {kind}" + (f": {reason}" if reason else ""),
                    destination=self._number(str(payload.get("phoneNumber") or "")) or None,
                )
            ]
        )
        self.counters["receipts"] += 1
        return Response(status_code=204)

    def _recipient(self, recipient: str | None, sim: int | None) -> str:
        """Which of our numbers the SMS was sent to: as the app says, or by its SIM."""
        if recipient:
            return self._number(recipient)
        for number, slot in self._sims.items():
            if slot == sim:
                return number
        return self._numbers[0] if self._numbers else ""

    def _number(self, value: str) -> str:
        return e164_or_as_written(value, self._home_region)


def _api_detail(exc: APIError) -> str:
    response = exc.response if isinstance(exc.response, dict) else {}
    return str(response.get("message") or exc)[:300]


def _api_error(status: int, detail: str) -> SubmitError:
    text_ = f"Android app {status}: {detail}"
    if status in (401, 403):
        return SubmitError(
            False,
            status,
            text_ + " (check username and password)",
            retries=5,
            delay_seconds=60,
            error_class="account",
        )
    if status == 400:
        return SubmitError(True, status, text_, error_class="permanent")
    return SubmitError(False, status, text_, error_class="temporary")
