"""Send-API actions: validate, price, debit and queue messages in one transaction each."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smsbridge.boundary import clean_text, repaired_json, text_problem
from smsbridge.clock import Clock
from smsbridge.credits import ledger
from smsbridge.credits.pricing import MILLI, RateTable, to_credits
from smsbridge.db.engine import MESSAGES_QUEUED, Database, announce_after_commit
from smsbridge.db.models import (
    Account,
    Batch,
    IdempotencyKey,
    InboundMessage,
    Message,
    OutboundEmail,
    ReplyNumber,
)
from smsbridge.errors import Invalid, NotFound, ServiceError, error_code
from smsbridge.ids import new_id
from smsbridge.messages import wire
from smsbridge.messages.schemas import BatchIn, MessageIn, QueryIn
from smsbridge.messages.status import FAILED_STATUSES, State, Status
from smsbridge.messages.validation import (
    Common,
    Policy,
    check_common,
    parse_time,
    price_destination,
)
from smsbridge.numbers.phone import e164_or_as_written
from smsbridge.settings import Settings

# The word a send answers with, as The SMS Works does: the message is on its way. Its record
# then shows where it really is (ACCEPTED until the carrier takes it).
SENT_WORD = "SENT"
# GET /messages/schedule covers messages scheduled in the last three months and ahead.
SCHEDULE_LOOKBACK = timedelta(days=92)


class SuppressionCheck(Protocol):
    """The opt-out list, as sends consult it (smsbridge.optout implements it)."""

    def blocked(
        self, session: Session, account_id: str, sender: str, destinations: Collection[str]
    ) -> dict[str, str]:
        """The destinations `sender` may not text, each with a sentence saying why."""
        ...


def opted_out(why: str) -> ServiceError:
    return ServiceError(
        403,
        "DESTINATION_OPTED_OUT",
        f"{why}; nothing was sent and nothing was charged. The customer can opt back in by "
        "texting START.",
    )


def latest_outbound(
    session: Session, account_id: str, sender: str, destination: str, limit: int = 1
) -> list[Message]:
    """The account's latest SMS from `sender` to `destination`, newest first: where a
    conversation's Response Email and tag come from, and its outbound history."""
    return list(
        session.scalars(
            select(Message)
            .where(
                Message.account_id == account_id,
                Message.sender == sender,
                Message.destination == destination,
            )
            .order_by(Message.created.desc())
            .limit(limit)
        )
    )


