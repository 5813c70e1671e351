"""The outbound pipeline: claim queued rows, hand them to the carrier, record what came back.

Crash safety, in short (docs/pipeline.md has the long form):
- a row is `queued` until a worker claims it in a committed transaction (`submitting`);
- after the carrier answers, one transaction records the carrier's id (`submitted`/SENT);
- a row left `submitting` by a dead worker is never blindly resent: after
  `in_flight_timeout_seconds` we ask the carrier whether it holds the message. If it does, we
  record its id; if it does not, we queue it again; if the carrier cannot tell (SMPP), the row
  becomes `in_doubt` with status UNKNOWN for an operator to resend or close.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from smsbridge.carriers.base import (
    Carrier,
    InboundSms,
    Receipt,
    Submission,
    SubmitError,
    SubmitResult,
)
from smsbridge.clock import Clock
from smsbridge.credits import ledger
from smsbridge.db.engine import MESSAGES_QUEUED, Database, wait_idle
from smsbridge.db.models import CarrierPart, Message, OrphanReceipt
from smsbridge.errors import error_code
from smsbridge.messages import evidence
from smsbridge.messages.inbound import InboundService
from smsbridge.messages.service import SuppressionCheck
from smsbridge.messages.status import FINAL_STATUSES, REFUNDED_STATUSES, State, Status
from smsbridge.settings import PipelineSettings

log = logging.getLogger(__name__)

# How often a worker applies receipts that a PostgreSQL race left as orphans. An empty
# orphan table makes the sweep one cheap indexed query.
ORPHAN_SWEEP_SECONDS = 0.25

# Called with the ids whose status a transaction changed, inside that transaction.
OnStatus = Callable[[Session, Sequence[str], datetime], int]

_messages: Table = Message.__table__  # type: ignore[assignment]


def valid_until(created: datetime, schedule: datetime | None, validity_minutes: int) -> datetime:
    """When a message stops being worth sending: its validity counts from when it was due
    (its schedule, or its creation), never from its latest retry."""
    return (schedule or created) + timedelta(minutes=validity_minutes)


@dataclass(frozen=True)
class RetryDecision:
    give_up: bool
    retries: int
    """Temporary failures counted so far, this one included."""
    delay_seconds: float


def retry_decision(
    error: SubmitError, attempts: int, retries: int, settings: PipelineSettings
) -> RetryDecision:
    """Whether and when a message is tried again after a temporary submit error.

    The carrier's error says how many retries errors like it deserve and how long to wait
    (the pipeline's settings fill in what it leaves out). A failure that `counts` uses up a
    retry, and the message gives up once it has had more than it is allowed; one that does not
    (the carrier never tried) only waits, and validity ends it. Waits double per failure.
    """
    base = settings.retry_delay_seconds if error.delay_seconds is None else error.delay_seconds
    ceiling = (
        settings.max_retry_delay_seconds
        if error.max_delay_seconds is None
        else error.max_delay_seconds
    )
    if not error.counts:
        step = max(attempts - 1, 0)
        return RetryDecision(False, retries, min(base * 2 ** min(step, 16), ceiling))
    counted = retries + 1
    allowed = settings.max_retries if error.retries is None else error.retries
    delay = min(base * 2 ** min(counted - 1, 16), ceiling)
    return RetryDecision(counted > allowed, counted, delay)


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Pipeline:
    """Moves outbound rows between states; also the sink for the carrier's events."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        carrier: Carrier,
        inbound: InboundService,
        settings: PipelineSettings,
        on_status: OnStatus | None = None,
        suppressions: SuppressionCheck | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._carrier = carrier
        self._inbound = inbound
        self._settings = settings
        self._on_status = on_status
        self._suppressions = suppressions

    def _notify(self, session: Session, message_ids: Sequence[str], now: datetime) -> None:
        """Tell the listener (delivery-report webhooks) about status changes, inside the
        transaction that made them: an event is queued if and only if the change commits."""
        if self._on_status is not None and message_ids:
            self._on_status(session, list(message_ids), now)

    # -- carrier events ---------------------------------------------------------------------

    async def on_receipts(self, receipts: Sequence[Receipt]) -> None:
        await asyncio.to_thread(self.apply_receipts, receipts)

    async def on_inbound(self, sms: InboundSms) -> None:
        await asyncio.to_thread(self._inbound.receive, sms)

    # -- the worker -------------------------------------------------------------------------

    async def run_worker(self, stop: asyncio.Event, name: str | None = None) -> None:
        """Loop until `stop`: recover stale claims now and then, claim, submit, record."""
        me = name or worker_name()
        next_recovery = next_orphans = 0.0
        loop = asyncio.get_running_loop()
        # A message queued by this process (an email reply, an API send) wakes the worker at
        # once; the idle poll remains for messages queued by other processes.
        with self._db.woken_by(MESSAGES_QUEUED) as queued:
            while not stop.is_set():
                queued.clear()  # before claiming: a message committed from now on wakes us
                try:
                    if loop.time() >= next_recovery:
                        await self.recover_in_flight()
                        next_recovery = loop.time() + max(
                            self._settings.in_flight_timeout_seconds / 4, 0.5
                        )
                    if loop.time() >= next_orphans:
                        await asyncio.to_thread(self.reconcile_orphans)
                        next_orphans = loop.time() + ORPHAN_SWEEP_SECONDS
                    handled = await self.run_once(me)
                except Exception:  # nothing crashes a worker: log, pause, go on from the rows
                    log.exception("pipeline worker %s: round failed; retrying", me)
                    handled = 0
                    await asyncio.sleep(1.0)
                if handled == 0:
                    await wait_idle(stop, queued, self._settings.poll_interval_seconds)

    async def run_once(self, worker: str) -> int:
        batch = await asyncio.to_thread(self.claim, worker, self._settings.batch_size)
        if not batch:
            return 0
        # A carrier whose answers trickle in (SMPP, one per submit) gets the batch in chunks,
        # each recorded as soon as it is answered: otherwise receipts, which follow answers
        # within milliseconds, would find no carrier id yet and wait as orphans.
        size = getattr(self._carrier, "record_every", 0) or len(batch)
        chunks = [batch[i : i + size] for i in range(0, len(batch), size)]

        async def submit_and_record(chunk: Sequence[Submission]) -> None:
            results = await self._carrier.submit(chunk)
            await asyncio.to_thread(self.record, worker, results)

        await asyncio.gather(*(submit_and_record(chunk) for chunk in chunks))
        return len(batch)

    def claim(self, worker: str, limit: int) -> list[Submission]:
        now = self._clock.now()
        with self._db.write() as session:
            rows = session.execute(
                select(
                    Message.id,
                    Message.account_id,
                    Message.sender,
                    Message.destination,
                    Message.content,
                    Message.encoding,
                    Message.segments,
                    Message.ready_at,
                    Message.created,
                    Message.schedule,
                    Message.validity_minutes,
                    Message.credits_milli,
                    Message.flash,
                )
                .where(Message.state == State.QUEUED.value, Message.ready_at <= now)
                .order_by(Message.ready_at)
                .limit(limit)
                # PostgreSQL: concurrent workers skip each other's rows instead of waiting or
                # double-claiming. SQLite ignores this; its BEGIN IMMEDIATE already serialises.
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return []
            deadlines = {r.id: valid_until(r.created, r.schedule, r.validity_minutes) for r in rows}
            expired = [r for r in rows if deadlines[r.id] <= now]
            opted_out = self._opted_out(session, [r for r in rows if r not in expired])
            live = [r for r in rows if r not in expired and r.id not in opted_out]
            for row in rows:
                if row.id in opted_out:
                    # Checked again at send time: the customer may have texted STOP after
                    # the message was scheduled. Refunded, like any message never sent.
                    self._finish(
                        session,
                        row.id,
                        row.account_id,
                        row.credits_milli,
                        Status.REJECTED,
                        now,
                        code=error_code("DESTINATION_OPTED_OUT").number,
                        detail=f"Not sent: {opted_out[row.id]} after it was scheduled. "
                        "Its credits were returned.",
                        permanent=True,
                    )
            for row in expired:
                self._finish(
                    session,
                    row.id,
                    row.account_id,
                    row.credits_milli,
                    Status.EXPIRED,
                    now,
                    code=None,
                    detail="Validity ran out before the message could be sent.",
                    permanent=True,
                )
            if live:
                session.execute(
                    update(Message)
                    .where(Message.id.in_([r.id for r in live]))
                    .values(
                        state=State.SUBMITTING.value,
                        claimed_by=worker,
                        claimed_at=now,
                        submitted_at=now,
                        attempts=Message.attempts + 1,
                        modified=now,
                    )
                )
        return [
            Submission(
                message_id=r.id,
                sender=r.sender,
                destination=r.destination,
                content=r.content,
                encoding=r.encoding,
                segments=r.segments,
                flash=bool(r.flash),
                valid_until=deadlines[r.id],
            )
            for r in live
        ]

    def _opted_out(self, session: Session, rows: Sequence[Any]) -> dict[str, str]:
        """The scheduled rows whose destination has opted out of their sender since, with
        why. Messages sent at once were checked when accepted, a moment ago."""
        if self._suppressions is None:
            return {}
        groups: dict[tuple[str, str], list[Any]] = {}
        for row in rows:
            if row.schedule is not None:
                groups.setdefault((row.account_id, row.sender), []).append(row)
        found: dict[str, str] = {}
        for (account_id, sender), members in groups.items():
            blocked = self._suppressions.blocked(
                session, account_id, sender, [r.destination for r in members]
            )
            found.update(
                {r.id: blocked[r.destination] for r in members if r.destination in blocked}
            )
        return found

    def record(self, worker: str, results: Sequence[SubmitResult]) -> None:
        now = self._clock.now()
        ok = [r for r in results if r.carrier_ref is not None and r.error is None]
        accepted = [r for r in ok if len(r.part_refs) <= 1 and not r.in_doubt]
        in_parts = [r for r in ok if len(r.part_refs) > 1 and not r.in_doubt]
        failed = [r for r in results if r.error is not None and not r.in_doubt]
        in_doubt = [r for r in results if r.in_doubt]
        with self._db.write() as session:
            if in_parts:
                self._record_parts(session, worker, in_parts, now)
            if in_doubt:
                session.execute(
                    update(Message)
                    .where(
                        Message.id.in_([r.message_id for r in in_doubt]),
                        Message.state == State.SUBMITTING.value,
                        Message.claimed_by == worker,
                    )
                    .values(
                        state=State.IN_DOUBT.value,
                        status=Status.UNKNOWN.value,
                        modified=now,
                        failure_detail="The connection to the carrier dropped after the submit "
                        "was sent and before it was answered: the carrier may or may not have "
                        "it. Not resent automatically, to avoid a duplicate SMS.",
                    )
                )
                self._notify(session, [r.message_id for r in in_doubt], now)
            if accepted:
                session.execute(
                    _messages.update()
                    .where(
                        _messages.c.id == bindparam("b_id"),
                        _messages.c.state == State.SUBMITTING.value,
                        _messages.c.claimed_by == worker,
                    )
                    .values(
                        state=State.SUBMITTED.value,
                        status=Status.SENT.value,
                        carrier_ref=bindparam("b_ref"),
                        modified=now,
                    ),
                    [{"b_id": r.message_id, "b_ref": r.carrier_ref} for r in accepted],
                )
                # Before the orphans: the SENT event must go out before a DELIVERED one.
                self._notify(session, [r.message_id for r in accepted], now)
                self._apply_orphans(session, [r.carrier_ref for r in accepted if r.carrier_ref])
            for result in failed:
                assert result.error is not None
                self._fail_submit(session, worker, result, now)

    def _record_parts(
        self, session: Session, worker: str, results: Sequence[SubmitResult], now: datetime
    ) -> None:
        """A long message: its carrier ids live per part; the message has none of its own, so
        a receipt for one part can never finish the whole message."""
        claimed = set(
            session.scalars(
                select(Message.id).where(
                    Message.id.in_([r.message_id for r in results]),
                    Message.state == State.SUBMITTING.value,
                    Message.claimed_by == worker,
                )
            )
        )
        rows: list[dict[str, object]] = [
            {"carrier_ref": ref, "message_id": r.message_id, "part_index": index}
            for r in results
            if r.message_id in claimed
            for index, ref in enumerate(r.part_refs)
        ]
        if not rows:
            return
        session.execute(insert(CarrierPart), rows)
        session.execute(
            update(Message)
            .where(Message.id.in_(claimed))
            .values(state=State.SUBMITTED.value, status=Status.SENT.value, modified=now)
        )
        self._notify(session, sorted(claimed), now)
        self._apply_orphans(session, [str(row["carrier_ref"]) for row in rows])

    def _fail_submit(
        self, session: Session, worker: str, result: SubmitResult, now: datetime
    ) -> None:
        error = result.error
        assert error is not None
        row = session.execute(
            select(
                Message.account_id,
                Message.credits_milli,
                Message.attempts,
                Message.retries,
                Message.created,
                Message.schedule,
                Message.validity_minutes,
            ).where(
                Message.id == result.message_id,
                Message.state == State.SUBMITTING.value,
                Message.claimed_by == worker,
            )
        ).first()
        if row is None:
            return
        deadline = valid_until(row.created, row.schedule, row.validity_minutes)
        finish = functools.partial(
            self._finish, session, result.message_id, row.account_id, row.credits_milli
        )
        if error.permanent:
            finish(Status.REJECTED, now, code=error.code, detail=error.detail, permanent=True)
            return
        decision = retry_decision(error, row.attempts, row.retries, self._settings)
        if decision.give_up:
            finish(
                Status.REJECTED,
                now,
                code=error.code,
                detail=f"Gave up after {decision.retries} retries: {error.detail}",
                permanent=True,
            )
            return
        if deadline <= now:
            finish(
                Status.EXPIRED,
                now,
                code=error.code,
                detail=f"Validity ran out while retrying: {error.detail}",
                permanent=True,
            )
            return
        # The next attempt never falls after the validity: at that moment the claim finds the
        # message out of time and ends it EXPIRED (refunded, with its webhook).
        ready_at = min(now + timedelta(seconds=decision.delay_seconds), deadline)
        session.execute(
            update(Message)
            .where(Message.id == result.message_id)
            .values(
                state=State.QUEUED.value,
                claimed_by=None,
                claimed_at=None,
                ready_at=ready_at,
                retries=decision.retries,
                failure_code=error.code,
                failure_detail=error.detail,
                failure_permanent=False,
                modified=now,
            )
        )

    # -- receipts ---------------------------------------------------------------------------

    def apply_receipts(self, receipts: Sequence[Receipt]) -> None:
        """Record receipts; idempotent, and a receipt for an unknown id waits as an orphan."""
        if not receipts:
            return
        now = self._clock.now()
        with self._db.write() as session:
            known = self._apply(session, receipts, now)
            orphans = [r for r in receipts if r.carrier_ref not in known]
            if orphans:
                self._keep_orphans(session, orphans, now)

    def _keep_orphans(self, session: Session, orphans: Sequence[Receipt], now: datetime) -> None:
        """Keep receipts no message claims yet, with their evidence. A later receipt for the
        same id replaces a kept one unless that one was final and this is not (an ENROUTE
        after the DELIVERED must not undo it)."""
        latest = {r.carrier_ref: r for r in orphans}
        existing = {
            o.carrier_ref: o
            for o in session.scalars(
                select(OrphanReceipt).where(OrphanReceipt.carrier_ref.in_(list(latest)))
            )
        }
        fresh = []
        for ref, receipt in latest.items():
            held = existing.get(ref)
            if held is None:
                fresh.append(receipt)
                continue
            if Status(held.status) in FINAL_STATUSES and receipt.status not in FINAL_STATUSES:
                continue
            held.status, held.code, held.detail = receipt.status.value, receipt.code, receipt.detail
            held.destination = receipt.destination or held.destination
            held.submitted_at = receipt.submitted_at or held.submitted_at
            held.text = receipt.text or held.text
        if fresh:
            session.execute(
                insert(OrphanReceipt),
                [
                    {
                        "carrier_ref": r.carrier_ref,
                        "status": r.status.value,
                        "code": r.code,
                        "detail": r.detail,
                        "received_at": now,
                        "destination": r.destination,
                        "submitted_at": r.submitted_at,
                        "text": r.text,
                    }
                    for r in fresh
                ],
            )

    def _apply(self, session: Session, receipts: Sequence[Receipt], now: datetime) -> set[str]:
        refs = [r.carrier_ref for r in receipts]
        rows = {
            row.carrier_ref: row
            for row in session.execute(
                select(
                    Message.id,
                    Message.account_id,
                    Message.credits_milli,
                    Message.state,
                    Message.carrier_ref,
                ).where(Message.carrier_ref.in_(refs))
            )
        }
        missing = [r for r in receipts if r.carrier_ref not in rows]
        part_known = self._apply_parts(session, missing, now) if missing else set()
        delivered: list[str] = []
        changed: list[str] = []
        for receipt in receipts:
            row = rows.get(receipt.carrier_ref)
            if row is None or row.state == State.FINAL.value:
                continue  # unknown (orphan), or a duplicate receipt for a finished message
            if receipt.status == Status.DELIVERED:
                delivered.append(row.id)
            elif receipt.status in FINAL_STATUSES:
                self._finish(
                    session,
                    row.id,
                    row.account_id,
                    row.credits_milli,
                    receipt.status,
                    now,
                    code=receipt.code,
                    detail=receipt.detail,
                    permanent=True,
                )
            else:
                session.execute(
                    update(Message)
                    .where(Message.id == row.id)
                    .values(status=receipt.status.value, modified=now)
                )
                changed.append(row.id)
        if delivered:
            # The common case: every row gets the same values, so one set-based UPDATE.
            session.execute(
                update(Message)
                .where(Message.id.in_(delivered))
                .values(status=Status.DELIVERED.value, state=State.FINAL.value, modified=now)
            )
        self._notify(session, delivered + changed, now)
        return set(rows) | part_known

    def _apply_parts(
        self, session: Session, receipts: Sequence[Receipt], now: datetime
    ) -> set[str]:
        """Receipts for parts of long messages: a message is final once every part is (or at
        the first part that failed for good)."""
        parts = {
            p.carrier_ref: p
            for p in session.scalars(
                select(CarrierPart).where(
                    CarrierPart.carrier_ref.in_([r.carrier_ref for r in receipts])
                )
            )
        }
        final = [
            (parts[r.carrier_ref], r)
            for r in receipts
            if r.carrier_ref in parts and r.status in FINAL_STATUSES
        ]
        touched = sorted({part.message_id for part, _receipt in final})
        if touched:
            # Two transactions applying receipts for two parts of one message (a receipt batch
            # and an orphan being applied) would each miss the other's part on PostgreSQL and
            # leave the message unfinished; locking the message first serialises them.
            session.execute(
                select(Message.id)
                .where(Message.id.in_(touched))
                .order_by(Message.id)
                .with_for_update()
            )
        for part, receipt in final:
            part.status, part.code, part.detail = receipt.status.value, receipt.code, receipt.detail
        session.flush()
        for message_id in touched:
            message = session.get(Message, message_id, populate_existing=True)
            if message is None or message.state == State.FINAL.value:
                continue
            siblings = list(
                session.scalars(
                    select(CarrierPart)
                    .where(CarrierPart.message_id == message_id)
                    .execution_options(populate_existing=True)
                )
            )
            failed = [p for p in siblings if p.status and p.status != Status.DELIVERED.value]
            if failed:
                worst = failed[0]
                self._finish(
                    session,
                    message.id,
                    message.account_id,
                    message.credits_milli,
                    Status(worst.status or Status.UNKNOWN.value),
                    now,
                    code=worst.code,
                    detail=f"part {worst.part_index + 1} of {len(siblings)}: {worst.detail or ''}",
                    permanent=True,
                )
            elif all(p.status == Status.DELIVERED.value for p in siblings):
                message.status, message.state, message.modified = (
                    Status.DELIVERED.value,
                    State.FINAL.value,
                    now,
                )
                session.flush()
                self._notify(session, [message.id], now)
        return set(parts)

    def reconcile_orphans(self, limit: int = 1000) -> int:
        """Apply receipts stored as orphans whose message has since got its carrier id.

        On PostgreSQL a receipt can be judged an orphan by a transaction that could not yet
        see the concurrent commit recording its message's carrier id; neither transaction
        then sees the other. This sweep closes that gap within a fraction of a second.
        """
        with self._db.write() as session:
            refs = list(
                session.scalars(
                    select(OrphanReceipt.carrier_ref)
                    .join(Message, Message.carrier_ref == OrphanReceipt.carrier_ref)
                    .limit(limit)
                )
            ) + list(
                session.scalars(
                    select(OrphanReceipt.carrier_ref)
                    .join(CarrierPart, CarrierPart.carrier_ref == OrphanReceipt.carrier_ref)
                    .limit(limit)
                )
            )
            if refs:
                self._apply_orphans(session, refs)
            resolved = self._resolve_in_doubt(session, self._clock.now())
        return len(refs) + resolved

    def _resolve_in_doubt(self, session: Session, now: datetime) -> int:
        """Give in-doubt messages the receipts that the carrier's evidence ties to them (see
        messages/evidence.py): each such message takes the receipt's id, then its status."""
        doubts = self._doubtful(session, limit=500)
        if not doubts:
            return 0
        # A receipt may also be waiting for a submit to the same handset whose answer is not
        # recorded yet: while one is in flight, that handset's receipts are not evidence.
        busy = set(
            session.scalars(
                select(Message.destination).where(
                    Message.state == State.SUBMITTING.value,
                    Message.destination.in_(sorted({d.destination for d in doubts})),
                )
            )
        )
        doubts = [d for d in doubts if d.destination not in busy]
        if not doubts:
            return 0
        loose = self._loose_receipts(session, {d.destination for d in doubts})
        matched = evidence.pairs(doubts, loose, now)
        for message_id, ref in matched:
            result = session.execute(
                update(Message)
                .where(Message.id == message_id, Message.state == State.IN_DOUBT.value)
                .values(
                    state=State.SUBMITTED.value,
                    status=Status.SENT.value,
                    carrier_ref=ref,
                    failure_detail="The submit was in doubt; the carrier's receipt "
                    f"{ref} matched it by handset, submit time and text.",
                    modified=now,
                )
            )
            if result.rowcount:  # type: ignore[attr-defined]
                log.info("in-doubt message %s matched to receipt %s", message_id, ref)
                self._notify(session, [message_id], now)
                self._apply_orphans(session, [ref])
        return len(matched)

    def _doubtful(self, session: Session, limit: int) -> list[evidence.DoubtfulMessage]:
        # Long messages are sent as parts with a receipt each: those stay for the operator.
        return [
            evidence.DoubtfulMessage(r.id, r.destination, r.content, r.submitted_at)
            for r in session.execute(
                select(Message.id, Message.destination, Message.content, Message.submitted_at)
                .where(
                    Message.state == State.IN_DOUBT.value,
                    Message.submitted_at.is_not(None),
                    Message.segments == 1,
                )
                .order_by(Message.submitted_at)
                .limit(limit)
            )
        ]

    def _loose_receipts(
        self, session: Session, destinations: set[str]
    ) -> list[evidence.LooseReceipt]:
        return [
            evidence.LooseReceipt(
                o.carrier_ref, o.destination, o.submitted_at, o.text, o.received_at
            )
            for o in session.scalars(
                select(OrphanReceipt).where(OrphanReceipt.destination.in_(sorted(destinations)))
            )
        ]

    def _apply_orphans(self, session: Session, refs: list[str]) -> None:
        # Orphans are rare; a probe of the (usually empty) table is cheaper than the IN lookup.
        if session.scalar(select(OrphanReceipt.carrier_ref).limit(1)) is None:
            return
        orphans = list(
            session.scalars(select(OrphanReceipt).where(OrphanReceipt.carrier_ref.in_(refs)))
        )
        if not orphans:
            return
        receipts = [Receipt(o.carrier_ref, Status(o.status), o.code, o.detail) for o in orphans]
        self._apply(session, receipts, self._clock.now())
        session.execute(
            delete(OrphanReceipt).where(
                OrphanReceipt.carrier_ref.in_([o.carrier_ref for o in orphans])
            )
        )

    def _finish(
        self,
        session: Session,
        message_id: str,
        account_id: str,
        credits_milli: int,
        status: Status,
        now: datetime,
        *,
        code: int | None,
        detail: str | None,
        permanent: bool,
    ) -> None:
        session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(
                status=status.value,
                state=State.FINAL.value,
                failure_code=code,
                failure_detail=detail,
                failure_permanent=permanent,
                modified=now,
            )
        )
        self._notify(session, [message_id], now)
        if status in REFUNDED_STATUSES and credits_milli > 0:
            ledger.credit(
                session,
                account_id,
                credits_milli,
                now,
                kind="refund",
                message_id=message_id,
                note=f"message {status.value.lower()}",
            )

    # -- in doubt: the operator decides ------------------------------------------------------

    def in_doubt(self, limit: int = 1000) -> list[Message]:
        with self._db.read() as session:
            return list(
                session.scalars(
                    select(Message)
                    .where(Message.state == State.IN_DOUBT.value)
                    .order_by(Message.modified)
                    .limit(limit)
                )
            )

    def in_doubt_report(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Each in-doubt message with the unmatched receipts that could be its own, and which
        way the evidence leans: what an operator needs before `resend` or `close`."""
        with self._db.read() as session:
            messages = list(
                session.scalars(
                    select(Message)
                    .where(Message.state == State.IN_DOUBT.value)
                    .order_by(Message.modified)
                    .limit(limit)
                )
            )
            loose = self._loose_receipts(session, {m.destination for m in messages})
            doubts = {
                m.id: evidence.DoubtfulMessage(
                    m.id, m.destination, m.content, m.submitted_at or m.modified
                )
                for m in messages
            }
            fits = evidence.candidates(list(doubts.values()), loose)
            shared: dict[str, int] = {}
            for fitting in fits.values():
                for receipt in fitting:
                    shared[receipt.carrier_ref] = shared.get(receipt.carrier_ref, 0) + 1
            report = []
            for message in messages:
                submitted = doubts[message.id].submitted_at
                found = fits[message.id]
                most = max((shared[r.carrier_ref] for r in found), default=0)
                answered_later = session.scalar(
                    select(Message.id)
                    .where(
                        Message.submitted_at > submitted,
                        Message.carrier_ref.is_not(None),
                        Message.state.in_([State.SUBMITTED.value, State.FINAL.value]),
                    )
                    .limit(1)
                )
                if found:
                    verdict = (
                        "the carrier most likely has it: a receipt for this handset, time and "
                        "text arrived"
                    )
                    if len(found) > 1:
                        verdict += f"; {len(found)} receipts fit it: choose by hand"
                    if most > 1:
                        verdict += f"; a receipt fits {most} in-doubt messages: choose by hand"
                elif answered_later is not None:
                    verdict = (
                        "most likely not received: later submits were answered, and no "
                        "receipt for it has come"
                    )
                else:
                    verdict = "cannot tell yet: nothing was answered after it"
                report.append(
                    {
                        "message": message,
                        "likely_held": bool(found),
                        "verdict": verdict,
                        "candidates": [
                            {
                                "carrier_ref": r.carrier_ref,
                                "received_at": r.received_at,
                                "submitted_at": r.submitted_at,
                                "text": r.text,
                            }
                            for r in found
                        ],
                    }
                )
            return report

    def settle_in_doubt(self, message_ids: Sequence[str], *, resend: bool) -> int:
        """Resend messages whose submit was in doubt (risking a duplicate), or close them as
        UNDELIVERABLE and refund them (risking a loss). Only a person can weigh that."""
        now = self._clock.now()
        with self._db.write() as session:
            rows = session.execute(
                select(Message.id, Message.account_id, Message.credits_milli).where(
                    Message.id.in_(list(message_ids)), Message.state == State.IN_DOUBT.value
                )
            ).all()
            for row in rows:
                if resend:
                    session.execute(
                        update(Message)
                        .where(Message.id == row.id)
                        .values(
                            state=State.QUEUED.value,
                            status=Status.ACCEPTED.value,
                            ready_at=now,
                            claimed_by=None,
                            claimed_at=None,
                            modified=now,
                        )
                    )
                    self._notify(session, [row.id], now)
                else:
                    self._finish(
                        session,
                        row.id,
                        row.account_id,
                        row.credits_milli,
                        Status.UNDELIVERABLE,
                        now,
                        code=None,
                        permanent=True,
                        detail="Closed by an operator after an in-doubt submit.",
                    )
            return len(rows)

    # -- recovery ---------------------------------------------------------------------------

    async def recover_in_flight(self) -> int:
        """Settle rows a dead worker left `submitting`; never resend without asking the carrier."""
        cutoff = self._clock.now() - timedelta(seconds=self._settings.in_flight_timeout_seconds)
        stale = await asyncio.to_thread(self._stale, cutoff)
        if not stale:
            return 0
        held = await self._carrier.lookup(stale)
        await asyncio.to_thread(self._settle, stale, held, cutoff)
        return len(stale)

    def _stale(self, cutoff: datetime) -> list[str]:
        with self._db.read() as session:
            return list(
                session.scalars(
                    select(Message.id)
                    .where(Message.state == State.SUBMITTING.value, Message.claimed_at < cutoff)
                    .limit(1000)
                )
            )

    def _settle(
        self, stale: list[str], held: dict[str, str | None] | None, cutoff: datetime
    ) -> None:
        now = self._clock.now()
        with self._db.write() as session:
            for message_id in stale:
                still_stale = (
                    (Message.id == message_id)
                    & (Message.state == State.SUBMITTING.value)
                    & (Message.claimed_at < cutoff)
                )
                if held is None:
                    values: dict[str, Any] = {
                        "state": State.IN_DOUBT.value,
                        "status": Status.UNKNOWN.value,
                        "failure_detail": "The submit was in flight when its worker stopped and "
                        "the carrier cannot say whether it arrived.",
                    }
                elif held.get(message_id):
                    values = {
                        "state": State.SUBMITTED.value,
                        "status": Status.SENT.value,
                        "carrier_ref": held[message_id],
                    }
                else:
                    values = {"state": State.QUEUED.value, "ready_at": now}
                result = session.execute(
                    update(Message)
                    .where(still_stale)
                    .values(claimed_by=None, claimed_at=None, modified=now, **values)
                )
                if result.rowcount and "status" in values:  # type: ignore[attr-defined]
                    self._notify(session, [message_id], now)
                ref = values.get("carrier_ref")
                if ref:
                    self._apply_orphans(session, [ref])
        log.warning(
            "recovered %d in-flight messages (carrier %s)",
            len(stale),
            "answered" if held is not None else "cannot tell",
        )
