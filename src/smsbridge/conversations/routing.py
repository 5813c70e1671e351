"""Who gets an inbound SMS, and who may answer it (pure: the caller supplies the rows)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from email.message import EmailMessage
from email.utils import getaddresses

# Message-IDs we mint for conversation emails: <conv-KEY@domain> and <conv-KEY-SEQ@domain>.
_OUR_ID = re.compile(r"<conv-([0-9a-f]{32})(?:-\d+)?@([^>]+)>", re.IGNORECASE)


def forward_addresses(
    last_outbound_emails: Sequence[str] | None, number_default: Sequence[str]
) -> list[str]:
    """The responseemail of the last SMS sent to the handset from this number; else the
    number's default Response Email; else nobody (the SMS waits in the inbox)."""
    chosen = list(last_outbound_emails or []) or list(number_default)
    return list(dict.fromkeys(a.strip() for a in chosen if a.strip()))


def reply_addresses(message: EmailMessage, mail_domain: str) -> list[str]:
    """The people on an email reply (From, To, Cc) minus the gateway's own addresses: they
    become the new SMS's responseemail, so the customer's next answer reaches them all."""
    fields: list[str] = []
    for header in ("From", "To", "Cc"):
        fields += [str(value) for value in message.get_all(header, [])]
    seen: dict[str, str] = {}
    for _name, address in getaddresses(fields):
        address = address.strip()
        if "@" not in address:
            continue
        if address.rsplit("@", 1)[1].lower() == mail_domain.lower():
            continue
        seen.setdefault(address.lower(), address)
    return list(seen.values())


def conversation_keys_from_references(message: EmailMessage, mail_domain: str) -> list[str]:
    """Conversation keys named by In-Reply-To/References (for a reply sent to From:)."""
    text = " ".join(
        str(value)
        for header in ("In-Reply-To", "References")
        for value in message.get_all(header, [])
    )
    keys = []
    for key, domain in _OUR_ID.findall(text):
        if domain.lower() == mail_domain.lower():
            keys.append(key.lower())
    return list(dict.fromkeys(reversed(keys)))  # the most recent reference first


def others_on_conversation(addresses: Iterable[str], replier: str, mail_domain: str) -> list[str]:
    """Everyone to copy a sent reply to: the conversation's people but the one who wrote."""
    result: dict[str, str] = {}
    for address in addresses:
        lowered = address.lower()
        if lowered == replier.lower() or lowered.endswith("@" + mail_domain.lower()):
            continue
        result.setdefault(lowered, address)
    return list(result.values())
