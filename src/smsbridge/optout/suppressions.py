"""The suppression list as every send path reads it: which destinations a sender may not text."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from smsbridge.db.models import Suppression
from smsbridge.optout.imports import ANY_NUMBER


class SuppressionList:
    """Looks entries up inside the caller's transaction, so a refusal and the send it stops
    see the same list (the message service and the pipeline both call it)."""

    def blocked(
        self, session: Session, account_id: str, sender: str, destinations: Collection[str]
    ) -> dict[str, str]:
        """The destinations `sender` may not text, each with a sentence saying why.

        An entry for the sender's own number (a STOP sent to that Reply Number) or for every
        sender of the account blocks; one for another Reply Number does not.
        """
        wanted = sorted(set(destinations))
        if not wanted:
            return {}
        found: dict[str, str] = {}
        # Chunks keep the IN list well under SQLite's and PostgreSQL's parameter limits.
        for start in range(0, len(wanted), 500):
            rows = session.scalars(
                select(Suppression).where(
                    Suppression.account_id == account_id,
                    Suppression.customer.in_(wanted[start : start + 500]),
                    Suppression.reply_number.in_([sender, ANY_NUMBER]),
                )
            )
            for row in rows:
                found.setdefault(row.customer, _why(row))
        return found


def _why(row: Suppression) -> str:
    where = "this account" if row.reply_number == ANY_NUMBER else row.reply_number
    if row.source == "keyword" and row.keyword:
        return f"{row.customer} opted out of messages from {where} (they texted {row.keyword})"
    return f"{row.customer} is on the opt-out list for {where}"
