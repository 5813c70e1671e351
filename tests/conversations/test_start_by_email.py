"""Starting a conversation by email: <number>@ and <number>.<replynumber>@ through our SMTP and
LMTP servers, on both databases; charged and refused exactly as the API would."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import select

from smsbridge.db.models import InboundEmail, Message
from tests.conversations import mail_world
from tests.conversations.conftest import CUSTOMER, bounces, customer_texts, pump, sent_emails
from tests.conversations.mail_world import Mailer

channel = mail_world.channel
mail_overrides = mail_world.mail_overrides
mailer = mail_world.mailer
world_dns = mail_world.world_dns
world_keys = mail_world.world_keys

DOMAIN = "sms.acme.test"


def new_email(to: list[str], text: str, *, sender: str = "team@acme.example") -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Acme Team <{sender}>"
    message["To"] = ", ".join(to)
    message["Subject"] = "Your booking"
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message.set_content(text + "\n\n--\nAcme Ltd\n")
    return message


def messages(bridge) -> list[Message]:  # type: ignore[no-untyped-def]
    with bridge.db.read() as session:
        return list(session.scalars(select(Message).order_by(Message.destination)))


def the_email(bridge) -> InboundEmail:  # type: ignore[no-untyped-def]
    with bridge.db.read() as session:
        return session.scalars(select(InboundEmail)).one()


def test_an_email_to_a_number_starts_a_conversation(bridge, acme, mailer: Mailer):
    balance = bridge.messages.balance(acme["account_id"])
    # team@acme.example is the number's Response Email: its default number sends.
    mailer.deliver(
        mailer.sign(new_email([f"447700900123@{DOMAIN}"], "Your table is ready ##")),
        envelope="team@acme.example",
    )
    [sms] = messages(bridge)
    assert (sms.sender, sms.destination, sms.content) == (
        acme["number"],
        CUSTOMER,
        "Your table is ready",
    )
    assert sms.response_emails == ["team@acme.example"]
    assert bridge.messages.balance(acme["account_id"]) == balance - 1  # charged as the API does
    assert the_email(bridge).status == "sent"
    pump(bridge)
    customer_texts(bridge, acme["number"], "Thanks!", "in-1")
    [forward] = sent_emails(bridge, "forward")
    assert forward["To"] == "team@acme.example"  # the answer comes back to the writer
    assert sent_emails(bridge, "notice") == []  # all went out: nothing to tell


def test_the_address_may_name_the_reply_number(bridge, acme, mailer: Mailer):
    bridge.numbers.add_to_pool(["+447700900002"])
    second = bridge.numbers.assign(acme["account_id"], "+447700900002").number
    bridge.numbers.update(acme["account_id"], second, {"authorised_senders": ["@acme.example"]})
    mailer.deliver(
        mailer.sign(new_email([f"447700900123.447700900002@{DOMAIN}"], "From the second")),
        envelope="team@acme.example",
    )
    [sms] = messages(bridge)
    assert sms.sender == second


def test_several_numbers_each_charged_or_refused_and_attachments_told(bridge, acme, mailer: Mailer):
    message = new_email(
        [f"447700900123@{DOMAIN}", f"447700900124@{DOMAIN}", f"33612345678@{DOMAIN}"],
        "Reminder: your booking is tomorrow.",
    )
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="menu.pdf")
    balance = bridge.messages.balance(acme["account_id"])
    mailer.deliver(mailer.sign(message), envelope="team@acme.example")
    assert [m.destination for m in messages(bridge)] == ["+447700900123", "+447700900124"]
    assert bridge.messages.balance(acme["account_id"]) == balance - 2
    [summary] = sent_emails(bridge, "notice")
    assert summary["To"] == "team@acme.example"
    assert summary["In-Reply-To"] == message["Message-ID"]
    text = summary.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "+33612345678" in text and "INTERNATIONAL_NOT_ALLOWED" in text
    assert "menu.pdf" in text and "were not sent" in text


def test_too_many_numbers_sends_nothing(bridge, acme, mailer: Mailer):
    bridge.settings.mail.inbound.max_numbers_per_email = 2
    to = [f"4477009001{n:02d}@{DOMAIN}" for n in range(3)]
    mailer.deliver(mailer.sign(new_email(to, "Hello all")), envelope="team@acme.example")
    assert messages(bridge) == []
    email = the_email(bridge)
    assert email.reason is not None and email.reason.startswith("TOO_MANY_NUMBERS")
    assert email.account_id == acme["account_id"]
    [explanation] = bounces(bridge)
    assert explanation["To"] == "team@acme.example"


def test_only_authorised_and_authenticated_writers_start(bridge, acme, mailer: Mailer):
    # bob@acme.example is on no Reply Number: refused, and (authenticated) told why.
    mailer.deliver(
        mailer.sign(new_email([f"447700900123@{DOMAIN}"], "Hi", sender="bob@acme.example")),
        envelope="bob@acme.example",
    )
    assert messages(bridge) == []
    [explanation] = bounces(bridge)
    assert explanation["To"] == "bob@acme.example"
    assert "may not start SMS conversations" in explanation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # The right address, forged: nothing sent, nothing said.
    mailer.deliver(new_email([f"447700900123@{DOMAIN}"], "Hi"), envelope="team@forged.example")
    assert messages(bridge) == []
    assert len(bounces(bridge)) == 1
    with bridge.db.read() as session:
        forged = session.scalars(
            select(InboundEmail).where(InboundEmail.envelope_sender == "team@forged.example")
        ).one()
    assert forged.reason is not None and forged.reason.startswith("NOT_AUTHENTICATED")


def test_no_credit_refuses_every_number_and_charges_nothing(bridge, acme, mailer: Mailer):
    from smsbridge.credits import ledger

    balance = bridge.messages.balance(acme["account_id"])
    with bridge.db.write() as session:
        ledger.credit(
            session,
            acme["account_id"],
            -round(balance * 1000),
            bridge.clock.now(),
            kind="adjustment",
        )
    mailer.deliver(
        mailer.sign(new_email([f"447700900123@{DOMAIN}"], "Hi")), envelope="team@acme.example"
    )
    assert messages(bridge) == []
    assert bridge.messages.balance(acme["account_id"]) == 0
    email = the_email(bridge)
    assert email.status == "refused"
    assert email.reason is not None and "INSUFFICIENT_CREDIT" in email.reason
