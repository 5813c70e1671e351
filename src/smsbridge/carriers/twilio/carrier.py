"""The Twilio carrier: Messages create with a StatusCallback out, signed webhooks in."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from smsbridge.carriers.base import (
    CarrierEvents,
    InboundSms,
    Receipt,
    Submission,
    SubmitError,
    SubmitResult,
)
from smsbridge.carriers.twilio.errors import receipt_status, submit_error
from smsbridge.carriers.twilio.transport import HttpxTwilioClient
from smsbridge.clock import Clock
from smsbridge.db.engine import Database
from smsbridge.db.models import CarrierCharge, Message
from smsbridge.messages.status import FINAL_STATUSES
from smsbridge.numbers.phone import e164_or_as_written
from smsbridge.settings import TwilioAccountSettings

log = logging.getLogger(__name__)

# Twilio keeps a message queued at most this long (its ValidityPeriod is 1-36000 seconds).
MAX_VALIDITY_SECONDS = 36_000
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class TwilioCarrier:
    """One Twilio account. Webhooks: POST /v1/carrier/<name>/status (StatusCallback) and
    POST /v1/carrier/<name>/sms (the number's "A message comes in" webhook)."""

    kind = "twilio"

    def __init__(
        self,
        settings: TwilioAccountSettings,
        *,
        db: Database,
        clock: Clock,
        public_base_url: str,
        home_region: str,
    ) -> None:
        if not settings.account_sid or not settings.auth_token:
            raise ValueError(
                f"Twilio account {settings.name!r}: account_sid and auth_token are required"
            )
        if not public_base_url:
            raise ValueError(
                "Twilio needs http.public_base_url (the https address Twilio reaches this "
                "gateway at) for its status callbacks and inbound SMS"
            )
        self.name = settings.name
        self._settings = settings
        self._db = db
        self._clock = clock
        self._home_region = home_region
        self._public_base = public_base_url.rstrip("/")
        self._validator = RequestValidator(settings.auth_token)
        self._events: CarrierEvents | None = None
        self._http: HttpxTwilioClient | None = None
        self._client: Any = None
        self._limit = asyncio.Semaphore(settings.max_concurrent_requests)
        self._background: set[asyncio.Task[None]] = set()
        self.counters: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.last_error: str | None = None
        self.state = "stopped"
        # Configured Reply Numbers the account does not have for SMS, and those whose inbound
        # SMS go somewhere else: known once Twilio has been asked at start.
        self.numbers_missing: list[str] | None = None
        self.numbers_webhook_elsewhere: list[str] | None = None

    # -- the port ----------------------------------------------------------------------------

    async def start(self, events: CarrierEvents) -> None:
        self._events = events
        self._twilio()
        self.state = "up"
        self._in_background(self._check_numbers())

    def _twilio(self) -> Any:
        """The official client, made on first use: a process that only serves the webhooks
        (serve --no-worker) needs it too, to fetch prices."""
        if self._client is None:
            self._http = HttpxTwilioClient(
                self._settings.api_base_url, self._settings.timeout_seconds
            )
            self._client = Client(
                self._settings.account_sid,
                self._settings.auth_token,
                account_sid=self._settings.account_sid,
                http_client=self._http,
            )
        return self._client

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None:
            await self._http.close()
        self._http = self._client = None
        self.state = "stopped"

    async def submit(self, batch: Sequence[Submission]) -> list[SubmitResult]:
        return list(await asyncio.gather(*(self._submit_one(s) for s in batch)))

    async def lookup(self, message_ids: Sequence[str]) -> dict[str, str | None] | None:
        # Twilio cannot be asked by our id (it takes no client reference and no idempotency
        # key), so a submit whose answer was lost stays in doubt for an operator.
        return None

    def status(self) -> list[dict[str, Any]]:
        return [
            {
                "name": self.name,
                "kind": self.kind,
                "state": self.state,
                "account_sid": self._settings.account_sid,
                "numbers": list(self._settings.numbers),
                "numbers_missing": self.numbers_missing,
                "numbers_webhook_elsewhere": self.numbers_webhook_elsewhere,
                "submitted": self.counters["submitted"],
                "receipts": self.counters["receipts"],
                "inbound": self.counters["inbound"],
                "billing_mismatches": self.counters["billing_mismatches"],
                "bad_signatures": self.counters["bad_signatures"],
                "errors": dict(self.errors),
                "last_error": self.last_error,
            }
        ]

    def webhooks(self, events: CarrierEvents) -> APIRouter:
        async def status_callback(request: Request) -> Response:
            return await self._status_callback(request, events)

        async def inbound(request: Request) -> Response:
            return await self._inbound_webhook(request, events)

        router = APIRouter()
        router.add_api_route(
            f"/{self.name}/status", status_callback, methods=["POST"], include_in_schema=False
        )
        router.add_api_route(
            f"/{self.name}/sms", inbound, methods=["POST"], include_in_schema=False
        )
        return router

    # -- out ---------------------------------------------------------------------------------

    def callback_url(self, kind: str) -> str:
        return f"{self._public_base}/v1/carrier/{self.name}/{kind}"

    def _params(self, submission: Submission) -> dict[str, Any]:
        params: dict[str, Any] = {
            "to": submission.destination,
            "body": submission.content,
            "status_callback": self.callback_url("status"),
        }
        if self._settings.messaging_service_sid:
            params["messaging_service_sid"] = self._settings.messaging_service_sid
        else:
            params["from_"] = submission.sender
        if submission.valid_until is not None:
            left = int((submission.valid_until - self._clock.now()).total_seconds())
            params["validity_period"] = max(1, min(left, MAX_VALIDITY_SECONDS))
        return params

    async def _submit_one(self, submission: Submission) -> SubmitResult:
        message_id = submission.message_id
        if self._client is None:
            return SubmitResult(
                message_id,
                error=SubmitError(False, None, "Twilio carrier not started", counts=False),
            )
        started = self._clock.now()
        try:
            async with self._limit:
                created = await self._client.messages.create_async(**self._params(submission))
        except (TwilioRestException, TwilioServiceException) as exc:
            # Twilio answered with an error (its legacy JSON or RFC 9457 problem details).
            text = getattr(exc, "msg", None) or getattr(exc, "detail", None) or str(exc)
            error = submit_error(_int(str(exc.status)), _int(str(exc.code)), str(text))
            self._note_error(str(exc.code or exc.status), error.detail)
            return SubmitResult(message_id, error=error)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # The request never reached Twilio: nothing to doubt, no retry used up.
            self._note_error("unreachable", str(exc) or type(exc).__name__)
            return SubmitResult(
                message_id,
                error=SubmitError(
                    False,
                    None,
                    f"Twilio unreachable: {exc or type(exc).__name__}",
                    error_class="unreachable",
                    counts=False,
                ),
            )
        except (httpx.HTTPError, ValueError) as exc:
            # Written, and then no readable answer: Twilio may have the message.
            self._note_error("no_answer", f"{type(exc).__name__}: {exc}")
            log.warning(
                "Twilio %s: submit of %s unanswered or unreadable: %r", self.name, message_id, exc
            )
            return await self._settle_lost_answer(submission, started)
        sid = getattr(created, "sid", None)
        if not isinstance(sid, str) or not sid:
            self._note_error("no_sid", "a created message without a sid")
            log.warning("Twilio %s: answer for %s carries no sid", self.name, message_id)
            return await self._settle_lost_answer(submission, started)
        self.counters["submitted"] += 1
        self._check_segments(
            message_id, sid, submission.segments, getattr(created, "num_segments", None)
        )
        return SubmitResult(message_id, carrier_ref=sid)

    async def _settle_lost_answer(self, submission: Submission, since: datetime) -> SubmitResult:
        """Look for the message at Twilio after its create went unanswered: the account's
        latest messages to that handset from that sender with that exact text, created since
        the submit. Exactly one, and no other message of ours holding its sid: that is ours.
        Anything else stays in doubt, because resending could text the customer twice (a
        create still being processed would not be listed yet)."""
        message_id = submission.message_id
        query: dict[str, Any] = {"to": submission.destination, "limit": 20}
        if not self._settings.messaging_service_sid:
            query["from_"] = submission.sender
        try:
            listed = await self._twilio().messages.list_async(**query)
        except Exception as exc:
            log.warning("Twilio %s: cannot look for %s: %r", self.name, message_id, exc)
            return SubmitResult(message_id, in_doubt=True)
        slack = timedelta(minutes=5)  # Twilio's clock is not ours
        sids = [
            m.sid
            for m in listed
            if getattr(m, "body", None) == submission.content
            and isinstance(getattr(m, "sid", None), str)
            and isinstance(getattr(m, "date_created", None), datetime)
            and m.date_created >= since - slack
        ]
        if sids:
            taken = await asyncio.to_thread(self._sids_taken, sids)
            sids = [sid for sid in sids if sid not in taken]
        if len(sids) != 1:
            return SubmitResult(message_id, in_doubt=True)
        log.info(
            "Twilio %s: %s found at Twilio as %s after a lost answer",
            self.name,
            message_id,
            sids[0],
        )
        self.counters["submitted"] += 1
        return SubmitResult(message_id, carrier_ref=sids[0])

    def _sids_taken(self, sids: list[str]) -> set[str]:
        with self._db.read() as session:
            return set(
                session.scalars(select(Message.carrier_ref).where(Message.carrier_ref.in_(sids)))
            )

    def _check_segments(self, message_id: str, sid: str, billed: int, reported: object) -> None:
        try:
            theirs = int(str(reported))
        except ValueError:
            return  # a Messaging Service answers 0 or nothing until it picks a sender
        if theirs and theirs != billed:
            self.counters["billing_mismatches"] += 1
            log.warning(
                "Twilio %s: message %s (%s) billed as %d segments, Twilio counts %d",
                self.name,
                message_id,
                sid,
                billed,
                theirs,
            )

    def _note_error(self, code: str, detail: str) -> None:
        self.errors[code] += 1
        self.last_error = f"{code}: {detail}"[:500]

    # -- in ----------------------------------------------------------------------------------

    async def _verified_form(self, request: Request) -> dict[str, str] | None:
        """The webhook's parameters, or None when its X-Twilio-Signature is missing or wrong
        (or it is for another account): such a request is answered 403 and nothing is kept."""
        form = await request.form()
        params = {key: str(value) for key, value in form.multi_items()}
        # Twilio signs the URL it called: ours as the world sees it, behind any proxy.
        url = self._public_base + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not self._validator.validate(url, params, signature):
            self.counters["bad_signatures"] += 1
            log.warning(
                "Twilio %s: webhook %s with a bad or missing signature", self.name, request.url.path
            )
            return None
        if params.get("AccountSid") != self._settings.account_sid:
            self.counters["bad_signatures"] += 1
            log.warning(
                "Twilio %s: webhook for another account %r", self.name, params.get("AccountSid")
            )
            return None
        return params

    async def _status_callback(self, request: Request, events: CarrierEvents) -> Response:
        params = await self._verified_form(request)
        if params is None:
            return Response("signature does not match\n", status_code=403, media_type="text/plain")
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        word = params.get("MessageStatus") or params.get("SmsStatus") or ""
        code = _int(params.get("ErrorCode"))
        if not sid or not word:
            log.warning(
                "Twilio %s: status callback without MessageSid/MessageStatus: %s", self.name, params
            )
            return Response(status_code=204)  # acknowledged: sending it again cannot help
        status = receipt_status(word, code)
        if status is None:
            return Response(status_code=204)
        await events.on_receipts(
            [
                Receipt(
                    carrier_ref=sid,
                    status=status,
                    code=code,
                    detail=f"Twilio {word}" + (f" (error {code})" if code else ""),
                    destination=self._number(params.get("To", "")) or None,
                )
            ]
        )
        self.counters["receipts"] += 1
        if status in FINAL_STATUSES:
            self._in_background(self._reconcile(sid))
        return Response(status_code=204)

    async def _inbound_webhook(self, request: Request, events: CarrierEvents) -> Response:
        params = await self._verified_form(request)
        if params is None:
            return Response("signature does not match\n", status_code=403, media_type="text/plain")
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        sender = self._number(params.get("From", ""))
        recipient = self._number(params.get("To", ""))
        if not sid or not sender or not recipient:
            log.warning(
                "Twilio %s: inbound webhook without MessageSid/From/To: %s", self.name, params
            )
            return Response(EMPTY_TWIML, media_type="text/xml")
        content = params.get("Body", "")
        media = [
            params[f"MediaUrl{i}"]
            for i in range(_int(params.get("NumMedia")) or 0)
            if f"MediaUrl{i}" in params
        ]
        if media:
            content = "\n".join([content, *(f"[media: {url}]" for url in media)]).strip()
        # Answered only once stored: a Twilio retry after a lost answer has the same
        # MessageSid, which is stored once.
        await events.on_inbound(
            InboundSms(
                carrier_ref=sid,
                sender=sender,
                recipient=recipient,
                content=content,
                received_at=self._clock.now(),
            )
        )
        self.counters["inbound"] += 1
        # Empty TwiML: no automatic answer; replies come from the email bridge.
        return Response(EMPTY_TWIML, media_type="text/xml")

    def _number(self, value: str) -> str:
        return e164_or_as_written(value, self._home_region)  # a short code or name: as written

    async def _check_numbers(self) -> None:
        """Compare the configured Reply Numbers with the account's own: a number the account
        lacks is refused at every send (21606), and one whose "A message comes in" webhook
        points elsewhere never brings a customer's reply here. Logged, and shown in status."""
        try:
            owned = await self._twilio().incoming_phone_numbers.list_async(limit=1000)
        except Exception as exc:
            log.warning("Twilio %s: cannot list the account's numbers: %r", self.name, exc)
            return
        ours = self.callback_url("sms")
        by_number = {self._number(str(n.phone_number or "")): n for n in owned}
        missing, elsewhere = [], []
        for configured in self._settings.numbers:
            number = self._number(configured)
            held = by_number.get(number)
            capabilities = getattr(held, "capabilities", None) or {}
            if held is None or not capabilities.get("sms", False):
                missing.append(number)
            elif (getattr(held, "sms_url", "") or "").rstrip("/") != ours:
                elsewhere.append(number)
        self.numbers_missing, self.numbers_webhook_elsewhere = missing, elsewhere
        if missing:
            log.warning(
                "Twilio %s: the account has no SMS number %s: sends from it will be refused",
                self.name,
                ", ".join(missing),
            )
        if elsewhere:
            log.warning(
                "Twilio %s: %s send inbound SMS elsewhere; set their 'A message comes in' "
                "webhook to %s",
                self.name,
                ", ".join(elsewhere),
                ours,
            )

    # -- what it cost ------------------------------------------------------------------------

    def _in_background(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _reconcile(self, sid: str) -> None:
        """Fetch a finished message's price and segments from Twilio and keep them beside what
        we billed; a difference is logged and counted (it means our rates or segment count
        disagree with the provider's)."""
        try:
            fetched = await self._twilio().messages(sid).fetch_async()
        except Exception as exc:  # best effort: the receipt is already stored
            log.info("Twilio %s: could not fetch %s for its price: %r", self.name, sid, exc)
            return
        await asyncio.to_thread(
            self._store_charge,
            sid,
            getattr(fetched, "num_segments", None),
            getattr(fetched, "price", None),
            getattr(fetched, "price_unit", None),
        )

    def _store_charge(
        self, sid: str, num_segments: object, price: object, price_unit: object
    ) -> None:
        reported = _int(str(num_segments)) if num_segments is not None else None
        with self._db.write() as session:
            billed = session.scalar(select(Message.segments).where(Message.carrier_ref == sid))
            mismatch = billed is not None and reported is not None and reported != billed
            row = session.get(CarrierCharge, sid)
            if row is None:
                row = CarrierCharge(carrier_ref=sid, carrier=self.name)
                session.add(row)
            row.billed_segments = billed
            row.reported_segments = reported
            row.price = None if price is None else str(price)[:32]
            row.price_unit = None if price_unit is None else str(price_unit)[:8]
            row.mismatch = mismatch
            row.checked_at = self._clock.now()
        if mismatch:
            self.counters["billing_mismatches"] += 1
            log.warning(
                "Twilio %s: %s billed %s segments, Twilio charged %s",
                self.name,
                sid,
                billed,
                reported,
            )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None
