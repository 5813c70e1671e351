"""Signing in and out, sessions, the sign-in limit, password changes and CSRF on every form."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from smsbridge.app import Gateway
from smsbridge.dashboard.routes import DEVICE_COOKIE, SESSION_COOKIE, build_dashboard_router
from smsbridge.dashboard.service import DashboardService
from smsbridge.db.models import SignInFailure, User, WebSession
from smsbridge.errors import ServiceError
from tests.conftest import FakeClock
from tests.dashboard.conftest import PASSWORD, Browser, csrf_of, sign_in


@pytest.fixture
def bob_account(gateway: Gateway) -> str:
    return gateway.accounts.create_account("Bob's Bikes").id


def test_sign_in_sets_a_hardened_cookie_and_stores_only_its_hash(
    gateway: Gateway,
    users: DashboardService,
    funded_account: dict[str, str],
    client_factory: Callable[[], TestClient],
):
    users.create_user("Alice@Acme.example", PASSWORD, account_id=funded_account["account_id"])
    client = client_factory()
    response = sign_in(client, "alice@acme.example")
    assert response.status_code == 303
    assert response.headers["location"] == "/account/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/account" in cookie
    assert "Secure" not in cookie  # plain http in tests; https requests get Secure
    token = client.cookies[SESSION_COOKIE]
    with gateway.db.read() as session:
        stored = session.scalars(select(WebSession)).one()
        user = session.scalars(select(User)).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (stored.token_hash, stored.csrf_token)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    page = client.get("/account/")
    assert page.status_code == 200
    assert "Acme" in page.text and "alice@acme.example" in page.text


def test_https_requests_get_a_secure_cookie(
    users: DashboardService, funded_account: dict[str, str], app: FastAPI
):
    users.create_user("alice@acme.example", PASSWORD, account_id=funded_account["account_id"])
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        response = sign_in(client, "alice@acme.example")
        assert response.status_code == 303
        assert "Secure" in response.headers["set-cookie"]


def test_wrong_password_and_unknown_email_get_the_same_answer(
    users: DashboardService,
    funded_account: dict[str, str],
    client_factory: Callable[[], TestClient],
):
    users.create_user("alice@acme.example", PASSWORD, account_id=funded_account["account_id"])
    client = client_factory()
    wrong = sign_in(client, "alice@acme.example", "not the password")
    unknown = sign_in(client, "nobody@acme.example", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "That email and password do not match." in response.text
        assert SESSION_COOKIE not in client.cookies
    assert 'value="nobody@acme.example"' in unknown.text  # the form keeps what was typed


def test_the_sign_in_form_needs_its_csrf_token(
    users: DashboardService,
    funded_account: dict[str, str],
    client_factory: Callable[[], TestClient],
):
    users.create_user("alice@acme.example", PASSWORD, account_id=funded_account["account_id"])
    client = client_factory()
    form = {"email": "alice@acme.example", "password": PASSWORD}
    assert client.post("/account/sign-in", data=form).status_code == 403
    client.get("/account/sign-in")
    assert client.post("/account/sign-in", data={**form, "csrf": "forged"}).status_code == 403
    assert SESSION_COOKIE not in client.cookies


def test_failed_sign_ins_slow_the_next_attempts_down_and_then_let_them_through(
    users: DashboardService,
    funded_account: dict[str, str],
    client_factory: Callable[[], TestClient],
    clock: FakeClock,
):
    users.create_user("alice@acme.example", PASSWORD, account_id=funded_account["account_id"])
    client = client_factory()
    free = users.limiter.policy.free_failures
    for _ in range(free):
        assert sign_in(client, "alice@acme.example", "guess").status_code == 401
    # The free failures are used: after the next one, attempts wait 2 s, then 4 s, and so on.
    assert sign_in(client, "alice@acme.example", "guess").status_code == 401
    paused = sign_in(client, "ALICE@acme.example", PASSWORD)
    assert paused.status_code == 429
    assert "Too many failed sign-ins" in paused.text and "2 seconds" in paused.text
    clock.advance(seconds=2)
    # Not a lock: after the wait, the right password gets in.
    assert sign_in(client, "alice@acme.example", PASSWORD).status_code == 303


def test_someone_guessing_an_email_cannot_keep_its_owner_out(
    users: DashboardService,
    funded_account: dict[str, str],
    client_factory: Callable[[], TestClient],
    clock: FakeClock,
):
    users.create_user("alice@acme.example", PASSWORD, account_id=funded_account["account_id"])
    alices_browser = client_factory()
    assert sign_in(alices_browser, "alice@acme.example", PASSWORD).status_code == 303
    alices_browser.cookies.delete(SESSION_COOKIE, path="/account")  # signed out, device kept
    attacker = client_factory()
    for _ in range(30):
        sign_in(attacker, "alice@acme.example", "guess")
        clock.advance(seconds=1)
    assert sign_in(attacker, "alice@acme.example", PASSWORD).status_code == 429
    # Alice's browser proves it signed in as her before: the attacker's failures are not hers.
    assert sign_in(alices_browser, "alice@acme.example", PASSWORD).status_code == 303
    # A device cookie is worth nothing for another user, nor once tampered with.
    bob = users.create_user("bob@acme.example", PASSWORD, account_id=funded_account["account_id"])
    cookie = alices_browser.cookies[DEVICE_COOKIE]
    assert users._trusted_device(cookie, bob) is None
    alice = users.get_user(cookie.split(".")[0])
    assert users._trusted_device(cookie, alice) is not None
    assert users._trusted_device(cookie[:-2] + "xx", alice) is None


def test_one_password_sprayed_over_many_emails_from_one_address_is_slowed(
    users: DashboardService, client_factory: Callable[[], TestClient], gateway: Gateway
):
    client = client_factory()
    per_address = users.limiter.policy.free_failures_per_address
    for index in range(per_address + 1):
        assert sign_in(client, f"user{index}@acme.example", "Summer2026!").status_code == 401
    assert sign_in(client, "fresh@acme.example", "Summer2026!").status_code == 429
    with gateway.db.read() as session:
        subjects = list(session.scalars(select(SignInFailure.subject)))
    # Kept as hashes: the table is no list of who tried to sign in from where.
    assert subjects and not any("@" in s or "testclient" in s for s in subjects)


@pytest.mark.parametrize(
    ("setting", "public", "secure"),
    [
        ("always", "", True),
        ("never", "https://sms.example.com", False),
        ("auto", "https://sms.example.com", True),
        ("auto", "http://sms.example.com", False),  # the request's own https is not asked
        ("auto", "", True),  # no public URL: the request came over https
    ],
)
def test_secure_cookies_follow_the_setting_not_a_header(
    gateway: Gateway,
    users: DashboardService,
    funded_account: dict[str, str],
    setting: str,
    public: str,
    secure: bool,
):
    users.create_user("alice@acme.example", PASSWORD, account_id=funded_account["account_id"])
    services = gateway.dashboard_services()
    settings = services.settings.model_copy(
        update={
            "http": services.settings.http.model_copy(
                update={"secure_cookies": setting, "public_base_url": public}
            )
        }
    )
    application = FastAPI()
    application.include_router(
        build_dashboard_router(dataclasses.replace(services, settings=settings), users)
    )
    with TestClient(application, base_url="https://testserver", follow_redirects=False) as client:
        response = sign_in(client, "alice@acme.example", PASSWORD)
    cookies = response.headers.get_list("set-cookie")
    assert response.status_code == 303, response.text
    session_cookie = next(c for c in cookies if c.startswith(SESSION_COOKIE))
    assert ("Secure" in session_cookie) is secure


def test_pages_need_a_session_and_send_you_back_after_sign_in(
    users: DashboardService,
    funded_account: dict[str, str],
    client_factory: Callable[[], TestClient],
):
    client = client_factory()
    response = client.get("/account/messages?tag=x")
    assert response.status_code == 303
    assert response.headers["location"] == "/account/sign-in?next=/account/messages%3Ftag%3Dx"
    assert client.get("/account/segments?text=hi").status_code == 401
    users.create_user("alice@acme.example", PASSWORD, account_id=funded_account["account_id"])
    page = client.get(response.headers["location"])
    signed = client.post(
        "/account/sign-in",
        data={
            "email": "alice@acme.example",
            "password": PASSWORD,
            "csrf": csrf_of(page.text),
            "next": "/account/messages?tag=x",
        },
    )
    assert signed.headers["location"] == "/account/messages?tag=x"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/elsewhere"])
def test_sign_in_never_redirects_off_the_account_page(
    target: str,
    users: DashboardService,
    funded_account: dict[str, str],
    client_factory: Callable[[], TestClient],
):
    users.create_user("alice@acme.example", PASSWORD, account_id=funded_account["account_id"])
    client = client_factory()
    page = client.get("/account/sign-in")
    response = client.post(
        "/account/sign-in",
        data={
            "email": "alice@acme.example",
            "password": PASSWORD,
            "csrf": csrf_of(page.text),
            "next": target,
        },
    )
    assert response.headers["location"] == "/account/"


def test_sessions_expire_after_twelve_idle_hours_and_slide_with_use(
    alice: Browser, clock: FakeClock
):
    clock.advance(hours=11)
    assert alice.get("/account/").status_code == 200  # slides the expiry
    clock.advance(hours=11)
    assert alice.get("/account/").status_code == 200
    clock.advance(hours=12, seconds=1)
    assert alice.get("/account/").status_code == 303


def test_sign_out_ends_the_session(alice: Browser, gateway: Gateway):
    token = alice.client.cookies[SESSION_COOKIE]
    response = alice.post("/account/sign-out")
    assert response.status_code == 303
    assert response.headers["location"] == "/account/sign-in?done=signed-out"
    with gateway.db.read() as session:
        assert session.scalars(select(WebSession)).first() is None
    alice.client.cookies.set(SESSION_COOKIE, token, path="/account")
    assert alice.get("/account/").status_code == 303
    assert "You are signed out." in alice.get("/account/sign-in?done=signed-out").text


def test_changing_the_password(
    alice: Browser,
    users: DashboardService,
    client_factory: Callable[[], TestClient],
):
    other = client_factory()
    assert sign_in(other, "alice@acme.example").status_code == 303
    new = "a much better passphrase"
    cases = [
        ({"current": "wrong", "new": new, "confirm": new}, "current password is not right"),
        ({"current": PASSWORD, "new": "short", "confirm": "short"}, "at least 10 characters"),
        ({"current": PASSWORD, "new": new, "confirm": new + "x"}, "confirmation differ"),
        ({"current": PASSWORD, "new": PASSWORD, "confirm": PASSWORD}, "different from the"),
    ]
    for form, message in cases:
        response = alice.post("/account/password", form)
        assert response.status_code == 400, form
        assert message in response.text
    done = alice.post("/account/password", {"current": PASSWORD, "new": new, "confirm": new})
    assert done.status_code == 303
    assert "Your password is changed" in alice.get(done.headers["location"]).text
    assert other.get("/account/").status_code == 303  # the other browser was signed out
    assert sign_in(client_factory(), "alice@acme.example", PASSWORD).status_code == 401
    assert sign_in(client_factory(), "alice@acme.example", new).status_code == 303


def post_routes(gateway: Gateway, users: DashboardService) -> list[str]:
    router = build_dashboard_router(gateway.dashboard_services(), users)
    return [r.path for r in router.routes if isinstance(r, APIRoute) and "POST" in r.methods]


def test_every_form_refuses_a_missing_or_wrong_csrf_token(
    alice: Browser,
    users: DashboardService,
    gateway: Gateway,
    funded_account: dict[str, str],
    signed_in: Callable[..., Browser],
):
    operator = signed_in("root@gateway.example", None, role="operator")
    key = gateway.accounts.list_keys(funded_account["account_id"])[0]
    values = {
        "number": "447700900001",
        "customer": "447700900123",
        "key_id": key.id,
    }
    forms = {
        "number": "x",
        "destination": "447700900123",
        "content": "hi",
        "name": "k",
        "amount": "5",
        "account_id": funded_account["account_id"],
        "numbers": "447700900050",
        "current": PASSWORD,
        "new": "x" * 12,
        "confirm": "x" * 12,
        "response_emails": "a@b.example",
    }
    checked = 0
    for path in post_routes(gateway, users):
        if path == "/account/sign-in":
            continue  # covered above: it has no session yet, so a double-submit cookie
        url = path.format(**values)
        browser = operator if path.startswith("/account/operator") else alice
        for token in (None, "wrong-token"):
            data = dict(forms) if token is None else {**forms, "csrf": token}
            response = browser.client.post(url, data=data)
            assert response.status_code == 403, (url, token, response.text[:300])
            assert "did not come from this site" in response.text
        checked += 1
    assert checked >= 10
    # Nothing happened: the key is live, the number still held, no credit was added.
    assert gateway.accounts.authenticate(funded_account["key"]) == funded_account["account_id"]
    assert gateway.numbers.get(funded_account["account_id"], "447700900001")
    assert gateway.messages.balance(funded_account["account_id"]) == 100
    assert alice.get("/account/").status_code == 200  # and alice is still signed in


def test_pages_carry_security_headers(alice: Browser):
    response = alice.get("/account/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_operator_pages_are_refused_to_users(alice: Browser, funded_account: dict[str, str]):
    assert alice.get("/account/operator").status_code == 403
    credit = alice.post(
        "/account/operator/credit", {"account_id": funded_account["account_id"], "amount": "50"}
    )
    assert credit.status_code == 403
    assert alice.post("/account/operator/numbers", {"numbers": "447700900055"}).status_code == 403
    assert "Operator" not in alice.get("/account/").text.split("</nav>")[0]


def test_users_need_an_account_and_unique_emails(users: DashboardService, bob_account: str):
    with pytest.raises(ServiceError) as missing:
        users.create_user("x@acme.example", PASSWORD, account_id=None)
    assert missing.value.code == "ACCOUNT_REQUIRED"
    with pytest.raises(ServiceError) as short:
        users.create_user("x@acme.example", "short", account_id=bob_account)
    assert short.value.code == "PASSWORD_TOO_SHORT"
    users.create_user("x@acme.example", PASSWORD, account_id=bob_account)
    with pytest.raises(ServiceError) as twice:
        users.create_user("X@acme.example", PASSWORD, account_id=bob_account)
    assert twice.value.code == "USER_EXISTS"
    with pytest.raises(ServiceError) as unknown:
        users.create_user("y@acme.example", PASSWORD, account_id="no-such-account")
    assert unknown.value.code == "ACCOUNT_NOT_FOUND"
