"""The emails the bridge sends: forwarded SMS, copies of SMS replies, and reply bounces."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

# No "Precedence: bulk": RFC 3834 discourages it in favour of Auto-Submitted, and filters
# commonly take Precedence bulk/list for mass or mailing-list mail, which could sort
# customers' messages away from the business's inbox. Auto-Submitted asks RFC 3834
# responders (Gmail's vacation reply among them), and X-Auto-Response-Suppress asks Exchange,
# not to answer our mail with out-of-office replies.
AUTO_GENERATED = "auto-generated"
AUTO_REPLIED = "auto-replied"
SUPPRESS_ALL = "All"

REPLY_HINT = (
    "Reply to this email to answer by SMS. End your text with ## to cut off anything below it."
)

# Conversation keys go into Message-IDs, so they must be dot-atom text. A hyphen is refused:
# message ids are "conv-<key>-<sequence>" and roots "conv-<key>", so a key "abc-1" would give a
# root equal to message 1 of conversation "abc".
_KEY = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")
# Bounce keys are never split again, so any dot-atom text will do (a UUID, for instance).
_BOUNCE_KEY = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


@dataclass(frozen=True)
class ForwardedSms:
    """Everything the forwarding email of one inbound SMS shows or needs for its headers."""

    customer: str  # E.164
    reply_number: str  # E.164, the business's Reply Number the SMS was sent to
    text: str
    received_at: datetime  # aware
    message_tag: str | None
    number_tags: Sequence[str]  # the Reply Number's tags, outermost first
    conversation_key: str  # stable per (reply_number, customer); threads the emails
    sequence: int  # per-conversation counter, unique per email sent in the conversation
    reply_to: str  # the signed reply address of this conversation
    from_address: str
    to: Sequence[str]
    mail_domain: str
    account_name: str

    def __post_init__(self) -> None:
        _require_aware(self.received_at, "received_at")


@dataclass(frozen=True)
class SentReply:
    """An SMS that went out in answer to one member's email, to be copied to the others.

    The conversation fields match the ForwardedSms of the same conversation so the copy
    lands in the same thread (same subject, same root id). `sequence` comes from the same
    per-conversation counter as the forwards.
    """

    customer: str
    reply_number: str
    text: str
    sent_at: datetime  # aware
    replier_name: str  # may be empty
    replier_address: str
    message_tag: str | None
    number_tags: Sequence[str]
    conversation_key: str
    sequence: int
    reply_to: str
    from_address: str
    to: Sequence[str]
    mail_domain: str
    account_name: str

    def __post_init__(self) -> None:
        _require_aware(self.sent_at, "sent_at")


@dataclass(frozen=True)
class ReplyBounce:
    """Why an emailed reply was not sent as an SMS, addressed back to whoever sent it.

    `bounce_key` makes the Message-ID (e.g. the id under which the inbound email was stored);
    it is an input so that building the same bounce twice gives the same message.
    """

    to: str
    from_address: str  # must not be a reply address, so answers to the bounce go nowhere
    reason: str
    original_subject: str | None
    original_message_id: str | None
    bounce_key: str
    created_at: datetime  # aware
    mail_domain: str

    def __post_init__(self) -> None:
        _require_aware(self.created_at, "created_at")


def conversation_subject(customer: str, reply_number: str, message_tag: str | None) -> str:
    """The subject every email of a conversation shares (Gmail threads on subject too)."""
    subject = f"SMS from {_one_line(customer)} to {_one_line(reply_number)}"
    tag = _one_line(message_tag or "")
    return f"{subject} [{tag}]" if tag else subject


def conversation_root_id(conversation_key: str, mail_domain: str) -> str:
    """The Message-ID every email of a conversation refers to; no email carries it itself."""
    return f"<conv-{_check_key(conversation_key)}@{_check_domain(mail_domain)}>"


def conversation_message_id(conversation_key: str, sequence: int, mail_domain: str) -> str:
    """The Message-ID of the `sequence`-th email of a conversation."""
    if sequence < 0:
        raise ValueError("sequence must not be negative")
    key = _check_key(conversation_key)
    return f"<conv-{key}-{sequence}@{_check_domain(mail_domain)}>"


def tag_path(number_tags: Sequence[str], message_tag: str | None) -> list[str]:
    """Number tags then the message tag, blanks dropped: ["support", "billing", "spring"]."""
    if isinstance(number_tags, str):
        raise TypeError("number_tags must be a list of tags, not a string")
    tags = [_one_line(tag) for tag in [*number_tags, message_tag or ""]]
    return [tag for tag in tags if tag]


def forward_email(sms: ForwardedSms) -> EmailMessage:
    """The email of one inbound SMS, threaded with the rest of its conversation."""
    tags = tag_path(sms.number_tags, sms.message_tag)
    received = _readable_utc(sms.received_at)
    facts = [
        ("From", sms.customer),
        ("To", f"{sms.reply_number} (Reply Number of {sms.account_name})"),
        ("Received", received),
    ]
    if tags:
        facts.append(("Tags", " > ".join(tags)))
    text = _normalise_newlines(sms.text)

    plain = "\n".join(
        [
            f"SMS from {sms.customer} to {sms.reply_number}:",
            "",
            text,
            "",
            *(f"{label}: {value}" for label, value in facts),
            "",
            REPLY_HINT,
            "",
        ]
    )
    rows = "".join(
        f'<tr><td style="padding:0 12px 0 0;color:#666">{_h(label)}</td><td>{_h(value)}</td></tr>'
        for label, value in facts
    )
    body_html = (
        f"<p>SMS from {_h(sms.customer)} to {_h(sms.reply_number)}:</p>"
        f'<blockquote style="margin:0 0 16px 0;padding:8px 12px;border-left:3px solid #ccc">'
        f"{_h_multiline(text)}</blockquote>"
        f'<table style="border-collapse:collapse;font-size:90%">{rows}</table>'
        f'<p style="color:#666;font-size:90%">{_h(REPLY_HINT)}</p>'
    )

    msg = _conversation_message(
        kind="forward",
        customer=sms.customer,
        reply_number=sms.reply_number,
        message_tag=sms.message_tag,
        number_tags=sms.number_tags,
        conversation_key=sms.conversation_key,
        sequence=sms.sequence,
        mail_domain=sms.mail_domain,
        from_address=sms.from_address,
        to=sms.to,
        reply_to=sms.reply_to,
        date=sms.received_at,
    )
    _set_bodies(msg, plain, body_html)
    return msg


def copy_email(reply: SentReply) -> EmailMessage:
    """A short note to the rest of a conversation's recipients of what one of them sent."""
    who = _one_line(reply.replier_address)
    name = _one_line(reply.replier_name)
    if name:
        who = f"{name} <{who}>"
    text = _normalise_newlines(reply.text)
    sent = _readable_utc(reply.sent_at)
    intro = f"{who} replied by SMS to {reply.customer}:"
    footer = f"Sent {sent} from {reply.reply_number} ({reply.account_name})."

    plain = "\n".join([intro, "", text, "", footer, "", REPLY_HINT, ""])
    body_html = (
        f"<p>{_h(intro)}</p>"
        f'<blockquote style="margin:0 0 16px 0;padding:8px 12px;border-left:3px solid #ccc">'
        f"{_h_multiline(text)}</blockquote>"
        f'<p style="color:#666;font-size:90%">{_h(footer)}<br>{_h(REPLY_HINT)}</p>'
    )

    msg = _conversation_message(
        kind="copy",
        customer=reply.customer,
        reply_number=reply.reply_number,
        message_tag=reply.message_tag,
        number_tags=reply.number_tags,
        conversation_key=reply.conversation_key,
        sequence=reply.sequence,
        mail_domain=reply.mail_domain,
        from_address=reply.from_address,
        to=reply.to,
        reply_to=reply.reply_to,
        date=reply.sent_at,
    )
    msg["X-Smsbridge-Replied-By"] = _one_line(reply.replier_address)
    _set_bodies(msg, plain, body_html)
    return msg


