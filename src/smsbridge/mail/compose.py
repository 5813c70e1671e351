"""The emails the bridge sends: forwarded SMS, copies, notices in the thread, and bounces."""

from __future__ import annotations

import base64
import html
import re
import uuid
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
# Windows FILETIME counts 100 ns ticks from 1601-01-01 (Thread-Index is built from it).
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class HistoryItem:
    """One earlier message of a conversation, shown below a new SMS for context."""

    direction: str  # "in" (the customer's SMS) or "out" (what was sent to the customer)
    text: str
    at: datetime  # aware


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
    # The last few messages before this one, oldest first (both directions).
    history: Sequence[HistoryItem] = ()
    # When the conversation began: roots its Outlook Thread-Index (None: no Thread-Index).
    thread_started_at: datetime | None = None
    # A keyword the SMS was recognised as (opt-out, opt-in, help): shown above the text and
    # in a header, so the business sees, and its mail rules can sort, what the customer did.
    keyword: KeywordNote | None = None

    def __post_init__(self) -> None:
        _require_aware(self.received_at, "received_at")


@dataclass(frozen=True)
class KeywordNote:
    """What a keyword SMS did, for its forwarding email."""

    kind: str  # optout, optin or help
    notice: str  # one or two sentences, e.g. "The customer opted out (they texted STOP)..."


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
    thread_started_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware(self.sent_at, "sent_at")


@dataclass(frozen=True)
class ThreadNotice:
    """A note in a conversation's thread from the bridge itself: a refused email reply, the
    outcome of an SMS an email became, a delivery confirmation. `paragraphs` is the text."""

    kind: str  # "notice" or "outcome": the X-Smsbridge-Kind
    title: str
    paragraphs: Sequence[str]
    customer: str
    reply_number: str
    message_tag: str | None
    number_tags: Sequence[str]
    conversation_key: str
    sequence: int
    reply_to: str
    from_address: str
    to: Sequence[str]
    mail_domain: str
    created_at: datetime  # aware
    in_reply_to: str | None = None  # the Message-ID of the email this notice is about
    thread_started_at: datetime | None = None
    invite_reply: bool = False  # only when everyone it goes to may answer

    def __post_init__(self) -> None:
        _require_aware(self.created_at, "created_at")


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


def conversation_subject(customer: str, reply_number: str, message_tag: str | None = None) -> str:
    """The subject every email of a conversation shares, for its whole life: Gmail threads
    only emails whose subjects match, and Outlook groups by Thread-Topic, so the tag (which
    changes when a new SMS carries another one) is shown in the body and X-Smsbridge-Tags,
    never here. `message_tag` is accepted and ignored, so callers need not know that."""
    del message_tag
    return f"SMS from {_one_line(customer)} to {_one_line(reply_number)}"


def thread_index(conversation_key: str, started_at: datetime, sequence: int, now: datetime) -> str:
    """An Outlook Thread-Index (MS-OXOMSG PidTagConversationIndex) for the conversation.

    The 22-byte header (a reserved 0x01, the top 5 bytes of the conversation's start as a
    FILETIME, and a GUID: the conversation's own UUID) is the same on every email, which is
    what Outlook groups by; each email after the first adds one 5-byte child block (time since
    the start, and its sequence number) so Outlook orders them. Deterministic for the same
    inputs, so a re-sent email carries the same value.
    """
    _require_aware(started_at, "started_at")
    _require_aware(now, "now")
    try:
        guid = uuid.UUID(hex=conversation_key).bytes
    except ValueError:
        guid = uuid.uuid5(uuid.NAMESPACE_OID, conversation_key).bytes
    start = _filetime(started_at)
    header = b"\x01" + (start >> 16).to_bytes(8, "big")[-5:] + guid
    if sequence <= 1:
        return base64.b64encode(header).decode("ascii")
    delta = max(0, _filetime(now) - ((start >> 16) << 16))
    if delta < 1 << 49:
        code, bits = 0, (delta >> 18) & 0x7FFFFFFF
    else:
        code, bits = 1, (delta >> 23) & 0x7FFFFFFF
    child = (code << 39) | (bits << 8) | (sequence & 0xFF)
    return base64.b64encode(header + child.to_bytes(5, "big")).decode("ascii")


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
    history = [
        (
            _readable_utc(item.at),
            sms.customer if item.direction == "in" else f"{sms.reply_number} (sent)",
            _normalise_newlines(item.text),
        )
        for item in sms.history
    ]
    history_plain: list[str] = []
    if history:
        history_plain = ["Earlier in this conversation:", ""]
        for when, who, said in history:
            history_plain += [f"{when}, {who}:", *(f"  {line}" for line in said.split("\n")), ""]

    banner = [f"[{sms.keyword.notice}]", ""] if sms.keyword is not None else []
    plain = "\n".join(
        [
            *banner,
            f"SMS from {sms.customer} to {sms.reply_number}:",
            "",
            text,
            "",
            *(f"{label}: {value}" for label, value in facts),
            "",
            REPLY_HINT,
            "",
            *history_plain,
        ]
    )
    rows = "".join(
        f'<tr><td style="padding:0 12px 0 0;color:#666">{_h(label)}</td><td>{_h(value)}</td></tr>'
        for label, value in facts
    )
    history_html = ""
    if history:
        items = "".join(
            f'<li style="margin:0 0 6px 0"><span style="color:#666">{_h(when)}, {_h(who)}:</span>'
            f"<br>{_h_multiline(said)}</li>"
            for when, who, said in history
        )
        history_html = (
            '<p style="color:#666;font-size:90%;margin-top:24px">Earlier in this conversation:</p>'
            f'<ul style="list-style:none;padding:0;font-size:90%">{items}</ul>'
        )
    banner_html = (
        '<p style="padding:8px 12px;border:2px solid #b00;background:#fff4f4">'
        f"<strong>{_h(sms.keyword.notice)}</strong></p>"
        if sms.keyword is not None
        else ""
    )
    body_html = (
        f"{banner_html}<p>SMS from {_h(sms.customer)} to {_h(sms.reply_number)}:</p>"
        f'<blockquote style="margin:0 0 16px 0;padding:8px 12px;border-left:3px solid #ccc">'
        f"{_h_multiline(text)}</blockquote>"
        f'<table style="border-collapse:collapse;font-size:90%">{rows}</table>'
        f'<p style="color:#666;font-size:90%">{_h(REPLY_HINT)}</p>'
        f"{history_html}"
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
        thread_started_at=sms.thread_started_at,
    )
    if sms.keyword is not None:
        # For mail rules: X-Smsbridge-Keyword: optout (or optin, help).
        msg["X-Smsbridge-Keyword"] = sms.keyword.kind
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
    tags = tag_path(reply.number_tags, reply.message_tag)
    if tags:
        footer += f" Tags: {' > '.join(tags)}."

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
        thread_started_at=reply.thread_started_at,
    )
    msg["X-Smsbridge-Replied-By"] = _one_line(reply.replier_address)
    _set_bodies(msg, plain, body_html)
    return msg


