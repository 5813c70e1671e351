"""Send-API actions: validate, price, debit and queue messages in one transaction each."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smsbridge.clock import Clock
from smsbridge.credits import ledger
from smsbridge.credits.pricing import RateTable, to_credits
from smsbridge.db.engine import Database
from smsbridge.db.models import (
    Account,
    Batch,
    IdempotencyKey,
    InboundMessage,
    Message,
    OutboundEmail,
    ReplyNumber,
)
from smsbridge.errors import Invalid, NotFound, ServiceError
from smsbridge.ids import new_id
from smsbridge.messages.schemas import BatchIn, MessageIn, QueryIn
from smsbridge.messages.status import FAILED_STATUSES, State, Status
from smsbridge.messages.validation import (
    Common,
    Policy,
    check_common,
    parse_time,
    price_destination,
)
from smsbridge.settings import Settings


class MessageService:
    def __init__(self, db: Database, clock: Clock, settings: Settings, rates: RateTable) -> None:
        self._db = db
        self._clock = clock
        self._settings = settings
        self._rates = rates

    # -- sending ---------------------------------------------------------------------------

    def send(
        self,
        account_id: str,
        request: MessageIn,
        *,
        scheduled: bool = False,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Queue one message (POST /message/send, /message/schedule)."""
        if scheduled and not request.schedule:
            raise Invalid("MISSING_SCHEDULE", "A scheduled message needs a schedule date-time.")

        def act(session: Session, now: datetime) -> dict[str, Any]:
            return self.queue_in(session, account_id, request, now)

        return self._idempotent(account_id, idempotency_key, "message", request, act)

    def queue_in(
        self,
        session: Session,
        account_id: str,
        request: MessageIn,
        now: datetime,
        *,
        conversation_id: str | None = None,
        max_segments: int | None = None,
    ) -> dict[str, Any]:
        """Check, price, debit and queue one message inside the caller's transaction."""
        policy = self._policy(session, account_id)
        common = self._common(request, policy, now)
        if max_segments is not None and common.segments > max_segments:
            raise Invalid(
                "TOO_MANY_SEGMENTS",
                f"The text needs {common.segments} SMS segments; the most is {max_segments}.",
            )
        priced = price_destination(request.destination, common, policy)
        message_id = new_id()
        ledger.debit(session, account_id, priced.credits_milli, now, message_id=message_id)
        row = _message_row(message_id, account_id, None, common, priced, request, now)
        row["conversation_id"] = conversation_id
        session.execute(insert(Message), [row])
        status = Status.SCHEDULED if common.schedule is not None else Status.ACCEPTED
        return {
            "messageid": message_id,
            "status": status.value,
            "credits": to_credits(priced.credits_milli),
        }

    def send_batch(
        self,
        account_id: str,
        request: BatchIn,
        *,
        scheduled: bool = False,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Queue one text to many destinations (POST /batch/send, /batch/schedule)."""
        if scheduled and not request.schedule:
            raise Invalid("MISSING_SCHEDULE", "A scheduled batch needs a schedule date-time.")
        self._check_batch_size(len(request.destinations))

        def act(session: Session, now: datetime) -> dict[str, Any]:
            policy = self._policy(session, account_id)
            common = self._common(request, policy, now)
            items = [(common, request, d) for d in request.destinations]
            return self._queue_batch(session, account_id, policy, items, now, common.schedule)

        return self._idempotent(account_id, idempotency_key, "batch", request, act)

    def send_any(
        self, account_id: str, requests: Sequence[MessageIn], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Queue a batch of different messages (POST /batch/any)."""
        self._check_batch_size(len(requests))

        def act(session: Session, now: datetime) -> dict[str, Any]:
            policy = self._policy(session, account_id)
            items = [(self._common(r, policy, now), r, r.destination) for r in requests]
            return self._queue_batch(session, account_id, policy, items, now, None)

        body = [r.model_dump() for r in requests]
        return self._idempotent(account_id, idempotency_key, "any", body, act)

    def _check_batch_size(self, size: int) -> None:
        if size == 0:
            raise Invalid("EMPTY_BATCH", "The batch has no destinations.")
        if size > self._settings.api.max_batch_size:
            raise Invalid(
                "BATCH_TOO_LARGE",
                f"The batch has {size} messages; the most is {self._settings.api.max_batch_size}.",
            )

    def _queue_batch(
        self,
        session: Session,
        account_id: str,
        policy: Policy,
        items: Sequence[tuple[Common, MessageIn | BatchIn, str]],
        now: datetime,
        schedule: datetime | None,
    ) -> dict[str, Any]:
        batch_id = new_id()
        rows: list[dict[str, Any]] = []
        problems: list[dict[str, Any]] = []
        for index, (common, request, destination) in enumerate(items):
            try:
                priced = price_destination(destination, common, policy)
            except ServiceError as exc:
                problems.append(
                    {
                        "index": index,
                        "destination": destination,
                        "code": exc.code,
                        "message": exc.message,
                    }
                )
                continue
            rows.append(_message_row(new_id(), account_id, batch_id, common, priced, request, now))
        if problems:
            # A batch is all or nothing: a client must never have to work out which half went.
            first = problems[0]
            raise ServiceError(
                403 if first["code"].endswith("NOT_ALLOWED") else 400,
                first["code"],
                f"{len(problems)} of {len(items)} destinations were refused "
                f"(first: {first['message']}) and nothing was sent.",
                details=problems[:100],
            )
        total = sum(int(r["credits_milli"]) for r in rows)
        session.execute(
            insert(Batch).values(
                id=batch_id,
                account_id=account_id,
                created_at=now,
                schedule=schedule,
                size=len(rows),
            )
        )
        ledger.debit(session, account_id, total, now, batch_id=batch_id)
        session.execute(insert(Message), rows)
        status = Status.SCHEDULED if schedule is not None else Status.ACCEPTED
        return {"batchid": batch_id, "status": status.value, "credits": to_credits(total)}

    def _common(self, request: MessageIn | BatchIn, policy: Policy, now: datetime) -> Common:
        return check_common(
            sender=request.sender,
            content=request.content,
            tag=request.tag,
            responseemail=request.responseemail,
            schedule=request.schedule,
            validity=request.validity,
            deliveryreporturl=request.deliveryreporturl,
            ai=request.ai,
            policy=policy,
            now=now,
        )

    def _policy(self, session: Session, account_id: str) -> Policy:
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound("ACCOUNT_NOT_FOUND", f"There is no account {account_id}.")
        held = session.scalars(
            select(ReplyNumber.number).where(
                ReplyNumber.account_id == account_id, ReplyNumber.state == "assigned"
            )
        )
        return Policy(
            home_region=self._settings.billing.home_region,
            allow_domestic=account.allow_domestic,
            allow_international=account.allow_international,
            held_numbers=frozenset(held),
            max_content_length=self._settings.api.max_content_length,
            max_schedule_days=self._settings.api.max_schedule_days,
            smart_encoding=self._settings.billing.smart_encoding,
            rates=self._rates,
        )

    def _idempotent(
        self,
        account_id: str,
        key: str | None,
        kind: str,
        body: Any,
        act: Callable[[Session, datetime], dict[str, Any]],
    ) -> dict[str, Any]:
        """Run `act` once per Idempotency-Key: a retry gets the first answer, nothing twice."""
        if key is None:
            with self._db.write() as session:
                return act(session, self._clock.now())
        if not 1 <= len(key) <= 255:
            raise Invalid("INVALID_IDEMPOTENCY_KEY", "An Idempotency-Key is 1-255 characters.")
        payload = body.model_dump(by_alias=True) if hasattr(body, "model_dump") else body
        digest = hashlib.sha256(
            json.dumps([kind, payload], sort_keys=True, default=str).encode()
        ).hexdigest()
        for _attempt in range(2):
            try:
                with self._db.write() as session:
                    stored = session.get(IdempotencyKey, (account_id, key))
                    if stored is not None:
                        if stored.request_hash != digest:
                            raise ServiceError(
                                422,
                                "IDEMPOTENCY_KEY_REUSED",
                                "This Idempotency-Key was used for a different request; "
                                "use a new key for a new request.",
                            )
                        return dict(stored.response)
                    now = self._clock.now()
                    response = act(session, now)
                    session.add(
                        IdempotencyKey(
                            account_id=account_id,
                            key=key,
                            request_hash=digest,
                            status_code=200,
                            response=response,
                            created_at=now,
                        )
                    )
                    return response
            except IntegrityError:
                # Two requests with one key raced on PostgreSQL; the loser reads the winner's.
                continue
        raise ServiceError(409, "IDEMPOTENCY_CONFLICT", "A request with this key is in progress.")

    # -- cancelling ------------------------------------------------------------------------

    def cancel_scheduled(self, account_id: str, message_id: str) -> dict[str, Any]:
        now = self._clock.now()
        with self._db.write() as session:
            message = self._owned(session, account_id, message_id)
            if message.status != Status.SCHEDULED or message.state != State.QUEUED:
                raise ServiceError(
                    409,
                    "NOT_SCHEDULED",
                    f"Message {message_id} is {message.status}, not SCHEDULED; it cannot be "
                    "cancelled.",
                )
            _cancel(session, [message], now)
        return {"messageid": message_id, "status": "CANCELLED"}

    def cancel_batch(self, account_id: str, batch_id: str) -> dict[str, Any]:
        now = self._clock.now()
        with self._db.write() as session:
            batch = session.get(Batch, batch_id)
            if batch is None or batch.account_id != account_id:
                raise NotFound("BATCH_NOT_FOUND", f"There is no batch {batch_id}.")
            messages = list(
                session.scalars(
                    select(Message).where(
                        Message.batch_id == batch_id,
                        Message.status == Status.SCHEDULED,
                        Message.state == State.QUEUED,
                    )
                )
            )
            if not messages:
                raise ServiceError(
                    409, "NOT_SCHEDULED", f"Batch {batch_id} has no scheduled messages left."
                )
            _cancel(session, messages, now)
        return {"batchid": batch_id, "status": "CANCELLED", "cancelled": len(messages)}

    # -- reading ---------------------------------------------------------------------------

    def get(self, account_id: str, message_id: str) -> dict[str, Any]:
        with self._db.read() as session:
            message = self._owned(session, account_id, message_id)
            return message_view(message)

    def get_batch(self, account_id: str, batch_id: str) -> list[dict[str, Any]]:
        with self._db.read() as session:
            batch = session.get(Batch, batch_id)
            if batch is None or batch.account_id != account_id:
                raise NotFound("BATCH_NOT_FOUND", f"There is no batch {batch_id}.")
            rows = session.scalars(
                select(Message).where(Message.batch_id == batch_id).order_by(Message.created)
            )
            return [message_view(m) for m in rows]

    def search(
        self, account_id: str, query: QueryIn, *, failed_only: bool = False
    ) -> list[dict[str, Any]]:
        statement: Select[Message] = select(Message).where(Message.account_id == account_id)
        if failed_only:
            statement = statement.where(Message.status.in_([s.value for s in FAILED_STATUSES]))
        if query.status:
            statement = statement.where(Message.status == query.status.upper())
        if query.destination:
            statement = statement.where(Message.destination == _plus(query.destination))
        if query.sender:
            statement = statement.where(Message.sender == query.sender)
        if query.tag:
            statement = statement.where(Message.tag == query.tag)
        if query.from_:
            statement = statement.where(Message.created >= parse_time(query.from_, "from"))
        if query.to:
            statement = statement.where(Message.created <= parse_time(query.to, "to"))
        statement = (
            statement.order_by(Message.created.desc(), Message.id)
            .offset(query.skip)
            .limit(query.limit)
        )
        with self._db.read() as session:
            return [message_view(m) for m in session.scalars(statement)]

    def inbox(self, account_id: str, query: QueryIn) -> list[dict[str, Any]]:
        statement: Select[InboundMessage] = select(InboundMessage).where(
            InboundMessage.account_id == account_id
        )
        if query.sender:
            statement = statement.where(InboundMessage.sender == _plus(query.sender))
        if query.destination:
            statement = statement.where(InboundMessage.reply_number == _plus(query.destination))
        if query.keyword:
            statement = statement.where(InboundMessage.keyword == query.keyword.upper())
        if query.unread:
            statement = statement.where(InboundMessage.status == "UNREAD")
        if query.from_:
            statement = statement.where(
                InboundMessage.received_at >= parse_time(query.from_, "from")
            )
        if query.to:
            statement = statement.where(InboundMessage.received_at <= parse_time(query.to, "to"))
        statement = (
            statement.order_by(InboundMessage.received_at.desc(), InboundMessage.id)
            .offset(query.skip)
            .limit(query.limit)
        )
        with self._db.read() as session:
            rows = list(session.scalars(statement))
            email_ids = [m.email_id for m in rows if m.email_id]
            emails = (
                {
                    e.id: e
                    for e in session.scalars(
                        select(OutboundEmail).where(OutboundEmail.id.in_(email_ids))
                    )
                }
                if email_ids
                else {}
            )
            return [inbound_view(m, emails.get(m.email_id or "")) for m in rows]

    def balance(self, account_id: str) -> float:
        with self._db.read() as session:
            return to_credits(ledger.balance_milli(session, account_id))

    def _owned(self, session: Session, account_id: str, message_id: str) -> Message:
        message = session.get(Message, message_id)
        # Another account's message is answered exactly like a missing one: ids never leak.
        if message is None or message.account_id != account_id:
            raise NotFound("MESSAGE_NOT_FOUND", f"There is no message {message_id}.")
        return message


def _cancel(session: Session, messages: Sequence[Message], now: datetime) -> None:
    ids = [m.id for m in messages]
    session.execute(
        update(Message)
        .where(Message.id.in_(ids))
        .values(status=Status.DELETED.value, state=State.FINAL.value, modified=now)
    )
    for message in messages:
        ledger.credit(
            session,
            message.account_id,
            message.credits_milli,
            now,
            kind="refund",
            message_id=message.id,
            note="scheduled message cancelled",
        )


def _plus(number: str) -> str:
    number = number.strip()
    return number if number.startswith("+") else "+" + number.lstrip("0")


def _message_row(
    message_id: str,
    account_id: str,
    batch_id: str | None,
    common: Common,
    priced: Any,
    request: MessageIn | BatchIn,
    now: datetime,
) -> dict[str, Any]:
    ready_at = common.schedule or now
    return {
        "id": message_id,
        "account_id": account_id,
        "batch_id": batch_id,
        "sender": common.sender,
        "destination": priced.destination,
        "country": priced.country,
        "content": common.content,
        "tag": common.tag,
        "response_emails": common.response_emails,
        "conversation_id": None,
        "deliveryreporturl": common.deliveryreporturl,
        "metadata_json": request.metadata,
        "ttl": request.ttl,
        "validity_minutes": common.validity_minutes,
        "encoding": common.encoding,
        "segments": common.segments,
        "credits_milli": priced.credits_milli,
        "status": (Status.SCHEDULED if common.schedule else Status.ACCEPTED).value,
        "state": State.QUEUED.value,
        "ready_at": ready_at,
        "schedule": common.schedule,
        "attempts": 0,
        "created": now,
        "modified": now,
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def message_view(message: Message) -> dict[str, Any]:
    """A MessageResponse as SMS Works shapes it, plus the billing facts we know."""
    failure = None
    if message.failure_code is not None or message.failure_detail:
        failure = {
            "code": message.failure_code,
            "details": message.failure_detail,
            "permanent": bool(message.failure_permanent),
        }
    return {
        "messageid": message.id,
        "id": message.id,
        "batchid": message.batch_id,
        "customerid": message.account_id,
        "sender": message.sender,
        "destination": message.destination.lstrip("+"),
        "content": message.content,
        "tag": message.tag,
        "status": message.status,
        "schedule": _iso(message.schedule),
        "created": _iso(message.created),
        "modified": _iso(message.modified),
        "keyword": None,
        "failureReason": failure,
        "responseemail": list(message.response_emails or []),
        "deliveryreporturl": message.deliveryreporturl,
        "metadata": message.metadata_json,
        "validity": message.validity_minutes,
        "encoding": message.encoding,
        "segments": message.segments,
        "credits": to_credits(message.credits_milli),
        "country": message.country,
    }


def inbound_view(message: InboundMessage, email: OutboundEmail | None = None) -> dict[str, Any]:
    """An inbound SMS, with where it was emailed and how that went (queued/sent/failed)."""
    return {
        "messageid": message.id,
        "id": message.id,
        "customerid": message.account_id,
        "sender": message.sender.lstrip("+"),
        "destination": message.reply_number.lstrip("+"),
        "content": message.content,
        "keyword": message.keyword,
        "status": message.status,
        "created": _iso(message.received_at),
        "modified": _iso(message.received_at),
        "emailedto": list(message.emailed_to or []),
        "emailstatus": email.status if email is not None else None,
        "emailerror": email.last_error if email is not None else None,
    }
