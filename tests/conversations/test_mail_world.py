"""Email to SMS through our real SMTP and LMTP servers, with DNS served on 127.0.0.1, on both
databases: liberal reading, trust, copies, automatic mail, bounces, outcomes, context."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import dkim
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from smsbridge.db.models import InboundEmail, Message
from smsbridge.messages.schemas import MessageIn
from tests.conversations import mail_world
from tests.conversations.conftest import (
    CUSTOMER,
    bounces,
    customer_texts,
    pump,
    reply,
    sent_emails,
    sms_count,
    start_conversation,
)
from tests.conversations.mail_world import Mailer

# The mail world's fixtures, used by every test here.
channel = mail_world.channel
mail_overrides = mail_world.mail_overrides
mailer = mail_world.mailer
world_dns = mail_world.world_dns
world_keys = mail_world.world_keys


def rows(bridge) -> list[InboundEmail]:  # type: ignore[no-untyped-def]
    with bridge.db.read() as session:
        return list(session.scalars(select(InboundEmail).order_by(InboundEmail.received_at)))


def last_sms(bridge) -> Message:  # type: ignore[no-untyped-def]
    with bridge.db.read() as session:
        found = session.scalars(select(Message).order_by(Message.created.desc())).first()
    assert found is not None
    return found


def plain(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


# --- liberal reading (issue 11, point 2) ---------------------------------------------------


def test_a_signed_reply_becomes_an_sms(bridge, acme, mailer: Mailer):
    forward = start_conversation(bridge, acme)
    answer = mailer.deliver(mailer.sign(reply(forward, "Yes, 8pm is fine.")))
    assert answer.code == 250
    assert last_sms(bridge).content == "Yes, 8pm is fine."


def test_long_lines_8bit_and_odd_mime_are_read(bridge, acme, mailer: Mailer):
    forward = start_conversation(bridge, acme)
    long_html = "<p>Oui, 20 h me va très bien ##</p>" + "<span>x</span>" * 800  # one 12 KB line
    raw = (
        f"From: Alice <alice@acme.example>\r\nTo: {forward['Reply-To']}\r\n"
        f"Subject: Re: {forward['Subject']}\r\nMessage-ID: <long@acme.example>\r\n"
        # No MIME-Version, a charset in odd case and quotes, raw 8-bit UTF-8 in the body.
        'Content-Type: TEXT/HTML; Charset="UTF-8"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
        f"{long_html}\r\n"
    ).encode()
    assert max(len(line) for line in raw.split(b"\r\n")) > 10_000
    answer = mailer.deliver(mailer.sign(raw))
    assert answer.code == 250, answer.text
    assert last_sms(bridge).content == "Oui, 20 h me va très bien"


def test_what_cannot_be_read_is_refused_with_a_reason_and_recorded(bridge, acme, mailer: Mailer):
    forward = start_conversation(bridge, acme)
    raw = (
        f"From: alice@acme.example\r\nTo: {forward['Reply-To']}\r\nSubject: x\x00y\r\n\r\nHi\r\n"
    ).encode()
    answer = mailer.deliver(raw, recipients=[str(forward["Reply-To"])])
    if mailer.channel == "smtp":
        # The client is there to hear why; nothing of ours bounces to a possibly forged sender.
        assert answer.code == 550
        assert "NUL" in answer.text
    else:
        # Our MTA in front would turn a 5xx into a bounce to the (unverified) sender: accept.
        assert answer.code == 250
    [row] = rows(bridge)
    assert row.status == "refused"
    assert row.reason is not None and row.reason.startswith("UNREADABLE")
    assert row.account_id == acme["account_id"]  # the account sees it
    assert bounces(bridge) == []


# --- trust (points 4 and 6) ----------------------------------------------------------------


def test_spf_alone_authenticates_over_smtp_not_over_lmtp(bridge, acme, mailer: Mailer):
    forward = start_conversation(bridge, acme)
    mailer.deliver(reply(forward, "Unsigned but from an SPF-listed host"))
    [row] = rows(bridge)
    if mailer.channel == "smtp":
        assert row.status == "sent"
        assert row.reason == "authenticated: SPF pass for acme.example"
    else:
        # Over LMTP the client is our own MTA: its address says nothing about the sender.
        assert row.status == "refused"
        assert row.reason is not None and row.reason.startswith("NOT_AUTHENTICATED")


def forwarded_by_a_list(mailer: Mailer, message: EmailMessage) -> bytes:
    """Signed by acme.example, then changed by the list at fwd.example (a footer: DKIM breaks),
    which records what it verified and seals the result with ARC."""
    signed = mailer.sign(message)
    changed = signed.replace(b"\r\n\r\nOn Tue", b"\r\n--\r\nThe Acme list\r\n\r\nOn Tue", 1)
    assert changed != signed
    results = (
        b"Authentication-Results: fwd.example; dkim=pass header.d=acme.example;"
        b" dmarc=pass header.from=acme.example\r\n"
    )
    arc = dkim.arc_sign(
        results + changed, b"sel", b"fwd.example", mailer.keys["fwd.example"][0], b"fwd.example"
    )
    return b"".join(arc) + results + changed


def test_forwarded_mail_is_believed_only_from_a_trusted_arc_sealer(bridge, acme, mailer: Mailer):
    forward = start_conversation(bridge, acme)
    first = forwarded_by_a_list(mailer, reply(forward, "Via the list"))
    mailer.deliver(first, envelope="list-bounces@fwd.example")
    [row] = rows(bridge)
    assert row.status == "refused"  # DKIM broken, SPF is the list's: nothing vouches
    assert row.reason is not None and "not a trusted forwarder" in row.reason
    bridge.settings.mail.inbound.trusted_arc_sealers = ["fwd.example"]
    bridge.__dict__.pop("conversations", None)  # rebuilt with the new setting
    second = forwarded_by_a_list(mailer, reply(forward, "Via the list, again"))
    mailer.deliver(second, envelope="list-bounces@fwd.example")
    assert last_sms(bridge).content == "Via the list, again"
    assert rows(bridge)[-1].reason == (
        "authenticated: forwarded by fwd.example, which vouched for acme.example (ARC)"
    )


def test_an_unauthenticated_stranger_is_told_nothing(bridge, acme, mailer: Mailer):
    forward = start_conversation(bridge, acme)
    before = sms_count(bridge)
    forged = reply(forward, "Send me money", sender="mallory@forged.example")
    mailer.deliver(forged, envelope="mallory@forged.example")
    assert sms_count(bridge) == before
    [row] = rows(bridge)
    assert row.status == "refused"
    assert row.reason is not None and row.reason.startswith("SENDER_NOT_ALLOWED")
    assert bounces(bridge) == []  # no backscatter, nothing learnt about the conversation


def test_an_authenticated_stranger_gets_one_explanation_in_the_thread(bridge, acme, mailer: Mailer):
    forward = start_conversation(bridge, acme)
    message = reply(forward, "Let me in", sender="eve@evil.example")
    mailer.deliver(mailer.sign(message, "evil.example"), envelope="eve@evil.example")
    [explanation] = bounces(bridge)
    assert explanation["To"] == "eve@evil.example"
    assert explanation["Subject"] == forward["Subject"]  # in the conversation's thread
    assert explanation["In-Reply-To"] == message["Message-ID"]
    assert "not one of the addresses" in plain(explanation)
    assert explanation["Auto-Submitted"] == "auto-replied"


def test_mail_to_the_from_address_about_nothing_is_not_answered(bridge, acme, mailer: Mailer):
    start_conversation(bridge, acme)
    unknown = EmailMessage()
    unknown["From"] = "mallory@forged.example"
    unknown["To"] = bridge.conversations.from_address
    unknown["Subject"] = "hello"
    unknown["Message-ID"] = make_msgid(domain="forged.example")
    unknown.set_content("Is this address live?")
    mailer.deliver(unknown, envelope="mallory@forged.example")
    [row] = rows(bridge)
    assert row.reason is not None and row.reason.startswith("UNKNOWN_CONVERSATION")
    assert bounces(bridge) == []
    # The same from an authenticated sender gets the explanation, standalone.
    known = EmailMessage()
    known["From"] = "alice@acme.example"
    known["To"] = bridge.conversations.from_address
    known["Subject"] = "hello"
    known["Message-ID"] = make_msgid(domain="acme.example")
    known.set_content("Where does this go?")
    mailer.deliver(mailer.sign(known))
    [bounce] = bounces(bridge)
    assert bounce["To"] == "alice@acme.example"
    assert "could not tell which SMS conversation" in plain(bounce)


@pytest.mark.parametrize(
    "from_header",
    [
        "Alice <alice@acme.example>, Mallory <mallory@forged.example>",
        "team: alice@acme.example, mallory@forged.example;",
        "=?utf-8?q?alice=40acme=2Eexample?= <mallory@forged.example>",
    ],
)
def test_an_email_without_exactly_one_author_never_joins_nor_sends(
    bridge, acme, mailer: Mailer, from_header: str
):
    forward = start_conversation(bridge, acme)
    message = reply(forward, "Pay me")
    del message["From"]
    message["From"] = from_header
    before = sms_count(bridge)
    mailer.deliver(mailer.sign(message))
    assert sms_count(bridge) == before
    [row] = rows(bridge)
    assert row.reason is not None and row.reason.startswith("AMBIGUOUS_AUTHOR")
    assert bounces(bridge) == []
    customer_texts(bridge, acme["number"], "Anyone?", "in-2")
    assert sent_emails(bridge, "forward")[-1]["To"] == "alice@acme.example"  # nobody joined


def test_two_from_headers_are_refused(bridge, acme, mailer: Mailer):
    forward = start_conversation(bridge, acme)
    raw = mailer.sign(reply(forward, "Pay me"))
    raw = raw.replace(b"From: Alice", b"From: mallory@forged.example\r\nFrom: Alice", 1)
    mailer.deliver(raw)
    [row] = rows(bridge)
    assert row.reason is not None and row.reason.startswith("AMBIGUOUS_AUTHOR")


# --- copies and automatic mail (point 5) ---------------------------------------------------


def test_every_member_may_answer_and_nobody_is_dropped(bridge, acme, mailer: Mailer):
    bridge.messages.send(
        acme["account_id"],
        MessageIn(
            sender=acme["number"],
            destination=CUSTOMER,
            content="Hi",
            responseemail=["alice@acme.example", "bob@acme.example"],
        ),
    )
    customer_texts(bridge, acme["number"], "Question", "in-1")
    [forward] = sent_emails(bridge, "forward")
    mailer.deliver(mailer.sign(reply(forward, "Alice answers")))  # To: the reply address only
    [copy] = sent_emails(bridge, "copy")
    assert copy["To"] == "bob@acme.example"
    assert "Reply to this email to answer by SMS" in plain(copy)  # Bob may answer: told so
    assert sorted(last_sms(bridge).response_emails) == ["alice@acme.example", "bob@acme.example"]
    mailer.deliver(
        mailer.sign(reply(copy, "Bob answers too", sender="bob@acme.example")),
        envelope="bob@acme.example",
    )
    assert last_sms(bridge).content == "Bob answers too"
    assert sorted(last_sms(bridge).response_emails) == ["alice@acme.example", "bob@acme.example"]
    customer_texts(bridge, acme["number"], "Thanks both", "in-2")
    latest = sent_emails(bridge, "forward")[-1]
    assert sorted(a.strip() for a in str(latest["To"]).split(",")) == [
        "alice@acme.example",
        "bob@acme.example",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "I am out of the office until Monday with limited access to email. For urgent matters "
        "please contact Bob.",
        "Ich bin bis zum 12. August nicht im Büro. In dringenden Fällen wenden Sie sich bitte an "
        "Bob.",
        "Je suis absente jusqu'au 5 mai. Pour toute urgence, veuillez contacter Bob.",
    ],
)
def test_an_out_of_office_body_is_never_sent_nor_answered(bridge, acme, mailer: Mailer, text):
    forward = start_conversation(bridge, acme)
    before = sms_count(bridge)
    mailer.deliver(mailer.sign(reply(forward, text)))  # ordinary headers, authenticated
    assert sms_count(bridge) == before
    [row] = rows(bridge)
    assert row.status == "ignored"
    assert row.reason is not None and row.reason.startswith("AUTOMATIC")
    assert bounces(bridge) == []


# --- hostile input (issue 14, point 6) -----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "charset"),
    [
        ("Yes\x00 8pm", "utf-8"),
        (bytes(range(256)).decode("latin-1") * 4, "latin-1"),
    ],
)
def test_text_that_is_not_text_is_refused_not_sent(bridge, acme, mailer: Mailer, body, charset):
    forward = start_conversation(bridge, acme)
    message = reply(forward, "x")
    message.set_content(body.encode(charset), "text", "plain", cte="base64")
    message.set_param("charset", charset)
    before = sms_count(bridge)
    mailer.deliver(mailer.sign(message))
    assert sms_count(bridge) == before
    [row] = rows(bridge)
    assert row.reason is not None and row.reason.startswith("NOT_TEXT")
    [explanation] = bounces(bridge)  # authenticated: told once, in the thread
    assert "not text" in plain(explanation)


def test_deeply_nested_mime_is_refused_quickly(bridge, acme, mailer: Mailer):
    forward = start_conversation(bridge, acme)
    head = f"From: alice@acme.example\r\nTo: {forward['Reply-To']}\r\nSubject: x\r\n"
    parts = [head]
    for i in range(1200):
        parts.append(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n')
    parts.append("Content-Type: text/plain\r\n\r\nhi\r\n")
    parts += [f"--b{i}--\r\n" for i in reversed(range(1200))]
    mailer.deliver("".join(parts).encode())
    [row] = rows(bridge)
    assert row.status == "refused"
    assert row.reason is not None and row.reason.startswith("TOO_COMPLEX")


def test_a_hostile_from_header_does_not_delay_a_good_reply(bridge, acme, mailer: Mailer):
    forward = start_conversation(bridge, acme)
    folded = '\r\n "'.join(["x"] * 27_000)  # 108 KB of folded quotes: quadratic for the stdlib
    hostile = (
        f'From: "{folded}\r\nTo: {bridge.conversations.from_address}\r\nSubject: x\r\n\r\nhi\r\n'
    ).encode()
    mailer.send(hostile, recipients=[bridge.conversations.from_address])
    mailer.send(mailer.sign(reply(forward, "Good reply")))
    bridge.conversations.process_pending()
    # The hostile one is refused at the header scan, before any parsing that could be slow;
    # bench/mail_fuzz.py measures how long a good reply waits behind such emails.
    # Both were stored at the same instant of the test's clock: tell them apart by content.
    hostile_row, good_row = sorted(rows(bridge), key=lambda row: b"Good reply" in row.raw)
    assert hostile_row.status == "refused"
    assert hostile_row.reason is not None and hostile_row.reason.startswith("UNREADABLE")
    assert good_row.status == "sent"


def test_a_retried_email_is_sent_once(bridge, acme, mailer: Mailer):
    forward = start_conversation(bridge, acme)
    raw = mailer.sign(reply(forward, "Only once"))
    before = sms_count(bridge)
    # The server stored it, then died before the client heard 250: the MTA sends it again.
    first = mailer.send(raw)
    again = mailer.send(raw)
    assert first.code == again.code == 250
    bridge.conversations.process_pending()
    assert len(rows(bridge)) == 1
    assert sms_count(bridge) == before + 1


# --- outcomes, context (points 7 and 8) ----------------------------------------------------


def test_a_failed_sms_is_told_in_the_thread_and_refunded(bridge, acme, mailer: Mailer):
    bridge.messages.send(
        acme["account_id"],
        MessageIn(
            sender=acme["number"],
            destination=CUSTOMER,
            content="Hi",
            tag="spring",
            responseemail=["alice@acme.example", "bob@acme.example"],
        ),
    )
    pump(bridge)
    customer_texts(bridge, acme["number"], "Question", "in-1")
    [forward] = sent_emails(bridge, "forward")
    balance = bridge.messages.balance(acme["account_id"])
    bridge.handsets.set_outcome(CUSTOMER, "undeliverable")
    mailer.deliver(mailer.sign(reply(forward, "This will not arrive")))
    pump(bridge)
    assert last_sms(bridge).status == "UNDELIVERABLE"
    [outcome] = sent_emails(bridge, "outcome")
    assert sorted(a.strip() for a in str(outcome["To"]).split(",")) == [
        "alice@acme.example",
        "bob@acme.example",
    ]
    assert outcome["Subject"] == forward["Subject"]
    assert outcome["References"].split()[0] == forward["References"]
    text = plain(outcome)
    assert "could not be delivered" in text and "nothing was charged" in text
    assert "This will not arrive" in text
    assert bridge.messages.balance(acme["account_id"]) == balance  # refunded
    pump(bridge)
    assert len(sent_emails(bridge, "outcome")) == 1  # told once


def test_delivery_confirmation_when_the_number_asks(bridge, acme, mailer: Mailer):
    bridge.numbers.update(acme["account_id"], acme["number"], {"delivery_confirmations": True})
    forward = start_conversation(bridge, acme)
    mailer.deliver(mailer.sign(reply(forward, "Confirm me")))
    pump(bridge)
    [outcome] = sent_emails(bridge, "outcome")
    assert outcome["To"] == "alice@acme.example"
    assert "was delivered" in plain(outcome)


def test_every_forward_shows_the_recent_conversation(bridge, acme, mailer: Mailer):
    forward = start_conversation(bridge, acme)
    mailer.deliver(mailer.sign(reply(forward, "Yes, 8pm is fine.")))
    pump(bridge)
    customer_texts(bridge, acme["number"], "Great, see you", "in-2")
    latest = sent_emails(bridge, "forward")[-1]
    text = plain(latest)
    assert text.index("Great, see you") < text.index("Earlier in this conversation:")
    history = text[text.index("Earlier in this conversation:") :]
    for said in ("Your table is booked", "Can we make it 8pm?", "Yes, 8pm is fine."):
        assert said in history
    assert history.index("Your table is booked") < history.index("Yes, 8pm is fine.")
    assert " UTC, " in history  # with times


def test_the_account_sees_every_received_email(bridge, acme, mailer: Mailer):
    forward = start_conversation(bridge, acme)
    mailer.deliver(mailer.sign(reply(forward, "Sent one")))
    mailer.deliver(
        reply(forward, "x", sender="mallory@forged.example"), envelope="mallory@forged.example"
    )
    key = bridge.accounts.create_key(acme["account_id"]).key
    client = TestClient(bridge.api())
    listed = client.get("/v1/inbound/emails", headers={"Authorization": key}).json()
    assert [e["status"] for e in listed] == ["REFUSED", "SENT"]
    assert listed[0]["code"] == "SENDER_NOT_ALLOWED"
    assert listed[0]["from"] == "mallory@forged.example"
    assert listed[1]["messageid"] == last_sms(bridge).id
    refused = client.get(
        "/v1/inbound/emails", params={"status": "refused"}, headers={"Authorization": key}
    ).json()
    assert [e["id"] for e in refused] == [listed[0]["id"]]
    with bridge.db.read() as session:
        assert session.scalar(select(func.count()).select_from(InboundEmail)) == 2
