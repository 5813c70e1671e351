"""The number helpers carriers and searches share: E.164 or as written, and regions."""

from __future__ import annotations

import pytest

from smsbridge.numbers.phone import e164_or_as_written, region_of


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("447700900123", "+447700900123"),  # The SMS Works' form, without the plus
        ("+447700900123", "+447700900123"),
        (" 07700 900123 ", "+447700900123"),  # national, with spaces
        ("+12025550100", "+12025550100"),  # not a mobile: still a number
        ("  Acme ", "Acme"),  # a sender name: as written, trimmed
        ("81234", "81234"),  # a short code is no full number: as written
        ("", ""),
    ],
)
def test_e164_or_as_written(raw: str, expected: str) -> None:
    assert e164_or_as_written(raw, "GB") == expected


@pytest.mark.parametrize(
    ("raw", "home", "expected"),
    [
        ("447700900123", "GB", "GB"),
        ("+12025550100", "GB", "US"),
        ("0612345678", "FR", "FR"),  # national form, read in the home region
        ("Acme", "GB", ""),
        ("", "GB", ""),
    ],
)
def test_region_of(raw: str, home: str, expected: str) -> None:
    assert region_of(raw, home) == expected
