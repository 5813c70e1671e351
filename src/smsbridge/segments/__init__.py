"""Exact GSM 03.38 / UCS-2 encoding and message splitting, shared by billing and submission."""

from smsbridge.segments.gsm7 import (
    decode_gsm7,
    encode_gsm7,
    is_gsm7,
    pack_septets,
    septet_length,
    unpack_septets,
)
from smsbridge.segments.smart import smart_encode
from smsbridge.segments.splitter import (
    Encoding,
    SegmentPlan,
    encode_part,
    normalise_newlines,
    plan,
)

__all__ = [
    "Encoding",
    "SegmentPlan",
    "decode_gsm7",
    "encode_gsm7",
    "encode_part",
    "is_gsm7",
    "normalise_newlines",
    "pack_septets",
    "plan",
    "septet_length",
    "smart_encode",
    "unpack_septets",
]
