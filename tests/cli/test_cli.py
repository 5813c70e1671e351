"""The `smsbridge` command, run in-process on a real SQLite file (and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from smsbridge.cli import build_parser, main


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("SMSBRIDGE_DATABASE__URL", database_url)
    monkeypatch.delenv("SMSBRIDGE_CONFIG", raising=False)

    def invoke(*args: str, expect: int = 0) -> Any:
        code = main([*args, "--json"])
        out, err = capsys.readouterr()
        assert code == expect, err
        return json.loads(out) if code == 0 else err

    return invoke


def test_account_key_credit_and_numbers(run):
    account = run("account", "create", "Acme", "--credits", "10")
    assert account["api_key"].startswith("smsb_")
    second = run("account", "key", account["account_id"], "--name", "ci")
    assert second["api_key"] != account["api_key"]
    keys = run("account", "keys", account["account_id"])
    assert {k["name"] for k in keys} == {"default", "ci"}
    assert all("api_key" not in k for k in keys)  # never shown again
    run("account", "revoke", account["account_id"], second["key_id"])
    assert run("account", "credit", account["account_id"], "5")["credits"] == 15
    added = run("numbers", "add", "447700900001", "+447700900002")
    assert added["added"] == ["+447700900001", "+447700900002"]
    assigned = run("numbers", "assign", account["account_id"])
    assert assigned["number"] == "+447700900001"
    listed = run("numbers", "list", "--account", account["account_id"])
    assert [n["number"] for n in listed] == ["+447700900001"]


def test_send_then_the_handset_inbox_and_a_scripted_outcome(run):
    account = run("account", "create", "Acme", "--credits", "10")
    run("handset", "outcome", "447700900999", "undeliverable")
    sent = run(
        "send",
        "--account",
        account["account_id"],
        "--from",
        "Acme",
        "--to",
        "447700900999",
        "hello",
    )
    assert sent["status"] == "SENT"  # the send API's word, as The SMS Works answers
    assert run("handset", "inbox", "447700900999") == []  # not through the pipeline yet


def test_handset_reply_is_stored(run):
    account = run("account", "create", "Acme")
    run("numbers", "add", "447700900001")
    run("numbers", "assign", account["account_id"])
    stored = run("handset", "reply", "--from", "447700900123", "--to", "447700900001", "Hi")
    assert stored["inbound_id"]


def test_errors_are_clear_and_exit_non_zero(run):
    error = run("account", "credit", "no-such-account", "5", expect=1)
    assert "ACCOUNT_NOT_FOUND" in error
    error = run("numbers", "assign", run("account", "create", "A")["account_id"], expect=1)
    assert "POOL_EMPTY" in error


def test_config_show_lists_value_default_and_variable(run):
    rows = {r["name"]: r for r in run("config", "show")}
    assert rows["http.port"]["env"] == "SMSBRIDGE_HTTP__PORT"
    assert rows["http.port"]["default"] == 8080
    assert rows["database.url"]["value"] != rows["database.url"]["default"]


@pytest.mark.parametrize(
    "command",
    [
        ["serve"],
        ["migrate"],
        ["account", "create"],
        ["account", "key"],
        ["account", "credit"],
        ["numbers", "add"],
        ["send"],
        ["handset", "reply"],
        ["handset", "inbox"],
        ["config", "show"],
    ],
)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: smsbridge" in capsys.readouterr().out


def test_in_doubt_messages_can_be_listed_resent_or_closed(run, gateway):
    from smsbridge.carriers.base import SubmitResult
    from smsbridge.credits import ledger
    from smsbridge.messages.schemas import BatchIn

    account = gateway.accounts.create_account("Acme")
    with gateway.db.write() as session:
        ledger.credit(session, account.id, 10_000, gateway.clock.now(), kind="topup")
    gateway.messages.send_batch(
        account.id,
        BatchIn(sender="Acme", destinations=["447700900123", "447700900124"], content="hi"),
    )
    claimed = gateway.pipeline.claim("w", 10)
    gateway.pipeline.record("w", [SubmitResult(s.message_id, in_doubt=True) for s in claimed])
    listed = run("messages", "in-doubt")
    assert len(listed) == 2
    first, second = (row["messageid"] for row in listed)
    assert run("messages", "resend", first)["settled"] == 1
    assert run("messages", "close", second)["settled"] == 1
    assert run("messages", "in-doubt") == []
    assert gateway.messages.balance(account.id) == 9  # the closed one was refunded


def test_in_doubt_shows_the_receipts_that_fit_and_parked_pdus_are_listed(run, gateway):
    from datetime import timedelta

    from smsbridge.carriers.base import Receipt, SubmitResult
    from smsbridge.credits import ledger
    from smsbridge.db.models import SmppParked
    from smsbridge.messages.schemas import MessageIn
    from smsbridge.messages.status import Status

    account = gateway.accounts.create_account("Acme")
    with gateway.db.write() as session:
        ledger.credit(session, account.id, 10_000, gateway.clock.now(), kind="topup")
    for _ in range(2):  # two alike: one receipt cannot say which it is
        gateway.messages.send(
            account.id, MessageIn(sender="Acme", destination="447700900123", content="Same")
        )
    claimed = gateway.pipeline.claim("w", 10)
    gateway.pipeline.record("w", [SubmitResult(s.message_id, in_doubt=True) for s in claimed])
    gateway.pipeline.apply_receipts(
        [
            Receipt(
                "77",
                Status.DELIVERED,
                destination="+447700900123",
                submitted_at=gateway.clock.now().replace(second=0),
                text="Same",
            )
        ]
    )
    gateway.clock.advance(seconds=10)  # type: ignore[attr-defined]
    gateway.pipeline.reconcile_orphans()
    listed = run("messages", "in-doubt")
    assert len(listed) == 2
    for row in listed:
        assert [c["carrier_ref"] for c in row["candidate_receipts"]] == ["77"]
        assert row["likely_held"] and "choose by hand" in row["verdict"]
    with gateway.db.write() as session:
        session.add(
            SmppParked(
                connector="smsc",
                reason="receipt with no message id",
                raw=b"\x00\x01",
                received_at=gateway.clock.now() - timedelta(seconds=1),
            )
        )
    [parked] = run("messages", "parked")
    assert (parked["reason"], parked["hex"]) == ("receipt with no message id", "0001")