class MessageService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: Settings,
        rates: RateTable,
        suppressions: SuppressionCheck | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._settings = settings
        self._rates = rates
        self._suppressions = suppressions
        self.zone = ZoneInfo(settings.api.timezone)
        self.max_page_bytes = settings.api.max_page_bytes

    # -- sending ---------------------------------------------------------------------------

    def send(
        self,
        account_id: str,
        request: MessageIn,
        *,
        scheduled: bool = False,
        flash: bool = False,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Queue one message (POST /message/send, /message/schedule, /message/flash)."""
        if scheduled and not request.schedule:
            raise Invalid("MISSING_SCHEDULE", "A scheduled message needs a schedule date-time.")

        def act(session: Session, now: datetime) -> dict[str, Any]:
            return self.queue_in(session, account_id, request, now, flash=flash)

        kind = "flash" if flash else "message"
        return self._idempotent(account_id, idempotency_key, kind, request, act)

    def queue_in(
        self,
        session: Session,
        account_id: str,
        request: MessageIn,
        now: datetime,
        *,
        conversation_id: str | None = None,
        max_segments: int | None = None,
        flash: bool = False,
        exempt: bool = False,
        charge: bool = True,
    ) -> dict[str, Any]:
        """Check, price, debit and queue one message inside the caller's transaction.

        `exempt` skips the opt-out list (the confirmation of an opt-out itself, and OTPs where
        the operator allows it); `charge=False` sends at no cost (automatic replies, if the
        operator says so).
        """
        policy = self._policy(session, account_id)
        common = self._common(request, policy, now)
        if max_segments is not None and common.segments > max_segments:
            raise Invalid(
                "TOO_MANY_SEGMENTS",
                f"The text needs {common.segments} SMS segments; the most is {max_segments}.",
            )
        priced = price_destination(request.destination, common, policy)
        if not exempt:
            # Before the debit: a refused send is never charged, not even for a moment.
            blocked = self.blocked(session, account_id, common.sender, [priced.destination])
            if priced.destination in blocked:
                raise opted_out(blocked[priced.destination])
        if not charge:
            priced = dataclasses.replace(priced, credits_milli=0)
        message_id = new_id()
        ledger.debit(session, account_id, priced.credits_milli, now, message_id=message_id)
        row = _message_row(message_id, account_id, None, common, priced, request, now)
        row["conversation_id"] = conversation_id
        row["flash"] = flash
        session.execute(insert(Message), [row])
        announce_after_commit(session, MESSAGES_QUEUED)
        return {
            "messageid": message_id,
            "status": Status.SCHEDULED.value if common.schedule is not None else SENT_WORD,
            "credits": to_credits(ledger.balance_milli(session, account_id)),
            "creditsUsed": to_credits(priced.credits_milli),
            "messageparts": common.segments,
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
                error_code(first["code"]).http_status,
                first["code"],
                f"{len(problems)} of {len(items)} destinations were refused "
                f"(first: {first['message']}) and nothing was sent.",
                details=problems[:100],
            )
        # Opted-out customers are the exception to all-or-nothing: a campaign must still reach
        # everyone else, and the answer names each one left out, so nothing is a guess.
        refused = self._opted_out_of(session, account_id, rows)
        if refused:
            left_out = {int(x["index"]) for x in refused}
            rows = [r for i, r in enumerate(rows) if i not in left_out]
            if not rows:
                raise ServiceError(
                    403,
                    "DESTINATION_OPTED_OUT",
                    f"Every destination of the batch ({len(refused)}) opted out; nothing was "
                    "sent and nothing was charged.",
                    details=refused[:100],
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
        announce_after_commit(session, MESSAGES_QUEUED)
        answer: dict[str, Any] = {
            "batchid": batch_id,
            "status": Status.SCHEDULED.value if schedule is not None else SENT_WORD,
            "credits": to_credits(ledger.balance_milli(session, account_id)),
            "creditsUsed": to_credits(total),
        }
        if refused:
            answer["refused"] = refused
        return answer

    def blocked(
        self, session: Session, account_id: str, sender: str, destinations: Sequence[str]
    ) -> dict[str, str]:
        """The destinations the opt-out list stops `sender` texting, with why."""
        if self._suppressions is None:
            return {}
        return self._suppressions.blocked(session, account_id, sender, destinations)

    def _opted_out_of(
        self, session: Session, account_id: str, rows: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The rows of a batch whose destination opted out of their sender, as the answer's
        `refused` entries (index in the rows, destination, code, message)."""
        by_sender: dict[str, list[str]] = {}
        for row in rows:
            by_sender.setdefault(str(row["sender"]), []).append(str(row["destination"]))
        blocked = {
            sender: self.blocked(session, account_id, sender, destinations)
            for sender, destinations in by_sender.items()
        }
        refused: list[dict[str, Any]] = []
        for index, row in enumerate(rows):
            why = blocked[str(row["sender"])].get(str(row["destination"]))
            if why is not None:
                error = opted_out(why)
                refused.append(
                    {
                        "index": index,
                        "destination": wire.digits(str(row["destination"])),
                        "code": error.code,
                        "message": error.message,
                    }
                )
        return refused

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
        if not 1 <= len(key) <= 255 or text_problem(key) is not None:
            raise Invalid(
                "INVALID_IDEMPOTENCY_KEY", "An Idempotency-Key is 1-255 printable characters."
            )
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
                            status_code=201,
                            response=response,
                            created_at=now,
                        )
                    )
                    return response
            except IntegrityError:
                # Two requests with one key raced on PostgreSQL; the loser reads the winner's.
                continue
        raise ServiceError(409, "IDEMPOTENCY_CONFLICT", "A request with this key is in progress.")

    # -- cancelling and deleting -----------------------------------------------------------

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
        # The document's CancelledMessageResponse names the id `messageid`, batch or not.
        return {
            "messageid": batch_id,
            "batchid": batch_id,
            "status": "CANCELLED",
            "cancelled": len(messages),
        }

    def delete(self, account_id: str, message_id: str) -> dict[str, Any]:
        """DELETE /messages/{id}: take a message out of the account's log.

        A message not yet handed to the carrier is also cancelled and refunded. One already
        with the carrier may still arrive: we keep following it (a failure is still refunded),
        but its text, addresses and metadata are erased and it is no longer listed.
        """
        now = self._clock.now()
        with self._db.write() as session:
            message = session.get(Message, message_id)
            if message is not None and message.account_id == account_id:
                if message.deleted_at is not None:
                    raise _missing(message_id)
                if message.state == State.QUEUED:
                    _cancel(session, [message], now)
                session.execute(
                    update(Message)
                    .where(Message.id == message_id)
                    .values(
                        deleted_at=now,
                        content="",
                        metadata_json=None,
                        response_emails=[],
                        modified=now,
                    )
                )
                return {"messageid": message_id, "status": Status.DELETED.value}
            inbound = session.get(InboundMessage, message_id)
            if inbound is None or inbound.account_id != account_id or inbound.deleted_at:
                raise _missing(message_id)
            inbound.deleted_at, inbound.content = now, ""
            return {"messageid": message_id, "status": Status.DELETED.value}

    # -- reading ---------------------------------------------------------------------------

    def get(self, account_id: str, message_id: str) -> dict[str, Any]:
        """One message of the account's log: outbound, or an inbound SMS by its id."""
        with self._db.read() as session:
            message = session.get(Message, message_id)
            if message is not None and message.account_id == account_id:
                if message.deleted_at is None:
                    return message_record(message, self.zone)
                raise _missing(message_id)
            inbound = session.get(InboundMessage, message_id)
            if inbound is not None and inbound.account_id == account_id and not inbound.deleted_at:
                return inbound_record(inbound, self.zone)
            raise _missing(message_id)

    def get_batch(self, account_id: str, batch_id: str) -> list[dict[str, Any]]:
        with self._db.read() as session:
            batch = session.get(Batch, batch_id)
            if batch is None or batch.account_id != account_id:
                raise NotFound("BATCH_NOT_FOUND", f"There is no batch {batch_id}.")
            rows = session.scalars(
                select(Message)
                .where(Message.batch_id == batch_id, Message.deleted_at.is_(None))
                .order_by(Message.created)
            )
            return [message_record(m, self.zone) for m in rows]

    def search(
        self, account_id: str, query: QueryIn, *, failed_only: bool = False
    ) -> list[dict[str, Any]]:
        """POST /messages and /messages/failed: outbound messages, newest first. A query for
        status INCOMING is a search of the inbox, as The SMS Works' statuses suggest."""
        _check_filters(query)
        if not failed_only and (query.status or "").upper() == "INCOMING":
            return self.inbox(account_id, query)
        statement: Select[Message] = select(Message).where(
            Message.account_id == account_id, Message.deleted_at.is_(None)
        )
        if failed_only:
            statement = statement.where(Message.status.in_([s.value for s in FAILED_STATUSES]))
        if query.status:
            statement = statement.where(Message.status == query.status.upper())
        if query.destination:
            statement = statement.where(Message.destination == self._number(query.destination))
        if query.sender:
            statement = statement.where(Message.sender == self._sender(query.sender))
        if query.tag:
            statement = statement.where(Message.tag == query.tag)
        if query.keyword:
            return []  # outbound messages have no keyword
        if query.credits is not None:
            statement = statement.where(Message.credits_milli == round(query.credits * MILLI))
        if query.from_:
            statement = statement.where(Message.created >= parse_time(query.from_, "from"))
        if query.to:
            statement = statement.where(Message.created <= parse_time(query.to, "to"))
        pairs = metadata_pairs(query.metadata)
        if pairs:
            statement = statement.where(
                *(_metadata_has(self._db.is_sqlite, key, value) for key, value in pairs)
            )
        statement = (
            statement.order_by(Message.created.desc(), Message.id)
            .offset(query.skip)
            .limit(query.limit)
        )
        with self._db.read() as session:
            return [message_record(m, self.zone) for m in session.scalars(statement)]

    def inbox(self, account_id: str, query: QueryIn) -> list[dict[str, Any]]:
        _check_filters(query)
        statement: Select[InboundMessage] = select(InboundMessage).where(
            InboundMessage.account_id == account_id, InboundMessage.deleted_at.is_(None)
        )
        if query.sender:
            statement = statement.where(InboundMessage.sender == self._number(query.sender))
        if query.destination:
            statement = statement.where(
                InboundMessage.reply_number == self._number(query.destination)
            )
        if query.keyword:
            statement = statement.where(InboundMessage.keyword == query.keyword.upper())
        if query.unread is not None:
            statement = statement.where(
                (InboundMessage.status == "UNREAD")
                if query.unread
                else (InboundMessage.status != "UNREAD")
            )
        if query.metadata is not None and metadata_pairs(query.metadata):
            return []  # inbound SMS carry no metadata
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
            return [inbound_record(m, self.zone, emails.get(m.email_id or "")) for m in rows]

    def scheduled(self, account_id: str) -> dict[str, Any]:
        """GET /messages/schedule: single messages and batches scheduled in the last three
        months or for the future, newest schedule first."""
        since = self._clock.now() - SCHEDULE_LOOKBACK
        with self._db.read() as session:
            singles = list(
                session.scalars(
                    select(Message)
                    .where(
                        Message.account_id == account_id,
                        Message.batch_id.is_(None),
                        Message.schedule.is_not(None),
                        Message.schedule >= since,
                        Message.deleted_at.is_(None),
                    )
                    .order_by(Message.schedule.desc())
                    .limit(1000)
                )
            )
            batches = list(
                session.scalars(
                    select(Batch)
                    .where(
                        Batch.account_id == account_id,
                        Batch.schedule.is_not(None),
                        Batch.schedule >= since,
                    )
                    .order_by(Batch.schedule.desc())
                    .limit(1000)
                )
            )
            items: list[tuple[datetime, dict[str, Any]]] = [
                (m.schedule or m.created, _scheduled_single(m)) for m in singles
            ]
            for batch in batches:
                messages = list(
                    session.scalars(select(Message).where(Message.batch_id == batch.id))
                )
                if messages:
                    items.append(
                        (batch.schedule or batch.created_at, _scheduled_batch(batch, messages))
                    )
        items.sort(key=lambda item: item[0], reverse=True)
        listed = [item for _when, item in items]
        newest = dict(listed[0]) if listed else {}
        return {**newest, "scheduled": listed}

    def balance(self, account_id: str) -> float:
        with self._db.read() as session:
            return to_credits(ledger.balance_milli(session, account_id))

    def _number(self, raw: str) -> str:
        """A number in a filter, however it is written (447..., +447..., 07...), as stored."""
        return e164_or_as_written(raw, self._settings.billing.home_region)

    def _sender(self, raw: str) -> str:
        text = raw.strip()
        return self._number(text) if text.lstrip("+").replace(" ", "").isdigit() else text

    def _owned(self, session: Session, account_id: str, message_id: str) -> Message:
        message = session.get(Message, message_id)
        # Another account's message is answered exactly like a missing one: ids never leak.
        if message is None or message.account_id != account_id or message.deleted_at:
            raise _missing(message_id)
        return message


