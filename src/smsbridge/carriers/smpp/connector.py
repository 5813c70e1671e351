"""One configured SMSC connection: binds, reconnects, windowing, throttling and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from smsbridge.carriers.base import Submission, SubmitError, SubmitResult
from smsbridge.carriers.smpp import pdu as p
from smsbridge.carriers.smpp.addresses import AddressError, outbound_address
from smsbridge.carriers.smpp.errors import (
    REBIND_STATUSES,
    ErrorTable,
    Override,
    parse_code,
    status_name,
)
from smsbridge.carriers.smpp.session import (
    BindMode,
    DeliverHandler,
    ParkHandler,
    Reply,
    SessionClosed,
    SmppSession,
)
from smsbridge.clock import Clock, SystemClock
from smsbridge.settings import SmppConnectorSettings

log = logging.getLogger(__name__)

# A throttled connection waits this long at first, doubling to the maximum while it lasts.
THROTTLE_PAUSE = (0.2, 5.0)
# A part throttled for longer than this goes back to the pipeline's slower backoff, so one
# message never holds a worker's round forever.
THROTTLE_GIVE_UP_SECONDS = 300.0
# How long a submit waits for a bound session before giving the message back.
BIND_WAIT_SECONDS = 10.0


def canonical_id(raw: str, base: str) -> str:
    """One spelling per SMSC id: SMSCs write an id in hex in submit_sm_resp and in decimal in
    the receipt (or zero-padded); both sides are converted to plain decimal when configured."""
    text = raw.strip()
    try:
        if base == "hex":
            return str(int(text, 16))
        if base == "decimal":
            return str(int(text, 10))
    except ValueError:
        pass
    return text.lower()


@dataclass
class Metrics:
    state: str = "disconnected"
    binds: list[str] = field(default_factory=list)
    submitted: int = 0
    receipts: int = 0
    inbound: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    last_error: str = ""
    connects: int = 0
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    def submits_per_second(self, window: float = 10.0) -> float:
        cutoff = time.monotonic() - window
        return sum(1 for t in self.recent if t >= cutoff) / window


class _NotSent(Exception):
    """The part never left us: safe to try again (here, or later through the pipeline)."""


def error_table(settings: SmppConnectorSettings) -> ErrorTable:
    """The default error table with this connector's `errors` overrides."""
    return ErrorTable(
        {
            parse_code(key): Override(
                error_class=value.error_class,
                retries=value.retries,
                delay_seconds=value.delay_seconds,
                max_delay_seconds=value.max_delay_seconds,
            )
            for key, value in settings.errors.items()
        }
    )


