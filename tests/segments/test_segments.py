"""Encoding choice, smart encoding and splitting into the parts that are billed and sent."""

from __future__ import annotations

import math
import random

import pytest
import regex  # type: ignore[import-untyped]

from smsbridge.segments import (
    Encoding,
    SegmentPlan,
    decode_gsm7,
    encode_part,
    is_gsm7,
    normalise_newlines,
    plan,
    septet_length,
    smart_encode,
)
from smsbridge.segments.smart import SMART_SUBSTITUTIONS

CYRILLIC = "\u044f"  # one UTF-16 unit, not GSM-7: forces UCS-2
GRINNING = "\U0001f600"  # a surrogate pair: two units, one character
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 4 pairs + 3 ZWJ = 11
FLAG_GB = "\U0001f1ec\U0001f1e7"  # two regional indicators: 4 units, one character
THUMBS_MEDIUM = "\U0001f44d\U0001f3fd"  # emoji + skin tone: 4 units, one character
E_ACUTE_COMBINING = "e\u0301"  # base + combining mark: 2 units, one character


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-be")) // 2


def part_units(part: str, encoding: Encoding) -> int:
    return septet_length(part) if encoding is Encoding.GSM7 else utf16_units(part)


def assert_well_formed(result: SegmentPlan) -> None:
    """What must hold for every plan, whatever the text."""
    single, limit = (160, 153) if result.encoding is Encoding.GSM7 else (70, 67)
    units = [part_units(part, result.encoding) for part in result.parts]
    assert sum(units) == result.units
    assert result.segments == len(result.parts) >= 1
    if result.units <= single:
        assert result.segments == 1
    else:
        assert all(0 < used <= limit for used in units)
        assert result.segments >= math.ceil(result.units / limit)
    for part in result.parts:
        encoded = encode_part(part, result.encoding)
        if result.encoding is Encoding.GSM7:
            assert len(encoded) == part_units(part, result.encoding)
            assert not encoded.endswith(b"\x1b")  # an escape never ends a part
            assert decode_gsm7(encoded) == part
        else:
            assert len(encoded) == 2 * part_units(part, result.encoding)
            assert encoded.decode("utf-16-be") == part  # strict: no split surrogate pair


# Empty and short texts.


def test_empty_text_is_one_empty_gsm7_part() -> None:
    result = plan("")
    assert result == SegmentPlan(Encoding.GSM7, ("",), 0, 0, False)
    assert result.segments == 1
    assert result.remaining == 160


def test_encoding_values() -> None:
    assert str(Encoding.GSM7) == "GSM-7"
    assert str(Encoding.UCS2) == "UCS-2"


def test_plan_is_frozen() -> None:
    result = plan("hi")
    with pytest.raises(AttributeError):
        result.units = 3  # type: ignore[misc]


# GSM-7 boundaries.


@pytest.mark.parametrize(
    ("length", "segments", "remaining"),
    [
        (1, 1, 159),
        (160, 1, 0),
        (161, 2, 153 - 8),
        (153 * 2, 2, 0),
        (153 * 2 + 1, 3, 152),
        (153 * 3, 3, 0),
    ],
)
def test_gsm7_boundaries(length: int, segments: int, remaining: int) -> None:
    result = plan("a" * length)
    assert result.encoding is Encoding.GSM7
    assert result.segments == segments
    assert result.units == length
    assert result.remaining == remaining
    assert "".join(result.parts) == "a" * length
    if segments > 1:
        assert [len(part) for part in result.parts[:-1]] == [153] * (segments - 1)
    assert_well_formed(result)


def test_euro_counts_two_at_the_single_limit() -> None:
    assert plan("€" * 80).segments == 1
    assert plan("€" * 80).units == 160
    assert plan("€" * 80 + "a").segments == 2
    assert plan("€" * 80 + "a").characters == 81


