"""Carrier tests: every gateway a test made is closed after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.carriers.live import CREATED


@pytest.fixture(autouse=True)
def _close_gateways() -> Iterator[None]:
    yield
    while CREATED:
        CREATED.pop().db.dispose()
