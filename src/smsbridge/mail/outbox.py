"""The outbound email queue: rows in `emails`, sent by a worker through a MailTransport."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import getaddresses

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from smsbridge.clock import Clock
from smsbridge.db.engine import EMAILS_QUEUED, Database, announce_after_commit, wait_idle
from smsbridge.db.models import OutboundEmail
from smsbridge.ids import new_id
from smsbridge.mail.ports import MailTransport, OutgoingEmail, TransportError
from smsbridge.settings import MailOutSettings

log = logging.getLogger(__name__)

# A send that has not finished after this long is assumed lost with its worker.
SENDING_TIMEOUT = timedelta(minutes=5)

Signer = Callable[[bytes], bytes]


def enqueue_email(
    session: Session,
    message: EmailMessage,
    *,
    kind: str,
    envelope_sender: str,
    now: datetime,
    signer: Signer | None,
    account_id: str | None = None,
    conversation_id: str | None = None,
) -> str:
    """Queue an email in the caller's transaction; it goes out only if that commits."""
    recipients = [address for _name, address in getaddresses(message.get_all("To", []))]
    raw = message.as_bytes(policy=SMTP)
    if signer is not None:
        raw = signer(raw)
    email_id = new_id()
    session.execute(
        insert(OutboundEmail).values(
            id=email_id,
            account_id=account_id,
            conversation_id=conversation_id,
            kind=kind,
            envelope_sender=envelope_sender,
            recipients=recipients,
            first_recipient=recipients[0].lower() if recipients else None,
            subject=str(message.get("Subject", "")),
            raw=raw,
            status="queued",
            attempts=0,
            ready_at=now,
            created_at=now,
        )
    )
    announce_after_commit(session, EMAILS_QUEUED)
    return email_id


class Outbox:
    """Claims queued emails and sends them; retries temporary failures with backoff."""

    def __init__(
        self, db: Database, clock: Clock, transport: MailTransport, settings: MailOutSettings
    ) -> None:
        self._db = db
        self._clock = clock
        self._transport = transport
        self._settings = settings

    async def run(self, stop: asyncio.Event, worker: str = "outbox") -> None:
        # An email queued by this process wakes the sender at once (a forward otherwise waited
        # up to a whole poll interval); the poll remains for emails queued by other processes.
        with self._db.woken_by(EMAILS_QUEUED) as queued:
            while not stop.is_set():
                queued.clear()  # before claiming: an email committed from now on wakes us
                try:
                    await asyncio.to_thread(self.recover)
                    handled = await self.run_once(worker)
                except Exception:  # a bad round must not end the sender
                    log.exception("email outbox: round failed; retrying")
                    handled = 0
                    await asyncio.sleep(1.0)
                if handled == 0:
                    await wait_idle(stop, queued, self._settings.poll_interval_seconds)

    async def run_once(self, worker: str, limit: int = 50) -> int:
        batch = await asyncio.to_thread(self.claim, worker, limit)
        for email in batch:
            try:
                await self._transport.send(email)
            except TransportError as exc:
                await asyncio.to_thread(self._failed, email.id, exc)
            except Exception as exc:  # an adapter bug is a temporary failure, not a lost email
                log.exception("email %s: transport raised", email.id)
                await asyncio.to_thread(
                    self._failed, email.id, TransportError(str(exc), permanent=False)
                )
            else:
                await asyncio.to_thread(self._sent, email.id)
        return len(batch)

    def claim(self, worker: str, limit: int) -> list[OutgoingEmail]:
        now = self._clock.now()
        with self._db.write() as session:
            rows = list(
                session.scalars(
                    select(OutboundEmail)
                    .where(OutboundEmail.status == "queued", OutboundEmail.ready_at <= now)
                    .order_by(OutboundEmail.ready_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            for row in rows:
                row.status, row.claimed_by, row.claimed_at = "sending", worker, now
                row.attempts += 1
            return [
                OutgoingEmail(
                    id=r.id,
                    envelope_sender=r.envelope_sender,
                    recipients=list(r.recipients),
                    raw=r.raw,
                )
                for r in rows
            ]

    def _sent(self, email_id: str) -> None:
        now = self._clock.now()
        with self._db.write() as session:
            session.execute(
                update(OutboundEmail)
                .where(OutboundEmail.id == email_id)
                .values(status="sent", sent_at=now, last_error=None)
            )

    def _failed(self, email_id: str, error: TransportError) -> None:
        now = self._clock.now()
        with self._db.write() as session:
            row = session.get(OutboundEmail, email_id)
            if row is None:
                return
            row.last_error = f"{error.code or ''} {error}".strip()
            deadline = row.created_at + timedelta(hours=self._settings.retry_hours)
            if error.permanent or now >= deadline:
                row.status = "failed"
                log.warning("email %s failed for good: %s", email_id, row.last_error)
                return
            row.status = "queued"
            row.claimed_by = row.claimed_at = None
            row.ready_at = now + timedelta(seconds=min(30 * 2 ** min(row.attempts, 7), 3600))

    def recover(self) -> int:
        """Requeue sends whose worker died. The maildir makes a resend harmless; a relay may
        deliver twice, but with the same Message-ID, which mail clients fold into one."""
        cutoff = self._clock.now() - SENDING_TIMEOUT
        with self._db.write() as session:
            result = session.execute(
                update(OutboundEmail)
                .where(OutboundEmail.status == "sending", OutboundEmail.claimed_at < cutoff)
                .values(status="queued", claimed_by=None, claimed_at=None)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def pending(self) -> int:
        with self._db.read() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(OutboundEmail)
                    .where(OutboundEmail.status.in_(["queued", "sending"]))
                )
                or 0
            )
