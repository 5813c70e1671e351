"""Mail domains: one normal form, and the one alignment rule DKIM, SPF and DMARC results share."""

from __future__ import annotations

import functools

from publicsuffixlist import PublicSuffixList


def normalise_domain(domain: str) -> str:
    cleaned = domain.strip().rstrip(".").lower()
    if cleaned.isascii():
        return cleaned
    # Compare internationalised domains in their ASCII (punycode) form.
    try:
        return cleaned.encode("idna").decode("ascii")
    except UnicodeError:
        return cleaned


@functools.cache
def _suffixes() -> PublicSuffixList:
    # Parsed once per process from the list the package ships (tens of milliseconds); the
    # package is updated with the list, so `pip install -U` brings new suffixes.
    return PublicSuffixList()


def organisational_domain(domain: str) -> str:
    """The registered domain (RFC 7489 section 3.2): mail.bank.co.uk -> bank.co.uk. A public
    suffix itself (co.uk) has none, and is returned as it is."""
    name = normalise_domain(domain)
    if not name:
        return ""
    return _suffixes().privatesuffix(name) or name


def aligned(authenticated: str, author: str, mode: str = "r") -> bool:
    """DMARC identifier alignment (RFC 7489 section 3.1): strict ("s") is the same domain;
    relaxed ("r", the default) the same organisational domain by the Public Suffix List, so
    mail.bank.example aligns with bank.example but evil.co.uk never with bank.co.uk."""
    a, b = normalise_domain(authenticated), normalise_domain(author)
    if not a or not b:
        return False
    if a == b:
        return True
    if mode == "s":
        return False
    org = organisational_domain(a)
    # A public suffix is nobody's organisational domain: "example" signs for no one.
    return org == organisational_domain(b) and org != _suffixes().publicsuffix(a)
