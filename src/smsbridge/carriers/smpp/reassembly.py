"""Reassembly of concatenated inbound SMS from UDH or SAR parts, and decoding of their text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, TypeAlias

from smsbridge.carriers.smpp.pdu import ESM_UDHI, DataCoding, DeliverSm
from smsbridge.segments import decode_gsm7, unpack_septets

# Concatenation information elements (3GPP TS 23.040 sections 9.2.3.24.1 and .8).
IEI_CONCAT_8BIT: Final = 0x00
IEI_CONCAT_16BIT: Final = 0x08
MISSING_PART: Final = "[part {sequence} of {total} missing]"

_GSM7: Final = "gsm7"
_CR: Final = 0x0D

# (source, destination, reference, total): what ties the parts of one message together.
PartKey: TypeAlias = tuple[str, str, int, int]


@dataclass(frozen=True)
class Concatenation:
    reference: int
    total: int
    sequence: int


@dataclass(frozen=True)
class Udh:
    """A user data header: its information elements in order, and its size in octets."""

    elements: tuple[tuple[int, bytes], ...]
    size: int
    """Octets including the UDHL octet itself: what a packed GSM-7 payload's fill bits pad."""

    @property
    def concatenation(self) -> Concatenation | None:
        """The concatenation IE (8- or 16-bit reference), if there is a usable one.

        TS 23.040 tells a receiver to ignore a concatenation IE whose total or sequence is 0 or
        whose sequence exceeds the total, and to use the last of repeated ones.
        """
        found: Concatenation | None = None
        for iei, data in self.elements:
            if iei == IEI_CONCAT_8BIT and len(data) == 3:
                reference, total, sequence = data
            elif iei == IEI_CONCAT_16BIT and len(data) == 4:
                reference = int.from_bytes(data[:2], "big")
                total, sequence = data[2], data[3]
            else:
                continue
            if total >= 1 and 1 <= sequence <= total:
                found = Concatenation(reference, total, sequence)
        return found


def parse_udh(user_data: bytes) -> tuple[Udh, bytes]:
    """Split user data that starts with a UDH (esm_class UDHI set) into the UDH and the rest.

    Raises ValueError if the UDH runs past the data or an element runs past the UDH.
    """
    if not user_data:
        raise ValueError("empty user data cannot hold a UDH")
    udhl = user_data[0]
    if 1 + udhl > len(user_data):
        raise ValueError(f"UDH length {udhl} runs past {len(user_data)} octets of user data")
    header = user_data[1 : 1 + udhl]
    elements: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(header):
        if pos + 2 > len(header):
            raise ValueError("UDH ends inside an information element header")
        iei, length = header[pos], header[pos + 1]
        pos += 2
        if pos + length > len(header):
            raise ValueError(f"information element 0x{iei:02X} runs past the UDH")
        elements.append((iei, header[pos : pos + length]))
        pos += length
    return Udh(tuple(elements), 1 + udhl), user_data[1 + udhl :]


def fill_bits_after(udh_size: int) -> int:
    """Zero bits between a UDH of `udh_size` octets and packed septets (1 for 6 octets)."""
    return (7 - udh_size * 8 % 7) % 7


def text_codec(data_coding: int) -> str | None:
    """How a data_coding's octets become text: "gsm7", a Python codec name, or None (binary).

    SMPP's own values 0-15 first: 0 is the SMSC default alphabet, taken as GSM 03.38 (septets);
    1 IA5/ASCII; 3 Latin-1; 6 Cyrillic; 7 Hebrew; 8 UCS-2, read as UTF-16BE so that surrogate
    pairs from today's handsets decode. Above 15 some SMSCs pass the handset's GSM DCS through,
    so its general (0x10-0x1F), message-waiting (0xC0-0xEF) and class (0xF0-0xFF) groups are
    read too. 2, 4, compressed text and anything else stay binary.
    """
    smpp: dict[int, str] = {
        DataCoding.SMSC_DEFAULT: _GSM7,
        DataCoding.IA5: "ascii",
        DataCoding.LATIN1: "latin-1",
        DataCoding.CYRILLIC: "iso8859_5",
        DataCoding.HEBREW: "iso8859_8",
        DataCoding.UCS2: "utf-16-be",
    }
    if data_coding <= 0x0F:
        return smpp.get(data_coding)
    if 0x10 <= data_coding <= 0x1F:
        # General data coding, uncompressed: bits 3-2 are the alphabet.
        return {0: _GSM7, 2: "utf-16-be"}.get((data_coding >> 2) & 0x03)
    if 0xC0 <= data_coding <= 0xDF:
        return _GSM7
    if 0xE0 <= data_coding <= 0xEF:
        return "utf-16-be"
    if data_coding >= 0xF0:
        return None if data_coding & 0x04 else _GSM7
    return None


