"""The status words of the SMS Works API and the pipeline states behind them."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    ACCEPTED = "ACCEPTED"
    SCHEDULED = "SCHEDULED"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    EXPIRED = "EXPIRED"
    UNDELIVERABLE = "UNDELIVERABLE"
    REJECTED = "REJECTED"
    DELETED = "DELETED"
    UNKNOWN = "UNKNOWN"


class State(StrEnum):
    """Where the pipeline holds a message; only workers move a row between these."""

    QUEUED = "queued"  # waiting for ready_at (now, or its schedule)
    SUBMITTING = "submitting"  # claimed by a worker, handed (or about to be) to the carrier
    SUBMITTED = "submitted"  # the carrier took it; waiting for a receipt
    IN_DOUBT = "in_doubt"  # a submit was in flight when a worker died and the carrier can't say
    FINAL = "final"


# Statuses after which nothing more will happen, and those that give the credits back.
FINAL_STATUSES = frozenset(
    {Status.DELIVERED, Status.EXPIRED, Status.UNDELIVERABLE, Status.REJECTED, Status.DELETED}
)
REFUNDED_STATUSES = frozenset({Status.EXPIRED, Status.UNDELIVERABLE, Status.REJECTED})
FAILED_STATUSES = REFUNDED_STATUSES