_FILTER_FIELDS = ("status", "destination", "sender", "keyword", "tag", "from_", "to")


def _check_filters(query: QueryIn) -> None:
    """Search text goes into SQL: it must be text the database can compare (PostgreSQL
    refuses a NUL outright), and of a length a stored value could have."""
    for name in _FILTER_FIELDS:
        value = getattr(query, name)
        if value is None:
            continue
        field = name.rstrip("_")
        problem = text_problem(value)
        if problem is not None:
            raise Invalid("INVALID_TEXT", f"'{field}' holds {problem}.")
        if len(value) > 320:
            raise Invalid("INVALID_FIELD", f"'{field}' is longer than any stored value.")


def _missing(message_id: str) -> NotFound:
    return NotFound("MESSAGE_NOT_FOUND", f"There is no message {message_id}.")


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


def metadata_pairs(metadata: Any) -> list[tuple[str, str]]:
    """The key/value pairs a metadata filter asks for, in any of the shapes clients send:
    the document's example (a list of {key, value}), a generated client's {"schema": {key,
    value}}, one {key, value}, or a plain object."""
    if metadata is None:
        return []
    items: list[Any]
    if isinstance(metadata, list):
        items = metadata
    elif isinstance(metadata, dict) and isinstance(metadata.get("schema"), dict):
        items = [metadata["schema"]]
    elif isinstance(metadata, dict) and "key" in metadata:
        items = [metadata]
    elif isinstance(metadata, dict):
        items = [{"key": k, "value": v} for k, v in metadata.items()]
    else:
        raise Invalid("INVALID_METADATA", "metadata in a search is a list of {key, value}.")
    pairs: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise Invalid("INVALID_METADATA", 'Each metadata filter is {"key": ..., "value": ...}.')
        value = item.get("value")
        pairs.append((item["key"], value if isinstance(value, str) else json.dumps(value)))
    return pairs[:20]


