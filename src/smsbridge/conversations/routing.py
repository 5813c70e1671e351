"""Which conversation an email belongs to, from its addresses and references (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Message-IDs we mint for conversation emails: <conv-KEY@domain> and <conv-KEY-SEQ@domain>.
_OUR_ID = re.compile(r"<conv-([0-9a-f]{32})(?:-\d+)?@([^<>\s]{1,253})>", re.IGNORECASE)
# <number>@domain or <number>.<replynumber>@domain, digits in international form, an optional
# leading "+" (which some clients allow in a local part) and no other decoration.
_START = re.compile(r"\+?([1-9][0-9]{6,14})(?:[.\-]\+?([1-9][0-9]{6,14}))?")


@dataclass(frozen=True)
class StartAddress:
    """An address that starts a conversation: SMS to `destination` from `reply_number` (or
    from the writer's own default Reply Number when None). Both in E.164."""

    destination: str
    reply_number: str | None


def start_address(address: str, mail_domain: str) -> StartAddress | None:
    """`447700900123@sms.example.com` or `447700900123.447700900001@...`, else None."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at or domain.strip().rstrip(".").lower() != mail_domain.lower():
        return None
    match = _START.fullmatch(local)
    if match is None:
        return None
    reply_number = f"+{match.group(2)}" if match.group(2) else None
    return StartAddress(f"+{match.group(1)}", reply_number)


def conversation_keys_from_references(values: Iterable[str], mail_domain: str) -> list[str]:
    """Conversation keys named by In-Reply-To/References values (for a reply sent to From:),
    the most recent reference first."""
    keys = []
    for value in values:
        for key, domain in _OUR_ID.findall(value):
            if domain.lower() == mail_domain.lower():
                keys.append(key.lower())
    return list(dict.fromkeys(reversed(keys)))
