"""The pool of Reply Numbers: the operator loads it, accounts are given numbers from it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select

from smsbridge.clock import Clock
from smsbridge.db.engine import Database
from smsbridge.db.models import Account, ReplyNumber
from smsbridge.errors import Invalid, NotFound, ServiceError
from smsbridge.numbers.phone import InvalidNumber, normalise_number


@dataclass(frozen=True)
class AddResult:
    added: list[str]
    already_present: list[str]


class NumberService:
    def __init__(
        self, db: Database, clock: Clock, home_region: str, quarantine_days: int = 30
    ) -> None:
        self._db = db
        self._clock = clock
        self._home_region = home_region
        self._quarantine = timedelta(days=quarantine_days)

    def add_to_pool(self, numbers: Iterable[str]) -> AddResult:
        clean: list[str] = []
        for raw in numbers:
            try:
                clean.append(normalise_number(raw, self._home_region).e164)
            except InvalidNumber as exc:
                raise Invalid(exc.code, f"Cannot add '{raw}' to the pool: {exc}") from exc
        added: list[str] = []
        present: list[str] = []
        now = self._clock.now()
        with self._db.write() as session:
            for number in dict.fromkeys(clean):
                if session.get(ReplyNumber, number) is not None:
                    present.append(number)
                    continue
                session.add(
                    ReplyNumber(
                        number=number,
                        account_id=None,
                        state="pool",
                        response_emails=[],
                        tags=[],
                        added_at=now,
                        assigned_at=None,
                        released_at=None,
                    )
                )
                added.append(number)
        return AddResult(added=added, already_present=present)

    def assign(self, account_id: str, number: str | None = None) -> ReplyNumber:
        """Give the account a number: the one named, or the oldest free one in the pool."""
        now = self._clock.now()
        with self._db.write() as session:
            if session.get(Account, account_id) is None:
                raise NotFound("ACCOUNT_NOT_FOUND", f"There is no account {account_id}.")
            # Free: never assigned, or released long enough ago that its old customers have
            # stopped texting it.
            statement = select(ReplyNumber).where(
                or_(
                    ReplyNumber.state == "pool",
                    and_(
                        ReplyNumber.state == "quarantine",
                        ReplyNumber.released_at <= now - self._quarantine,
                    ),
                )
            )
            if number is not None:
                try:
                    e164 = normalise_number(number, self._home_region).e164
                except InvalidNumber as exc:
                    raise Invalid(exc.code, str(exc)) from exc
                statement = statement.where(ReplyNumber.number == e164)
            row = session.scalars(
                statement.order_by(ReplyNumber.added_at, ReplyNumber.number)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                raise ServiceError(
                    409,
                    "POOL_EMPTY" if number is None else "NUMBER_NOT_AVAILABLE",
                    "No Reply Number is free in the pool; ask the operator to add some."
                    if number is None
                    else f"{number} is not a free number in the pool.",
                )
            row.account_id = account_id
            row.state = "assigned"
            row.assigned_at = now
            row.released_at = None
            row.response_emails, row.tags, row.authorised_senders = [], [], []
            row.copy_replies = True
            row.delivery_confirmations = False
            return row

    def get(self, account_id: str, number: str) -> ReplyNumber:
        e164 = self._normalise(number)
        with self._db.read() as session:
            row = session.get(ReplyNumber, e164)
        if row is None or row.account_id != account_id or row.state != "assigned":
            raise NotFound("NUMBER_NOT_FOUND", f"{number} is not a Reply Number of this account.")
        return row

    def update(self, account_id: str, number: str, changes: dict[str, Any]) -> ReplyNumber:
        """Set the default Response Email, tags, copy and confirmation settings or authorised
        senders."""
        from smsbridge.messages.validation import check_emails, check_tag

        e164 = self._normalise(number)
        clean: dict[str, Any] = {}
        if changes.get("response_emails") is not None:
            clean["response_emails"] = check_emails(list(changes["response_emails"]))
        if changes.get("tags") is not None:
            tags = [check_tag(str(t)) for t in changes["tags"]]
            if len(tags) > 20:
                raise Invalid("TOO_MANY_TAGS", "A Reply Number has at most 20 tags.")
            clean["tags"] = [t for t in tags if t]
        if changes.get("authorised_senders") is not None:
            clean["authorised_senders"] = [
                _check_sender_pattern(str(a)) for a in changes["authorised_senders"]
            ]
        if changes.get("copy_replies") is not None:
            clean["copy_replies"] = bool(changes["copy_replies"])
        if changes.get("delivery_confirmations") is not None:
            clean["delivery_confirmations"] = bool(changes["delivery_confirmations"])
        with self._db.write() as session:
            row = session.get(ReplyNumber, e164)
            if row is None or row.account_id != account_id or row.state != "assigned":
                raise NotFound(
                    "NUMBER_NOT_FOUND", f"{number} is not a Reply Number of this account."
                )
            for field, value in clean.items():
                setattr(row, field, value)
            return row

    def release(self, account_id: str, number: str) -> ReplyNumber:
        """Hand the number back: it rests in quarantine, then returns to the pool. Messages
        and conversations stay with the account; replies to old emails are refused."""
        e164 = self._normalise(number)
        with self._db.write() as session:
            row = session.get(ReplyNumber, e164)
            if row is None or row.account_id != account_id or row.state != "assigned":
                raise NotFound(
                    "NUMBER_NOT_FOUND", f"{number} is not a Reply Number of this account."
                )
            row.state = "quarantine"
            row.account_id = None
            row.released_at = self._clock.now()
            return row

    def _normalise(self, number: str) -> str:
        try:
            return normalise_number(number, self._home_region, require_mobile=False).e164
        except InvalidNumber as exc:
            raise NotFound("NUMBER_NOT_FOUND", f"'{number}' is not a phone number.") from exc

    def list_numbers(self, account_id: str | None = None) -> list[ReplyNumber]:
        statement = select(ReplyNumber).order_by(ReplyNumber.number)
        if account_id is not None:
            statement = statement.where(ReplyNumber.account_id == account_id)
        with self._db.read() as session:
            return list(session.scalars(statement))


_DOMAIN_PATTERN = re.compile(r"^@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


def _check_sender_pattern(value: str) -> str:
    """An authorised sender is an address, or `@domain` for everyone at a domain."""
    from smsbridge.messages.validation import check_emails

    value = value.strip()
    if len(value) <= 320 and _DOMAIN_PATTERN.match(value):
        return value.lower()
    return check_emails([value])[0]
