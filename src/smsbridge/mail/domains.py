"""Mail domains: one normal form, and the alignment rule DKIM, SPF and DMARC results share."""

from __future__ import annotations


def normalise_domain(domain: str) -> str:
    cleaned = domain.strip().rstrip(".").lower()
    if cleaned.isascii():
        return cleaned
    # Compare internationalised domains in their ASCII (punycode) form.
    try:
        return cleaned.encode("idna").decode("ascii")
    except UnicodeError:
        return cleaned


def aligned(authenticated: str, author: str) -> bool:
    """Relaxed alignment without a public-suffix list: the same domain, or the author's domain
    under the authenticated one. Never "same last two labels": evil.co.uk is not bank.co.uk."""
    if not authenticated or not author:
        return False
    if authenticated == author:
        return True
    # A parent may sign for its subdomains (it controls their DNS anyway); a bare TLD may not.
    return "." in authenticated and author.endswith("." + authenticated)
