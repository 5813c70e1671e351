"""The pool of Reply Numbers: the operator loads it, accounts are given numbers from it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

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
    def __init__(self, db: Database, clock: Clock, home_region: str) -> None:
        self._db = db
        self._clock = clock
        self._home_region = home_region

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
            statement = select(ReplyNumber).where(ReplyNumber.state == "pool")
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
            return row

    def list_numbers(self, account_id: str | None = None) -> list[ReplyNumber]:
        statement = select(ReplyNumber).order_by(ReplyNumber.number)
        if account_id is not None:
            statement = statement.where(ReplyNumber.account_id == account_id)
        with self._db.read() as session:
            return list(session.scalars(statement))
