"""Opt-out fixtures: the email bridge's gateway (with [optout] settings a module may change),
its account Acme with a Reply Number, and the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from smsbridge.app import Gateway
from tests.conftest import FakeClock, make_settings
from tests.conversations.conftest import acme

__all__ = ["acme"]


@pytest.fixture
def optout_overrides() -> dict[str, Any]:
    """Extra [optout] settings; a test module overrides this fixture to change them."""
    return {}


@pytest.fixture
def bridge(
    database_url: str, clock: FakeClock, tmp_path: Path, optout_overrides: dict[str, Any]
) -> Iterator[Gateway]:
    settings = make_settings(
        database_url,
        carrier={"simulator": {"receipt_delay_seconds": 0}},
        mail={"domain": "sms.acme.test", "out": {"maildir": str(tmp_path / "md")}},
        optout=optout_overrides,
    )
    gateway = Gateway(settings, clock=clock)
    yield gateway
    gateway.db.dispose()


@pytest.fixture
def api(bridge: Gateway) -> TestClient:
    return TestClient(bridge.api())


@pytest.fixture
def key(bridge: Gateway, acme: dict[str, str]) -> str:
    return bridge.accounts.create_key(acme["account_id"]).key