def bounce_email(bounce: ReplyBounce) -> EmailMessage:
    """The explanation sent back when an emailed reply could not go out as an SMS.

    Loop safety: it is marked auto-replied (RFC 3834), asks Exchange for no auto-responses,
    has no Reply-To (so nothing points back at a reply address) and quotes only the subject,
    never the body, of the email it answers.
    """
    original = _one_line(bounce.original_subject or "")
    subject = f"Not sent as SMS: {original}" if original else "Your reply was not sent as SMS"
    reason = _normalise_newlines(bounce.reason).strip()
    quoted = f'"{original}"' if original else "without a subject"
    intro = f"Your email {quoted} was not sent as an SMS."

    plain = "\n".join([intro, "", reason, "", "This message was sent automatically.", ""])
    body_html = (
        f"<p>{_h(intro)}</p><p>{_h_multiline(reason)}</p>"
        '<p style="color:#666;font-size:90%">This message was sent automatically.</p>'
    )

    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = bounce.from_address
    msg["To"] = bounce.to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(bounce.created_at.astimezone(UTC))
    if not _BOUNCE_KEY.fullmatch(bounce.bounce_key):
        raise ValueError(f"unusable bounce key for a Message-ID: {bounce.bounce_key!r}")
    key, domain = bounce.bounce_key, _check_domain(bounce.mail_domain)
    msg["Message-ID"] = f"<bounce-{key}@{domain}>"
    original_id = _one_line(bounce.original_message_id or "")
    if original_id:
        msg["In-Reply-To"] = original_id
        msg["References"] = original_id
    msg["Auto-Submitted"] = AUTO_REPLIED
    msg["X-Auto-Response-Suppress"] = SUPPRESS_ALL
    msg["X-Smsbridge-Kind"] = "bounce"
    _set_bodies(msg, plain, body_html)
    return msg


