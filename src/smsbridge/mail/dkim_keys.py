"""DKIM: signing the emails the bridge sends, and verifying the signatures of those it receives."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dkim
from dkim.crypto import UnparsableKeyError, parse_pem_private_key

from smsbridge.mail.domains import aligned, normalise_domain

# The header fields we sign. Each is signed once more often than it occurs ("oversigning"), so
# a field we did not set (a second From, a Reply-To, a Cc) cannot be added on the way without
# breaking the signature.
SIGNED_HEADERS: tuple[str, ...] = (
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "in-reply-to",
    "references",
    "content-type",
    "content-transfer-encoding",
    "mime-version",
    "auto-submitted",
)

# Verifiers reject RSA keys under 1024 bits (RFC 8301); signing with one would be pointless.
MIN_KEY_BITS = 1024

# Each signature costs a DNS query and a pass over the message; a message stuffed with
# signatures must not make us do unbounded work. Real mail carries one to three.
MAX_SIGNATURES = 10

_SELECTOR = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9_-]+)*")

DnsFunc = Callable[..., bytes | None]


class DkimSigner:
    """Signs raw messages for one domain and selector (rsa-sha256, relaxed/relaxed)."""

    def __init__(self, domain: str, selector: str, private_key_pem: bytes) -> None:
        normalised = normalise_domain(domain)
        if not normalised or "." not in normalised:
            raise ValueError(f"invalid DKIM signing domain {domain!r}")
        if not _SELECTOR.fullmatch(selector):
            raise ValueError(f"invalid DKIM selector {selector!r}")
        # dkimpy's PEM parser only accepts LF line endings.
        key = private_key_pem.replace(b"\r\n", b"\n")
        # Parse now so a bad key fails at startup rather than on the first email.
        try:
            parsed = parse_pem_private_key(key)
        except (UnparsableKeyError, ValueError, IndexError) as exc:
            raise ValueError(f"not a usable PEM RSA private key: {exc}") from exc
        bits = int(parsed["modulus"]).bit_length()
        if bits < MIN_KEY_BITS:
            raise ValueError(f"the DKIM key has {bits} bits; use at least 2048")
        self.domain = normalised
        self.selector = selector
        self._key = key

    @classmethod
    def from_file(cls, domain: str, selector: str, path: str | Path) -> DkimSigner:
        return cls(domain, selector, Path(path).read_bytes())

    def sign(self, raw: bytes) -> bytes:
        """The message with a DKIM-Signature header prepended. ValueError if it cannot be
        signed (no From header, or headers dkimpy cannot parse)."""
        # Fold the new header with the message's own line ending, so the file stays consistent.
        linesep = b"\r\n" if b"\r\n" in raw else b"\n"
        try:
            signer = dkim.DKIM(raw, linesep=linesep)
            present = Counter(bytes(name).lower() for name, _ in signer.headers)
            if not present[b"from"]:
                raise ValueError("the message has no From header")
            include = [
                name.encode("ascii")
                for name in SIGNED_HEADERS
                for _ in range(present[name.encode("ascii")] + 1)
            ]
            header: bytes = signer.sign(
                self.selector.encode("ascii"),
                self.domain.encode("ascii"),
                self._key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=include,
            )
        except dkim.DKIMException as exc:
            raise ValueError(f"cannot DKIM-sign this message: {exc}") from exc
        return header + raw


@dataclass(frozen=True)
class DkimResult:
    passed: bool  # at least one signature verified
    aligned: bool  # ... and one of those aligns (relaxed) with the From domain
    domain: str | None  # d= of the verified signature (an aligned one if any), else None
    reason: str
    # d= of every signature that verified, for alignment under the domain's DMARC mode.
    verified: tuple[str, ...] = field(default=(), compare=False)


def verify_dkim(raw: bytes, from_domain: str, dnsfunc: DnsFunc | None = None) -> DkimResult:
    """Check every DKIM-Signature of a message; never raises, whatever the input.

    `dnsfunc(name, timeout=...)` returns the TXT record of a name like
    b"selector._domainkey.example.com." (or None); by default dkimpy queries DNS with
    dnspython, which blocks: call this from a thread.

    Alignment is relaxed but without a public-suffix list: the signing domain must equal the
    From domain or be a parent of it (bank.example signs for mail.bank.example), never merely
    share its last labels (evil.co.uk does not align with bank.co.uk).
    A signature with an l= tag passes only if it covers the whole body; otherwise anyone could
    append text to a genuinely signed email.
    """
    author = normalise_domain(from_domain)
    try:
        headers = dkim.DKIM(raw).headers
        count = sum(1 for name, _ in headers if bytes(name).lower() == b"dkim-signature")
    except Exception as exc:
        # dkimpy raises its own errors for malformed messages, but any error on garbage input
        # must become a failed check, not an exception in the mail server.
        return DkimResult(False, False, None, f"unparsable message: {_describe(exc)}")
    if count == 0:
        return DkimResult(False, False, None, "no DKIM-Signature header")

    verified: list[str] = []
    failures: list[str] = []
    if count > MAX_SIGNATURES:
        failures.append(f"only the first {MAX_SIGNATURES} of {count} signatures were checked")
    for index in range(min(count, MAX_SIGNATURES)):
        domain, failure = _verify_one(raw, index, dnsfunc)
        if failure is None and domain is not None:
            verified.append(domain)
        else:
            failures.append(f"d={domain or '?'}: {failure}")

    if not verified:
        return DkimResult(False, False, None, "no signature verified: " + "; ".join(failures))
    matching = [domain for domain in verified if aligned(domain, author)]
    if matching:
        return DkimResult(
            True,
            True,
            matching[0],
            f"pass: d={matching[0]}, aligned with {author}",
            tuple(verified),
        )
    return DkimResult(
        True,
        False,
        verified[0],
        f"pass: d={verified[0]}, not aligned with {author or '?'}",
        tuple(verified),
    )


def _verify_one(raw: bytes, index: int, dnsfunc: DnsFunc | None) -> tuple[str | None, str | None]:
    """(signing domain if known, failure reason or None if the signature verified)."""
    lookup: DnsFunc = dnsfunc if dnsfunc is not None else dkim.get_txt
    # dkimpy turns "no key" and DNS timeouts into a bare False; note what DNS said so the
    # reason can tell an operator which it was.
    dns_said: list[str] = []

    def recording_lookup(name: bytes, timeout: float = 5) -> bytes | None:
        label = name.decode("ascii", "replace").rstrip(".")
        try:
            answer = lookup(name, timeout=timeout)
        except Exception as exc:
            dns_said.append(f"DNS lookup of {label} failed: {_describe(exc)}")
            raise
        dns_said.append(
            f"no key published at {label}"
            if answer is None
            else f"signature does not verify with the key at {label} (or the key is unusable)"
        )
        return answer

    verifier = dkim.DKIM(raw)
    try:
        ok = bool(verifier.verify(idx=index, dnsfunc=recording_lookup))
    except Exception as exc:
        # Besides DKIMException, malformed tags make dkimpy raise KeyError, ValueError,
        # binascii.Error and the like.
        return _signing_domain(verifier), _describe(exc)
    domain = _signing_domain(verifier)
    if not ok:
        return domain, dns_said[-1] if dns_said else "signature does not verify"
    fields = verifier.signature_fields
    if b"l" in fields:
        try:
            policy = dkim.CanonicalizationPolicy.from_c_value(fields.get(b"c", b"simple/simple"))
            body_length = len(policy.canonicalize_body(verifier.body))
            signed_length = int(fields[b"l"])
        except Exception as exc:
            return domain, f"cannot check l= tag: {_describe(exc)}"
        if signed_length < body_length:
            return domain, f"signature covers only {signed_length} of {body_length} body bytes"
    return domain, None


def _signing_domain(verifier: dkim.DKIM) -> str | None:
    value = verifier.domain
    if not isinstance(value, bytes) or not value:
        return None
    return normalise_domain(value.decode("utf-8", "replace"))


def _describe(exc: BaseException) -> str:
    # dkimpy quotes pieces of the (untrusted, possibly huge) message in its errors.
    text = str(exc)
    if len(text) > 200:
        text = text[:200] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
