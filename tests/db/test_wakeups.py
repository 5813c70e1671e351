"""Workers wake when this process commits work for them, instead of waiting out their poll."""

from __future__ import annotations

import asyncio
import contextlib
from email.message import EmailMessage

from sqlalchemy import func, select
from tests.conftest import FakeClock, make_settings

from smsbridge.app import Gateway
from smsbridge.credits import ledger
from smsbridge.db.engine import (
    EMAILS_QUEUED,
    MESSAGES_QUEUED,
    Database,
    announce_after_commit,
)
from smsbridge.db.models import Message
from smsbridge.mail.outbox import Outbox, enqueue_email
from smsbridge.mail.ports import OutgoingEmail
from smsbridge.messages.schemas import MessageIn
from smsbridge.messages.status import State
from smsbridge.settings import MailOutSettings

# Far longer than any test waits: a worker that is not woken never polls in time.
NEVER = 3600.0
PATIENCE = 30.0  # how long a test waits for what a wake-up should bring at once


class Recorder:
    """A mail transport that keeps what it was given."""

    name = "recorder"

    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []
        self.arrived = asyncio.Event()

    async def send(self, email: OutgoingEmail) -> None:
        self.sent.append(email)
        self.arrived.set()

    async def close(self) -> None:
        return None


def _email(number: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "sms@sms.example.com"
    message["To"] = "team@acme.example"
    message["Subject"] = f"Email {number}"
    message.set_content("hello")
    return message


async def _settle() -> None:
    # Callbacks a commit scheduled with call_soon_threadsafe run within a loop iteration or two.
    for _ in range(3):
        await asyncio.sleep(0)


def test_only_a_committed_announcement_of_the_topic_wakes_its_listener(
    database_url: str,
) -> None:
    db = Database(database_url)

    async def scenario() -> None:
        with db.woken_by(EMAILS_QUEUED) as woken:
            with contextlib.suppress(RuntimeError), db.write() as session:
                announce_after_commit(session, EMAILS_QUEUED)
                raise RuntimeError("rolled back")
            await _settle()
            assert not woken.is_set(), "a rolled-back transaction queued nothing"

            with db.write() as session:
                announce_after_commit(session, MESSAGES_QUEUED)
            await _settle()
            assert not woken.is_set(), "another topic's work is not this listener's"

            with db.write() as session:
                announce_after_commit(session, EMAILS_QUEUED)
            await asyncio.wait_for(woken.wait(), PATIENCE)

        # Once its block ends the listener is gone: announcing again reaches nobody, fails not.
        with db.write() as session:
            announce_after_commit(session, EMAILS_QUEUED)

    try:
        asyncio.run(scenario())
    finally:
        db.dispose()


def test_the_outbox_sends_an_email_queued_in_this_process_without_waiting_for_its_poll(
    gateway: Gateway, clock: FakeClock
) -> None:
    transport = Recorder()
    outbox = Outbox(gateway.db, clock, transport, MailOutSettings(poll_interval_seconds=NEVER))

    def queue(number: int) -> None:
        with gateway.db.write() as session:
            enqueue_email(
                session,
                _email(number),
                kind="notice",
                envelope_sender="sms@sms.example.com",
                now=clock.now(),
                signer=None,
            )

    async def scenario() -> None:
        stop = asyncio.Event()
        worker = asyncio.create_task(outbox.run(stop))
        try:
            for number in (1, 2):
                transport.arrived.clear()
                await asyncio.to_thread(queue, number)
                await asyncio.wait_for(transport.arrived.wait(), PATIENCE)
                # The round that sent it found the queue empty and now waits for NEVER seconds.
                await asyncio.sleep(0.2)
        finally:
            stop.set()
            await worker

    asyncio.run(scenario())
    assert len(transport.sent) == 2


def test_the_pipeline_submits_a_message_queued_in_this_process_without_waiting_for_its_poll(
    database_url: str, clock: FakeClock
) -> None:
    gateway = Gateway(
        make_settings(
            database_url,
            pipeline={"poll_interval_seconds": NEVER},
            carrier={"simulator": {"receipt_delay_seconds": 0}},
        ),
        clock=clock,
    )
    account = gateway.accounts.create_account("Acme")
    with gateway.db.write() as session:
        ledger.credit(session, account.id, 100_000, clock.now(), kind="topup")
    gateway.numbers.add_to_pool(["+447700900001"])
    gateway.numbers.assign(account.id)

    def submitted() -> int:
        with gateway.db.read() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(Message)
                    .where(Message.state != State.QUEUED.value)
                )
                or 0
            )

    async def until_submitted(count: int) -> None:
        while await asyncio.to_thread(submitted) < count:
            await asyncio.sleep(0.05)

    async def scenario() -> None:
        stop = asyncio.Event()
        worker = asyncio.create_task(gateway.pipeline.run_worker(stop))
        try:
            for count in (1, 2):
                await asyncio.to_thread(
                    gateway.messages.send,
                    account.id,
                    MessageIn(
                        sender="+447700900001",
                        destination="+447700900123",
                        content=f"Message {count}",
                    ),
                )
                await asyncio.wait_for(until_submitted(count), PATIENCE)
                await asyncio.sleep(0.2)  # the worker's next round is empty: it waits NEVER
        finally:
            stop.set()
            await worker

    try:
        asyncio.run(scenario())
    finally:
        gateway.db.dispose()
