"""The whole conversation through Twilio: a real gateway process, the Twilio emulator, SMTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.carriers.live import SID, TOKEN
from tests.carriers.twilio.emulator import TwilioEmulator
from tests.test_lifecycle import CUSTOMER, NUMBER, Deployment, wait_until

pytestmark = pytest.mark.slow


def twilio_deployment(tmp_path: Path, database_url: str, extra: str) -> Deployment:
    deployment = Deployment(tmp_path, database_url)
    config = deployment.config.read_text(encoding="utf-8").replace(
        "[http]\n", f'[http]\npublic_base_url = "{deployment.base}"\n', 1
    )
    deployment.config.write_text(config + extra, encoding="utf-8")
    return deployment


def test_send_receipt_reply_email_and_answer_all_through_twilio(database_url: str, tmp_path: Path):
    with TwilioEmulator({SID: TOKEN}, numbers={SID: {"+" + NUMBER}}) as twilio:
        deployment = twilio_deployment(
            tmp_path,
            database_url,
            f"""
[carrier]
kind = "twilio"

[[carrier.twilio.accounts]]
name = "acme-twilio"
account_sid = "{SID}"
auth_token = "{TOKEN}"
numbers = ["+{NUMBER}"]
api_base_url = "{twilio.base_url}"
""",
        )
        account = deployment.account_with_number()
        server = deployment.start()
        api = deployment.api(account)
        inbound_url = deployment.base + "/v1/carrier/acme-twilio/sms"
        try:
            sent = api.post(
                "/message/send",
                json={
                    "sender": NUMBER,
                    "destination": CUSTOMER,
                    "content": "Table booked for 7pm",
                    "tag": "booking",
                    "responseemail": ["alice@acme.example"],
                },
            ).json()
            wait_until(
                lambda: api.get(f"/messages/{sent['messageid']}").json()["status"] == "DELIVERED",
                20,
                "DELIVERED through Twilio",
            )
            [connection] = api.get("/carrier/connections").json()["connections"]
            assert connection["kind"] == "twilio" and connection["carrier_state"] == "up"

            # A forged inbound SMS is refused and never reaches anyone's mailbox.
            forged = twilio.send_inbound(
                inbound_url, SID, "+" + CUSTOMER, "+" + NUMBER, "Send me the code", token="x" * 32
            )
            assert forged.status_code == 403

            answer = twilio.send_inbound(
                inbound_url, SID, "+" + CUSTOMER, "+" + NUMBER, "Can we make it 8pm?"
            )
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/xml")
            wait_until(lambda: len(deployment.emails()) == 1, 20, "the forwarded email")
            [forward] = deployment.emails()
            assert forward["To"] == "alice@acme.example"
            body = forward.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            assert "Can we make it 8pm?" in body and "Send me the code" not in body

            deployment.reply_by_email(forward, "Yes, 8pm is fine.\n\n> Can we make it 8pm?\n")

            def answered() -> bool:
                return any(m.body == "Yes, 8pm is fine." for m in list(twilio.messages.values()))

            wait_until(answered, 20, "the email reply sent through Twilio")
            [out] = [m for m in twilio.messages.values() if m.body == "Yes, 8pm is fine."]
            assert (out.from_, out.to) == ("+" + NUMBER, "+" + CUSTOMER)
            wait_until(lambda: out.status == "delivered", 20, "the reply delivered")
            assert api.get("/credits/balance").json()["credits"] == 98
            metrics = httpx.get(deployment.base + "/metrics", timeout=5).text
            assert 'smsbridge_carrier_up{connection="acme-twilio",kind="twilio"} 1' in metrics
        finally:
            api.close()
            server.terminate()
            server.wait(timeout=30)
        assert server.returncode == 0, (deployment.root / "serve.log").read_text()
    assert len(twilio.messages) == 2  # the booking and the answer: nothing sent twice
