"""A real DNS server on 127.0.0.1 for the authentication tests (dnslib): the zone is a dict."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dnslib import AAAA, MX, QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

Zone = dict[tuple[str, str], list[Any]]


def _txt_strings(value: str | bytes) -> list[bytes]:
    data = value.encode() if isinstance(value, str) else value
    # A TXT record is a list of strings of at most 255 bytes (RFC 1035), as DKIM keys need.
    return [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]


class ZoneResolver(BaseResolver):  # type: ignore[misc]
    """Answers from a dict {(name, type): [values]}; names without the final dot."""

    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.queries: list[tuple[str, str]] = []

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.queries.append((name, qtype))
        values = self.zone.get((name, qtype), [])
        for value in values:
            if qtype == "TXT":
                data: Any = TXT(_txt_strings(value))
            elif qtype == "A":
                data = A(value)
            elif qtype == "AAAA":
                data = AAAA(value)
            elif qtype == "MX":
                data = MX(value)
            else:
                continue
            reply.add_answer(RR(request.q.qname, request.q.qtype, rdata=data, ttl=60))
        if not values and not any(key[0] == name for key in self.zone):
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@contextmanager
def dns_server(zone: Zone) -> Iterator[tuple[str, ZoneResolver]]:
    """A UDP DNS server on 127.0.0.1 (an ephemeral port); yields ("127.0.0.1:port", resolver)."""
    resolver = ZoneResolver(zone)
    # Only errors are logged: a line per query would bury a failing test's output.
    quiet = DNSLogger("-request,-reply,-truncated,-data,-send,-recv", prefix=False)
    server = DNSServer(resolver, address="127.0.0.1", port=0, logger=quiet)
    server.start_thread()
    try:
        port = server.server.server_address[1]
        yield f"127.0.0.1:{port}", resolver
    finally:
        server.stop()
        server.server.server_close()
