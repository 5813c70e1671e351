"""SMPP 3.4 PDUs: command ids, status codes, TLVs, byte encoding and decoding, stream framing."""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import ClassVar, Final, Literal, Self, TypeAlias

from smsbridge.segments import Encoding, encode_part, pack_septets, plan

HEADER_LENGTH: Final = 16
# A message_payload TLV alone may hold 65,535 octets, so a valid PDU can pass 64 KiB; nothing
# we exchange comes near 128 KiB, so a longer command_length means a broken or hostile peer
# (and refusing it stops one bad length field from making us buffer gigabytes).
DEFAULT_MAX_COMMAND_LENGTH: Final = 128 * 1024
# Sequence numbers run 0x00000001-0x7FFFFFFF (SMPP 3.4 section 5.1.4).
MAX_SEQUENCE: Final = 0x7FFFFFFF
INTERFACE_VERSION: Final = 0x34
MAX_SHORT_MESSAGE: Final = 254
RESPONSE_BIT: Final = 0x80000000

# esm_class bits (section 5.2.12). Bits 5-2 are the message type on a deliver_sm.
ESM_UDHI: Final = 0x40
ESM_MESSAGE_TYPE_MASK: Final = 0x3C
ESM_DELIVERY_RECEIPT: Final = 0x04
ESM_INTERMEDIATE_NOTIFICATION: Final = 0x20

# Where a concatenated part's UDH says so: 05 (UDHL) 00 (IEI: 8-bit reference) 03 (IE length).
_CONCAT_UDH_PREFIX: Final = b"\x05\x00\x03"
# 6 UDH octets are 48 bits; one fill bit brings the first septet to bit 49 = 7 septets.
_CONCAT_UDH_FILL_BITS: Final = 1
_CR_SEPTET: Final = b"\x0d"

# C-Octet String sizes from the spec, which count the terminating NUL (so "max 16" is 15
# characters). schedule_delivery_time, validity_period and final_date are "1 or 17": empty, or
# a 16-character time.
_SYSTEM_ID_SIZE: Final = 16
_PASSWORD_SIZE: Final = 9
_SYSTEM_TYPE_SIZE: Final = 13
_ADDRESS_RANGE_SIZE: Final = 41
_SERVICE_TYPE_SIZE: Final = 6
_ADDR_SIZE: Final = 21
_TIME_SIZE: Final = 17
_MESSAGE_ID_SIZE: Final = 65


class CommandId(enum.IntEnum):
    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015


def command_name(command_id: int) -> str:
    """The spec's name ("submit_sm_resp"), or the hex id of a command not implemented here."""
    try:
        return CommandId(command_id).name.lower()
    except ValueError:
        return f"0x{command_id:08X}"


class CommandStatus(enum.IntEnum):
    """command_status values of SMPP 3.4 section 5.1.3, plus ESME_RINVDCS.

    ESME_RINVDCS (0x104) is not in 3.4: SMPP 5.0 added it, and 3.4 SMSCs send it anyway for a
    data_coding they will not carry. 0x400-0x4FF are left to each SMSC vendor.
    """

    ESME_ROK = 0x00000000
    ESME_RINVMSGLEN = 0x00000001
    ESME_RINVCMDLEN = 0x00000002
    ESME_RINVCMDID = 0x00000003
    ESME_RINVBNDSTS = 0x00000004
    ESME_RALYBND = 0x00000005
    ESME_RINVPRTFLG = 0x00000006
    ESME_RINVREGDLVFLG = 0x00000007
    ESME_RSYSERR = 0x00000008
    ESME_RINVSRCADR = 0x0000000A
    ESME_RINVDSTADR = 0x0000000B
    ESME_RINVMSGID = 0x0000000C
    ESME_RBINDFAIL = 0x0000000D
    ESME_RINVPASWD = 0x0000000E
    ESME_RINVSYSID = 0x0000000F
    ESME_RCANCELFAIL = 0x00000011
    ESME_RREPLACEFAIL = 0x00000013
    ESME_RMSGQFUL = 0x00000014
    ESME_RINVSERTYP = 0x00000015
    ESME_RINVNUMDESTS = 0x00000033
    ESME_RINVDLNAME = 0x00000034
    ESME_RINVDESTFLAG = 0x00000040
    ESME_RINVSUBREP = 0x00000042
    ESME_RINVESMCLASS = 0x00000043
    ESME_RCNTSUBDL = 0x00000044
    ESME_RSUBMITFAIL = 0x00000045
    ESME_RINVSRCTON = 0x00000048
    ESME_RINVSRCNPI = 0x00000049
    ESME_RINVDSTTON = 0x00000050
    ESME_RINVDSTNPI = 0x00000051
    ESME_RINVSYSTYP = 0x00000053
    ESME_RINVREPFLAG = 0x00000054
    ESME_RINVNUMMSGS = 0x00000055
    ESME_RTHROTTLED = 0x00000058
    ESME_RINVSCHED = 0x00000061
    ESME_RINVEXPIRY = 0x00000062
    ESME_RINVDFTMSGID = 0x00000063
    ESME_RX_T_APPN = 0x00000064
    ESME_RX_P_APPN = 0x00000065
    ESME_RX_R_APPN = 0x00000066
    ESME_RQUERYFAIL = 0x00000067
    ESME_RINVOPTPARSTREAM = 0x000000C0
    ESME_ROPTPARNOTALLWD = 0x000000C1
    ESME_RINVPARLEN = 0x000000C2
    ESME_RMISSINGOPTPARAM = 0x000000C3
    ESME_RINVOPTPARAMVAL = 0x000000C4
    ESME_RDELIVERYFAILURE = 0x000000FE
    ESME_RUNKNOWNERR = 0x000000FF
    ESME_RINVDCS = 0x00000104