def test_extension_character_moves_whole_to_the_next_part() -> None:
    # 152 septets, then a 2-septet euro that would straddle 153: it moves, ESC and all.
    result = plan("a" * 152 + "€" + "b" * 10)
    assert result.parts == ("a" * 152, "€" + "b" * 10)
    assert result.units == 164
    assert encode_part(result.parts[1], Encoding.GSM7)[:2] == b"\x1b\x65"
    assert_well_formed(result)


def test_extension_character_that_fits_exactly_stays() -> None:
    result = plan("a" * 151 + "[" + "b" * 10)
    assert result.parts == ("a" * 151 + "[", "b" * 10)
    assert_well_formed(result)


def test_moved_escape_can_add_a_segment() -> None:
    # 306 septets fit two parts of 153 only if cut mid-escape; uncut, they need three.
    text = "a" * 152 + "~" + "b" * 152
    result = plan(text)
    assert result.units == 306
    assert result.parts == ("a" * 152, "~" + "b" * 151, "b")
    assert result.segments == 3
    assert_well_formed(result)


# UCS-2 boundaries.


@pytest.mark.parametrize(
    ("length", "segments", "remaining"),
    [
        (1, 1, 69),
        (70, 1, 0),
        (71, 2, 67 - 4),
        (67 * 2, 2, 0),
        (67 * 2 + 1, 3, 66),
    ],
)
def test_ucs2_boundaries(length: int, segments: int, remaining: int) -> None:
    result = plan(CYRILLIC * length)
    assert result.encoding is Encoding.UCS2
    assert result.segments == segments
    assert result.units == length
    assert result.remaining == remaining
    assert_well_formed(result)


def test_emoji_is_two_units_and_one_character() -> None:
    result = plan(GRINNING)
    assert result.encoding is Encoding.UCS2
    assert result.units == 2
    assert result.characters == 1
    assert result.remaining == 68
    assert plan(GRINNING * 35).segments == 1
    assert plan(GRINNING * 35 + "a").segments == 2


def test_one_non_gsm_character_makes_the_whole_message_ucs2() -> None:
    result = plan("a" * 100 + "ç")
    assert result.encoding is Encoding.UCS2
    assert result.units == 101
    assert result.segments == 2


def test_surrogate_pair_is_not_split() -> None:
    result = plan(CYRILLIC * 66 + GRINNING + CYRILLIC * 10)
    assert result.parts == (CYRILLIC * 66, GRINNING + CYRILLIC * 10)
    assert_well_formed(result)


@pytest.mark.parametrize(
    "cluster", [FAMILY, FLAG_GB, THUMBS_MEDIUM, E_ACUTE_COMBINING], ids=lambda c: repr(c)
)
def test_grapheme_cluster_is_not_split(cluster: str) -> None:
    # Place the cluster so all but its last unit would fit in the first part.
    prefix = 67 - utf16_units(cluster) + 1
    text = CYRILLIC * prefix + cluster + CYRILLIC * 10
    result = plan(text)
    assert result.parts == (CYRILLIC * prefix, cluster + CYRILLIC * 10)
    assert result.characters == prefix + 1 + 10
    assert_well_formed(result)


def test_grapheme_cluster_that_fits_exactly_stays() -> None:
    text = CYRILLIC * 56 + FAMILY + CYRILLIC * 10
    result = plan(text)
    assert result.parts == (CYRILLIC * 56 + FAMILY, CYRILLIC * 10)
    assert_well_formed(result)


def test_flags_side_by_side_split_between_flags() -> None:
    # Regional indicators pair up in order; a naive split could re-pair them into other flags.
    text = CYRILLIC * 65 + FLAG_GB * 3
    result = plan(text)
    assert result.parts == (CYRILLIC * 65, FLAG_GB * 3)
    assert result.characters == 68


