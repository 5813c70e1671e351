"""Reply tokens: round trips, tampering, key rotation, and the addresses that carry them."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import pytest

from smsbridge.mail.tokens import (
    ReplyToken,
    make_token,
    read_token,
    reply_address,
    token_from_address,
)

KEY = b"k" * 32
OLD_KEY = b"o" * 32
OTHER_KEY = b"x" * 32
ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
UUID_ID = "550e8400-e29b-41d4-a716-446655440000"


@pytest.mark.parametrize(
    "conversation_id",
    [
        "1",
        "42",
        "9223372036854775807",  # the largest id packed as an integer
        "9223372036854775808",  # one more: kept as text, still round-trips
        "007",  # not the canonical spelling of 7: must come back as "007"
        "+7",
        "-1",
        UUID_ID,
        UUID_ID.upper(),  # not canonical UUID text: must come back upper-case
        "conv_abc",
        "größe",
    ],
)
def test_round_trip_keeps_the_exact_id_and_version(conversation_id: str) -> None:
    token = make_token(conversation_id, 5, KEY)
    assert read_token(token, KEY) == ReplyToken(conversation_id, 5)


def test_token_is_lowercase_base32_without_padding() -> None:
    token = make_token("12345", 2, KEY)
    assert re.fullmatch(r"[a-z2-7]+", token)


def test_token_is_deterministic_and_depends_on_every_input() -> None:
    token = make_token("42", 1, KEY)
    assert make_token("42", 1, KEY) == token
    assert make_token("43", 1, KEY) != token
    assert make_token("42", 2, KEY) != token
    assert make_token("42", 1, OTHER_KEY) != token


def test_mac_is_at_least_80_bits() -> None:
    # The payload of id "1", version 0 is 3 bytes (kind, version, id); the rest is MAC.
    token = make_token("1", 0, KEY)
    raw = base64.b32decode(token.upper() + "=" * (-len(token) % 8))
    assert len(raw) - 3 >= 10


def test_reading_ignores_case() -> None:
    token = make_token("42", 1, KEY)
    assert read_token(token.upper(), KEY) == ReplyToken("42", 1)


def test_a_different_key_reads_nothing() -> None:
    assert read_token(make_token("42", 1, KEY), OTHER_KEY) is None


def test_key_rotation_accepts_any_listed_key() -> None:
    old_token = make_token("42", 1, OLD_KEY)
    new_token = make_token("42", 1, KEY)
    keys = [KEY, OLD_KEY]
    assert read_token(old_token, keys) == ReplyToken("42", 1)
    assert read_token(new_token, keys) == ReplyToken("42", 1)
    assert read_token(old_token, (KEY,)) is None  # once the old key is retired


def test_changing_any_single_character_is_rejected() -> None:
    token = make_token(UUID_ID, 3, KEY)
    for position, original in enumerate(token):
        for replacement in ALPHABET:
            if replacement == original:
                continue
            forged = token[:position] + replacement + token[position + 1 :]
            # This includes changes to only the unused low bits of the last character, which
            # decode to the same bytes: only the canonical spelling is accepted.
            assert read_token(forged, KEY) is None, (position, replacement)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1],
        lambda t: t[1:],
        lambda t: t + "a",
        lambda t: t + "aaaaaaaa",
        lambda t: t + "=",
        lambda t: t + "====",
        lambda t: " " + t,
        lambda t: t[:8],
        lambda t: "",
        lambda t: "a",
        lambda t: "0" + t[1:],  # not base32
        lambda t: t.replace(t[3], "!"),
        lambda t: "a" * 2000,
    ],
)
def test_malformed_tokens_are_rejected(mangle: Callable[[str], str]) -> None:
    token = make_token("42", 1, KEY)
    assert read_token(mangle(token), KEY) is None


def test_swapping_the_version_is_rejected() -> None:
    # A valid token of version 1 re-encoded with version 2 but the old MAC must not pass.
    token = make_token("42", 1, KEY)
    raw = bytearray(base64.b32decode(token.upper() + "=" * (-len(token) % 8)))
    raw[1] = 2  # the version byte
    forged = base64.b32encode(bytes(raw)).decode().rstrip("=").lower()
    assert read_token(forged, KEY) is None


def test_version_is_reported_so_old_versions_can_be_refused() -> None:
    assert read_token(make_token("42", 1, KEY), KEY) == ReplyToken("42", 1)
    assert read_token(make_token("42", 2, KEY), KEY) == ReplyToken("42", 2)


@pytest.mark.parametrize("key", [b"", b"short"])
def test_short_keys_are_refused(key: bytes) -> None:
    with pytest.raises(ValueError):
        make_token("42", 1, key)
    with pytest.raises(ValueError):
        read_token("abc", key)
    with pytest.raises(ValueError):
        read_token("abc", [KEY, key])


def test_an_empty_key_list_is_refused() -> None:
    with pytest.raises(ValueError):
        read_token(make_token("42", 1, KEY), [])


@pytest.mark.parametrize(
    ("conversation_id", "version"),
    [("", 1), ("42", -1), ("42", 2**63), ("+447700900123", 1)],  # the last: a phone number
)
def test_bad_inputs_are_refused(conversation_id: str, version: int) -> None:
    with pytest.raises(ValueError):
        make_token(conversation_id, version, KEY)


def test_reply_address_shape() -> None:
    token = make_token("42", 1, KEY)
    assert reply_address(token, "reply", "mail.example.com") == f"reply+{token}@mail.example.com"


def test_a_uuid_conversation_fits_the_local_part_limit() -> None:
    address = reply_address(make_token(UUID_ID, 1000, KEY), "reply", "mail.example.com")
    assert len(address.partition("@")[0]) <= 64


def test_reply_address_refuses_what_would_not_work() -> None:
    token = make_token("42", 1, KEY)
    with pytest.raises(ValueError):
        reply_address(token, "re ply", "mail.example.com")
    with pytest.raises(ValueError):
        reply_address(token, "", "mail.example.com")
    with pytest.raises(ValueError):
        reply_address(token.upper(), "reply", "mail.example.com")
    with pytest.raises(ValueError):
        reply_address(token, "reply", "mail@example.com")
    with pytest.raises(ValueError):  # local part over 64 characters
        reply_address(make_token("x" * 40, 1, KEY), "reply", "mail.example.com")


@pytest.mark.parametrize("separator", ["+", ".", "-"])
def test_token_from_address_accepts_each_separator(separator: str) -> None:
    token = make_token("42", 1, KEY)
    address = f"reply{separator}{token}@mail.example.com"
    assert token_from_address(address, "reply", "mail.example.com") == token


def test_token_from_address_ignores_case_everywhere() -> None:
    token = make_token("42", 1, KEY)
    address = f"REPLY+{token.upper()}@Mail.Example.COM"
    found = token_from_address(address, "reply", "mail.example.com")
    assert found == token
    assert read_token(found, KEY) == ReplyToken("42", 1)


def test_token_from_address_accepts_header_forms() -> None:
    token = make_token("42", 1, KEY)
    for address in (
        f"<reply+{token}@mail.example.com>",
        f'"Support line" <reply+{token}@mail.example.com>',
        f"  reply+{token}@mail.example.com.  ",  # trailing root dot on the domain
    ):
        assert token_from_address(address, "reply", "mail.example.com") == token, address


@pytest.mark.parametrize(
    "address",
    [
        "reply+{t}@example.com",  # parent domain
        "reply+{t}@other.mail.example.com",  # subdomain
        "reply+{t}@mail.example.com.evil.test",
        "reply+{t}@evil.test",
        "reply+{t}",  # no domain
        "reply{t}@mail.example.com",  # separator dropped entirely
        "reply_{t}@mail.example.com",  # not one of the separators
        "reply+@mail.example.com",
        "reply@mail.example.com",
        "answer+{t}@mail.example.com",
        "xreply+{t}@mail.example.com",
        "reply+{t}!@mail.example.com",
        "reply+{t}+x@mail.example.com",
        "<reply+{t}@mail.example.com",
    ],
)
def test_token_from_address_rejects_other_addresses(address: str) -> None:
    token = make_token("42", 1, KEY)
    assert token_from_address(address.format(t=token), "reply", "mail.example.com") is None
