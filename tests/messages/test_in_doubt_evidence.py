"""In-doubt messages settled by the carrier's own receipts, on both databases."""

from __future__ import annotations

from smsbridge.app import Gateway
from smsbridge.carriers.base import Receipt, SubmitResult
from smsbridge.db.models import Message
from smsbridge.messages.schemas import MessageIn
from smsbridge.messages.status import Status

TO = "+447700900123"


def send(gateway: Gateway, account: dict[str, str], content: str) -> str:
    body = MessageIn(sender="Acme", destination=TO, content=content)
    return str(gateway.messages.send(account["account_id"], body)["messageid"])


def row(gateway: Gateway, message_id: str) -> Message:
    with gateway.db.read() as session:
        found = session.get(Message, message_id)
        assert found is not None
        return found


def in_doubt(gateway: Gateway) -> list[str]:
    claimed = gateway.pipeline.claim("w", 10)
    gateway.pipeline.record("w", [SubmitResult(s.message_id, in_doubt=True) for s in claimed])
    return [s.message_id for s in claimed]


def receipt(gateway: Gateway, ref: str, status: Status, text: str) -> Receipt:
    return Receipt(
        ref,
        status,
        1 if status != Status.DELIVERED else None,
        destination=TO,
        submitted_at=gateway.clock.now().replace(second=0),
        text=text,
    )


def test_a_receipt_that_fits_one_in_doubt_message_settles_it(
    gateway: Gateway, funded_account, clock
):
    delivered = send(gateway, funded_account, "Your table is booked for 8")
    [doubt] = in_doubt(gateway)
    assert doubt == delivered and row(gateway, delivered).status == "UNKNOWN"
    gateway.pipeline.apply_receipts([receipt(gateway, "9001", Status.DELIVERED, "Your table is")])
    gateway.pipeline.reconcile_orphans()
    assert row(gateway, delivered).status == "UNKNOWN"  # too fresh to be evidence yet
    clock.advance(seconds=3)
    gateway.pipeline.reconcile_orphans()
    settled = row(gateway, delivered)
    assert (settled.status, settled.state, settled.carrier_ref) == ("DELIVERED", "final", "9001")


def test_an_undeliverable_receipt_settles_and_refunds(gateway: Gateway, funded_account, clock):
    message_id = send(gateway, funded_account, "Hello")
    in_doubt(gateway)
    gateway.pipeline.apply_receipts([receipt(gateway, "9002", Status.UNDELIVERABLE, "Hello")])
    clock.advance(seconds=3)
    gateway.pipeline.reconcile_orphans()
    assert row(gateway, message_id).status == "UNDELIVERABLE"
    assert gateway.messages.balance(funded_account["account_id"]) == 100


def test_a_receipt_is_no_evidence_while_a_submit_to_that_handset_is_unanswered(
    gateway: Gateway, funded_account, clock
):
    doubtful = send(gateway, funded_account, "Same text")
    in_doubt(gateway)
    later = send(gateway, funded_account, "Same text")
    [claimed] = gateway.pipeline.claim("w2", 10)  # submitted; its answer not recorded yet
    # Its receipt beats the answer by more than the settling time (a busy carrier).
    gateway.pipeline.apply_receipts([receipt(gateway, "9003", Status.DELIVERED, "Same text")])
    clock.advance(seconds=5)
    gateway.pipeline.reconcile_orphans()
    assert row(gateway, doubtful).status == "UNKNOWN"  # not given the other message's receipt
    gateway.pipeline.record("w2", [SubmitResult(claimed.message_id, carrier_ref="9003")])
    assert row(gateway, later).status == "DELIVERED"
    gateway.pipeline.reconcile_orphans()
    assert row(gateway, doubtful).status == "UNKNOWN"
