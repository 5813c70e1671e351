"""The GSM 03.38 default alphabet: tables, septet counts, encoding and septet (un)packing."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

# The septet that announces a character from the extension table.
ESCAPE: Final = 0x1B

# The basic table (3GPP TS 23.038 section 6.2.1), indexed by septet value. Written out row by
# row so it can be checked against the spec at a glance; tests re-check it against an
# independent list of code points. 0x09 is the capital C cedilla: many libraries use the small
# one, which is not in the alphabet at all. 0x1B is the escape, not a character: the
# placeholder there is never encoded, because the reverse map below leaves it out.
_BASIC: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

# The extension table (section 6.2.1.1): reached by ESC + value, so each costs two septets.
# Only these ten are defined for the default alphabet; the rest of the table is either
# reserved or belongs to national language shift tables, which we do not use.
_EXTENSION: Final[Mapping[int, str]] = MappingProxyType(
    {
        0x0A: "\f",
        0x14: "^",
        0x28: "{",
        0x29: "}",
        0x2F: "\\",
        0x3C: "[",
        0x3D: "~",
        0x3E: "]",
        0x40: "|",
        0x65: "€",
    }
)

_BASIC_SEPTET: Final[Mapping[str, int]] = MappingProxyType(
    {char: value for value, char in enumerate(_BASIC) if value != ESCAPE}
)
_EXTENSION_SEPTET: Final[Mapping[str, int]] = MappingProxyType(
    {char: value for value, char in _EXTENSION.items()}
)

# What each representable character costs in septets: the single lookup used for counting.
_COST: Final[Mapping[str, int]] = MappingProxyType(
    {**dict.fromkeys(_BASIC_SEPTET, 1), **dict.fromkeys(_EXTENSION_SEPTET, 2)}
)

_MAX_FILL_BITS: Final = 6


def _not_gsm(char: str, index: int) -> ValueError:
    return ValueError(
        f"{char!r} (U+{ord(char):04X}) at index {index} is not in the GSM 03.38 alphabet"
    )


def is_gsm7(text: str) -> bool:
    """True if every character is in the basic or extension table."""
    return all(char in _COST for char in text)


def septet_length(text: str) -> int:
    """Septets needed for `text`: 1 per basic character, 2 per extension character."""
    total = 0
    for index, char in enumerate(text):
        cost = _COST.get(char)
        if cost is None:
            raise _not_gsm(char, index)
        total += cost
    return total


def encode_gsm7(text: str) -> bytes:
    """Unpacked septets, one per byte, with ESC before each extension character."""
    out = bytearray()
    for index, char in enumerate(text):
        value = _BASIC_SEPTET.get(char)
        if value is not None:
            out.append(value)
            continue
        value = _EXTENSION_SEPTET.get(char)
        if value is None:
            raise _not_gsm(char, index)
        out += bytes((ESCAPE, value))
    return bytes(out)


def _check_septet(value: int, index: int) -> None:
    if value > 0x7F:
        raise ValueError(f"byte 0x{value:02X} at index {index} is not a septet")


def decode_gsm7(data: bytes) -> str:
    """Text for unpacked septets; the inverse of `encode_gsm7`, lenient as a handset is.

    Malformed escapes are decoded the way TS 23.038 tells a receiver to display them rather
    than rejected, because this also reads what other systems send us:

    - ESC + a value the extension table does not define: the basic-table character.
    - ESC + ESC (reserved for a further extension table): a space.
    - ESC as the very last septet (another sender split an escape across parts): dropped.
    """
    out: list[str] = []
    index = 0
    while index < len(data):
        value = data[index]
        _check_septet(value, index)
        if value != ESCAPE:
            out.append(_BASIC[value])
            index += 1
            continue
        if index + 1 == len(data):
            break
        following = data[index + 1]
        _check_septet(following, index + 1)
        extension = _EXTENSION.get(following)
        if extension is not None:
            out.append(extension)
        elif following == ESCAPE:
            out.append(" ")
        else:
            out.append(_BASIC[following])
        index += 2
    return "".join(out)


def _check_fill_bits(fill_bits: int) -> None:
    # Fill bits only pad a UDH up to the next septet boundary, so there are at most six.
    if not 0 <= fill_bits <= _MAX_FILL_BITS:
        raise ValueError(f"fill_bits must be 0-{_MAX_FILL_BITS}, not {fill_bits}")


def pack_septets(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack septets 8 to 7 octets, least significant bit first (TS 23.038 section 6.1.2.1).

    `fill_bits` zero bits come first, so the result can follow a UDH whose length is not a
    whole number of septets (a 6-octet concatenation UDH needs 1). Unused high bits of the
    last octet are zero: the SMS user data length is counted in septets, so a receiver never
    mistakes that padding for an '@'.
    """
    _check_fill_bits(fill_bits)
    if not septets:
        return b""
    out = bytearray()
    accumulator = 0
    bits = fill_bits
    for index, value in enumerate(septets):
        _check_septet(value, index)
        accumulator |= value << bits
        bits += 7
        while bits >= 8:
            out.append(accumulator & 0xFF)
            accumulator >>= 8
            bits -= 8
    if bits:
        out.append(accumulator & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    """The first `count` septets of packed `data`, skipping `fill_bits` leading bits.

    `count` is needed because the octets alone cannot tell 7 septets from 8 whose last is '@'.
    """
    _check_fill_bits(fill_bits)
    if count < 0:
        raise ValueError(f"count must not be negative, not {count}")
    # No septets means no octets, fill bits or not: the same rule `pack_septets` follows.
    needed = (fill_bits + 7 * count + 7) // 8 if count else 0
    if len(data) < needed:
        raise ValueError(f"{count} septets need {needed} octets; got {len(data)}")
    out = bytearray()
    for index in range(count):
        octet, offset = divmod(fill_bits + 7 * index, 8)
        value = data[octet] >> offset
        if offset > 1:
            # The septet straddles two octets; `needed` guarantees the second one is there.
            value |= data[octet + 1] << (8 - offset)
        out.append(value & 0x7F)
    return bytes(out)
