"""The whole conversation through an Android phone: a gateway process, the emulated phone, SMTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.carriers.android.emulator import AndroidEmulator
from tests.carriers.twilio.test_twilio_lifecycle import twilio_deployment
from tests.test_lifecycle import CUSTOMER, NUMBER, wait_until

pytestmark = pytest.mark.slow

KEY = "signing-key-0123456789"


def test_send_receipt_reply_email_and_answer_all_through_an_android_phone(
    database_url: str, tmp_path: Path
):
    with AndroidEmulator("sms", "secret-pass", signing_key=KEY) as phone:
        deployment = twilio_deployment(
            tmp_path,
            database_url,
            f"""
[carrier]
kind = "android"

[[carrier.android.phones]]
name = "shop-phone"
base_url = "{phone.base_url}"
username = "sms"
password = "secret-pass"
webhook_signing_key = "{KEY}"
numbers = ["+{NUMBER}"]
""",
        )
        account = deployment.account_with_number()
        server = deployment.start()
        api = deployment.api(account)
        try:
            wait_until(lambda: len(phone.webhooks) == 4, 20, "the webhooks registered")
            sent = api.post(
                "/message/send",
                json={
                    "sender": NUMBER,
                    "destination": CUSTOMER,
                    "content": "Table booked for 7pm",
                    "responseemail": ["alice@acme.example"],
                },
            ).json()
            wait_until(
                lambda: api.get(f"/messages/{sent['messageid']}").json()["status"] == "DELIVERED",
                20,
                "DELIVERED through the phone",
            )
            [connection] = api.get("/carrier/connections").json()["connections"]
            assert connection["kind"] == "android" and connection["state"] == "up"

            forged = phone.send_inbound("+" + CUSTOMER, "Send me the code", key="guess")
            assert [r.status_code for r in forged] == [403]
            [answer] = phone.send_inbound("+" + CUSTOMER, "Can we make it 8pm?")
            assert answer.status_code == 204
            wait_until(lambda: len(deployment.emails()) == 1, 20, "the forwarded email")
            [forward] = deployment.emails()
            assert forward["To"] == "alice@acme.example"
            body = forward.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            assert "Can we make it 8pm?" in body

            deployment.reply_by_email(forward, "Yes, 8pm is fine.\n\n> Can we make it 8pm?\n")

            def answered() -> bool:
                return any(m.text == "Yes, 8pm is fine." for m in list(phone.messages.values()))

            wait_until(answered, 20, "the email reply sent by the phone")
            [out] = [m for m in phone.messages.values() if m.text == "Yes, 8pm is fine."]
            assert out.phone_number == "+" + CUSTOMER
            wait_until(lambda: api.get("/credits/balance").json()["credits"] == 98, 20, "billing")
        finally:
            api.close()
            server.terminate()
            server.wait(timeout=30)
        assert server.returncode == 0, (deployment.root / "serve.log").read_text()
    assert len(phone.messages) == 2
