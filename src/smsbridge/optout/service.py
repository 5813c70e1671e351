"""Opt-out actions: act on a customer's keyword, answer it, and manage the suppression list.

The rules of what a text means live in optout/keywords.py and what an import line means in
optout/imports.py; this module applies them in transactions. Every change of the list writes a
suppression_events row beside it (when, which keyword or who, from which message), so the
account can always show why a number is, or is no longer, suppressed.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smsbridge.clock import Clock
from smsbridge.db.engine import Database
from smsbridge.db.models import (
    Account,
    InboundMessage,
    OptOutPreferences,
    ReplyNumber,
    Suppression,
    SuppressionEvent,
)
from smsbridge.errors import Invalid, NotFound, ServiceError
from smsbridge.ids import new_id
from smsbridge.mail.compose import KeywordNote
from smsbridge.messages.schemas import MessageIn
from smsbridge.messages.service import MessageService, latest_outbound
from smsbridge.numbers.phone import InvalidNumber, normalise_number
from smsbridge.optout import keywords
from smsbridge.optout.imports import ANY_NUMBER, Entry, LineProblem, parse_lines
from smsbridge.optout.keywords import KeywordClass, KeywordProblem, Match, Scope
from smsbridge.settings import OptOutSettings

log = logging.getLogger(__name__)

MAX_PAGE = 1000


@dataclass(frozen=True)
class Actor:
    """Who changed the list by hand: `source` is api, page or import; `who` names the key or
    user ("API key default (id)", "user ann@example.com")."""

    source: str
    who: str


@dataclass(frozen=True)
class Preferences:
    """An account's opt-out choices with the operator's defaults filled in."""

    scope: Scope
    keywords: dict[str, dict[str, list[str]]]
    texts: dict[str, dict[str, str]]
    own_scope: bool
    own_keywords: bool


@dataclass(frozen=True)
class KeywordOutcome:
    """What a keyword SMS did: the list change made, and the automatic answer due."""

    match: Match
    scope: Scope
    changed: int  # entries added or removed
    answer: str  # the automatic SMS's text ("" when the operator turned answers off)

    def note(self) -> KeywordNote:
        """The line its forwarding email starts with."""
        where = "this Reply Number" if self.scope == Scope.PAIR else "this account"
        word = self.match.keyword
        if self.match.kind == KeywordClass.OPT_OUT:
            notice = (
                f"The customer opted out (they texted {word}). Nothing more can be sent to "
                f"them from {where} until they text START."
            )
        elif self.match.kind == KeywordClass.OPT_IN:
            notice = (
                f"The customer opted back in (they texted {word}): messages to them from "
                f"{where} can be sent again."
            )
        else:
            notice = f"The customer asked for help (they texted {word})."
        if self.answer:
            notice += f' An automatic SMS answers them: "{self.answer}"'
        return KeywordNote(kind=self.match.kind.value, notice=notice)

    def facts(self) -> dict[str, Any]:
        """What the `message.keyword` webhook reports."""
        return {
            "keyword": self.match.keyword,
            "keywordclass": self.match.kind.value,
            "language": self.match.language,
            "scope": self.scope.value,
            "changed": self.changed,
            "answer": self.answer or None,
        }


class OptOutService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: OptOutSettings,
        home_region: str,
        messages: MessageService,
    ) -> None:
        self._db = db
        self._clock = clock
        self._settings = settings
        self._home_region = home_region
        self._messages = messages
        # Checked once at start: a bad operator list fails loudly, not at the first STOP.
        self._default_keywords = keywords.check_keyword_lists(
            {lang: dict(classes) for lang, classes in settings.keywords.items()}
        )

    # -- preferences -----------------------------------------------------------------------

    def preferences(self, session: Session, account_id: str) -> Preferences:
        row = session.get(OptOutPreferences, account_id)
        scope = Scope(row.scope) if row is not None and row.scope else Scope(self._settings.scope)
        own = row.keywords if row is not None and row.keywords else None
        return Preferences(
            scope=scope,
            keywords=own or self._default_keywords,
            texts=dict(row.texts or {}) if row is not None else {},
            own_scope=row is not None and bool(row.scope),
            own_keywords=own is not None,
        )

    def get_settings(self, account_id: str) -> dict[str, Any]:
        with self._db.read() as session:
            self._account(session, account_id)
            return _settings_view(self.preferences(session, account_id), self._default_keywords)

    def update_settings(self, account_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Set scope, keywords and texts; a field given as null goes back to the default,
        a field left out is kept."""
        values: dict[str, Any] = {}
        if "scope" in changes:
            scope = changes["scope"]
            if scope is not None and scope not in {s.value for s in Scope}:
                raise Invalid("INVALID_SCOPE", "scope is pair or account (or null: the default).")
            values["scope"] = scope
        if "keywords" in changes:
            try:
                values["keywords"] = (
                    keywords.check_keyword_lists(changes["keywords"])
                    if changes["keywords"] is not None
                    else None
                )
            except KeywordProblem as exc:
                raise Invalid("INVALID_KEYWORDS", str(exc)) from exc
        if "texts" in changes:
            values["texts"] = _check_texts(changes["texts"])
        now = self._clock.now()
        with self._db.write() as session:
            self._account(session, account_id)
            row = session.get(OptOutPreferences, account_id)
            if row is None:
                row = OptOutPreferences(account_id=account_id, updated_at=now)
                session.add(row)
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = now
            session.flush()
            return _settings_view(self.preferences(session, account_id), self._default_keywords)

    # -- a customer's keyword --------------------------------------------------------------

    def on_inbound(self, session: Session, inbound: InboundMessage) -> KeywordOutcome | None:
        """Recognise a just-stored SMS as a keyword and change the list (in its transaction:
        stored and acted on, or neither). None: an ordinary reply."""
        if not self._settings.enabled or inbound.account_id is None:
            return None
        prefs = self.preferences(session, inbound.account_id)
        match = keywords.recognise(inbound.content, prefs.keywords)
        if match is None:
            return None
        account = session.get(Account, inbound.account_id)
        now = self._clock.now()
        target = inbound.reply_number if prefs.scope == Scope.PAIR else ANY_NUMBER
        changed = 0
        if match.kind == KeywordClass.OPT_OUT:
            changed = self._suppress(session, inbound, target, match, now)
        elif match.kind == KeywordClass.OPT_IN:
            changed = self._lift(session, inbound, prefs.scope, match, now)
            if not changed:
                # "Yes" to "Shall we book you in?" from someone who never opted out is a
                # reply, not an opt-in: answering it with a confirmation would only confuse.
                return None
        answer = ""
        if self._settings.send_confirmations:
            answer = keywords.reply_text(
                match.kind,
                match.language,
                account_name=account.name if account is not None else "",
                scope=prefs.scope,
                lists=prefs.keywords,
                texts=prefs.texts,
            )
        return KeywordOutcome(match=match, scope=prefs.scope, changed=changed, answer=answer)

    def _suppress(
        self, session: Session, inbound: InboundMessage, target: str, match: Match, now: datetime
    ) -> int:
        assert inbound.account_id is not None
        exists = session.scalar(
            select(Suppression.id).where(
                Suppression.account_id == inbound.account_id,
                Suppression.customer == inbound.sender,
                Suppression.reply_number == target,
            )
        )
        added = 0
        if exists is None:
            try:
                # A savepoint: the same customer's STOP twice at once on PostgreSQL must not
                # lose the SMS that lost the race.
                with session.begin_nested():
                    session.add(
                        Suppression(
                            id=new_id(),
                            account_id=inbound.account_id,
                            customer=inbound.sender,
                            reply_number=target,
                            created_at=now,
                            source="keyword",
                            keyword=match.keyword,
                            actor=None,
                            inbound_message_id=inbound.id,
                        )
                    )
                added = 1
            except IntegrityError:
                added = 0
        self._event(
            session,
            inbound.account_id,
            inbound.sender,
            target,
            "opted_out",
            "keyword",
            keyword=match.keyword,
            inbound_message_id=inbound.id,
            note=None if added else "already opted out",
            at=now,
        )
        return added

    def _lift(
        self, session: Session, inbound: InboundMessage, scope: Scope, match: Match, now: datetime
    ) -> int:
        """Remove what stops the account texting the customer back from this number: the
        pair's entry and any account-wide one (or, with account scope, every entry)."""
        assert inbound.account_id is not None
        statement = select(Suppression).where(
            Suppression.account_id == inbound.account_id,
            Suppression.customer == inbound.sender,
        )
        if scope == Scope.PAIR:
            statement = statement.where(
                Suppression.reply_number.in_([inbound.reply_number, ANY_NUMBER])
            )
        entries = list(session.scalars(statement))
        for entry in entries:
            session.delete(entry)
            self._event(
                session,
                inbound.account_id,
                inbound.sender,
                entry.reply_number,
                "opted_in",
                "keyword",
                keyword=match.keyword,
                inbound_message_id=inbound.id,
                note=None,
                at=now,
            )
        return len(entries)

    def answer(self, session: Session, inbound: InboundMessage, outcome: KeywordOutcome) -> None:
        """Queue the automatic SMS (confirmation or help) in the inbound SMS's transaction.

        It is a message like any other (ledger, receipts, the conversation), sent from the
        Reply Number the keyword came to. If it cannot be sent (no credit) the keyword still
        counts: the opt-out must never depend on the answer.
        """
        if not outcome.answer or inbound.account_id is None:
            return
        now = self._clock.now()
        # The conversation keeps its Response Email and tag: the answer is the latest outbound
        # SMS, which is where the next forwarded reply takes its recipients from.
        latest = latest_outbound(session, inbound.account_id, inbound.reply_number, inbound.sender)
        last = latest[0] if latest else None
        request = MessageIn(
            sender=inbound.reply_number,
            destination=inbound.sender,
            content=outcome.answer,
            tag=last.tag if last is not None else None,
            responseemail=list(last.response_emails or []) if last is not None else None,
        )
        message_id: str | None = None
        note: str | None = None
        try:
            with session.begin_nested():
                sent = self._messages.queue_in(
                    session,
                    inbound.account_id,
                    request,
                    now,
                    conversation_id=inbound.conversation_id,
                    exempt=True,
                    charge=self._settings.charge_replies,
                )
                message_id = str(sent["messageid"])
        except ServiceError as exc:
            log.warning("automatic answer to %s not sent: %s", inbound.id, exc.message)
            note = f"automatic answer not sent: {exc.message} ({exc.code})"
        events = session.scalars(
            select(SuppressionEvent).where(SuppressionEvent.inbound_message_id == inbound.id)
        )
        for event in events:
            event.message_id = message_id
            if note is not None:
                event.note = f"{event.note}; {note}" if event.note else note

    # -- the list, by hand -----------------------------------------------------------------

    def listing(
        self,
        account_id: str,
        *,
        search: str | None = None,
        reply_number: str | None = None,
        limit: int = 100,
        skip: int = 0,
    ) -> dict[str, Any]:
        """The account's entries, newest first, with how many match in all."""
        conditions = [Suppression.account_id == account_id]
        if search:
            wanted = "".join(ch for ch in search if ch.isdigit())[:20]
            if not wanted:
                raise Invalid("INVALID_FIELD", "search is (part of) a phone number: digits.")
            conditions.append(Suppression.customer.contains(wanted, autoescape=True))
        if reply_number:
            conditions.append(Suppression.reply_number == self._reply_number(reply_number))
        with self._db.read() as session:
            total = session.scalar(select(func.count()).select_from(Suppression).where(*conditions))
            rows = session.scalars(
                select(Suppression)
                .where(*conditions)
                .order_by(Suppression.created_at.desc(), Suppression.id)
                .offset(max(skip, 0))
                .limit(min(max(limit, 1), MAX_PAGE))
            )
            return {"total": int(total or 0), "optouts": [_entry_view(r) for r in rows]}

    def add(
        self,
        account_id: str,
        lines: list[str],
        actor: Actor,
        *,
        reply_number: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Add numbers (one a line, or `number,reply number`): all of them, or, if any line is
        wrong, none, with every wrong line and why (INVALID_IMPORT)."""
        if reply_number:
            target = self._reply_number(reply_number)
            lines = [f"{line},{target}" if line.strip() else line for line in lines]
        now = self._clock.now()
        with self._db.write() as session:
            self._account(session, account_id)
            held = set(
                session.scalars(
                    select(ReplyNumber.number).where(
                        ReplyNumber.account_id == account_id, ReplyNumber.state == "assigned"
                    )
                )
            )
            entries, problems = parse_lines(lines, self._home_region, held)
            if problems:
                raise _import_refused(problems)
            if not entries:
                raise Invalid("INVALID_IMPORT", "The list holds no phone numbers.")
            added = 0
            for entry in entries:
                added += self._add_entry(session, account_id, entry, actor, note, now)
            return {"added": added, "alreadylisted": len(entries) - added}

    def _add_entry(
        self,
        session: Session,
        account_id: str,
        entry: Entry,
        actor: Actor,
        note: str | None,
        now: datetime,
    ) -> int:
        exists = session.scalar(
            select(Suppression.id).where(
                Suppression.account_id == account_id,
                Suppression.customer == entry.customer,
                Suppression.reply_number == entry.reply_number,
            )
        )
        if exists is not None:
            return 0
        session.add(
            Suppression(
                id=new_id(),
                account_id=account_id,
                customer=entry.customer,
                reply_number=entry.reply_number,
                created_at=now,
                source=actor.source,
                keyword=None,
                actor=actor.who[:400],
                inbound_message_id=None,
                note=(note or "")[:1000] or None,
            )
        )
        self._event(
            session,
            account_id,
            entry.customer,
            entry.reply_number,
            "added",
            actor.source,
            actor=actor.who,
            note=(note or "")[:1000] or None,
            at=now,
        )
        return 1

    def remove(
        self, account_id: str, customer: str, actor: Actor, *, reply_number: str | None = None
    ) -> dict[str, Any]:
        """Take a number off the list: its entry for one Reply Number (`*` for the
        account-wide one), or, with none given, every entry of that number."""
        number = self._customer(customer)
        now = self._clock.now()
        with self._db.write() as session:
            statement = select(Suppression).where(
                Suppression.account_id == account_id, Suppression.customer == number
            )
            if reply_number:
                target = ANY_NUMBER if reply_number.strip() in ("*", "all") else None
                statement = statement.where(
                    Suppression.reply_number == (target or self._reply_number(reply_number))
                )
            entries = list(session.scalars(statement))
            if not entries:
                raise NotFound("OPTOUT_NOT_FOUND", f"{number} is not on the opt-out list.")
            for entry in entries:
                self._event(
                    session,
                    account_id,
                    entry.customer,
                    entry.reply_number,
                    "removed",
                    actor.source,
                    actor=actor.who,
                    at=now,
                )
            session.execute(delete(Suppression).where(Suppression.id.in_([e.id for e in entries])))
        return {"customer": number.lstrip("+"), "removed": len(entries)}

    def blocked(self, account_id: str, sender: str, customer: str) -> str | None:
        """Why `sender` may not text `customer` (a sentence), or None: for the account page."""
        with self._db.read() as session:
            found = self._messages.blocked(session, account_id, sender, [customer])
        why = found.get(customer)
        return why[:1].upper() + why[1:] if why else None

    def events(
        self, account_id: str, *, customer: str | None = None, limit: int = 200, skip: int = 0
    ) -> list[dict[str, Any]]:
        """The audit trail, newest first (of one number, if given)."""
        statement = select(SuppressionEvent).where(SuppressionEvent.account_id == account_id)
        if customer:
            statement = statement.where(SuppressionEvent.customer == self._customer(customer))
        with self._db.read() as session:
            rows = session.scalars(
                statement.order_by(SuppressionEvent.at.desc(), SuppressionEvent.id.desc())
                .offset(max(skip, 0))
                .limit(min(max(limit, 1), MAX_PAGE))
            )
            return [_event_view(r) for r in rows]

    def export_csv(self, account_id: str) -> str:
        """Every entry of the account as CSV (the import format, plus the audit columns)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(
            [
                "customer",
                "replynumber",
                "created",
                "source",
                "keyword",
                "actor",
                "messageid",
                "note",
            ]
        )
        with self._db.read() as session:
            rows = session.scalars(
                select(Suppression)
                .where(Suppression.account_id == account_id)
                .order_by(Suppression.created_at, Suppression.id)
                .execution_options(yield_per=500)
            )
            for row in rows:
                writer.writerow(
                    [
                        row.customer,
                        row.reply_number if row.reply_number != ANY_NUMBER else "all",
                        _iso(row.created_at),
                        row.source,
                        row.keyword or "",
                        _csv_safe(row.actor or ""),
                        row.inbound_message_id or "",
                        _csv_safe(row.note or ""),
                    ]
                )
        return buffer.getvalue()

    # -- helpers ---------------------------------------------------------------------------

    def _event(
        self,
        session: Session,
        account_id: str,
        customer: str,
        reply_number: str,
        action: str,
        source: str,
        *,
        at: datetime,
        keyword: str | None = None,
        actor: str | None = None,
        inbound_message_id: str | None = None,
        note: str | None = None,
    ) -> None:
        session.add(
            SuppressionEvent(
                account_id=account_id,
                customer=customer,
                reply_number=reply_number,
                action=action,
                source=source,
                keyword=keyword,
                actor=actor[:400] if actor else None,
                inbound_message_id=inbound_message_id,
                message_id=None,
                note=note,
                at=at,
            )
        )

    def _account(self, session: Session, account_id: str) -> Account:
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound("ACCOUNT_NOT_FOUND", f"There is no account {account_id}.")
        return account

    def _customer(self, raw: str) -> str:
        try:
            return normalise_number(raw, self._home_region, require_mobile=False).e164
        except InvalidNumber as exc:
            raise Invalid("INVALID_DESTINATION", f"'{raw[:30]}' is not a phone number.") from exc

    def _reply_number(self, raw: str) -> str:
        if raw.strip() in ("*", "all"):
            return ANY_NUMBER
        try:
            return normalise_number(raw, self._home_region, require_mobile=False).e164
        except InvalidNumber as exc:
            raise Invalid("INVALID_SENDER", f"'{raw[:30]}' is not a Reply Number.") from exc


def _check_texts(raw: Any) -> dict[str, dict[str, str]] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise Invalid("INVALID_OPTOUT_TEXT", 'texts is {"optout": {"en": "..."}, ...}.')
    checked: dict[str, dict[str, str]] = {}
    for kind, by_language in raw.items():
        if kind not in {k.value for k in KeywordClass}:
            raise Invalid("INVALID_OPTOUT_TEXT", f"'{kind}' is not optout, optin or help.")
        if not isinstance(by_language, Mapping):
            raise Invalid("INVALID_OPTOUT_TEXT", f'texts.{kind} is {{"en": "..."}}.')
        checked[kind] = {}
        for language, text in by_language.items():
            try:
                checked[kind][str(language)] = keywords.check_text(text, f"{kind} ({language})")
            except KeywordProblem as exc:
                raise Invalid("INVALID_OPTOUT_TEXT", str(exc)) from exc
    return checked


def _import_refused(problems: list[LineProblem]) -> ServiceError:
    first = problems[0]
    return ServiceError(
        400,
        "INVALID_IMPORT",
        f"{len(problems)} line{'s' if len(problems) != 1 else ''} of the list "
        f"{'are' if len(problems) != 1 else 'is'} wrong (first: line {first.line}, "
        f"{first.reason}) and nothing was added.",
        details=[p.as_detail() for p in problems[:100]],
    )


def _settings_view(prefs: Preferences, defaults: dict[str, dict[str, list[str]]]) -> dict[str, Any]:
    return {
        "scope": prefs.scope.value,
        "scopeisdefault": not prefs.own_scope,
        "keywords": prefs.keywords,
        "keywordsaredefault": not prefs.own_keywords,
        "texts": prefs.texts,
        "defaulttexts": {k.value: v for k, v in keywords.DEFAULT_TEXTS.items()},
        "defaultkeywords": defaults,
    }


def _entry_view(row: Suppression) -> dict[str, Any]:
    everywhere = row.reply_number == ANY_NUMBER
    return {
        "customer": row.customer.lstrip("+"),
        "replynumber": None if everywhere else row.reply_number.lstrip("+"),
        "scope": Scope.ACCOUNT.value if everywhere else Scope.PAIR.value,
        "created": _iso(row.created_at),
        "source": row.source,
        "keyword": row.keyword,
        "actor": row.actor,
        "messageid": row.inbound_message_id,
        "note": row.note,
    }


def _event_view(row: SuppressionEvent) -> dict[str, Any]:
    everywhere = row.reply_number == ANY_NUMBER
    return {
        "at": _iso(row.at),
        "action": row.action,
        "customer": row.customer.lstrip("+"),
        "replynumber": None if everywhere else row.reply_number.lstrip("+"),
        "source": row.source,
        "keyword": row.keyword,
        "actor": row.actor,
        "messageid": row.inbound_message_id,
        "answerid": row.message_id,
        "note": row.note,
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _csv_safe(value: str) -> str:
    # A cell starting with = + - @ is a formula to spreadsheets.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
