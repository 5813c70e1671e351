"""SMPP delivery receipts: the de facto receipt text, the receipt TLVs, and matching their ids."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from smsbridge.carriers.smpp.pdu import DataCoding, DeliverSm, MessageState, NetworkErrorCode, Tlvs
from smsbridge.messages.status import Status

# SMPP 3.4 Appendix B gives the text as "id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm
# done date:YYMMDDhhmm stat:DDDDDDD err:E text: ...", only as an example, so SMSCs vary it:
# any case, "submit_date" or "submitdate", extra or missing spaces, fields left out. A key
# counts only at the start or after whitespace, so "xid:" or "_id:" inside a value is not one.
_KEY: Final = re.compile(
    r"(?<!\S)(?P<key>id|sub|dlvrd|submit[ _]?date|done[ _]?date|stat|err|text)[ \t]*:",
    re.IGNORECASE,
)
_HEX: Final = re.compile(r"[0-9A-Fa-f]+")

# Stat words: the seven-letter ones of Appendix B, plus spellings SMSCs use instead.
_STAT_STATUS: Final[Mapping[str, Status]] = MappingProxyType(
    {
        "DELIVRD": Status.DELIVERED,
        "DELIVERED": Status.DELIVERED,
        "EXPIRED": Status.EXPIRED,
        "DELETED": Status.DELETED,
        "UNDELIV": Status.UNDELIVERABLE,
        "UNDELIVERABLE": Status.UNDELIVERABLE,
        "FAILED": Status.UNDELIVERABLE,
        "REJECTD": Status.REJECTED,
        "REJECTED": Status.REJECTED,
        "UNKNOWN": Status.UNKNOWN,
        # ENROUTE is an intermediate notification. ACCEPTD is final in the spec (read by
        # customer care on the subscriber's behalf) but SMSCs nearly always send it to mean
        # "accepted for delivery", so it waits for a final receipt like ENROUTE; if none comes,
        # validity expiry settles the message.
        "ENROUTE": Status.SENT,
        "ACCEPTD": Status.SENT,
        "ACCEPTED": Status.SENT,
    }
)

_STATE_STATUS: Final[Mapping[int, Status]] = MappingProxyType(
    {
        MessageState.ENROUTE: Status.SENT,
        MessageState.DELIVERED: Status.DELIVERED,
        MessageState.EXPIRED: Status.EXPIRED,
        MessageState.DELETED: Status.DELETED,
        MessageState.UNDELIVERABLE: Status.UNDELIVERABLE,
        MessageState.ACCEPTED: Status.SENT,
        MessageState.UNKNOWN: Status.UNKNOWN,
        MessageState.REJECTED: Status.REJECTED,
    }
)


@dataclass(frozen=True)
class ReceiptText:
    """The fields of a receipt's text as written; None where absent or empty."""

    id: str | None = None
    sub: str | None = None
    dlvrd: str | None = None
    submit_date: str | None = None
    done_date: str | None = None
    stat: str | None = None
    err: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class DeliveryReceipt:
    """One receipt, with the TLVs taking precedence over the text where both say something."""

    message_id: str
    """As the SMSC wrote it; match it with `message_id_keys` / `match_message_id`."""
    status: Status
    state: str | None
    """What the status came from: the stat word, or the message_state name."""
    error: str | None
    """The err field as written."""
    error_code: int | None
    """network_error_code's code if present, else err read as a number."""
    network_error: NetworkErrorCode | None
    submit_date: str | None
    done_date: str | None
    text: str | None


def _key_name(raw: str) -> str:
    key = raw.lower().replace(" ", "").replace("_", "")
    return {"submitdate": "submit_date", "donedate": "done_date"}.get(key, key)


def parse_receipt_text(text: str) -> ReceiptText:
    """Split receipt text into its fields, tolerating case, spacing and missing fields.

    A field's value is the first word between its key and the next key, so stray words an
    SMSC adds do not end up in an id; "text" runs to the end, so key-like words inside the
    message excerpt are not read as fields. The first occurrence of a key wins.
    """
    fields: dict[str, str] = {}
    matches = list(_KEY.finditer(text))
    for index, match in enumerate(matches):
        key = _key_name(match.group("key"))
        if key == "text":
            fields.setdefault(key, text[match.end() :].strip())
            break
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        words = text[match.end() : end].split(maxsplit=1)
        fields.setdefault(key, words[0] if words else "")

    def get(key: str) -> str | None:
        return fields.get(key) or None

    return ReceiptText(
        id=get("id"),
        sub=get("sub"),
        dlvrd=get("dlvrd"),
        submit_date=get("submit_date"),
        done_date=get("done_date"),
        stat=get("stat"),
        err=get("err"),
        text=get("text"),
    )


def status_for_stat(stat: str) -> Status:
    """Our status word for a receipt's stat field (any case); UNKNOWN for one we do not know."""
    return _STAT_STATUS.get(stat.strip().upper(), Status.UNKNOWN)