def _metadata_has(is_sqlite: bool, key: str, value: str) -> ColumnElement[bool]:
    """SQL for "the message's metadata holds key=value", as a {key, value} list entry or an
    object member. JSON functions differ by database; both forms are matched on both."""
    column = Message.__table__.c.metadata
    if is_sqlite:
        entry = func.json_each(column).table_valued("value", "type").alias("entry")

        def member(path: str) -> Any:
            # CASE, not AND: SQLite may evaluate either side of an AND first, and
            # json_extract on an entry that is not an object is an error, not NULL.
            return case((entry.c.type == "object", func.json_extract(entry.c.value, path)))

        as_list = exists(
            select(1)
            .select_from(entry)
            .where(member("$.key") == key, func.coalesce(member("$.value"), "") == value)
        )
        as_object = func.json_extract(column, f'$."{_json_path_key(key)}"') == value
        return or_(as_list, and_(func.json_type(column) == "object", as_object))
    document = func.cast(column, _jsonb())
    entry_pattern = func.jsonb_build_array(func.jsonb_build_object("key", key, "value", value))
    in_list = document.op("@>")(entry_pattern)
    in_object = document.op("->>")(key) == value
    return or_(in_list, and_(func.jsonb_typeof(document) == "object", in_object))


def _jsonb() -> Any:
    from sqlalchemy.dialects.postgresql import JSONB

    return JSONB


