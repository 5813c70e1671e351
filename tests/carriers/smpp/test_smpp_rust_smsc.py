"""The SMPP carrier against a second, independent SMSC: smpp34 (Rust), run as its own process.

Our node peer and our carrier were written by the same people; this SMSC was not. It decodes
our PDUs with its own codec, refuses what real SMSCs refuse (a number sent as TON 5, a name over
11 characters, "+" in a number, a submit without registered_delivery), keeps what it accepted
in a store that outlives a crash, and is restarted for real (the process is killed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from smsbridge.app import Gateway
from smsbridge.carriers.base import Submission
from smsbridge.carriers.smpp import pdu as p
from smsbridge.carriers.smpp.connector import Connector
from smsbridge.credits import ledger
from smsbridge.db.models import InboundMessage, Message
from smsbridge.messages.schemas import MessageIn
from smsbridge.segments import encode_gsm7
from smsbridge.settings import SmppConnectorSettings
from tests.carriers.smpp.rust_smsc import RustSmsc
from tests.conftest import FakeClock, make_settings

pytestmark = pytest.mark.slow

REPLY_NUMBER = "+447700900801"
CUSTOMER = "+447700900123"


@pytest.fixture
def smsc(tmp_path: Path) -> Iterator[RustSmsc]:
    with RustSmsc(tmp_path) as running:
        yield running


def build_gateway(database_url: str, port: int, **connector: Any) -> Gateway:
    settings = make_settings(
        database_url,
        carrier={
            "kind": "smpp",
            "smpp": {
                "connectors": [
                    {
                        "name": "rust",
                        "port": port,
                        "system_id": "smsbridge",
                        "password": "pw",
                        "response_timeout_seconds": 3,
                        "reconnect_min_seconds": 0.2,
                        "reconnect_max_seconds": 0.5,
                        **connector,
                    }
                ]
            },
        },
        pipeline={"poll_interval_seconds": 0.05},
    )
    return Gateway(settings)


@pytest.fixture
def gateway(database_url: str, smsc: RustSmsc) -> Iterator[Gateway]:
    built = build_gateway(database_url, smsc.port)
    yield built
    built.db.dispose()


def fund(gateway: Gateway) -> str:
    account = gateway.accounts.create_account("Acme")
    with gateway.db.write() as session:
        ledger.credit(session, account.id, 1_000_000, gateway.clock.now(), kind="topup")
    gateway.numbers.add_to_pool([REPLY_NUMBER])
    gateway.numbers.assign(account.id)
    return account.id


def send(gateway: Gateway, account: str, sender: str, content: str, to: str = CUSTOMER) -> str:
    body = MessageIn(sender=sender, destination=to, content=content)
    return str(gateway.messages.send(account, body)["messageid"])


def message(gateway: Gateway, message_id: str) -> Message:
    with gateway.db.read() as session:
        found = session.get(Message, message_id)
        assert found is not None
        return found


def run_until(gateway: Gateway, done: Callable[[], bool], timeout: float = 20) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        await gateway.carrier.start(gateway.pipeline)
        worker = asyncio.create_task(gateway.pipeline.run_worker(stop))
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while not await asyncio.to_thread(done):
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"timed out; carrier: {gateway.carrier.status()}")  # type: ignore[attr-defined]
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await worker
            await gateway.carrier.stop()

    asyncio.run(main())


def test_a_reply_numbers_sms_leaves_as_ton1_npi1_digits_and_is_delivered(gateway, smsc):
    account = fund(gateway)
    by_number = send(gateway, account, REPLY_NUMBER, "Your table is booked")
    by_name = send(gateway, account, "Acme", "Hello from a name")
    run_until(
        gateway,
        lambda: {message(gateway, i).status for i in (by_number, by_name)} == {"DELIVERED"},
    )
    submits = {s["short_message"]: s for s in smsc.state()["submits"]}
    number = submits[encode_gsm7("Your table is booked").hex()]
    assert (number["source_addr"], number["source_addr_ton"], number["source_addr_npi"]) == (
        "447700900801",
        1,
        1,
    )
    assert (number["destination_addr"], number["dest_addr_ton"], number["dest_addr_npi"]) == (
        "447700900123",
        1,
        1,
    )
    assert number["registered_delivery"] == 1 and number["status"] == 0
    name = submits[encode_gsm7("Hello from a name").hex()]
    assert (name["source_addr"], name["source_addr_ton"], name["source_addr_npi"]) == ("Acme", 5, 0)


def test_the_strict_smsc_refuses_a_number_sent_as_an_alphanumeric_sender(database_url, smsc):
    # What smsbridge used to send for a Reply Number: the SMSC must refuse it, and the message
    # must end REJECTED and refunded, not retried.
    gateway = build_gateway(database_url, smsc.port, ton_npi={"international": [5, 0]})
    try:
        account = fund(gateway)
        message_id = send(gateway, account, REPLY_NUMBER, "old behaviour")
        run_until(gateway, lambda: message(gateway, message_id).status == "REJECTED")
        assert message(gateway, message_id).failure_code == 0x48  # ESME_RINVSRCTON
        assert gateway.messages.balance(account) == 1_000
        assert [s["status"] for s in smsc.state()["submits"]] == [0x48]
    finally:
        gateway.db.dispose()


def test_an_smsc_restart_between_submit_and_answer_leaves_no_message_unknown(gateway, smsc):
    account = fund(gateway)
    smsc.configure(crash_on_submit=1)
    crashed = send(gateway, account, REPLY_NUMBER, "Stored, then the SMSC died", "+447700900124")

    def in_doubt() -> bool:
        return message(gateway, crashed).state == "in_doubt"

    async def main() -> None:
        stop = asyncio.Event()
        await gateway.carrier.start(gateway.pipeline)
        worker = asyncio.create_task(gateway.pipeline.run_worker(stop))
        try:
            deadline = asyncio.get_running_loop().time() + 20
            while not await asyncio.to_thread(in_doubt):
                assert asyncio.get_running_loop().time() < deadline, "never in doubt"
                await asyncio.sleep(0.05)
            assert message(gateway, crashed).status == "UNKNOWN"
            assert await asyncio.to_thread(smsc.wait_exit) == 3  # it died before answering
            await asyncio.to_thread(smsc.restart)
            # After the restart, more traffic; and the stored message's receipt comes back.
            later = await asyncio.to_thread(
                send, gateway, account, REPLY_NUMBER, "After the restart", "+447700900125"
            )
            while {message(gateway, crashed).status, message(gateway, later).status} != {
                "DELIVERED"
            }:
                assert asyncio.get_running_loop().time() < deadline + 20, "never delivered"
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await worker
            await gateway.carrier.stop()

    asyncio.run(main())
    state = smsc.state()
    [stored_crashed] = [m for m in state["stored"] if m["destination_addr"] == "447700900124"]
    assert stored_crashed["receipt_sent"]
    # The in-doubt message took the SMSC's own id from its receipt.
    assert message(gateway, crashed).carrier_ref == stored_crashed["message_id"].lower()
    with gateway.db.read() as session:
        unknown = list(session.scalars(select(Message).where(Message.status == "UNKNOWN")))
    receipted = {"+" + m["destination_addr"] for m in state["stored"] if m["receipt_sent"]}
    assert not [m for m in unknown if m.destination in receipted]


def test_the_same_mo_twice_is_stored_once_and_national_format_is_the_same_handset(gateway, smsc):
    fund(gateway)

    def inbound() -> list[InboundMessage]:
        with gateway.db.read() as session:
            return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))

    async def main() -> None:
        await gateway.carrier.start(gateway.pipeline)
        try:
            await asyncio.to_thread(smsc.wait_for, lambda s: s["bound"])
            text = encode_gsm7("Can we make it 8pm?")
            for _ in range(2):  # the SMSC resends: it never saw our deliver_sm_resp
                status = await asyncio.to_thread(smsc.deliver, "447700900123", "447700900801", text)
                assert status == 0
            # The same customer, written nationally (TON 2), says something else.
            status = await asyncio.to_thread(
                smsc.deliver,
                "07700900123",
                "447700900801",
                encode_gsm7("See you then"),
                source_addr_ton=2,
            )
            assert status == 0
        finally:
            await gateway.carrier.stop()

    asyncio.run(main())
    stored = inbound()
    assert sorted(m.content for m in stored) == ["Can we make it 8pm?", "See you then"]
    assert {m.sender for m in stored} == {CUSTOMER}
    assert {m.reply_number for m in stored} == {REPLY_NUMBER}
    conversations = {m.conversation_id for m in stored}
    assert len(conversations) == 1 and None not in conversations


# -- our encoding, read by smpp34's own codec ---------------------------------------------------


def decoded(connector: Connector, submission: Submission, now: Any) -> list[Any]:
    smpp34 = pytest.importorskip("smpp34")
    return [smpp34.decode(p.encode(part, 1)) for part in connector.submit_sms(submission, now)]


def submission(**fields: Any) -> Submission:
    defaults: dict[str, Any] = {
        "message_id": "m1",
        "sender": REPLY_NUMBER,
        "destination": CUSTOMER,
        "content": "Hello",
        "encoding": "GSM7",
        "segments": 1,
    }
    return Submission(**{**defaults, **fields})


async def _noop(message: p.DeliverSm, raw: bytes) -> int:
    return 0


def test_validity_addresses_and_data_coding_as_another_codec_reads_them():
    clock = FakeClock()
    now = clock.now()
    from datetime import timedelta

    relative = Connector(SmppConnectorSettings(), _noop, clock=clock)
    [pdu] = decoded(relative, submission(valid_until=now + timedelta(minutes=90)), now)
    assert pdu.validity_period == "000000013000000R"
    assert (pdu.source_addr, pdu.source_addr_ton, pdu.source_addr_npi) == ("447700900801", 1, 1)
    assert (pdu.destination_addr, pdu.dest_addr_ton, pdu.dest_addr_npi) == ("447700900123", 1, 1)
    assert pdu.registered_delivery == 1 and pdu.data_coding == 0

    absolute = Connector(
        SmppConnectorSettings(validity_format="absolute", number_format="national"),
        _noop,
        clock=clock,
    )
    until = now + timedelta(minutes=5)
    [pdu] = decoded(absolute, submission(valid_until=until, flash=True), now)
    assert pdu.validity_period == until.strftime("%y%m%d%H%M%S") + "000+"
    assert (pdu.source_addr, pdu.source_addr_ton, pdu.source_addr_npi) == ("07700900801", 2, 1)
    assert pdu.data_coding == 0x10  # GSM-7, message class 0

    [pdu] = decoded(relative, submission(content="Привет", flash=True), now)
    assert pdu.data_coding == 0x18 and pdu.short_message == "Привет".encode("utf-16-be")

    latin = Connector(SmppConnectorSettings(gsm7_data_coding=3), _noop, clock=clock)
    [pdu] = decoded(latin, submission(content="Café £5", sender="Acme"), now)
    assert pdu.data_coding == 3 and pdu.short_message == "Café £5".encode("latin-1")
    assert (pdu.source_addr, pdu.source_addr_ton, pdu.source_addr_npi) == ("Acme", 5, 0)