@dataclass(frozen=True)
class Part:
    """One received SMS: a whole message (total 1) or one part of a concatenated one.

    Plain values only, so the carrier can persist parts and rebuild them later.
    `payload` is the user data after any UDH: unpacked septets, packed septets (when
    `gsm7_packed`, starting after `fill_bits` zero bits), or octets.
    """

    source: str
    destination: str
    reference: int
    total: int
    sequence: int
    data_coding: int
    payload: bytes
    gsm7_packed: bool = False
    fill_bits: int = 0

    @property
    def key(self) -> PartKey:
        return self.source, self.destination, self.reference, self.total


def part_from_deliver_sm(pdu: DeliverSm, *, gsm7_packed: bool = False) -> Part:
    """The part an inbound deliver_sm carries, from its UDH or else its SAR TLVs.

    A message with neither is a whole message: total 1, sequence 1, reference 0. A UDH that
    does not parse is taken as text rather than dropping the message. `gsm7_packed` says the
    SMSC sends GSM-7 packed (most send it unpacked, one septet per octet).
    """
    user_data = pdu.message
    concatenation: Concatenation | None = None
    udh_size = 0
    if pdu.esm_class & ESM_UDHI and user_data:
        try:
            udh, payload = parse_udh(user_data)
        except ValueError:
            pass
        else:
            concatenation = udh.concatenation
            udh_size = udh.size
            user_data = payload
    tlvs = pdu.tlvs
    if (
        concatenation is None
        and tlvs.sar_msg_ref_num is not None
        and tlvs.sar_total_segments is not None
        and tlvs.sar_segment_seqnum is not None
        and 1 <= tlvs.sar_segment_seqnum <= tlvs.sar_total_segments
    ):
        concatenation = Concatenation(
            tlvs.sar_msg_ref_num, tlvs.sar_total_segments, tlvs.sar_segment_seqnum
        )
    if concatenation is None:
        concatenation = Concatenation(0, 1, 1)
    packed = gsm7_packed and text_codec(pdu.data_coding) == _GSM7
    return Part(
        source=pdu.source_addr,
        destination=pdu.destination_addr,
        reference=concatenation.reference,
        total=concatenation.total,
        sequence=concatenation.sequence,
        data_coding=pdu.data_coding,
        payload=user_data,
        gsm7_packed=packed,
        fill_bits=fill_bits_after(udh_size) if packed and udh_size else 0,
    )


