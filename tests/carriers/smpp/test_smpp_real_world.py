"""What real SMSCs do to us, on the strict node peer: addresses, validity, retries, in-doubt
messages, duplicate MO, and garbage (each logged with the PDU in hex, nothing lost)."""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from smsbridge.app import Gateway
from smsbridge.carriers.smpp import pdu as p
from smsbridge.credits import ledger
from smsbridge.db.models import (
    InboundMessage,
    Message,
    OrphanReceipt,
    SmppParked,
    WebhookDelivery,
)
from smsbridge.messages.pipeline import valid_until
from smsbridge.messages.schemas import MessageIn
from smsbridge.segments import encode_gsm7
from tests.carriers.smpp.smpp_peer import SmppPeer, part
from tests.conftest import FakeClock, make_settings

pytestmark = pytest.mark.slow

REPLY_NUMBER = "+447700900801"
CUSTOMER = "+447700900123"


@pytest.fixture(scope="module")
def peer() -> Iterator[SmppPeer]:
    with SmppPeer() as running:
        yield running


def build(
    database_url: str, peer: SmppPeer, clock: FakeClock | None = None, **overrides: Any
) -> Gateway:
    connector: dict[str, Any] = {
        "name": "peer",
        "port": peer.port,
        "system_id": "smsbridge",
        "password": "pw",
        "response_timeout_seconds": 3,
        "reconnect_min_seconds": 0.2,
        "reconnect_max_seconds": 0.5,
        "submit_id_base": "hex",
        "receipt_id_base": "hex",
        **overrides,
    }
    settings = make_settings(
        database_url,
        carrier={"kind": "smpp", "smpp": {"connectors": [connector]}},
        pipeline={"poll_interval_seconds": 0.02},
    )
    return Gateway(settings, clock=clock)


@pytest.fixture
def gateway(database_url: str, peer: SmppPeer) -> Iterator[Gateway]:
    peer.reset()
    built = build(database_url, peer)
    yield built
    built.db.dispose()


def fund(gateway: Gateway) -> str:
    account = gateway.accounts.create_account("Acme")
    with gateway.db.write() as session:
        ledger.credit(session, account.id, 1_000_000, gateway.clock.now(), kind="topup")
    gateway.numbers.add_to_pool([REPLY_NUMBER])
    gateway.numbers.assign(account.id)
    return account.id


def send(gateway: Gateway, account: str, content: str, **fields: Any) -> str:
    body = MessageIn(
        **{"sender": REPLY_NUMBER, "destination": CUSTOMER, "content": content, **fields}
    )
    return str(gateway.messages.send(account, body)["messageid"])


def message(gateway: Gateway, message_id: str) -> Message:
    with gateway.db.read() as session:
        found = session.get(Message, message_id)
        assert found is not None
        return found


def run_until(
    gateway: Gateway,
    done: Callable[[], bool],
    timeout: float = 20,
    tick: Callable[[], None] | None = None,
) -> None:
    """Run the carrier and a worker until `done()`; `tick` runs every 20 ms (moves a clock)."""

    async def main() -> None:
        stop = asyncio.Event()
        await gateway.carrier.start(gateway.pipeline)
        worker = asyncio.create_task(gateway.pipeline.run_worker(stop))
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while not await asyncio.to_thread(done):
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"timed out; carrier: {gateway.carrier.status()}")  # type: ignore[attr-defined]
                if tick is not None:
                    tick()
                await asyncio.sleep(0.02)
        finally:
            stop.set()
            await worker
            await gateway.carrier.stop()

    asyncio.run(main())


def relative_seconds(value: str) -> int:
    assert value.endswith("000R"), value
    fields = [int(value[i : i + 2]) for i in range(0, 12, 2)]
    years, months, days, hours, minutes, seconds = fields
    return ((((years * 365 + months * 30 + days) * 24 + hours) * 60) + minutes) * 60 + seconds


# -- addresses ----------------------------------------------------------------------------------


def test_a_reply_numbers_sms_leaves_with_ton1_npi1_and_digits(gateway, peer):
    account = fund(gateway)
    message_id = send(gateway, account, "Table for two at 8")
    run_until(gateway, lambda: message(gateway, message_id).status == "DELIVERED")
    [submit] = peer.state()["submits"]
    assert (submit["source_addr"], submit["source_addr_ton"], submit["source_addr_npi"]) == (
        "447700900801",
        1,
        1,
    )
    assert submit["registered_delivery"] == 1
    assert relative_seconds(submit["validity_period"]) <= 2880 * 60


