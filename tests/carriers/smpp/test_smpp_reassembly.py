"""Reassembly of concatenated inbound SMS: UDH and SAR parts, encodings, duplicates, timeouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smsbridge.carriers.smpp.pdu import DeliverSm, SubmitSm, Tlvs, submit_parts
from smsbridge.carriers.smpp.reassembly import (
    Concatenation,
    Part,
    Reassembler,
    fill_bits_after,
    join_parts,
    parse_udh,
    part_from_deliver_sm,
    text_codec,
)
from smsbridge.segments import encode_gsm7, pack_septets, plan

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
SENDER = "447700900123"
US = "447700900001"
GRINNING = "\U0001f600"


def udh8(reference: int, total: int, sequence: int) -> bytes:
    return bytes((0x05, 0x00, 0x03, reference, total, sequence))


def udh16(reference: int, total: int, sequence: int) -> bytes:
    return bytes((0x06, 0x08, 0x04, reference >> 8, reference & 0xFF, total, sequence))


def deliver(
    short_message: bytes, *, data_coding: int = 0, udhi: bool = True, tlvs: Tlvs | None = None
) -> DeliverSm:
    return DeliverSm(
        source_addr=SENDER,
        destination_addr=US,
        esm_class=0x40 if udhi else 0,
        data_coding=data_coding,
        short_message=short_message,
        tlvs=tlvs if tlvs is not None else Tlvs(),
    )


def part(
    sequence: int, payload: bytes, *, total: int = 3, reference: int = 7, data_coding: int = 0
) -> Part:
    return Part(SENDER, US, reference, total, sequence, data_coding, payload)


# -- UDH ----------------------------------------------------------------------------------------


def test_parse_udh_8bit_reference() -> None:
    udh, rest = parse_udh(udh8(0x2A, 3, 2) + b"abc")
    assert udh.elements == ((0x00, b"\x2a\x03\x02"),)
    assert udh.size == 6
    assert udh.concatenation == Concatenation(0x2A, 3, 2)
    assert rest == b"abc"


def test_parse_udh_16bit_reference_among_other_elements() -> None:
    # An application port IE (0x05) before the concatenation IE.
    data = bytes((0x0C, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01))
    udh, rest = parse_udh(data + b"xyz")
    assert udh.elements[0] == (0x05, b"\x0b\x84\x23\xf0")
    assert udh.concatenation == Concatenation(0x1234, 2, 1)
    assert udh.size == 13
    assert rest == b"xyz"


@pytest.mark.parametrize(
    "data",
    [b"", b"\x05\x00\x03\x01", b"\x03\x00\x03\x01", b"\x01\x00"],
)
def test_parse_udh_rejects_truncation(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_udh(data)


@pytest.mark.parametrize("sequence_total", [(0, 3), (4, 3), (1, 0)])
def test_concatenation_with_impossible_numbers_is_ignored(sequence_total: tuple[int, int]) -> None:
    sequence, total = sequence_total
    udh, _ = parse_udh(udh8(1, total, sequence))
    assert udh.concatenation is None


def test_fill_bits() -> None:
    assert fill_bits_after(6) == 1  # 8-bit reference UDH
    assert fill_bits_after(7) == 0  # 16-bit reference UDH: 56 bits, a septet boundary
    assert fill_bits_after(5) == 2


# -- parts from deliver_sm ----------------------------------------------------------------------


def test_part_from_udh() -> None:
    got = part_from_deliver_sm(deliver(udh16(0xBEEF, 4, 3) + b"hi"))
    assert (got.reference, got.total, got.sequence) == (0xBEEF, 4, 3)
    assert got.payload == b"hi"
    assert got.key == (SENDER, US, 0xBEEF, 4)


def test_part_from_sar_tlvs() -> None:
    tlvs = Tlvs(sar_msg_ref_num=513, sar_total_segments=2, sar_segment_seqnum=2)
    got = part_from_deliver_sm(deliver(b"world", udhi=False, tlvs=tlvs))
    assert (got.reference, got.total, got.sequence, got.payload) == (513, 2, 2, b"world")


def test_single_message_and_unparsable_udh() -> None:
    single = part_from_deliver_sm(deliver(b"hello", udhi=False))
    assert (single.reference, single.total, single.sequence) == (0, 1, 1)
    broken = part_from_deliver_sm(deliver(b"\x09oops"))  # UDHI set, UDH runs past the data
    assert (broken.total, broken.payload) == (1, b"\x09oops")


def test_message_payload_is_read_when_short_message_is_empty() -> None:
    got = part_from_deliver_sm(deliver(b"", udhi=False, tlvs=Tlvs(message_payload=b"long")))
    assert got.payload == b"long"


# -- the reassembler ----------------------------------------------------------------------------


def test_parts_out_of_order_with_duplicates() -> None:
    reassembler = Reassembler()
    assert reassembler.add(part(3, b"three"), T0) is None
    assert reassembler.add(part(1, b"one "), T0 + timedelta(seconds=1)) is None
    assert reassembler.add(part(3, b"three"), T0 + timedelta(seconds=2)) is None  # duplicate
    assert len(reassembler) == 1
    done = reassembler.add(part(2, b"two "), T0 + timedelta(seconds=3))
    assert done is not None
    assert done.content == "one two three"
    assert done.complete
    assert done.first_received == T0
    assert (done.source, done.destination, done.total) == (SENDER, US, 3)
    assert len(reassembler) == 0


def test_a_part_resent_after_completion_is_ignored() -> None:
    reassembler = Reassembler()
    reassembler.add(part(1, b"a", total=2), T0)
    assert reassembler.add(part(2, b"b", total=2), T0) is not None
    # The SMSC resends part 2 because our deliver_sm_resp was lost: no phantom message.
    assert reassembler.add(part(2, b"b", total=2), T0 + timedelta(seconds=5)) is None
    assert len(reassembler) == 0
    assert reassembler.expired(T0 + timedelta(hours=1), timedelta(minutes=5)) == []
    # Once forgotten, the same key starts a new message (references wrap around).
    assert reassembler.add(part(2, b"b", total=2), T0 + timedelta(hours=2)) is None
    assert len(reassembler) == 1


def test_messages_are_kept_apart_by_sender_destination_reference_and_total() -> None:
    reassembler = Reassembler()
    reassembler.add(part(1, b"x", reference=1, total=2), T0)
    reassembler.add(part(1, b"y", reference=2, total=2), T0)
    reassembler.add(Part("447700900999", US, 1, 2, 1, 0, b"z"), T0)
    reassembler.add(part(1, b"w", reference=1, total=3), T0)
    assert len(reassembler) == 4
    done = reassembler.add(part(2, b"X", reference=1, total=2), T0)
    assert done is not None
    assert done.content == "xX"


def test_16bit_references_through_deliver_sm() -> None:
    reassembler = Reassembler()
    first = part_from_deliver_sm(deliver(udh16(0x1234, 2, 1) + encode_gsm7("Hello ")))
    second = part_from_deliver_sm(deliver(udh16(0x1234, 2, 2) + encode_gsm7("world \u20ac")))
    assert reassembler.add(second, T0) is None
    done = reassembler.add(first, T0)
    assert done is not None
    assert done.content == "Hello world \u20ac"


def test_sar_parts_through_deliver_sm() -> None:
    reassembler = Reassembler()
    pdus = [
        deliver(
            text.encode("latin-1"),
            udhi=False,
            data_coding=3,
            tlvs=Tlvs(sar_msg_ref_num=0xABCD, sar_total_segments=2, sar_segment_seqnum=seq),
        )
        for seq, text in ((1, "caf\u00e9 "), (2, "cr\u00e8me"))
    ]
    assert reassembler.add(part_from_deliver_sm(pdus[1]), T0) is None
    done = reassembler.add(part_from_deliver_sm(pdus[0]), T0)
    assert done is not None
    assert done.content == "caf\u00e9 cr\u00e8me"


def test_ucs2_surrogate_pair_split_across_parts() -> None:
    octets = ("ab" + GRINNING + "cd").encode("utf-16-be")
    cut = 6  # after "ab" and the high surrogate
    assert octets[4:6] == b"\xd8\x3d"
    reassembler = Reassembler()
    reassembler.add(part(2, octets[cut:], total=2, data_coding=8), T0)
    done = reassembler.add(part(1, octets[:cut], total=2, data_coding=8), T0)
    assert done is not None
    assert done.content == "ab" + GRINNING + "cd"


def test_gsm7_escape_split_across_parts() -> None:
    septets = encode_gsm7("price: 5\u20ac")
    cut = len(septets) - 1  # between ESC and the euro sign's value
    joined = join_parts([part(1, septets[:cut], total=2), part(2, septets[cut:], total=2)])
    assert joined == "price: 5\u20ac"


def test_timeout_with_a_missing_middle_part() -> None:
    reassembler = Reassembler()
    reassembler.add(part(1, b"Hello "), T0)
    reassembler.add(part(3, b" bye"), T0 + timedelta(minutes=4))
    assert reassembler.expired(T0 + timedelta(minutes=4, seconds=59), timedelta(minutes=5)) == []
    (partial,) = reassembler.expired(T0 + timedelta(minutes=5), timedelta(minutes=5))
    assert partial.content == "Hello [part 2 of 3 missing] bye"
    assert partial.missing == (2,)
    assert not partial.complete
    assert partial.first_received == T0
    assert len(reassembler) == 0
    # The straggler starts afresh rather than completing a message already handed over.
    assert reassembler.add(part(2, b"middle"), T0 + timedelta(minutes=6)) is None


def test_timeout_ucs2_with_a_surrogate_pair_cut_by_a_missing_part() -> None:
    octets = ("a" + GRINNING + "b").encode("utf-16-be")
    parts = [part(1, octets[:4], total=3, data_coding=8), part(3, b"\x00c", data_coding=8)]
    assert join_parts(parts) == "a\ufffd[part 2 of 3 missing]c"


def test_single_part_message_comes_straight_back() -> None:
    reassembler = Reassembler()
    done = reassembler.add(part_from_deliver_sm(deliver(b"hi", udhi=False)), T0)
    assert done is not None
    assert (done.content, done.total, done.missing) == ("hi", 1, ())
    assert len(reassembler) == 0


# -- decoding -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data_coding", "payload", "content"),
    [
        (0, encode_gsm7("\u00a3100 @ home"), "\u00a3100 @ home"),
        (1, b"plain ascii", "plain ascii"),
        (3, "na\u00efve".encode("latin-1"), "na\u00efve"),
        (6, "\u043f\u0440\u0438".encode("iso8859_5"), "\u043f\u0440\u0438"),
        (8, ("hi " + GRINNING).encode("utf-16-be"), "hi " + GRINNING),
        (0x11, encode_gsm7("class 1"), "class 1"),  # GSM DCS passed through
        (0x18, "x".encode("utf-16-be"), "x"),
        (0xF1, encode_gsm7("flash"), "flash"),
        (0, "Gr\u00fc\u00dfe".encode("latin-1"), "Gr\u00fc\u00dfe"),  # not septets: Latin-1
    ],
)
def test_text_encodings(data_coding: int, payload: bytes, content: str) -> None:
    assert join_parts([part(1, payload, total=1, data_coding=data_coding)]) == content


@pytest.mark.parametrize("data_coding", [2, 4, 0xF5, 0x25])
def test_binary_stays_bytes(data_coding: int) -> None:
    assert text_codec(data_coding) is None
    parts = [
        part(2, b"\xca\xfe", total=2, data_coding=data_coding),
        part(1, b"\x00\xff", total=2, data_coding=data_coding),
    ]
    assert join_parts(parts) == b"\x00\xff\xca\xfe"


def test_join_parts_without_the_class() -> None:
    # As the carrier will call it with parts rebuilt from its database.
    stored = [part(3, b"c"), part(1, b"a"), part(1, b"a")]
    assert join_parts(stored) == "a[part 2 of 3 missing]c"
    assert join_parts([]) == ""


def test_packed_gsm7_parts() -> None:
    text = "Packed parts arrive too, now and then! " * 6
    pdus = submit_parts(
        text,
        source=SENDER,
        destination=US,
        registered_delivery=False,
        reference=9,
        gsm7_packed=True,
    )
    reassembler = Reassembler()
    results = [
        reassembler.add(part_from_deliver_sm(as_deliver(pdu), gsm7_packed=True), T0)
        for pdu in reversed(pdus)
    ]
    assert results[-1] is not None
    assert results[-1].content == text


def test_packed_gsm7_trailing_padding() -> None:
    # 7 septets leave 7 spare bits: zero padding ('@') and CR padding are both dropped.
    for packed in (pack_septets(encode_gsm7("abcdefg")), pack_septets(encode_gsm7("abcdefg\r"))):
        got = Part(SENDER, US, 0, 1, 1, 0, packed, gsm7_packed=True)
        assert join_parts([got]) == "abcdefg"
    # 8 septets fill 7 octets exactly and are all kept.
    eight = Part(SENDER, US, 0, 1, 1, 0, pack_septets(encode_gsm7("abcdefgh")), gsm7_packed=True)
    assert join_parts([eight]) == "abcdefgh"


def as_deliver(submit: SubmitSm) -> DeliverSm:
    """What the SMSC would deliver to the recipient for one of our submits."""
    return DeliverSm(
        source_addr=submit.source_addr,
        destination_addr=submit.destination_addr,
        esm_class=submit.esm_class,
        data_coding=submit.data_coding,
        short_message=submit.short_message,
    )


@pytest.mark.parametrize(
    "text",
    [
        "short",
        "long GSM-7 text with {braces} and \u20ac " * 12,
        "\u0422\u0435\u043a\u0441\u0442 " * 40 + GRINNING * 30,
        "\U0001f468\u200d\U0001f469\u200d\U0001f467" * 20,
    ],
)
def test_our_own_submits_reassemble_to_the_planned_text(text: str) -> None:
    pdus = submit_parts(text, source=SENDER, destination=US, registered_delivery=False, reference=3)
    reassembler = Reassembler()
    done = None
    for pdu in pdus[1:] + pdus[:1]:
        done = reassembler.add(part_from_deliver_sm(as_deliver(pdu)), T0)
    assert done is not None
    assert done.content == "".join(plan(text).parts)
