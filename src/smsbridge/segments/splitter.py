"""Choose a message's encoding and split it into the exact parts that are billed and sent."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import regex  # type: ignore[import-untyped]

from smsbridge.segments.gsm7 import encode_gsm7, is_gsm7, septet_length
from smsbridge.segments.smart import smart_encode

# 140 octets of user data per SMS. Alone, that is 160 septets or 70 UTF-16 code units. A part
# of a concatenated message gives 6 octets to the UDH (8-bit reference), leaving 153 septets
# (with 1 fill bit: 6*8 + 1 + 153*7 = 1120 bits = 140 octets) or 67 code units (134 octets).
GSM7_SINGLE_LIMIT: Final = 160
GSM7_PART_LIMIT: Final = 153
UCS2_SINGLE_LIMIT: Final = 70
UCS2_PART_LIMIT: Final = 67

# One user-perceived character (extended grapheme cluster): emoji ZWJ sequences, flags, skin
# tones, base + combining marks. The stdlib `re` has no \X, hence the `regex` package.
_GRAPHEME: Final = regex.compile(r"\X")


class Encoding(enum.StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


def _utf16_units(text: str) -> int:
    # Astral code points (most emoji) are a surrogate pair: two units, two octets each.
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _units(text: str, encoding: Encoding) -> int:
    return septet_length(text) if encoding is Encoding.GSM7 else _utf16_units(text)


def _limits(encoding: Encoding) -> tuple[int, int]:
    if encoding is Encoding.GSM7:
        return GSM7_SINGLE_LIMIT, GSM7_PART_LIMIT
    return UCS2_SINGLE_LIMIT, UCS2_PART_LIMIT


@dataclass(frozen=True)
class SegmentPlan:
    """How one message is encoded and split.

    `parts` joined is the text that is sent (newlines normalised, smart-encoded if
    `smart_encoded`), so callers store that rather than the text they were given. Empty text
    plans as one empty part: a message is always at least one SMS.
    """

    encoding: Encoding
    parts: tuple[str, ...]
    units: int
    """Septets for GSM-7, UTF-16 code units for UCS-2, over the whole message."""
    characters: int
    """Grapheme clusters: what a person would count."""
    smart_encoded: bool

    @property
    def segments(self) -> int:
        return len(self.parts)

    @property
    def remaining(self) -> int:
        """Units still free in the last part before it fills up.

        For a single part that is measured against the single-SMS limit (160/70), otherwise
        against the per-part limit (153/67). An extension character needs two of them.
        """
        single, part = _limits(self.encoding)
        limit = single if len(self.parts) == 1 else part
        return limit - _units(self.parts[-1], self.encoding)


def normalise_newlines(text: str) -> str:
    """CRLF and lone CR become LF, so a line break costs one unit however it was typed."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _gsm7_atoms(text: str) -> Iterator[tuple[str, int]]:
    # Each character is indivisible: an extension character's ESC and value must stay together.
    # GSM-7 has no combining marks or joiners, so characters are already grapheme clusters.
    for char in text:
        yield char, septet_length(char)


def _ucs2_atoms(text: str) -> Iterator[tuple[str, int]]:
    clusters: list[str] = _GRAPHEME.findall(text)
    for cluster in clusters:
        units = _utf16_units(cluster)
        if units <= UCS2_PART_LIMIT:
            yield cluster, units
        else:
            # A cluster that cannot fit any part (e.g. a base with dozens of combining marks)
            # has to break somewhere; code points keep surrogate pairs whole.
            for char in cluster:
                yield char, _utf16_units(char)


def _pack(atoms: Iterator[tuple[str, int]], limit: int) -> tuple[str, ...]:
    """Greedy: fill each part with whole atoms until the next would overflow it."""
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for atom, units in atoms:
        if current and used + units > limit:
            parts.append("".join(current))
            current = []
            used = 0
        current.append(atom)
        used += units
    parts.append("".join(current))
    return tuple(parts)


def _check_surrogates(text: str) -> None:
    # A lone surrogate (e.g. from a JSON "\ud83d" escape) cannot be encoded as UTF-16, so it
    # could be billed but never sent: refuse it here rather than fail at submission.
    for index, char in enumerate(text):
        if 0xD800 <= ord(char) <= 0xDFFF:
            raise ValueError(f"lone surrogate U+{ord(char):04X} at index {index}")


def plan(text: str, *, smart_encoding: bool = False) -> SegmentPlan:
    """Encoding, parts and counts for `text`.

    With `smart_encoding`, look-alike punctuation and spaces are substituted only if that turns
    a UCS-2 message into a GSM-7 one; a message already GSM-7, or still UCS-2 after
    substitution, is planned exactly as given. Raises ValueError for lone surrogates.
    """
    body = normalise_newlines(text)
    smart_encoded = False
    if smart_encoding and not is_gsm7(body):
        candidate = smart_encode(body)
        if is_gsm7(candidate):
            body = candidate
            smart_encoded = True

    if is_gsm7(body):
        encoding = Encoding.GSM7
        atoms = _gsm7_atoms(body)
    else:
        _check_surrogates(body)
        encoding = Encoding.UCS2
        atoms = _ucs2_atoms(body)

    units = _units(body, encoding)
    single, part = _limits(encoding)
    parts = (body,) if units <= single else _pack(atoms, part)
    return SegmentPlan(
        encoding=encoding,
        parts=parts,
        units=units,
        characters=len(_GRAPHEME.findall(body)),
        smart_encoded=smart_encoded,
    )


def encode_part(part: str, encoding: Encoding) -> bytes:
    """The bytes of one part for submission: unpacked septets (GSM-7) or UTF-16BE (UCS-2).

    UCS-2 parts are sent as UTF-16, as every handset reads them, so astral characters travel
    as surrogate pairs (which is why they count as two units).
    """
    if encoding is Encoding.GSM7:
        return encode_gsm7(part)
    return part.encode("utf-16-be")
