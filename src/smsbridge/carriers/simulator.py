"""The simulated carrier: an 'SMSC' kept in our database, with scripted outcomes and handsets."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update

from smsbridge.carriers.base import (
    CarrierEvents,
    Receipt,
    Submission,
    SubmitError,
    SubmitResult,
)
from smsbridge.clock import Clock
from smsbridge.db.engine import Database
from smsbridge.db.models import SimOutcome, SimSubmission
from smsbridge.messages.status import Status
from smsbridge.settings import SimulatorSettings

log = logging.getLogger(__name__)

# Outcomes a destination can be scripted to have (`smsbridge handset outcome`).
OUTCOMES = ("delivered", "undeliverable", "expired", "rejected", "silent")
_RECEIPT_STATUS = {
    "delivered": (Status.DELIVERED, None, None),
    "undeliverable": (Status.UNDELIVERABLE, 1, "The handset is unreachable (simulated)."),
    "expired": (Status.EXPIRED, 2, "Validity ran out before delivery (simulated)."),
}


class SimulatedCarrier:
    """Accepts every submission into `sim_submissions`, then reports receipts after a delay.

    Keeping its state in tables (not memory) is what lets `smsbridge handset inbox` show, from
    another process, what a handset got, and lets tests count submissions across a crash.
    """

    name = "simulator"

    def __init__(self, db: Database, clock: Clock, settings: SimulatorSettings) -> None:
        self._db = db
        self._clock = clock
        self._settings = settings
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self, events: CarrierEvents) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._receipt_loop(events), name="simulator-receipts")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def submit(self, batch: Sequence[Submission]) -> list[SubmitResult]:
        if self._settings.submit_delay_ms:
            await asyncio.sleep(self._settings.submit_delay_ms / 1000)
        return await asyncio.to_thread(self._submit, batch)

    def _submit(self, batch: Sequence[Submission]) -> list[SubmitResult]:
        now = self._clock.now()
        due = now + timedelta(seconds=self._settings.receipt_delay_seconds)
        results: list[SubmitResult] = []
        rows = []
        with self._db.write() as session:
            scripted: dict[str, str] = {
                row.destination: row.outcome
                for row in session.execute(
                    select(SimOutcome.destination, SimOutcome.outcome).where(
                        SimOutcome.destination.in_({s.destination for s in batch})
                    )
                )
            }
            for submission in batch:
                outcome = scripted.get(submission.destination, "delivered")
                if outcome == "rejected":
                    results.append(
                        SubmitResult(
                            submission.message_id,
                            error=SubmitError(True, 11, "Invalid destination (simulated)."),
                        )
                    )
                    continue
                ref = "sim-" + uuid.uuid4().hex
                rows.append(
                    {
                        "carrier_ref": ref,
                        "message_ref": submission.message_id,
                        "source": submission.sender,
                        "destination": submission.destination,
                        "content": submission.content,
                        "segments": submission.segments,
                        "flash": submission.flash,
                        "submitted_at": now,
                        "receipt_due_at": due,
                        "outcome": outcome,
                        # A silent network never reports back; mark it done so we never look.
                        "receipt_sent": outcome == "silent",
                    }
                )
                results.append(SubmitResult(submission.message_id, carrier_ref=ref))
            if rows:
                session.execute(insert(SimSubmission), rows)
        return results

    async def lookup(self, message_ids: Sequence[str]) -> dict[str, str | None] | None:
        return await asyncio.to_thread(self._lookup, message_ids)

    def status(self) -> list[dict[str, Any]]:
        return [{"name": self.name, "kind": "simulator", "state": "up"}]

    def webhooks(self, events: CarrierEvents) -> None:
        return None  # its network is a table in our own database

    def _lookup(self, message_ids: Sequence[str]) -> dict[str, str | None]:
        with self._db.read() as session:
            found: dict[str, str] = {
                row.message_ref: row.carrier_ref
                for row in session.execute(
                    select(SimSubmission.message_ref, SimSubmission.carrier_ref).where(
                        SimSubmission.message_ref.in_(list(message_ids))
                    )
                )
            }
        return {message_id: found.get(message_id) for message_id in message_ids}

    async def _receipt_loop(self, events: CarrierEvents) -> None:
        while not self._stopping.is_set():
            try:
                sent = await self.deliver_due_receipts(events)
            except Exception:  # a bad round must not end the simulator
                log.exception("simulated carrier: receipt round failed; retrying")
                sent = 0
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stopping.wait(), self._settings.poll_interval_seconds
                    )

    async def deliver_due_receipts(self, events: CarrierEvents, limit: int = 2000) -> int:
        due = await asyncio.to_thread(self._due_receipts, limit)
        if not due:
            return 0
        receipts = []
        for ref, outcome in due:
            status, code, detail = _RECEIPT_STATUS[outcome]
            receipts.append(Receipt(carrier_ref=ref, status=status, code=code, detail=detail))
        # The gateway commits the receipts first; only then do we mark them sent, like an SMSC
        # waiting for deliver_sm_resp. A crash in between resends them: receipts are idempotent.
        await events.on_receipts(receipts)
        await asyncio.to_thread(self._mark_sent, [ref for ref, _ in due])
        return len(due)

    def _due_receipts(self, limit: int) -> list[tuple[str, str]]:
        with self._db.read() as session:
            rows = session.execute(
                select(SimSubmission.carrier_ref, SimSubmission.outcome)
                .where(
                    SimSubmission.receipt_sent.is_(False),
                    SimSubmission.receipt_due_at <= self._clock.now(),
                )
                .order_by(SimSubmission.receipt_due_at)
                .limit(limit)
            )
            return [(row.carrier_ref, row.outcome) for row in rows]

    def _mark_sent(self, refs: list[str]) -> None:
        with self._db.write() as session:
            session.execute(
                update(SimSubmission)
                .where(SimSubmission.carrier_ref.in_(refs))
                .values(receipt_sent=True)
            )


class Handsets:
    """The simulator seen from the customer's side: scripted outcomes and each inbox."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def set_outcome(self, destination: str, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        with self._db.write() as session:
            row = session.get(SimOutcome, destination)
            if row is None:
                session.add(SimOutcome(destination=destination, outcome=outcome))
            else:
                row.outcome = outcome

    def inbox(self, handset: str) -> list[SimSubmission]:
        with self._db.read() as session:
            return list(
                session.scalars(
                    select(SimSubmission)
                    .where(SimSubmission.destination == handset)
                    .order_by(SimSubmission.id)
                )
            )