def raw_submit(peer: SmppPeer, submit: p.SubmitSm) -> int:
    """Bind as a bare ESME, send one submit_sm, return the peer's command_status for it."""

    async def run() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", peer.port)
        bind = p.BindTransceiver(system_id="raw", password="pw")
        writer.write(p.encode(bind, 1) + p.encode(submit, 2))
        framer = p.PduReader()
        try:
            while True:
                for header, _pdu in framer.feed(await reader.read(4096)):
                    if header.command_id == p.CommandId.SUBMIT_SM_RESP:
                        return header.command_status
        finally:
            writer.close()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("source", "ton", "registered_delivery", "status"),
    [
        ("+447700900801", 5, 1, 0x48),  # what we used to send for a Reply Number
        ("447700900801", 5, 1, 0x48),  # digits are a number, not a name
        ("Acme Trading Co", 5, 1, 0x0A),  # a name over 11 characters
        ("+447700900801", 1, 1, 0x0A),  # "+" is not a digit
        ("447700900801", 1, 0, 0x07),  # no receipt asked for, while receipts are expected
        ("447700900801", 1, 1, 0),
        ("Acme", 5, 1, 0),
    ],
)
def test_the_node_peer_refuses_what_real_smscs_refuse(
    peer, source, ton, registered_delivery, status
):
    peer.reset()
    peer.configure(receipts=False)
    submit = p.SubmitSm(
        source_addr=source,
        source_addr_ton=ton,
        source_addr_npi=1 if ton == 1 else 0,
        destination_addr="447700900123",
        dest_addr_ton=1,
        dest_addr_npi=1,
        registered_delivery=registered_delivery,
        short_message=b"x",
    )
    assert raw_submit(peer, submit) == status


# -- validity -----------------------------------------------------------------------------------


def test_validity_one_minute_to_an_always_failing_destination_expires_and_refunds(
    database_url, peer
):
    peer.reset()
    clock = FakeClock()
    gateway = build(database_url, peer, clock)
    try:
        account = fund(gateway)
        balance = gateway.messages.balance(account)
        peer.configure(fail_by_destination={"447700900123": 0x08})  # ESME_RSYSERR, always
        message_id = send(
            gateway, account, "Your code is 1234", validity=1, deliveryreporturl="https://x.test/d"
        )
        row = message(gateway, message_id)
        deadline = valid_until(row.created, row.schedule, row.validity_minutes)
        # The clock runs 50 times faster than the wall: a minute of validity takes ~1.2 s.
        run_until(
            gateway,
            lambda: message(gateway, message_id).state == "final",
            tick=lambda: clock.advance(seconds=1),
        )
        final = message(gateway, message_id)
        assert final.status == "EXPIRED"
        assert timedelta(0) <= final.modified - deadline <= timedelta(seconds=5)
        assert gateway.messages.balance(account) == balance  # refunded
        submits = peer.state()["submits"]
        # It was retried while valid (ESME_RSYSERR: 30 s, then 60 s, which is past validity)
        # and each submit told the SMSC how long the message had left.
        assert [s["status"] for s in submits] == [0x08, 0x08]
        lefts = [relative_seconds(s["validity_period"]) for s in submits]
        assert 50 <= lefts[0] <= 60 and lefts[1] <= lefts[0] - 25
        with gateway.db.read() as session:
            events = [
                w.payload
                for w in session.scalars(
                    select(WebhookDelivery).where(WebhookDelivery.message_id == message_id)
                )
            ]
        assert any(e.get("status") == "EXPIRED" for e in events), events
    finally:
        gateway.db.dispose()


def test_submit_fail_is_permanent_unless_a_connector_override_says_otherwise(database_url, peer):
    peer.reset()
    gateway = build(database_url, peer)
    try:
        account = fund(gateway)
        peer.configure(fail_next=1, fail_status=0x45)
        rejected = send(gateway, account, "refused")
        run_until(gateway, lambda: message(gateway, rejected).status == "REJECTED")
        assert message(gateway, rejected).failure_code == 0x45
        assert [s["status"] for s in peer.state()["submits"]] == [0x45]  # not retried
    finally:
        gateway.db.dispose()
    peer.reset()
    # This SMSC's "submit failed" is known to pass on a second try: the operator says so.
    override = {"ESME_RSUBMITFAIL": {"class": "temporary", "retries": 3, "delay_seconds": 0}}
    retried = build(database_url, peer, errors=override)
    try:
        peer.configure(fail_next=2, fail_status=0x45)
        again = send(retried, account, "passes the third time")
        run_until(retried, lambda: message(retried, again).status == "DELIVERED")
        assert [s["status"] for s in peer.state()["submits"]] == [0x45, 0x45, 0]
    finally:
        retried.db.dispose()


