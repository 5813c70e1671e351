"""Webhook deliveries: queued in the transaction of their event, POSTed signed by a worker."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from smsbridge import __version__
from smsbridge.boundary import text_problem
from smsbridge.clock import Clock
from smsbridge.db.engine import Database
from smsbridge.db.models import Account, InboundMessage, Message, WebhookDelivery
from smsbridge.errors import Invalid, NotFound
from smsbridge.ids import new_id
from smsbridge.settings import WebhookSettings
from smsbridge.webhooks import signing

log = logging.getLogger(__name__)

STATUS_EVENT = "message.status"
INBOUND_EVENT = "message.inbound"
KEYWORD_EVENT = "message.keyword"

# A POST that has not been recorded after this long is assumed lost with its worker.
SENDING_TIMEOUT = timedelta(minutes=5)
RECOVERY_INTERVAL_SECONDS = 30.0
FIRST_RETRY_SECONDS = 10
MAX_RETRY_SECONDS = 3600
# Enough parallel POSTs that one slow receiver does not hold up everyone else's webhooks,
# few enough that the gateway is no flood for anybody.
MAX_CONCURRENT_POSTS = 8
# How much of a refusing receiver's answer is kept in last_error, to help its owner debug.
ERROR_EXCERPT_BYTES = 300
MAX_ERROR_LENGTH = 2000
# Ids per IN (...) list: well inside every backend's limit on bound parameters.
IN_CHUNK = 1000


def status_payload(message: Message) -> dict[str, Any]:
    """The body of a `message.status` event (docs/webhooks.md): ISO 8601 times, numbers as
    digits, the failure as `failureReason`."""
    failure = None
    if message.failure_code is not None or message.failure_detail:
        failure = {
            "code": message.failure_code,
            "details": message.failure_detail,
            "permanent": bool(message.failure_permanent),
        }
    return {
        "messageid": message.id,
        "batchid": message.batch_id,
        "customerid": message.account_id,
        "destination": message.destination.lstrip("+"),
        "sender": message.sender.lstrip("+"),
        "status": message.status,
        "tag": message.tag,
        "created": _iso(message.created),
        "modified": _iso(message.modified),
        "failureReason": failure,
    }


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def check_webhook_url(url: str, allow_private: bool) -> str | None:
    """Why the gateway must not POST to `url`, or None when it may.

    Without `allow_private`, a host that is 'localhost' or an IP literal outside the public
    internet is refused, so an account cannot point the gateway at the gateway's own network.
    """
    if not url or len(url) > 2048 or text_problem(url) or any(c.isspace() for c in url):
        return f"'{url[:200]}' is not a valid URL."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is what rejects a malformed one
    except ValueError:
        return f"'{url}' is not a valid URL."
    if parts.scheme.lower() not in ("http", "https"):
        return f"'{url}' is not an http(s) URL."
    host = parts.hostname
    if not host:
        return f"'{url}' has no host."
    if allow_private:
        return None
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return f"{host} is the gateway itself; webhooks go to public addresses only."
    address = _literal_address(name)
    # A name passes here; what it resolves to is judged when the webhook is sent.
    return None if address is None else _address_refusal(address)


def _literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host literally is, or None for a name (judged when it is resolved).

    Also reads the shorthand IPv4 forms resolvers accept ('127.1', '2130706433', '0x7f.1'),
    which `ipaddress` alone would take for names.
    """
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _address_refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        kind = "a loopback"
    elif address.is_link_local:
        kind = "a link-local"
    elif address.is_private:
        kind = "a private"
    elif address.is_multicast or not address.is_global:
        kind = "a non-public"
    else:
        return None
    return f"{address} is {kind} address; webhooks go to public addresses only."


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _body(payload: dict[str, Any]) -> bytes:
    # Compact and sorted: the same payload always gives the same bytes, which are what is signed.
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")