def _json_path_key(key: str) -> str:
    return key.replace("\\", "\\\\").replace('"', '\\"')


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
        "flash": False,
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


def message_record(message: Message, zone: ZoneInfo) -> dict[str, Any]:
    """A MessageResponse as The SMS Works' document shapes it, plus the facts we know."""
    failure = None
    if message.failure_code is not None or message.failure_detail:
        failure = wire.drop_empty(
            {
                "code": message.failure_code,
                "details": message.failure_detail,
                "permanent": bool(message.failure_permanent),
            },
            "code",
            "details",
        )
    record = {
        "messageid": message.id,
        "id": message.id,
        "batchid": message.batch_id,
        "customerid": message.account_id,
        "sender": wire.digits(message.sender),
        "destination": wire.number_value(message.destination),
        "identifier": wire.national_identifier(message.destination),
        "content": clean_text(message.content),
        "tag": clean_text(message.tag or ""),
        "status": message.status,
        "schedule": wire.js_date(message.schedule, zone),
        "created": wire.js_date(message.created, zone),
        "modified": wire.js_date(message.modified, zone),
        "failurereason": failure,
        "deliveryreporturl": message.deliveryreporturl,
        # smsbridge additions:
        "responseemail": list(message.response_emails or []),
        # Repaired, not trusted: a row stored before the input boundary must not break a read.
        "metadata": repaired_json(message.metadata_json),
        "validity": message.validity_minutes,
        "flash": bool(message.flash),
        "encoding": message.encoding,
        "segments": message.segments,
        "credits": to_credits(message.credits_milli),
        "country": message.country,
    }
    return wire.drop_empty(record, "batchid", "failurereason", "deliveryreporturl")


def inbound_record(
    message: InboundMessage, zone: ZoneInfo, email: OutboundEmail | None = None
) -> dict[str, Any]:
    """An inbound SMS as a MessageResponse (status INCOMING), with where it was emailed and
    how that went (queued/sent/failed)."""
    record = {
        "messageid": message.id,
        "id": message.id,
        "customerid": message.account_id,
        "sender": wire.digits(message.sender),
        "destination": wire.number_value(message.reply_number),
        "identifier": wire.national_identifier(message.sender),
        "content": clean_text(message.content),
        "keyword": message.keyword,
        "tag": "",
        "status": "INCOMING",
        "schedule": "",
        "created": wire.js_date(message.received_at, zone),
        "modified": wire.js_date(message.received_at, zone),
        # smsbridge additions:
        "unread": message.status == "UNREAD",
        "emailedto": list(message.emailed_to or []),
        "emailstatus": email.status if email is not None else None,
        "emailerror": email.last_error if email is not None else None,
    }
    return wire.drop_empty(record, "keyword")


def _iso_millis(when: datetime | None) -> str:
    # The document's example of a scheduled message's date: 2021-10-28T13:10:00.000Z.
    if when is None:
        return ""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _schedule_status(messages: Sequence[Message]) -> str:
    if all(m.status == Status.DELETED for m in messages):
        return "CANCELLED"
    if any(m.state == State.QUEUED and m.status == Status.SCHEDULED for m in messages):
        return "SCHEDULED"
    return "PROCESSED"


def _scheduled_single(message: Message) -> dict[str, Any]:
    return {
        "status": _schedule_status([message]),
        "id": message.id,
        "batch": False,
        "message": {
            "sender": wire.digits(message.sender),
            "destination": wire.digits(message.destination),
            "content": message.content,
            "schedule": _iso_millis(message.schedule),
        },
    }


def _scheduled_batch(batch: Batch, messages: Sequence[Message]) -> dict[str, Any]:
    first = messages[0]
    return {
        "status": _schedule_status(messages),
        "id": batch.id,
        "batch": True,
        "message": {
            "sender": wire.digits(first.sender),
            "destinations": [wire.digits(m.destination) for m in messages],
            "content": first.content,
            "schedule": _iso_millis(batch.schedule),
        },
    }
