"""Fixtures for the account page: an app with the dashboard, users and signed-in clients."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from smsbridge.api.errors import install_error_handlers
from smsbridge.app import Gateway
from smsbridge.dashboard import (
    STATIC_PATH,
    DashboardService,
    build_dashboard_router,
    dashboard_static,
)

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def users(gateway: Gateway) -> DashboardService:
    # A cheap argon2id profile: the tests check behaviour, not the hash's cost.
    return DashboardService(
        gateway.db,
        gateway.clock,
        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )


@pytest.fixture
def app(gateway: Gateway, users: DashboardService) -> FastAPI:
    application = FastAPI()
    install_error_handlers(application)
    application.include_router(build_dashboard_router(gateway.dashboard_services(), users))
    application.mount(STATIC_PATH, dashboard_static(), name="dashboard-static")
    return application


@pytest.fixture
def client_factory(app: FastAPI) -> Iterator[Callable[[], TestClient]]:
    clients: list[TestClient] = []

    def make() -> TestClient:
        client = TestClient(app, follow_redirects=False)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no csrf field on the page"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, **kwargs: Any) -> Any:
    page = client.get("/account/sign-in")
    return client.post(
        "/account/sign-in",
        data={"email": email, "password": password, "csrf": csrf_of(page.text), "next": ""},
        **kwargs,
    )


class Browser:
    """A signed-in TestClient that fills in the CSRF token like the page's forms do."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, **kwargs)

    def token(self) -> str:
        return csrf_of(self.client.get("/account/password").text)

    def post(self, url: str, data: dict[str, str] | None = None) -> Any:
        return self.client.post(url, data={**(data or {}), "csrf": self.token()})


@pytest.fixture
def signed_in(
    client_factory: Callable[[], TestClient], users: DashboardService
) -> Callable[..., Browser]:
    def make(email: str, account_id: str | None, role: str = "user") -> Browser:
        users.create_user(email, PASSWORD, account_id=account_id, role=role)
        client = client_factory()
        response = sign_in(client, email)
        assert response.status_code == 303, response.text
        return Browser(client)

    return make


@pytest.fixture
def alice(funded_account: dict[str, str], signed_in: Callable[..., Browser]) -> Browser:
    return signed_in("alice@acme.example", funded_account["account_id"])
