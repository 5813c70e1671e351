"""The composition root: settings in, database, adapters, services and servers out."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session

from smsbridge import __version__
from smsbridge.accounts.service import AccountService
from smsbridge.api.boundary import InputBoundary, Limits
from smsbridge.api.errors import describe_errors_truthfully, install_error_handlers
from smsbridge.api.routes import (
    account_dependency,
    build_router,
    health_router,
    key_dependency,
)
from smsbridge.carriers.base import Carrier
from smsbridge.carriers.simulator import Handsets, SimulatedCarrier
from smsbridge.clock import Clock, SystemClock
from smsbridge.conversations.routes import build_email_log_router, build_inbound_router
from smsbridge.conversations.service import ConversationService
from smsbridge.credits.pricing import load_rates
from smsbridge.dashboard import (
    STATIC_PATH,
    DashboardServices,
    build_dashboard_router,
    dashboard_static,
)
from smsbridge.db import migrate
from smsbridge.db.engine import Database
from smsbridge.db.models import InboundMessage
from smsbridge.mail.authentication import Authenticator
from smsbridge.mail.dns import Resolver
from smsbridge.mail.outbox import Outbox, Signer
from smsbridge.mail.ports import MailTransport
from smsbridge.mail.server import BridgeHandler, MailServer
from smsbridge.mail.transports import MaildirTransport, SmtpRelayTransport
from smsbridge.messages.inbound import InboundService
from smsbridge.messages.pipeline import Pipeline
from smsbridge.messages.service import MessageService
from smsbridge.numbers.routes import build_number_router
from smsbridge.numbers.service import NumberService
from smsbridge.optout.routes import build_optout_router
from smsbridge.optout.service import OptOutService
from smsbridge.optout.suppressions import SuppressionList
from smsbridge.otp.service import OtpService
from smsbridge.secrets_store import reply_token_keys
from smsbridge.settings import Settings
from smsbridge.webhooks.routes import build_webhook_router
from smsbridge.webhooks.service import WebhookService

log = logging.getLogger(__name__)

DnsFunc = Callable[..., bytes | None]


class Gateway:
    """Everything one smsbridge process runs, wired once from one Settings."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        dkim_dns: DnsFunc | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.db = Database(settings.database.url)
        self.rates = load_rates(settings.billing.rates_file)
        self._dkim_dns = dkim_dns
        self.accounts = AccountService(self.db, self.clock)
        self.numbers = NumberService(
            self.db, self.clock, settings.billing.home_region, settings.numbers.quarantine_days
        )
        self.suppressions = SuppressionList()
        self.messages = MessageService(
            self.db, self.clock, settings, self.rates, suppressions=self.suppressions
        )
        self.otp = OtpService(
            self.db,
            self.clock,
            settings.otp,
            self.messages,
            settings.billing.home_region,
            exempt_from_optout=settings.optout.otp_exempt,
        )
        self.optout = OptOutService(
            self.db, self.clock, settings.optout, settings.billing.home_region, self.messages
        )
        # The conversation service needs the database's stored key, so it is built on first
        # use (after migrations); the inbound hook reaches it through this indirection.
        self.webhooks = WebhookService(self.db, self.clock, settings.webhooks)

        def on_inbound(session: Session, message: InboundMessage) -> None:
            # All in the storing transaction: routed and announced, or not stored at all. A
            # keyword (STOP...) changes the list first, so its forwarding email can say so,
            # and is answered once the conversation (which the answer joins) exists.
            keyword = self.optout.on_inbound(session, message)
            self.conversations.on_inbound(
                session, message, keyword=keyword.note() if keyword is not None else None
            )
            if keyword is not None:
                self.optout.answer(session, message, keyword)
            now = self.clock.now()
            self.webhooks.enqueue_inbound(session, message, now)
            if keyword is not None:
                self.webhooks.enqueue_keyword(session, message, keyword.facts(), now)

        self.inbound = InboundService(self.db, self.clock, on_inbound)
        self.handsets = Handsets(self.db)
        self.carrier: Carrier = self._carrier()
        self.pipeline = Pipeline(
            self.db,
            self.clock,
            self.carrier,
            self.inbound,
            settings.pipeline,
            on_status=self._on_status,
            suppressions=self.suppressions,
        )

    def _on_status(self, session: Session, message_ids: Sequence[str], now: datetime) -> int:
        # Both in the status change's transaction: reported and told, or not changed at all.
        queued = self.webhooks.enqueue_status_changes(session, message_ids, now)
        return queued + self.conversations.on_status_changes(session, message_ids, now)

    def _carrier(self) -> Carrier:
        kind = self.settings.carrier.kind
        if kind == "smpp":
            return self._smpp_carrier()
        if kind in ("twilio", "android", "routed"):
            return self._routed_carrier()
        return SimulatedCarrier(self.db, self.clock, self.settings.carrier.simulator)

    def _smpp_carrier(self) -> Carrier:
        from smsbridge.carriers.smpp.carrier import SmppCarrier

        return SmppCarrier(
            self.db, self.clock, self.settings.carrier.smpp, self.settings.billing.home_region
        )

    def _routed_carrier(self) -> Carrier:
        """Every configured carrier behind one route table (kind = "twilio" or "android":
        the Twilio accounts or the Android phones alone)."""
        from smsbridge.carriers.android.carrier import AndroidCarrier
        from smsbridge.carriers.route_table import Route, RouteTable, default_routes
        from smsbridge.carriers.routing import RoutedCarrier
        from smsbridge.carriers.twilio.carrier import TwilioCarrier

        carrier = self.settings.carrier
        region = self.settings.billing.home_region
        members: dict[str, Carrier] = {}
        holders: dict[str, str] = {}
        public = self.settings.http.public_base_url
        twilio = carrier.twilio.accounts if carrier.kind in ("twilio", "routed") else []
        android = carrier.android.phones if carrier.kind in ("android", "routed") else []
        built: list[tuple[str, list[str], Carrier]] = [
            (
                a.name,
                a.numbers,
                TwilioCarrier(
                    a, db=self.db, clock=self.clock, public_base_url=public, home_region=region
                ),
            )
            for a in twilio
        ] + [
            (
                p.name,
                p.numbers,
                AndroidCarrier(
                    p, db=self.db, clock=self.clock, public_base_url=public, home_region=region
                ),
            )
            for p in android
        ]
        for name, numbers, member in built:
            if name in members or name in ("smpp", "simulator"):
                raise ValueError(f"two carriers are named {name!r}")
            members[name] = member
            for number in numbers:
                holder = holders.setdefault(_e164(number, region), name)
                if holder != name:
                    raise ValueError(f"{number} is held by both {holder} and {name}")
        if carrier.kind == "routed":
            named = {r.carrier for r in carrier.routes}
            if carrier.smpp.connectors:
                members["smpp"] = self._smpp_carrier()
            if "simulator" in named or not members:
                members["simulator"] = SimulatedCarrier(self.db, self.clock, carrier.simulator)
        if not members:
            raise ValueError(f"carrier.kind is {carrier.kind} but no carrier is configured")
        routes = (
            tuple(
                Route(r.carrier, tuple(r.destinations), tuple(r.senders), r.priority)
                for r in carrier.routes
            )
            if carrier.kind == "routed" and carrier.routes
            else default_routes(members)
        )
        return RoutedCarrier(
            members, RouteTable(routes, holders), carrier.routing, self.clock, region
        )

    @functools.cached_property
    def conversations(self) -> ConversationService:
        mail = self.settings.mail
        return ConversationService(
            self.db,
            self.clock,
            mail,
            lambda session: reply_token_keys(self.db, self.clock, mail.token_secret, session),
            self.messages,
            self._authenticator(),
            signer=self._signer(),
        )

    @functools.cached_property
    def mail_transport(self) -> MailTransport:
        out = self.settings.mail.out
        if out.transport == "smtp":
            return SmtpRelayTransport(
                host=out.smtp_host,
                port=out.smtp_port,
                security=out.smtp_security,
                username=out.smtp_username or None,
                password=out.smtp_password or None,
                timeout=out.smtp_timeout_seconds,
            )
        return MaildirTransport(out.maildir)

    @functools.cached_property
    def outbox(self) -> Outbox:
        return Outbox(self.db, self.clock, self.mail_transport, self.settings.mail.out)

    def _signer(self) -> Signer | None:
        out = self.settings.mail.out
        if not (out.dkim_selector and out.dkim_key_file):
            return None
        from smsbridge.mail.dkim_keys import DkimSigner

        signer = DkimSigner.from_file(
            self.settings.mail.domain, out.dkim_selector, out.dkim_key_file
        )
        return signer.sign

    def _authenticator(self) -> Authenticator:
        inbound = self.settings.mail.inbound
        return Authenticator(
            Resolver(inbound.dns_servers, timeout_seconds=inbound.dns_timeout_seconds),
            trusted_authserv_ids=inbound.trusted_authserv_ids,
            trusted_arc_sealers=inbound.trusted_arc_sealers,
            trusted_networks=inbound.trusted_networks,
            dkim_dns=self._dkim_dns,
            budget_seconds=inbound.auth_budget_seconds,
        )

    def migrate(self) -> None:
        migrate.upgrade(self.settings.database.url)

    def api(self) -> FastAPI:
        app = FastAPI(
            title="smsbridge",
            version=__version__,
            description=(
                "SMS Works-compatible SMS API with Reply Numbers and an email bridge. Send the "
                "API key in the Authorization header. Every error is JSON in The SMS Works' "
                "error model ({message, errorCode, status, permanent}) plus a stable `code`."
            ),
        )
        install_error_handlers(app)
        api = self.settings.api
        app.add_middleware(
            InputBoundary,
            limits=Limits(
                max_request_bytes=api.max_request_bytes,
                max_json_depth=api.max_json_depth,
                max_metadata_bytes=api.max_metadata_bytes,
                max_metadata_depth=api.max_metadata_depth,
            ),
        )
        account = account_dependency(self.accounts)
        app.include_router(build_router(account, self.messages, self.otp))
        app.include_router(build_optout_router(self.optout, key_dependency(self.accounts)))
        app.include_router(build_number_router(self.numbers, account))
        inbound = self.settings.mail.inbound
        app.include_router(
            build_inbound_router(self.conversations, inbound.http_secret, inbound.max_message_bytes)
        )
        app.include_router(build_email_log_router(self.conversations, account))
        app.include_router(build_webhook_router(self.webhooks, account))
        app.include_router(health_router(self.carrier))
        # Carriers whose networks call back (Twilio's webhooks): /v1/carrier/<name>/...
        carrier_webhooks = self.carrier.webhooks(self.pipeline)
        if carrier_webhooks is not None:
            app.include_router(carrier_webhooks, prefix="/v1/carrier")
        app.include_router(build_dashboard_router(self.dashboard_services()))
        app.mount(STATIC_PATH, dashboard_static(), name="dashboard-static")
        describe_errors_truthfully(app)
        return app

    def dashboard_services(self) -> DashboardServices:
        return DashboardServices(
            db=self.db,
            clock=self.clock,
            settings=self.settings,
            rates=self.rates,
            accounts=self.accounts,
            messages=self.messages,
            numbers=self.numbers,
            webhooks=self.webhooks,
            conversations=self.conversations,
            optout=self.optout,
            carriers=self.carrier.status,
        )

    def mail_server(self) -> MailServer:
        inbound = self.settings.mail.inbound
        handler = BridgeHandler(
            self.conversations, channel=inbound.mode, max_message_bytes=inbound.max_message_bytes
        )
        return MailServer(
            handler,
            host=inbound.smtp_host,
            port=inbound.smtp_port,
            mode=inbound.mode,
            hostname=self.settings.mail.domain,
            max_message_bytes=inbound.max_message_bytes,
        )

    async def run(self, *, http: bool = True, workers: bool = True) -> None:
        """Serve the API, the mail server and the workers in one event loop until stopped."""
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        mail_server: MailServer | None = None
        if workers:
            await self.carrier.start(self.pipeline)
            for index in range(self.settings.pipeline.workers):
                tasks.append(
                    asyncio.create_task(self.pipeline.run_worker(stop), name=f"worker-{index}")
                )
            tasks.append(asyncio.create_task(self.outbox.run(stop), name="email-outbox"))
            tasks.append(asyncio.create_task(self.conversations.run(stop), name="email-replies"))
            tasks.append(asyncio.create_task(self.webhooks.run(stop), name="webhooks"))
        try:
            if http and self.settings.mail.inbound.smtp_enabled:
                mail_server = self.mail_server()
                await mail_server.start()
                log.info(
                    "mail server (%s) on %s:%s",
                    self.settings.mail.inbound.mode,
                    self.settings.mail.inbound.smtp_host,
                    mail_server.port,
                )
            if http:
                config = uvicorn.Config(
                    self.api(),
                    host=self.settings.http.host,
                    port=self.settings.http.port,
                    log_level="info",
                    access_log=False,
                )
                server = _Server(config)
                _on_stop_signal(server.request_exit)
                await server.serve()
            else:
                done = asyncio.Event()
                _on_stop_signal(done.set)
                await done.wait()
        finally:
            stop.set()
            if mail_server is not None:
                await mail_server.stop()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if workers:
                await self.carrier.stop()
                await self.mail_transport.close()
            self.db.dispose()


def _e164(number: str, region: str) -> str:
    from smsbridge.numbers.phone import InvalidNumber, normalise_number

    try:
        return normalise_number(number, region, require_mobile=False).e164
    except InvalidNumber as exc:
        raise ValueError(f"{number!r} is not a phone number: {exc}") from exc


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: after a graceful stop it re-raises SIGTERM,
    which would kill the process before the workers and the mail server shut down."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_exit(self) -> None:
        self.should_exit = True


def _on_stop_signal(callback: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, callback)
