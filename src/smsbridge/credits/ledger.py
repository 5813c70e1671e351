"""Ledger operations, run inside the caller's transaction: a debit commits with its message."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from smsbridge.db.models import Account, CreditEntry
from smsbridge.errors import NotFound, ServiceError


class InsufficientCredit(ServiceError):
    def __init__(self, needed_milli: int, balance_milli: int) -> None:
        super().__init__(
            402,
            "INSUFFICIENT_CREDIT",
            f"This costs {needed_milli / 1000:g} credits but the account has "
            f"{balance_milli / 1000:g}. Nothing was sent; add credit and try again.",
        )


def balance_milli(session: Session, account_id: str) -> int:
    value = session.scalar(select(Account.balance_milli).where(Account.id == account_id))
    if value is None:
        raise NotFound("ACCOUNT_NOT_FOUND", f"There is no account {account_id}.")
    return int(value)


def debit(
    session: Session,
    account_id: str,
    amount_milli: int,
    now: datetime,
    *,
    message_id: str | None = None,
    batch_id: str | None = None,
) -> None:
    """Take credits or raise InsufficientCredit; the balance never goes below zero.

    The check and the subtraction are one UPDATE, so two concurrent sends on PostgreSQL cannot
    both pass the check with money for only one of them.
    """
    if amount_milli <= 0:
        return
    result = session.execute(
        update(Account)
        .where(Account.id == account_id, Account.balance_milli >= amount_milli)
        .values(balance_milli=Account.balance_milli - amount_milli)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise InsufficientCredit(amount_milli, balance_milli(session, account_id))
    session.execute(
        insert(CreditEntry).values(
            account_id=account_id,
            amount_milli=-amount_milli,
            kind="send",
            message_id=message_id,
            batch_id=batch_id,
            created_at=now,
        )
    )


def credit(
    session: Session,
    account_id: str,
    amount_milli: int,
    now: datetime,
    *,
    kind: str,
    message_id: str | None = None,
    batch_id: str | None = None,
    note: str | None = None,
) -> None:
    """Add credits (a top-up, or a refund of a message that failed for good)."""
    result = session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(balance_milli=Account.balance_milli + amount_milli)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("ACCOUNT_NOT_FOUND", f"There is no account {account_id}.")
    session.execute(
        insert(CreditEntry).values(
            account_id=account_id,
            amount_milli=amount_milli,
            kind=kind,
            message_id=message_id,
            batch_id=batch_id,
            note=note,
            created_at=now,
        )
    )
