"""The tables. Every message, receipt and credit movement is a row with an explicit state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python on every backend (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # A cache of SUM(credit_entries.amount_milli), updated in the same transaction as each
    # entry; the conditional UPDATE on it is what stops two concurrent sends overspending.
    balance_milli: Mapped[int] = mapped_column(BigInteger, default=0)
    allow_domestic: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_international: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    # Signs every webhook we POST for this account (HMAC-SHA256), so receivers can trust it.
    webhook_secret: Mapped[str | None] = mapped_column(String(64))
    # Used when a message has no deliveryreporturl of its own.
    default_deliveryreporturl: Mapped[str | None] = mapped_column(Text)
    # Where inbound SMS are POSTed (besides any email forwarding).
    inbound_webhook_url: Mapped[str | None] = mapped_column(Text)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ReplyNumber(Base):
    __tablename__ = "reply_numbers"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="pool")
    response_emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Send the other people on a conversation a copy of each email reply that went out.
    copy_replies: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # Addresses (or @domains) that may always reply by email, besides the conversation's own.
    authorised_senders: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # Email the writer of an email reply when its SMS is delivered (failures are always told).
    delivery_confirmations: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    added_at: Mapped[datetime]
    assigned_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]


class Batch(Base):
    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[datetime]
    schedule: Mapped[datetime | None]
    size: Mapped[int] = mapped_column(Integer)


class Message(Base):
    """An outbound SMS: the system of record of the pipeline."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id"), index=True)
    sender: Mapped[str] = mapped_column(String(20))
    destination: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    content: Mapped[str] = mapped_column(Text)
    tag: Mapped[str | None] = mapped_column(String(50))
    response_emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Set when the message is an email reply in a conversation (Email2SMS).
    conversation_id: Mapped[str | None] = mapped_column(String(36))
    deliveryreporturl: Mapped[str | None] = mapped_column(Text)
    metadata_json: Mapped[Any] = mapped_column("metadata", JSON, nullable=True)
    ttl: Mapped[int | None]
    validity_minutes: Mapped[int] = mapped_column(Integer, default=2880)
    # A flash (class 0) SMS: shown on the handset's screen at once and not stored there.
    flash: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    encoding: Mapped[str] = mapped_column(String(8))
    segments: Mapped[int] = mapped_column(Integer)
    credits_milli: Mapped[int] = mapped_column(BigInteger)
    # status: the SMS Works word the API shows. state: where the pipeline has the row
    # (scheduled/queued -> submitting -> submitted -> final).
    status: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    ready_at: Mapped[datetime]
    schedule: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    carrier_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the latest submit went to the carrier: evidence for matching a receipt to a message
    # whose submit was in doubt.
    submitted_at: Mapped[datetime | None]
    # Temporary carrier refusals so far, counted against the carrier's retry limit.
    retries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failure_code: Mapped[int | None]
    failure_detail: Mapped[str | None] = mapped_column(Text)
    failure_permanent: Mapped[bool | None]
    created: Mapped[datetime]
    modified: Mapped[datetime]
    # Set by DELETE /messages/{id}: no longer listed, its text erased; receipts still apply.
    deleted_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_messages_state_ready_at", "state", "ready_at"),
        Index("ix_messages_account_id_created", "account_id", "created"),
        Index("ix_messages_sender_destination_created", "sender", "destination", "created"),
    )


class InboundMessage(Base):
    """An SMS a handset sent to one of our numbers; stored before anything else happens."""

    __tablename__ = "inbound_messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    reply_number: Mapped[str] = mapped_column(String(20))
    sender: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    keyword: Mapped[str | None] = mapped_column(String(50))
    # The carrier's id for the SMS: a redelivered SMS is recognised and stored once.
    carrier_ref: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="UNREAD")
    received_at: Mapped[datetime]
    conversation_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # Who the SMS was emailed to (empty: kept in the inbox only) and that email's row.
    emailed_to: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    email_id: Mapped[str | None] = mapped_column(String(36))
    # Set by DELETE /messages/{id}: no longer listed, its text erased.
    deleted_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_inbound_messages_account_id_received_at", "account_id", "received_at"),
    )


