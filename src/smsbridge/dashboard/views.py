"""Read models for the pages: conversations, the message log and the operator's overview."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import parseaddr

from sqlalchemy import LargeBinary, Select, func, or_, select
from sqlalchemy.orm import Session

from smsbridge.credits.pricing import to_credits
from smsbridge.db.engine import Database
from smsbridge.db.models import (
    Account,
    Conversation,
    InboundEmail,
    InboundMessage,
    Message,
    ReplyNumber,
    SuppressionEvent,
    User,
)
from smsbridge.errors import Invalid
from smsbridge.messages.validation import parse_time

PAGE_SIZE = 50
# Enough of a refused email to read its headers, without loading a large attachment.
HEADER_BYTES = 64 * 1024
# Refusal reasons are stored as "CODE: sentence"; the page shows the sentence.
_REASON_CODE = re.compile(r"^[A-Z][A-Z0-9_]*: ")
# Where an SMS and a notice share a timestamp: what we sent, then what came in, then notices.
_ORDER = {"out": 0, "in": 1, "note": 2}


@dataclass(frozen=True)
class ThreadSummary:
    customer: str
    last_at: datetime
    last_text: str
    last_direction: str  # "in" or "out"
    tag: str | None


@dataclass(frozen=True)
class ThreadItem:
    direction: str  # "in", "out", or "note" (an email reply that was refused)
    at: datetime
    text: str
    status: str
    credits: float | None
    segments: int | None
    encoding: str | None
    id: str
    # An outbound SMS that an email reply became: who wrote that email.
    email_from: str | None = None
    # An inbound SMS that was an opt-out keyword: what it did ("opted out (STOP)").
    keyword_note: str | None = None


@dataclass(frozen=True)
class LogFilter:
    number: str = ""
    tag: str = ""
    status: str = ""
    date_from: str = ""
    date_to: str = ""


@dataclass(frozen=True)
class LogPage:
    rows: list[Message]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class AccountRow:
    id: str
    name: str
    balance: float
    numbers: int
    users: int
    created_at: datetime


def plus(number: str) -> str:
    digits = number.strip()
    return digits if digits.startswith("+") else "+" + digits


class DashboardViews:
    def __init__(self, db: Database) -> None:
        self._db = db

    def threads(self, account_id: str, number: str, limit: int = PAGE_SIZE) -> list[ThreadSummary]:
        """The customers this number has talked to, newest activity first."""
        out_last = (
            select(Message.destination, func.max(Message.created))
            .where(Message.account_id == account_id, Message.sender == number)
            .group_by(Message.destination)
        )
        in_last = (
            select(InboundMessage.sender, func.max(InboundMessage.received_at))
            .where(InboundMessage.account_id == account_id, InboundMessage.reply_number == number)
            .group_by(InboundMessage.sender)
        )
        with self._db.read() as session:
            latest: dict[str, datetime] = {}
            for customer, at in [*session.execute(out_last), *session.execute(in_last)]:
                # SQLite hands back aggregates as naive strings-turned-datetimes; compare in UTC.
                at = _aware(at)
                if customer not in latest or at > latest[customer]:
                    latest[customer] = at
            customers = sorted(latest, key=lambda c: latest[c], reverse=True)[:limit]
            summaries: list[ThreadSummary] = []
            for customer in customers:
                last_out = session.scalars(
                    select(Message)
                    .where(
                        Message.account_id == account_id,
                        Message.sender == number,
                        Message.destination == customer,
                    )
                    .order_by(Message.created.desc())
                    .limit(1)
                ).first()
                last_in = session.scalars(
                    select(InboundMessage)
                    .where(
                        InboundMessage.account_id == account_id,
                        InboundMessage.reply_number == number,
                        InboundMessage.sender == customer,
                    )
                    .order_by(InboundMessage.received_at.desc())
                    .limit(1)
                ).first()
                newer_in = last_out is None or (
                    last_in is not None and last_in.received_at >= last_out.created
                )
                if last_in is not None and newer_in:
                    text, direction, at = last_in.content, "in", last_in.received_at
                else:
                    assert last_out is not None
                    text, direction, at = last_out.content, "out", last_out.created
                summaries.append(
                    ThreadSummary(
                        customer=customer,
                        last_at=at,
                        last_text=text,
                        last_direction=direction,
                        tag=last_out.tag if last_out is not None else None,
                    )
                )
        return summaries

    def thread(self, account_id: str, number: str, customer: str) -> list[ThreadItem]:
        """Every SMS between the number and the customer, the email replies that became SMS
        and those that were refused, oldest first."""
        with self._db.read() as session:
            outbound = session.scalars(
                select(Message).where(
                    Message.account_id == account_id,
                    Message.sender == number,
                    Message.destination == customer,
                )
            )
            sources = self._email_sources(session, account_id, number, customer)
            items = [
                ThreadItem(
                    direction="out",
                    at=m.created,
                    text=m.content,
                    status=m.status,
                    credits=to_credits(m.credits_milli),
                    segments=m.segments,
                    encoding=m.encoding,
                    id=m.id,
                    email_from=sources.get(m.id),
                )
                for m in outbound
            ]
            inbound = session.scalars(
                select(InboundMessage).where(
                    InboundMessage.account_id == account_id,
                    InboundMessage.reply_number == number,
                    InboundMessage.sender == customer,
                )
            )
            inbound_rows = list(inbound)
            notes = self._keyword_notes(session, account_id, [m.id for m in inbound_rows])
            items += [
                ThreadItem(
                    direction="in",
                    at=m.received_at,
                    text=m.content,
                    status="RECEIVED",
                    credits=None,
                    segments=None,
                    encoding=None,
                    id=m.id,
                    keyword_note=notes.get(m.id),
                )
                for m in inbound_rows
            ]
            items += self._refused_emails(session, account_id, number, customer)
        return sorted(items, key=lambda i: (i.at, _ORDER.get(i.direction, 9), i.id))

    def _keyword_notes(
        self, session: Session, account_id: str, inbound_ids: list[str]
    ) -> dict[str, str]:
        """Inbound SMS id -> what its keyword did, from the opt-out audit trail."""
        if not inbound_ids:
            return {}
        words = {"opted_out": "opted out", "opted_in": "opted back in"}
        rows = session.execute(
            select(
                SuppressionEvent.inbound_message_id,
                SuppressionEvent.action,
                SuppressionEvent.keyword,
            ).where(
                SuppressionEvent.account_id == account_id,
                SuppressionEvent.inbound_message_id.in_(inbound_ids),
            )
        )
        return {
            str(row.inbound_message_id): f"The customer {words.get(row.action, row.action)} "
            f"({row.keyword})"
            for row in rows
        }

    def _email_sources(
        self, session: Session, account_id: str, number: str, customer: str
    ) -> dict[str, str]:
        """Outbound message id -> the address of the email reply it was sent for."""
        rows = session.execute(
            select(InboundEmail.message_id, InboundEmail.from_address, InboundEmail.envelope_sender)
            .join(Message, Message.id == InboundEmail.message_id)
            .where(
                # Both sides the viewer's account: an email is never shown on another's SMS.
                InboundEmail.account_id == account_id,
                Message.account_id == account_id,
                Message.sender == number,
                Message.destination == customer,
            )
        )
        return {
            str(row.message_id): row.from_address or row.envelope_sender or "an unknown sender"
            for row in rows
        }

    def _refused_emails(
        self, session: Session, account_id: str, number: str, customer: str
    ) -> list[ThreadItem]:
        """Email replies to this conversation that were refused, as notices."""
        conversation_id = session.scalar(
            select(Conversation.id).where(
                Conversation.account_id == account_id,
                Conversation.reply_number == number,
                Conversation.customer == customer,
            )
        )
        if conversation_id is None:
            return []
        rows = list(
            session.execute(
                select(
                    InboundEmail.id,
                    InboundEmail.from_address,
                    InboundEmail.envelope_sender,
                    InboundEmail.reason,
                    InboundEmail.received_at,
                ).where(
                    InboundEmail.conversation_id == conversation_id,
                    InboundEmail.status == "refused",
                    # A row naming another account is not this conversation's, whatever
                    # its conversation id says.
                    or_(InboundEmail.account_id == account_id, InboundEmail.account_id.is_(None)),
                )
            )
        )
        # Without a recorded From address, read it from the email's own headers.
        unnamed = [row.id for row in rows if not row.from_address]
        headers: dict[str, str] = {}
        if unnamed:
            start = func.substr(InboundEmail.raw, 1, HEADER_BYTES, type_=LargeBinary)
            for email_id, raw in session.execute(
                select(InboundEmail.id, start).where(InboundEmail.id.in_(unnamed))
            ):
                address = _from_header(bytes(raw or b""))
                if address:
                    headers[str(email_id)] = address
        return [
            ThreadItem(
                direction="note",
                at=row.received_at,
                text=_REASON_CODE.sub("", row.reason or "").strip() or "no reason was recorded",
                status="REFUSED",
                credits=None,
                segments=None,
                encoding=None,
                id=row.id,
                email_from=(
                    row.from_address
                    or headers.get(row.id)
                    or row.envelope_sender
                    or "an unknown sender"
                ),
            )
            for row in rows
        ]

    def _log_statement(self, account_id: str, where: LogFilter) -> Select[Message]:
        statement = select(Message).where(Message.account_id == account_id)
        if where.number.strip():
            number = plus(where.number.replace(" ", ""))
            statement = statement.where(
                or_(Message.sender == number, Message.destination == number)
            )
        if where.tag.strip():
            statement = statement.where(Message.tag == where.tag.strip())
        if where.status.strip():
            statement = statement.where(Message.status == where.status.strip().upper())
        if where.date_from.strip():
            statement = statement.where(Message.created >= _day(where.date_from, "from"))
        if where.date_to.strip():
            # A date "to" means the whole of that day.
            end = _day(where.date_to, "to")
            if len(where.date_to.strip()) == 10:
                end = end.replace(hour=23, minute=59, second=59, microsecond=999999)
            statement = statement.where(Message.created <= end)
        return statement

    def log(self, account_id: str, where: LogFilter, page: int) -> LogPage:
        statement = self._log_statement(account_id, where)
        with self._db.read() as session:
            total = int(session.scalar(select(func.count()).select_from(statement.subquery())) or 0)
            pages = max(1, -(-total // PAGE_SIZE))
            page = min(max(1, page), pages)
            rows = list(
                session.scalars(
                    statement.order_by(Message.created.desc(), Message.id)
                    .offset((page - 1) * PAGE_SIZE)
                    .limit(PAGE_SIZE)
                )
            )
        return LogPage(rows=rows, total=total, page=page, pages=pages)

    def log_rows(self, account_id: str, where: LogFilter) -> Iterator[Message]:
        statement = self._log_statement(account_id, where).order_by(
            Message.created.desc(), Message.id
        )
        with self._db.read() as session:
            rows = list(session.scalars(statement.limit(100_000)))
        yield from rows

    def accounts(self) -> list[AccountRow]:
        with self._db.read() as session:
            numbers = {
                owner: count
                for owner, count in session.execute(
                    select(ReplyNumber.account_id, func.count())
                    .where(ReplyNumber.state == "assigned")
                    .group_by(ReplyNumber.account_id)
                )
            }
            users = {
                owner: count
                for owner, count in session.execute(
                    select(User.account_id, func.count()).group_by(User.account_id)
                )
            }
            return [
                AccountRow(
                    id=a.id,
                    name=a.name,
                    balance=to_credits(a.balance_milli),
                    numbers=int(numbers.get(a.id, 0)),
                    users=int(users.get(a.id, 0)),
                    created_at=a.created_at,
                )
                for a in session.scalars(select(Account).order_by(Account.name))
            ]

    def pool(self) -> dict[str, int]:
        with self._db.read() as session:
            return {
                str(state): int(count)
                for state, count in session.execute(
                    select(ReplyNumber.state, func.count()).group_by(ReplyNumber.state)
                )
            }


def _from_header(raw: bytes) -> str | None:
    """The address in an email's From header, or None when it has no readable one."""
    try:
        message = BytesHeaderParser(policy=default_policy).parsebytes(raw)
        _name, address = parseaddr(str(message.get("From", "")))
    except Exception:  # a malformed header is no reason to fail the page
        return None
    return address if "@" in address else None


def _aware(value: datetime | str) -> datetime:
    from datetime import UTC

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _day(value: str, field: str) -> datetime:
    try:
        return parse_time(value, field)
    except Invalid as exc:
        raise Invalid("INVALID_DATE", f"'{value}' is not a date like 2026-12-01.") from exc
