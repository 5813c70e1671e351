"""A gateway whose API (and so its carrier webhooks) is served on loopback in the test's loop.

Twilio calls back over HTTP, so a test of the Twilio carrier needs the gateway reachable the
way a provider reaches it; everything runs in one event loop, as in `smsbridge serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import uvicorn

from smsbridge.app import Gateway
from smsbridge.credits import ledger
from smsbridge.db.models import Message
from smsbridge.messages.schemas import MessageIn
from tests.conftest import FakeClock, make_settings

SID = "AC" + "1" * 32
TOKEN = "t" * 32
OTHER_SID = "AC" + "2" * 32
OTHER_TOKEN = "u" * 32
NUMBER = "+447700900001"
CUSTOMER = "+447700900123"


# Gateways the carrier tests made, disposed after each test (tests/carriers/conftest.py): a
# PostgreSQL connection left to the garbage collector warns in whichever test runs next.
CREATED: list[Gateway] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def twilio_account(name: str, base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "account_sid": SID,
        "auth_token": TOKEN,
        "numbers": [NUMBER],
        "api_base_url": base_url,
        "timeout_seconds": 5,
        **extra,
    }


def carrier_gateway(
    database_url: str,
    port: int,
    accounts: list[dict[str, Any]],
    *,
    kind: str = "twilio",
    routes: list[dict[str, Any]] | None = None,
    **carrier: Any,
) -> Gateway:
    settings = make_settings(
        database_url,
        http={"port": port, "public_base_url": f"http://127.0.0.1:{port}"},
        carrier={
            "kind": kind,
            "twilio": {"accounts": accounts},
            "routes": routes or [],
            "simulator": {"receipt_delay_seconds": 0},
            **carrier,
        },
        pipeline={"retry_delay_seconds": 0, "max_retry_delay_seconds": 0},
    )
    gateway = Gateway(settings, clock=FakeClock())
    CREATED.append(gateway)
    return gateway


def fund(gateway: Gateway, numbers: tuple[str, ...] = (NUMBER,)) -> str:
    """An account with 100 credits holding `numbers`; its id."""
    account = gateway.accounts.create_account("Acme")
    with gateway.db.write() as session:
        ledger.credit(session, account.id, 100_000, gateway.clock.now(), kind="topup")
    gateway.numbers.add_to_pool(list(numbers))
    for _ in numbers:
        gateway.numbers.assign(account.id)
    return account.id


def send(gateway: Gateway, account_id: str, content: str = "Hello", **fields: Any) -> str:
    request = MessageIn(
        sender=fields.pop("sender", NUMBER.lstrip("+")),
        destination=fields.pop("destination", CUSTOMER.lstrip("+")),
        content=content,
        **fields,
    )
    return str(gateway.messages.send(account_id, request)["messageid"])


def message(gateway: Gateway, message_id: str) -> Message:
    with gateway.db.read() as session:
        row = session.get(Message, message_id)
        assert row is not None
        return row


async def eventually(predicate: Callable[[], bool], timeout: float = 15, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def serving(gateway: Gateway) -> AsyncIterator[None]:
    """The gateway's API on its http.port and its carrier started, in this loop."""
    config = uvicorn.Config(
        gateway.api(),
        host="127.0.0.1",
        port=gateway.settings.http.port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, 20, "the API server")
    await gateway.carrier.start(gateway.pipeline)
    try:
        yield
    finally:
        await gateway.carrier.stop()
        server.should_exit = True
        await task


def submit_round(gateway: Gateway) -> None:
    """One pipeline round (claim, submit, record) with the gateway serving its webhooks."""

    async def main() -> None:
        async with serving(gateway):
            await gateway.pipeline.run_once("w")

    asyncio.run(main())
