"""Kill a real worker process mid-batch (SIGKILL) and show every message delivered exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from smsbridge.app import Gateway
from smsbridge.db.models import Message, SimSubmission
from smsbridge.messages.schemas import BatchIn

pytestmark = pytest.mark.slow

TOTAL = 1500


def start_worker(database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SMSBRIDGE_DATABASE__URL": database_url,
        "SMSBRIDGE_PIPELINE__BATCH_SIZE": "50",
        "SMSBRIDGE_PIPELINE__IN_FLIGHT_TIMEOUT_SECONDS": "1",
        "SMSBRIDGE_PIPELINE__POLL_INTERVAL_SECONDS": "0.05",
        "SMSBRIDGE_CARRIER__SIMULATOR__SUBMIT_DELAY_MS": "60",
        "SMSBRIDGE_CARRIER__SIMULATOR__RECEIPT_DELAY_SECONDS": "0",
        "SMSBRIDGE_CARRIER__SIMULATOR__POLL_INTERVAL_SECONDS": "0.05",
    }
    with open(log, "ab") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "smsbridge", "serve", "--no-http"],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def count(gateway: Gateway, status: str | None = None) -> int:
    statement = select(func.count()).select_from(Message)
    if status:
        statement = statement.where(Message.status == status)
    with gateway.db.read() as session:
        return int(session.scalar(statement) or 0)


def states(gateway: Gateway) -> list[tuple[str, str, int]]:
    with gateway.db.read() as session:
        rows = session.execute(
            select(Message.status, Message.state, func.count()).group_by(
                Message.status, Message.state
            )
        ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def wait_for(gateway: Gateway, predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; messages by status: {states(gateway)}")


def test_sigkill_mid_batch_loses_nothing_and_sends_nothing_twice(
    gateway: Gateway, funded_account, database_url: str, tmp_path: Path
):
    from smsbridge.credits import ledger

    with gateway.db.write() as session:
        ledger.credit(
            session, funded_account["account_id"], 10_000_000, gateway.clock.now(), kind="topup"
        )
    destinations = [f"447400{i:06d}" for i in range(TOTAL)]
    gateway.messages.send_batch(
        funded_account["account_id"],
        BatchIn(sender="Acme", destinations=destinations, content="crash test"),
    )
    # The fixture's clock is fixed in the past; the worker uses the real clock, so everything
    # is due at once.
    log = tmp_path / "worker.log"
    worker = start_worker(database_url, log)
    try:
        wait_for(gateway, lambda: count(gateway, "DELIVERED") >= 200, 60, "the first deliveries")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    delivered_at_kill = count(gateway, "DELIVERED")
    assert delivered_at_kill < TOTAL, "the worker finished before it was killed; test is moot"

    survivor = start_worker(database_url, log)
    try:
        wait_for(
            gateway, lambda: count(gateway, "DELIVERED") == TOTAL, 120, "every message delivered"
        )
    finally:
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(timeout=30)

    with gateway.db.read() as session:
        per_message = session.execute(
            select(SimSubmission.message_ref, func.count())
            .group_by(SimSubmission.message_ref)
            .having(func.count() > 1)
        ).all()
        submitted = session.scalar(select(func.count()).select_from(SimSubmission))
    assert per_message == [], f"submitted twice: {per_message[:5]}"
    assert submitted == TOTAL
    assert count(gateway) == TOTAL
