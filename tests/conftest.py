"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, and a wired Gateway."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from smsbridge.app import Gateway
from smsbridge.db import migrate
from smsbridge.db.models import Base
from smsbridge.settings import Settings

# PostgreSQL runs on this machine kind; CI has it. Point elsewhere with this variable.
PG_ADMIN_URL = os.environ.get(
    "SMSBRIDGE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


class FakeClock:
    """A clock tests move by hand (time is an input of the pipeline, not a global).

    It starts at the real "now" (whole seconds), never at a fixed date: processes a test starts,
    libraries that read the system clock (DKIM, cookies in a browser) and the calendar itself
    must all agree with it, today and in any year the suite runs. Tests derive every instant
    they need from `now()`.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


def iso(when: datetime) -> str:
    """An instant as the API writes it: ISO 8601 in UTC with a Z."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"smsbridge_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A freshly migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "smsbridge.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    _truncate_postgres(url)
    return url


def make_settings(database_url: str, **overrides: Any) -> Settings:
    data: dict[str, Any] = {"database": {"url": database_url, "auto_migrate": False}}
    for key, value in overrides.items():
        data[key] = value
    return Settings(**data)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gateway(database_url: str, clock: FakeClock) -> Iterator[Gateway]:
    gw = Gateway(
        make_settings(database_url, carrier={"simulator": {"receipt_delay_seconds": 0}}),
        clock=clock,
    )
    yield gw
    gw.db.dispose()


@pytest.fixture
def funded_account(gateway: Gateway) -> dict[str, str]:
    """An account with 100 credits, a key and a Reply Number."""
    from smsbridge.credits import ledger

    account = gateway.accounts.create_account("Acme")
    key = gateway.accounts.create_key(account.id)
    with gateway.db.write() as session:
        ledger.credit(session, account.id, 100_000, gateway.clock.now(), kind="topup")
    gateway.numbers.add_to_pool(["+447700900001"])
    gateway.numbers.assign(account.id)
    return {"account_id": account.id, "key": key.key, "number": "+447700900001"}
