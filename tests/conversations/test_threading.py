"""One thread per conversation in Gmail and Outlook, whatever the tag: their documented rules
applied to the emails a real conversation produces (replies through our SMTP/LMTP server).

The rules, as the vendors document them:
- Gmail ("Group emails into conversations", Gmail Help): messages go into one conversation
  when they have the same subject (ignoring "Re:"/"Fwd:" prefixes) and refer to each other
  (In-Reply-To/References naming a Message-ID of the conversation); a different subject
  starts a new conversation even when the references match.
- Outlook / Exchange (MS-OXOMSG 2.2.1.3, PidTagConversationIndex and PidTagConversationTopic;
  Conversation view): messages are grouped by conversation: the 22-byte header of the
  Thread-Index (set by the first message, kept by every reply), or without one, the topic
  (Thread-Topic, else the normalised subject).
"""

from __future__ import annotations

import base64
import re
from email.message import EmailMessage

from smsbridge.messages.schemas import MessageIn
from tests.conversations import mail_world
from tests.conversations.conftest import CUSTOMER, customer_texts, pump, reply, sent_emails
from tests.conversations.mail_world import Mailer

channel = mail_world.channel
mail_overrides = mail_world.mail_overrides
mailer = mail_world.mailer
world_dns = mail_world.world_dns
world_keys = mail_world.world_keys

_PREFIX = re.compile(r"^(?:\s*(?:re|fwd?|aw|sv|tr)\s*:\s*)+", re.IGNORECASE)


def _subject(value: str) -> str:
    return " ".join(_PREFIX.sub("", value).split()).lower()


def _ids(message: EmailMessage, *names: str) -> set[str]:
    return {
        found
        for name in names
        for value in message.get_all(name, [])
        for found in re.findall(r"<[^<>]+>", str(value))
    }


def gmail_threads(messages: list[EmailMessage]) -> int:
    """How many conversations Gmail's rule makes of these messages (union-find)."""
    parent = list(range(len(messages)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(messages):
        for j, b in enumerate(messages[:i]):
            same_subject = _subject(str(a["Subject"])) == _subject(str(b["Subject"]))
            a_refs = _ids(a, "In-Reply-To", "References")
            b_refs = _ids(b, "In-Reply-To", "References")
            linked = bool(
                a_refs & (_ids(b, "Message-ID") | b_refs) or b_refs & _ids(a, "Message-ID")
            )
            if same_subject and linked:
                parent[root(i)] = root(j)
    return len({root(i) for i in range(len(messages))})


def outlook_threads(messages: list[EmailMessage]) -> int:
    keys = set()
    for message in messages:
        index = message.get("Thread-Index")
        if index:
            keys.add(("index", base64.b64decode(str(index))[:22]))
        else:
            keys.add(("topic", _subject(str(message.get("Thread-Topic") or message["Subject"]))))
    return len(keys)


def test_five_emails_with_a_changing_tag_make_one_thread(bridge, acme, mailer: Mailer):
    bridge.numbers.update(acme["account_id"], acme["number"], {"delivery_confirmations": True})

    def send(tag: str) -> None:
        bridge.messages.send(
            acme["account_id"],
            MessageIn(
                sender=acme["number"],
                destination=CUSTOMER,
                content=f"About your {tag}",
                tag=tag,
                responseemail=["alice@acme.example", "bob@acme.example"],
            ),
        )
        pump(bridge)

    send("booking")
    customer_texts(bridge, acme["number"], "Can we move it?", "in-1")  # 1: forward
    [first] = sent_emails(bridge, "forward")
    mailer.deliver(mailer.sign(reply(first, "Yes, to 8pm.")))  # 2: copy to Bob
    bridge.clock.advance(seconds=1)
    pump(bridge)  # 3: delivery confirmation to Alice
    bridge.clock.advance(seconds=1)
    send("billing")  # the tag changes
    customer_texts(bridge, acme["number"], "And the invoice?", "in-2")  # 4: forward
    latest = sent_emails(bridge, "forward")[-1]
    mailer.deliver(mailer.sign(reply(latest, "")))  # 5: empty: explained in the thread

    thread = sent_emails(bridge, "forward", "copy", "outcome", "notice")
    assert [str(m["X-Smsbridge-Kind"]) for m in thread] == [
        "forward",
        "copy",
        "outcome",
        "forward",
        "notice",
    ]
    assert gmail_threads(thread) == 1
    assert outlook_threads(thread) == 1
    assert len({str(m["Message-ID"]) for m in thread}) == 5
    # The tag stays visible: in a header for filters, and in the body for people.
    assert [str(m["X-Smsbridge-Message-Tag"]) for m in (thread[0], thread[3])] == [
        "booking",
        "billing",
    ]
    first_body = thread[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    later_body = thread[3].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Tags: support > booking" in first_body
    assert "Tags: support > billing" in later_body

    # What the old rule (the tag in the subject) did: Gmail split the conversation in two,
    # as the subjects differ; Outlook, grouping on the Thread-Index, did not.
    tagged = []
    for message in thread:
        copy = EmailMessage()
        for name, value in message.items():
            copy[name] = value
        del copy["Subject"]
        copy["Subject"] = f"{message['Subject']} [{message.get('X-Smsbridge-Message-Tag', '')}]"
        tagged.append(copy)
    assert gmail_threads(tagged) == 2
    assert outlook_threads(tagged) == 1
