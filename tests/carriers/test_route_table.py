"""The route table and carrier health (pure), and the routed carrier over fake carriers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from smsbridge.carriers.base import (
    CarrierEvents,
    InboundSms,
    Receipt,
    Submission,
    SubmitError,
    SubmitResult,
)
from smsbridge.carriers.route_table import Health, Route, RouteTable, by_health, default_routes
from smsbridge.carriers.routing import RoutedCarrier
from smsbridge.settings import RoutingSettings
from tests.conftest import FakeClock


def test_routes_match_by_prefix_country_and_sender_in_priority_order():
    table = RouteTable(
        (
            Route("smpp", ("+44",), priority=20),
            Route("twilio-us", ("US", "CA"), priority=10),
            Route("twilio-uk", ("GB",), priority=10),
            Route("android", (), ("Acme",), priority=5),
            Route("fallback", priority=99),
        )
    )
    assert table.needs_region
    assert table.carriers_for("+447700900123", "+447700900001", "GB") == [
        "twilio-uk",
        "smpp",
        "fallback",
    ]
    assert table.carriers_for("+12025550123", "+447700900001", "US") == ["twilio-us", "fallback"]
    assert table.carriers_for("+447700900123", "Acme", "GB") == [
        "android",
        "twilio-uk",
        "smpp",
        "fallback",
    ]
    assert RouteTable((Route("only", ("+33",)),)).carriers_for("+4477", "x") == []


def test_a_reply_number_goes_out_only_through_the_carrier_that_holds_it():
    table = RouteTable(default_routes(["a", "b"]), holders={"+447700900001": "b"})
    assert table.carriers_for("+447700900123", "+447700900001") == ["b"]
    assert table.carriers_for("+447700900123", "+447700900002") == ["a", "b"]
    assert table.accepts_inbound("b", "+447700900001")
    assert not table.accepts_inbound("a", "+447700900001")
    assert table.accepts_inbound("a", "+447700900002")


def test_health_marks_a_carrier_down_after_failures_in_a_row_and_up_after_a_success():
    clock = FakeClock()
    health = Health(3, timedelta(seconds=30), timedelta(minutes=5))
    for _ in range(2):
        health.failed(clock.now(), "503")
    assert not health.is_down(clock.now())
    health.failed(clock.now(), "503")
    assert health.is_down(clock.now())
    others = {"a": health, "b": Health(3, timedelta(seconds=30), timedelta(minutes=5))}
    assert by_health(["a", "b"], others, clock.now()) == ["b", "a"]  # still tried, last
    clock.advance(seconds=31)
    assert not health.is_down(clock.now())
    assert health.recent_failures(clock.now()) == 3
    clock.advance(minutes=6)
    assert health.recent_failures(clock.now()) == 0
    health.failed(clock.now(), "503")
    health.succeeded()
    assert health.consecutive_failures == 0 and not health.is_down(clock.now())


class FakeCarrier:
    """Answers every submit with `answer` (a function of the submission)."""

    kind = "fake"

    def __init__(self, name: str, answer: Any) -> None:
        self.name = name
        self.answer = answer
        self.got: list[str] = []
        self.events: CarrierEvents | None = None

    async def start(self, events: CarrierEvents) -> None:
        self.events = events

    async def stop(self) -> None:
        pass

    async def submit(self, batch: Sequence[Submission]) -> list[SubmitResult]:
        self.got += [s.message_id for s in batch]
        return [self.answer(s) for s in batch]

    async def lookup(self, message_ids: Sequence[str]) -> dict[str, str | None] | None:
        return {m: (f"{self.name}-{m}" if m in self.got else None) for m in message_ids}

    def status(self) -> list[dict[str, Any]]:
        return [{"name": self.name, "kind": self.kind, "state": "up"}]

    def webhooks(self, events: CarrierEvents) -> None:
        return None


def ok(s: Submission) -> SubmitResult:
    return SubmitResult(s.message_id, carrier_ref="ref-" + s.message_id)


def temporary(s: Submission) -> SubmitResult:
    return SubmitResult(s.message_id, error=SubmitError(False, 503, "down"))


def permanent(s: Submission) -> SubmitResult:
    return SubmitResult(s.message_id, error=SubmitError(True, 21211, "invalid To"))


def doubt(s: Submission) -> SubmitResult:
    return SubmitResult(s.message_id, in_doubt=True)


def submission(message_id: str, sender: str = "Acme") -> Submission:
    return Submission(message_id, sender, "+447700900123", "hi", "GSM", 1)


def routed(*members: FakeCarrier, holders: dict[str, str] | None = None) -> RoutedCarrier:
    return RoutedCarrier(
        {m.name: m for m in members},
        RouteTable(default_routes([m.name for m in members]), holders or {}),
        RoutingSettings(failures_to_mark_down=2),
        FakeClock(),
        "GB",
    )


def test_a_temporary_error_fails_over_and_each_message_is_sent_once():
    first, second = FakeCarrier("a", temporary), FakeCarrier("b", ok)
    router = routed(first, second)
    results = asyncio.run(router.submit([submission("m1"), submission("m2")]))
    assert [r.carrier_ref for r in results] == ["ref-m1", "ref-m2"]
    assert first.got == ["m1", "m2"] and second.got == ["m1", "m2"]
    # Two failures in a row: "a" is down and is now tried last.
    asyncio.run(router.submit([submission("m3")]))
    assert first.got == ["m1", "m2"] and second.got[-1] == "m3"
    rows = {r["name"]: r for r in router.status()}
    assert rows["a"]["carrier_state"] == "down" and rows["a"]["failovers"] == 2
    assert rows["b"]["carrier_state"] == "up" and rows["b"]["recent_failures"] == 0


def test_no_failover_after_a_permanent_refusal_or_an_answer_in_doubt():
    for answer in (permanent, doubt):
        first, second = FakeCarrier("a", answer), FakeCarrier("b", ok)
        [result] = asyncio.run(routed(first, second).submit([submission("m1")]))
        assert second.got == []
        assert result.in_doubt or (result.error is not None and result.error.permanent)


def test_every_carrier_failing_gives_the_last_temporary_error_back_to_the_pipeline():
    [result] = asyncio.run(
        routed(FakeCarrier("a", temporary), FakeCarrier("b", temporary)).submit([submission("m1")])
    )
    assert result.error is not None and not result.error.permanent


def test_a_held_number_never_fails_over_and_its_inbound_comes_only_from_its_holder():
    holder, other = FakeCarrier("a", temporary), FakeCarrier("b", ok)
    router = routed(holder, other, holders={"+447700900001": "a"})
    [result] = asyncio.run(router.submit([submission("m1", sender="+447700900001")]))
    assert result.error is not None and other.got == []

    stored: list[InboundSms] = []

    class Sink:
        async def on_receipts(self, receipts: Sequence[Receipt]) -> None:
            pass

        async def on_inbound(self, sms: InboundSms) -> None:
            stored.append(sms)

    async def main() -> None:
        await router.start(Sink())
        sms = InboundSms("x1", "+447700900123", "+447700900001", "hi", FakeClock().now())
        assert other.events is not None and holder.events is not None
        await other.events.on_inbound(sms)
        await holder.events.on_inbound(sms)

    asyncio.run(main())
    assert [s.carrier_ref for s in stored] == ["x1"]
    rows = {r["name"]: r for r in router.status()}
    assert rows["b"]["inbound_refused"] == 1 and rows["a"]["holds"] == ["+447700900001"]


def test_lookup_asks_every_carrier():
    first, second = FakeCarrier("a", ok), FakeCarrier("b", ok)
    router = routed(first, second)
    second.got = ["m2"]
    assert asyncio.run(router.lookup(["m1", "m2"])) == {"m1": None, "m2": "b-m2"}


def test_a_sim_at_its_hourly_limit_fails_over_without_counting_as_a_fault():
    def limited(s: Submission) -> SubmitResult:
        return SubmitResult(
            s.message_id,
            error=SubmitError(False, None, "limit", error_class="rate_limit", counts=False),
        )

    phone, backup = FakeCarrier("phone", limited), FakeCarrier("b", ok)
    router = routed(phone, backup)
    [result] = asyncio.run(router.submit([submission("m1")]))
    assert result.carrier_ref == "ref-m1"
    rows = {r["name"]: r for r in router.status()}
    assert rows["phone"]["recent_failures"] == 0 and rows["phone"]["failovers"] == 1


def test_a_message_out_of_time_does_not_fail_over():
    def expired(s: Submission) -> SubmitResult:
        return SubmitResult(
            s.message_id,
            error=SubmitError(False, None, "late", error_class="expired", counts=False),
        )

    first, second = FakeCarrier("a", expired), FakeCarrier("b", ok)
    asyncio.run(routed(first, second).submit([submission("m1")]))
    assert second.got == []
