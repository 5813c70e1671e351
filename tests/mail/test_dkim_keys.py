"""DKIM signing and verification with real keys; DNS answers come from a dict, not the network."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dkim
import pytest

from smsbridge.mail.dkim_keys import MAX_SIGNATURES, DkimResult, DkimSigner, verify_dkim

MESSAGE = (
    b"From: Bridge <sms@bank.example>\r\n"
    b"To: Team <team@bank.example>\r\n"
    b"Reply-To: reply+abc@bank.example\r\n"
    b"Subject: SMS from +447700900123\r\n"
    b"Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n"
    b"Message-ID: <conv-abc-1@bank.example>\r\n"
    b"In-Reply-To: <conv-abc@bank.example>\r\n"
    b"References: <conv-abc@bank.example>\r\n"
    b"Auto-Submitted: auto-generated\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: text/plain; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: 7bit\r\n"
    b"\r\n"
    b"Hello, can you call me back?\r\n"
)


@dataclass(frozen=True)
class Key:
    pem: bytes
    path: Path
    dns_record: bytes  # the TXT record value: v=DKIM1; k=rsa; p=...


def _openssl(*args: str) -> bytes:
    return subprocess.run(["openssl", *args], check=True, capture_output=True).stdout


def _make_key(directory: Path, name: str, bits: int = 2048) -> Key:
    path = directory / f"{name}.pem"
    _openssl("genrsa", "-out", str(path), str(bits))
    public_der = _openssl("rsa", "-in", str(path), "-pubout", "-outform", "DER")
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)
    return Key(pem=path.read_bytes(), path=path, dns_record=record)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Key:
    return _make_key(tmp_path_factory.mktemp("dkim"), "main")


@pytest.fixture(scope="module")
def other_key(tmp_path_factory: pytest.TempPathFactory) -> Key:
    return _make_key(tmp_path_factory.mktemp("dkim"), "other")


def dns(records: dict[str, bytes]) -> Callable[..., bytes | None]:
    """A dnsfunc answering TXT queries from `records`, keyed "selector._domainkey.domain"."""

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        return records.get(name.decode("ascii").rstrip("."))

    return lookup


def with_from(raw: bytes, address: bytes) -> bytes:
    return raw.replace(b"sms@bank.example", address, 1)


def test_signed_message_verifies_and_aligns(key: Key) -> None:
    signed = DkimSigner("bank.example", "s1", key.pem).sign(MESSAGE)

    assert signed.startswith(b"DKIM-Signature: ")
    assert signed.endswith(MESSAGE)
    result = verify_dkim(
        signed, "bank.example", dns({"s1._domainkey.bank.example": key.dns_record})
    )
    assert result == DkimResult(
        passed=True, aligned=True, domain="bank.example", reason=result.reason
    )
    assert "bank.example" in result.reason


def test_signature_is_relaxed_rsa_sha256_over_the_required_headers(key: Key) -> None:
    signed = DkimSigner("bank.example", "s1", key.pem).sign(MESSAGE)
    header = signed.split(b"\r\n\r\n", 1)[0]
    unfolded = dkim.DKIM(header + b"\r\n\r\n").headers[0][1]
    tags = dkim.util.parse_tag_value(unfolded)

    assert tags[b"a"] == b"rsa-sha256"
    assert tags[b"c"] == b"relaxed/relaxed"
    assert tags[b"d"] == b"bank.example"
    assert tags[b"s"] == b"s1"
    signed_names = [name.strip().lower() for name in tags[b"h"].split(b":")]
    for name in (
        b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"in-reply-to",
        b"references", b"content-type", b"mime-version", b"auto-submitted",
    ):  # fmt: skip
        # Each present field is signed twice: once for itself, once against additions.
        assert signed_names.count(name) == 2, name
    assert signed_names.count(b"cc") == 1  # absent, and signed as absent


def test_tampered_body_fails(key: Key) -> None:
    signed = DkimSigner("bank.example", "s1", key.pem).sign(MESSAGE)
    tampered = signed.replace(b"call me back", b"send me money")

    result = verify_dkim(
        tampered, "bank.example", dns({"s1._domainkey.bank.example": key.dns_record})
    )

    assert not result.passed
    assert not result.aligned
    assert result.domain is None
    assert "body hash" in result.reason


def test_tampered_subject_fails(key: Key) -> None:
    signed = DkimSigner("bank.example", "s1", key.pem).sign(MESSAGE)
    tampered = signed.replace(b"Subject: SMS from", b"Subject: URGENT from")

    result = verify_dkim(
        tampered, "bank.example", dns({"s1._domainkey.bank.example": key.dns_record})
    )

    assert not result.passed


@pytest.mark.parametrize(
    "added", [b"Reply-To: thief@evil.example\r\n", b"Cc: thief@evil.example\r\n"]
)
def test_added_header_breaks_the_signature(key: Key, added: bytes) -> None:
    signed = DkimSigner("bank.example", "s1", key.pem).sign(MESSAGE)
    head, body = signed.split(b"\r\n\r\n", 1)

    result = verify_dkim(
        head + b"\r\n" + added + b"\r\n" + body,
        "bank.example",
        dns({"s1._domainkey.bank.example": key.dns_record}),
    )

    assert not result.passed


def test_relaxed_canonicalisation_tolerates_rewrapped_headers(key: Key) -> None:
    signed = DkimSigner("bank.example", "s1", key.pem).sign(MESSAGE)
    rewrapped = signed.replace(b"Subject: SMS from", b"Subject:   SMS\r\n\tfrom")

    result = verify_dkim(
        rewrapped, "bank.example", dns({"s1._domainkey.bank.example": key.dns_record})
    )

    assert result.passed


def test_signature_by_another_domain_passes_but_does_not_align(key: Key) -> None:
    signed = DkimSigner("other.example", "s1", key.pem).sign(MESSAGE)

    result = verify_dkim(
        signed, "bank.example", dns({"s1._domainkey.other.example": key.dns_record})
    )

    assert result.passed
    assert not result.aligned
    assert result.domain == "other.example"
    assert "not aligned" in result.reason


@pytest.mark.parametrize(
    ("signing_domain", "from_domain", "aligned"),
    [
        ("bank.example", "mail.bank.example", True),  # a parent signs for its subdomain
        ("bank.example", "a.b.bank.example", True),
        ("bank.example", "BANK.Example.", True),  # case and a trailing dot do not matter
        # DMARC's relaxed alignment: the same organisational domain, either way round
        ("mail.bank.example", "bank.example", True),
        ("evil.co.uk", "bank.co.uk", False),  # sharing a public suffix is not alignment
        ("notbank.example", "bank.example", False),  # a mere string suffix is not alignment
        ("bank.example", "xbank.example", False),
    ],
)
def test_alignment(key: Key, signing_domain: str, from_domain: str, aligned: bool) -> None:
    raw = with_from(MESSAGE, f"sms@{from_domain}".encode())
    signed = DkimSigner(signing_domain, "s1", key.pem).sign(raw)

    result = verify_dkim(
        signed, from_domain, dns({f"s1._domainkey.{signing_domain}": key.dns_record})
    )

    assert result.passed
    assert result.aligned is aligned


def test_any_verifying_signature_counts(key: Key, other_key: Key) -> None:
    # Outermost: a signature whose key is not in DNS; innermost: the author's good one.
    inner = DkimSigner("bank.example", "s1", key.pem).sign(MESSAGE)
    both = DkimSigner("relay.example", "s9", other_key.pem).sign(inner)

    result = verify_dkim(both, "bank.example", dns({"s1._domainkey.bank.example": key.dns_record}))

    assert result.passed
    assert result.aligned
    assert result.domain == "bank.example"


def test_aligned_signature_is_reported_over_an_unaligned_one(key: Key, other_key: Key) -> None:
    inner = DkimSigner("bank.example", "s1", key.pem).sign(MESSAGE)
    both = DkimSigner("esp.example", "s2", other_key.pem).sign(inner)
    records = {
        "s1._domainkey.bank.example": key.dns_record,
        "s2._domainkey.esp.example": other_key.dns_record,
    }

    result = verify_dkim(both, "bank.example", dns(records))

    assert (result.passed, result.aligned, result.domain) == (True, True, "bank.example")


def test_wrong_key_in_dns_fails(key: Key, other_key: Key) -> None:
    signed = DkimSigner("bank.example", "s1", key.pem).sign(MESSAGE)

    result = verify_dkim(
        signed, "bank.example", dns({"s1._domainkey.bank.example": other_key.dns_record})
    )

    assert not result.passed


def test_missing_key_in_dns_fails(key: Key) -> None:
    signed = DkimSigner("bank.example", "s1", key.pem).sign(MESSAGE)

    result = verify_dkim(signed, "bank.example", dns({}))

    assert not result.passed
    assert "no key published at s1._domainkey.bank.example" in result.reason


def test_dns_failure_is_a_failed_check(key: Key) -> None:
    signed = DkimSigner("bank.example", "s1", key.pem).sign(MESSAGE)

    def broken(name: bytes, timeout: float = 5) -> bytes | None:
        raise OSError("resolver unreachable")

    result = verify_dkim(signed, "bank.example", broken)

    assert not result.passed
    assert "resolver unreachable" in result.reason


def test_body_length_limited_signature_does_not_pass_with_appended_text(key: Key) -> None:
    # Signed by someone else's software with l=: we would accept it unmodified...
    header = dkim.sign(
        MESSAGE, b"s1", b"bank.example", key.pem, canonicalize=(b"relaxed", b"relaxed"),
        length=True, include_headers=[b"from", b"subject"],
    )  # fmt: skip
    records = dns({"s1._domainkey.bank.example": key.dns_record})
    assert verify_dkim(header + MESSAGE, "bank.example", records).passed

    # ...but not with text appended after the signed length.
    extended = header + MESSAGE + b"\r\nPS: transfer the money to account 1234.\r\n"
    result = verify_dkim(extended, "bank.example", records)

    assert not result.passed
    assert "covers only" in result.reason


def test_unsigned_message() -> None:
    result = verify_dkim(MESSAGE, "bank.example", dns({}))

    assert result == DkimResult(
        passed=False, aligned=False, domain=None, reason="no DKIM-Signature header"
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage without a colon",
        bytes(range(256)) * 4,
        b"DKIM-Signature: nonsense\r\n\r\nbody",
        b"DKIM-Signature: v=1; a=rsa-sha256; d=bank.example; s=s1; h=from; bh=!!!; b=???\r\n"
        b"From: a@bank.example\r\n\r\nbody",
        b"DKIM-Signature: v=1; a=rsa-sha256; c=bogus/x; d=bank.example; s=s1; h=from; "
        b"bh=AAAA; b=AAAA; l=notanumber\r\nFrom: a@bank.example\r\n\r\nbody",
        b"DKIM-Signature: v=1; a=rsa-sha999; d=bank.example; s=s1; h=from; bh=AAAA; b=AAAA\r\n"
        b"From: a@bank.example\r\n\r\nbody",
        b"DKIM-Signature: v=1; d=; s=; h=; bh=; b=; a=\r\n\r\n",
        b"From: a@bank.example\r\n \r\n\tcontinued\r\nDKIM-Signature: v=1\xff\r\n\r\n",
    ],
)
def test_garbage_never_raises(raw: bytes, key: Key) -> None:
    result = verify_dkim(raw, "bank.example", dns({"s1._domainkey.bank.example": key.dns_record}))

    assert not result.passed
    assert not result.aligned
    assert result.reason


def test_garbage_dns_record_never_raises(key: Key) -> None:
    signed = DkimSigner("bank.example", "s1", key.pem).sign(MESSAGE)

    for record in (
        b"",
        b"v=DKIM1; k=rsa; p=!!!",
        b"p=" + b"A" * 40,
        b"\xff\x00",
        b"k=ed25519; p=AA",
    ):
        result = verify_dkim(signed, "bank.example", dns({"s1._domainkey.bank.example": record}))
        assert not result.passed, record


def test_lf_only_message_signs_and_verifies(key: Key) -> None:
    raw = MESSAGE.replace(b"\r\n", b"\n")
    signed = DkimSigner("bank.example", "s1", key.pem).sign(raw)

    assert b"\r\n" not in signed
    result = verify_dkim(
        signed, "bank.example", dns({"s1._domainkey.bank.example": key.dns_record})
    )
    assert result.passed


def test_from_file_and_crlf_pem(key: Key, tmp_path: Path) -> None:
    crlf = tmp_path / "crlf.pem"
    crlf.write_bytes(key.pem.replace(b"\n", b"\r\n"))
    records = dns({"s1._domainkey.bank.example": key.dns_record})

    for signer in (
        DkimSigner.from_file("bank.example", "s1", key.path),
        DkimSigner.from_file("bank.example", "s1", crlf),
    ):
        assert verify_dkim(signer.sign(MESSAGE), "bank.example", records).aligned


def test_signer_refuses_bad_configuration(key: Key, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PEM"):
        DkimSigner("bank.example", "s1", b"not a key")
    with pytest.raises(ValueError, match="selector"):
        DkimSigner("bank.example", "bad selector", key.pem)
    with pytest.raises(ValueError, match="domain"):
        DkimSigner("localhost", "s1", key.pem)
    small = _make_key(tmp_path, "small", bits=512)
    with pytest.raises(ValueError, match="512 bits"):
        DkimSigner("bank.example", "s1", small.pem)


def test_signer_refuses_message_without_from(key: Key) -> None:
    signer = DkimSigner("bank.example", "s1", key.pem)
    without_from = b"\r\n".join(
        line for line in MESSAGE.split(b"\r\n") if not line.startswith(b"From:")
    )

    with pytest.raises(ValueError, match="From"):
        signer.sign(without_from)
    with pytest.raises(ValueError):
        signer.sign(b"\x00\xff not a header\r\n\r\nbody")


def test_signatures_beyond_the_limit_are_not_checked(key: Key) -> None:
    signed = DkimSigner("bank.example", "s1", key.pem).sign(MESSAGE)
    junk = b"DKIM-Signature: v=1; a=rsa-sha256; d=junk.example; s=s1; h=from; bh=AA; b=AA\r\n"
    records = dns({"s1._domainkey.bank.example": key.dns_record})

    assert verify_dkim(junk * 9 + signed, "bank.example", records).passed
    result = verify_dkim(junk * MAX_SIGNATURES + signed, "bank.example", records)

    assert not result.passed
    assert f"only the first {MAX_SIGNATURES} of {MAX_SIGNATURES + 1}" in result.reason


def test_reason_stays_short_for_huge_garbage() -> None:
    raw = b"DKIM-Signature: " + b"x" * 100_000 + b"\r\n\r\nbody"

    result = verify_dkim(raw, "bank.example", dns({}))

    assert not result.passed
    assert len(result.reason) < 400
