"""A customer switching from The SMS Works changes only the base URL and the key.

The client here is not ours: OpenAPI Generator (the generator The SMS Works' own SDKs come
from) builds a strict Python client from their OpenAPI document at test time, and that client
calls every one of the document's 21 operations against a real gateway process's API. Its
models refuse a wrong type, a missing required field or an undeclared status code.
"""

from __future__ import annotations

import asyncio
import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from smsbridge.app import Gateway
from smsbridge.carriers.base import InboundSms
from smsbridge.messages import wire

PACKAGE = "smsworks_client"


@pytest.fixture(scope="session")
def generated(
    smsworks_spec: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleType]:
    generator = Path(sys.executable).with_name("openapi-generator-cli")
    if shutil.which("java") is None:
        pytest.skip("OpenAPI Generator needs a Java runtime (scripts/test installs one).")
    out = tmp_path_factory.mktemp("generated-client")
    subprocess.run(
        [
            str(generator),
            "generate",
            "--input-spec",
            str(smsworks_spec),
            "--generator-name",
            "python",
            "--output",
            str(out),
            "--package-name",
            PACKAGE,
            "--global-property",
            "apiTests=false,modelTests=false,apiDocs=false,modelDocs=false",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture
def sdk(generated: ModuleType, live_api: str, funded_account: dict[str, str]) -> Iterator[Any]:
    configuration = generated.Configuration(
        host=live_api + "/v1", api_key={"JWT": funded_account["key"]}
    )
    with generated.ApiClient(configuration) as client:
        yield client


def later(gateway: Gateway, **delta: float) -> str:
    return wire.js_date(gateway.clock.now() + timedelta(**delta), ZoneInfo("Europe/London"))


def test_the_generated_client_calls_every_operation(
    generated: ModuleType, sdk: Any, gateway: Gateway, funded_account: dict[str, str]
) -> None:
    sw = generated
    messages = sw.MessagesApi(sdk)
    batches = sw.BatchMessagesApi(sdk)
    otp = sw.OneTimePasswordApi(sdk)
    gateway.handsets.set_outcome("+447700900666", "undeliverable")

    message = sw.Message(
        sender="YourCompany", destination="447777777777", content="Hello", tag="Summer"
    )
    sent = messages.message_send_post(message)
    assert isinstance(sent, sw.SendMessageResponse)
    assert (sent.status, sent.credits_used) == ("SENT", 1)
    flash = messages.send_flash_message(message)
    [scheduled] = messages.message_schedule_post(
        sw.Message(
            sender="YourCompany",
            destination="447777777777",
            content="Later",
            schedule=later(gateway, hours=3),
        )
    )
    failing = messages.message_send_post(
        sw.Message(sender=funded_account["number"][1:], destination="447700900666", content="x")
    )

    async def pump() -> None:
        await gateway.pipeline.run_once("sdk-worker")
        await gateway.carrier.deliver_due_receipts(gateway.pipeline)  # type: ignore[attr-defined]

    asyncio.run(pump())
    gateway.inbound.receive(
        InboundSms("sdk-in-1", "+447700900123", funded_account["number"], "OK", gateway.clock.now())
    )

    record = messages.messages_messageid_get(sent.messageid)
    assert isinstance(record, sw.MessageResponse)
    assert (record.destination, record.status, record.tag) == (447777777777, "DELIVERED", "Summer")
    found = messages.messages_post(sw.Query(destination="+44 7777 777777", limit=1000))
    assert {m.messageid for m in found} >= {sent.messageid, flash.messageid}
    [failed] = messages.messages_failed_post(sw.Query())
    assert failed.messageid == failing.messageid and failed.failurereason.permanent is True
    [incoming] = messages.messages_inbox_post(sw.Query(unread=True))
    assert (incoming.content, incoming.status) == ("OK", "INCOMING")
    listing = messages.messages_schedule_get()
    assert (listing.id, listing.status, listing.batch) == (scheduled.messageid, "SCHEDULED", False)
    cancelled = messages.messages_schedule_messageid_delete(scheduled.messageid)
    assert cancelled.status == "CANCELLED"
    deleted = messages.messages_messageid_delete(flash.messageid)
    assert deleted.status == "DELETED"

    batch = batches.batch_send_post(
        sw.BatchMessage(
            sender="YourCompany", destinations=["447777777777", "447777777778"], content="Hi all"
        )
    )
    assert len(batches.batch_batchid_get(batch.batchid)) == 2
    mixed = batches.batch_any_post(
        {"messages": [{"sender": "YourCompany", "destination": "447777777777", "content": "a"}]}
    )
    assert mixed.batchid
    planned = batches.batch_schedule_post(
        sw.BatchMessage(
            sender="YourCompany",
            destinations=["447777777777"],
            content="Soon",
            schedule=later(gateway, days=2),
        )
    )
    assert planned.status == "SCHEDULED"
    assert batches.batches_schedule_batchid_delete(planned.batchid).status == "CANCELLED"

    code = otp.otp_send_post(
        sw.OTP(sender="YourCompany", destination="447777777777", passcode="4321", length={})
    )
    assert otp.otp_messageid_get(code.messageid).status == "SENT"
    verified = otp.otp_verify_post(sw.OTPVerify(passcode="4321"))
    assert (verified.status, verified.passcode) == ("VERIFIED", 4321)

    assert sw.CreditsApi(sdk).credits_balance_get().credits == gateway.messages.balance(
        funded_account["account_id"]
    )
    utils = sw.UtilsApi(sdk)
    assert funded_account["account_id"] in utils.utils_test_get().message
    sample = utils.utils_errors_errorcode_get("INSUFFICIENT_CREDIT")
    assert (sample.error_code, sample.permanent) == (3000, False)


def test_the_generated_client_reads_our_errors(
    generated: ModuleType, sdk: Any, gateway: Gateway
) -> None:
    sw = generated
    messages = sw.MessagesApi(sdk)
    with pytest.raises(sw.ApiException) as refused:
        messages.message_send_post(
            sw.Message(sender="YourCompany", destination="12ab", content="x")
        )
    error = sw.ExtendedErrorModel.from_json(refused.value.body)
    assert (refused.value.status, error.status, error.permanent) == (
        400,
        "INVALID_DESTINATION",
        True,
    )

    poor = gateway.accounts.create_account("Poor")
    sdk.configuration.api_key["JWT"] = gateway.accounts.create_key(poor.id).key
    with pytest.raises(sw.ApiException) as broke:
        messages.message_send_post(
            sw.Message(sender="YourCompany", destination="447777777777", content="x")
        )
    error = sw.ExtendedErrorModel.from_json(broke.value.body)
    assert (broke.value.status, error.error_code, error.permanent) == (402, 3000, False)
    with pytest.raises(sw.ApiException) as missing:
        messages.messages_messageid_get("no-such-message")
    assert missing.value.status == 404
    assert sw.ErrorModel.from_json(missing.value.body).message
