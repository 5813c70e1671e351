"""The routed carrier: the carrier port over several carriers of any kind, with failover.

Each message goes to the first healthy carrier its routes name (route_table.py); a carrier
that is down or answers with a temporary error hands the message to the next one at once.
Nothing is sent twice: a message moves on only when its carrier surely did not take it (a
refusal, or never reached), never after an answer that was lost (in doubt).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from fastapi import APIRouter

from smsbridge.carriers.base import (
    Carrier,
    CarrierEvents,
    InboundSms,
    Receipt,
    Submission,
    SubmitError,
    SubmitResult,
)
from smsbridge.carriers.route_table import Health, RouteTable, by_health
from smsbridge.clock import Clock
from smsbridge.numbers.phone import region_of
from smsbridge.settings import RoutingSettings

log = logging.getLogger(__name__)

# Errors that say nothing about the carrier's health: the message ran out of time (it ends
# EXPIRED, wherever it would go), or a phone's SIM has had its hour's worth (a limit, not a
# fault; the next route may still take the message).
NOT_A_FAULT = frozenset({"expired", "rate_limit"})
NO_FAILOVER = frozenset({"expired"})


class _MemberEvents:
    """A member carrier's events, with the one check only the router can make: an SMS to a
    Reply Number is accepted only from the carrier that holds the number."""

    def __init__(self, router: RoutedCarrier, name: str, events: CarrierEvents) -> None:
        self._router, self._name, self._events = router, name, events

    async def on_receipts(self, receipts: Sequence[Receipt]) -> None:
        await self._events.on_receipts(receipts)

    async def on_inbound(self, sms: InboundSms) -> None:
        if not self._router.table.accepts_inbound(self._name, sms.recipient):
            self._router.inbound_refused[self._name] += 1
            log.warning(
                "carrier %s: SMS to %s refused: that number is held by %s",
                self._name,
                sms.recipient,
                self._router.table.holders.get(sms.recipient),
            )
            return
        await self._events.on_inbound(sms)


class RoutedCarrier:
    name = "routed"

    def __init__(
        self,
        members: dict[str, Carrier],
        table: RouteTable,
        settings: RoutingSettings,
        clock: Clock,
        home_region: str,
    ) -> None:
        unknown = {r.carrier for r in table.routes} - set(members)
        unknown |= set(table.holders.values()) - set(members)
        if unknown:
            raise ValueError(
                f"carrier.routes name carriers that are not configured: {sorted(unknown)}"
            )
        self.members = members
        self.table = table
        self._clock = clock
        self._home_region = home_region
        self.health = {
            name: Health(
                settings.failures_to_mark_down,
                timedelta(seconds=settings.down_seconds),
                timedelta(seconds=settings.recent_failure_window_seconds),
            )
            for name in members
        }
        self.inbound_refused: Counter[str] = Counter()
        # The pipeline records answers in chunks of this size (SMPP answers one by one).
        self.record_every = min(
            (n for n in (getattr(m, "record_every", 0) for m in members.values()) if n),
            default=0,
        )

    async def start(self, events: CarrierEvents) -> None:
        for name, member in self.members.items():
            await member.start(_MemberEvents(self, name, events))

    async def stop(self) -> None:
        await asyncio.gather(*(m.stop() for m in self.members.values()))

    async def submit(self, batch: Sequence[Submission]) -> list[SubmitResult]:
        now = self._clock.now()
        plans = {s.message_id: by_health(self._carriers_for(s), self.health, now) for s in batch}
        results: dict[str, SubmitResult] = {}
        pending = list(batch)
        attempt = 0
        while pending:
            by_carrier: dict[str, list[Submission]] = {}
            for submission in pending:
                plan = plans[submission.message_id]
                if attempt >= len(plan):
                    continue
                by_carrier.setdefault(plan[attempt], []).append(submission)
            if not by_carrier:
                break
            answers = await asyncio.gather(
                *(self._submit_to(name, chunk) for name, chunk in by_carrier.items())
            )
            retry: list[Submission] = []
            for (name, chunk), answer in zip(by_carrier.items(), answers, strict=True):
                by_id = {r.message_id: r for r in answer}
                for submission in chunk:
                    result = by_id.get(submission.message_id) or SubmitResult(
                        submission.message_id,
                        in_doubt=True,  # a carrier that forgot a message may still have it
                    )
                    results[submission.message_id] = result
                    error = result.error
                    if error is None or result.in_doubt:
                        if not result.in_doubt:
                            self.health[name].succeeded()
                        continue
                    if error.permanent or error.error_class in NO_FAILOVER:
                        continue  # the message itself is refused; elsewhere it would be too
                    if error.error_class not in NOT_A_FAULT:
                        self.health[name].failed(self._clock.now(), error.detail)
                    if attempt + 1 < len(plans[submission.message_id]):
                        self.health[name].failovers += 1
                        log.info(
                            "carrier %s: %s for %s; failing over to %s",
                            name,
                            error.detail,
                            submission.message_id,
                            plans[submission.message_id][attempt + 1],
                        )
                        retry.append(submission)
            pending = retry
            attempt += 1
        for submission in batch:
            if submission.message_id not in results:
                results[submission.message_id] = SubmitResult(
                    submission.message_id,
                    error=SubmitError(
                        True, None, "No carrier route serves this destination and sender."
                    ),
                )
        return [results[s.message_id] for s in batch]

    async def _submit_to(self, name: str, chunk: list[Submission]) -> list[SubmitResult]:
        try:
            return await self.members[name].submit(chunk)
        except Exception:
            # A carrier's bug must not lose the batch; whether it sent anything is unknown.
            log.exception("carrier %s: submit raised", name)
            return [SubmitResult(s.message_id, in_doubt=True) for s in chunk]

    def _carriers_for(self, submission: Submission) -> list[str]:
        needs_region = self.table.needs_region
        region = region_of(submission.destination, self._home_region) if needs_region else ""
        return self.table.carriers_for(submission.destination, submission.sender, region)

    async def lookup(self, message_ids: Sequence[str]) -> dict[str, str | None] | None:
        answers = await asyncio.gather(*(m.lookup(message_ids) for m in self.members.values()))
        found: dict[str, str | None] = dict.fromkeys(message_ids)
        for answer in answers:
            for message_id, ref in (answer or {}).items():
                if ref:
                    found[message_id] = ref
        if any(answer is None for answer in answers) and not all(found.values()):
            # A carrier that cannot tell may hold the ones nobody claims: let them be in doubt
            # rather than resend. (Those found are settled on the next recovery round anyway.)
            return None
        return found

    def status(self) -> list[dict[str, Any]]:
        now = self._clock.now()
        rows: list[dict[str, Any]] = []
        for name, member in self.members.items():
            health = self.health[name]
            route = {
                "carrier": name,
                "carrier_state": "down" if health.is_down(now) else "up",
                "recent_failures": health.recent_failures(now),
                "consecutive_failures": health.consecutive_failures,
                "failovers": health.failovers,
                "last_failure": health.last_failure,
                "last_failure_at": health.last_failure_at.isoformat()
                if health.last_failure_at
                else None,
                "inbound_refused": self.inbound_refused[name],
                "holds": sorted(n for n, c in self.table.holders.items() if c == name),
            }
            for row in member.status():
                rows.append({**row, **route})
        return rows

    def webhooks(self, events: CarrierEvents) -> APIRouter | None:
        routers = [
            r
            for r in (
                m.webhooks(_MemberEvents(self, name, events)) for name, m in self.members.items()
            )
            if r is not None
        ]
        if not routers:
            return None
        combined = APIRouter()
        for router in routers:
            combined.include_router(router)
        return combined
