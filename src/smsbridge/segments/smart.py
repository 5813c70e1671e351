"""Smart encoding: swap typographic look-alikes for GSM-7 characters so a message stays GSM-7."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

# Every substitution, by code point. A character belongs here only if the replacement reads the
# same to the recipient: punctuation that word processors and phone keyboards "prettify", and
# spaces or invisible characters pasted in from web pages. Left out on purpose, because the
# replacement would change what the message says or how it looks:
#
# - letters: small c cedilla is not the capital C cedilla at GSM 0x09, and a-acute is not "a";
#   that is a spelling change, and such text is usually UCS-2 for other reasons anyway;
# - bullets, arrows, trade/copyright signs, fractions, emoji: no GSM-7 look-alike exists, and
#   "(c)"-style expansions are rewrites, not look-alikes;
# - variation selectors: they are only ever attached to emoji, which stay UCS-2 regardless;
# - fullwidth and small-form variants: they come with CJK text, which stays UCS-2 regardless.
SMART_SUBSTITUTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        # Single quotes, apostrophes and primes -> apostrophe.
        "\u2018": "'",  # LEFT SINGLE QUOTATION MARK
        "\u2019": "'",  # RIGHT SINGLE QUOTATION MARK (the "smart" apostrophe)
        "\u201a": "'",  # SINGLE LOW-9 QUOTATION MARK
        "\u201b": "'",  # SINGLE HIGH-REVERSED-9 QUOTATION MARK
        "\u2032": "'",  # PRIME (feet, minutes)
        "\u2035": "'",  # REVERSED PRIME
        "\u02bc": "'",  # MODIFIER LETTER APOSTROPHE
        "\u0060": "'",  # GRAVE ACCENT: ASCII, but not GSM-7; typed as a quote
        "\u00b4": "'",  # ACUTE ACCENT: typed as an apostrophe on some keyboards
        "\u2039": "'",  # SINGLE LEFT-POINTING ANGLE QUOTATION MARK
        "\u203a": "'",  # SINGLE RIGHT-POINTING ANGLE QUOTATION MARK
        # Double quotes, double primes and guillemets -> quotation mark.
        "\u201c": '"',  # LEFT DOUBLE QUOTATION MARK
        "\u201d": '"',  # RIGHT DOUBLE QUOTATION MARK
        "\u201e": '"',  # DOUBLE LOW-9 QUOTATION MARK
        "\u201f": '"',  # DOUBLE HIGH-REVERSED-9 QUOTATION MARK
        "\u2033": '"',  # DOUBLE PRIME (inches, seconds)
        "\u2036": '"',  # REVERSED DOUBLE PRIME
        "\u00ab": '"',  # LEFT-POINTING DOUBLE ANGLE QUOTATION MARK
        "\u00bb": '"',  # RIGHT-POINTING DOUBLE ANGLE QUOTATION MARK
        # Hyphens, dashes and minus -> hyphen-minus.
        "\u2010": "-",  # HYPHEN
        "\u2011": "-",  # NON-BREAKING HYPHEN
        "\u2012": "-",  # FIGURE DASH
        "\u2013": "-",  # EN DASH
        "\u2014": "-",  # EM DASH
        "\u2015": "-",  # HORIZONTAL BAR
        "\u2212": "-",  # MINUS SIGN
        # Ellipsis -> three full stops (three septets for one character, still far cheaper
        # than the whole message going UCS-2).
        "\u2026": "...",  # HORIZONTAL ELLIPSIS
        # Spaces of other widths -> space. TAB is here too: GSM-7 has no tab.
        "\u0009": " ",  # CHARACTER TABULATION
        "\u00a0": " ",  # NO-BREAK SPACE
        "\u2000": " ",  # EN QUAD
        "\u2001": " ",  # EM QUAD
        "\u2002": " ",  # EN SPACE
        "\u2003": " ",  # EM SPACE
        "\u2004": " ",  # THREE-PER-EM SPACE
        "\u2005": " ",  # FOUR-PER-EM SPACE
        "\u2006": " ",  # SIX-PER-EM SPACE
        "\u2007": " ",  # FIGURE SPACE
        "\u2008": " ",  # PUNCTUATION SPACE
        "\u2009": " ",  # THIN SPACE
        "\u200a": " ",  # HAIR SPACE
        "\u202f": " ",  # NARROW NO-BREAK SPACE
        "\u205f": " ",  # MEDIUM MATHEMATICAL SPACE
        "\u3000": " ",  # IDEOGRAPHIC SPACE
        # Unicode line breaks -> line feed.
        "\u0085": "\n",  # NEXT LINE
        "\u2028": "\n",  # LINE SEPARATOR
        "\u2029": "\n",  # PARAGRAPH SEPARATOR
        # Invisible characters -> removed: the recipient could never see them.
        "\u00ad": "",  # SOFT HYPHEN
        "\u200b": "",  # ZERO WIDTH SPACE
        "\u200c": "",  # ZERO WIDTH NON-JOINER
        "\u200d": "",  # ZERO WIDTH JOINER
        "\u200e": "",  # LEFT-TO-RIGHT MARK
        "\u200f": "",  # RIGHT-TO-LEFT MARK
        "\u2060": "",  # WORD JOINER
        "\ufeff": "",  # ZERO WIDTH NO-BREAK SPACE (byte order mark)
    }
)

_TRANSLATION: Final = str.maketrans(dict(SMART_SUBSTITUTIONS))


def smart_encode(text: str) -> str:
    """`text` with every character in `SMART_SUBSTITUTIONS` replaced; all else unchanged.

    The result is not necessarily GSM-7 (an emoji stays an emoji): `plan` checks that and only
    keeps the substitution when it makes the whole message GSM-7.
    """
    return text.translate(_TRANSLATION)
