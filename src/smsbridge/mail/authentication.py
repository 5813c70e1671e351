"""Gathering what vouches for a received email: DKIM, SPF, the DMARC record, ARC (does DNS).

The libraries do the cryptography and the RFC logic: dkimpy verifies DKIM signatures and ARC
chains, pyspf evaluates SPF (RFC 7208), publicsuffixlist finds organisational domains. What
they find becomes a `trust.Evidence`; `trust.verdict` decides what it means. The DMARC record
is read here (RFC 7489 section 6.6.3, a TXT lookup and a tag list) rather than with a DMARC
library: the ones on PyPI re-read the whole public suffix list on every call and swallow
their own errors, and we need only the alignment modes of the record, not its reporting.
"""

from __future__ import annotations

import contextvars
import ipaddress
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dkim
import spf

from smsbridge.conversations.trust import ArcEvidence, DmarcRecord, Evidence
from smsbridge.mail.checks import HeaderSource, authentication_results_vouch
from smsbridge.mail.checks import dmarc_pass_from_authentication_results as trusted_results
from smsbridge.mail.dkim_keys import verify_dkim
from smsbridge.mail.dns import DnsTemporaryError, Resolver
from smsbridge.mail.domains import normalise_domain, organisational_domain

DkimDns = Callable[..., bytes | None]

# pyspf has no per-call DNS hook: it calls its module attribute `spf.DNSLookup`. We set that
# attribute once, to a function that asks the resolver of the check in progress (this context
# variable, set around each check), so pyspf never reads the system's resolver behind our back
# and two gateways in one process (tests) each use their own.
_spf_resolver: contextvars.ContextVar[Resolver | None] = contextvars.ContextVar(
    "smsbridge_spf_resolver", default=None
)
_ARC_INSTANCE = re.compile(r"^\s*i\s*=\s*(\d+)\s*;", re.IGNORECASE)


def _spf_lookup(name: str, qtype: str, strict: object = True, timeout: float = 20) -> list[Any]:
    resolver = _spf_resolver.get()
    if resolver is None:
        raise spf.TempError("DNS: no resolver for this check")
    try:
        records = resolver.query(name, qtype)
    except DnsTemporaryError as exc:
        raise spf.TempError(f"DNS {exc}") from exc
    answers: list[Any] = []
    # The shapes pyspf's own dnspython driver returns, per record type.
    for record in records:
        if qtype in ("A", "AAAA"):
            answers.append(((name, qtype), record.address))
        elif qtype == "MX":
            answers.append(((name, qtype), (record.preference, record.exchange)))
        elif qtype == "PTR":
            answers.append(((name, qtype), record.target.to_text(True)))
        elif qtype in ("TXT", "SPF"):
            answers.append(((name, qtype), record.strings))
    return answers


spf.DNSLookup = _spf_lookup


@dataclass(frozen=True)
class ReceivedFacts:
    """What the receiving side knows besides the message: who connected, and how."""

    channel: str  # smtp, lmtp, http
    peer: str | None
    helo: str | None
    envelope_sender: str


