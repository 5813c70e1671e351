"""The GSM 03.38 tables, septet counting, encode/decode and packing, checked against the spec."""

from __future__ import annotations

import pytest

from smsbridge.segments import (
    decode_gsm7,
    encode_gsm7,
    is_gsm7,
    pack_septets,
    septet_length,
    unpack_septets,
)

# TS 23.038 figure 6.2.1, typed out independently of the implementation as code points, so a
# wrong glyph in the module's table cannot hide behind the same wrong glyph here.
SPEC_BASIC: dict[int, int] = {
    0x00: 0x0040, 0x01: 0x00A3, 0x02: 0x0024, 0x03: 0x00A5,
    0x04: 0x00E8, 0x05: 0x00E9, 0x06: 0x00F9, 0x07: 0x00EC,
    0x08: 0x00F2, 0x09: 0x00C7, 0x0A: 0x000A, 0x0B: 0x00D8,
    0x0C: 0x00F8, 0x0D: 0x000D, 0x0E: 0x00C5, 0x0F: 0x00E5,
    0x10: 0x0394, 0x11: 0x005F, 0x12: 0x03A6, 0x13: 0x0393,
    0x14: 0x039B, 0x15: 0x03A9, 0x16: 0x03A0, 0x17: 0x03A8,
    0x18: 0x03A3, 0x19: 0x0398, 0x1A: 0x039E,  # 0x1B is ESC
    0x1C: 0x00C6, 0x1D: 0x00E6, 0x1E: 0x00DF, 0x1F: 0x00C9,
    0x20: 0x0020, 0x21: 0x0021, 0x22: 0x0022, 0x23: 0x0023,
    0x24: 0x00A4, 0x25: 0x0025, 0x26: 0x0026, 0x27: 0x0027,
    0x28: 0x0028, 0x29: 0x0029, 0x2A: 0x002A, 0x2B: 0x002B,
    0x2C: 0x002C, 0x2D: 0x002D, 0x2E: 0x002E, 0x2F: 0x002F,
    **{0x30 + digit: 0x0030 + digit for digit in range(10)},
    0x3A: 0x003A, 0x3B: 0x003B, 0x3C: 0x003C, 0x3D: 0x003D,
    0x3E: 0x003E, 0x3F: 0x003F,
    0x40: 0x00A1,
    **{0x41 + letter: 0x0041 + letter for letter in range(26)},
    0x5B: 0x00C4, 0x5C: 0x00D6, 0x5D: 0x00D1, 0x5E: 0x00DC, 0x5F: 0x00A7,
    0x60: 0x00BF,
    **{0x61 + letter: 0x0061 + letter for letter in range(26)},
    0x7B: 0x00E4, 0x7C: 0x00F6, 0x7D: 0x00F1, 0x7E: 0x00FC, 0x7F: 0x00E0,
}  # fmt: skip

SPEC_EXTENSION: dict[int, int] = {
    0x0A: 0x000C, 0x14: 0x005E, 0x28: 0x007B, 0x29: 0x007D, 0x2F: 0x005C,
    0x3C: 0x005B, 0x3D: 0x007E, 0x3E: 0x005D, 0x40: 0x007C, 0x65: 0x20AC,
}  # fmt: skip


def test_spec_tables_are_complete() -> None:
    assert len(SPEC_BASIC) == 127
    assert sorted(SPEC_BASIC) == [value for value in range(128) if value != 0x1B]
    assert len(set(SPEC_BASIC.values()) | set(SPEC_EXTENSION.values())) == 137


@pytest.mark.parametrize(("septet", "code_point"), sorted(SPEC_BASIC.items()))
def test_basic_character_round_trips(septet: int, code_point: int) -> None:
    char = chr(code_point)
    assert is_gsm7(char)
    assert septet_length(char) == 1
    assert encode_gsm7(char) == bytes([septet])
    assert decode_gsm7(bytes([septet])) == char


@pytest.mark.parametrize(("septet", "code_point"), sorted(SPEC_EXTENSION.items()))
def test_extension_character_round_trips(septet: int, code_point: int) -> None:
    char = chr(code_point)
    assert is_gsm7(char)
    assert septet_length(char) == 2
    assert encode_gsm7(char) == bytes([0x1B, septet])
    assert decode_gsm7(bytes([0x1B, septet])) == char


def test_whole_alphabet_round_trips_in_one_string() -> None:
    text = "".join(chr(c) for c in SPEC_BASIC.values()) + "".join(
        chr(c) for c in SPEC_EXTENSION.values()
    )
    encoded = encode_gsm7(text)
    assert len(encoded) == septet_length(text) == 127 + 2 * 10
    assert decode_gsm7(encoded) == text
    assert unpack_septets(pack_septets(encoded), len(encoded)) == encoded


def test_every_other_bmp_character_is_not_gsm7() -> None:
    known = {chr(c) for c in SPEC_BASIC.values()} | {chr(c) for c in SPEC_EXTENSION.values()}
    strays = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF and chr(c) not in known]
    assert not any(is_gsm7(char) for char in strays)


# Traps that popular counters fall into.


def test_euro_costs_two_septets() -> None:
    assert septet_length("€") == 2
    assert septet_length("10€") == 4