def notice_email(notice: ThreadNotice) -> EmailMessage:
    """A note from the bridge in a conversation's own thread (same subject and references)."""
    paragraphs = [_normalise_newlines(p).strip() for p in notice.paragraphs if p.strip()]
    tags = tag_path(notice.number_tags, notice.message_tag)
    footer = f"Conversation of {notice.customer} with {notice.reply_number}"
    footer += f", tags: {' > '.join(tags)}." if tags else "."
    closing = [REPLY_HINT] if notice.invite_reply else ["This message was sent automatically."]
    plain = "\n\n".join([_one_line(notice.title), *paragraphs, footer, *closing]) + "\n"
    body_html = (
        f"<p><strong>{_h(_one_line(notice.title))}</strong></p>"
        + "".join(f"<p>{_h_multiline(p)}</p>" for p in paragraphs)
        + f'<p style="color:#666;font-size:90%">{_h(footer)}<br>{_h(closing[0])}</p>'
    )
    msg = _conversation_message(
        kind=notice.kind,
        customer=notice.customer,
        reply_number=notice.reply_number,
        message_tag=notice.message_tag,
        number_tags=notice.number_tags,
        conversation_key=notice.conversation_key,
        sequence=notice.sequence,
        mail_domain=notice.mail_domain,
        from_address=notice.from_address,
        to=notice.to,
        reply_to=notice.reply_to,
        date=notice.created_at,
        thread_started_at=notice.thread_started_at,
    )
    original = _one_line(notice.in_reply_to or "")
    if original:
        # Threaded under the writer's own email as well as under the conversation's root.
        del msg["In-Reply-To"], msg["References"]
        msg["In-Reply-To"] = original
        msg["References"] = (
            f"{conversation_root_id(notice.conversation_key, notice.mail_domain)} {original}"
        )
    # A notice answers the writer's email: RFC 3834 auto-replied, so robots stay quiet.
    del msg["Auto-Submitted"]
    msg["Auto-Submitted"] = AUTO_REPLIED
    _set_bodies(msg, plain, body_html)
    return msg


@dataclass(frozen=True)
class Summary:
    """What became of an email that started conversations, told to its writer when
    something of it was not sent (a refused number, attachments). Threads under the email."""

    to: str
    from_address: str
    subject: str
    paragraphs: Sequence[str]
    original_message_id: str | None
    key: str  # makes the Message-ID (the stored email's id): building it twice gives one
    created_at: datetime  # aware
    mail_domain: str

    def __post_init__(self) -> None:
        _require_aware(self.created_at, "created_at")


def summary_email(summary: Summary) -> EmailMessage:
    paragraphs = [_normalise_newlines(p).strip() for p in summary.paragraphs if p.strip()]
    closing = "This message was sent automatically."
    plain = "\n\n".join([*paragraphs, closing]) + "\n"
    body_html = "".join(f"<p>{_h_multiline(p)}</p>" for p in paragraphs) + (
        f'<p style="color:#666;font-size:90%">{_h(closing)}</p>'
    )
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = summary.from_address
    msg["To"] = summary.to
    msg["Subject"] = _one_line(summary.subject)
    msg["Date"] = format_datetime(summary.created_at.astimezone(UTC))
    if not _BOUNCE_KEY.fullmatch(summary.key):
        raise ValueError(f"unusable key for a Message-ID: {summary.key!r}")
    msg["Message-ID"] = f"<summary-{summary.key}@{_check_domain(summary.mail_domain)}>"
    original_id = _one_line(summary.original_message_id or "")
    if original_id:
        msg["In-Reply-To"] = original_id
        msg["References"] = original_id
    msg["Auto-Submitted"] = AUTO_REPLIED
    msg["X-Auto-Response-Suppress"] = SUPPRESS_ALL
    msg["X-Smsbridge-Kind"] = "summary"
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
    thread_started_at: datetime | None = None,
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
    # Outlook groups on the conversation topic and index: both stay the same for the whole
    # conversation (the index is rooted in the conversation's start and its id).
    msg["Thread-Topic"] = subject
    if thread_started_at is not None:
        msg["Thread-Index"] = thread_index(conversation_key, thread_started_at, sequence, date)
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


def _filetime(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - _FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def _readable_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _h_multiline(text: str) -> str:
    return "<br>\n".join(_h(line) for line in text.split("\n"))
