"""Which carrier a message goes to, in what order, and which carriers are healthy (pure).

Routes match a destination (E.164 prefix or country) and a sender; the lower priority goes
first and the next matching route is the failover. A Reply Number lives on one carrier: its
SMS go out only there (from anywhere else the customer would see another sender, and answer
where we do not listen), and SMS to it are accepted only from there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Route:
    carrier: str
    destinations: tuple[str, ...] = ()
    senders: tuple[str, ...] = ()
    priority: int = 100

    def serves(self, destination: str, region: str, sender: str) -> bool:
        if self.destinations and not any(
            destination.startswith(d) if d.startswith("+") else d.upper() == region
            for d in self.destinations
        ):
            return False
        return not self.senders or sender in self.senders


@dataclass(frozen=True)
class RouteTable:
    routes: tuple[Route, ...]
    # Reply Number (E.164) -> the carrier that holds it.
    holders: Mapping[str, str] = field(default_factory=dict)

    @property
    def needs_region(self) -> bool:
        """Whether any route names a country (then each destination's country is looked up)."""
        return any(not d.startswith("+") for r in self.routes for d in r.destinations)

    def carriers_for(self, destination: str, sender: str, region: str = "") -> list[str]:
        """The carriers to try, in order; empty when none may carry the message."""
        holder = self.holders.get(sender)
        if holder is not None:
            return [holder]
        ordered = sorted(
            enumerate(self.routes), key=lambda indexed: (indexed[1].priority, indexed[0])
        )
        chosen: list[str] = []
        for _index, route in ordered:
            if route.carrier not in chosen and route.serves(destination, region, sender):
                chosen.append(route.carrier)
        return chosen

    def accepts_inbound(self, carrier: str, recipient: str) -> bool:
        holder = self.holders.get(recipient)
        return holder is None or holder == carrier


def default_routes(carriers: Iterable[str]) -> tuple[Route, ...]:
    """With no routes configured: every carrier for everything, in the order given."""
    return tuple(Route(name, priority=index) for index, name in enumerate(carriers))


@dataclass
class Health:
    """A carrier's recent record: taken as down after `failures_to_mark_down` temporary
    failures in a row, for `down_for`; a success brings it straight back."""

    failures_to_mark_down: int
    down_for: timedelta
    window: timedelta
    consecutive_failures: int = 0
    down_until: datetime | None = None
    last_failure: str | None = None
    last_failure_at: datetime | None = None
    failures: deque[datetime] = field(default_factory=deque)
    submitted: int = 0
    failovers: int = 0

    def succeeded(self) -> None:
        self.submitted += 1
        self.consecutive_failures = 0
        self.down_until = None

    def failed(self, now: datetime, detail: str) -> None:
        self.consecutive_failures += 1
        self.last_failure, self.last_failure_at = detail[:300], now
        self.failures.append(now)
        self._forget(now)
        if self.consecutive_failures >= self.failures_to_mark_down:
            self.down_until = now + self.down_for

    def is_down(self, now: datetime) -> bool:
        return self.down_until is not None and now < self.down_until

    def recent_failures(self, now: datetime) -> int:
        self._forget(now)
        return len(self.failures)

    def _forget(self, now: datetime) -> None:
        while self.failures and now - self.failures[0] > self.window:
            self.failures.popleft()


def by_health(carriers: Sequence[str], health: Mapping[str, Health], now: datetime) -> list[str]:
    """The same carriers, those up first (in route order), then those taken as down: a down
    carrier is still tried when nothing else can take the message."""
    up = [c for c in carriers if not health[c].is_down(now)]
    return up + [c for c in carriers if c not in up]
