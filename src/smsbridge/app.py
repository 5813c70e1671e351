"""The composition root: settings in, database, adapters, services and servers out."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import uvicorn
from fastapi import FastAPI

from smsbridge import __version__
from smsbridge.accounts.service import AccountService
from smsbridge.api.errors import install_error_handlers
from smsbridge.api.routes import build_router, health_router
from smsbridge.carriers.base import Carrier
from smsbridge.carriers.simulator import Handsets, SimulatedCarrier
from smsbridge.clock import Clock, SystemClock
from smsbridge.credits.pricing import load_rates
from smsbridge.db import migrate
from smsbridge.db.engine import Database
from smsbridge.messages.inbound import InboundService
from smsbridge.messages.pipeline import Pipeline
from smsbridge.messages.service import MessageService
from smsbridge.numbers.service import NumberService
from smsbridge.settings import Settings

log = logging.getLogger(__name__)


class Gateway:
    """Everything one smsbridge process runs, wired once from one Settings."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.db = Database(settings.database.url)
        self.rates = load_rates(settings.billing.rates_file)
        self.accounts = AccountService(self.db, self.clock)
        self.numbers = NumberService(self.db, self.clock, settings.billing.home_region)
        self.messages = MessageService(self.db, self.clock, settings, self.rates)
        self.inbound = InboundService(self.db, self.clock)
        self.handsets = Handsets(self.db)
        self.carrier: Carrier = SimulatedCarrier(self.db, self.clock, settings.carrier.simulator)
        self.pipeline = Pipeline(self.db, self.clock, self.carrier, self.inbound, settings.pipeline)

    def migrate(self) -> None:
        migrate.upgrade(self.settings.database.url)

    def api(self) -> FastAPI:
        app = FastAPI(
            title="smsbridge",
            version=__version__,
            description=(
                "SMS Works-compatible SMS API. Send the API key in the Authorization header. "
                "Every error is JSON: {code, message}."
            ),
        )
        install_error_handlers(app)
        app.include_router(build_router(self.accounts, self.messages))
        app.include_router(health_router())
        return app

    async def run(self, *, http: bool = True, workers: bool = True) -> None:
        """Serve the API and run the pipeline in one event loop until stopped."""
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        if workers:
            await self.carrier.start(self.pipeline)
            for index in range(self.settings.pipeline.workers):
                tasks.append(
                    asyncio.create_task(self.pipeline.run_worker(stop), name=f"worker-{index}")
                )
        try:
            if http:
                config = uvicorn.Config(
                    self.api(),
                    host=self.settings.http.host,
                    port=self.settings.http.port,
                    log_level="info",
                    access_log=False,
                )
                await uvicorn.Server(config).serve()
            else:
                await _wait_for_signal()
        finally:
            stop.set()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if workers:
                await self.carrier.stop()
            self.db.dispose()


async def _wait_for_signal() -> None:
    import signal

    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    await done.wait()