class Authenticator:
    def __init__(
        self,
        resolver: Resolver,
        *,
        trusted_authserv_ids: Sequence[str] = (),
        trusted_arc_sealers: Sequence[str] = (),
        trusted_networks: Sequence[str] = (),
        dkim_dns: DkimDns | None = None,
        budget_seconds: float = 8.0,
    ) -> None:
        self._resolver = resolver
        self._authserv_ids = list(trusted_authserv_ids)
        self._sealers = tuple(normalise_domain(s) for s in trusted_arc_sealers)
        self._networks = [ipaddress.ip_network(n, strict=False) for n in trusted_networks]
        # Tests (and operators with a DNS of their own for keys) may answer DKIM/ARC key
        # lookups themselves; otherwise they go to the shared resolver.
        self._dkim_dns: DkimDns = dkim_dns or resolver.dkim_txt
        self._budget = budget_seconds

    def evidence(
        self, raw: bytes, headers: HeaderSource, author_domain: str, facts: ReceivedFacts
    ) -> Evidence:
        author = normalise_domain(author_domain)
        started = time.monotonic()
        notes: list[str] = []

        def left() -> bool:
            if time.monotonic() - started < self._budget:
                return True
            notes.append(f"checks stopped after {self._budget:g} s")
            return False

        trusted_network = (
            facts.channel == "smtp" and facts.peer is not None and self._in_networks(facts.peer)
        )
        results = trusted_results(headers, self._authserv_ids, author)
        dkim_result = verify_dkim(raw, author, dnsfunc=self._dkim_dns)
        dmarc = self._dmarc_record(author) if left() else None
        spf_result, spf_domain = (None, "")
        if facts.channel == "smtp" and facts.peer and left():
            spf_result, spf_domain = self._spf(facts)
        arc = self._arc(raw, headers, author) if left() else None
        return Evidence(
            author_domain=author,
            trusted_network=trusted_network,
            trusted_results=results,
            dkim_domains=dkim_result.verified,
            dkim_detail=dkim_result.reason,
            spf_result=spf_result,
            spf_domain=spf_domain,
            dmarc=dmarc,
            arc=arc,
            trusted_sealers=self._sealers,
            notes=tuple(notes),
        )

    def _in_networks(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    def _spf(self, facts: ReceivedFacts) -> tuple[str, str]:
        sender = facts.envelope_sender
        helo = facts.helo or ""
        domain = sender.rpartition("@")[2] if "@" in sender else helo
        token = _spf_resolver.set(self._resolver)
        try:
            # querytime bounds the whole evaluation (RFC 7208 section 4.6.4 suggests 20 s).
            result, _code, _explanation = spf.query(
                i=facts.peer, s=sender, h=helo, querytime=min(self._budget, 20)
            ).check()
        except Exception as exc:  # pyspf turns most trouble into a result; anything else:
            result = f"temperror ({type(exc).__name__})"
        finally:
            _spf_resolver.reset(token)
        return str(result), normalise_domain(domain)

    def _dmarc_record(self, author: str) -> DmarcRecord | None:
        organisational = organisational_domain(author)
        for domain in dict.fromkeys([author, organisational]):
            try:
                records = self._resolver.txt(f"_dmarc.{domain}")
            except DnsTemporaryError:
                return None
            parsed = [_dmarc_tags(r) for r in records if r[:8].lower() == b"v=dmarc1"]
            # RFC 7489 6.6.3: exactly one record, or the domain has none.
            if len(parsed) == 1 and parsed[0] is not None:
                tags = parsed[0]
                policy = tags.get("p", "none")
                if domain != author:
                    policy = tags.get("sp", policy)
                return DmarcRecord(
                    domain,
                    adkim="s" if tags.get("adkim") == "s" else "r",
                    aspf="s" if tags.get("aspf") == "s" else "r",
                    policy=policy,
                )
            if parsed:
                return None
        return None

    def _arc(self, raw: bytes, headers: HeaderSource, author: str) -> ArcEvidence | None:
        if not headers.get_all("ARC-Seal"):
            return None
        try:
            chain, results, comment = dkim.arc_verify(raw, dnsfunc=self._dkim_dns)
        except Exception as exc:  # dkimpy raises assorted errors on malformed sets
            return ArcEvidence("fail", None, False, type(exc).__name__)
        if not results:
            return ArcEvidence("fail", None, False, str(comment)[:200])
        newest = results[0]
        sealer = _text(newest.get("as-domain"))
        instance = int(newest.get("instance", 0))
        vouched = False
        for value in headers.get_all("ARC-Authentication-Results") or []:
            match = _ARC_INSTANCE.match(str(value))
            if match and int(match.group(1)) == instance:
                vouched = authentication_results_vouch(str(value)[match.end() :], author)
        status = chain.decode("ascii") if isinstance(chain, bytes) else "fail"
        return ArcEvidence(status, normalise_domain(sealer) or None, vouched, str(comment)[:200])


def _dmarc_tags(record: bytes) -> dict[str, str] | None:
    tags: dict[str, str] = {}
    for item in record.decode("utf-8", "replace").split(";"):
        name, equals, value = item.partition("=")
        if not equals:
            if item.strip():
                return None
            continue
        tags[name.strip().lower()] = value.strip().lower()
    return tags


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value or "")