def _conversation_message(
    *,
    kind: str,
    customer: str,
    reply_number: str,
    message_tag: str | None,
    number_tags: Sequence[str],
    conversation_key: str,
    sequence: int,
    mail_domain: str,
    from_address: str,
    to: Sequence[str],
    reply_to: str,
    date: datetime,
) -> EmailMessage:
    """Headers shared by every email of a conversation: threading, loop guards, filter tags."""
    if isinstance(to, str):
        # A bare string is a Sequence[str] too; joining it would give "a, @, b, ...".
        raise TypeError("to must be a list of addresses, not a string")
    if not to:
        raise ValueError("an email needs at least one recipient")
    subject = conversation_subject(customer, reply_number, message_tag)
    root = conversation_root_id(conversation_key, mail_domain)
    tags = tag_path(number_tags, message_tag)

    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = from_address
    msg["To"] = ", ".join(to)
    msg["Reply-To"] = reply_to
    msg["Subject"] = subject
    # Outlook groups on the conversation topic; a Thread-Index is left out on purpose, since a
    # made-up one (its timestamp and GUID are meant to come from the first message) risks
    # Outlook mis-grouping or mis-ordering the thread.
    msg["Thread-Topic"] = subject
    msg["Date"] = format_datetime(date.astimezone(UTC))
    msg["Message-ID"] = conversation_message_id(conversation_key, sequence, mail_domain)
    # Every email points at the same root, which no email carries: threading then works
    # whichever emails of the conversation a mailbox has, in any order.
    msg["In-Reply-To"] = root
    msg["References"] = root
    msg["Auto-Submitted"] = AUTO_GENERATED
    msg["X-Auto-Response-Suppress"] = SUPPRESS_ALL
    msg["X-Smsbridge-Kind"] = kind
    msg["X-Smsbridge-Customer"] = _one_line(customer)
    msg["X-Smsbridge-Reply-Number"] = _one_line(reply_number)
    if tags:
        msg["X-Smsbridge-Tags"] = " > ".join(tags)
    if message_tag and _one_line(message_tag):
        msg["X-Smsbridge-Message-Tag"] = _one_line(message_tag)
    return msg


def _set_bodies(msg: EmailMessage, plain: str, body_html: str) -> None:
    msg.set_content(plain, subtype="plain", charset="utf-8")
    document = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f'<body style="font-family:sans-serif">{body_html}</body></html>\n'
    )
    msg.add_alternative(document, subtype="html", charset="utf-8")


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError(f"unusable key for a Message-ID: {key!r}")
    return key


def _check_domain(domain: str) -> str:
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"unusable mail domain: {domain!r}")
    return domain


def _one_line(value: str) -> str:
    # Header values may not contain line breaks (and tags come from users): flatten them.
    return " ".join(_CONTROL.sub(" ", value).split())


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _readable_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _h_multiline(text: str) -> str:
    return "<br>\n".join(_h(line) for line in text.split("\n"))
