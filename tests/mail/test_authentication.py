"""Authentication evidence against a real DNS server on 127.0.0.1: SPF, DMARC, DKIM and ARC."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import dkim
import pytest
from tests.mail.dns_server import Zone, dns_server

from smsbridge.conversations import trust
from smsbridge.mail.authentication import Authenticator, ReceivedFacts
from smsbridge.mail.dkim_keys import DkimSigner
from smsbridge.mail.dns import Resolver
from smsbridge.mail.parsing import Limits, scan_headers


def _key(tmp: Path, name: str) -> tuple[bytes, str]:
    path = tmp / f"{name}.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(path), "2048"], check=True, capture_output=True
    )
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(path), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return path.read_bytes(), "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, str]]:
    tmp = tmp_path_factory.mktemp("keys")
    return {"acme": _key(tmp, "acme"), "fwd": _key(tmp, "fwd")}


@pytest.fixture
def zone(keys: dict[str, tuple[bytes, str]]) -> Zone:
    return {
        ("acme.example", "TXT"): ["v=spf1 ip4:127.0.0.1 -all"],
        ("sub.acme.example", "TXT"): ["v=spf1 ip4:127.0.0.1 -all"],
        ("mailer.example", "TXT"): ["v=spf1 ip4:127.0.0.0/8 -all"],
        ("sel._domainkey.acme.example", "TXT"): [keys["acme"][1]],
        ("arc._domainkey.fwd.example", "TXT"): [keys["fwd"][1]],
        ("_dmarc.acme.example", "TXT"): ["v=DMARC1; p=reject"],
        ("_dmarc.strict.example", "TXT"): ["v=DMARC1; p=reject; adkim=s; aspf=s"],
        ("strict.example", "TXT"): ["v=spf1 -all"],
        ("mail.strict.example", "TXT"): ["v=spf1 ip4:127.0.0.1 -all"],
    }


@pytest.fixture
def server(zone: Zone) -> Iterator[str]:
    with dns_server(zone) as (address, _resolver):
        yield address


def message(sender: str = "alice@acme.example", text: str = "Yes, 8pm is fine.") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Alice <{sender}>"
    msg["To"] = "reply+abc@sms.acme.test"
    msg["Subject"] = "Re: SMS from +447700900123 to +447700900001"
    msg["Message-ID"] = "<m1@acme.example>"
    msg.set_content(text)
    return msg.as_bytes(policy=SMTP)


def check(
    server: str,
    raw: bytes,
    *,
    author: str = "acme.example",
    envelope: str = "alice@acme.example",
    peer: str = "127.0.0.1",
    channel: str = "smtp",
    sealers: tuple[str, ...] = (),
) -> trust.Verdict:
    authenticator = Authenticator(
        Resolver([server], timeout_seconds=2), trusted_arc_sealers=sealers
    )
    headers = scan_headers(raw, Limits())
    assert not isinstance(headers, Exception) and hasattr(headers, "get_all")
    evidence = authenticator.evidence(
        raw, headers, author, ReceivedFacts(channel, peer, "mx.acme.example", envelope)
    )
    return trust.verdict(evidence)


def test_spf_pass_for_the_from_domain_authenticates(server: str) -> None:
    verdict = check(server, message())
    assert verdict == trust.Verdict(True, "SPF pass for acme.example")


def test_spf_from_the_wrong_address_fails(server: str) -> None:
    verdict = check(server, message(), peer="192.0.2.7")
    assert not verdict.authenticated
    assert "SPF: fail for acme.example" in verdict.how


def test_spf_pass_of_another_domain_is_not_alignment(server: str) -> None:
    verdict = check(server, message(), envelope="bounces@mailer.example")
    assert not verdict.authenticated
    assert "not aligned" in verdict.how


def test_spf_for_a_subdomain_aligns_relaxed_but_not_under_strict_dmarc(server: str) -> None:
    assert check(server, message(), envelope="bounces@sub.acme.example").authenticated
    strict = check(
        server,
        message("alice@strict.example"),
        author="strict.example",
        envelope="bounces@mail.strict.example",
    )
    assert not strict.authenticated  # aspf=s: mail.strict.example is not strict.example


def test_spf_is_not_used_over_lmtp(server: str) -> None:
    # The LMTP client is our own MTA, not the sender's: its address proves nothing.
    assert not check(server, message(), channel="lmtp").authenticated


def test_dkim_key_comes_from_dns(server: str, keys: dict[str, tuple[bytes, str]]) -> None:
    raw = DkimSigner("acme.example", "sel", keys["acme"][0]).sign(message())
    verdict = check(server, raw, peer="192.0.2.7")
    assert verdict == trust.Verdict(True, "DKIM signature of acme.example")


def forwarded(keys: dict[str, tuple[bytes, str]]) -> bytes:
    """Signed by acme, then a list at fwd.example adds a footer (breaking DKIM), records what
    it saw in Authentication-Results and seals it with ARC, as Google Groups or M365 do."""
    signed = DkimSigner("acme.example", "sel", keys["acme"][0]).sign(message())
    changed = signed.replace(b"Yes, 8pm is fine.", b"Yes, 8pm is fine.\r\n--\r\nThe list")
    results = (
        b"Authentication-Results: fwd.example; dkim=pass header.d=acme.example;"
        b" spf=pass smtp.mailfrom=alice@acme.example; dmarc=pass header.from=acme.example\r\n"
    )
    with_results = results + changed
    arc_set = dkim.arc_sign(with_results, b"arc", b"fwd.example", keys["fwd"][0], b"fwd.example")
    return b"".join(arc_set) + with_results


def test_arc_from_a_trusted_forwarder_authenticates(
    server: str, keys: dict[str, tuple[bytes, str]]
) -> None:
    raw = forwarded(keys)
    # The forwarder's own server sends it: no SPF for acme.example, DKIM broken by the footer.
    assert not check(server, raw, peer="192.0.2.7", envelope="list@fwd.example").authenticated
    verdict = check(
        server, raw, peer="192.0.2.7", envelope="list@fwd.example", sealers=("fwd.example",)
    )
    assert verdict.authenticated
    assert "ARC" in verdict.how and "fwd.example" in verdict.how


def test_arc_from_an_untrusted_sealer_does_not(
    server: str, keys: dict[str, tuple[bytes, str]]
) -> None:
    verdict = check(
        server, forwarded(keys), peer="192.0.2.7", sealers=("google.com",), channel="lmtp"
    )
    assert not verdict.authenticated
    assert "fwd.example, not a trusted forwarder" in verdict.how


def test_a_tampered_arc_chain_does_not(server: str, keys: dict[str, tuple[bytes, str]]) -> None:
    raw = forwarded(keys).replace(b"8pm", b"9pm")
    verdict = check(server, raw, peer="192.0.2.7", sealers=("fwd.example",), channel="lmtp")
    assert not verdict.authenticated


def test_an_unreachable_dns_server_fails_closed() -> None:
    # Nothing listens on port 9 of loopback: every lookup times out or is refused.
    verdict = check("127.0.0.1:9", message())
    assert not verdict.authenticated
    assert "SPF: temperror" in verdict.how
