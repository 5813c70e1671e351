"""Inbound SMS: store first (before anything else happens), exactly once per carrier id."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smsbridge.boundary import clean_text
from smsbridge.carriers.base import InboundSms
from smsbridge.clock import Clock
from smsbridge.db.engine import Database
from smsbridge.db.models import InboundMessage, ReplyNumber
from smsbridge.ids import new_id

# Called in the storing transaction, so routing (e.g. queueing the forwarded email) commits
# with the SMS or not at all.
OnStored = Callable[[Session, InboundMessage], None]


class InboundService:
    def __init__(self, db: Database, clock: Clock, on_stored: OnStored | None = None) -> None:
        self._db = db
        self._clock = clock
        self._on_stored = on_stored

    def receive(self, sms: InboundSms) -> str:
        """Commit the SMS and return its id; a redelivery of the same carrier id is a no-op."""
        # What a carrier delivered is kept, never refused: characters no database or email can
        # hold (a NUL from a broken encoding) become U+FFFD instead.
        sms = dataclasses.replace(
            sms,
            content=clean_text(sms.content),
            sender=clean_text(sms.sender)[:20],
            carrier_ref=clean_text(sms.carrier_ref)[:64],
        )
        try:
            with self._db.write() as session:
                existing = session.scalar(
                    select(InboundMessage.id).where(InboundMessage.carrier_ref == sms.carrier_ref)
                )
                if existing is not None:
                    return existing
                holder = session.scalar(
                    select(ReplyNumber.account_id).where(
                        ReplyNumber.number == sms.recipient, ReplyNumber.state == "assigned"
                    )
                )
                # The keyword is the first word, as SMS Works reports it: letters and digits.
                words = [w for w in (re.sub(r"\W", "", w) for w in sms.content.split()) if w]
                message = InboundMessage(
                    id=new_id(),
                    # None: a number nobody holds. Kept (and visible to operators), never lost.
                    account_id=holder,
                    reply_number=sms.recipient,
                    sender=sms.sender,
                    content=sms.content,
                    keyword=words[0].upper()[:50] if words else None,
                    carrier_ref=sms.carrier_ref,
                    status="UNREAD",
                    received_at=sms.received_at,
                )
                session.add(message)
                if self._on_stored is not None:
                    session.flush()
                    self._on_stored(session, message)
                return message.id
        except IntegrityError:
            # Lost a race with the same redelivery on PostgreSQL: the other copy is stored.
            with self._db.read() as session:
                stored = session.scalar(
                    select(InboundMessage.id).where(InboundMessage.carrier_ref == sms.carrier_ref)
                )
            if stored is None:
                raise
            return stored