class Conversation(Base):
    """One customer's thread with one Reply Number of one account."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    reply_number: Mapped[str] = mapped_column(String(20))
    customer: Mapped[str] = mapped_column(String(20))
    # Bumping the version revokes every reply address issued before.
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    # Numbers each email of the thread, for unique Message-IDs.
    email_sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("account_id", "reply_number", "customer"),)


class OutboundEmail(Base):
    """An email we send (a forwarded SMS, a copy, a bounce): queued like an SMS."""

    __tablename__ = "emails"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    conversation_id: Mapped[str | None] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    envelope_sender: Mapped[str] = mapped_column(String(320))
    recipients: Mapped[list[str]] = mapped_column(JSON)
    # Lower-cased first recipient: lets the bounce limit count per address with one query.
    first_recipient: Mapped[str | None] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(Text)
    # The exact bytes to send, fixed at enqueue time: a retry sends the same Message-ID.
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    ready_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_emails_status_ready_at", "status", "ready_at"),)


class InboundEmail(Base):
    """An email our SMTP/LMTP server or HTTP endpoint accepted: committed before the 250."""

    __tablename__ = "inbound_emails"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    envelope_sender: Mapped[str] = mapped_column(String(320))
    recipients: Mapped[list[str]] = mapped_column(JSON)
    peer: Mapped[str | None] = mapped_column(String(64))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # received -> processing -> sent (an SMS went out) | refused (bounced) | ignored (auto-reply)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    account_id: Mapped[str | None] = mapped_column(String(36))
    conversation_id: Mapped[str | None] = mapped_column(String(36), index=True)
    message_id: Mapped[str | None] = mapped_column(String(36), index=True)
    from_address: Mapped[str | None] = mapped_column(String(320))
    received_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    # Message-ID + envelope sender + recipients (or the bytes) digested: a sending server's
    # retry of an email we already stored is recognised and never processed twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    # The SMTP client's HELO/EHLO name (SPF checks it, and uses it for the null sender).
    helo: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (Index("ix_inbound_emails_status_received_at", "status", "received_at"),)


class InboundEmailMessage(Base):
    """Which SMS an email became (one reply: one; an email starting conversations: several)."""

    __tablename__ = "inbound_email_messages"

    inbound_email_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True, unique=True)
    # The last status its writer was told about by email (none twice).
    notified_status: Mapped[str | None] = mapped_column(String(16))


class WebhookDelivery(Base):
    """One event POSTed to an account's URL: a status change or an inbound SMS. Its id is the
    stable event id receivers use to ignore duplicates."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str | None] = mapped_column(String(36), index=True)
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # queued, sending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    ready_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_webhook_deliveries_status_ready_at", "status", "ready_at"),)


class CarrierPart(Base):
    """One submitted part of a long message, with the carrier's id for it: receipts come per
    part, and the message is final once every part is."""

    __tablename__ = "carrier_parts"

    carrier_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(36), index=True)
    part_index: Mapped[int] = mapped_column(Integer)
    status: Mapped[str | None] = mapped_column(String(16))
    code: Mapped[int | None]
    detail: Mapped[str | None] = mapped_column(Text)


class InboundPart(Base):
    """A part of a long inbound SMS, kept until its siblings arrive (or time runs out)."""

    __tablename__ = "inbound_parts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # connector + source + destination + reference + total: which message the part belongs to.
    group_key: Mapped[str] = mapped_column(String(200), index=True)
    part_number: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    sender: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(20))
    data_coding: Mapped[int] = mapped_column(Integer)
    # Packed GSM-7 after a UDH starts after these padding bits.
    fill_bits: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    carrier_ref: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("group_key", "part_number"),)


class User(Base):
    """A person who signs in to the account page (or an operator, with no account)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))  # "user" or "operator"
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser. Only a hash of the cookie's token is stored."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class SignInFailure(Base):
    """A failed sign-in, counted against what it came from (a hash of the email, the client
    address or a trusted browser) to slow further attempts down."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime]

    __table_args__ = (Index("ix_sign_in_failures_subject_failed_at", "subject", "failed_at"),)


class Suppression(Base):
    """A customer number the account may not text (they sent STOP, or the account said so).

    `reply_number` is the Reply Number the opt-out is for, or ANY_NUMBER: every sender of
    the account. One row per (account, customer, reply_number); what happened to it over time
    is in suppression_events.
    """

    __tablename__ = "suppressions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    customer: Mapped[str] = mapped_column(String(20))
    reply_number: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    # keyword, api, page or import: how the entry came to be.
    source: Mapped[str] = mapped_column(String(16))
    keyword: Mapped[str | None] = mapped_column(String(50))
    # Who added it: "key <id>" or "user <email>"; none for a customer's keyword.
    actor: Mapped[str | None] = mapped_column(String(400))
    inbound_message_id: Mapped[str | None] = mapped_column(String(36))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("account_id", "customer", "reply_number"),
        Index("ix_suppressions_account_id_created_at", "account_id", "created_at"),
    )


class SuppressionEvent(Base):
    """The audit trail of the suppression list: append-only, kept after an entry is removed."""

    __tablename__ = "suppression_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    customer: Mapped[str] = mapped_column(String(20))
    reply_number: Mapped[str] = mapped_column(String(20))
    # opted_out, opted_in (a customer's keyword), added, removed (the account).
    action: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    keyword: Mapped[str | None] = mapped_column(String(50))
    actor: Mapped[str | None] = mapped_column(String(400))
    inbound_message_id: Mapped[str | None] = mapped_column(String(36))
    # The automatic SMS the event sent (a confirmation), if any.
    message_id: Mapped[str | None] = mapped_column(String(36))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]

    __table_args__ = (
        Index("ix_suppression_events_account_id_customer_at", "account_id", "customer", "at"),
    )


