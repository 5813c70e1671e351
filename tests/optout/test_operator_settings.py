"""The operator's [optout] choices, on both databases: OTPs exempted, answers free or off,
recognition off, and an opt-out that holds when its answer cannot be paid for."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from smsbridge.app import Gateway
from smsbridge.credits import ledger
from smsbridge.db.models import CreditEntry, Message, Suppression, SuppressionEvent
from tests.conversations.conftest import CUSTOMER, customer_texts, pump


@pytest.fixture
def optout_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(getattr(request, "param", {}))


def stop(bridge: Gateway, acme: dict[str, str]) -> None:
    customer_texts(bridge, acme["number"], "STOP", "in-stop")
    pump(bridge)


def messages(bridge: Gateway) -> list[Message]:
    with bridge.db.read() as session:
        return list(session.scalars(select(Message)))


def otp(api: TestClient, key: str) -> Any:
    return api.post(
        "/v1/otp/send",
        json={"sender": "447700900001", "destination": CUSTOMER},
        headers={"Authorization": key},
    )


@pytest.mark.parametrize("optout_overrides", [{"otp_exempt": True}], indirect=True)
def test_otps_reach_an_opted_out_number_only_if_the_operator_says_so(
    bridge: Gateway, acme: dict[str, str], api: TestClient, key: str
) -> None:
    stop(bridge, acme)
    assert otp(api, key).status_code == 201
    plain = api.post(
        "/v1/message/send",
        json={"sender": "447700900001", "destination": CUSTOMER, "content": "Promo"},
        headers={"Authorization": key},
    )
    assert plain.status_code == 403  # only passcodes are exempt


def test_otps_are_refused_by_default(
    bridge: Gateway, acme: dict[str, str], api: TestClient, key: str
) -> None:
    stop(bridge, acme)
    assert otp(api, key).json()["code"] == "DESTINATION_OPTED_OUT"


@pytest.mark.parametrize("optout_overrides", [{"charge_replies": False}], indirect=True)
def test_answers_can_be_free_and_are_still_messages(bridge: Gateway, acme: dict[str, str]) -> None:
    balance = bridge.messages.balance(acme["account_id"])
    stop(bridge, acme)
    [answer] = messages(bridge)
    assert (answer.credits_milli, answer.status) == (0, "DELIVERED")
    assert bridge.messages.balance(acme["account_id"]) == balance
    with bridge.db.read() as session:
        assert (
            session.scalars(select(CreditEntry).where(CreditEntry.message_id == answer.id)).all()
            == []
        )


@pytest.mark.parametrize("optout_overrides", [{"send_confirmations": False}], indirect=True)
def test_answers_can_be_turned_off(bridge: Gateway, acme: dict[str, str]) -> None:
    stop(bridge, acme)
    assert messages(bridge) == []
    with bridge.db.read() as session:
        assert len(session.scalars(select(Suppression)).all()) == 1


@pytest.mark.parametrize("optout_overrides", [{"enabled": False}], indirect=True)
def test_recognition_off_makes_stop_an_ordinary_reply(
    bridge: Gateway, acme: dict[str, str]
) -> None:
    stop(bridge, acme)
    assert messages(bridge) == []
    with bridge.db.read() as session:
        assert session.scalars(select(Suppression)).all() == []


def test_an_opt_out_holds_when_its_answer_cannot_be_paid_for(
    bridge: Gateway, acme: dict[str, str]
) -> None:
    balance = bridge.messages.balance(acme["account_id"])
    with bridge.db.write() as session:
        ledger.credit(
            session,
            acme["account_id"],
            -round(balance * 1000),
            bridge.clock.now(),
            kind="adjustment",
        )
    stop(bridge, acme)
    assert messages(bridge) == []
    with bridge.db.read() as session:
        assert len(session.scalars(select(Suppression)).all()) == 1
        [event] = session.scalars(select(SuppressionEvent)).all()
    assert event.message_id is None
    assert event.note is not None and "INSUFFICIENT_CREDIT" in event.note
