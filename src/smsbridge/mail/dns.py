"""DNS for mail authentication: one resolver (dnspython) that DKIM, ARC, SPF and DMARC share.

The servers come from settings (empty: the system's resolv.conf), so tests and operators can
point every check at a resolver of their choosing; every query has a deadline, so a slow or
hostile domain costs a bounded time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dns.exception
import dns.name
import dns.resolver


class DnsTemporaryError(Exception):
    """The answer could not be had now (timeout, no server answered): not "no record"."""


class Resolver:
    def __init__(self, servers: Sequence[str] = (), *, timeout_seconds: float = 3.0) -> None:
        if servers:
            resolver = dns.resolver.Resolver(configure=False)
            addresses: list[str] = []
            ports: dict[str, int] = {}
            for entry in servers:
                host, port = _host_port(entry)
                addresses.append(host)
                ports[host] = port
            resolver.nameservers = addresses
            resolver.nameserver_ports = ports
        else:
            try:
                resolver = dns.resolver.Resolver(configure=True)
            except dns.resolver.NoResolverConfiguration:
                # No resolv.conf: every lookup fails as temporary, checks simply do not pass.
                resolver = dns.resolver.Resolver(configure=False)
                resolver.nameservers = []
        resolver.lifetime = timeout_seconds
        resolver.timeout = timeout_seconds
        self._resolver = resolver
        self.timeout_seconds = timeout_seconds

    def query(self, name: str, rdtype: str) -> list[Any]:
        """The answer's records; [] for NXDOMAIN or no data; DnsTemporaryError otherwise."""
        try:
            answer = self._resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise DnsTemporaryError(f"DNS lookup of {name} {rdtype}: {exc}") from exc
        except (dns.exception.DNSException, ValueError, UnicodeError) as exc:
            # A name that is not a name (too long, empty labels, bad IDNA): no such record.
            if isinstance(exc, dns.name.NameTooLong | dns.name.EmptyLabel | dns.name.LabelTooLong):
                return []
            raise DnsTemporaryError(f"DNS lookup of {name} {rdtype}: {exc}") from exc
        return list(answer)

    def txt(self, name: str) -> list[bytes]:
        """Each TXT record at `name`, its strings joined (RFC 7208 section 3.3)."""
        return [b"".join(record.strings) for record in self.query(name, "TXT")]

    def dkim_txt(self, name: bytes, timeout: float = 5) -> bytes | None:
        """dkimpy's `dnsfunc`: the (first) TXT record of a name, or None."""
        try:
            records = self.txt(name.decode("ascii", "replace").rstrip("."))
        except DnsTemporaryError:
            return None
        return records[0] if records else None


def _host_port(entry: str) -> tuple[str, int]:
    text = entry.strip()
    if text.startswith("["):  # [::1]:53
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port)
    return text, 53
