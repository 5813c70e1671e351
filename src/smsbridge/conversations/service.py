"""Conversation actions: forward an inbound SMS by email; turn an email reply into an SMS."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import parseaddr
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smsbridge.clock import Clock
from smsbridge.conversations import routing
from smsbridge.db.engine import Database
from smsbridge.db.models import (
    Account,
    Conversation,
    InboundEmail,
    InboundMessage,
    Message,
    OutboundEmail,
    ReplyNumber,
)
from smsbridge.errors import ServiceError
from smsbridge.ids import new_id
from smsbridge.mail import compose, tokens
from smsbridge.mail.checks import (
    auto_reply_reason,
    dmarc_pass_from_authentication_results,
    extract_body,
    sender_allowed,
)
from smsbridge.mail.outbox import Signer, enqueue_email
from smsbridge.mail.ports import ReceivedEmail
from smsbridge.mail.reply_text import extract_reply_text, html_to_text, unflow
from smsbridge.messages.schemas import MessageIn
from smsbridge.messages.service import MessageService
from smsbridge.settings import MailSettings

log = logging.getLogger(__name__)

# An inbound email that fails to process this many times is parked, not retried forever.
MAX_ATTEMPTS = 5
# At most this many explanatory emails per address per hour: a guard against mail loops with
# autoresponders that do not mark themselves.
BOUNCES_PER_ADDRESS_PER_HOUR = 5

DkimVerifier = Callable[[bytes, str], tuple[bool, str]]
# Returns the reply-token keys (first signs, all verify); given the caller's session when
# called inside a transaction.
KeySource = Callable[[Session | None], list[bytes]]


class Refused(Exception):
    """A reply that cannot go out; the reason is mailed back to its sender."""

    def __init__(
        self,
        reason: str,
        *,
        code: str,
        conversation: Conversation | None = None,
        from_address: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        # Recorded with the refusal, so the account page can show it in the conversation.
        self.conversation = conversation
        self.from_address = from_address


class ConversationService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: MailSettings,
        key_source: KeySource,
        messages: MessageService,
        *,
        signer: Signer | None = None,
        dkim_verifier: DkimVerifier | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._settings = settings
        self._key_source = key_source
        self._cached_keys: list[bytes] | None = None
        self._messages = messages
        self._signer = signer
        self._dkim = dkim_verifier
        self._trusted = [
            ipaddress.ip_network(n, strict=False) for n in settings.inbound.trusted_networks
        ]

    def _keys(self, session: Session | None = None) -> list[bytes]:
        if self._cached_keys is None:
            keys = self._key_source(session)
            if not keys:
                raise ValueError("at least one reply-token key is needed")
            self._cached_keys = keys
        return self._cached_keys

    @property
    def from_address(self) -> str:
        return f"{self._settings.from_local_part}@{self._settings.domain}"

    def reply_address(self, conversation: Conversation, session: Session | None = None) -> str:
        key = self._keys(session)[0]
        token = tokens.make_token(conversation.id, conversation.token_version, key)
        return tokens.reply_address(token, self._settings.reply_prefix, self._settings.domain)

    # -- SMS to email ----------------------------------------------------------------------

    def on_inbound(self, session: Session, inbound: InboundMessage) -> None:
        """Route a just-stored inbound SMS (in its transaction): email it or keep it."""
        if inbound.account_id is None:
            log.warning(
                "SMS to %s, which no account holds: kept, not forwarded", inbound.reply_number
            )
            return
        number = session.get(ReplyNumber, inbound.reply_number)
        account = session.get(Account, inbound.account_id)
        if number is None or account is None:
            return
        now = self._clock.now()
        conversation = self._conversation(
            session, inbound.account_id, inbound.reply_number, inbound.sender, now
        )
        inbound.conversation_id = conversation.id
        last = self._last_outbound(session, conversation)
        addresses = routing.forward_addresses(
            last.response_emails if last is not None else None, number.response_emails
        )
        inbound.emailed_to = addresses
        if not addresses:
            return  # kept in the inbox; the inbox API shows it
        conversation.email_sequence += 1
        message = compose.forward_email(
            compose.ForwardedSms(
                customer=inbound.sender,
                reply_number=inbound.reply_number,
                text=inbound.content,
                received_at=inbound.received_at,
                message_tag=last.tag if last is not None else None,
                number_tags=list(number.tags or []),
                conversation_key=_key(conversation.id),
                sequence=conversation.email_sequence,
                reply_to=self.reply_address(conversation, session),
                from_address=self.from_address,
                to=addresses,
                mail_domain=self._settings.domain,
                account_name=account.name,
            )
        )
        inbound.email_id = enqueue_email(
            session,
            message,
            kind="forward",
            envelope_sender=self.from_address,
            now=now,
            signer=self._signer,
            account_id=account.id,
            conversation_id=conversation.id,
        )

    def _conversation(
        self, session: Session, account_id: str, reply_number: str, customer: str, now: datetime
    ) -> Conversation:
        statement = select(Conversation).where(
            Conversation.account_id == account_id,
            Conversation.reply_number == reply_number,
            Conversation.customer == customer,
        )
        found = session.scalars(statement).first()
        if found is None:
            try:
                # A savepoint: losing a creation race must not undo the caller's work.
                with session.begin_nested():
                    found = Conversation(
                        id=new_id(),
                        account_id=account_id,
                        reply_number=reply_number,
                        customer=customer,
                        token_version=1,
                        email_sequence=0,
                        created_at=now,
                        last_activity_at=now,
                    )
                    session.add(found)
            except IntegrityError:
                found = session.scalars(statement).one()
        found.last_activity_at = now
        return found

    def _last_outbound(self, session: Session, conversation: Conversation) -> Message | None:
        return session.scalars(
            select(Message)
            .where(
                Message.account_id == conversation.account_id,
                Message.sender == conversation.reply_number,
                Message.destination == conversation.customer,
            )
            .order_by(Message.created.desc())
            .limit(1)
        ).first()

    # -- receiving email (the mail servers' sink) --------------------------------------------

    def check_recipient(self, address: str) -> str | None:
        domain = self._settings.domain
        if address.lower() == self.from_address.lower():
            return None  # a reply to From:; found later by its References
        token = tokens.token_from_address(address, self._settings.reply_prefix, domain)
        if token is None:
            # Only our own reply addresses: we never relay mail anywhere.
            return f"<{address}> is not a reply address of {domain}; we do not relay"
        conversation = self._from_token(token)
        if conversation is None:
            return "This reply address is not valid or has been revoked"
        return None

    def _from_token(self, token: str) -> Conversation | None:
        parsed = tokens.read_token(token, self._keys())
        if parsed is None:
            return None
        with self._db.read() as session:
            conversation = session.get(Conversation, parsed.conversation_id)
        if conversation is None or conversation.token_version != parsed.version:
            return None
        return conversation

    def store(self, email: ReceivedEmail) -> str:
        """Commit a received email before the server answers 250 (then process it later)."""
        email_id = new_id()
        with self._db.write() as session:
            session.execute(
                insert(InboundEmail).values(
                    id=email_id,
                    channel=email.channel,
                    envelope_sender=email.envelope_sender,
                    recipients=list(email.recipients),
                    peer=email.peer,
                    raw=email.raw,
                    status="received",
                    attempts=0,
                    received_at=self._clock.now(),
                )
            )
        return email_id

    # -- email to SMS ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                handled = await asyncio.to_thread(self.process_pending)
            except Exception:
                log.exception("email replies: round failed; retrying")
                handled = 0
                await asyncio.sleep(1.0)
            if handled == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.3)

    def process_pending(self, limit: int = 20) -> int:
        with self._db.read() as session:
            ids = list(
                session.scalars(
                    select(InboundEmail.id)
                    .where(InboundEmail.status == "received")
                    .order_by(InboundEmail.received_at)
                    .limit(limit)
                )
            )
        for email_id in ids:
            try:
                self.process(email_id)
            except Exception as exc:
                log.exception("inbound email %s: processing failed", email_id)
                self._count_failure(email_id, exc)
        return len(ids)

    def _count_failure(self, email_id: str, exc: Exception) -> None:
        with self._db.write() as session:
            row = session.get(InboundEmail, email_id)
            if row is None or row.status != "received":
                return
            row.attempts += 1
            if row.attempts >= MAX_ATTEMPTS:
                # Parked for an operator, like Mailman's shunt queue: never silently dropped.
                row.status = "failed"
                row.reason = f"processing failed {row.attempts} times: {exc}"

    def process(self, email_id: str) -> str:
        """Judge one received email and act on it exactly once; returns its final status."""
        with self._db.read() as session:
            row = session.get(InboundEmail, email_id)
        if row is None or row.status != "received":
            return row.status if row is not None else "missing"
        message = BytesParser(policy=default_policy).parsebytes(row.raw)
        assert isinstance(message, EmailMessage)
        reason = auto_reply_reason(message, row.envelope_sender)
        if reason is not None:
            # Never an SMS, never a bounce: answering an autoresponder is how loops start.
            self._close(email_id, "ignored", f"automatic mail: {reason}")
            return "ignored"
        try:
            plan = self._judge(row, message)
        except Refused as refused:
            self._refuse(row, message, refused)
            return "refused"
        try:
            with self._db.write() as session:
                return self._send_reply(session, row, message, plan)
        except ServiceError as exc:  # no credit, bad number, ...: nothing was charged
            failure = Refused(
                exc.message,
                code=exc.code,
                conversation=plan["conversation"],
                from_address=plan["from_address"],
            )
            self._refuse(row, message, failure)
            return "refused"

    def _judge(self, row: InboundEmail, message: EmailMessage) -> dict[str, Any]:
        """Every check that needs no write: who, which conversation, what text."""
        _name, from_address = parseaddr(str(message.get("From", "")))
        if "@" not in from_address:
            raise Refused("The email has no usable From address.", code="NO_SENDER")
        conversation = self._find_conversation(row, message)
        if conversation is None:
            raise Refused(
                "We could not tell which SMS conversation this email answers. Reply to the "
                "email we sent you, keeping its Reply-To address.",
                code="UNKNOWN_CONVERSATION",
            )
        try:
            return self._judge_in(row, message, conversation, from_address)
        except Refused as refused:
            refused.conversation, refused.from_address = conversation, from_address
            raise

    def _judge_in(
        self,
        row: InboundEmail,
        message: EmailMessage,
        conversation: Conversation,
        from_address: str,
    ) -> dict[str, Any]:
        with self._db.read() as session:
            number = session.get(ReplyNumber, conversation.reply_number)
            last = self._last_outbound(session, conversation)
            if (
                number is None
                or number.account_id != conversation.account_id
                or number.state != "assigned"
            ):
                raise Refused(
                    f"The Reply Number {conversation.reply_number} has been released, so this "
                    "conversation is closed and nothing was sent.",
                    code="NUMBER_RELEASED",
                )
            allowed = list(number.response_emails or []) + list(number.authorised_senders or [])
            if last is not None:
                allowed += list(last.response_emails or [])
            number_tags = list(number.tags or [])
            copy_replies = number.copy_replies
            default_emails = list(number.response_emails or [])
        if not sender_allowed(from_address, allowed):
            raise Refused(
                f"{from_address} is not one of the addresses of this conversation, so the "
                "reply was not sent. Ask the account owner to add it to the Reply Number.",
                code="SENDER_NOT_ALLOWED",
            )
        verified, how = self._authenticated(row, message, from_address)
        if not verified:
            raise Refused(
                f"We could not verify that this email really comes from {from_address} "
                f"({how}), so nothing was sent.",
                code="NOT_AUTHENTICATED",
            )
        text = _reply_text(message)
        if not text:
            raise Refused(
                "We found no text to send: write your answer above the quoted email, or "
                "end it with ## on its own.",
                code="EMPTY_TEXT",
            )
        self._check_rates(conversation)
        previous = list(last.response_emails or []) if last is not None else default_emails
        return {
            "conversation": conversation,
            "from_address": from_address,
            "text": text,
            "tag": last.tag if last is not None else None,
            "number_tags": number_tags,
            "copy_to": routing.others_on_conversation(
                previous, from_address, self._settings.domain
            ),
            "copy_replies": copy_replies,
            "authenticated_by": how,
        }

    def _find_conversation(self, row: InboundEmail, message: EmailMessage) -> Conversation | None:
        for recipient in row.recipients:
            token = tokens.token_from_address(
                recipient, self._settings.reply_prefix, self._settings.domain
            )
            if token is not None:
                found = self._from_token(token)
                if found is not None:
                    return found
        # A reply sent to From: instead of Reply-To; our Message-IDs name the conversation.
        for key in routing.conversation_keys_from_references(message, self._settings.domain):
            with self._db.read() as session:
                found = session.get(Conversation, str(uuid.UUID(hex=key)))
            if found is not None:
                return found
        return None

    def _authenticated(
        self, row: InboundEmail, message: EmailMessage, from_address: str
    ) -> tuple[bool, str]:
        domain = from_address.rsplit("@", 1)[1].lower()
        if row.channel == "smtp" and row.peer and self._in_trusted_network(row.peer):
            return True, f"sent from the trusted network {row.peer}"
        results = dmarc_pass_from_authentication_results(
            message, self._settings.inbound.trusted_authserv_ids, domain
        )
        if results is True:
            return True, "Authentication-Results from a trusted server"
        if row.channel in ("smtp", "lmtp") and self._dkim is not None:
            passed, detail = self._dkim(row.raw, domain)
            if passed:
                return True, detail
            return False, detail
        if results is False:
            return False, "the trusted server's checks failed"
        return False, "no DKIM signature or trusted authentication result"

    def _in_trusted_network(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self._trusted)

    def _check_rates(self, conversation: Conversation) -> None:
        since = self._clock.now() - timedelta(hours=1)
        limits = self._settings.inbound
        with self._db.read() as session:
            base = (
                select(func.count())
                .select_from(InboundEmail)
                .where(InboundEmail.status == "sent", InboundEmail.processed_at >= since)
            )
            per_conversation = session.scalar(
                base.where(InboundEmail.conversation_id == conversation.id)
            )
            per_account = session.scalar(
                base.where(InboundEmail.account_id == conversation.account_id)
            )
        if (per_conversation or 0) >= limits.replies_per_conversation_per_hour:
            raise Refused(
                f"This conversation has had {per_conversation} email replies in the last hour, "
                "the most we send; try again later.",
                code="RATE_LIMITED",
            )
        if (per_account or 0) >= limits.replies_per_account_per_hour:
            raise Refused(
                "This account has reached its hourly limit of email replies; try again later.",
                code="RATE_LIMITED",
            )

    def _send_reply(
        self, session: Session, row: InboundEmail, message: EmailMessage, plan: dict[str, Any]
    ) -> str:
        conversation: Conversation = plan["conversation"]
        now = self._clock.now()
        # The claim: whoever flips the row from `received` sends the SMS; nobody else does.
        claimed = session.execute(
            update(InboundEmail)
            .where(InboundEmail.id == row.id, InboundEmail.status == "received")
            .values(
                status="sent",
                processed_at=now,
                conversation_id=conversation.id,
                account_id=conversation.account_id,
                from_address=plan["from_address"],
                reason=f"authenticated: {plan['authenticated_by']}",
            )
        )
        if claimed.rowcount == 0:  # type: ignore[attr-defined]
            session.rollback()
            return "already processed"
        request = MessageIn(
            sender=conversation.reply_number,
            destination=conversation.customer,
            content=plan["text"],
            tag=plan["tag"],
            responseemail=routing.reply_addresses(message, self._settings.domain),
        )
        result = self._messages.queue_in(
            session,
            conversation.account_id,
            request,
            now,
            conversation_id=conversation.id,
            max_segments=self._settings.inbound.max_reply_segments,
        )
        session.execute(
            update(InboundEmail)
            .where(InboundEmail.id == row.id)
            .values(message_id=result["messageid"])
        )
        live = session.get(Conversation, conversation.id)
        assert live is not None
        live.last_activity_at = now
        if plan["copy_replies"] and plan["copy_to"]:
            live.email_sequence += 1
            account = session.get(Account, conversation.account_id)
            name, _address = parseaddr(str(message.get("From", "")))
            copy = compose.copy_email(
                compose.SentReply(
                    customer=conversation.customer,
                    reply_number=conversation.reply_number,
                    text=plan["text"],
                    sent_at=now,
                    replier_name=name,
                    replier_address=plan["from_address"],
                    message_tag=plan["tag"],
                    number_tags=plan["number_tags"],
                    conversation_key=_key(conversation.id),
                    sequence=live.email_sequence,
                    reply_to=self.reply_address(live),
                    from_address=self.from_address,
                    to=plan["copy_to"],
                    mail_domain=self._settings.domain,
                    account_name=account.name if account is not None else "",
                )
            )
            enqueue_email(
                session,
                copy,
                kind="copy",
                envelope_sender=self.from_address,
                now=now,
                signer=self._signer,
                account_id=conversation.account_id,
                conversation_id=conversation.id,
            )
        return "sent"

    def _close(self, email_id: str, status: str, reason: str) -> None:
        with self._db.write() as session:
            session.execute(
                update(InboundEmail)
                .where(InboundEmail.id == email_id, InboundEmail.status == "received")
                .values(status=status, reason=reason, processed_at=self._clock.now())
            )

    def _refuse(self, row: InboundEmail, message: EmailMessage, refused: Refused) -> None:
        """Record the refusal and, at most once, explain it to the sender."""
        now = self._clock.now()
        bounce_to = row.envelope_sender or parseaddr(str(message.get("From", "")))[1]
        with self._db.write() as session:
            known = refused.conversation
            claimed = session.execute(
                update(InboundEmail)
                .where(InboundEmail.id == row.id, InboundEmail.status == "received")
                .values(
                    status="refused",
                    reason=f"{refused.code}: {refused.reason}",
                    processed_at=now,
                    conversation_id=known.id if known is not None else None,
                    account_id=known.account_id if known is not None else None,
                    from_address=refused.from_address,
                )
            )
            if claimed.rowcount == 0 or not bounce_to:  # type: ignore[attr-defined]
                return
            recent = session.scalar(
                select(func.count())
                .select_from(OutboundEmail)
                .where(
                    OutboundEmail.kind == "bounce",
                    OutboundEmail.first_recipient == bounce_to.lower(),
                    OutboundEmail.created_at >= now - timedelta(hours=1),
                )
            )
            if (recent or 0) >= BOUNCES_PER_ADDRESS_PER_HOUR:
                log.warning("not bouncing to %s again this hour", bounce_to)
                return
            bounce = compose.bounce_email(
                compose.ReplyBounce(
                    to=bounce_to,
                    from_address=self.from_address,
                    reason=refused.reason,
                    original_subject=str(message.get("Subject", "")) or None,
                    original_message_id=str(message.get("Message-ID", "")) or None,
                    bounce_key=row.id,
                    created_at=now,
                    mail_domain=self._settings.domain,
                )
            )
            # The null envelope sender (<>): nothing may answer this email automatically
            # (RFC 5321 section 4.5.5), so a bounce can never start a loop.
            enqueue_email(
                session,
                bounce,
                kind="bounce",
                envelope_sender="",
                now=now,
                signer=self._signer,
            )


def _key(conversation_id: str) -> str:
    return uuid.UUID(conversation_id).hex


def _reply_text(message: EmailMessage) -> str:
    body = extract_body(message)
    text = body.text
    if body.kind == "html":
        text = html_to_text(text)
    elif body.flowed:
        text = unflow(text, delsp=body.delsp)
    return extract_reply_text(text).text.strip()
