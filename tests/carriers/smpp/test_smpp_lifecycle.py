"""The whole conversation through SMPP: a real gateway process, a real SMSC peer, SMTP, maildir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from smsbridge.segments import encode_gsm7
from tests.carriers.smpp.smpp_peer import SmppPeer, part
from tests.test_lifecycle import CUSTOMER, NUMBER, Deployment, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def peer() -> Iterator[SmppPeer]:
    with SmppPeer() as running:
        yield running


def test_send_receipt_reply_email_and_answer_all_through_smpp(
    database_url: str, tmp_path: Path, peer: SmppPeer
):
    deployment = Deployment(tmp_path, database_url)
    with open(deployment.config, "a", encoding="utf-8") as config:
        config.write(
            f"""
[carrier]
kind = "smpp"

[[carrier.smpp.connectors]]
name = "smsc"
port = {peer.port}
system_id = "acme"
password = "secret"
submit_id_base = "hex"
receipt_id_base = "hex"
reconnect_min_seconds = 0.2
"""
        )
    account = deployment.account_with_number()
    server = deployment.start()
    api = deployment.api(account)
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
            "DELIVERED through SMPP",
        )
        connections = api.get("/carrier/connections").json()["connections"]
        assert connections[0]["state"] == "bound"

        peer.deliver(CUSTOMER, NUMBER, [part(encode_gsm7("Can we make it 8pm?"))])
        wait_until(lambda: len(deployment.emails()) == 1, 20, "the forwarded email")
        [forward] = deployment.emails()

        deployment.reply_by_email(forward, "Yes, 8pm is fine.\n\n> Can we make it 8pm?\n")

        def answered() -> bool:
            submits = peer.state()["submits"]
            return any(
                bytes.fromhex(s["short_message"]) == encode_gsm7("Yes, 8pm is fine.")
                for s in submits
            )

        wait_until(answered, 20, "the email reply submitted to the SMSC")
        metrics = httpx.get(deployment.base + "/metrics", timeout=5).text
        assert 'smsbridge_smpp_up{connection="smsc"} 1' in metrics
    finally:
        api.close()
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0
    assert any(r["kind"] == "receipt" and r["status"] == 0 for r in peer.state()["deliver_resps"])
