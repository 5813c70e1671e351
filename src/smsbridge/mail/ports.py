"""The mail ports: how the bridge sends email and how received email reaches it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class OutgoingEmail:
    """One email ready to hand to a transport: the bytes are final (already DKIM-signed)."""

    id: str
    envelope_sender: str
    recipients: list[str]
    raw: bytes


class TransportError(Exception):
    """A failed send. `permanent` failures are recorded; temporary ones are retried."""

    def __init__(self, message: str, *, permanent: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


class MailTransport(Protocol):
    name: str

    async def send(self, email: OutgoingEmail) -> None:
        """Deliver or raise TransportError. Sending the same id twice must be harmless where
        the transport can make it so (the maildir can; an SMTP relay cannot)."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class ReceivedEmail:
    """An email as our SMTP/LMTP server or the HTTP endpoint took it, before any judgement."""

    envelope_sender: str  # "" for the null sender <>
    recipients: list[str]
    raw: bytes
    channel: str  # "smtp", "lmtp" or "http"
    peer: str | None = None  # client IP address, when there is a connection
    helo: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class UnreadableEmail(Exception):
    """Raised by InboundMailSink.store for an email it recorded as refused because it cannot
    be read at all; the server answers 5xx with `reason`, so the sender learns why."""

    def __init__(self, reason: str, email_id: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.email_id = email_id


class InboundMailSink(Protocol):
    """What the mail servers call. Both methods do database work and are synchronous; the
    servers run them in a thread."""

    def check_recipient(self, address: str) -> str | None:
        """None to accept the recipient, else the reason to refuse it (sent as 550)."""
        ...

    def store(self, email: ReceivedEmail) -> str:
        """Commit the email and return its id. UnreadableEmail: stored as refused (answered
        550 with its reason); any other exception means 'not stored' (answered 451)."""
        ...