# -- in doubt -----------------------------------------------------------------------------------


def test_an_unreadable_submit_answer_is_in_doubt_until_the_receipt_settles_it(gateway, peer):
    account = fund(gateway)
    peer.configure(garbage_response_next=1)
    message_id = send(gateway, account, "Answered with garbage")
    run_until(gateway, lambda: message(gateway, message_id).status == "DELIVERED")
    [submit] = peer.state()["submits"]
    assert submit["garbage_response"]
    # The SMSC's own id (hex on the wire, decimal as this connector stores it).
    assert message(gateway, message_id).carrier_ref == str(int(submit["message_id"], 16))


def test_an_smsc_restart_leaves_no_unknown_message_whose_receipt_came(gateway, peer):
    account = fund(gateway)
    # Five submits in one window; the SMSC stores the third and goes down before answering
    # any of them. Its receipt comes after the connection is back.
    peer.configure(crash_after_submits=3, response_delay_ms=30)
    ids = [
        send(gateway, account, f"Message number {n}", destination=f"+44770090020{n}")
        for n in range(5)
    ]

    def receipt_back() -> bool:
        return any(
            r["kind"] == "receipt" and r["status"] == 0 for r in peer.state()["deliver_resps"]
        )

    # Resolving waits a moment for the evidence to settle.
    run_until(
        gateway,
        lambda: (
            receipt_back()
            and "SENT" not in statuses(gateway, ids)
            and statuses(gateway, ids).count("DELIVERED") == 1
        ),
    )
    [crashed] = [s for s in peer.state()["submits"] if s.get("crashed")]
    receipted = {
        r["message_id"]
        for r in peer.state()["deliver_resps"]
        if r["kind"] == "receipt" and r["status"] == 0
    }
    assert receipted == {crashed["message_id"]}
    by_destination = {message(gateway, i).destination: message(gateway, i) for i in ids}
    resolved = by_destination["+" + crashed["destination_addr"]]
    assert resolved.status == "DELIVERED"
    assert resolved.carrier_ref == str(int(crashed["message_id"], 16))
    unknown = [m for m in by_destination.values() if m.status == "UNKNOWN"]
    assert len(unknown) == 4
    assert not {m.carrier_ref for m in unknown} & {str(int(i, 16)) for i in receipted}
    report = {r["message"].id: r for r in gateway.pipeline.in_doubt_report()}
    assert all(not entry["likely_held"] for entry in report.values())


def statuses(gateway: Gateway, ids: list[str]) -> list[str]:
    return [message(gateway, i).status for i in ids]


def test_two_in_doubt_messages_one_receipt_stay_for_the_operator_with_the_candidate(gateway, peer):
    account = fund(gateway)
    first, second = (send(gateway, account, "Same words") for _ in range(2))
    now = gateway.clock.now() - timedelta(seconds=10)
    with gateway.db.write() as session:
        for message_id in (first, second):
            row = session.get(Message, message_id)
            assert row is not None
            row.state, row.status, row.submitted_at = "in_doubt", "UNKNOWN", now
        session.add(
            OrphanReceipt(
                carrier_ref="zz1",
                status="DELIVERED",
                received_at=now + timedelta(seconds=3),
                destination=CUSTOMER,
                submitted_at=now.replace(second=0),
                text="Same words",
            )
        )
    gateway.pipeline.reconcile_orphans()  # the receipt has settled: it could be used
    assert {message(gateway, i).state for i in (first, second)} == {"in_doubt"}
    report = {r["message"].id: r for r in gateway.pipeline.in_doubt_report()}
    for message_id in (first, second):
        assert [c["carrier_ref"] for c in report[message_id]["candidates"]] == ["zz1"]
        assert report[message_id]["likely_held"]
        assert "fits 2 in-doubt messages" in report[message_id]["verdict"]


# -- inbound ------------------------------------------------------------------------------------


def inbound(gateway: Gateway) -> list[InboundMessage]:
    with gateway.db.read() as session:
        return list(session.scalars(select(InboundMessage)))


def parked(gateway: Gateway) -> list[SmppParked]:
    with gateway.db.read() as session:
        return list(session.scalars(select(SmppParked)))


def bound(peer: SmppPeer) -> bool:
    return any(s["mode"] for s in peer.state()["open_sessions"])


