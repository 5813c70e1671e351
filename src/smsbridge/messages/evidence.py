"""Which receipt belongs to which in-doubt message, from the carrier's own evidence (pure).

A submit whose answer was lost (the connection or the SMSC died first) leaves a message we
hold no carrier id for; if the SMSC had stored it, its receipt arrives later with an id that
matches nothing. The receipt still says which handset it was for, when the SMSC took the
message, and usually the start of its text. When those pick out exactly one in-doubt message,
and that message exactly one such receipt, they belong together; anything less certain is left
to an operator, who is shown the candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

# Receipts write the submit time to the minute (YYMMDDhhmm), and the SMSC's clock is not ours.
SUBMIT_TIME_SLACK: Final = timedelta(minutes=2)
# A receipt is evidence only once it has waited this long unmatched: one that merely beat its
# own submit_sm_resp (it happens) is matched by id within milliseconds.
SETTLE: Final = timedelta(seconds=2)


@dataclass(frozen=True)
class DoubtfulMessage:
    id: str
    destination: str
    content: str
    submitted_at: datetime


@dataclass(frozen=True)
class LooseReceipt:
    carrier_ref: str
    destination: str | None
    submitted_at: datetime | None
    text: str | None
    received_at: datetime


def text_agrees(quoted: str, content: str) -> bool:
    """Whether a receipt's text: field can be the start of `content`.

    SMSCs quote the first 10-20 characters and write what printable ASCII lacks (accents,
    emoji, line breaks) as "?", "." or a space; so such a character of the message matches
    anything. One that drops those characters shifts the rest, and is left to the operator.
    """
    text = quoted.rstrip()
    if not text:
        return False
    if len(text) > len(content):
        text = text[: len(content)]
    for got, want in zip(text, content, strict=False):
        if got == want:
            continue
        if not " " <= want <= "~":
            continue
        return False
    return True


def agrees(message: DoubtfulMessage, receipt: LooseReceipt) -> bool:
    """The receipt could be this message's: same handset, not before the submit, the same
    submit time (if given) and text (if given), and at least one of the two given."""
    if receipt.destination is None or receipt.destination != message.destination:
        return False
    if receipt.received_at < message.submitted_at - timedelta(seconds=1):
        return False
    if receipt.submitted_at is None and not receipt.text:
        return False
    if receipt.submitted_at is not None and not (
        message.submitted_at - SUBMIT_TIME_SLACK
        <= receipt.submitted_at
        <= message.submitted_at + SUBMIT_TIME_SLACK
    ):
        return False
    return not receipt.text or text_agrees(receipt.text, message.content)


def candidates(
    messages: Sequence[DoubtfulMessage], receipts: Sequence[LooseReceipt]
) -> dict[str, list[LooseReceipt]]:
    """Every message's receipts that agree with it (an empty list for none)."""
    return {m.id: [r for r in receipts if agrees(m, r)] for m in messages}


def pairs(
    messages: Sequence[DoubtfulMessage], receipts: Sequence[LooseReceipt], now: datetime
) -> list[tuple[str, str]]:
    """(message id, receipt carrier_ref) for each message and receipt that pick out only each
    other; receipts younger than SETTLE are not used yet."""
    settled = [r for r in receipts if now - r.received_at >= SETTLE]
    by_message = candidates(messages, settled)
    by_receipt: dict[str, list[str]] = {}
    for message_id, found in by_message.items():
        for receipt in found:
            by_receipt.setdefault(receipt.carrier_ref, []).append(message_id)
    return [
        (message_id, found[0].carrier_ref)
        for message_id, found in by_message.items()
        if len(found) == 1 and by_receipt[found[0].carrier_ref] == [message_id]
    ]