def test_oversized_cluster_falls_back_to_code_points() -> None:
    # One base letter carrying 100 combining marks is a single 101-unit cluster.
    zalgo = "a" + "\u0301" * 100
    result = plan(zalgo)
    assert result.characters == 1
    assert result.units == 101
    assert [utf16_units(part) for part in result.parts] == [67, 34]
    assert_well_formed(result)


def test_oversized_cluster_keeps_surrogate_pairs_whole() -> None:
    # MUSICAL SYMBOL COMBINING STEM is an astral combining mark: 2 units each.
    text = CYRILLIC * 3 + "a" + "\U0001d165" * 40
    result = plan(text)
    assert result.units == 84
    assert [utf16_units(part) for part in result.parts] == [66, 18]
    assert_well_formed(result)


def test_lone_surrogate_is_refused() -> None:
    with pytest.raises(ValueError, match="lone surrogate U\\+D83D at index 2"):
        plan("hi\ud83d")


# Newlines.


def test_crlf_counts_as_one() -> None:
    result = plan("a\r\nb")
    assert result.parts == ("a\nb",)
    assert result.units == 3
    assert result.characters == 3


def test_lone_cr_becomes_lf() -> None:
    assert normalise_newlines("a\rb\r\nc\n\rd") == "a\nb\nc\n\nd"
    assert plan("a\rb").parts == ("a\nb",)


def test_crlf_at_the_single_limit() -> None:
    text = "a" * 158 + "\r\n" + "b"
    result = plan(text)
    assert result.units == 160
    assert result.segments == 1


# Smart encoding.


def test_smart_encoding_turns_typography_into_gsm7() -> None:
    text = "\u201cHello\u201d \u2013 it\u2019s\u00a0fine\u2026"
    assert plan(text).encoding is Encoding.UCS2
    result = plan(text, smart_encoding=True)
    assert result.encoding is Encoding.GSM7
    assert result.smart_encoded
    assert result.parts == ('"Hello" - it\'s fine...',)


def test_smart_encoding_leaves_a_genuine_emoji_text_alone() -> None:
    text = "It\u2019s done " + GRINNING
    result = plan(text, smart_encoding=True)
    assert result.encoding is Encoding.UCS2
    assert not result.smart_encoded
    assert result.parts == (text,)


def test_smart_encoding_leaves_gsm7_text_alone() -> None:
    result = plan("Plain 'text' - fine", smart_encoding=True)
    assert not result.smart_encoded
    assert result.parts == ("Plain 'text' - fine",)


def test_smart_encoding_can_cut_segments() -> None:
    text = "\u2019" + "a" * 100
    assert plan(text).segments == 2
    assert plan(text, smart_encoding=True).segments == 1


def test_smart_encoding_removes_invisible_characters() -> None:
    result = plan("zero\u200bwidth\ufeff", smart_encoding=True)
    assert result.parts == ("zerowidth",)
    assert result.smart_encoded


def test_smart_encoding_does_not_touch_letters_or_bullets() -> None:
    assert smart_encode("ç • é ©") == "ç • é ©"
    assert plan("Fa\u00e7ade", smart_encoding=True).encoding is Encoding.UCS2


def test_smart_table_maps_non_gsm_to_gsm() -> None:
    for source, target in SMART_SUBSTITUTIONS.items():
        assert len(source) == 1
        assert not is_gsm7(source), f"U+{ord(source):04X} is GSM-7 already"
        assert is_gsm7(target), f"U+{ord(source):04X} maps to non-GSM {target!r}"


def test_smart_encode_is_identity_on_gsm7() -> None:
    text = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "`")
    assert is_gsm7(text)
    assert smart_encode(text) == text


# encode_part.


def test_encode_part() -> None:
    assert encode_part("a€", Encoding.GSM7) == b"\x61\x1b\x65"
    assert encode_part("a" + GRINNING, Encoding.UCS2) == b"\x00\x61\xd8\x3d\xde\x00"


# Property-style: random texts over an alphabet chosen to hit every awkward case.

