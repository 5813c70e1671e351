"""SMPP addresses: TON/NPI by what a sender is, national format, and MO numbers to E.164."""

from __future__ import annotations

import pytest

from smsbridge.carriers.smpp.addresses import (
    AddressError,
    inbound_number,
    kind_of,
    outbound_address,
)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("+447700900801", "international"),
        ("447700900801", "international"),
        ("07700900801", "national"),
        ("60123", "short_code"),
        ("123", "short_code"),
        ("Acme", "alphanumeric"),
        ("Acme 24", "alphanumeric"),
    ],
)
def test_kind_of(address, kind):
    assert kind_of(address) == kind


def test_a_reply_number_goes_as_international_digits():
    address = outbound_address("+447700900801", home_region="GB")
    assert (address.ton, address.npi, address.addr) == (1, 1, "447700900801")


def test_names_short_codes_and_national_numbers():
    name = outbound_address("Acme", home_region="GB")
    assert (name.ton, name.npi, name.addr) == (5, 0, "Acme")
    short = outbound_address("60123", home_region="GB")
    assert (short.ton, short.npi, short.addr) == (3, 0, "60123")
    national = outbound_address("+447700900801", home_region="GB", number_format="national")
    assert (national.ton, national.npi, national.addr) == (2, 1, "07700900801")
    # Another country's number can only be written internationally.
    abroad = outbound_address("+33612345678", home_region="GB", number_format="national")
    assert (abroad.ton, abroad.npi, abroad.addr) == (1, 1, "33612345678")


def test_overrides_per_kind_and_for_every_address():
    zero = outbound_address("+447700900801", home_region="GB", ton_npi={"international": (0, 1)})
    assert (zero.ton, zero.npi) == (0, 1)
    forced = outbound_address("Acme", home_region="GB", force_ton=0, force_npi=0)
    assert (forced.ton, forced.npi, forced.addr) == (0, 0, "Acme")


@pytest.mark.parametrize("name", ["Acme Trading Co", "Café", "a\tb"])
def test_names_smscs_refuse_are_refused_here(name):
    with pytest.raises(AddressError):
        outbound_address(name, home_region="GB")


@pytest.mark.parametrize(
    ("addr", "ton", "npi"),
    [
        ("447700900123", 1, 1),
        ("+447700900123", 1, 1),
        ("07700900123", 2, 1),
        ("7700900123", 2, 1),
        ("07700900123", 0, 1),
        ("447700900123", 0, 0),
        ("00447700900123", 0, 1),
    ],
)
def test_one_handset_however_the_smsc_writes_it(addr, ton, npi):
    assert inbound_number(addr, ton, npi, "GB") == "+447700900123"


def test_names_and_short_codes_stay_as_they_are():
    assert inbound_number("Bank", 5, 0, "GB") == "Bank"
    assert inbound_number("60123", 3, 0, "GB") == "60123"
    assert inbound_number("60123", 0, 0, "GB") == "60123"
