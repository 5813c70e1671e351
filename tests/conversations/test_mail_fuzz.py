"""A short mail fuzz through our SMTP and LMTP servers on both databases: malformed and hostile
emails from a member's address, between good replies. The long run is bench/mail_fuzz.py."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import pytest
from sqlalchemy import select

from smsbridge.db.models import InboundEmail, Message
from tests.conversations import mail_world
from tests.conversations.conftest import start_conversation
from tests.conversations.mail_world import Mailer
from tests.mail.hostile import Target, good_reply, hostile_emails

channel = mail_world.channel
mailer = mail_world.mailer
world_dns = mail_world.world_dns
world_keys = mail_world.world_keys

HOSTILE = 100  # per database and protocol: 400 in all
GOOD_EVERY = 20
# Stands in for the receiving MTA's verdict, so only the reader's own rules stand between a
# hostile email and an SMS: every email here "passes" DMARC for the member's domain.
TRUSTED = "Authentication-Results: mx.acme.test; dmarc=pass header.from=acme.example\r\n"


@pytest.fixture
def mail_overrides(world_dns) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    overrides = mail_world.world_overrides(world_dns[0])
    overrides["inbound"]["trusted_authserv_ids"] = ["mx.acme.test"]
    overrides["inbound"]["replies_per_conversation_per_hour"] = 1000
    return overrides


def test_hostile_mail_never_breaks_nor_fools_the_receiver(
    bridge, acme, mailer: Mailer, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.ERROR, logger="smsbridge")
    forward = start_conversation(bridge, acme)
    target = Target(
        reply_to=str(forward["Reply-To"]), member="alice@acme.example", extra_headers=TRUSTED
    )
    families: dict[str, tuple[str, bool]] = {}
    good: list[str] = []
    for index, email in enumerate(hostile_emails(target, HOSTILE, seed=len(mailer.channel))):
        families[hashlib.sha256(email.raw).hexdigest()] = (email.family, email.ambiguous_author)
        mailer.send(email.raw, recipients=[target.reply_to])
        if index % GOOD_EVERY == GOOD_EVERY - 1:
            text = f"Good reply {index}"
            mailer.send(good_reply(target, text, index), recipients=[target.reply_to])
            good.append(text)
    while bridge.conversations.process_pending(limit=50):
        pass

    with bridge.db.read() as session:
        rows = list(session.scalars(select(InboundEmail)))
        sms = list(session.scalars(select(Message).where(Message.conversation_id.is_not(None))))
    assert [r for r in rows if r.status in ("received", "failed") or r.attempts] == []
    assert [r.message for r in caplog.records] == []  # no worker exception, logged or not
    assert all(r.reason for r in rows)  # every outcome has its reason
    sent = [r for r in rows if r.status == "sent"]
    fooled = [
        families.get(hashlib.sha256(r.raw).hexdigest(), ("good", False))[0]
        for r in sent
        if families.get(hashlib.sha256(r.raw).hexdigest(), ("", False))[1]
    ]
    assert fooled == []  # 0 ambiguous-From SMS
    # The run reached every kind of refusal (else it proves little).
    codes = {(r.reason or "").split(":", 1)[0] for r in rows if r.status != "sent"}
    assert {"AMBIGUOUS_AUTHOR", "NOT_TEXT", "TOO_COMPLEX", "UNREADABLE"} <= codes, codes
    texts = {m.content for m in sms}
    assert set(good) <= texts  # every good reply went out
    # Nothing hostile became an SMS with control characters or NUL in it.
    assert all(not any(ord(c) < 32 and c not in "\t\n\r" for c in m.content) for m in sms)