class Tag(enum.IntEnum):
    """The optional parameter (TLV) tags this module reads and writes as typed fields."""

    RECEIPTED_MESSAGE_ID = 0x001E
    USER_MESSAGE_REFERENCE = 0x0204
    SAR_MSG_REF_NUM = 0x020C
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    MESSAGE_STATE = 0x0427


class MessageState(enum.IntEnum):
    """message_state values (section 5.2.28), used by the TLV and by query_sm_resp."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


class DataCoding(enum.IntEnum):
    """The data_coding values (section 5.2.19) this project sends or reads as text."""

    SMSC_DEFAULT = 0  # the GSM 03.38 default alphabet on the SMSCs we use
    IA5 = 1  # IA5 (CCITT T.50) / ASCII
    BINARY_2 = 2  # octet unspecified (8-bit binary)
    LATIN1 = 3
    BINARY = 4  # octet unspecified (8-bit binary)
    CYRILLIC = 6  # ISO-8859-5
    HEBREW = 7  # ISO-8859-8
    UCS2 = 8


class PduError(ValueError):
    """Octets that are not a valid PDU; `status` is the command_status to answer them with."""

    def __init__(self, detail: str, status: CommandStatus = CommandStatus.ESME_RINVCMDLEN) -> None:
        super().__init__(detail)
        self.status = status


@dataclass(frozen=True)
class Header:
    command_length: int
    command_id: int
    command_status: int
    sequence_number: int

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESPONSE_BIT)

    @property
    def name(self) -> str:
        return command_name(self.command_id)


@dataclass(frozen=True)
class Tlv:
    """An optional parameter as it came off the wire: kept so a PDU re-encodes with it."""

    tag: int
    value: bytes


@dataclass(frozen=True)
class NetworkErrorCode:
    """network_error_code: the network type (1 ANSI-136, 2 IS-95, 3 GSM, ...) and its code."""

    network_type: int
    error_code: int


@dataclass(frozen=True, kw_only=True)
class Tlvs:
    """A PDU's optional parameters: the ones we use as typed fields, the rest in `other`.

    Encoded in the order of these fields, then `other` in the order received. A TLV that
    occurs twice keeps its last value.
    """

    receipted_message_id: str | None = None
    user_message_reference: int | None = None
    sar_msg_ref_num: int | None = None
    sar_total_segments: int | None = None
    sar_segment_seqnum: int | None = None
    sc_interface_version: int | None = None
    network_error_code: NetworkErrorCode | None = None
    message_payload: bytes | None = None
    message_state: int | None = None
    other: tuple[Tlv, ...] = ()


# -- primitive fields ---------------------------------------------------------------------------


def _check_int(value: int, size: int, name: str) -> None:
    if not 0 <= value < 1 << (8 * size):
        raise PduError(f"{name} {value} does not fit {size} octet(s)")


def _cstring(value: str, size: int, name: str) -> bytes:
    """A C-Octet String: ASCII then NUL, at most `size` octets counting the NUL."""
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError as error:
        raise PduError(f"{name} {value!r} is not ASCII") from error
    if b"\x00" in raw:
        raise PduError(f"{name} {value!r} contains NUL")
    if len(raw) + 1 > size:
        raise PduError(f"{name} {value!r} is longer than {size - 1} characters")
    return raw + b"\x00"


def _time(value: str, name: str) -> bytes:
    # SMPP absolute/relative times are exactly 16 characters ("YYMMDDhhmmsstnnp") or absent.
    if value and len(value) != _TIME_SIZE - 1:
        raise PduError(f"{name} must be empty or 16 characters, not {value!r}")
    return _cstring(value, _TIME_SIZE, name)


class _Cursor:
    """Reads a PDU body front to back, raising PduError where it runs short."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def octets(self, count: int, name: str) -> bytes:
        if count > self.remaining:
            raise PduError(f"body ends inside {name}")
        value = self._data[self._pos : self._pos + count]
        self._pos += count
        return value

    def u8(self, name: str) -> int:
        return self.octets(1, name)[0]

    def cstring(
        self, size: int, name: str, status: CommandStatus = CommandStatus.ESME_RINVCMDLEN
    ) -> str:
        # Read as Latin-1, which maps every octet to a character, so a peer's stray non-ASCII
        # octet cannot make an otherwise usable PDU undecodable.
        end = self._data.find(b"\x00", self._pos, self._pos + size)
        if end < 0:
            raise PduError(f"{name} has no NUL within {size} octets", status)
        value = self._data[self._pos : end].decode("latin-1")
        self._pos = end + 1
        return value

    def rest(self) -> bytes:
        return self.octets(self.remaining, "body")

    def finish(self, name: str) -> None:
        if self.remaining:
            raise PduError(f"{self.remaining} unexpected octet(s) after the {name} body")


# -- TLVs ---------------------------------------------------------------------------------------

_KNOWN_TAGS: Final = frozenset(Tag)