def test_the_same_mo_after_a_lost_deliver_sm_resp_is_stored_once(gateway, peer):
    fund(gateway)
    sent: list[int] = []

    def deliver_twice() -> bool:
        if not sent and bound(peer):
            for count in (1, 2):
                peer.deliver("447700900123", "447700900801", [part(encode_gsm7("Yes please"))])
                peer.wait_for(lambda s, n=count: len(s["deliver_resps"]) >= n)
                sent.append(count)
        return len(sent) == 2 and len(peer.state()["deliver_resps"]) == 2

    run_until(gateway, deliver_twice)
    assert [m.content for m in inbound(gateway)] == ["Yes please"]
    assert all(r["status"] == 0 for r in peer.state()["deliver_resps"])


def test_garbage_from_the_smsc_is_logged_in_hex_and_the_session_goes_on(database_url, peer, caplog):
    caplog.set_level(logging.WARNING)
    peer.reset()
    clock = FakeClock()  # the unknown code's 30 s retry wait passes in a moment
    gateway = build(database_url, peer, clock)
    account = fund(gateway)
    receipt_without_id = part(b"stat:DELIVRD err:000 text:nothing to match", esm_class=0x04)
    broken_udh = part(bytes([0x09, 0x00, 0x03]) + encode_gsm7("Broken header"), esm_class=0x40)
    body = bytearray(p.encode(p.DeliverSm(source_addr="447700900123", short_message=b"hi"), 77))
    body[-3] = 0xFF  # sm_length past the end: a framed deliver_sm whose body will not decode
    malformed = bytes(body)
    steps: list[str] = []

    def scenario() -> bool:
        if not bound(peer):
            return False
        if not steps:
            peer.deliver("447700900123", "447700900801", [receipt_without_id])
            peer.deliver("447700900123", "447700900801", [broken_udh])
            peer.raw(malformed)
            steps.append("delivered")
        if steps == ["delivered"] and len(parked(gateway)) == 2 and inbound(gateway):
            peer.configure(fail_next=1, fail_status=0x4AB)  # a vendor code nobody documents
            steps.append(send(gateway, account, "After the garbage"))
        if len(steps) == 2 and message(gateway, steps[1]).status == "DELIVERED":
            peer.raw(struct.pack(">I", 3) + b"garbage that is not SMPP")
            steps.append("broken stream")
        if len(steps) == 3:
            return len(peer.state()["binds"]) >= 2 and bound(peer)
        return False

    try:
        run_until(gateway, scenario, timeout=30, tick=lambda: clock.advance(seconds=1))
        check_garbage_outcome(gateway, peer, caplog.text, malformed)
    finally:
        gateway.db.dispose()


def check_garbage_outcome(gateway: Gateway, peer: SmppPeer, text: str, malformed: bytes) -> None:
    reasons = sorted(row.reason for row in parked(gateway))
    assert reasons[0] == "receipt with no message id"
    assert reasons[1].startswith("unreadable deliver_sm")
    assert malformed in [row.raw for row in parked(gateway)]
    [mo] = inbound(gateway)  # the broken UDH is kept as text, not dropped
    assert mo.sender == CUSTOMER and "Broken header" in mo.content
    statuses = [s["status"] for s in peer.state()["submits"]]
    assert statuses == [0x4AB, 0]  # the unknown code was retried, then it went
    answered = {r["status"] for r in peer.state()["deliver_resps"]}
    assert answered == {0}
    assert malformed.hex() in text
    assert "unknown command_status 0x4ab" in text
    assert "broken UDH" in text
    assert (struct.pack(">I", 3) + b"garbage").hex()[:16] in text
    with gateway.db.read() as session:
        assert session.scalar(select(func.count()).select_from(OrphanReceipt)) == 0


def test_a_bind_state_error_rebinds_once_the_window_drains_and_the_message_goes(database_url, peer):
    peer.reset()
    clock = FakeClock()  # the temporary class's 30 s wait passes in a moment
    gateway = build(database_url, peer, clock)
    try:
        account = fund(gateway)
        peer.configure(fail_next=1, fail_status=0x04)  # ESME_RINVBNDSTS
        ids = [send(gateway, account, f"Rebind {n}") for n in range(3)]
        run_until(
            gateway,
            lambda: all(message(gateway, i).status == "DELIVERED" for i in ids),
            tick=lambda: clock.advance(seconds=1),
        )
        state = peer.state()
        assert len(state["binds"]) >= 2  # it bound again
        assert [s["status"] for s in state["submits"]].count(0x04) == 1
        # Nothing was cut off mid-window: no message ended in doubt.
        assert all(message(gateway, i).state == "final" for i in ids)
    finally:
        gateway.db.dispose()