def delivery_view(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "event": row.event,
        "messageid": row.message_id,
        "url": row.url,
        "status": row.status,
        "attempts": row.attempts,
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "created": _iso(row.created_at),
        "sent": _iso(row.sent_at),
        "nextattempt": _iso(row.ready_at) if row.status == "queued" else None,
    }


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this worker holds (status `sending`), with everything needed to POST it."""

    id: str
    message_id: str | None
    event: str
    url: str
    body: bytes
    secret: str
    claimed_at: datetime


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str | None
    permanent: bool = False
    # No connection could be made (as opposed to a receiver that answered, or was slow).
    unreachable: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookService:
    """Queues webhook events, POSTs them with retries, and shows accounts what happened."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: WebhookSettings,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        # `transport` is for tests (httpx.MockTransport); each client closes it when done.
        self._db = db
        self._clock = clock
        self._settings = settings
        self._transport = transport

    # -- queueing (inside the caller's transaction) -----------------------------------------

    def enqueue_status_changes(
        self, session: Session, message_ids: Sequence[str], now: datetime
    ) -> int:
        """Queue a delivery report for each message that has a URL; returns how many.

        Call it in the transaction that changed the statuses: the webhook is then queued if
        and only if the change commits, and reports the status that committed.
        """
        ids = list(dict.fromkeys(message_ids))
        if not ids:
            return 0
        # Most messages have no URL: find the few that do with a narrow two-column query
        # before loading any whole row.
        url = func.coalesce(Message.deliveryreporturl, Account.default_deliveryreporturl)
        targets: dict[str, str] = {}
        for chunk in _chunks(ids):
            found = session.execute(
                select(Message.id, url.label("url"))
                .join(Account, Account.id == Message.account_id)
                .where(
                    Message.id.in_(chunk),
                    or_(
                        Message.deliveryreporturl.is_not(None),
                        Account.default_deliveryreporturl.is_not(None),
                    ),
                )
            )
            targets.update({row.id: row.url for row in found if row.url})
        if not targets:
            return 0
        rows: list[dict[str, Any]] = []
        for chunk in _chunks(list(targets)):
            # populate_existing: the caller may have changed these rows with a Core UPDATE
            # that the session's identity map has not seen.
            messages = session.scalars(
                select(Message)
                .where(Message.id.in_(chunk))
                .execution_options(populate_existing=True)
            )
            for message in messages:
                payload = status_payload(message)
                rows.append(
                    self._delivery_row(
                        message.account_id,
                        STATUS_EVENT,
                        message.id,
                        targets[message.id],
                        payload,
                        now,
                    )
                )
        if rows:
            session.execute(insert(WebhookDelivery), rows)
        return sum(1 for row in rows if row["status"] == "queued")

    def enqueue_inbound(self, session: Session, inbound: InboundMessage, now: datetime) -> bool:
        """Queue a `message.inbound` event if the SMS's account has an inbound URL."""
        return self._enqueue_about_inbound(
            session, INBOUND_EVENT, inbound, {"keyword": inbound.keyword}, now
        )

    def enqueue_keyword(
        self, session: Session, inbound: InboundMessage, facts: dict[str, Any], now: datetime
    ) -> bool:
        """Queue a `message.keyword` event (a customer's STOP, START or HELP, and what it
        did) to the account's inbound URL, besides the SMS's own `message.inbound` event."""
        return self._enqueue_about_inbound(session, KEYWORD_EVENT, inbound, facts, now)

    def _enqueue_about_inbound(
        self,
        session: Session,
        event: str,
        inbound: InboundMessage,
        extra: dict[str, Any],
        now: datetime,
    ) -> bool:
        """Queue `event` about an inbound SMS to its account's inbound URL, if it has one."""
        if inbound.account_id is None:
            return False
        url = session.scalar(
            select(Account.inbound_webhook_url).where(Account.id == inbound.account_id)
        )
        if not url:
            return False
        payload = {
            "messageid": inbound.id,
            "customerid": inbound.account_id,
            "sender": inbound.sender.lstrip("+"),
            "destination": inbound.reply_number.lstrip("+"),
            "content": inbound.content,
            **extra,
            "created": _iso(inbound.received_at),
        }
        row = self._delivery_row(inbound.account_id, event, inbound.id, url, payload, now)
        session.execute(insert(WebhookDelivery), [row])
        return bool(row["status"] == "queued")

    def _delivery_row(
        self,
        account_id: str,
        event: str,
        message_id: str,
        url: str,
        payload: dict[str, Any],
        now: datetime,
    ) -> dict[str, Any]:
        event_id = new_id()
        # A URL we will never call is recorded as failed, with why, rather than dropped:
        # the account can then see the reason next to the message.
        refusal = check_webhook_url(url, self._settings.allow_private_addresses)
        return {
            "id": event_id,
            "account_id": account_id,
            "event": event,
            "message_id": message_id,
            "url": url,
            "payload": {**payload, "event": event, "eventid": event_id},
            "status": "failed" if refusal else "queued",
            "attempts": 0,
            "ready_at": now,
            "claimed_at": None,
            "last_status_code": None,
            "last_error": refusal,
            "created_at": now,
            "sent_at": None,
        }

    # -- the sender ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """POST due webhooks until `stop`; one HTTP client (and its connections) for the run."""
        loop = asyncio.get_running_loop()
        next_recovery = 0.0
        async with self._client() as client:
            while not stop.is_set():
                try:
                    if loop.time() >= next_recovery:
                        await asyncio.to_thread(self.recover)
                        next_recovery = loop.time() + RECOVERY_INTERVAL_SECONDS
                    handled = await self._round(client, 50)
                except Exception:  # a bad round must not end the sender
                    log.exception("webhooks: round failed; retrying")
                    await _pause(stop, 1.0)
                    continue
                if handled == 0:
                    await _pause(stop, self._settings.poll_interval_seconds)

    async def run_once(self, limit: int = 50) -> int:
        """Claim and POST one round of due webhooks; returns how many were claimed."""
        async with self._client() as client:
            return await self._round(client, limit)

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self._transport,
            # Connecting gets half the budget, so a host that cannot be reached shows up as
            # a connect error (and its other webhooks wait) rather than as a slow answer.
            timeout=httpx.Timeout(
                self._settings.timeout_seconds, connect=self._settings.timeout_seconds / 2
            ),
            # A redirect could lead anywhere, including past the address check.
            follow_redirects=False,
            # No proxies or other settings from the environment: where a webhook goes must
            # depend on its URL only (a proxy would also resolve names past our check).
            trust_env=False,
            headers={"User-Agent": f"smsbridge-webhooks/{__version__}"},
        )

    async def _round(self, client: httpx.AsyncClient, limit: int) -> int:
        batch = await asyncio.to_thread(self.claim, limit)
        if not batch:
            return 0
        gate = asyncio.Semaphore(MAX_CONCURRENT_POSTS)
        # Hosts that could not be reached this round: their other deliveries wait for the
        # next round instead of each costing a connect timeout.
        unreachable: set[str] = set()
        # Within a round one message's events go out in order (SENT before DELIVERED), and
        # different messages in parallel.
        groups: dict[str, list[ClaimedDelivery]] = {}
        for item in batch:
            groups.setdefault(item.message_id or item.id, []).append(item)

        async def send_group(items: list[ClaimedDelivery]) -> None:
            for item in items:
                async with gate:
                    await self._deliver(client, item, unreachable)

        async with asyncio.TaskGroup() as tasks:
            for items in groups.values():
                tasks.create_task(send_group(items))
        return len(batch)

    def claim(self, limit: int = 50) -> list[ClaimedDelivery]:
        """Mark up to `limit` due deliveries `sending` and return them with their secrets."""
        now = self._clock.now()
        with self._db.write() as session:
            rows = list(
                session.scalars(
                    select(WebhookDelivery)
                    .where(WebhookDelivery.status == "queued", WebhookDelivery.ready_at <= now)
                    .order_by(WebhookDelivery.ready_at, WebhookDelivery.created_at)
                    .limit(limit)
                    # PostgreSQL: concurrent senders skip each other's rows; SQLite ignores
                    # this, its BEGIN IMMEDIATE already serialises the claim.
                    .with_for_update(skip_locked=True)
                )
            )
            if not rows:
                return []
            for row in rows:
                row.status, row.claimed_at = "sending", now
                row.attempts += 1
            keys = self._secrets(session, {row.account_id for row in rows})
            return [
                ClaimedDelivery(
                    id=row.id,
                    message_id=row.message_id,
                    event=row.event,
                    url=row.url,
                    body=_body(row.payload),
                    secret=keys[row.account_id],
                    claimed_at=now,
                )
                for row in rows
            ]

    def _secrets(self, session: Session, account_ids: set[str]) -> dict[str, str]:
        """Each account's signing secret, creating it for accounts that have none yet."""
        ids = sorted(account_ids)
        found: dict[str, str | None] = {
            account_id: secret
            for account_id, secret in session.execute(
                select(Account.id, Account.webhook_secret).where(Account.id.in_(ids))
            )
        }
        missing = [account_id for account_id in ids if not found.get(account_id)]
        for account_id in missing:
            # Conditional: if another sender created one meanwhile, that one stays.
            session.execute(
                update(Account)
                .where(Account.id == account_id, Account.webhook_secret.is_(None))
                .values(webhook_secret=new_webhook_secret())
                .execution_options(synchronize_session=False)
            )
        if missing:
            found.update(
                (account_id, secret)
                for account_id, secret in session.execute(
                    select(Account.id, Account.webhook_secret).where(Account.id.in_(missing))
                )
            )
        return {account_id: secret or "" for account_id, secret in found.items()}

    async def _deliver(
        self, client: httpx.AsyncClient, item: ClaimedDelivery, unreachable: set[str]
    ) -> None:
        host = urlsplit(item.url).hostname or ""
        if host in unreachable:
            outcome = _Outcome(None, f"Not attempted: {host} could not be reached just now.")
        else:
            outcome = await self._attempt(client, item)
            if outcome.unreachable:
                unreachable.add(host)
        if outcome.ok:
            await asyncio.to_thread(self._sent, item, outcome)
        else:
            await asyncio.to_thread(self._failed, item, outcome)

    async def _attempt(self, client: httpx.AsyncClient, item: ClaimedDelivery) -> _Outcome:
        refusal, permanent = await self._address_check(item.url)
        if refusal is not None:
            return _Outcome(None, refusal, permanent, unreachable=not permanent)
        timestamp = int(self._clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            signing.SIGNATURE_HEADER: signing.sign(item.secret, timestamp, item.body),
            signing.TIMESTAMP_HEADER: str(timestamp),
            signing.EVENT_ID_HEADER: item.id,
            signing.EVENT_HEADER: item.event,
        }
        try:
            # httpx's timeout is per phase; this bounds the whole exchange, so a receiver
            # that trickles its answer cannot hold a sender slot for ever.
            async with (
                asyncio.timeout(self._settings.timeout_seconds),
                client.stream("POST", item.url, content=item.body, headers=headers) as response,
            ):
                if response.is_success:
                    return _Outcome(response.status_code, None)
                return _Outcome(response.status_code, await _refusal_text(response))
        except TimeoutError:
            return _Outcome(None, f"No answer within {self._settings.timeout_seconds:g} s.")
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return _Outcome(None, _error_text(exc), unreachable=True)
        except httpx.HTTPError as exc:
            return _Outcome(None, _error_text(exc))
        except Exception as exc:  # a bug here is a failed attempt, not a lost webhook
            log.exception("webhook %s: POST raised", item.id)
            return _Outcome(None, _error_text(exc))

    async def _address_check(self, url: str) -> tuple[str | None, bool]:
        """(why not to send, whether that is final). Resolves the host, because a public-looking
        name can point at a private address."""
        allow = self._settings.allow_private_addresses
        refusal = check_webhook_url(url, allow)
        if refusal is not None or allow:
            return refusal, True
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        try:
            infos = await asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            return f"Cannot resolve {host}: {exc}", False
        for info in infos:
            text = str(info[4][0]).split("%", 1)[0]
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                continue
            reason = _address_refusal(address)
            if reason is not None:
                return f"{host} resolves to {reason}", True
        # httpx resolves the name again when it connects; a name whose answers change between
        # the two lookups (DNS rebinding) is not stopped by this check alone.
        return None, False

    def _sent(self, item: ClaimedDelivery, outcome: _Outcome) -> None:
        now = self._clock.now()
        with self._db.write() as session:
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == item.id,
                    WebhookDelivery.status == "sending",
                    WebhookDelivery.claimed_at == item.claimed_at,
                )
                .values(
                    status="sent",
                    sent_at=now,
                    claimed_at=None,
                    last_status_code=outcome.status_code,
                    last_error=None,
                )
                .execution_options(synchronize_session=False)
            )

    def _failed(self, item: ClaimedDelivery, outcome: _Outcome) -> None:
        now = self._clock.now()
        with self._db.write() as session:
            row = session.get(WebhookDelivery, item.id, with_for_update=True)
            # Not ours any more: recovered (and perhaps claimed again) after we took too long.
            if row is None or row.status != "sending" or row.claimed_at != item.claimed_at:
                return
            row.last_status_code = outcome.status_code
            row.last_error = (outcome.error or "failed")[:MAX_ERROR_LENGTH]
            row.claimed_at = None
            deadline = row.created_at + timedelta(hours=self._settings.retry_hours)
            if outcome.permanent or now >= deadline:
                row.status = "failed"
                log.warning("webhook %s to %s failed for good: %s", row.id, row.url, row.last_error)
                return
            delay = min(FIRST_RETRY_SECONDS * 2 ** min(row.attempts - 1, 20), MAX_RETRY_SECONDS)
            row.status = "queued"
            # The last try falls on the deadline itself, not somewhere past it.
            row.ready_at = min(now + timedelta(seconds=delay), deadline)

    def recover(self) -> int:
        """Requeue deliveries whose worker died mid-POST. The receiver may get that event twice;
        the event id is what lets it notice."""
        cutoff = self._clock.now() - SENDING_TIMEOUT
        with self._db.write() as session:
            result = session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.status == "sending", WebhookDelivery.claimed_at < cutoff)
                .values(status="queued", claimed_at=None)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def pending(self) -> int:
        with self._db.read() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(WebhookDelivery)
                    .where(WebhookDelivery.status.in_(["queued", "sending"]))
                )
                or 0
            )

    # -- what accounts see and set ------------------------------------------------------------

    def deliveries_for_message(self, account_id: str, message_id: str) -> list[dict[str, Any]]:
        """The webhooks of one of the account's messages (outbound or inbound), oldest first."""
        with self._db.read() as session:
            # A deleted message (DELETE /messages/{id}) is gone here too.
            owner = session.scalar(
                select(Message.account_id).where(
                    Message.id == message_id, Message.deleted_at.is_(None)
                )
            )
            if owner is None:
                owner = session.scalar(
                    select(InboundMessage.account_id).where(
                        InboundMessage.id == message_id, InboundMessage.deleted_at.is_(None)
                    )
                )
            # Another account's message is answered exactly like a missing one: ids never leak.
            if owner is None or owner != account_id:
                raise NotFound("MESSAGE_NOT_FOUND", f"There is no message {message_id}.")
            rows = session.scalars(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.message_id == message_id,
                    WebhookDelivery.account_id == account_id,
                )
                .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
            )
            return [delivery_view(row) for row in rows]

    def recent_deliveries(self, account_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The account's latest webhooks, newest first."""
        limit = max(1, min(limit, 500))
        with self._db.read() as session:
            rows = session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.account_id == account_id)
                .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
                .limit(limit)
            )
            return [delivery_view(row) for row in rows]

    def get_settings(self, account_id: str) -> dict[str, Any]:
        """The account's webhook URLs, and whether it has a secret (never the secret itself)."""
        with self._db.read() as session:
            return _settings_view(_account(session, account_id))

    def update_settings(
        self, account_id: str, deliveryreporturl: str | None, inboundurl: str | None
    ) -> dict[str, Any]:
        """Replace both URLs (None or empty clears one)."""
        delivery = self._checked(deliveryreporturl)
        inbound = self._checked(inboundurl)
        with self._db.write() as session:
            account = _account(session, account_id)
            account.default_deliveryreporturl = delivery
            account.inbound_webhook_url = inbound
            return _settings_view(account)

    def rotate_secret(self, account_id: str) -> str:
        """A new signing secret, returned this once; later POSTs (retries too) are signed
        with it."""
        secret = new_webhook_secret()
        with self._db.write() as session:
            _account(session, account_id).webhook_secret = secret
        return secret

    def _checked(self, url: str | None) -> str | None:
        url = (url or "").strip()
        if not url:
            return None
        refusal = check_webhook_url(url, self._settings.allow_private_addresses)
        if refusal is not None:
            raise Invalid("INVALID_URL", refusal)
        return url


def _account(session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("ACCOUNT_NOT_FOUND", f"There is no account {account_id}.")
    return account


def _settings_view(account: Account) -> dict[str, Any]:
    return {
        "deliveryreporturl": account.default_deliveryreporturl,
        "inboundurl": account.inbound_webhook_url,
        "hassecret": bool(account.webhook_secret),
    }


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[start : start + IN_CHUNK] for start in range(0, len(ids), IN_CHUNK)]


async def _refusal_text(response: httpx.Response) -> str:
    """'HTTP 500: <the start of the body>', or where a redirect pointed."""
    text = f"HTTP {response.status_code}"
    if response.is_redirect:
        return f"{text}: redirect to {response.headers.get('location', '?')} not followed."
    excerpt = b""
    chunks = response.aiter_bytes()
    try:
        async for chunk in chunks:
            excerpt += chunk
            if len(excerpt) >= ERROR_EXCERPT_BYTES:
                break  # a huge error page is not read, only its start
    finally:
        # Close the generator now rather than at garbage collection, inside this loop.
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
    body = excerpt[:ERROR_EXCERPT_BYTES].decode("utf-8", "replace").strip()
    return f"{text}: {body}" if body else text


def _error_text(exc: Exception) -> str:
    detail = str(exc)
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