def _tlv(tag: int, value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        raise PduError(f"TLV 0x{tag:04X} value is {len(value)} octets; at most 65535 fit")
    return struct.pack(">HH", tag, len(value)) + value


def _encode_tlvs(tlvs: Tlvs) -> bytes:
    out = bytearray()
    if tlvs.receipted_message_id is not None:
        value = _cstring(tlvs.receipted_message_id, _MESSAGE_ID_SIZE, "receipted_message_id")
        out += _tlv(Tag.RECEIPTED_MESSAGE_ID, value)
    for tag, number, size, name in (
        (Tag.USER_MESSAGE_REFERENCE, tlvs.user_message_reference, 2, "user_message_reference"),
        (Tag.SAR_MSG_REF_NUM, tlvs.sar_msg_ref_num, 2, "sar_msg_ref_num"),
        (Tag.SAR_TOTAL_SEGMENTS, tlvs.sar_total_segments, 1, "sar_total_segments"),
        (Tag.SAR_SEGMENT_SEQNUM, tlvs.sar_segment_seqnum, 1, "sar_segment_seqnum"),
        (Tag.SC_INTERFACE_VERSION, tlvs.sc_interface_version, 1, "sc_interface_version"),
    ):
        if number is not None:
            _check_int(number, size, name)
            out += _tlv(tag, number.to_bytes(size, "big"))
    if tlvs.network_error_code is not None:
        code = tlvs.network_error_code
        _check_int(code.network_type, 1, "network_error_code network type")
        _check_int(code.error_code, 2, "network_error_code error code")
        out += _tlv(Tag.NETWORK_ERROR_CODE, struct.pack(">BH", code.network_type, code.error_code))
    if tlvs.message_payload is not None:
        out += _tlv(Tag.MESSAGE_PAYLOAD, tlvs.message_payload)
    if tlvs.message_state is not None:
        _check_int(tlvs.message_state, 1, "message_state")
        out += _tlv(Tag.MESSAGE_STATE, bytes((tlvs.message_state,)))
    for extra in tlvs.other:
        if extra.tag in _KNOWN_TAGS:
            # Two places to set one parameter would make the encoded PDU ambiguous.
            raise PduError(f"TLV 0x{extra.tag:04X} has a typed field in Tlvs; set that instead")
        _check_int(extra.tag, 2, "TLV tag")
        out += _tlv(extra.tag, extra.value)
    return bytes(out)


def _tlv_int(tag: int, value: bytes, size: int) -> int:
    if len(value) != size:
        raise PduError(
            f"TLV 0x{tag:04X} is {len(value)} octet(s); it must be {size}",
            CommandStatus.ESME_RINVPARLEN,
        )
    return int.from_bytes(value, "big")


def _decode_tlvs(data: bytes) -> Tlvs:
    receipted_message_id: str | None = None
    user_message_reference: int | None = None
    sar_msg_ref_num: int | None = None
    sar_total_segments: int | None = None
    sar_segment_seqnum: int | None = None
    sc_interface_version: int | None = None
    network_error_code: NetworkErrorCode | None = None
    message_payload: bytes | None = None
    message_state: int | None = None
    other: list[Tlv] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 4:
            raise PduError("TLV header cut short", CommandStatus.ESME_RINVOPTPARSTREAM)
        tag, length = struct.unpack_from(">HH", data, pos)
        pos += 4
        if length > len(data) - pos:
            raise PduError(
                f"TLV 0x{tag:04X} claims {length} octets; {len(data) - pos} remain",
                CommandStatus.ESME_RINVOPTPARSTREAM,
            )
        value = data[pos : pos + length]
        pos += length
        match tag:
            case Tag.RECEIPTED_MESSAGE_ID:
                # Tolerate a missing terminator (some SMSCs send the bare id), but not an id
                # longer than the spec allows.
                raw = value.split(b"\x00", 1)[0]
                if len(raw) >= _MESSAGE_ID_SIZE:
                    raise PduError(
                        "receipted_message_id is too long", CommandStatus.ESME_RINVPARLEN
                    )
                receipted_message_id = raw.decode("latin-1")
            case Tag.USER_MESSAGE_REFERENCE:
                user_message_reference = _tlv_int(tag, value, 2)
            case Tag.SAR_MSG_REF_NUM:
                sar_msg_ref_num = _tlv_int(tag, value, 2)
            case Tag.SAR_TOTAL_SEGMENTS:
                sar_total_segments = _tlv_int(tag, value, 1)
            case Tag.SAR_SEGMENT_SEQNUM:
                sar_segment_seqnum = _tlv_int(tag, value, 1)
            case Tag.SC_INTERFACE_VERSION:
                sc_interface_version = _tlv_int(tag, value, 1)
            case Tag.NETWORK_ERROR_CODE:
                _tlv_int(tag, value, 3)
                network_type, error_code = struct.unpack(">BH", value)
                network_error_code = NetworkErrorCode(network_type, error_code)
            case Tag.MESSAGE_PAYLOAD:
                message_payload = value
            case Tag.MESSAGE_STATE:
                message_state = _tlv_int(tag, value, 1)
            case _:
                other.append(Tlv(tag, value))
    return Tlvs(
        receipted_message_id=receipted_message_id,
        user_message_reference=user_message_reference,
        sar_msg_ref_num=sar_msg_ref_num,
        sar_total_segments=sar_total_segments,
        sar_segment_seqnum=sar_segment_seqnum,
        sc_interface_version=sc_interface_version,
        network_error_code=network_error_code,
        message_payload=message_payload,
        message_state=message_state,
        other=tuple(other),
    )


# -- PDUs ---------------------------------------------------------------------------------------


class _PduBase:
    COMMAND_ID: ClassVar[CommandId]
    # The spec omits the body of a bind or submit_sm response whose command_status is not 0.
    OMIT_BODY_ON_ERROR: ClassVar[bool] = False

    def _encode_body(self) -> bytes:
        return b""

    @classmethod
    def _decode_body(cls, cursor: _Cursor) -> Self:
        cursor.finish(command_name(cls.COMMAND_ID))
        return cls()


@dataclass(frozen=True, kw_only=True)
class _BindRequest(_PduBase):
    system_id: str
    password: str = ""
    system_type: str = ""
    interface_version: int = INTERFACE_VERSION
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    def _encode_body(self) -> bytes:
        for value, name in (
            (self.interface_version, "interface_version"),
            (self.addr_ton, "addr_ton"),
            (self.addr_npi, "addr_npi"),
        ):
            _check_int(value, 1, name)
        return b"".join(
            (
                _cstring(self.system_id, _SYSTEM_ID_SIZE, "system_id"),
                _cstring(self.password, _PASSWORD_SIZE, "password"),
                _cstring(self.system_type, _SYSTEM_TYPE_SIZE, "system_type"),
                bytes((self.interface_version, self.addr_ton, self.addr_npi)),
                _cstring(self.address_range, _ADDRESS_RANGE_SIZE, "address_range"),
            )
        )

    @classmethod
    def _decode_body(cls, cursor: _Cursor) -> Self:
        pdu = cls(
            system_id=cursor.cstring(_SYSTEM_ID_SIZE, "system_id", CommandStatus.ESME_RINVSYSID),
            password=cursor.cstring(_PASSWORD_SIZE, "password", CommandStatus.ESME_RINVPASWD),
            system_type=cursor.cstring(
                _SYSTEM_TYPE_SIZE, "system_type", CommandStatus.ESME_RINVSYSTYP
            ),
            interface_version=cursor.u8("interface_version"),
            addr_ton=cursor.u8("addr_ton"),
            addr_npi=cursor.u8("addr_npi"),
            address_range=cursor.cstring(_ADDRESS_RANGE_SIZE, "address_range"),
        )
        cursor.finish(command_name(cls.COMMAND_ID))
        return pdu


@dataclass(frozen=True, kw_only=True)
class BindTransmitter(_BindRequest):
    COMMAND_ID: ClassVar[CommandId] = CommandId.BIND_TRANSMITTER


@dataclass(frozen=True, kw_only=True)
class BindReceiver(_BindRequest):
    COMMAND_ID: ClassVar[CommandId] = CommandId.BIND_RECEIVER


@dataclass(frozen=True, kw_only=True)
class BindTransceiver(_BindRequest):
    COMMAND_ID: ClassVar[CommandId] = CommandId.BIND_TRANSCEIVER


@dataclass(frozen=True, kw_only=True)
class _BindResponse(_PduBase):
    OMIT_BODY_ON_ERROR: ClassVar[bool] = True

    system_id: str = ""
    tlvs: Tlvs = field(default_factory=Tlvs)

    def _encode_body(self) -> bytes:
        return _cstring(self.system_id, _SYSTEM_ID_SIZE, "system_id") + _encode_tlvs(self.tlvs)

    @classmethod
    def _decode_body(cls, cursor: _Cursor) -> Self:
        if not cursor.remaining:
            return cls()
        system_id = cursor.cstring(_SYSTEM_ID_SIZE, "system_id")
        return cls(system_id=system_id, tlvs=_decode_tlvs(cursor.rest()))


@dataclass(frozen=True, kw_only=True)
class BindTransmitterResp(_BindResponse):
    COMMAND_ID: ClassVar[CommandId] = CommandId.BIND_TRANSMITTER_RESP


@dataclass(frozen=True, kw_only=True)
class BindReceiverResp(_BindResponse):
    COMMAND_ID: ClassVar[CommandId] = CommandId.BIND_RECEIVER_RESP


@dataclass(frozen=True, kw_only=True)
class BindTransceiverResp(_BindResponse):
    COMMAND_ID: ClassVar[CommandId] = CommandId.BIND_TRANSCEIVER_RESP


@dataclass(frozen=True)
class Unbind(_PduBase):
    COMMAND_ID: ClassVar[CommandId] = CommandId.UNBIND


@dataclass(frozen=True)
class UnbindResp(_PduBase):
    COMMAND_ID: ClassVar[CommandId] = CommandId.UNBIND_RESP


@dataclass(frozen=True)
class EnquireLink(_PduBase):
    COMMAND_ID: ClassVar[CommandId] = CommandId.ENQUIRE_LINK


@dataclass(frozen=True)
class EnquireLinkResp(_PduBase):
    COMMAND_ID: ClassVar[CommandId] = CommandId.ENQUIRE_LINK_RESP


@dataclass(frozen=True)
class GenericNack(_PduBase):
    """The answer to a PDU whose header could not be acted on; the status says why."""

    COMMAND_ID: ClassVar[CommandId] = CommandId.GENERIC_NACK


@dataclass(frozen=True, kw_only=True)
class _ShortMessage(_PduBase):
    """submit_sm and deliver_sm share one body layout (sections 4.4.1 and 4.6.1)."""

    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: Tlvs = field(default_factory=Tlvs)

    def _encode_body(self) -> bytes:
        if len(self.short_message) > MAX_SHORT_MESSAGE:
            raise PduError(
                f"short_message is {len(self.short_message)} octets; at most 254 fit "
                "(use message_payload for more)",
                CommandStatus.ESME_RINVMSGLEN,
            )
        if self.short_message and self.tlvs.message_payload is not None:
            # The spec allows one or the other, never both (section 5.3.2.32).
            raise PduError("short_message and message_payload are both set")
        octets = (
            ("source_addr_ton", self.source_addr_ton),
            ("source_addr_npi", self.source_addr_npi),
            ("dest_addr_ton", self.dest_addr_ton),
            ("dest_addr_npi", self.dest_addr_npi),
            ("esm_class", self.esm_class),
            ("protocol_id", self.protocol_id),
            ("priority_flag", self.priority_flag),
            ("registered_delivery", self.registered_delivery),
            ("replace_if_present_flag", self.replace_if_present_flag),
            ("data_coding", self.data_coding),
            ("sm_default_msg_id", self.sm_default_msg_id),
        )
        for name, value in octets:
            _check_int(value, 1, name)
        return b"".join(
            (
                _cstring(self.service_type, _SERVICE_TYPE_SIZE, "service_type"),
                bytes((self.source_addr_ton, self.source_addr_npi)),
                _cstring(self.source_addr, _ADDR_SIZE, "source_addr"),
                bytes((self.dest_addr_ton, self.dest_addr_npi)),
                _cstring(self.destination_addr, _ADDR_SIZE, "destination_addr"),
                bytes((self.esm_class, self.protocol_id, self.priority_flag)),
                _time(self.schedule_delivery_time, "schedule_delivery_time"),
                _time(self.validity_period, "validity_period"),
                bytes(
                    (
                        self.registered_delivery,
                        self.replace_if_present_flag,
                        self.data_coding,
                        self.sm_default_msg_id,
                        len(self.short_message),
                    )
                ),
                self.short_message,
                _encode_tlvs(self.tlvs),
            )
        )

    @classmethod
    def _decode_body(cls, cursor: _Cursor) -> Self:
        service_type = cursor.cstring(
            _SERVICE_TYPE_SIZE, "service_type", CommandStatus.ESME_RINVSERTYP
        )
        source_addr_ton = cursor.u8("source_addr_ton")
        source_addr_npi = cursor.u8("source_addr_npi")
        source_addr = cursor.cstring(_ADDR_SIZE, "source_addr", CommandStatus.ESME_RINVSRCADR)
        dest_addr_ton = cursor.u8("dest_addr_ton")
        dest_addr_npi = cursor.u8("dest_addr_npi")
        destination_addr = cursor.cstring(
            _ADDR_SIZE, "destination_addr", CommandStatus.ESME_RINVDSTADR
        )
        esm_class = cursor.u8("esm_class")
        protocol_id = cursor.u8("protocol_id")
        priority_flag = cursor.u8("priority_flag")
        schedule_delivery_time = cursor.cstring(
            _TIME_SIZE, "schedule_delivery_time", CommandStatus.ESME_RINVSCHED
        )
        validity_period = cursor.cstring(
            _TIME_SIZE, "validity_period", CommandStatus.ESME_RINVEXPIRY
        )
        registered_delivery = cursor.u8("registered_delivery")
        replace_if_present_flag = cursor.u8("replace_if_present_flag")
        data_coding = cursor.u8("data_coding")
        sm_default_msg_id = cursor.u8("sm_default_msg_id")
        sm_length = cursor.u8("sm_length")
        if sm_length > MAX_SHORT_MESSAGE:
            raise PduError(f"sm_length {sm_length} is over 254", CommandStatus.ESME_RINVMSGLEN)
        short_message = cursor.octets(sm_length, "short_message")
        return cls(
            service_type=service_type,
            source_addr_ton=source_addr_ton,
            source_addr_npi=source_addr_npi,
            source_addr=source_addr,
            dest_addr_ton=dest_addr_ton,
            dest_addr_npi=dest_addr_npi,
            destination_addr=destination_addr,
            esm_class=esm_class,
            protocol_id=protocol_id,
            priority_flag=priority_flag,
            schedule_delivery_time=schedule_delivery_time,
            validity_period=validity_period,
            registered_delivery=registered_delivery,
            replace_if_present_flag=replace_if_present_flag,
            data_coding=data_coding,
            sm_default_msg_id=sm_default_msg_id,
            short_message=short_message,
            tlvs=_decode_tlvs(cursor.rest()),
        )

    @property
    def message(self) -> bytes:
        """The user data: short_message, or the message_payload TLV that replaces it."""
        if self.short_message or self.tlvs.message_payload is None:
            return self.short_message
        return self.tlvs.message_payload


@dataclass(frozen=True, kw_only=True)
class SubmitSm(_ShortMessage):
    COMMAND_ID: ClassVar[CommandId] = CommandId.SUBMIT_SM


@dataclass(frozen=True, kw_only=True)
class DeliverSm(_ShortMessage):
    COMMAND_ID: ClassVar[CommandId] = CommandId.DELIVER_SM

    @property
    def is_receipt(self) -> bool:
        """True for an SMSC delivery receipt or intermediate notification, not an inbound SMS."""
        kind = self.esm_class & ESM_MESSAGE_TYPE_MASK
        return kind in (ESM_DELIVERY_RECEIPT, ESM_INTERMEDIATE_NOTIFICATION)


@dataclass(frozen=True, kw_only=True)
class _MessageIdResponse(_PduBase):
    message_id: str = ""
    # SMPP 3.4 defines no TLVs here, but 5.0 SMSCs add some; keep them rather than fail.
    tlvs: Tlvs = field(default_factory=Tlvs)

    def _encode_body(self) -> bytes:
        return _cstring(self.message_id, _MESSAGE_ID_SIZE, "message_id") + _encode_tlvs(self.tlvs)

    @classmethod
    def _decode_body(cls, cursor: _Cursor) -> Self:
        if not cursor.remaining:
            return cls()
        message_id = cursor.cstring(_MESSAGE_ID_SIZE, "message_id", CommandStatus.ESME_RINVMSGID)
        return cls(message_id=message_id, tlvs=_decode_tlvs(cursor.rest()))


@dataclass(frozen=True, kw_only=True)
class SubmitSmResp(_MessageIdResponse):
    COMMAND_ID: ClassVar[CommandId] = CommandId.SUBMIT_SM_RESP
    OMIT_BODY_ON_ERROR: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class DeliverSmResp(_MessageIdResponse):
    """message_id is unused and sent empty (section 4.6.2)."""

    COMMAND_ID: ClassVar[CommandId] = CommandId.DELIVER_SM_RESP


@dataclass(frozen=True, kw_only=True)
class QuerySm(_PduBase):
    COMMAND_ID: ClassVar[CommandId] = CommandId.QUERY_SM

    message_id: str
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""

    def _encode_body(self) -> bytes:
        _check_int(self.source_addr_ton, 1, "source_addr_ton")
        _check_int(self.source_addr_npi, 1, "source_addr_npi")
        return b"".join(
            (
                _cstring(self.message_id, _MESSAGE_ID_SIZE, "message_id"),
                bytes((self.source_addr_ton, self.source_addr_npi)),
                _cstring(self.source_addr, _ADDR_SIZE, "source_addr"),
            )
        )

    @classmethod
    def _decode_body(cls, cursor: _Cursor) -> Self:
        pdu = cls(
            message_id=cursor.cstring(_MESSAGE_ID_SIZE, "message_id", CommandStatus.ESME_RINVMSGID),
            source_addr_ton=cursor.u8("source_addr_ton"),
            source_addr_npi=cursor.u8("source_addr_npi"),
            source_addr=cursor.cstring(_ADDR_SIZE, "source_addr", CommandStatus.ESME_RINVSRCADR),
        )
        cursor.finish("query_sm")
        return pdu


@dataclass(frozen=True, kw_only=True)
class QuerySmResp(_PduBase):
    COMMAND_ID: ClassVar[CommandId] = CommandId.QUERY_SM_RESP

    message_id: str = ""
    final_date: str = ""
    message_state: int = 0
    error_code: int = 0

    def _encode_body(self) -> bytes:
        _check_int(self.message_state, 1, "message_state")
        _check_int(self.error_code, 1, "error_code")
        return b"".join(
            (
                _cstring(self.message_id, _MESSAGE_ID_SIZE, "message_id"),
                _time(self.final_date, "final_date"),
                bytes((self.message_state, self.error_code)),
            )
        )

    @classmethod
    def _decode_body(cls, cursor: _Cursor) -> Self:
        if not cursor.remaining:
            return cls()
        pdu = cls(
            message_id=cursor.cstring(_MESSAGE_ID_SIZE, "message_id"),
            final_date=cursor.cstring(_TIME_SIZE, "final_date"),
            message_state=cursor.u8("message_state"),
            error_code=cursor.u8("error_code"),
        )
        cursor.finish("query_sm_resp")
        return pdu


@dataclass(frozen=True)
class UnknownPdu:
    """A command this module does not implement (outbind, data_sm, ...), body kept as is.

    Not an error in the stream: answer a request with generic_nack ESME_RINVCMDID.
    """

    command_id: int
    body: bytes = b""


@dataclass(frozen=True)
class MalformedPdu:
    """A whole PDU whose body would not decode, as `PduReader` reports it.

    The framing is intact, so the stream goes on; answer a request with its response (or
    generic_nack) carrying `status`, echoing the header's sequence_number.
    """

    command_id: int
    status: CommandStatus
    detail: str


Pdu: TypeAlias = (
    BindTransmitter
    | BindReceiver
    | BindTransceiver
    | BindTransmitterResp
    | BindReceiverResp
    | BindTransceiverResp
    | Unbind
    | UnbindResp
    | EnquireLink
    | EnquireLinkResp
    | GenericNack
    | SubmitSm
    | SubmitSmResp
    | DeliverSm
    | DeliverSmResp
    | QuerySm
    | QuerySmResp
    | UnknownPdu
)

_DECODERS: Final[Mapping[int, Callable[[_Cursor], Pdu]]] = MappingProxyType(
    {
        pdu_class.COMMAND_ID: pdu_class._decode_body
        for pdu_class in (
            BindTransmitter,
            BindReceiver,
            BindTransceiver,
            BindTransmitterResp,
            BindReceiverResp,
            BindTransceiverResp,
            Unbind,
            UnbindResp,
            EnquireLink,
            EnquireLinkResp,
            GenericNack,
            SubmitSm,
            SubmitSmResp,
            DeliverSm,
            DeliverSmResp,
            QuerySm,
            QuerySmResp,
        )
    }
)


# -- encoding and decoding ----------------------------------------------------------------------


def next_sequence(previous: int) -> int:
    """The sequence number after `previous`, wrapping from 0x7FFFFFFF back to 1."""
    return previous % MAX_SEQUENCE + 1


def encode(pdu: Pdu, sequence_number: int, status: int = CommandStatus.ESME_ROK) -> bytes:
    """The octets of `pdu` with its header. `status` is for responses; requests carry 0.

    A bind or submit_sm response with a non-zero status is sent without its body, as the
    spec requires. Raises PduError for a field the spec would not allow.
    """
    if not 0 <= sequence_number <= MAX_SEQUENCE:
        raise PduError(f"sequence_number {sequence_number} is outside 0-0x7FFFFFFF")
    _check_int(status, 4, "command_status")
    if isinstance(pdu, UnknownPdu):
        _check_int(pdu.command_id, 4, "command_id")
        command_id, body = pdu.command_id, pdu.body
    else:
        command_id = pdu.COMMAND_ID
        body = b"" if status and pdu.OMIT_BODY_ON_ERROR else pdu._encode_body()
    length = HEADER_LENGTH + len(body)
    return struct.pack(">IIII", length, command_id, status, sequence_number) + body


def _check_length(command_length: int, max_command_length: int) -> None:
    if command_length < HEADER_LENGTH:
        raise PduError(f"command_length {command_length} is shorter than the 16-octet header")
    if command_length > max_command_length:
        raise PduError(f"command_length {command_length} is over {max_command_length}")


def decode_header(data: bytes, max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH) -> Header:
    """The header at the start of `data`: enough to answer a PDU whose body is unreadable."""
    if len(data) < HEADER_LENGTH:
        raise PduError(f"{len(data)} octets cannot hold the 16-octet header")
    header = Header(*struct.unpack_from(">IIII", data))
    _check_length(header.command_length, max_command_length)
    return header


def _decode_body(header: Header, body: bytes) -> Pdu:
    decoder = _DECODERS.get(header.command_id)
    if decoder is None:
        return UnknownPdu(header.command_id, body)
    return decoder(_Cursor(body))


def decode(data: bytes, max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH) -> tuple[Header, Pdu]:
    """Exactly one PDU's octets into its header and body.

    C-Octet Strings must end in NUL within their spec size; short_message is read by its
    sm_length octet; TLVs we do not type are kept in `tlvs.other`. A response without a body
    (as the spec sends failed binds and submits) decodes to its defaults; a command this
    module does not implement decodes to UnknownPdu. Raises PduError otherwise.
    """
    header = decode_header(data, max_command_length)
    if len(data) != header.command_length:
        raise PduError(f"command_length is {header.command_length} but {len(data)} octets given")
    return header, _decode_body(header, data[HEADER_LENGTH:])


Frame: TypeAlias = tuple[Header, Pdu | MalformedPdu]


class PduReader:
    """Cuts a byte stream into PDUs, however the reads split or join them.

    A PDU whose body is malformed comes out as MalformedPdu and the stream goes on, because its
    command_length still says where the next one starts. A command_length outside 16 octets to
    the maximum raises PduError: nothing after it can be trusted, so the connection must be
    dropped, and every later `feed` raises too.
    """

    def __init__(self, max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH) -> None:
        if max_command_length < HEADER_LENGTH:
            raise ValueError(f"max_command_length must be at least {HEADER_LENGTH}")
        self._max = max_command_length
        self._buffer = bytearray()
        self._failure: str | None = None
        # The first octets of a stream that broke framing, for the log.
        self.rejected = b""

    @property
    def buffered(self) -> int:
        """Octets held back waiting for the rest of their PDU."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[Frame]:
        """Take the next octets read; return every PDU they complete, in order."""
        return [(header, pdu) for header, pdu, _raw in self.feed_raw(chunk)]

    def feed_raw(self, chunk: bytes) -> list[tuple[Header, Pdu | MalformedPdu, bytes]]:
        """Like `feed`, with each PDU's own octets too (to log or park what would not decode)."""
        if self._failure is not None:
            raise PduError(f"stream already failed: {self._failure}")
        self._buffer += chunk
        frames: list[tuple[Header, Pdu | MalformedPdu, bytes]] = []
        while len(self._buffer) >= 4:
            # Judge the length as soon as its 4 octets arrive, not after buffering the rest.
            (command_length,) = struct.unpack_from(">I", self._buffer)
            try:
                _check_length(command_length, self._max)
            except PduError as error:
                self._failure = str(error)
                self.rejected = bytes(self._buffer[:64])
                raise
            if len(self._buffer) < command_length:
                break
            data = bytes(self._buffer[:command_length])
            del self._buffer[:command_length]
            header = Header(*struct.unpack_from(">IIII", data))
            try:
                pdu: Pdu | MalformedPdu = _decode_body(header, data[HEADER_LENGTH:])
            except PduError as error:
                pdu = MalformedPdu(header.command_id, error.status, str(error))
            frames.append((header, pdu, data))
        return frames


# -- outbound messages --------------------------------------------------------------------------


def source_ton_npi(address: str) -> tuple[int, int]:
    """TON and NPI for a sender given as digits or a name: all digits is international/ISDN
    (1, 1), else alphanumeric (5, 0). The carrier chooses with `addresses.outbound_address`,
    which also knows national numbers and short codes."""
    if address.isascii() and address.isdigit():
        return 1, 1
    return 5, 0


# data_coding with a message class (3GPP TS 23.038 section 4, which SMPP 3.4 section 5.2.19
# defers to above 0x0F): bit 4 set says bits 1-0 are the class, bits 3-2 the alphabet. Class 0
# is "flash": shown at once, not stored. 0xF0 is the older "data coding/message class" group
# for the default alphabet, which some SMSCs want instead of 0x10 (Kannel's alt-dcs).
DCS_FLASH_GSM7: Final = 0x10
DCS_FLASH_GSM7_ALT: Final = 0xF0
DCS_FLASH_UCS2: Final = 0x18
_GSM7_CHARSETS: Final = {DataCoding.IA5: "ascii", DataCoding.LATIN1: "latin-1"}


def _relative_time(seconds: int) -> str:
    # "YYMMDDhhmmss000R" (section 7.1.1.2): an interval; years of 365 days, months of 30, as
    # SMSCs count them. Validity here is at most days, so years and months are 0 in practice.
    seconds = max(seconds, 1)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    years, days = divmod(days, 365)
    months, day = divmod(days, 30)
    years = min(years, 99)
    return f"{years:02d}{months:02d}{day:02d}{hour:02d}{minute:02d}{second:02d}000R"


def validity_period(
    valid_until: datetime | None, now: datetime, kind: Literal["relative", "absolute", "none"]
) -> str:
    """The validity_period field for a message valid until `valid_until`, sent at `now`.

    Relative ("000000000500000R": 5 minutes from when the SMSC receives it) is immune to the two
    clocks disagreeing; absolute is written in UTC ("YYMMDDhhmmss" + "000+": tenths 0, offset 0
    quarter hours). Empty with no deadline, or with kind "none".
    """
    if valid_until is None or kind == "none":
        return ""
    if kind == "relative":
        return _relative_time(math.ceil((valid_until - now).total_seconds()))
    return valid_until.astimezone(UTC).strftime("%y%m%d%H%M%S") + "000+"


def data_coding_for(gsm7: bool, *, flash: bool, gsm7_data_coding: int, alt_dcs: bool) -> int:
    """The data_coding a message goes with: UCS-2 is 8; GSM-7 is the connector's choice (0, 1 or
    3); a flash message carries message class 0 (0x10 or 0xF0 for GSM-7, 0x18 for UCS-2)."""
    if flash:
        if not gsm7:
            return DCS_FLASH_UCS2
        return DCS_FLASH_GSM7_ALT if alt_dcs else DCS_FLASH_GSM7
    if not gsm7:
        return DataCoding.UCS2
    if gsm7_data_coding not in (DataCoding.SMSC_DEFAULT, DataCoding.IA5, DataCoding.LATIN1):
        raise ValueError(f"GSM-7 goes as data_coding 0, 1 or 3, not {gsm7_data_coding}")
    return gsm7_data_coding


def _pad_with_cr(septets: bytes, fill_bits: int) -> bytes:
    # Packed, a message that leaves 7 spare bits in its last octet reads as one septet longer,
    # and SMPP has no septet count to say otherwise: TS 23.038 section 6.1.2.3.1 has the sender
    # fill those bits with CR, which receivers drop, rather than zeros, which read as '@'.
    if (fill_bits + 7 * len(septets)) % 8 == 1:
        return septets + _CR_SEPTET
    return septets


def submit_parts(
    text: str,
    *,
    source: str,
    destination: str,
    registered_delivery: bool,
    reference: int,
    source_ton: int | None = None,
    source_npi: int | None = None,
    dest_ton: int = 1,
    dest_npi: int = 1,
    gsm7_packed: bool = False,
    service_type: str = "",
    validity_period: str = "",
    gsm7_data_coding: int = DataCoding.SMSC_DEFAULT,
    flash: bool = False,
    flash_alt_dcs: bool = False,
) -> list[SubmitSm]:
    """One submit_sm per part of `smsbridge.segments.plan(text)`: the parts billed are sent.

    Pass the stored (billed) content, so planning it again yields the same parts.

    A single part has no UDH: data_coding 0 with GSM-7, 8 with UCS-2 (UTF-16BE). Several parts
    get esm_class 0x40 (UDHI) and the UDH 05 00 03 `reference` total seq, with `reference`
    the 8-bit concatenation reference (0-255), which the caller keeps distinct per destination.

    GSM-7 goes unpacked by default, one septet per octet, as most SMSCs expect for SMPP: the
    SMSC packs it (and adds the fill bit after a UDH) for the air. A full part is then 6 UDH
    octets + 153 septets = 159 octets, over the 140 of one SMS but within short_message's 254,
    and that is standard practice for data_coding 0. With `gsm7_packed` the septets are packed
    here instead: after the 6-octet UDH one fill bit puts the first septet on a septet boundary,
    and every short_message stays within 140 octets (a part that would end in 7 spare bits gets
    a CR septet there, as TS 23.038 asks). UCS-2 parts are at most 6 + 134 octets.

    `gsm7_data_coding` 1 (IA5) or 3 (Latin-1) sends GSM-7 parts as those octets, for SMSCs
    that want them (the same parts, so the same count billed); a part with a character that
    charset lacks (Latin-1 has no Greek capitals or euro sign, IA5 no accents or pound sign)
    raises ValueError rather than going garbled. `flash` sets message class 0 in data_coding.

    `source_ton`/`source_npi` default to `source_ton_npi(source)`; `registered_delivery` asks
    for a receipt on final success or failure.
    """
    if not 0 <= reference <= 0xFF:
        raise ValueError(f"reference must be 0-255 for an 8-bit concatenation UDH, not {reference}")
    guessed_ton, guessed_npi = source_ton_npi(source)
    segments = plan(text)
    gsm7 = segments.encoding is Encoding.GSM7
    data_coding = data_coding_for(
        gsm7, flash=flash, gsm7_data_coding=gsm7_data_coding, alt_dcs=flash_alt_dcs
    )
    charset = _GSM7_CHARSETS.get(DataCoding(data_coding)) if data_coding <= 0x0F else None
    total = len(segments.parts)
    if total > 0xFF:
        # The UDH counts parts in one octet; `plan` would need a 39 KB message to get here.
        raise ValueError(f"{total} parts do not fit an 8-bit concatenation UDH")
    submits: list[SubmitSm] = []
    for seq, part in enumerate(segments.parts, start=1):
        payload = encode_part(part, segments.encoding)
        if charset is not None:
            try:
                payload = part.encode(charset)
            except UnicodeEncodeError as error:
                bad = part[error.start]
                raise ValueError(
                    f"this connection sends GSM-7 as data_coding {data_coding} ({charset}), "
                    f"which cannot carry {bad!r}"
                ) from None
        udh = b"" if total == 1 else _CONCAT_UDH_PREFIX + bytes((reference, total, seq))
        if gsm7 and gsm7_packed and charset is None:
            fill_bits = _CONCAT_UDH_FILL_BITS if udh else 0
            payload = pack_septets(_pad_with_cr(payload, fill_bits), fill_bits)
        submits.append(
            SubmitSm(
                service_type=service_type,
                source_addr_ton=guessed_ton if source_ton is None else source_ton,
                source_addr_npi=guessed_npi if source_npi is None else source_npi,
                source_addr=source,
                dest_addr_ton=dest_ton,
                dest_addr_npi=dest_npi,
                destination_addr=destination,
                esm_class=ESM_UDHI if udh else 0,
                validity_period=validity_period,
                registered_delivery=1 if registered_delivery else 0,
                data_coding=data_coding,
                short_message=udh + payload,
            )
        )
    return submits
