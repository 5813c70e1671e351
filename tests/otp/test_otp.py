"""One-time passcodes on real databases: sent and billed as SMS, verified once, expiring,
attempts limited, never stored in clear, never another account's."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from tests.conftest import FakeClock

from smsbridge.app import Gateway
from smsbridge.credits import ledger
from smsbridge.db.models import Message, OneTimePasscode
from smsbridge.errors import ServiceError
from smsbridge.otp import codes
from smsbridge.otp.service import OtpIn, OtpVerifyIn


def send(gateway: Gateway, account_id: str, **fields: Any) -> dict[str, Any]:
    body = {"sender": "Acme", "destination": "447700900123", **fields}
    return gateway.otp.send(account_id, OtpIn(**body))


def verify(gateway: Gateway, account_id: str, passcode: str, **fields: Any) -> dict[str, Any]:
    return gateway.otp.verify(account_id, OtpVerifyIn(passcode=passcode, **fields))


def sms_text(gateway: Gateway, message_id: str) -> str:
    with gateway.db.read() as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message.content


def test_a_passcode_goes_out_as_a_billed_sms_and_only_its_digest_is_kept(
    gateway: Gateway, funded_account: dict[str, str]
) -> None:
    account = funded_account["account_id"]
    sent = send(gateway, account, template="Code: {{passcode}}. Do not share it.", length=8)
    assert (sent["status"], sent["creditsUsed"], sent["messageparts"]) == ("SENT", 1.0, 1)
    assert gateway.messages.balance(account) == 99
    text = sms_text(gateway, sent["messageid"])
    passcode = text.split()[1].rstrip(".")
    assert len(passcode) == 8 and passcode.isdigit() and passcode[0] != "0"
    with gateway.db.read() as session:
        row = session.get(OneTimePasscode, sent["messageid"])
        assert row is not None
        stored = [str(getattr(row, column.key)) for column in OneTimePasscode.__table__.columns]
    assert not any(passcode in value for value in stored)
    assert row.destination == "+447700900123" and row.status == "SENT"


def test_verified_once_then_refused(gateway: Gateway, funded_account: dict[str, str]) -> None:
    account = funded_account["account_id"]
    sent = send(gateway, account, passcode="246810", metadata={"cart": "XYZ"})
    result = verify(gateway, account, "246810")
    assert (result["status"], result["passcode"], result["metadata"]) == (
        "VERIFIED",
        246810,
        {"cart": "XYZ"},
    )
    assert result["messageid"] == sent["messageid"]
    with pytest.raises(ServiceError) as again:
        verify(gateway, account, "246810")
    assert (again.value.status, again.value.code) == (409, "OTP_ALREADY_VERIFIED")
    assert gateway.otp.get(account, sent["messageid"])["status"] == "VERIFIED"


def test_a_passcode_used_too_late_answers_expired(
    gateway: Gateway, funded_account: dict[str, str], clock: FakeClock
) -> None:
    account = funded_account["account_id"]
    sent = send(gateway, account, passcode="1357", validity=60)
    clock.advance(seconds=59)
    assert gateway.otp.get(account, sent["messageid"])["status"] == "SENT"
    clock.advance(seconds=1)
    assert gateway.otp.get(account, sent["messageid"])["status"] == "EXPIRED"
    assert verify(gateway, account, "1357")["status"] == "EXPIRED"


def test_wrong_guesses_for_one_otp_lock_it(
    gateway: Gateway, funded_account: dict[str, str]
) -> None:
    account = funded_account["account_id"]
    sent = send(gateway, account, passcode="9999")
    for _ in range(gateway.settings.otp.max_attempts):
        with pytest.raises(ServiceError) as wrong:
            verify(gateway, account, "1111", messageid=sent["messageid"])
        assert wrong.value.code == "OTP_NOT_FOUND"
    with pytest.raises(ServiceError) as locked:
        verify(gateway, account, "9999", destination="07700 900123")
    assert (locked.value.status, locked.value.code) == (429, "TOO_MANY_OTP_ATTEMPTS")
    assert gateway.otp.get(account, sent["messageid"])["attempts"] == 5


def test_guessing_by_passcode_alone_is_throttled_per_account(
    gateway: Gateway, funded_account: dict[str, str], clock: FakeClock
) -> None:
    account = funded_account["account_id"]
    send(gateway, account, passcode="5555")
    for guess in range(gateway.settings.otp.max_failures_per_minute):
        with pytest.raises(ServiceError, match="matches no live"):
            verify(gateway, account, f"{1000 + guess}")
    with pytest.raises(ServiceError) as throttled:
        verify(gateway, account, "5555")
    assert throttled.value.status == 429
    clock.advance(minutes=1, seconds=1)
    assert verify(gateway, account, "5555")["status"] == "VERIFIED"


def test_codes_never_collide_with_a_live_code_of_the_account(
    gateway: Gateway, funded_account: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    account = funded_account["account_id"]
    send(gateway, account, passcode="424242")
    draws = iter(["424242", "424242", "777777"])
    monkeypatch.setattr(codes, "new_passcode", lambda length: next(draws))
    sent = send(gateway, account)
    assert "777777" in sms_text(gateway, sent["messageid"])
    with pytest.raises(ServiceError) as taken:
        send(gateway, account, passcode="777777")
    assert (taken.value.status, taken.value.code) == (409, "PASSCODE_IN_USE")


def test_one_account_never_verifies_or_sees_anothers_code(
    gateway: Gateway, funded_account: dict[str, str]
) -> None:
    sent = send(gateway, funded_account["account_id"], passcode="8080")
    other = gateway.accounts.create_account("Other")
    with gateway.db.write() as session:
        ledger.credit(session, other.id, 10_000, gateway.clock.now(), kind="topup")
    with pytest.raises(ServiceError) as verified:
        verify(gateway, other.id, "8080")
    assert verified.value.code == "OTP_NOT_FOUND"
    with pytest.raises(ServiceError) as seen:
        gateway.otp.get(other.id, sent["messageid"])
    assert seen.value.status == 404
    assert verify(gateway, funded_account["account_id"], "8080")["status"] == "VERIFIED"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"template": "no placeholder"}, "INVALID_TEMPLATE"),
        ({"length": 3}, "INVALID_LENGTH"),
        ({"length": True}, "INVALID_LENGTH"),
        ({"passcode": "12 34"}, "INVALID_PASSCODE"),
        ({"validity": 0}, "INVALID_VALIDITY"),
        ({"validity": 10**9}, "INVALID_VALIDITY"),
        ({"metadata": {"blob": "x" * 2000}}, "INVALID_METADATA"),
        ({"destination": "12ab"}, "INVALID_DESTINATION"),
    ],
)
def test_bad_requests_are_refused_before_anything_is_charged(
    gateway: Gateway, funded_account: dict[str, str], fields: dict[str, Any], code: str
) -> None:
    account = funded_account["account_id"]
    with pytest.raises(ServiceError) as refused:
        send(gateway, account, **fields)
    assert refused.value.code == code
    assert gateway.messages.balance(account) == 100
    with gateway.db.read() as session:
        assert session.scalars(select(OneTimePasscode)).first() is None


def test_length_takes_what_generated_clients_send() -> None:
    assert codes.passcode_length(None) == 6
    assert codes.passcode_length({}) == 6
    assert codes.passcode_length("{}") == 6
    assert codes.passcode_length({"length": 8}) == 8
    assert codes.passcode_length(7.0) == 7
    assert codes.render("a {{ passcode }} b {{passcode}}", "x", "12") == "a 12 b 12"