GSM_BASIC_SAMPLE = "aZ09 @£$¥èÇ\nØΔ_ΦΣΞÆßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà"
GSM_EXTENSION = "^{}\\[~]|€\f"
SMART_ABLE = "\u2019\u201c\u2013\u2026\u00a0`\t\u200b"
NON_GSM_BMP = "çáê\u044f\u4e2d\u00bd"
ASTRAL = GRINNING + "\U0001f44d\U0001d11e"
JOINERS = "\u200d\u0301\u0308\U0001f3fd\ufe0f"
CLUSTERS = [FAMILY, FLAG_GB, THUMBS_MEDIUM, E_ACUTE_COMBINING, "\r\n", "\r"]


def random_text(rng: random.Random) -> str:
    """GSM-7 only, GSM-7 plus smart-encodable look-alikes, or anything (mostly UCS-2)."""
    length = rng.choice([rng.randint(0, 20), rng.randint(140, 180), rng.randint(0, 500)])
    pools: list[str | list[str]] = [GSM_BASIC_SAMPLE, GSM_EXTENSION, CLUSTERS[-2:]]
    weights = [40, 4, 1]
    mode = rng.random()
    if mode > 0.3:
        # Rare enough that some texts of this kind stay entirely smart-encodable.
        pools.append(SMART_ABLE)
        weights.append(1)
    if mode > 0.6:
        pools += [NON_GSM_BMP, ASTRAL, JOINERS, CLUSTERS]
        weights += [4, 4, 2, 4]
    return "".join(rng.choice(rng.choices(pools, weights)[0]) for _ in range(length))


def atoms(text: str, encoding: Encoding) -> list[str]:
    """The indivisible pieces the splitter may not cut, per the rules in the brief."""
    if encoding is Encoding.GSM7:
        return list(text)
    pieces: list[str] = []
    for cluster in regex.findall(r"\X", text):
        pieces.extend(cluster if utf16_units(cluster) > 67 else [cluster])
    return pieces


@pytest.mark.parametrize("smart_encoding", [False, True])
def test_random_texts(smart_encoding: bool) -> None:
    rng = random.Random(20381)
    seen: set[tuple[Encoding, bool, bool]] = set()
    for _ in range(2000):
        text = random_text(rng)
        result = plan(text, smart_encoding=smart_encoding)
        seen.add((result.encoding, result.smart_encoded, result.segments > 1))
        body = normalise_newlines(text)
        if result.smart_encoded:
            assert smart_encoding
            assert not is_gsm7(body)
            body = smart_encode(body)
        assert "".join(result.parts) == body
        assert result.encoding is (Encoding.GSM7 if is_gsm7(body) else Encoding.UCS2)
        assert result.characters == len(regex.findall(r"\X", body))
        assert_well_formed(result)

        # Parts are made of whole atoms, and greedily: no part could also have held the
        # first atom of the next one.
        if result.segments > 1:
            limit = 153 if result.encoding is Encoding.GSM7 else 67
            pieces = iter(atoms(body, result.encoding))
            for index, part in enumerate(result.parts):
                taken = ""
                while taken != part:
                    assert len(taken) < len(part), "a part boundary cut an atom"
                    taken += next(pieces)
                if index + 1 < len(result.parts):
                    following = atoms(result.parts[index + 1], result.encoding)[0]
                    used = part_units(part, result.encoding)
                    assert used + part_units(following, result.encoding) > limit

        # Without extension characters, the count is exactly the arithmetic one.
        if result.encoding is Encoding.GSM7 and not any(c in GSM_EXTENSION for c in body):
            expected = 1 if result.units <= 160 else math.ceil(result.units / 153)
            assert result.segments == expected
    # The generator really reached every kind of plan.
    expected_kinds = {(encoding, False, multi) for encoding in Encoding for multi in (False, True)}
    if smart_encoding:
        expected_kinds |= {(Encoding.GSM7, True, False), (Encoding.GSM7, True, True)}
    assert expected_kinds <= seen
