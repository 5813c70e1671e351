"""The carrier port: what the pipeline needs from any SMS network, and what it gets back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from smsbridge.messages.status import Status

if TYPE_CHECKING:
    from fastapi import APIRouter


@dataclass(frozen=True)
class Submission:
    message_id: str
    sender: str
    destination: str
    content: str
    encoding: str
    segments: int
    # Class 0: the handset shows it at once and does not store it (POST /message/flash).
    flash: bool = False
    # When the message's validity runs out: a carrier that can (SMPP validity_period) tells
    # the network, so it stops trying when we would.
    valid_until: datetime | None = None


@dataclass(frozen=True)
class SubmitError:
    """Why a carrier did not take a message. The pipeline decides from this alone whether and
    when to try again, so every carrier states its own error policy here."""

    permanent: bool
    code: int | None
    detail: str
    # Temporary errors: how many retries a message gets in all after errors like this, and the
    # first wait before the next attempt, doubling per failure up to `max_delay_seconds`.
    # Left at None, the pipeline's own defaults apply.
    retries: int | None = None
    delay_seconds: float | None = None
    max_delay_seconds: float | None = None
    # A name for the kind of error ("throttle", "temporary", ...), for logs and failure details.
    error_class: str | None = None
    # False when the carrier never tried (not connected): it uses up no retry, and only the
    # message's validity ends the waiting.
    counts: bool = True


@dataclass(frozen=True)
class SubmitResult:
    message_id: str
    carrier_ref: str | None = None
    error: SubmitError | None = None
    # A long message sent as several parts: the carrier's id of each part, in order
    # (carrier_ref is the first). Receipts arrive per part.
    part_refs: tuple[str, ...] = ()
    # The submit was written but the connection died before the answer: the carrier may or
    # may not have it, so it must be neither resent blindly nor called failed.
    in_doubt: bool = False


@dataclass(frozen=True)
class Receipt:
    carrier_ref: str
    status: Status
    code: int | None = None
    detail: str | None = None
    # Evidence beside the id, for a receipt whose id matches no message (its submit was in
    # doubt): the handset it was for (E.164), when the carrier says the message was submitted,
    # and the start of its text as the carrier quotes it.
    destination: str | None = None
    submitted_at: datetime | None = None
    text: str | None = None


@dataclass(frozen=True)
class InboundSms:
    carrier_ref: str
    sender: str
    recipient: str
    content: str
    received_at: datetime


class CarrierEvents(Protocol):
    """What a carrier calls when the network reports something. Each call returns only once
    the event is committed, so the carrier may then acknowledge it to the network."""

    async def on_receipts(self, receipts: Sequence[Receipt]) -> None: ...

    async def on_inbound(self, sms: InboundSms) -> None: ...


class Carrier(Protocol):
    name: str

    async def start(self, events: CarrierEvents) -> None: ...

    async def stop(self) -> None: ...

    async def submit(self, batch: Sequence[Submission]) -> list[SubmitResult]:
        """Hand messages to the network; one result per submission, in any order."""
        ...

    async def lookup(self, message_ids: Sequence[str]) -> dict[str, str | None] | None:
        """For in-doubt submits: the carrier's id for each message it holds (None if it has
        not got it), or None as a whole when this carrier cannot tell (SMPP cannot)."""
        ...

    def status(self) -> list[dict[str, Any]]:
        """One row per connection or account: at least `name`, `kind` and `state` ("up",
        "down", "bound", ...), for /v1/carrier/connections, /metrics and the operator page."""
        ...

    def webhooks(self, events: CarrierEvents) -> APIRouter | None:
        """The HTTP routes a carrier whose network calls back (status callbacks, inbound SMS)
        needs, reporting to `events`, or None. The composition root mounts them under
        /v1/carrier/ in every process that serves HTTP, workers or not; a carrier names its
        paths after its own name (/v1/carrier/<name>/...)."""
        ...
