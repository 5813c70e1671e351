"""The SMPP carrier: the carrier port over any number of SMSC connections."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import IntegrityError

from smsbridge.carriers.base import (
    CarrierEvents,
    InboundSms,
    Receipt,
    Submission,
    SubmitError,
    SubmitResult,
)
from smsbridge.carriers.smpp import pdu as p
from smsbridge.carriers.smpp.addresses import inbound_number
from smsbridge.carriers.smpp.connector import Connector, canonical_id
from smsbridge.carriers.smpp.reassembly import Part, join_parts, parse_udh, part_from_deliver_sm
from smsbridge.carriers.smpp.receipts import DeliveryReceipt, receipt_from_deliver_sm
from smsbridge.clock import Clock
from smsbridge.db.engine import Database
from smsbridge.db.models import InboundPart, SmppInboundSeen, SmppParked
from smsbridge.messages.status import Status
from smsbridge.numbers.phone import region_of
from smsbridge.settings import SmppConnectorSettings, SmppSettings

log = logging.getLogger(__name__)

# Receipts are committed in small batches (one transaction for many deliver_sm), each
# deliver_sm answered only after its batch commits.
RECEIPT_BATCH = 500
RECEIPT_LINGER_SECONDS = 0.005


class SmppCarrier:
    name = "smpp"
    # The pipeline records carrier ids every this many submits, not once per claimed batch.
    record_every = 50

    def __init__(
        self, db: Database, clock: Clock, settings: SmppSettings, home_region: str
    ) -> None:
        if not settings.connectors:
            raise ValueError("carrier.kind is smpp but no [[carrier.smpp.connectors]] is set")
        self._db = db
        self._clock = clock
        self._settings = settings
        self._home_region = home_region
        self._events: CarrierEvents | None = None
        self.connectors = [
            Connector(
                c,
                self._deliver_handler(c),
                clock=clock,
                home_region=home_region,
                on_malformed=self._park_handler(c.name),
            )
            for c in settings.connectors
        ]
        # Parsing a number costs more than the rest of a submit: only do it when some
        # connector routes by country rather than by prefix.
        self._routes_by_country = any(
            not d.startswith("+") for c in settings.connectors for d in c.destinations
        )
        self._receipts: asyncio.Queue[tuple[Receipt, asyncio.Future[None]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, events: CarrierEvents) -> None:
        self._events = events
        self._tasks = [
            asyncio.create_task(self._commit_receipts(), name="smpp-receipts"),
            asyncio.create_task(self._expire_parts(), name="smpp-parts"),
        ]
        for connector in self.connectors:
            connector.start()

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.connectors))
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- out -------------------------------------------------------------------------------

    async def submit(self, batch: Sequence[Submission]) -> list[SubmitResult]:
        return list(await asyncio.gather(*(self._submit_one(s) for s in batch)))

    async def _submit_one(self, submission: Submission) -> SubmitResult:
        region = self._region(submission.destination) if self._routes_by_country else ""
        for connector in self.connectors:
            if connector.serves(submission, region):
                return await connector.submit(submission)
        return SubmitResult(
            submission.message_id,
            error=SubmitError(True, None, "No SMPP connector serves this destination/sender."),
        )

    def _region(self, destination: str) -> str:
        return region_of(destination, self._home_region)

    async def lookup(self, message_ids: Sequence[str]) -> dict[str, str | None] | None:
        # An SMSC can only be asked about ids it gave us; a submit lost in flight has none.
        return None

    def status(self) -> list[dict[str, Any]]:
        return [{"kind": "smpp", **c.snapshot()} for c in self.connectors]

    def webhooks(self, events: CarrierEvents) -> None:
        return None  # everything comes back on the SMPP sessions

    # -- in --------------------------------------------------------------------------------

    def _deliver_handler(self, settings: SmppConnectorSettings) -> Any:
        name = settings.name

        async def handle(message: p.DeliverSm, raw: bytes) -> int:
            connector = next(c for c in self.connectors if c.name == name)
            if message.is_receipt:
                receipt = receipt_from_deliver_sm(message)
                if receipt is None:
                    # A receipt we cannot tie to anything. Parked, not taken for a customer's
                    # SMS (that would email the receipt's text to someone).
                    await self._park(name, "receipt with no message id", raw)
                    return p.CommandStatus.ESME_ROK
                connector.metrics.receipts += 1
                if receipt.status == Status.UNKNOWN:
                    log.warning(
                        "SMPP %s: receipt with a state we do not know (%s): %s",
                        name,
                        receipt.state,
                        raw.hex(),
                    )
                await self._queue_receipt(self._receipt(settings, message, receipt))
                return p.CommandStatus.ESME_ROK
            connector.metrics.inbound += 1
            if message.esm_class & p.ESM_UDHI:
                try:
                    parse_udh(message.message)
                except ValueError as exc:
                    log.warning(
                        "SMPP %s: inbound SMS with a broken UDH (%s), kept as text: %s",
                        name,
                        exc,
                        raw.hex(),
                    )
            await self._inbound(
                name, message, part_from_deliver_sm(message, gsm7_packed=settings.gsm7_packed)
            )
            return p.CommandStatus.ESME_ROK

        return handle

    def _receipt(
        self, settings: SmppConnectorSettings, message: p.DeliverSm, receipt: DeliveryReceipt
    ) -> Receipt:
        # A receipt travels from the handset: its source_addr is our submit's destination.
        return Receipt(
            carrier_ref=canonical_id(receipt.message_id, settings.receipt_id_base),
            status=receipt.status,
            code=receipt.error_code,
            detail=receipt.error,
            destination=self._number(
                message.source_addr, message.source_addr_ton, message.source_addr_npi
            ),
            submitted_at=receipt_time(receipt.submit_date, settings.receipt_date_offset_minutes),
            text=receipt.text,
        )

    def _number(self, addr: str, ton: int, npi: int) -> str:
        return inbound_number(addr, ton, npi, self._home_region)

    def _park_handler(self, name: str) -> Any:
        async def park(reason: str, raw: bytes) -> None:
            await self._park(name, reason, raw)

        return park

    async def _park(self, connector: str, reason: str, raw: bytes) -> None:
        """Keep an unusable PDU for the operator (committed before the SMSC gets its answer)."""
        log.warning("SMPP %s: parked a PDU (%s): %s", connector, reason, raw.hex())

        def store() -> None:
            with self._db.write() as session:
                session.add(
                    SmppParked(
                        connector=connector,
                        reason=reason[:500],
                        raw=raw,
                        received_at=self._clock.now(),
                    )
                )

        await asyncio.to_thread(store)

    async def _queue_receipt(self, receipt: Receipt) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._receipts.put((receipt, done))
        await done  # answered only once committed

    async def _commit_receipts(self) -> None:
        while True:
            batch = [await self._receipts.get()]
            await asyncio.sleep(RECEIPT_LINGER_SECONDS)
            while not self._receipts.empty() and len(batch) < RECEIPT_BATCH:
                batch.append(self._receipts.get_nowait())
            try:
                assert self._events is not None
                await self._events.on_receipts([r for r, _ in batch])
            except Exception as exc:
                log.exception("SMPP: receipts could not be stored")
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _inbound(self, connector: str, message: p.DeliverSm, part: Part) -> None:
        assert self._events is not None
        # One handset, one conversation, whether the SMSC writes its number nationally or
        # internationally; our Reply Number likewise.
        sender = self._number(message.source_addr, message.source_addr_ton, message.source_addr_npi)
        recipient = self._number(
            message.destination_addr, message.dest_addr_ton, message.dest_addr_npi
        )
        if part.total <= 1:
            content = join_parts([part])
            carrier_ref = await asyncio.to_thread(
                self._single_part_ref, connector, sender, recipient, part
            )
            await self._events.on_inbound(
                InboundSms(
                    carrier_ref=carrier_ref,
                    sender=sender,
                    recipient=recipient,
                    content=content if isinstance(content, str) else content.hex(),
                    received_at=self._clock.now(),
                )
            )
            return
        group = f"{connector}|{sender}|{recipient}|{part.reference}|{part.total}"
        complete = await asyncio.to_thread(self._store_part, group, part, sender, recipient)
        if complete is not None:
            await self._deliver_group(group, complete)

    def _single_part_ref(self, connector: str, sender: str, recipient: str, part: Part) -> str:
        """The carrier id of a single-part SMS: the id of the same SMS received moments ago, if
        any, so a deliver_sm the SMSC resends (it missed our deliver_sm_resp) is stored once.

        SMPP gives an inbound SMS no id of its own, so "the same" is its fingerprint: connector,
        sender, number, data_coding and octets, within `inbound_duplicate_window_seconds`. An
        identical text sent again after the window is a new SMS.
        """
        fingerprint = hashlib.sha256(
            "|".join(
                (connector, sender, recipient, str(part.data_coding), part.payload.hex())
            ).encode()
        ).hexdigest()
        now = self._clock.now()
        window = timedelta(seconds=self._settings.inbound_duplicate_window_seconds)
        with self._db.write() as session:
            seen = session.get(SmppInboundSeen, fingerprint, with_for_update=True)
            if seen is not None and now - seen.seen_at <= window:
                log.info("SMPP %s: the same SMS from %s again; stored once", connector, sender)
                seen.seen_at = now
                return seen.carrier_ref
            carrier_ref = f"smpp-{uuid.uuid4().hex}"
            if seen is None:
                try:
                    with session.begin_nested():
                        session.add(
                            SmppInboundSeen(
                                fingerprint=fingerprint, carrier_ref=carrier_ref, seen_at=now
                            )
                        )
                except IntegrityError:
                    # The same SMS on another connection at the same moment: one id for both.
                    other = session.get(SmppInboundSeen, fingerprint, populate_existing=True)
                    if other is not None:
                        return other.carrier_ref
            else:
                seen.carrier_ref, seen.seen_at = carrier_ref, now
            return carrier_ref

    def _store_part(
        self, group: str, part: Part, sender: str, recipient: str
    ) -> list[InboundPart] | None:
        """Commit a part (before its deliver_sm_resp); return every part once all are in."""
        with self._db.write() as session:
            if not self._db.is_sqlite:
                # Two parts arriving together would each miss the other's uncommitted row and
                # neither would complete the message; one lock per message serialises them.
                # (SQLite's write lock already does.)
                session.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:group))"), {"group": group}
                )
            try:
                with session.begin_nested():
                    session.execute(
                        insert(InboundPart).values(
                            group_key=group,
                            part_number=part.sequence,
                            total=part.total,
                            sender=sender,
                            recipient=recipient,
                            data_coding=part.data_coding,
                            fill_bits=part.fill_bits,
                            payload=part.payload,
                            carrier_ref=f"{group}|{part.sequence}",
                            received_at=self._clock.now(),
                        )
                    )
            except IntegrityError:
                pass  # the SMSC sent this part again; we have it
            parts = list(session.scalars(select(InboundPart).where(InboundPart.group_key == group)))
            return parts if len(parts) >= part.total else None

    async def _deliver_group(self, group: str, rows: list[InboundPart]) -> None:
        assert self._events is not None
        parts = [_part(r, self._packed(group)) for r in rows]
        content = join_parts(parts)
        first = min(rows, key=lambda r: r.received_at)
        # The group key is the carrier ref: delivering the same group twice (a crash between
        # the two steps below) stores it once.
        stable = uuid.uuid5(uuid.NAMESPACE_URL, f"{group}|{first.received_at.isoformat()}")
        await self._events.on_inbound(
            InboundSms(
                carrier_ref=f"smpp-{stable.hex}",
                sender=first.sender,
                recipient=first.recipient,
                content=content if isinstance(content, str) else content.hex(),
                received_at=first.received_at,
            )
        )
        await asyncio.to_thread(self._forget_group, group)

    def _packed(self, group: str) -> bool:
        name = group.split("|", 1)[0]
        return any(c.name == name and c.settings.gsm7_packed for c in self.connectors)

    def _forget_group(self, group: str) -> None:
        with self._db.write() as session:
            session.execute(delete(InboundPart).where(InboundPart.group_key == group))

    async def _expire_parts(self) -> None:
        """Deliver long SMS whose missing parts never came, marked, rather than lose them."""
        while True:
            await asyncio.sleep(min(self._settings.inbound_part_timeout_seconds / 4, 30))
            try:
                for group, rows in await asyncio.to_thread(self._expired_groups):
                    await self._deliver_group(group, rows)
                await asyncio.to_thread(self._forget_seen)
            except Exception:
                log.exception("SMPP: expiring incomplete inbound SMS failed")

    def _forget_seen(self) -> None:
        cutoff = self._clock.now() - timedelta(
            seconds=self._settings.inbound_duplicate_window_seconds
        )
        with self._db.write() as session:
            session.execute(delete(SmppInboundSeen).where(SmppInboundSeen.seen_at < cutoff))

    def _expired_groups(self) -> list[tuple[str, list[InboundPart]]]:
        cutoff = self._clock.now() - timedelta(seconds=self._settings.inbound_part_timeout_seconds)
        with self._db.read() as session:
            groups = set(
                session.scalars(
                    select(InboundPart.group_key).where(InboundPart.received_at < cutoff)
                )
            )
            return [
                (
                    g,
                    list(session.scalars(select(InboundPart).where(InboundPart.group_key == g))),
                )
                for g in groups
            ]


def _part(row: InboundPart, packed: bool) -> Part:
    _connector, source, destination, reference, _total = row.group_key.split("|")
    return Part(
        source=source,
        destination=destination,
        reference=int(reference),
        total=row.total,
        sequence=row.part_number,
        data_coding=row.data_coding,
        payload=row.payload,
        gsm7_packed=packed,
        fill_bits=row.fill_bits,
    )


def receipt_time(value: str | None, offset_minutes: int = 0) -> datetime | None:
    """A receipt's "submit date" (YYMMDDhhmm, sometimes with seconds) as UTC, given the SMSC
    writes its local time at UTC + `offset_minutes`; None when absent or unreadable."""
    if not value or not value.isdigit() or len(value) not in (10, 12):
        return None
    try:
        when = datetime.strptime(value, "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M")
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) - timedelta(minutes=offset_minutes)
