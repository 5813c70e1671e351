"""SMPP 3.4 PDU encoding and decoding, status classes, stream framing and submit_sm splitting."""

from __future__ import annotations

import pytest

from smsbridge.carriers.smpp.pdu import (
    DEFAULT_MAX_COMMAND_LENGTH,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CommandId,
    CommandStatus,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Header,
    MalformedPdu,
    NetworkErrorCode,
    Pdu,
    PduError,
    PduReader,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    Tlv,
    Tlvs,
    Unbind,
    UnbindResp,
    UnknownPdu,
    command_name,
    decode,
    decode_header,
    encode,
    next_sequence,
    source_ton_npi,
    submit_parts,
)
from smsbridge.segments import Encoding, decode_gsm7, plan, unpack_septets


def hexbytes(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


# -- known byte vectors -------------------------------------------------------------------------

# The submit_sm example dump that circulates with SMPP 3.4 (60 octets, "Hello wikipedia").
SUBMIT_SM_EXAMPLE = hexbytes(
    """
    00 00 00 3C 00 00 00 04 00 00 00 00 00 00 00 05 00 02 08 35 35 35 00 01 01
    35 35 35 35 35 35 35 35 35 00 00 00 00 00 00 00 00 00 00 0F 48 65 6C 6C 6F
    20 77 69 6B 69 70 65 64 69 61
    """
)


def test_enquire_link_matches_the_spec_header_layout() -> None:
    wire = hexbytes("00000010 00000015 00000000 00000001")
    assert encode(EnquireLink(), 1) == wire
    assert decode(wire) == (Header(16, CommandId.ENQUIRE_LINK, 0, 1), EnquireLink())
    resp = hexbytes("00000010 80000015 00000000 00000001")
    assert encode(EnquireLinkResp(), 1) == resp
    assert decode(resp)[1] == EnquireLinkResp()


def test_header_only_pdus() -> None:
    assert encode(Unbind(), 2) == hexbytes("00000010 00000006 00000000 00000002")
    assert encode(UnbindResp(), 2) == hexbytes("00000010 80000006 00000000 00000002")
    nack = hexbytes("00000010 80000000 00000003 00000009")
    assert encode(GenericNack(), 9, CommandStatus.ESME_RINVCMDID) == nack
    header, pdu = decode(nack)
    assert pdu == GenericNack()
    assert header.command_status == CommandStatus.ESME_RINVCMDID
    assert header.is_response
    assert header.name == "generic_nack"


def test_submit_sm_example_decodes_field_by_field_and_reencodes() -> None:
    header, pdu = decode(SUBMIT_SM_EXAMPLE)
    assert header == Header(60, CommandId.SUBMIT_SM, 0, 5)
    assert pdu == SubmitSm(
        source_addr_ton=2,
        source_addr_npi=8,
        source_addr="555",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="555555555",
        short_message=b"Hello wikipedia",
    )
    assert encode(pdu, 5) == SUBMIT_SM_EXAMPLE


def test_bind_transmitter_layout() -> None:
    # Section 4.1.1 field by field, written out by hand.
    wire = hexbytes(
        """
        0000002E 00000002 00000000 0000000A
        534D50503354455354 00
        73656372657430 00
        5355424D495431 00
        34 01 01
        00
        """
    )
    pdu = BindTransmitter(
        system_id="SMPP3TEST",
        password="secret0",
        system_type="SUBMIT1",
        addr_ton=1,
        addr_npi=1,
    )
    assert encode(pdu, 10) == wire
    assert decode(wire) == (Header(0x2E, CommandId.BIND_TRANSMITTER, 0, 10), pdu)


def test_bind_resp_carries_sc_interface_version_tlv() -> None:
    wire = hexbytes("0000001A 80000009 00000000 00000001 534D534300 0210 0001 34")
    pdu = BindTransceiverResp(system_id="SMSC", tlvs=Tlvs(sc_interface_version=0x34))
    assert encode(pdu, 1) == wire
    assert decode(wire)[1] == pdu


def test_failed_responses_are_sent_without_body_and_decode_to_defaults() -> None:
    wire = encode(SubmitSmResp(message_id="abc"), 4, CommandStatus.ESME_RTHROTTLED)
    assert wire == hexbytes("00000010 80000004 00000058 00000004")
    header, pdu = decode(wire)
    assert header.command_status == CommandStatus.ESME_RTHROTTLED
    assert pdu == SubmitSmResp()
    bind = encode(BindTransmitterResp(system_id="SMSC"), 1, CommandStatus.ESME_RINVPASWD)
    assert len(bind) == 16
    assert decode(bind)[1] == BindTransmitterResp()
    # Some peers send a 16-octet deliver_sm_resp even on success.
    assert decode(hexbytes("00000010 80000005 00000000 00000007"))[1] == DeliverSmResp()


def test_submit_sm_resp_message_id() -> None:
    wire = hexbytes("00000017 80000004 00000000 00000002 31413242334300")
    assert encode(SubmitSmResp(message_id="1A2B3C"), 2) == wire
    assert decode(wire)[1] == SubmitSmResp(message_id="1A2B3C")


def test_deliver_sm_receipt_tlvs_layout() -> None:
    pdu = DeliverSm(
        source_addr="447700900123",
        destination_addr="Acme",
        esm_class=0x04,
        tlvs=Tlvs(
            receipted_message_id="1a2b",
            network_error_code=NetworkErrorCode(3, 1),
            message_state=2,
        ),
    )
    wire = encode(pdu, 3)
    tlv_octets = hexbytes("001E 0005 3161326200  0423 0003 03 0001  0427 0001 02")
    assert wire.endswith(b"\x00" + tlv_octets)  # sm_length 0, then the TLVs
    header, decoded = decode(wire)
    assert header.command_length == len(wire)
    assert decoded == pdu
    assert isinstance(decoded, DeliverSm)
    assert decoded.is_receipt


EVERY_PDU: list[Pdu] = [
    BindTransmitter(system_id="esme", password="pw"),
    BindReceiver(system_id="esme", password="pw", system_type="VMA", address_range="^44"),
    BindTransceiver(system_id="e" * 15, password="p" * 8, system_type="t" * 12),
    BindTransmitterResp(system_id="smsc"),
    BindReceiverResp(system_id="smsc", tlvs=Tlvs(sc_interface_version=0x34)),
    BindTransceiverResp(system_id=""),
    Unbind(),
    UnbindResp(),
    EnquireLink(),
    EnquireLinkResp(),
    GenericNack(),
    SubmitSm(
        service_type="CMT",
        source_addr_ton=5,
        source_addr="Acme",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="447700900123",
        esm_class=0x40,
        protocol_id=0,
        priority_flag=1,
        schedule_delivery_time="240101120000000+",
        validity_period="000001000000000R",
        registered_delivery=1,
        data_coding=8,
        short_message=b"\x05\x00\x03\x01\x02\x01\x04\x4f",
        tlvs=Tlvs(
            user_message_reference=513,
            sar_msg_ref_num=0xBEEF,
            sar_total_segments=2,
            sar_segment_seqnum=1,
            other=(Tlv(0x1403, b"\xaa\xbb"),),
        ),
    ),
    SubmitSm(destination_addr="1", tlvs=Tlvs(message_payload=b"x" * 1000)),
    SubmitSmResp(message_id="m" * 64),
    DeliverSm(source_addr="447700900123", destination_addr="447700900001", short_message=b"hi"),
    DeliverSmResp(),
    QuerySm(message_id="1a2b", source_addr_ton=1, source_addr_npi=1, source_addr="447700900001"),
    QuerySmResp(message_id="1a2b", final_date="240101120000000+", message_state=2, error_code=0),
    QuerySmResp(message_id="1a2b", message_state=1),
    UnknownPdu(0x00000103, b"\x00\x01"),
]


@pytest.mark.parametrize("pdu", EVERY_PDU, ids=lambda pdu: type(pdu).__name__)
def test_every_pdu_round_trips(pdu: Pdu) -> None:
    wire = encode(pdu, 0x7FFFFFFF)
    header, decoded = decode(wire)
    assert decoded == pdu
    assert header.sequence_number == 0x7FFFFFFF
    assert header.command_length == len(wire)
    assert encode(decoded, 0x7FFFFFFF) == wire


def test_unknown_tlvs_are_kept_in_order_and_reencoded() -> None:
    base = encode(DeliverSm(source_addr="1", destination_addr="2", short_message=b"x"), 1)
    extra = hexbytes("1403 0002 AABB  0005 0001 01  1500 0000")
    wire = (len(base) + len(extra)).to_bytes(4, "big") + base[4:] + extra
    pdu = decode(wire)[1]
    assert isinstance(pdu, DeliverSm)
    assert pdu.tlvs.other == (Tlv(0x1403, b"\xaa\xbb"), Tlv(0x0005, b"\x01"), Tlv(0x1500, b""))
    assert encode(pdu, 1) == wire


def test_unknown_command_decodes_as_unknown_pdu() -> None:
    wire = hexbytes("00000012 0000000B 00000000 00000004 4100")  # outbind, not implemented
    header, pdu = decode(wire)
    assert pdu == UnknownPdu(0x0B, b"A\x00")
    assert header.name == "0x0000000B"
    assert command_name(CommandId.DELIVER_SM_RESP) == "deliver_sm_resp"


# -- limits and malformed input -----------------------------------------------------------------


@pytest.mark.parametrize(
    "pdu",
    [
        BindTransmitter(system_id="x" * 16),  # 16 characters + NUL > 16
        BindTransmitter(system_id="esme", password="p" * 9),
        BindTransmitter(system_id="esme", system_type="t" * 13),
        SubmitSm(source_addr="1" * 21),
        SubmitSm(destination_addr="1" * 21),
        SubmitSm(service_type="s" * 6),
        SubmitSmResp(message_id="m" * 65),
        SubmitSm(validity_period="1h"),  # times are empty or 16 characters
        SubmitSm(short_message=b"x" * 255),
        SubmitSm(short_message=b"x", tlvs=Tlvs(message_payload=b"y")),
        SubmitSm(source_addr="Ac\u00e9"),  # C-Octet Strings are ASCII
        SubmitSm(source_addr="a\x00b"),
        SubmitSm(data_coding=256),
        SubmitSm(tlvs=Tlvs(sar_total_segments=256)),
        SubmitSm(tlvs=Tlvs(other=(Tlv(0x0424, b"payload"),))),  # has a typed field
    ],
)
def test_encode_refuses_what_the_spec_does_not_allow(pdu: Pdu) -> None:
    with pytest.raises(PduError):
        encode(pdu, 1)


def test_encode_refuses_sequence_numbers_out_of_range() -> None:
    with pytest.raises(PduError):
        encode(EnquireLink(), 0x80000000)
    with pytest.raises(PduError):
        encode(EnquireLink(), -1)


def test_max_length_strings_fit() -> None:
    pdu = SubmitSm(source_addr="1" * 20, destination_addr="2" * 20, service_type="s" * 5)
    assert decode(encode(pdu, 1))[1] == pdu


def test_decode_rejects_a_c_string_without_nul_within_its_size() -> None:
    body = b"x" * 16 + b"\x00" + b"pw\x00" + b"\x00" + b"\x34\x00\x00\x00"
    wire = (16 + len(body)).to_bytes(4, "big") + hexbytes("00000002 00000000 00000001") + body
    with pytest.raises(PduError) as caught:
        decode(wire)
    assert caught.value.status == CommandStatus.ESME_RINVSYSID


def test_decode_reads_short_message_by_its_length_octet() -> None:
    wire = bytearray(encode(SubmitSm(destination_addr="1", short_message=b"abc"), 1))
    # Claim 200 octets of short_message where 3 remain.
    index = wire.index(b"abc") - 1
    wire[index] = 200
    with pytest.raises(PduError):
        decode(bytes(wire))


@pytest.mark.parametrize(
    ("tlv_octets", "status"),
    [
        (hexbytes("0427 0002 0002"), CommandStatus.ESME_RINVPARLEN),  # message_state is 1 octet
        (hexbytes("0427 0005 02"), CommandStatus.ESME_RINVOPTPARSTREAM),  # runs past the end
        (hexbytes("04"), CommandStatus.ESME_RINVOPTPARSTREAM),  # half a tag
        (hexbytes("001E 0041") + b"9" * 65, CommandStatus.ESME_RINVPARLEN),  # id too long
    ],
)
def test_decode_rejects_bad_tlvs(tlv_octets: bytes, status: CommandStatus) -> None:
    base = encode(DeliverSm(source_addr="1", destination_addr="2"), 1)
    wire = (len(base) + len(tlv_octets)).to_bytes(4, "big") + base[4:] + tlv_octets
    with pytest.raises(PduError) as caught:
        decode(wire)
    assert caught.value.status == status


def test_receipted_message_id_without_terminator_is_tolerated() -> None:
    base = encode(DeliverSm(source_addr="1", destination_addr="2", esm_class=4), 1)
    tlv = hexbytes("001E 0004") + b"1a2b"
    wire = (len(base) + len(tlv)).to_bytes(4, "big") + base[4:] + tlv
    pdu = decode(wire)[1]
    assert isinstance(pdu, DeliverSm)
    assert pdu.tlvs.receipted_message_id == "1a2b"


def test_decode_rejects_trailing_octets_and_length_mismatch() -> None:
    with pytest.raises(PduError):
        decode(hexbytes("00000011 00000015 00000000 00000001 00"))  # enquire_link has no body
    with pytest.raises(PduError):
        decode(hexbytes("00000010 00000015 00000000 00000001 00"))  # one octet too many
    with pytest.raises(PduError):
        decode(hexbytes("0000000F 00000015 00000000 00000001"))
    with pytest.raises(PduError):
        decode_header(b"\x00\x00\x00")


# -- command_status -----------------------------------------------------------------------------

SPEC_STATUS = {
    "ESME_ROK": 0x00,
    "ESME_RINVMSGLEN": 0x01,
    "ESME_RINVCMDLEN": 0x02,
    "ESME_RINVCMDID": 0x03,
    "ESME_RINVBNDSTS": 0x04,
    "ESME_RALYBND": 0x05,
    "ESME_RSYSERR": 0x08,
    "ESME_RINVSRCADR": 0x0A,
    "ESME_RINVDSTADR": 0x0B,
    "ESME_RINVMSGID": 0x0C,
    "ESME_RBINDFAIL": 0x0D,
    "ESME_RINVPASWD": 0x0E,
    "ESME_RINVSYSID": 0x0F,
    "ESME_RMSGQFUL": 0x14,
    "ESME_RINVESMCLASS": 0x43,
    "ESME_RSUBMITFAIL": 0x45,
    "ESME_RTHROTTLED": 0x58,
    "ESME_RINVSCHED": 0x61,
    "ESME_RINVEXPIRY": 0x62,
    "ESME_RX_T_APPN": 0x64,
    "ESME_RX_P_APPN": 0x65,
    "ESME_RX_R_APPN": 0x66,
    "ESME_RUNKNOWNERR": 0xFF,
    "ESME_RINVDCS": 0x104,
}


@pytest.mark.parametrize(("name", "value"), SPEC_STATUS.items())
def test_command_status_values(name: str, value: int) -> None:
    assert CommandStatus[name] == value


def test_next_sequence_wraps_to_one() -> None:
    assert next_sequence(0) == 1
    assert next_sequence(41) == 42
    assert next_sequence(0x7FFFFFFF) == 1


# -- streaming ----------------------------------------------------------------------------------


def test_reader_fed_one_byte_at_a_time() -> None:
    pdus: list[Pdu] = [
        BindTransceiverResp(system_id="smsc"),
        DeliverSm(source_addr="447700900123", destination_addr="1", short_message=b"hello"),
        EnquireLink(),
    ]
    stream = b"".join(encode(pdu, seq) for seq, pdu in enumerate(pdus, start=1))
    reader = PduReader()
    frames = []
    for octet in stream:
        got = reader.feed(bytes((octet,)))
        assert len(got) <= 1
        frames += got
    assert [pdu for _, pdu in frames] == pdus
    assert [header.sequence_number for header, _ in frames] == [1, 2, 3]
    assert reader.buffered == 0


def test_reader_several_pdus_and_a_partial_one_in_a_chunk() -> None:
    first = encode(EnquireLink(), 1)
    second = encode(SubmitSmResp(message_id="42"), 2)
    third = encode(UnbindResp(), 3)
    reader = PduReader()
    frames = reader.feed(first + second + third[:5])
    assert [pdu for _, pdu in frames] == [EnquireLink(), SubmitSmResp(message_id="42")]
    assert reader.buffered == 5
    assert reader.feed(b"") == []
    assert [pdu for _, pdu in reader.feed(third[5:])] == [UnbindResp()]


def test_reader_reports_a_malformed_body_and_goes_on() -> None:
    bad = hexbytes("00000011 00000015 00000000 00000007 00")  # enquire_link with a body
    reader = PduReader()
    frames = reader.feed(bad + encode(EnquireLink(), 8))
    header, pdu = frames[0]
    assert header.sequence_number == 7
    assert isinstance(pdu, MalformedPdu)
    assert pdu.command_id == CommandId.ENQUIRE_LINK
    assert pdu.status == CommandStatus.ESME_RINVCMDLEN
    assert frames[1][1] == EnquireLink()


@pytest.mark.parametrize("length", [0, 15, DEFAULT_MAX_COMMAND_LENGTH + 1])
def test_reader_rejects_impossible_command_length_at_once(length: int) -> None:
    reader = PduReader()
    with pytest.raises(PduError):
        # Only the length octets are needed to know the stream is broken.
        reader.feed(length.to_bytes(4, "big"))
    with pytest.raises(PduError):
        reader.feed(encode(EnquireLink(), 1))


def test_reader_max_length_is_configurable() -> None:
    reader = PduReader(max_command_length=64)
    with pytest.raises(PduError):
        reader.feed(encode(SubmitSm(short_message=b"x" * 100), 1))
    with pytest.raises(ValueError):
        PduReader(max_command_length=8)


# -- submit_parts -------------------------------------------------------------------------------

CYRILLIC = "\u044f"
GRINNING = "\U0001f600"


def texts_of(submits: list[SubmitSm], encoding: Encoding) -> list[str]:
    texts = []
    for submit in submits:
        data = submit.short_message[6:] if submit.esm_class & 0x40 else submit.short_message
        texts.append(decode_gsm7(data) if encoding is Encoding.GSM7 else data.decode("utf-16-be"))
    return texts


def parts(text: str, *, gsm7_packed: bool = False) -> list[SubmitSm]:
    return submit_parts(
        text,
        source="Acme",
        destination="447700900123",
        registered_delivery=True,
        reference=0x2A,
        gsm7_packed=gsm7_packed,
    )


def test_160_gsm_characters_are_one_part_without_udh() -> None:
    text = "a" * 150 + "0123456789"
    (submit,) = parts(text)
    assert submit.esm_class == 0
    assert submit.data_coding == 0
    assert submit.short_message == text.encode("ascii")  # these letters' septets equal ASCII
    assert submit.registered_delivery == 1
    assert (submit.source_addr_ton, submit.source_addr_npi) == (5, 0)
    assert (submit.dest_addr_ton, submit.dest_addr_npi) == (1, 1)
    assert submit.destination_addr == "447700900123"


def test_161_gsm_characters_are_two_parts_with_udh() -> None:
    text = "b" * 161
    submits = parts(text)
    assert texts_of(submits, Encoding.GSM7) == list(plan(text).parts)
    assert [s.short_message[:6] for s in submits] == [
        hexbytes("05 00 03 2A 02 01"),
        hexbytes("05 00 03 2A 02 02"),
    ]
    assert all(s.esm_class == 0x40 and s.data_coding == 0 for s in submits)
    assert len(submits[0].short_message) == 6 + 153  # unpacked: over 140, within 254
    for submit in submits:
        assert decode(encode(submit, 1))[1] == submit


def test_extension_characters_count_two_septets_at_the_boundary() -> None:
    text = "c" * 152 + "\u20ac" + "d" * 10  # the euro sign would straddle parts 1 and 2
    submits = parts(text)
    assert texts_of(submits, Encoding.GSM7) == list(plan(text).parts)
    assert texts_of(submits, Encoding.GSM7)[0] == "c" * 152


def test_70_and_71_ucs2_characters() -> None:
    (single,) = parts(CYRILLIC * 70)
    assert single.data_coding == 8
    assert single.esm_class == 0
    assert single.short_message == (CYRILLIC * 70).encode("utf-16-be")

    text = CYRILLIC * 71
    submits = parts(text)
    assert texts_of(submits, Encoding.UCS2) == list(plan(text).parts)
    assert [s.short_message[:6] for s in submits] == [
        hexbytes("05 00 03 2A 02 01"),
        hexbytes("05 00 03 2A 02 02"),
    ]
    assert [len(s.short_message) for s in submits] == [6 + 134, 6 + 8]


def test_emoji_at_the_part_boundary_is_not_split() -> None:
    text = CYRILLIC * 66 + GRINNING + CYRILLIC * 10  # the pair would take units 67 and 68
    submits = parts(text)
    segments = plan(text)
    assert texts_of(submits, Encoding.UCS2) == list(segments.parts)
    assert texts_of(submits, Encoding.UCS2)[1].startswith(GRINNING)
    assert len(submits) == segments.segments == 2


def test_packed_gsm7_fills_to_a_septet_boundary_and_fits_140_octets() -> None:
    text = "Hello from smsbridge! " * 20
    submits = parts(text, gsm7_packed=True)
    segments = plan(text)
    assert len(submits) == segments.segments
    for submit, part in zip(submits, segments.parts, strict=True):
        assert len(submit.short_message) <= 140
        assert submit.short_message[:3] == hexbytes("05 00 03")
        septets = len(part)  # no extension characters in this text
        got = unpack_septets(submit.short_message[6:], septets, fill_bits=1)
        assert decode_gsm7(got) == part


def test_packed_single_part_matches_the_spec_example() -> None:
    # TS 23.038 section 6.1.2.1.1 packs "hellohello" into these 9 octets.
    (submit,) = parts("hellohello", gsm7_packed=True)
    assert submit.short_message == hexbytes("E8 32 9B FD 46 97 D9 EC 37")


def test_packed_part_with_seven_spare_bits_is_padded_with_cr() -> None:
    (submit,) = parts("a" * 7, gsm7_packed=True)  # 49 bits: 7 octets, 7 bits to spare
    assert len(submit.short_message) == 7
    assert unpack_septets(submit.short_message, 8) == b"a" * 7 + b"\x0d"


def test_submit_parts_options() -> None:
    (submit,) = submit_parts(
        "hi",
        source="447700900001",
        destination="447700900123",
        registered_delivery=False,
        reference=0,
        dest_ton=2,
        dest_npi=1,
        service_type="CMT",
        validity_period="000001000000000R",
    )
    assert (submit.source_addr_ton, submit.source_addr_npi) == source_ton_npi("447700900001")
    assert (submit.source_addr_ton, submit.source_addr_npi) == (1, 1)
    assert submit.registered_delivery == 0
    assert (submit.dest_addr_ton, submit.service_type) == (2, "CMT")
    assert decode(encode(submit, 1))[1] == submit
    with pytest.raises(ValueError):
        submit_parts("x", source="a", destination="b", registered_delivery=False, reference=256)


# -- validity_period, data_coding and flash -------------------------------------------------------


def test_validity_period_relative_absolute_and_none() -> None:
    from datetime import UTC, datetime, timedelta

    from smsbridge.carriers.smpp.pdu import validity_period

    now = datetime.now(UTC).replace(microsecond=0)
    assert validity_period(now + timedelta(minutes=1), now, "relative") == "000000000100000R"
    assert validity_period(now + timedelta(days=2, hours=3), now, "relative") == (
        "000002030000000R"
    )
    # Less than a second left still says "1 second", never a zero the SMSC reads as "default".
    assert validity_period(now + timedelta(milliseconds=200), now, "relative") == (
        "000000000001000R"
    )
    until = now + timedelta(hours=5)
    assert validity_period(until, now, "absolute") == until.strftime("%y%m%d%H%M%S") + "000+"
    assert validity_period(until, now, "none") == ""
    assert validity_period(None, now, "relative") == ""


@pytest.mark.parametrize(
    ("text", "flash", "gsm7_data_coding", "alt", "expected"),
    [
        ("hi", False, 0, False, 0x00),
        ("hi", False, 1, False, 0x01),
        ("hi", False, 3, False, 0x03),
        ("Привет", False, 3, False, 0x08),
        ("hi", True, 0, False, 0x10),
        ("hi", True, 3, True, 0xF0),
        ("Привет", True, 0, True, 0x18),
    ],
)
def test_data_coding_by_connector_and_flash(text, flash, gsm7_data_coding, alt, expected) -> None:
    [submit] = submit_parts(
        text,
        source="Acme",
        destination="447700900123",
        registered_delivery=True,
        reference=1,
        gsm7_data_coding=gsm7_data_coding,
        flash=flash,
        flash_alt_dcs=alt,
    )
    assert submit.data_coding == expected


def test_gsm7_as_latin1_or_ascii_keeps_the_billed_parts_and_refuses_what_it_cannot_carry() -> None:
    text = "Prix: 5£ " * 30  # GSM-7, two parts
    parts_0 = submit_parts(
        text, source="Acme", destination="1234", registered_delivery=True, reference=9
    )
    parts_3 = submit_parts(
        text,
        source="Acme",
        destination="1234",
        registered_delivery=True,
        reference=9,
        gsm7_data_coding=3,
    )
    assert len(parts_3) == len(parts_0) == 2
    joined = b"".join(part.short_message[6:] for part in parts_3)
    assert joined.decode("latin-1") == text
    with pytest.raises(ValueError, match="cannot carry '£'"):
        submit_parts(
            text,
            source="Acme",
            destination="1234",
            registered_delivery=True,
            reference=9,
            gsm7_data_coding=1,
        )
    with pytest.raises(ValueError, match="cannot carry 'Δ'"):
        submit_parts(
            "Δ", source="Acme", destination="1234", registered_delivery=True, reference=9,
            gsm7_data_coding=3,
        )  # fmt: skip


def test_reader_keeps_each_pdus_octets_and_the_start_of_a_broken_stream() -> None:
    first = encode(EnquireLink(), 3)
    reader = PduReader()
    [(_header, _pdu, raw)] = reader.feed_raw(first)
    assert raw == first
    with pytest.raises(PduError):
        reader.feed(b"\x00\x00\x00\x03garbage")
    assert reader.rejected.startswith(b"\x00\x00\x00\x03garbage")