class Connector:
    def __init__(
        self,
        settings: SmppConnectorSettings,
        on_deliver: DeliverHandler,
        *,
        clock: Clock | None = None,
        home_region: str = "GB",
        on_malformed: ParkHandler | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self._on_deliver = on_deliver
        self._on_malformed = on_malformed
        self._clock: Clock = clock or SystemClock()
        self._home_region = home_region
        self.errors = error_table(settings)
        self._window = asyncio.Semaphore(settings.window_size)
        self._bound = asyncio.Event()
        self._stopping = asyncio.Event()
        self._sessions: list[SmppSession] = []
        self._transmitter: SmppSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._next_slot = 0.0
        self._pause = 0.0
        self._reference = 0
        self._in_flight = 0
        self._rebinding: asyncio.Future[None] | None = None
        self.metrics = Metrics()

    # -- which messages it serves ------------------------------------------------------------

    def serves(self, submission: Submission, region: str) -> bool:
        destinations = self.settings.destinations
        if destinations and not any(
            submission.destination.startswith(d) if d.startswith("+") else d.upper() == region
            for d in destinations
        ):
            return False
        return not self.settings.senders or submission.sender in self.settings.senders

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"smpp-{self.name}")

    async def stop(self) -> None:
        """Stop taking submits, let the window drain, then unbind cleanly."""
        self._stopping.set()
        self._bound.clear()
        deadline = time.monotonic() + self.settings.response_timeout_seconds
        while self.window_in_use and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for session in list(self._sessions):
            await session.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def window_in_use(self) -> int:
        return self._in_flight

    async def _run(self) -> None:
        delay = self.settings.reconnect_min_seconds
        while not self._stopping.is_set():
            try:
                await self._connect()
                delay = self.settings.reconnect_min_seconds
                self.metrics.state = "bound"
                await asyncio.wait(
                    [asyncio.ensure_future(s.closed.wait()) for s in self._sessions],
                    return_when=asyncio.FIRST_COMPLETED,
                )
                reasons = {s.close_reason for s in self._sessions if s.closed.is_set()}
                self._note_error("connection", "; ".join(sorted(reasons)))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._note_error("connect", str(exc) or type(exc).__name__)
            self._bound.clear()
            for session in self._sessions:
                await session.abort("reconnecting")
            self._sessions, self._transmitter = [], None
            self.metrics.binds = []
            if self._stopping.is_set():
                break
            self.metrics.state = "reconnecting"
            log.warning("SMPP %s: reconnecting in %.1fs", self.name, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, self.settings.reconnect_max_seconds)
        self.metrics.state = "stopped"

    async def _connect(self) -> None:
        self.metrics.state = "connecting"
        modes: list[BindMode] = (
            ["transceiver"]
            if self.settings.bind_mode == "transceiver"
            else ["transmitter", "receiver"]
        )
        for mode in modes:
            session = SmppSession(
                host=self.settings.host,
                port=self.settings.port,
                mode=mode,
                system_id=self.settings.system_id,
                password=self.settings.password,
                system_type=self.settings.system_type,
                tls=self.settings.tls,
                tls_verify=self.settings.tls_verify,
                response_timeout=self.settings.response_timeout_seconds,
                enquire_link_seconds=self.settings.enquire_link_seconds,
                on_deliver=self._on_deliver if mode != "transmitter" else None,
                on_malformed=self._on_malformed if mode != "transmitter" else None,
                name=self.name,
            )
            self._sessions.append(session)
            await session.open()
            if mode != "receiver":
                self._transmitter = session
        self.metrics.connects += 1
        self.metrics.binds = modes[:]  # type: ignore[assignment]
        self._bound.set()
        log.info("SMPP %s: bound (%s)", self.name, ", ".join(modes))

    def _note_error(self, kind: str, detail: str) -> None:
        self.metrics.errors[kind] += 1
        self.metrics.last_error = f"{kind}: {detail}"[:500]

    # -- submitting ------------------------------------------------------------------------

    def submit_sms(self, submission: Submission, now: datetime) -> list[p.SubmitSm]:
        """The submit_sm PDUs of a message on this connection: addresses, data_coding, validity.
        Raises ValueError (AddressError, PduError) for a message it cannot carry."""
        settings = self.settings
        source = outbound_address(
            submission.sender,
            home_region=self._home_region,
            number_format=settings.number_format,
            ton_npi=settings.ton_npi,
            force_ton=settings.source_ton,
            force_npi=settings.source_npi,
        )
        destination = outbound_address(
            submission.destination,
            home_region=self._home_region,
            number_format=settings.number_format,
            ton_npi=settings.ton_npi,
            force_ton=settings.dest_ton,
            force_npi=settings.dest_npi,
        )
        if destination.kind == "alphanumeric":
            raise AddressError(f"the destination {submission.destination!r} is not a number")
        self._reference = (self._reference % 255) + 1
        return p.submit_parts(
            submission.content,
            source=source.addr,
            destination=destination.addr,
            registered_delivery=True,
            reference=self._reference,
            source_ton=source.ton,
            source_npi=source.npi,
            dest_ton=destination.ton,
            dest_npi=destination.npi,
            gsm7_packed=settings.gsm7_packed,
            validity_period=p.validity_period(
                submission.valid_until, now, settings.validity_format
            ),
            gsm7_data_coding=settings.gsm7_data_coding,
            flash=submission.flash,
            flash_alt_dcs=settings.flash_alt_dcs,
        )

    async def submit(self, submission: Submission) -> SubmitResult:
        now = self._clock.now()
        if submission.valid_until is not None and submission.valid_until <= now:
            # Never hand the SMSC a message that is already out of time.
            return SubmitResult(
                submission.message_id,
                error=SubmitError(
                    False,
                    None,
                    "validity ran out before the submit",
                    retries=None,
                    error_class="expired",
                    counts=False,
                ),
            )
        try:
            parts = self.submit_sms(submission, now)
        except (ValueError, p.PduError) as exc:
            return SubmitResult(
                submission.message_id,
                error=SubmitError(True, None, str(exc), retries=0, error_class="permanent"),
            )
        refs: list[str] = []
        for part in parts:
            outcome = await self._submit_part(part, submission.valid_until)
            if isinstance(outcome, str):
                refs.append(outcome)
                continue
            if refs or outcome is None:
                # Some parts went (or this one may have): resending would duplicate them.
                return SubmitResult(submission.message_id, in_doubt=True)
            return SubmitResult(submission.message_id, error=outcome)
        return SubmitResult(
            submission.message_id,
            carrier_ref=refs[0],
            part_refs=tuple(refs) if len(refs) > 1 else (),
        )

    async def _submit_part(
        self, part: p.SubmitSm, valid_until: datetime | None
    ) -> str | SubmitError | None:
        """The SMSC's id for the part; a SubmitError; or None when it is in doubt."""
        throttle_pause = THROTTLE_PAUSE[0]
        throttled_since: float | None = None
        while True:
            try:
                reply = await self._send(part)
            except _NotSent as exc:
                # It never left us: no retry is used up; validity ends the wait.
                return SubmitError(
                    False,
                    None,
                    f"not sent: {exc}",
                    retries=None,
                    error_class="not_sent",
                    counts=False,
                )
            except (SessionClosed, TimeoutError) as exc:
                self._note_error("in_doubt", str(exc))
                return None
            header = reply.header
            status = header.command_status
            if status == p.CommandStatus.ESME_ROK:
                response = reply.pdu
                if isinstance(response, p.SubmitSmResp) and response.message_id.strip():
                    self.metrics.submitted += 1
                    self.metrics.recent.append(time.monotonic())
                    return canonical_id(response.message_id, self.settings.submit_id_base)
                # Accepted, but with no id we can read: the SMSC has the message, and only its
                # receipt (matched on destination, time and text) can say which it is.
                log.warning(
                    "SMPP %s: %s accepted a submit without a usable message_id: %s",
                    self.name,
                    header.name,
                    reply.raw.hex(),
                )
                self._note_error("unreadable_response", header.name)
                return None
            detail = status_name(status)
            if header.command_id == p.CommandId.GENERIC_NACK:
                detail += " (generic_nack)"
            if not self.errors.is_known(status):
                log.warning(
                    "SMPP %s: unknown command_status %s, taken as temporary: %s",
                    self.name,
                    detail,
                    reply.raw.hex(),
                )
            self._note_error(f"{status:#x}", detail)
            error = self.errors.submit_error(status, detail)
            if status in REBIND_STATUSES:
                self._rebind(f"the SMSC answered {detail}")
                return error
            if error.error_class == "throttle":
                # The whole connection slows down, not just this message.
                self._pause = max(self._pause, throttle_pause)
                throttle_pause = min(throttle_pause * 2, THROTTLE_PAUSE[1])
                throttled_since = throttled_since or time.monotonic()
                given_up = time.monotonic() - throttled_since > THROTTLE_GIVE_UP_SECONDS
                now = self._clock.now()
                out_of_time = valid_until is not None and valid_until <= now
                if self._stopping.is_set() or given_up or out_of_time:
                    return error
                # Sent again later: its relative validity must count from then.
                part = replace(
                    part,
                    validity_period=p.validity_period(
                        valid_until, now, self.settings.validity_format
                    ),
                )
                continue
            return error

    def _rebind(self, reason: str) -> None:
        """Stop submitting on this session and reconnect once its window has drained: cutting
        it at once would put the submits still awaiting answers in doubt."""
        session = self._transmitter
        if session is None or self._rebinding is not None:
            return
        self._bound.clear()

        async def drain_then_abort() -> None:
            deadline = time.monotonic() + self.settings.response_timeout_seconds
            while self.window_in_use and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            await session.abort(f"{reason}: rebinding")

        def done(_task: asyncio.Task[None]) -> None:
            self._rebinding = None

        self._rebinding = asyncio.ensure_future(drain_then_abort())
        self._rebinding.add_done_callback(done)

    async def _send(self, part: p.SubmitSm) -> Reply:
        if self._stopping.is_set():
            raise _NotSent("the connector is stopping")
        try:
            await asyncio.wait_for(self._bound.wait(), BIND_WAIT_SECONDS)
        except TimeoutError as exc:
            raise _NotSent(f"{self.name} is not bound ({self.metrics.last_error})") from exc
        async with self._window:
            await self._pace()
            session = self._transmitter
            if session is None or session.closed.is_set():
                raise _NotSent("the session closed before the submit was written")
            self._in_flight += 1
            try:
                return await session.request(part)
            except SessionClosed as exc:
                if not exc.written:
                    raise _NotSent(str(exc)) from exc
                raise
            finally:
                self._in_flight -= 1

    async def _pace(self) -> None:
        """Throughput limit and throttle pauses, shared by every submit on this connection."""
        loop = asyncio.get_running_loop()
        if self._pause:
            pause, self._pause = self._pause, 0.0
            self._next_slot = max(self._next_slot, loop.time() + pause)
        rate = self.settings.throughput_per_second
        now = loop.time()
        slot = max(now, self._next_slot)
        self._next_slot = slot + (1.0 / rate if rate > 0 else 0.0)
        if slot > now:
            await asyncio.sleep(slot - now)

    def snapshot(self) -> dict[str, Any]:
        m = self.metrics
        return {
            "name": self.name,
            "host": f"{self.settings.host}:{self.settings.port}",
            "state": m.state,
            "binds": list(m.binds),
            "submits_per_second": round(m.submits_per_second(), 2),
            "submitted": m.submitted,
            "receipts": m.receipts,
            "inbound": m.inbound,
            "window_in_use": self.window_in_use,
            "window_size": self.settings.window_size,
            "connects": m.connects,
            "errors": dict(m.errors),
            "last_error": m.last_error,
        }
