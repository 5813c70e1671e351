"""Conversation actions: forward an inbound SMS by email; turn an email into SMS, or refuse it.

The rules (who may answer, what authenticates an email, when a refusal is explained) live in
conversations/trust.py; this module gathers the facts, asks, and acts in transactions. Every
outcome where an email does not become an SMS goes through `_refuse`: it records the reason
on the email's row (where the account's pages and API show it) and decides, by
`trust.should_explain`, whether the writer gets one explanation.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smsbridge.clock import Clock
from smsbridge.conversations import routing, trust
from smsbridge.conversations.routing import StartAddress
from smsbridge.conversations.trust import Code, Refusal, Verdict
from smsbridge.db.engine import Database
from smsbridge.db.models import (
    Account,
    Conversation,
    InboundEmail,
    InboundEmailMessage,
    InboundMessage,
    Message,
    OutboundEmail,
    ReplyNumber,
)
from smsbridge.errors import Invalid, ServiceError
from smsbridge.ids import new_id
from smsbridge.mail import compose, tokens
from smsbridge.mail.addresses import Mailbox
from smsbridge.mail.authentication import Authenticator, ReceivedFacts
from smsbridge.mail.checks import auto_reply_reason, automatic_body_reason
from smsbridge.mail.outbox import Signer, enqueue_email
from smsbridge.mail.parsing import Limits, ParsedEmail, Problem, not_text_reason, read_email
from smsbridge.mail.parsing import scan_headers as scan_email_headers
from smsbridge.mail.ports import ReceivedEmail, UnreadableEmail
from smsbridge.mail.reply_text import extract_reply_text, html_to_text, unflow
from smsbridge.messages.schemas import MessageIn
from smsbridge.messages.service import MessageService, latest_outbound
from smsbridge.messages.validation import check_emails
from smsbridge.settings import MailSettings

log = logging.getLogger(__name__)

# An inbound email that fails to process this many times is parked, not retried forever.
MAX_ATTEMPTS = 5
# At most this many explanatory emails per address per hour: a guard against mail loops with
# autoresponders that do not mark themselves.
BOUNCES_PER_ADDRESS_PER_HOUR = 5
# Messages shown below a forwarded SMS, for context.
HISTORY_ITEMS = 5
# Final statuses whose writer is told by email; DELIVERED only where the number asks for it.
_FAILED_OUTCOMES = {"UNDELIVERABLE", "REJECTED", "EXPIRED"}
_OUTCOME_WORDS = {
    "UNDELIVERABLE": "could not be delivered to the phone",
    "REJECTED": "was rejected by the carrier",
    "EXPIRED": "expired before the phone could be reached",
}

# Returns the reply-token keys (first signs, all verify); given the caller's session when
# called inside a transaction.
KeySource = Callable[[Session | None], list[bytes]]


class Refused(Exception):
    """An email that does not become an SMS, with what was known when it was refused."""

    def __init__(
        self,
        refusal: Refusal,
        *,
        conversation: Conversation | None = None,
        account_id: str | None = None,
        automatic: bool = False,
    ) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal
        self.conversation = conversation
        self.account_id = account_id or (conversation.account_id if conversation else None)
        self.automatic = automatic


@dataclass
class _Email:
    """One received email being judged: its row, what was read, who wrote it."""

    row: InboundEmail
    parsed: ParsedEmail
    author: Mailbox | None = None
    verdict: Verdict | None = None
    text: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Reply:
    conversation: Conversation
    number: ReplyNumber
    last: Message | None


class ConversationService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: MailSettings,
        key_source: KeySource,
        messages: MessageService,
        authenticator: Authenticator,
        *,
        signer: Signer | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._settings = settings
        self._key_source = key_source
        self._cached_keys: list[bytes] | None = None
        self._messages = messages
        self._signer = signer
        self._authenticator = authenticator
        # Set by run(): lets store() (in a server thread) wake the judging loop at once, so a
        # reply does not wait out the idle poll.
        self._wake: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        inbound = settings.inbound
        self._limits = Limits(
            max_header_bytes=inbound.max_header_bytes,
            max_mime_parts=inbound.max_mime_parts,
            max_mime_depth=inbound.max_mime_depth,
            budget_seconds=inbound.read_budget_seconds,
        )

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

    def on_inbound(
        self,
        session: Session,
        inbound: InboundMessage,
        *,
        keyword: compose.KeywordNote | None = None,
    ) -> None:
        """Route a just-stored inbound SMS (in its transaction): email it or keep it. A
        keyword SMS (STOP...) is forwarded like any other, marked with what it did."""
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
        addresses = trust.members(
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
                history=self._history(session, conversation, before=inbound),
                thread_started_at=conversation.created_at,
                keyword=keyword,
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

    def _history(
        self, session: Session, conversation: Conversation, *, before: InboundMessage
    ) -> list[compose.HistoryItem]:
        """The last few messages of the conversation before this SMS, oldest first."""
        outbound = latest_outbound(
            session,
            conversation.account_id,
            conversation.reply_number,
            conversation.customer,
            HISTORY_ITEMS,
        )
        inbound = session.scalars(
            select(InboundMessage)
            .where(
                InboundMessage.account_id == conversation.account_id,
                InboundMessage.reply_number == conversation.reply_number,
                InboundMessage.sender == conversation.customer,
                InboundMessage.id != before.id,
                InboundMessage.received_at <= before.received_at,
            )
            .order_by(InboundMessage.received_at.desc())
            .limit(HISTORY_ITEMS)
        )
        items = [compose.HistoryItem("out", m.content, m.created) for m in outbound]
        items += [compose.HistoryItem("in", m.content, m.received_at) for m in inbound]
        items.sort(key=lambda item: item.at)
        return items[-HISTORY_ITEMS:]

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
        found = latest_outbound(
            session, conversation.account_id, conversation.reply_number, conversation.customer
        )
        return found[0] if found else None

    # -- outcomes by email -------------------------------------------------------------------

    def on_status_changes(self, session: Session, message_ids: Sequence[str], now: datetime) -> int:
        """Tell the writers of email replies how their SMS ended (in the status change's
        transaction): a failure always, a delivery where the number asks. Returns emails."""
        if not message_ids:
            return 0
        rows = session.execute(
            select(Message, InboundEmailMessage, InboundEmail)
            .join(InboundEmailMessage, InboundEmailMessage.message_id == Message.id)
            .join(InboundEmail, InboundEmail.id == InboundEmailMessage.inbound_email_id)
            .where(Message.id.in_(list(message_ids)))
        ).all()
        sent = 0
        for message, link, email in rows:
            try:
                # A savepoint: a bug here must not undo (or block) the status change itself.
                with session.begin_nested():
                    sent += self._tell_outcome(session, message, link, email, now)
            except Exception:
                log.exception("could not tell the outcome of message %s", message.id)
        return sent

    def _tell_outcome(
        self,
        session: Session,
        message: Message,
        link: InboundEmailMessage,
        email: InboundEmail,
        now: datetime,
    ) -> bool:
        status = message.status
        if link.notified_status == status:
            return False
        number = session.get(ReplyNumber, message.sender)
        wanted = status in _FAILED_OUTCOMES or (
            status == "DELIVERED" and number is not None and number.delivery_confirmations
        )
        if not wanted or message.conversation_id is None:
            return False
        conversation = session.get(Conversation, message.conversation_id)
        if conversation is None:
            return False
        link.notified_status = status
        writer = email.from_address or ""
        ours = "@" + self._settings.domain.lower()
        recipients = [
            a
            for a in trust.unique_addresses([writer, *message.response_emails])
            if a and not a.lower().endswith(ours)
        ]
        if not recipients:
            return False
        if status == "DELIVERED":
            title = "Your SMS was delivered"
            paragraphs = [
                f"The SMS sent from your email to {message.destination} was delivered.",
                _quote(message.content),
            ]
        else:
            refunded = "nothing was charged (the credits were returned)"
            title = f"Your SMS was not delivered ({status})"
            paragraphs = [
                f"The SMS sent from your email to {message.destination} "
                f"{_OUTCOME_WORDS[status]}, so {refunded}.",
                _quote(message.content),
            ]
            if message.failure_detail:
                paragraphs.append(f"The carrier said: {message.failure_detail[:200]}")
        self._notice(
            session,
            conversation,
            number,
            to=recipients,
            kind="outcome",
            title=title,
            paragraphs=paragraphs,
            in_reply_to=None,
            tag=message.tag,
            now=now,
            invite_reply=True,
        )
        return True

    # -- receiving email (the mail servers' sink) --------------------------------------------

    def check_recipient(self, address: str) -> str | None:
        """None to take the recipient; else why not (answered 550 at RCPT).

        Only our own addresses are taken, so we never relay. A reply address whose signature
        checks is taken whatever state its conversation is in (revoked, gone): answering 550
        for those would tell anyone holding an old address that the conversation existed.
        """
        domain = self._settings.domain
        if address.strip().strip("<>").lower() == self.from_address.lower():
            return None  # a reply to From:; found later by its References
        if routing.start_address(address, domain) is not None:
            return None
        token = tokens.token_from_address(address, self._settings.reply_prefix, domain)
        if token is None:
            return f"<{address}> is not an address of {domain}; we do not relay"
        if tokens.read_token(token, self._keys()) is None:
            return f"<{address}> is not an address of {domain}"
        return None

    def store(self, email: ReceivedEmail) -> str:
        """Commit a received email before the server answers 250 (then judge it later).

        A second delivery of an email already stored (the same Message-ID from the same
        envelope sender to the same recipients, or the same bytes: a sending server retrying
        after we stored but before it heard our 250) returns the first one's id, stores
        nothing. An SMTP email whose header section cannot be read is stored as refused and
        raises UnreadableEmail, so the client is told why in our answer.
        """
        scanned = scan_email_headers(email.raw, self._limits)
        key = _dedupe_key(email, scanned)
        email_id = new_id()
        unreadable = isinstance(scanned, Problem) and email.channel == "smtp"
        now = self._clock.now()
        values: dict[str, Any] = {
            "id": email_id,
            "channel": email.channel,
            # What the client said in its commands, made storable: aiosmtpd hands over bytes
            # that are not UTF-8 as lone surrogates, and neither database takes those or NUL.
            "envelope_sender": _storable(email.envelope_sender)[:320],
            "recipients": [_storable(r)[:320] for r in email.recipients],
            "peer": _storable(email.peer or "")[:64] or None,
            "helo": _storable(email.helo or "")[:255] or None,
            "raw": email.raw,
            "status": "received",
            "attempts": 0,
            "received_at": now,
            "dedupe_key": key,
        }
        if unreadable and isinstance(scanned, Problem):
            values.update(
                status="refused",
                reason=Refusal(scanned.code, scanned.reason).recorded(),
                processed_at=now,
                **self._owner_of(email.recipients),
            )
        try:
            with self._db.write() as session:
                session.execute(insert(InboundEmail).values(**values))
        except IntegrityError:
            with self._db.read() as session:
                existing = session.scalar(
                    select(InboundEmail.id).where(InboundEmail.dedupe_key == key)
                )
            if existing is None:
                raise
            log.info("inbound email %s received again: not stored twice", existing)
            return str(existing)
        if unreadable and isinstance(scanned, Problem):
            raise UnreadableEmail(scanned.reason, email_id)
        if self._wake is not None:
            loop, arrived = self._wake
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(arrived.set)
        return email_id

    def _owner_of(self, recipients: Sequence[str]) -> dict[str, Any]:
        """The conversation and account a refused-at-once email was for, if a reply address
        says, so that the account sees it."""
        found = self._addressed_conversation(recipients)
        return {"conversation_id": found.id, "account_id": found.account_id} if found else {}

    def _addressed_conversation(self, recipients: Sequence[str]) -> Conversation | None:
        """The conversation the first valid reply address among the recipients names (in
        whatever state), or None."""
        for recipient in recipients:
            found = self._conversation_from_address(recipient)
            if found is not None:
                return found
        return None

    def email_log(
        self, account_id: str, *, status: str | None, limit: int, skip: int
    ) -> list[dict[str, Any]]:
        """The account's received emails, newest first (GET /v1/inbound/emails)."""
        statement = select(
            InboundEmail.id,
            InboundEmail.received_at,
            InboundEmail.processed_at,
            InboundEmail.channel,
            InboundEmail.status,
            InboundEmail.reason,
            InboundEmail.from_address,
            InboundEmail.envelope_sender,
            InboundEmail.conversation_id,
            InboundEmail.message_id,
        ).where(InboundEmail.account_id == account_id)
        if status:
            statement = statement.where(InboundEmail.status == status.strip().lower()[:16])
        statement = (
            statement.order_by(InboundEmail.received_at.desc(), InboundEmail.id)
            .offset(skip)
            .limit(limit)
        )
        with self._db.read() as session:
            rows = list(session.execute(statement))
            conversations = {
                c.id: c
                for c in session.scalars(
                    select(Conversation).where(
                        Conversation.id.in_([r.conversation_id for r in rows if r.conversation_id])
                    )
                )
            }
        result = []
        for row in rows:
            code, _, sentence = (row.reason or "").partition(": ")
            if not code.isupper() or " " in code:
                code, sentence = "", row.reason or ""
            conversation = conversations.get(row.conversation_id or "")
            result.append(
                {
                    "id": row.id,
                    "received": _iso(row.received_at),
                    "processed": _iso(row.processed_at),
                    "channel": row.channel,
                    "status": row.status.upper(),
                    "code": code or None,
                    "reason": sentence or None,
                    "from": row.from_address or row.envelope_sender or None,
                    "customer": conversation.customer.lstrip("+") if conversation else None,
                    "replynumber": conversation.reply_number.lstrip("+") if conversation else None,
                    "messageid": row.message_id,
                }
            )
        return result

    # -- email to SMS ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Judge received emails, several at once: one that waits on a slow DNS server
        delays no other."""
        in_flight: dict[str, asyncio.Task[None]] = {}
        limit = max(1, self._settings.inbound.workers)
        arrived = asyncio.Event()
        self._wake = (asyncio.get_running_loop(), arrived)
        while not stop.is_set():
            arrived.clear()
            try:
                ids = await asyncio.to_thread(self._pending_ids, limit * 4)
            except Exception:
                log.exception("email replies: could not read the queue; retrying")
                ids = []
                await asyncio.sleep(1.0)
            started = 0
            for email_id in ids:
                if email_id in in_flight or len(in_flight) >= limit:
                    continue
                task = asyncio.create_task(asyncio.to_thread(self._process_safely, email_id))
                in_flight[email_id] = task
                task.add_done_callback(functools.partial(_forget, in_flight, email_id))
                started += 1
            if started == 0:
                # Until an email arrives, one being judged finishes, or (for emails stored
                # by another process) the poll interval passes.
                waiters: set[asyncio.Future[Any]] = set(in_flight.values())
                extra = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(arrived.wait())}
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait(
                        waiters | extra, timeout=0.3, return_when=asyncio.FIRST_COMPLETED
                    )
                for waiter in extra:
                    waiter.cancel()
        self._wake = None
        if in_flight:
            await asyncio.gather(*in_flight.values(), return_exceptions=True)

    def _pending_ids(self, limit: int) -> list[str]:
        with self._db.read() as session:
            return list(
                session.scalars(
                    select(InboundEmail.id)
                    .where(InboundEmail.status == "received")
                    .order_by(InboundEmail.received_at, InboundEmail.id)
                    .limit(limit)
                )
            )

    def process_pending(self, limit: int = 20) -> int:
        ids = self._pending_ids(limit)
        for email_id in ids:
            self._process_safely(email_id)
        return len(ids)

    def _process_safely(self, email_id: str) -> None:
        try:
            self.process(email_id)
        except Exception as exc:
            log.exception("inbound email %s: processing failed", email_id)
            self._count_failure(email_id, exc)

    def _count_failure(self, email_id: str, exc: Exception) -> None:
        with self._db.write() as session:
            row = session.get(InboundEmail, email_id)
            if row is None or row.status != "received":
                return
            row.attempts += 1
            if row.attempts >= MAX_ATTEMPTS:
                # Parked for an operator, like Mailman's shunt queue: never silently dropped.
                row.status = "failed"
                row.reason = f"processing failed {row.attempts} times: {str(exc)[:500]}"

    def process(self, email_id: str) -> str:
        """Judge one received email and act on it exactly once; returns its final status."""
        with self._db.read() as session:
            row = session.get(InboundEmail, email_id)
        if row is None or row.status != "received":
            return row.status if row is not None else "missing"
        email = _Email(row, read_email(row.raw, self._limits))
        try:
            return self._judge_and_send(email)
        except Refused as refused:
            return self._refuse(email, refused)

    def _judge_and_send(self, email: _Email) -> str:
        parsed, row = email.parsed, email.row
        # Refusals before the conversation is looked at properly are still shown to the
        # account a reply address names.
        addressed = self._addressed_conversation(row.recipients)
        if parsed.problem is not None:
            email.author = parsed.author()[0]
            raise Refused(
                Refusal(parsed.problem.code, parsed.problem.reason), conversation=addressed
            )
        automatic = auto_reply_reason(parsed.headers, row.envelope_sender)
        if automatic is not None:
            # Never an SMS, never an answer: answering an autoresponder is how loops start.
            raise Refused(
                Refusal(Code.AUTOMATIC, f"automatic mail: {automatic}"),
                conversation=addressed,
                automatic=True,
            )
        author, problem = parsed.author()
        if author is None:
            raise Refused(
                Refusal(Code.AMBIGUOUS_AUTHOR, problem or "No author."), conversation=addressed
            )
        email.author = author
        try:
            email.text = _reply_text(parsed)
        except Exception as exc:  # the boundary: no text extraction error reaches the worker
            log.exception("inbound email %s: text extraction failed", row.id)
            raise Refused(
                Refusal(
                    Code.UNREADABLE, f"The email's text cannot be read ({type(exc).__name__})."
                ),
                conversation=addressed,
            ) from exc
        automatic = automatic_body_reason(email.text)
        if automatic is not None:
            raise Refused(
                Refusal(Code.AUTOMATIC, f"automatic mail: {automatic}"),
                conversation=addressed,
                automatic=True,
            )

        reply = self._find_reply(row, parsed)
        if reply is not None:
            return self._answer(email, reply)
        starts = self._start_addresses(row)
        if starts:
            return self._start(email, starts)
        raise Refused(
            Refusal(
                Code.UNKNOWN_CONVERSATION,
                "We could not tell which SMS conversation this email answers. Reply to the "
                "email we sent you, keeping its Reply-To address.",
            )
        )

    # -- answering a conversation ------------------------------------------------------------

    def _find_reply(self, row: InboundEmail, parsed: ParsedEmail) -> _Reply | None:
        found: Conversation | None = None
        signed_but_stale = False
        for recipient in row.recipients:
            token = tokens.token_from_address(
                recipient, self._settings.reply_prefix, self._settings.domain
            )
            if token is None:
                continue
            parsed_token = tokens.read_token(token, self._keys())
            if parsed_token is None:
                continue
            with self._db.read() as session:
                conversation = session.get(Conversation, parsed_token.conversation_id)
            if conversation is not None and conversation.token_version == parsed_token.version:
                found = conversation
                break
            signed_but_stale = True
            if conversation is not None:
                raise Refused(
                    Refusal(
                        Code.REVOKED_ADDRESS,
                        "This reply address has been revoked, so nothing was sent. Answer "
                        "the conversation's latest email instead.",
                    ),
                    conversation=conversation,
                )
        if found is None and not signed_but_stale:
            # A reply sent to From: instead of Reply-To; our Message-IDs name the conversation.
            references = [
                *(parsed.headers.get_all("In-Reply-To") or []),
                *(parsed.headers.get_all("References") or []),
            ]
            for key in routing.conversation_keys_from_references(references, self._settings.domain):
                with self._db.read() as session:
                    found = session.get(Conversation, str(uuid.UUID(hex=key)))
                if found is not None:
                    break
        if found is None:
            return None
        with self._db.read() as session:
            number = session.get(ReplyNumber, found.reply_number)
            last = self._last_outbound(session, found)
            if (
                number is None
                or number.account_id != found.account_id
                or number.state != "assigned"
            ):
                raise Refused(
                    Refusal(
                        Code.NUMBER_RELEASED,
                        f"The Reply Number {found.reply_number} has been released, so this "
                        "conversation is closed and nothing was sent.",
                    ),
                    conversation=found,
                )
            session.expunge_all()
        return _Reply(found, number, last)

    def _conversation_from_address(self, address: str) -> Conversation | None:
        token = tokens.token_from_address(
            address, self._settings.reply_prefix, self._settings.domain
        )
        parsed = tokens.read_token(token, self._keys()) if token else None
        if parsed is None:
            return None
        with self._db.read() as session:
            return session.get(Conversation, parsed.conversation_id)

    def _answer(self, email: _Email, reply: _Reply) -> str:
        conversation, number, last = reply.conversation, reply.number, reply.last
        assert email.author is not None
        author = email.author.address
        members = trust.members(last.response_emails if last else None, number.response_emails)
        context: dict[str, Any] = {"conversation": conversation}
        # The number's default Response Email may always answer, as its authorised senders.
        always = [*(number.response_emails or []), *(number.authorised_senders or [])]
        if not trust.may_answer(author, members, always):
            raise Refused(
                Refusal(
                    Code.SENDER_NOT_ALLOWED,
                    f"{author} is not one of the addresses of this conversation, so the "
                    "reply was not sent. Ask the account owner to add it to the Reply Number.",
                ),
                **context,
            )
        self._require_authenticated(email, **context)
        text = self._sendable_text(email, **context)
        self._check_rates(conversation.account_id, conversation)
        on_the_reply = _valid_addresses(email.parsed.addresses("To", "Cc"))
        after = trust.members_after_reply(members, author, on_the_reply, self._settings.domain)
        try:
            with self._db.write() as session:
                return self._send_reply(session, email, reply, text, after)
        except ServiceError as exc:  # no credit, too long...: nothing was charged
            raise Refused(
                trust.refused_for_message_service(exc.code, exc.message), **context
            ) from exc

    def _send_reply(
        self, session: Session, email: _Email, reply: _Reply, text: str, after: list[str]
    ) -> str:
        conversation, number, last = reply.conversation, reply.number, reply.last
        row = email.row
        assert email.author is not None and email.verdict is not None
        now = self._clock.now()
        if not self._claim(
            session,
            row.id,
            "sent",
            f"authenticated: {email.verdict.how}",
            now,
            conversation_id=conversation.id,
            account_id=conversation.account_id,
            from_address=email.author.address,
        ):
            session.rollback()
            return "already processed"
        tag = last.tag if last is not None else None
        request = MessageIn(
            sender=conversation.reply_number,
            destination=conversation.customer,
            content=text,
            tag=tag,
            responseemail=after,
        )
        result = self._messages.queue_in(
            session,
            conversation.account_id,
            request,
            now,
            conversation_id=conversation.id,
            max_segments=self._settings.inbound.max_reply_segments,
        )
        message_id = str(result["messageid"])
        session.execute(
            update(InboundEmail).where(InboundEmail.id == row.id).values(message_id=message_id)
        )
        session.add(InboundEmailMessage(inbound_email_id=row.id, message_id=message_id))
        live = session.get(Conversation, conversation.id)
        assert live is not None
        live.last_activity_at = now
        copy_to = trust.copy_recipients(after, email.author.address, self._settings.domain)
        if number.copy_replies and copy_to:
            live.email_sequence += 1
            account = session.get(Account, conversation.account_id)
            copy = compose.copy_email(
                compose.SentReply(
                    customer=conversation.customer,
                    reply_number=conversation.reply_number,
                    text=text,
                    sent_at=now,
                    replier_name=email.author.display_name,
                    replier_address=email.author.address,
                    message_tag=tag,
                    number_tags=list(number.tags or []),
                    conversation_key=_key(conversation.id),
                    sequence=live.email_sequence,
                    reply_to=self.reply_address(live, session),
                    from_address=self.from_address,
                    to=copy_to,
                    mail_domain=self._settings.domain,
                    account_name=account.name if account is not None else "",
                    thread_started_at=live.created_at,
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

    # -- starting a conversation by email ----------------------------------------------------

    def _start_addresses(self, row: InboundEmail) -> list[StartAddress]:
        found = [routing.start_address(r, self._settings.domain) for r in row.recipients]
        return list(dict.fromkeys(s for s in found if s is not None))

    def _start(self, email: _Email, starts: list[StartAddress]) -> str:
        assert email.author is not None
        author = email.author.address
        usable = self._numbers_for(author)
        account_ids = {n.account_id for n in usable}
        account_id = next(iter(account_ids)) if len(account_ids) == 1 else None
        if not usable:
            raise Refused(
                Refusal(
                    Code.SENDER_NOT_ALLOWED,
                    f"{author} may not start SMS conversations: it is not the Response Email "
                    "or an authorised sender of any Reply Number.",
                )
            )
        self._require_authenticated(email, account_id=account_id)
        limit = self._settings.inbound.max_numbers_per_email
        if len(starts) > limit:
            raise Refused(
                Refusal(
                    Code.TOO_MANY_NUMBERS,
                    f"The email is addressed to {len(starts)} phone numbers; one email may "
                    f"start at most {limit}. Nothing was sent.",
                ),
                account_id=account_id,
            )
        text = self._sendable_text(email, account_id=account_id)
        plan: list[tuple[StartAddress, ReplyNumber | None]] = []
        for start in starts:
            plan.append((start, _choose_number(usable, author, start.reply_number)))
        for number_account in {n.account_id for _s, n in plan if n is not None}:
            if number_account is not None:
                self._check_rates(number_account, None)
        try:
            with self._db.write() as session:
                return self._send_starts(session, email, plan, text)
        except _NothingSent as nothing:
            thread = None
            if nothing.conversation_id is not None:
                with self._db.read() as session:
                    thread = session.get(Conversation, nothing.conversation_id)
            raise Refused(
                nothing.refusal, account_id=nothing.account_id, conversation=thread
            ) from None

    def _numbers_for(self, author: str) -> list[ReplyNumber]:
        """The assigned numbers whose Response Email or authorised senders include author."""
        domain = author.rpartition("@")[2].lower()
        with self._db.read() as session:
            candidates = list(
                session.scalars(
                    select(ReplyNumber)
                    .where(
                        ReplyNumber.state == "assigned",
                        ReplyNumber.account_id.is_not(None),
                        # A cheap textual prefilter on both databases; the exact rule below.
                        or_(
                            func.lower(cast(ReplyNumber.response_emails, String)).contains(domain),
                            func.lower(cast(ReplyNumber.authorised_senders, String)).contains(
                                domain
                            ),
                        ),
                    )
                    .order_by(ReplyNumber.assigned_at, ReplyNumber.number)
                )
            )
            session.expunge_all()
        return [
            n
            for n in candidates
            if trust.may_answer(author, n.response_emails or [], n.authorised_senders or [])
        ]

    def _send_starts(
        self,
        session: Session,
        email: _Email,
        plan: list[tuple[StartAddress, ReplyNumber | None]],
        text: str,
    ) -> str:
        assert email.author is not None and email.verdict is not None
        author = email.author.address
        row = email.row
        now = self._clock.now()
        sent: list[tuple[str, str, str]] = []  # destination, message id, conversation id
        refused: list[tuple[str, str]] = []  # destination, why
        opted_out: list[str | None] = []  # the existing conversation of each opted-out one
        for start, number in plan:
            if number is None:
                refused.append(
                    (
                        start.destination,
                        f"{start.reply_number} is not a Reply Number {author} may send from.",
                    )
                )
                continue
            assert number.account_id is not None
            try:
                with session.begin_nested():
                    conversation = self._conversation(
                        session, number.account_id, number.number, start.destination, now
                    )
                    result = self._messages.queue_in(
                        session,
                        number.account_id,
                        MessageIn(
                            sender=number.number,
                            destination=start.destination,
                            content=text,
                            responseemail=[author],
                        ),
                        now,
                        conversation_id=conversation.id,
                        max_segments=self._settings.inbound.max_reply_segments,
                    )
                    sent.append((start.destination, str(result["messageid"]), conversation.id))
            except ServiceError as exc:
                refused.append((start.destination, f"{exc.message} ({exc.code})"))
                if exc.code == "DESTINATION_OPTED_OUT":
                    # The customer texted STOP in a conversation that exists: the writer is
                    # told there, in its thread, like the refusal of a reply.
                    opted_out.append(
                        session.scalar(
                            select(Conversation.id).where(
                                Conversation.account_id == number.account_id,
                                Conversation.reply_number == number.number,
                                Conversation.customer == start.destination,
                            )
                        )
                    )
        first_account = next((n.account_id for _s, n in plan if n is not None), None)
        if not sent:
            lines = "; ".join(f"{d}: {why}" for d, why in refused)
            raise _NothingSent(
                Refusal(Code.NOT_SENDABLE, f"No SMS was sent and nothing was charged. {lines}"),
                first_account,
                conversation_id=opted_out[0] if len(plan) == 1 and opted_out else None,
            )
        summary = f"authenticated: {email.verdict.how}; sent to " + ", ".join(
            d for d, _m, _c in sent
        )
        if refused:
            summary += "; refused: " + "; ".join(f"{d}: {why}" for d, why in refused)
        first_conversation = session.get(Conversation, sent[0][2])
        if not self._claim(
            session,
            row.id,
            "sent",
            summary,
            now,
            conversation_id=sent[0][2],
            account_id=first_conversation.account_id if first_conversation else first_account,
            from_address=author,
            message_id=sent[0][1],
        ):
            session.rollback()
            return "already processed"
        for _destination, message_id, _conversation_id in sent:
            session.add(InboundEmailMessage(inbound_email_id=row.id, message_id=message_id))
        attachments = list(email.parsed.attachments)
        if refused or attachments:
            paragraphs = ["Sent by SMS to " + ", ".join(d for d, _m, _c in sent) + "."]
            if refused:
                paragraphs.append(
                    "Not sent, and nothing charged for: "
                    + "; ".join(f"{d}: {why}" for d, why in refused)
                )
            if attachments:
                paragraphs.append(
                    "Attachments cannot go by SMS and were not sent: " + ", ".join(attachments[:10])
                )
            self._standalone(
                session,
                email,
                to=author,
                subject="Re: " + (email.parsed.subject or "your SMS"),
                paragraphs=paragraphs,
                now=now,
            )
        return "sent"

    # -- shared checks -----------------------------------------------------------------------

    def _require_authenticated(self, email: _Email, **context: Any) -> None:
        verdict = self._verdict(email)
        if not verdict.authenticated:
            assert email.author is not None
            raise Refused(
                Refusal(
                    Code.NOT_AUTHENTICATED,
                    f"We could not verify that this email really comes from "
                    f"{email.author.address} ({verdict.how}), so nothing was sent.",
                ),
                **context,
            )

    def _verdict(self, email: _Email) -> Verdict:
        if email.verdict is None:
            assert email.author is not None
            row = email.row
            evidence = self._authenticator.evidence(
                row.raw,
                email.parsed.headers,
                email.author.domain,
                ReceivedFacts(row.channel, row.peer, row.helo, row.envelope_sender),
            )
            email.verdict = trust.verdict(evidence)
        return email.verdict

    def _sendable_text(self, email: _Email, **context: Any) -> str:
        not_text = not_text_reason(email.text)
        if not_text is not None:
            raise Refused(Refusal(Code.NOT_TEXT, not_text), **context)
        if not email.text:
            raise Refused(
                Refusal(
                    Code.EMPTY_TEXT,
                    "We found no text to send: write your answer above the quoted email, or "
                    "end it with ## on its own.",
                ),
                **context,
            )
        return email.text

    def _check_rates(self, account_id: str, conversation: Conversation | None) -> None:
        since = self._clock.now() - timedelta(hours=1)
        limits = self._settings.inbound
        context: dict[str, Any] = {"conversation": conversation, "account_id": account_id}
        with self._db.read() as session:
            base = (
                select(func.count())
                .select_from(InboundEmail)
                .where(InboundEmail.status == "sent", InboundEmail.processed_at >= since)
            )
            per_account = session.scalar(base.where(InboundEmail.account_id == account_id))
            per_conversation = (
                session.scalar(base.where(InboundEmail.conversation_id == conversation.id))
                if conversation is not None
                else 0
            )
        if (per_conversation or 0) >= limits.replies_per_conversation_per_hour:
            raise Refused(
                Refusal(
                    Code.RATE_LIMITED,
                    f"This conversation has had {per_conversation} email replies in the last "
                    "hour, the most we send; try again later.",
                ),
                **context,
            )
        if (per_account or 0) >= limits.replies_per_account_per_hour:
            raise Refused(
                Refusal(
                    Code.RATE_LIMITED,
                    "This account has reached its hourly limit of emails sent as SMS; try "
                    "again later.",
                ),
                **context,
            )

    def _claim(
        self,
        session: Session,
        email_id: str,
        status: str,
        reason: str,
        now: datetime,
        **values: Any,
    ) -> bool:
        """Move the email from `received` to its final status; False if another got it."""
        claimed = session.execute(
            update(InboundEmail)
            .where(InboundEmail.id == email_id, InboundEmail.status == "received")
            .values(status=status, reason=reason[:4000], processed_at=now, **values)
        )
        return bool(claimed.rowcount)  # type: ignore[attr-defined]

    # -- the one refusal path ----------------------------------------------------------------

    def _refuse(self, email: _Email, refused: Refused) -> str:
        """Record why an email did not become an SMS and, where the rules say so, explain it
        once to its writer. Every such outcome comes here (future ones too: one more Code)."""
        refusal = refused.refusal
        sender: Verdict | None = email.verdict
        if sender is None and email.author is not None and not refused.automatic:
            try:
                sender = self._verdict(email)  # only to decide whether to explain
            except Exception:
                log.exception("inbound email %s: authentication check failed", email.row.id)
                sender = None
        explain = trust.should_explain(refusal, sender=sender, automatic=refused.automatic)
        status = "ignored" if refused.automatic else "refused"
        now = self._clock.now()
        conversation = refused.conversation
        with self._db.write() as session:
            if not self._claim(
                session,
                email.row.id,
                status,
                refusal.recorded(),
                now,
                conversation_id=conversation.id if conversation is not None else None,
                account_id=refused.account_id,
                from_address=email.author.address if email.author is not None else None,
            ):
                return status
            if not explain or email.author is None:
                return status
            to = email.author.address
            recent = session.scalar(
                select(func.count())
                .select_from(OutboundEmail)
                .where(
                    OutboundEmail.kind.in_(["bounce", "notice"]),
                    OutboundEmail.first_recipient == to.lower(),
                    OutboundEmail.created_at >= now - timedelta(hours=1),
                )
            )
            if (recent or 0) >= BOUNCES_PER_ADDRESS_PER_HOUR:
                log.warning("not explaining to %s again this hour", to)
                return status
            live = session.get(Conversation, conversation.id) if conversation is not None else None
            number = session.get(ReplyNumber, live.reply_number) if live is not None else None
            if live is not None and number is not None and number.account_id == live.account_id:
                self._notice(
                    session,
                    live,
                    number,
                    to=[to],
                    kind="notice",
                    title="Your email was not sent as SMS",
                    paragraphs=[refusal.reason],
                    in_reply_to=email.parsed.message_id,
                    tag=None,
                    now=now,
                    invite_reply=False,
                )
            else:
                bounce = compose.bounce_email(
                    compose.ReplyBounce(
                        to=to,
                        from_address=self.from_address,
                        reason=refusal.reason,
                        original_subject=email.parsed.subject or None,
                        original_message_id=email.parsed.message_id,
                        bounce_key=email.row.id,
                        created_at=now,
                        mail_domain=self._settings.domain,
                    )
                )
                # The null envelope sender (<>): nothing may answer this email automatically
                # (RFC 5321 section 4.5.5), so a bounce can never start a loop.
                enqueue_email(
                    session, bounce, kind="bounce", envelope_sender="", now=now, signer=self._signer
                )
        return status

    def _notice(
        self,
        session: Session,
        conversation: Conversation,
        number: ReplyNumber | None,
        *,
        to: list[str],
        kind: str,
        title: str,
        paragraphs: list[str],
        in_reply_to: str | None,
        tag: str | None,
        now: datetime,
        invite_reply: bool,
    ) -> None:
        live = session.get(Conversation, conversation.id)
        assert live is not None
        live.email_sequence += 1
        if tag is None:
            last = self._last_outbound(session, live)
            tag = last.tag if last is not None else None
        notice = compose.notice_email(
            compose.ThreadNotice(
                kind=kind,
                title=title,
                paragraphs=paragraphs,
                customer=live.customer,
                reply_number=live.reply_number,
                message_tag=tag,
                number_tags=list(number.tags or []) if number is not None else [],
                conversation_key=_key(live.id),
                sequence=live.email_sequence,
                reply_to=self.reply_address(live, session),
                from_address=self.from_address,
                to=to,
                mail_domain=self._settings.domain,
                created_at=now,
                in_reply_to=in_reply_to,
                thread_started_at=live.created_at,
                invite_reply=invite_reply,
            )
        )
        # The null envelope sender: no automatic answer to a notice can come back.
        enqueue_email(
            session,
            notice,
            kind=kind,
            envelope_sender="",
            now=now,
            signer=self._signer,
            account_id=live.account_id,
            conversation_id=live.id,
        )

    def _standalone(
        self,
        session: Session,
        email: _Email,
        *,
        to: str,
        subject: str,
        paragraphs: list[str],
        now: datetime,
    ) -> None:
        message = compose.summary_email(
            compose.Summary(
                to=to,
                from_address=self.from_address,
                subject=subject,
                paragraphs=paragraphs,
                original_message_id=email.parsed.message_id,
                key=email.row.id,
                created_at=now,
                mail_domain=self._settings.domain,
            )
        )
        enqueue_email(
            session, message, kind="notice", envelope_sender="", now=now, signer=self._signer
        )


def _forget(tasks: dict[str, asyncio.Task[None]], email_id: str, _task: object) -> None:
    tasks.pop(email_id, None)


class _NothingSent(Exception):
    def __init__(
        self, refusal: Refusal, account_id: str | None, *, conversation_id: str | None = None
    ) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal
        self.account_id = account_id
        self.conversation_id = conversation_id


def _choose_number(usable: list[ReplyNumber], author: str, named: str | None) -> ReplyNumber | None:
    """The Reply Number an email-started SMS goes from: the one named in the address if the
    author may use it; else the author's own (a number whose Response Email is the author),
    else the first number that authorises the author (oldest assignment first)."""
    if named is not None:
        return next((n for n in usable if n.number == named), None)
    own = [n for n in usable if trust.may_answer(author, n.response_emails or [], [])]
    return (own or usable)[0] if usable else None


def _dedupe_key(email: ReceivedEmail, scanned: Any) -> str:
    recipients = ",".join(sorted(r.strip().lower() for r in email.recipients))
    message_id = None
    if not isinstance(scanned, Problem):
        message_id = ParsedEmail(scanned).message_id
    if message_id:
        basis = f"mid\0{message_id.lower()}\0{email.envelope_sender.lower()}\0{recipients}"
        return hashlib.sha256(basis.encode("utf-8", "surrogateescape")).hexdigest()
    digest = hashlib.sha256(b"raw\0" + recipients.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(email.raw)
    return digest.hexdigest()


def _valid_addresses(addresses: list[str]) -> list[str]:
    """Those the API would take in responseemail (an odd Cc must not sink the reply)."""
    valid: list[str] = []
    for address in addresses:
        try:
            valid += check_emails([address])
        except Invalid:
            continue
    return valid


def _storable(text: str) -> str:
    """Text any database column takes: valid UTF-8, no NUL or other control characters."""
    cleaned = text.encode("utf-8", "replace").decode("utf-8")
    return "".join(c if c.isprintable() else "\ufffd" for c in cleaned)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _key(conversation_id: str) -> str:
    return uuid.UUID(conversation_id).hex


def _quote(text: str) -> str:
    shown = text if len(text) <= 300 else text[:297] + "..."
    return "\n".join("> " + line for line in shown.split("\n"))


def _reply_text(parsed: ParsedEmail) -> str:
    body = parsed.body
    if body is None:
        return ""
    text = body.text
    if body.kind == "html":
        text = html_to_text(text)
    elif body.flowed:
        text = unflow(text, delsp=body.delsp)
    return extract_reply_text(text).text.strip()