def status_for_state(state: int) -> Status | None:
    """Our status word for a message_state value; None for one SMPP 3.4 does not define."""
    return _STATE_STATUS.get(state)


def _error_number(err: str) -> int | None:
    # err is "Network or SMSC specific": usually 3 decimal digits, sometimes 0x-prefixed hex.
    if err.isascii() and err.isdigit():
        return int(err)
    if err[:2].lower() == "0x" and _HEX.fullmatch(err[2:]):
        return int(err[2:], 16)
    return None


def _decode_text(message: bytes, data_coding: int) -> str:
    # Receipt text is ASCII in practice; Latin-1 reads any octet, so a stray one is harmless.
    if data_coding == DataCoding.UCS2:
        return message.decode("utf-16-be", errors="replace")
    return message.decode("latin-1")


def parse_receipt(
    message: bytes | str, tlvs: Tlvs | None = None, data_coding: int = 0
) -> DeliveryReceipt | None:
    """A receipt from a deliver_sm's text and TLVs; None if neither names a message id.

    receipted_message_id and message_state, when present, win over the text's id and stat
    (they are typed, where the text format is only an example in the spec). A message_state
    outside 1-8 is ignored in favour of the stat word. With neither, the status is UNKNOWN.
    """
    text = message if isinstance(message, str) else _decode_text(message, data_coding)
    fields = parse_receipt_text(text)
    tlvs = tlvs if tlvs is not None else Tlvs()

    message_id = tlvs.receipted_message_id or fields.id
    if not message_id:
        return None

    status: Status | None = None
    state: str | None = None
    if tlvs.message_state is not None:
        status = status_for_state(tlvs.message_state)
        if status is not None:
            state = MessageState(tlvs.message_state).name
    if status is None and fields.stat is not None:
        status = status_for_stat(fields.stat)
        state = fields.stat
    if status is None:
        status = Status.UNKNOWN

    error_code: int | None = None
    if tlvs.network_error_code is not None:
        error_code = tlvs.network_error_code.error_code
    elif fields.err is not None:
        error_code = _error_number(fields.err)

    return DeliveryReceipt(
        message_id=message_id,
        status=status,
        state=state,
        error=fields.err,
        error_code=error_code,
        network_error=tlvs.network_error_code,
        submit_date=fields.submit_date,
        done_date=fields.done_date,
        text=fields.text,
    )


def receipt_from_deliver_sm(pdu: DeliverSm) -> DeliveryReceipt | None:
    """The receipt a deliver_sm carries; None if its esm_class says it is an inbound SMS
    (so a person texting "id:1 stat:DELIVRD" is not mistaken for one) or it names no id."""
    if not pdu.is_receipt:
        return None
    return parse_receipt(pdu.message, pdu.tlvs, pdu.data_coding)


# -- message ids --------------------------------------------------------------------------------


def _is_hex(value: str) -> bool:
    return _HEX.fullmatch(value) is not None


def normalise_message_id(message_id: str) -> str:
    """One spelling of an SMSC message id, to store as the carrier reference.

    Surrounding space goes. An id of hex digits only (every decimal id is one) is lower-cased
    and loses its leading zeros, since SMSCs pad ids and vary the case of hex; any other id
    (UUIDs, ids with dashes or other letters) is kept as written, case included.
    """
    value = message_id.strip()
    if value and _is_hex(value):
        value = value.lower().lstrip("0") or "0"
    return value


def message_id_keys(message_id: str) -> frozenset[str]:
    """Every normalised spelling under which an SMSC may have written the same id.

    Many SMSCs give the id in hex in submit_sm_resp and in decimal in the receipt, or the other
    way round, and an all-digit id could be either. So the keys are the normalised id, its
    value read as hex and written in decimal, and (if it is all digits) its value read as
    decimal and written in hex. Empty for an empty id.

    How a caller matches: store `normalise_message_id(resp.message_id)` as the message's
    carrier reference. For a receipt, look up the stored references equal to any of
    `message_id_keys(receipt.message_id)`, then let `match_message_id` choose: it prefers the
    exact spelling and refuses an ambiguous pick. Looking the keys up from the receipt side is
    enough, because the relation covers both directions (hex there, decimal here and back).
    """
    canonical = normalise_message_id(message_id)
    if not canonical:
        return frozenset()
    keys = {canonical}
    if _is_hex(canonical):
        keys.add(str(int(canonical, 16)))
        if canonical.isdigit():
            keys.add(format(int(canonical), "x"))
    return frozenset(keys)


def match_message_id(receipt_id: str, stored: Collection[str]) -> str | None:
    """Which of the `stored` normalised references a receipt's id names, or None.

    The exact normalised spelling wins; otherwise exactly one hex/decimal alternative must
    be stored, since two would mean the receipt could belong to either message.
    """
    canonical = normalise_message_id(receipt_id)
    if not canonical:
        return None
    if canonical in stored:
        return canonical
    hits = {key for key in message_id_keys(receipt_id) if key in stored}
    return hits.pop() if len(hits) == 1 else None
