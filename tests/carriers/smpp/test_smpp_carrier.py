"""The SMPP carrier against a real SMPP server (the npm `smpp` package): the whole pipeline."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from smsbridge.app import Gateway
from smsbridge.db.models import InboundMessage, Message
from smsbridge.messages.schemas import BatchIn, MessageIn
from smsbridge.segments import encode_gsm7, plan
from tests.carriers.smpp.smpp_peer import SmppPeer, part
from tests.conftest import make_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def peer() -> Iterator[SmppPeer]:
    with SmppPeer() as running:
        yield running


@pytest.fixture
def smpp_gateway(database_url: str, peer: SmppPeer) -> Iterator[Gateway]:
    peer.reset()
    connector: dict[str, Any] = {
        "name": "peer",
        "port": peer.port,
        "system_id": "smsbridge",
        "password": "pw",
        "window_size": 10,
        "enquire_link_seconds": 5,
        "response_timeout_seconds": 3,
        "reconnect_min_seconds": 0.2,
        "reconnect_max_seconds": 1,
        "submit_id_base": "hex",
        "receipt_id_base": "hex",
    }
    settings = make_settings(
        database_url,
        carrier={"kind": "smpp", "smpp": {"connectors": [connector]}},
        pipeline={"poll_interval_seconds": 0.05, "batch_size": 200},
    )
    gateway = Gateway(settings)
    yield gateway
    gateway.db.dispose()


@pytest.fixture
def account(smpp_gateway: Gateway) -> str:
    from smsbridge.credits import ledger

    created = smpp_gateway.accounts.create_account("Acme")
    with smpp_gateway.db.write() as session:
        ledger.credit(session, created.id, 10_000_000, smpp_gateway.clock.now(), kind="topup")
    smpp_gateway.numbers.add_to_pool(["+447700900001"])
    smpp_gateway.numbers.assign(created.id)
    return created.id


def run_until(gateway: Gateway, done: Callable[[], bool], timeout: float = 30) -> None:
    """Run the carrier and one pipeline worker until `done()` (checked off the loop)."""

    async def main() -> None:
        stop = asyncio.Event()
        await gateway.carrier.start(gateway.pipeline)
        worker = asyncio.create_task(gateway.pipeline.run_worker(stop))
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while not await asyncio.to_thread(done):
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(
                        f"timed out; statuses: {statuses(gateway)}; "
                        f"carrier: {getattr(gateway.carrier, 'status', list)()}"
                    )
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await worker
            await gateway.carrier.stop()

    asyncio.run(main())


def statuses(gateway: Gateway) -> dict[str, int]:
    with gateway.db.read() as session:
        rows = session.execute(select(Message.status, func.count()).group_by(Message.status))
        return {status: count for status, count in rows}


def all_final(gateway: Gateway, count: int, status: str = "DELIVERED") -> Callable[[], bool]:
    return lambda: statuses(gateway).get(status, 0) == count


def send(gateway: Gateway, account: str, content: str, destination: str = "447700900123") -> str:
    body = MessageIn(sender="Acme", destination=destination, content=content)
    return str(gateway.messages.send(account, body)["messageid"])


def test_parts_sent_are_the_parts_billed_and_receipts_deliver(smpp_gateway, account, peer):
    texts = ["Short one", "x" * 200, "Emoji 😀 " * 12]
    ids = [send(smpp_gateway, account, t) for t in texts]
    run_until(smpp_gateway, all_final(smpp_gateway, 3))
    submits = peer.state()["submits"]
    with smpp_gateway.db.read() as session:
        billed = {m.id: m.segments for m in session.scalars(select(Message))}
    assert len(submits) == sum(billed[i] for i in ids)
    for text in texts:
        expected = plan(text)
        if expected.segments == 1:
            continue
        udh_parts = [s for s in submits if s["udh"] and s["udh"]["total"] == expected.segments]
        assert udh_parts, f"no concatenated parts for {text[:10]}"
    assert {s["registered_delivery"] for s in submits} == {1}
    assert all(r["status"] == 0 for r in peer.state()["deliver_resps"])


def test_receipt_before_its_submit_response_is_applied(smpp_gateway, account, peer):
    peer.configure(receipt_before_response=True)
    send(smpp_gateway, account, "race")
    run_until(smpp_gateway, all_final(smpp_gateway, 1))


def test_hex_in_response_decimal_in_receipt(smpp_gateway, account, peer):
    smpp_gateway.settings.carrier.smpp.connectors[0].receipt_id_base = "decimal"
    smpp_gateway.carrier = smpp_gateway._carrier()  # rebuilt with the setting
    smpp_gateway.pipeline._carrier = smpp_gateway.carrier
    peer.configure(id_format="hex", receipt_id_format="padded")
    for i in range(3):
        send(smpp_gateway, account, f"id test {i}")
    run_until(smpp_gateway, all_final(smpp_gateway, 3))


def test_throttling_slows_the_connection_without_failing_messages(smpp_gateway, account, peer):
    peer.configure(throttle_next=5, queue_full_next=2)
    for i in range(10):
        send(smpp_gateway, account, f"throttled {i}")
    run_until(smpp_gateway, all_final(smpp_gateway, 10))
    codes = Counter(s["status"] for s in peer.state()["submits"])
    assert codes[0x58] == 5 and codes[0x14] == 2


def test_permanent_refusal_is_rejected_and_refunded(smpp_gateway, account, peer):
    peer.configure(fail_next=1, fail_status=0x0B)
    message_id = send(smpp_gateway, account, "bad destination")
    run_until(smpp_gateway, all_final(smpp_gateway, 1, "REJECTED"))
    with smpp_gateway.db.read() as session:
        message = session.get(Message, message_id)
        assert message is not None and message.failure_code == 0x0B
    assert smpp_gateway.messages.balance(account) == 10_000


def test_dropped_connection_mid_window_sends_nothing_twice(smpp_gateway, account, peer):
    batch = BatchIn(
        sender="Acme", destinations=[f"4474001{i:05d}" for i in range(60)], content="window"
    )
    smpp_gateway.messages.send_batch(account, batch)
    peer.configure(drop_after_submits=25, response_delay_ms=20)

    def settled() -> bool:
        counts = statuses(smpp_gateway)
        return counts.get("DELIVERED", 0) + counts.get("UNKNOWN", 0) == 60

    run_until(smpp_gateway, settled, timeout=60)
    state = peer.state()
    per_destination = Counter(s["destination_addr"] for s in state["submits"])
    assert max(per_destination.values()) == 1, "a message reached the SMSC twice"
    assert len(state["binds"]) >= 2  # it reconnected and carried on
    with smpp_gateway.db.read() as session:
        rows = session.execute(select(Message.destination, Message.status)).all()
    unknown = {d.lstrip("+") for d, status in rows if status == "UNKNOWN"}
    delivered = {d.lstrip("+") for d, status in rows if status == "DELIVERED"}
    # Every message the SMSC answered was delivered exactly once. Those written when the
    # connection died are in doubt (the SMSC may or may not have them: SMPP cannot say), so
    # they are parked as UNKNOWN for an operator instead of being resent as duplicates.
    assert delivered | unknown == {d.lstrip("+") for d, _ in rows}
    assert delivered <= set(per_destination)
    assert 1 <= len(unknown) <= 10  # at most one window
    assert set(per_destination) - delivered <= unknown


def test_inbound_single_and_multipart_in_any_order(smpp_gateway, account, peer):
    text = "Hello from the handset, this is a long reply in three parts. " * 3
    ucs = "Ça va? 😀 " * 10
    gsm_units = encode_gsm7(text)
    chunks = [gsm_units[i : i + 153] for i in range(0, len(gsm_units), 153)]
    gsm_parts = [
        part(bytes([5, 0, 3, 0x2A, len(chunks), n + 1]) + c, esm_class=0x40)
        for n, c in enumerate(chunks)
    ]
    utf16 = ucs.encode("utf-16-be")
    # Split through the middle of a surrogate pair on purpose: it must still join.
    cut = utf16.index("😀".encode("utf-16-be")) + 2
    ucs_parts = [
        part(
            utf16[:cut],
            data_coding=8,
            sar_msg_ref_num=7,
            sar_total_segments=2,
            sar_segment_seqnum=1,
        ),
        part(
            utf16[cut:],
            data_coding=8,
            sar_msg_ref_num=7,
            sar_total_segments=2,
            sar_segment_seqnum=2,
        ),
    ]

    def inbound() -> list[str]:
        with smpp_gateway.db.read() as session:
            return sorted(session.scalars(select(InboundMessage.content)))

    async def noop() -> None:
        return None

    def deliver_all() -> bool:
        if not deliver_all.sent:  # type: ignore[attr-defined]
            binds = peer.state()["binds"]
            if not binds:
                return False
            peer.deliver("447700900123", "447700900001", [part(encode_gsm7("Yes please"))])
            peer.deliver(
                "447700900123",
                "447700900001",
                gsm_parts,
                order=list(reversed(range(len(gsm_parts)))),
            )
            peer.deliver("447700900124", "447700900001", ucs_parts, order=[1, 0])
            deliver_all.sent = True  # type: ignore[attr-defined]
        return len(inbound()) == 3

    deliver_all.sent = False  # type: ignore[attr-defined]
    run_until(smpp_gateway, deliver_all)
    assert inbound() == sorted(["Yes please", text, ucs])
    assert all(r["status"] == 0 for r in peer.state()["deliver_resps"])


def test_a_clean_restart_mid_stream_sends_every_message_exactly_once(smpp_gateway, account, peer):
    batch = BatchIn(
        sender="Acme", destinations=[f"4474002{i:05d}" for i in range(300)], content="restart"
    )
    smpp_gateway.messages.send_batch(account, batch)
    peer.configure(response_delay_ms=5)
    # First life: stop (drain the window, unbind) once some are out, as on SIGTERM.
    run_until(smpp_gateway, lambda: statuses(smpp_gateway).get("DELIVERED", 0) >= 50)
    assert statuses(smpp_gateway).get("DELIVERED", 0) < 300, "finished before the restart"
    # Second life: a new gateway on the same database carries on from the rows.
    restarted = Gateway(smpp_gateway.settings)
    try:
        run_until(restarted, all_final(restarted, 300), timeout=60)
    finally:
        restarted.db.dispose()
    per_destination = Counter(s["destination_addr"] for s in peer.state()["submits"])
    assert len(per_destination) == 300
    assert max(per_destination.values()) == 1


def test_a_long_throttle_hands_the_message_back_instead_of_holding_it(
    smpp_gateway, account, peer, monkeypatch
):
    from smsbridge.carriers.smpp import connector

    monkeypatch.setattr(connector, "THROTTLE_GIVE_UP_SECONDS", 0.5)
    peer.configure(throttle_next=1000)
    message_id = send(smpp_gateway, account, "throttled for ever")

    def handed_back() -> bool:
        with smpp_gateway.db.read() as session:
            message = session.get(Message, message_id)
            return message is not None and message.failure_code == 0x58

    run_until(smpp_gateway, handed_back)
    with smpp_gateway.db.read() as session:
        message = session.get(Message, message_id)
        assert message is not None
        assert (message.status, message.state) == ("ACCEPTED", "queued")  # retried later
        assert message.failure_permanent is False
