"""The outbound pipeline on real databases: claims, receipts, recovery, schedules, expiry."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, select
from tests.conftest import iso

from smsbridge.app import Gateway
from smsbridge.carriers.base import Receipt, Submission, SubmitError, SubmitResult
from smsbridge.db.models import Message, SimSubmission
from smsbridge.messages.schemas import BatchIn, MessageIn
from smsbridge.messages.status import State, Status


def queue(gateway: Gateway, account: dict[str, str], count: int = 1, **fields: object) -> list[str]:
    if count == 1:
        body = MessageIn(sender="Acme", destination="447700900123", content="Hi", **fields)
        return [gateway.messages.send(account["account_id"], body)["messageid"]]
    batch = BatchIn(
        sender="Acme", destinations=[f"44770090{i:04d}" for i in range(count)], content="Hi"
    )
    batch_id = gateway.messages.send_batch(account["account_id"], batch)["batchid"]
    return [m["messageid"] for m in gateway.messages.get_batch(account["account_id"], batch_id)]


def status_of(gateway: Gateway, message_id: str) -> tuple[str, str]:
    with gateway.db.read() as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message.status, message.state


def submissions(gateway: Gateway, message_id: str) -> int:
    with gateway.db.read() as session:
        return int(
            session.scalar(select(func.count()).where(SimSubmission.message_ref == message_id)) or 0
        )


def test_round_trip_to_delivered(gateway: Gateway, funded_account):
    [message_id] = queue(gateway, funded_account)
    assert asyncio.run(gateway.pipeline.run_once("w1")) == 1
    assert status_of(gateway, message_id) == ("SENT", "submitted")
    asyncio.run(gateway.carrier.deliver_due_receipts(gateway.pipeline))  # type: ignore[attr-defined]
    assert status_of(gateway, message_id) == ("DELIVERED", "final")
    assert submissions(gateway, message_id) == 1


def test_duplicate_receipts_change_nothing(gateway: Gateway, funded_account):
    gateway.handsets.set_outcome("+447700900123", "undeliverable")
    [message_id] = queue(gateway, funded_account)
    asyncio.run(gateway.pipeline.run_once("w1"))
    with gateway.db.read() as session:
        ref = session.get(Message, message_id).carrier_ref  # type: ignore[union-attr]
    receipt = Receipt(ref, Status.UNDELIVERABLE, 1, "unreachable")  # type: ignore[arg-type]
    gateway.pipeline.apply_receipts([receipt])
    gateway.pipeline.apply_receipts([receipt])
    assert status_of(gateway, message_id) == ("UNDELIVERABLE", "final")
    # Refunded once, not twice: 100 - 1 + 1.
    assert gateway.messages.balance(funded_account["account_id"]) == 100


def test_receipt_before_submit_response_is_kept_and_applied(gateway: Gateway, funded_account):
    [message_id] = queue(gateway, funded_account)
    [submission] = gateway.pipeline.claim("w1", 10)
    gateway.pipeline.apply_receipts([Receipt("early-ref", Status.DELIVERED)])
    assert status_of(gateway, message_id) == ("ACCEPTED", "submitting")
    gateway.pipeline.record("w1", [SubmitResult(submission.message_id, carrier_ref="early-ref")])
    assert status_of(gateway, message_id) == ("DELIVERED", "final")


def test_worker_that_died_after_submit_is_not_resent(gateway: Gateway, funded_account, clock):
    [message_id] = queue(gateway, funded_account)
    claimed = gateway.pipeline.claim("dead-worker", 10)
    asyncio.run(gateway.carrier.submit(claimed))  # the carrier got it; then the worker died
    clock.advance(seconds=gateway.settings.pipeline.in_flight_timeout_seconds + 1)
    assert asyncio.run(gateway.pipeline.recover_in_flight()) == 1
    assert status_of(gateway, message_id) == ("SENT", "submitted")
    assert asyncio.run(gateway.pipeline.run_once("w2")) == 0
    assert submissions(gateway, message_id) == 1


def test_worker_that_died_before_submit_is_sent_once(gateway: Gateway, funded_account, clock):
    [message_id] = queue(gateway, funded_account)
    gateway.pipeline.claim("dead-worker", 10)  # claimed, then died before the carrier saw it
    assert asyncio.run(gateway.pipeline.recover_in_flight()) == 0  # not stale yet
    clock.advance(seconds=gateway.settings.pipeline.in_flight_timeout_seconds + 1)
    asyncio.run(gateway.pipeline.recover_in_flight())
    assert status_of(gateway, message_id) == ("ACCEPTED", "queued")
    asyncio.run(gateway.pipeline.run_once("w2"))
    assert submissions(gateway, message_id) == 1


class BlindCarrier:
    """A carrier that cannot say what it holds (as with SMPP)."""

    name = "blind"

    async def lookup(self, message_ids: Sequence[str]) -> None:
        return None


def test_in_doubt_when_the_carrier_cannot_tell(gateway: Gateway, funded_account, clock):
    [message_id] = queue(gateway, funded_account)
    gateway.pipeline.claim("dead-worker", 10)
    clock.advance(seconds=gateway.settings.pipeline.in_flight_timeout_seconds + 1)
    gateway.pipeline._carrier = BlindCarrier()  # type: ignore[assignment]
    asyncio.run(gateway.pipeline.recover_in_flight())
    assert status_of(gateway, message_id) == ("UNKNOWN", "in_doubt")


def test_scheduled_message_waits_for_its_time(gateway: Gateway, funded_account, clock):
    [message_id] = queue(gateway, funded_account, schedule=iso(clock.now() + timedelta(hours=1)))
    assert asyncio.run(gateway.pipeline.run_once("w1")) == 0
    clock.advance(hours=1)
    assert asyncio.run(gateway.pipeline.run_once("w1")) == 1
    assert status_of(gateway, message_id) == ("SENT", "submitted")


def test_message_past_its_validity_expires_and_is_refunded(gateway: Gateway, funded_account, clock):
    [message_id] = queue(gateway, funded_account, validity=5)
    clock.advance(minutes=6)
    asyncio.run(gateway.pipeline.run_once("w1"))
    assert status_of(gateway, message_id) == ("EXPIRED", "final")
    assert submissions(gateway, message_id) == 0
    assert gateway.messages.balance(funded_account["account_id"]) == 100


def test_rejected_at_submit_is_refunded(gateway: Gateway, funded_account):
    gateway.handsets.set_outcome("+447700900123", "rejected")
    [message_id] = queue(gateway, funded_account)
    asyncio.run(gateway.pipeline.run_once("w1"))
    assert status_of(gateway, message_id) == ("REJECTED", "final")
    assert gateway.messages.balance(funded_account["account_id"]) == 100


class FlakyCarrier:
    """Refuses every submit with a temporary error (as a throttled SMSC would)."""

    name = "flaky"

    async def submit(self, batch: Sequence[Submission]) -> list[SubmitResult]:
        error = SubmitError(permanent=False, code=88, detail="throttled")
        return [SubmitResult(s.message_id, error=error) for s in batch]


def test_transient_failure_backs_off_and_keeps_the_message(gateway: Gateway, funded_account, clock):
    [message_id] = queue(gateway, funded_account)
    gateway.pipeline._carrier = FlakyCarrier()  # type: ignore[assignment]
    asyncio.run(gateway.pipeline.run_once("w1"))
    assert status_of(gateway, message_id) == ("ACCEPTED", "queued")
    assert asyncio.run(gateway.pipeline.run_once("w1")) == 0  # backing off
    clock.advance(seconds=3)
    assert asyncio.run(gateway.pipeline.run_once("w1")) == 1


def test_concurrent_workers_never_claim_the_same_message(gateway: Gateway, funded_account):
    from smsbridge.credits import ledger

    with gateway.db.write() as session:
        ledger.credit(
            session, funded_account["account_id"], 1_000_000, gateway.clock.now(), kind="topup"
        )
    ids = queue(gateway, funded_account, count=300)
    claimed: dict[str, list[str]] = {}

    def work(name: str) -> None:
        mine: list[str] = []
        while True:
            batch = gateway.pipeline.claim(name, 7)
            if not batch:
                break
            mine += [s.message_id for s in batch]
        claimed[name] = mine

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [m for mine in claimed.values() for m in mine]
    assert sorted(everything) == sorted(ids)  # each exactly once
    with gateway.db.read() as session:
        states = set(session.scalars(select(Message.state)))
    assert states == {State.SUBMITTING.value}


def test_orphan_left_by_a_race_is_reconciled(gateway: Gateway, funded_account):
    # Reproduce the PostgreSQL race by hand: the receipt is judged an orphan, and the carrier
    # id is recorded without seeing it (as two concurrent transactions would).
    from smsbridge.db.models import OrphanReceipt

    [message_id] = queue(gateway, funded_account)
    gateway.pipeline.claim("w1", 10)
    with gateway.db.write() as session:
        session.add(
            OrphanReceipt(
                carrier_ref="raced",
                status="DELIVERED",
                code=None,
                detail=None,
                received_at=gateway.clock.now(),
            )
        )
        message = session.get(Message, message_id)
        assert message is not None
        message.carrier_ref, message.state, message.status = "raced", "submitted", "SENT"
    assert gateway.pipeline.reconcile_orphans() == 1
    assert status_of(gateway, message_id) == ("DELIVERED", "final")
    assert gateway.pipeline.reconcile_orphans() == 0


def test_long_message_is_final_when_every_part_is(gateway: Gateway, funded_account):
    [message_id] = queue(gateway, funded_account)
    gateway.pipeline.claim("w1", 10)
    gateway.pipeline.record(
        "w1", [SubmitResult(message_id, carrier_ref="p1", part_refs=("p1", "p2", "p3"))]
    )
    assert status_of(gateway, message_id) == ("SENT", "submitted")
    gateway.pipeline.apply_receipts([Receipt("p1", Status.DELIVERED)])
    gateway.pipeline.apply_receipts([Receipt("p3", Status.DELIVERED)])
    assert status_of(gateway, message_id) == ("SENT", "submitted")  # one part still out
    gateway.pipeline.apply_receipts([Receipt("p2", Status.DELIVERED)])
    assert status_of(gateway, message_id) == ("DELIVERED", "final")


def test_one_failed_part_fails_the_message_and_refunds(gateway: Gateway, funded_account):
    [message_id] = queue(gateway, funded_account)
    gateway.pipeline.claim("w1", 10)
    gateway.pipeline.apply_receipts([Receipt("q2", Status.UNDELIVERABLE, 1, "absent")])  # early
    gateway.pipeline.record(
        "w1", [SubmitResult(message_id, carrier_ref="q1", part_refs=("q1", "q2"))]
    )
    assert status_of(gateway, message_id) == ("UNDELIVERABLE", "final")
    assert gateway.messages.balance(funded_account["account_id"]) == 100


def test_submit_in_doubt_is_neither_resent_nor_failed(gateway: Gateway, funded_account):
    [message_id] = queue(gateway, funded_account)
    gateway.pipeline.claim("w1", 10)
    gateway.pipeline.record("w1", [SubmitResult(message_id, in_doubt=True)])
    assert status_of(gateway, message_id) == ("UNKNOWN", "in_doubt")
    assert asyncio.run(gateway.pipeline.run_once("w2")) == 0
    assert gateway.messages.balance(funded_account["account_id"]) == 99