def _septets(part: Part) -> bytes:
    """A packed GSM-7 payload as unpacked septets.

    SMPP counts short_message in octets, not septets, so the count is whatever fits. When the
    septets fill the octets exactly, the last one may instead be 7 spare bits after a message
    one septet shorter: TS 23.038 has senders fill those with CR, and many leave zeros, which
    read as '@'. Either is dropped there as padding; a real '@' or CR ending a message of
    exactly that length is the price, and is much rarer than zero padding (1 length in 8).
    """
    bits = len(part.payload) * 8 - part.fill_bits
    count = max(bits // 7, 0)
    septets = unpack_septets(part.payload, count, part.fill_bits)
    if count and bits % 7 == 0 and septets[-1] in (0, _CR):
        septets = septets[:-1]
    return septets


def _units(part: Part) -> bytes:
    # GSM-7 becomes one septet per octet, so parts join before decoding just as other text does.
    return _septets(part) if part.gsm7_packed else part.payload


def _decode(units: bytes, codec: str | None) -> str:
    if codec is None:
        return units.hex()
    if codec == _GSM7:
        try:
            return decode_gsm7(units)
        except ValueError:
            # Octets above 0x7F are not septets: this SMSC's "default alphabet" is really an
            # 8-bit one, and Latin-1 is the usual such default.
            return units.decode("latin-1")
    # Replace rather than fail: a lone surrogate (a pair cut by a missing part) or a bad octet
    # must not lose the rest of the message.
    return units.decode(codec, errors="replace")


def join_parts(parts: Iterable[Part]) -> str | bytes:
    """The content of a message from its parts, in sequence order whatever order they came.

    Duplicates (same sequence) count once, the first kept. Octets of adjacent parts are joined
    before decoding, so a UTF-16 surrogate pair or a GSM-7 escape split across parts decodes
    as one character. Each part missing (up to the largest total given) appears as
    MISSING_PART, e.g. "[part 2 of 3 missing]". A message of binary parts (data_coding 2, 4,
    ...) comes back as bytes, missing parts left out; binary parts among text ones as hex.
    """
    by_sequence: dict[int, Part] = {}
    for part in parts:
        by_sequence.setdefault(part.sequence, part)
    if not by_sequence:
        return ""
    ordered = [by_sequence[sequence] for sequence in sorted(by_sequence)]
    codecs = {text_codec(part.data_coding) for part in ordered}
    if codecs == {None}:
        return b"".join(part.payload for part in ordered)

    total = max(max(part.total for part in ordered), max(by_sequence))
    pieces: list[str] = []
    run: list[Part] = []

    def flush() -> None:
        if run:
            codec = text_codec(run[0].data_coding)
            pieces.append(_decode(b"".join(_units(part) for part in run), codec))
            run.clear()

    for sequence in range(1, total + 1):
        present = by_sequence.get(sequence)
        if present is None:
            flush()
            pieces.append(MISSING_PART.format(sequence=sequence, total=total))
            continue
        if run and text_codec(run[-1].data_coding) != text_codec(present.data_coding):
            flush()
        run.append(present)
    flush()
    return "".join(pieces)


@dataclass(frozen=True)
class Reassembled:
    """A message put back together: whole, or (from `expired`) with parts missing."""

    source: str
    destination: str
    content: str | bytes
    data_coding: int
    total: int
    missing: tuple[int, ...]
    first_received: datetime

    @property
    def complete(self) -> bool:
        return not self.missing


def reassemble(parts: Sequence[Part], first_received: datetime) -> Reassembled:
    """A Reassembled from the parts of one message (same key), complete or not."""
    if not parts:
        raise ValueError("no parts to reassemble")
    first = min(parts, key=lambda part: part.sequence)
    present = {part.sequence for part in parts}
    total = max(part.total for part in parts)
    return Reassembled(
        source=first.source,
        destination=first.destination,
        content=join_parts(parts),
        data_coding=first.data_coding,
        total=total,
        missing=tuple(seq for seq in range(1, total + 1) if seq not in present),
        first_received=first_received,
    )


@dataclass
class _Pending:
    first_received: datetime
    parts: dict[int, Part]


@dataclass
class _Completed:
    at: datetime
    payloads: dict[int, bytes]


class Reassembler:
    """Collects parts in memory until each message is whole (the carrier persists its own).

    Call `expired` now and then: it hands over messages that waited too long for a part, and
    forgets completed ones, which are remembered for one timeout so that a part the SMSC sends
    again (because our deliver_sm_resp was lost) does not start a phantom message.
    """

    def __init__(self) -> None:
        self._pending: dict[PartKey, _Pending] = {}
        self._completed: dict[PartKey, _Completed] = {}

    def __len__(self) -> int:
        """Messages still waiting for parts."""
        return len(self._pending)

    def add(self, part: Part, now: datetime) -> Reassembled | None:
        """Take one part; return the message if this part completed it, else None.

        A part repeating a sequence already held, or one of a message just completed, is
        ignored. A part of total 1 is a whole message and comes straight back.
        """
        if part.total == 1:
            return reassemble([part], now)
        key = part.key
        completed = self._completed.get(key)
        if completed is not None and completed.payloads.get(part.sequence) == part.payload:
            return None
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(now, {})
        if part.sequence in pending.parts:
            return None
        pending.parts[part.sequence] = part
        if len(pending.parts) < part.total:
            return None
        del self._pending[key]
        self._completed[key] = _Completed(
            now, {sequence: held.payload for sequence, held in pending.parts.items()}
        )
        return reassemble(list(pending.parts.values()), pending.first_received)

    def expired(self, now: datetime, timeout: timedelta) -> list[Reassembled]:
        """Messages whose first part arrived `timeout` or more ago, with what did arrive.

        They are dropped from the reassembler: a straggler arriving later starts afresh.
        """
        stale = [key for key, held in self._pending.items() if now - held.first_received >= timeout]
        partial: list[Reassembled] = []
        for key in stale:
            held = self._pending.pop(key)
            partial.append(reassemble(list(held.parts.values()), held.first_received))
        for key in [key for key, done in self._completed.items() if now - done.at >= timeout]:
            del self._completed[key]
        return partial
