"""`smsbridge user create` and `user password`, run in-process like the other CLI tests."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from argon2 import PasswordHasher

from smsbridge.cli import main
from smsbridge.dashboard.service import DashboardService
from smsbridge.db.engine import Database
from smsbridge.errors import ServiceError
from tests.conftest import FakeClock


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("SMSBRIDGE_DATABASE__URL", database_url)
    monkeypatch.delenv("SMSBRIDGE_CONFIG", raising=False)

    def invoke(*args: str, stdin: str = "", expect: int = 0) -> Any:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main([*args, "--json"])
        out, err = capsys.readouterr()
        assert code == expect, err
        return json.loads(out) if code == 0 else json.loads(err)

    return invoke


def signs_in(database_url: str, email: str, password: str) -> bool:
    db = Database(database_url)
    try:
        service = DashboardService(db, FakeClock(), hasher=PasswordHasher())
        service.sign_in(email, password)
        return True
    except ServiceError:
        return False
    finally:
        db.dispose()


def test_user_create_and_password(run, database_url: str):
    account = run("account", "create", "Acme", "--no-key")["account_id"]
    created = run(
        "user",
        "create",
        "Alice@Acme.example",
        "--account",
        account,
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert created["email"] == "alice@acme.example" and created["role"] == "user"
    assert created["password"] is None
    assert signs_in(database_url, "alice@acme.example", "a long enough password")

    operator = run("user", "create", "root@gateway.example", "--operator")
    assert operator["role"] == "operator" and operator["account_id"] is None
    assert len(operator["password"]) >= 16  # generated and shown once
    assert signs_in(database_url, "root@gateway.example", operator["password"])

    again = run("user", "create", "alice@acme.example", "--account", account, expect=1)
    assert again["code"] == "USER_EXISTS"
    assert run("user", "create", "bob@acme.example", expect=1)["code"] == "ACCOUNT_REQUIRED"
    short = run(
        "user",
        "create",
        "bob@acme.example",
        "--account",
        account,
        "--password-stdin",
        stdin="short\n",
        expect=1,
    )
    assert short["code"] == "PASSWORD_TOO_SHORT"

    reset = run("user", "password", "alice@acme.example")
    assert signs_in(database_url, "alice@acme.example", reset["password"])
    assert not signs_in(database_url, "alice@acme.example", "a long enough password")
    assert run("user", "password", "nobody@acme.example", expect=1)["code"] == "USER_NOT_FOUND"
