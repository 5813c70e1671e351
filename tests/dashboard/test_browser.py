"""End to end in headless Chromium: a real gateway process, the CLI and the account page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_lifecycle import Deployment, wait_until

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CUSTOMER = "447700900123"
PASSWORD = "a long enough password"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def run_cli(deployment: Deployment, *args: str, stdin: str | None = None) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "smsbridge", *args, "--config", str(deployment.config), "--json"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    # SQLite only: the storage paths are covered on both databases by the page tests.
    yield Deployment(tmp_path, f"sqlite:///{tmp_path / 'smsbridge.db'}")


@pytest.fixture
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def test_a_user_signs_in_gets_a_number_and_holds_a_conversation(
    deployment: Deployment, browser: Any
):
    from playwright.sync_api import expect

    account = run_cli(deployment, "account", "create", "Acme Ltd", "--credits", "100")
    run_cli(deployment, "numbers", "add", "447700900001", "447700900002")
    user = run_cli(
        deployment,
        "user",
        "create",
        "alice@acme.example",
        "--account",
        account["account_id"],
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert user["role"] == "user" and user["password"] is None
    operator = run_cli(deployment, "user", "create", "root@gateway.example", "--operator")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    server = deployment.start()
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(deployment.base + "/account/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "sign-in.png"), full_page=True)
        page.get_by_label("Email").fill("alice@acme.example")
        page.get_by_label("Password").fill("wrong password!")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("do not match")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Acme Ltd")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "overview-empty.png"), full_page=True)

        page.get_by_role("button", name="Request your free Reply Number").click()
        expect(page.get_by_role("heading", name="+447700900001")).to_be_visible()
        page.get_by_label("Response Email addresses").fill("team@acme.example")
        page.get_by_label("Tags").fill("support, bookings")
        page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_role("status")).to_contain_text("Settings saved.")
        expect(page.get_by_label("Response Email addresses")).to_have_value("team@acme.example")

        page.get_by_label("To (mobile number)").fill(CUSTOMER)
        page.get_by_label("Message").fill("Your table is booked for 7pm \u2014 see you!")
        counter = page.locator("#content-count")
        expect(counter).to_contain_text("1 SMS (UCS-2)")
        expect(page.locator("#content-note")).to_contain_text("UCS-2")
        page.get_by_label("Message").fill("Your table is booked for 7pm, see you!")
        expect(counter).to_contain_text("1 SMS (GSM-7) · 1 credits")
        page.screenshot(path=str(SCREENSHOTS / "number.png"), full_page=True)
        page.get_by_role("button", name="Send SMS").click()
        expect(page.get_by_role("heading", name="+447700900123")).to_be_visible()
        # The page was not reloaded from here on: this marker would be lost if it were.
        page.evaluate("window.__stillHere = true")
        thread = page.locator("#thread")
        expect(thread).to_contain_text("DELIVERED", timeout=20_000)

        run_cli(
            deployment,
            "handset",
            "reply",
            "--from",
            CUSTOMER,
            "--to",
            "447700900001",
            "Can we make it 8pm?",
        )
        expect(thread).to_contain_text("Can we make it 8pm?", timeout=20_000)
        assert page.evaluate("window.__stillHere") is True

        page.get_by_label("Your reply from +447700900001").fill("Yes, 8pm is fine")
        expect(page.locator("#content-count")).to_contain_text("1 SMS (GSM-7)")
        page.get_by_role("button", name="Send reply").click()
        expect(thread).to_contain_text("Yes, 8pm is fine")
        expect(thread.locator(".sms.out").last).to_contain_text("DELIVERED", timeout=20_000)
        page.screenshot(path=str(SCREENSHOTS / "conversation.png"), full_page=True)

        def handset_has_both() -> bool:
            inbox = run_cli(deployment, "handset", "inbox", CUSTOMER)
            return [m["content"] for m in inbox] == [
                "Your table is booked for 7pm, see you!",
                "Yes, 8pm is fine",
            ]

        wait_until(handset_has_both, 20, "both SMS on the handset")
        inbox = run_cli(deployment, "handset", "inbox", CUSTOMER)
        assert {m["from"] for m in inbox} == {"+447700900001"}

        for name, link in (
            ("overview", "Overview"),
            ("numbers", "Reply Numbers"),
            ("messages", "Messages"),
            ("credits", "Credits"),
            ("keys", "API keys"),
            ("webhooks", "Webhooks"),
        ):
            page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()
            expect(page.locator("h1")).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
            if name == "credits":
                # Two SMS paid from 100 credits.
                expect(page.locator(".big")).to_contain_text("98")
            if name == "webhooks":
                expect(page.get_by_role("heading", name="Recent webhooks")).to_be_visible()
                expect(page.locator("main")).to_contain_text("No webhooks yet")

        # Keyboard: the skip link is the first thing Tab reaches and it moves focus to main.
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()

        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        phone.add_cookies(context.cookies())
        mobile = phone.new_page()
        mobile.goto(deployment.base + "/account/numbers/447700900001/conversations/" + CUSTOMER)
        expect(mobile.locator("#thread")).to_contain_text("Yes, 8pm is fine")
        width = mobile.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the conversation scrolls sideways on a phone"
        mobile.screenshot(path=str(SCREENSHOTS / "conversation-phone.png"), full_page=True)
        phone.close()

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("status")).to_contain_text("You are signed out.")
        page.get_by_label("Email").fill("root@gateway.example")
        page.get_by_label("Password").fill(operator["password"])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Operator")).to_be_visible()
        expect(page.locator("main")).to_contain_text("Acme Ltd")
        page.screenshot(path=str(SCREENSHOTS / "operator.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0, (deployment.root / "serve.log").read_text()