class OptOutPreferences(Base):
    """An account's own opt-out choices; a null column means the operator's default."""

    __tablename__ = "optout_preferences"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    scope: Mapped[str | None] = mapped_column(String(16))
    # {language: {"optout": [...], "optin": [...], "help": [...]}}
    keywords: Mapped[Any] = mapped_column(JSON, nullable=True)
    # {"optout"|"optin"|"help": {language: text}}
    texts: Mapped[Any] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime]


class GatewaySecret(Base):
    """Secrets the gateway generates for itself (so every process shares them)."""

    __tablename__ = "gateway_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class CreditEntry(Base):
    """Append-only ledger: the balance is the sum of these rows."""

    __tablename__ = "credit_entries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount_milli: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str | None] = mapped_column(String(36), index=True)
    batch_id: Mapped[str | None] = mapped_column(String(36))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class OneTimePasscode(Base):
    """A one-time passcode sent by SMS. Only a keyed digest of the code is kept."""

    __tablename__ = "otps"

    # The id of the SMS that carried it: The SMS Works names an OTP by its message id.
    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    destination: Mapped[str] = mapped_column(String(20))
    passcode_digest: Mapped[str] = mapped_column(String(64))
    validity_seconds: Mapped[int] = mapped_column(Integer)
    metadata_json: Mapped[Any] = mapped_column("metadata", JSON, nullable=True)
    # SENT -> VERIFIED, or FAILED after too many wrong guesses; EXPIRED is read off expires_at.
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    modified_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_otps_account_id_passcode_digest", "account_id", "passcode_digest"),
        Index(
            "ix_otps_account_id_destination_created_at", "account_id", "destination", "created_at"
        ),
    )


class OtpFailure(Base):
    """A wrong passcode given without saying which OTP it was for: counted per account, so
    guessing across every live code of an account is slowed down."""

    __tablename__ = "otp_failures"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[datetime]

    __table_args__ = (Index("ix_otp_failures_account_id_at", "account_id", "at"),)


class OrphanReceipt(Base):
    """A delivery receipt that arrived before we recorded the carrier's id for its message."""

    __tablename__ = "orphan_receipts"

    carrier_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    code: Mapped[int | None]
    detail: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    # What the carrier said beside the id: the handset, its submit time and the text's start.
    # A receipt no id matches is kept, and this is how it finds an in-doubt message.
    destination: Mapped[str | None] = mapped_column(String(20))
    submitted_at: Mapped[datetime | None]
    text: Mapped[str | None] = mapped_column(Text)


class SmppParked(Base):
    """A PDU from an SMSC that could not be used (it would not decode, or a receipt without an
    id): answered, so the SMSC stops resending it, and kept here for an operator."""

    __tablename__ = "smpp_parked"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    connector: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime]


class SmppInboundSeen(Base):
    """A single-part inbound SMS recently received (by its fingerprint): the same SMS delivered
    again soon after, because the SMSC missed our deliver_sm_resp, keeps its carrier id."""

    __tablename__ = "smpp_inbound_seen"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    carrier_ref: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(index=True)


class SimSubmission(Base):
    """The simulated carrier's own record of what it accepted (its 'SMSC')."""

    __tablename__ = "sim_submissions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    carrier_ref: Mapped[str] = mapped_column(String(64), unique=True)
    message_ref: Mapped[str] = mapped_column(String(36), index=True)
    source: Mapped[str] = mapped_column(String(20))
    destination: Mapped[str] = mapped_column(String(20), index=True)
    content: Mapped[str] = mapped_column(Text)
    segments: Mapped[int] = mapped_column(Integer)
    flash: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    submitted_at: Mapped[datetime]
    receipt_due_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    receipt_sent: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_sim_submissions_receipt_sent_due", "receipt_sent", "receipt_due_at"),
    )


class SimOutcome(Base):
    """Scripted outcome for one destination of the simulated carrier (for tests and demos)."""

    __tablename__ = "sim_outcomes"

    destination: Mapped[str] = mapped_column(String(20), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))


class CarrierCharge(Base):
    """What an HTTP carrier (Twilio) says a finished message cost, beside what we billed: a
    segment count that differs means our rates or counting disagree with the provider's."""

    __tablename__ = "carrier_charges"

    carrier_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(40))
    billed_segments: Mapped[int | None] = mapped_column(Integer, default=None)
    reported_segments: Mapped[int | None] = mapped_column(Integer, default=None)
    price: Mapped[str | None] = mapped_column(String(32), default=None)
    price_unit: Mapped[str | None] = mapped_column(String(8), default=None)
    mismatch: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    checked_at: Mapped[datetime | None] = mapped_column(default=None)


class AndroidSend(Base):
    """One SMS handed to an Android phone's SIM: the hourly limit per SIM is counted from these
    rows (written before the phone is asked), so restarts and other workers respect it."""

    __tablename__ = "android_sends"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    phone: Mapped[str] = mapped_column(String(40))
    sim: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[str] = mapped_column(String(36))
    sent_at: Mapped[datetime]

    __table_args__ = (Index("ix_android_sends_phone_sim_sent_at", "phone", "sim", "sent_at"),)