@pytest.mark.parametrize(
    "char", ["`", "ç", "\t", "\x1b", "\x00", "©", "¢", "\u2026", "\u2019", "\U0001f600"]
)
def test_lookalikes_and_ascii_outsiders_are_not_gsm7(char: str) -> None:
    assert not is_gsm7(char)
    assert not is_gsm7(f"abc{char}def")
    with pytest.raises(ValueError, match=r"not in the GSM 03\.38 alphabet"):
        septet_length(char)
    with pytest.raises(ValueError, match="at index 3"):
        encode_gsm7(f"abc{char}")


def test_capital_c_cedilla_is_0x09_and_small_is_not_gsm7() -> None:
    assert encode_gsm7("Ç") == b"\x09"
    assert not is_gsm7("ç")


@pytest.mark.parametrize("char", list("^{}\\[~]|€\f"))
def test_extension_characters_cost_two(char: str) -> None:
    assert septet_length(char) == 2
    assert encode_gsm7(char)[0] == 0x1B


def test_ascii_positions_that_differ_from_ascii() -> None:
    # '@' is septet 0 (not 0x40), '$' is 0x02 (0x24 is the currency sign), '_' is 0x11.
    assert encode_gsm7("@$_¤¡") == bytes([0x00, 0x02, 0x11, 0x24, 0x40])


def test_newlines_cost_one_each() -> None:
    assert encode_gsm7("\n\r") == b"\x0a\x0d"
    assert septet_length("a\r\nb") == 4  # raw CRLF is two septets; plan() normalises first


def test_empty_text() -> None:
    assert is_gsm7("")
    assert septet_length("") == 0
    assert encode_gsm7("") == b""
    assert decode_gsm7(b"") == ""


# Lenient decoding of malformed escapes, per the receiver rules in TS 23.038.


def test_trailing_lone_escape_is_dropped() -> None:
    assert decode_gsm7(b"\x68\x69\x1b") == "hi"
    assert decode_gsm7(b"\x1b") == ""


def test_escape_to_undefined_extension_shows_basic_character() -> None:
    assert decode_gsm7(b"\x1b\x41") == "A"


def test_double_escape_shows_a_space() -> None:
    assert decode_gsm7(b"\x61\x1b\x1b\x62") == "a b"


@pytest.mark.parametrize("data", [b"\x80", b"ab\xff", b"\x1b\x80"])
def test_decode_rejects_non_septets(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a septet"):
        decode_gsm7(data)


# Packing.


def test_pack_known_vector_hellohello() -> None:
    assert pack_septets(encode_gsm7("hellohello")) == bytes.fromhex("E8329BFD4697D9EC37")


def test_pack_known_vector_eight_digits() -> None:
    # Eight septets fill exactly seven octets.
    assert pack_septets(encode_gsm7("12345678")) == bytes.fromhex("31D98C56B3DD70")


def test_pack_with_one_fill_bit() -> None:
    # The stream is the unfilled one shifted up by one bit: 71 bits, still nine octets.
    packed = pack_septets(encode_gsm7("hellohello"), fill_bits=1)
    assert packed == bytes.fromhex("D06536FB8D2EB3D96F")
    assert decode_gsm7(unpack_septets(packed, 10, fill_bits=1)) == "hellohello"


@pytest.mark.parametrize("fill_bits", range(7))
@pytest.mark.parametrize("length", [0, 1, 6, 7, 8, 9, 15, 16, 153, 160])
def test_fill_bits_shift_the_bit_stream(fill_bits: int, length: int) -> None:
    septets = bytes((i * 37 + 11) % 128 for i in range(length))
    plain = pack_septets(septets)
    filled = pack_septets(septets, fill_bits)
    expected_octets = 0 if length == 0 else (fill_bits + 7 * length + 7) // 8
    assert len(filled) == expected_octets
    assert int.from_bytes(filled, "little") == int.from_bytes(plain, "little") << fill_bits
    assert unpack_septets(filled, length, fill_bits) == septets


def test_full_parts_fill_140_octets() -> None:
    # A lone SMS: 160 septets in 140 octets.
    assert len(pack_septets(bytes(160))) == 140
    # A concatenated part: 6-octet UDH + 1 fill bit + 153 septets is exactly 140 octets.
    assert 6 + len(pack_septets(bytes(153), fill_bits=1)) == 140


def test_unpack_ignores_trailing_padding() -> None:
    # Seven septets leave one spare bit; the count, not the octets, says where text ends.
    packed = pack_septets(encode_gsm7("1234567"))
    assert len(packed) == 7
    assert unpack_septets(packed, 7) == encode_gsm7("1234567")
    assert unpack_septets(packed, 8)[-1] == 0x00  # the '@' a count-less reader would invent


@pytest.mark.parametrize("fill_bits", [-1, 7, 8])
def test_fill_bits_out_of_range(fill_bits: int) -> None:
    with pytest.raises(ValueError, match="fill_bits"):
        pack_septets(b"\x01", fill_bits)
    with pytest.raises(ValueError, match="fill_bits"):
        unpack_septets(b"\x01", 1, fill_bits)


def test_pack_rejects_non_septets() -> None:
    with pytest.raises(ValueError, match="not a septet"):
        pack_septets(b"\x01\x80")


def test_unpack_rejects_short_data_and_negative_count() -> None:
    with pytest.raises(ValueError, match="need 9 octets"):
        unpack_septets(bytes(8), 10)
    with pytest.raises(ValueError, match="need 1 octets"):
        unpack_septets(b"", 1, fill_bits=1)
    with pytest.raises(ValueError, match="negative"):
        unpack_septets(b"", -1)
