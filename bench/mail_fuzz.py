"""Mail fuzz of a real smsbridge gateway: hostile email over SMTP and LMTP, on both databases.

For each database (a SQLite file, and/or a fresh PostgreSQL database dropped at the end) and
each protocol (SMTP, LMTP) this script:

1. prepares a conversation in the database with the library (an account, a Reply Number, an
   SMS whose responseemail is alice@acme.example, the customer's answer: its forward's Reply-To
   is the address the fuzz writes to);
2. starts `smsbridge serve` as its own process (configured through SMSBRIDGE_* variables: its
   mail server in that protocol on a free port, no trusted network, Authentication-Results
   believed from "mx.acme.test", DNS answered by a server this script runs on 127.0.0.1);
3. sends a control run of good replies, alone, to measure their latency;
4. sends `--count` hostile emails (tests/mail/hostile.py: every family in turn, then random
   damage), each claiming the member's address and carrying a trusted DMARC pass, so only the
   gateway's own rules stand between it and an SMS; a good reply follows every `--good-every`;
5. waits until every email is judged, then counts from the database and the gateway's log.

Columns: hostile emails sent; answered 5xx at SMTP (refused at once, recorded); refused,
ignored and sent as SMS after storing (malformed but readable, with one author: 8-bit headers,
odd charsets, broken Cc...); repeats (byte-identical emails, or the same Message-ID, sender and
recipients: recognised as a retry and stored once); worker exceptions (emails that failed or
were retried, plus "processing failed" lines in the log: goal 0); ambiguous-From SMS (an email
without exactly one author that became an SMS: goal 0); good replies sent as SMS; latency from
our 250 to the SMS row of the good replies among the hostile stream (p50, max) and of the
control run (max). "Delayed" is the hostile stream's max minus the control's max (goal: under
1 s).

    .venv/bin/python bench/mail_fuzz.py                       # both databases, both protocols
    .venv/bin/python bench/mail_fuzz.py --db sqlite --count 300
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import smtplib
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for tests.mail (the hostile emails and the DNS server)

from bench.pipeline import (  # noqa: E402 - shared with the other benches
    Gateway,
    free_port,
    percentile,
    postgres_database,
    sqlite_database,
)
from tests.mail.dns_server import dns_server  # noqa: E402
from tests.mail.hostile import Target, good_reply, hostile_emails  # noqa: E402

from smsbridge.app import Gateway as Library  # noqa: E402
from smsbridge.carriers.base import InboundSms  # noqa: E402
from smsbridge.credits import ledger  # noqa: E402
from smsbridge.messages.schemas import MessageIn  # noqa: E402
from smsbridge.settings import Settings  # noqa: E402

DOMAIN = "sms.bench.test"
MEMBER = "alice@acme.example"
CUSTOMER = "+447700900123"
NUMBER = "+447700900001"
TRUSTED = "Authentication-Results: mx.acme.test; dmarc=pass header.from=acme.example\r\n"


@dataclass
class Row:
    database: str
    protocol: str
    hostile: int
    smtp_refused: int
    refused: int
    ignored: int
    sent: int
    repeats: int
    exceptions: int
    ambiguous_sms: int
    good_sent: str
    good_p50: float
    good_max: float
    control_max: float

    def cells(self) -> list[str]:
        return [
            self.database,
            self.protocol,
            f"{self.hostile:,}",
            f"{self.smtp_refused:,}",
            f"{self.refused:,}",
            f"{self.ignored:,}",
            f"{self.sent:,}",
            f"{self.repeats:,}",
            str(self.exceptions),
            str(self.ambiguous_sms),
            self.good_sent,
            f"{self.good_p50:.2f} s",
            f"{self.good_max:.2f} s",
            f"{self.control_max:.2f} s",
            f"{max(0.0, self.good_max - self.control_max):.2f} s",
        ]


HEADERS = [
    "database",
    "protocol",
    "hostile",
    "5xx at SMTP",
    "refused",
    "ignored",
    "sent",
    "repeats",
    "worker exceptions",
    "ambiguous-From SMS",
    "good sent",
    "good p50",
    "good max",
    "control max",
    "delayed",
]


def format_table(rows: Sequence[Row]) -> str:
    table = [HEADERS, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    out = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        for line in table
    ]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def prepare(database_url: str, workdir: Path) -> str:
    """The conversation, made with the library; returns its reply address."""
    settings = Settings(
        database={"url": database_url},
        mail={"domain": DOMAIN, "out": {"maildir": str(workdir / "maildir")}},
    )
    library = Library(settings)
    library.migrate()
    account = library.accounts.create_account("fuzz")
    with library.db.write() as session:
        ledger.credit(session, account.id, 10**12, library.clock.now(), kind="topup")
    library.numbers.add_to_pool([NUMBER])
    library.numbers.assign(account.id)
    library.messages.send(
        account.id,
        MessageIn(sender=NUMBER, destination=CUSTOMER, content="Hi", responseemail=[MEMBER]),
    )
    library.inbound.receive(InboundSms("fuzz-1", CUSTOMER, NUMBER, "Hello?", library.clock.now()))
    with library.db.read() as session:
        raw = session.execute(text("SELECT raw FROM emails WHERE kind = 'forward'")).scalar_one()
    library.db.dispose()
    forward = message_from_bytes(bytes(raw), policy=default)
    return str(forward["Reply-To"])


def send(port: int, protocol: str, raw: bytes, recipient: str) -> int:
    client: smtplib.SMTP = (
        smtplib.LMTP("127.0.0.1", port) if protocol == "lmtp" else smtplib.SMTP("127.0.0.1", port)
    )
    with client:
        client.ehlo("mx.fuzz.test")
        client.mail(MEMBER)
        code, _ = client.rcpt(recipient)
        if code != 250:
            return code
        try:
            code, _ = client.data(raw)
        except smtplib.SMTPDataError as exc:
            return int(exc.smtp_code)
        return code


class SmsWatcher:
    """Polls the database for the SMS of good replies; records when each first appears."""

    def __init__(self, reader: Engine) -> None:
        self.reader = reader
        self.sent_at: dict[str, float] = {}
        self.seen_at: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def expect(self, content: str, at: float) -> None:
        self.sent_at[content] = at

    def _run(self) -> None:
        while not self._stop.is_set():
            waiting = [c for c in list(self.sent_at) if c not in self.seen_at]
            if waiting:
                with self.reader.connect() as connection:
                    found = connection.execute(
                        text("SELECT content FROM messages WHERE conversation_id IS NOT NULL")
                    ).scalars()
                    now = time.monotonic()
                    for content in found:
                        if content in self.sent_at and content not in self.seen_at:
                            self.seen_at[content] = now
            self._stop.wait(0.02)

    @contextlib.contextmanager
    def running(self) -> Iterator[SmsWatcher]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(5)

    def wait(self, contents: Sequence[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(c not in self.seen_at for c in contents):
            time.sleep(0.05)

    def latencies(self, contents: Sequence[str]) -> list[float]:
        return [self.seen_at[c] - self.sent_at[c] for c in contents if c in self.seen_at]


def bench_one(
    kind: str,
    protocol: str,
    database_url: str,
    reader: Engine,
    workdir: Path,
    args: argparse.Namespace,
    dns: str,
) -> Row:
    reply_to = prepare(database_url, workdir)
    gateway = Gateway(database_url, 500, workdir)
    mail_port = free_port()
    gateway.env.update(
        {
            "SMSBRIDGE_MAIL__DOMAIN": DOMAIN,
            "SMSBRIDGE_MAIL__OUT__MAILDIR": str(workdir / "maildir"),
            "SMSBRIDGE_MAIL__INBOUND__MODE": protocol,
            "SMSBRIDGE_MAIL__INBOUND__SMTP_PORT": str(mail_port),
            "SMSBRIDGE_MAIL__INBOUND__TRUSTED_NETWORKS": "[]",
            "SMSBRIDGE_MAIL__INBOUND__TRUSTED_AUTHSERV_IDS": json.dumps(["mx.acme.test"]),
            "SMSBRIDGE_MAIL__INBOUND__DNS_SERVERS": json.dumps([dns]),
            "SMSBRIDGE_MAIL__INBOUND__REPLIES_PER_CONVERSATION_PER_HOUR": "100000",
            "SMSBRIDGE_MAIL__INBOUND__REPLIES_PER_ACCOUNT_PER_HOUR": "100000",
        }
    )
    target = Target(reply_to=reply_to, member=MEMBER, extra_headers=TRUSTED)
    gateway.start()
    print(f"[{kind}/{protocol}] gateway pid {gateway.pid}, mail on {mail_port}", flush=True)
    ambiguous: set[str] = set()
    smtp_refused = 0
    good: list[str] = []
    control: list[str] = []
    try:
        with SmsWatcher(reader).running() as watcher:
            for index in range(args.control):
                content = f"Control reply {index}"
                send(mail_port, protocol, good_reply(target, content, 10**6 + index), reply_to)
                watcher.expect(content, time.monotonic())
                control.append(content)
                watcher.wait([content], 30)
            for index, email in enumerate(hostile_emails(target, args.count, args.seed)):
                if email.ambiguous_author:
                    ambiguous.add(hashlib.sha256(email.raw).hexdigest())
                if send(mail_port, protocol, email.raw, reply_to) >= 500:
                    smtp_refused += 1
                if index % args.good_every == args.good_every - 1:
                    content = f"Good reply {index}"
                    send(mail_port, protocol, good_reply(target, content, index), reply_to)
                    watcher.expect(content, time.monotonic())
                    good.append(content)
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                with reader.connect() as connection:
                    left = connection.execute(
                        text("SELECT COUNT(*) FROM inbound_emails WHERE status = 'received'")
                    ).scalar_one()
                if not left:
                    break
                time.sleep(0.2)
            watcher.wait(good, 10)
            good_latency = watcher.latencies(good)
            control_latency = watcher.latencies(control)
    finally:
        gateway.stop()
    with reader.connect() as connection:
        counts = dict(
            connection.execute(
                text("SELECT status, COUNT(*) FROM inbound_emails GROUP BY status")
            ).all()
        )
        retried = connection.execute(
            text("SELECT COUNT(*) FROM inbound_emails WHERE attempts > 0 OR status = 'failed'")
        ).scalar_one()
        sent_raws = connection.execute(
            text("SELECT raw FROM inbound_emails WHERE status = 'sent'")
        ).scalars()
        fooled = sum(1 for raw in sent_raws if hashlib.sha256(bytes(raw)).hexdigest() in ambiguous)
    logged = gateway.log_path.read_text(errors="replace").count("processing failed")
    return Row(
        database=kind,
        protocol=protocol,
        hostile=args.count,
        smtp_refused=smtp_refused,
        refused=int(counts.get("refused", 0)) - smtp_refused,
        ignored=int(counts.get("ignored", 0)),
        sent=int(counts.get("sent", 0)) - len(good) - len(control),
        repeats=args.count - sum(int(n) for n in counts.values()) + len(good) + len(control),
        exceptions=int(retried) + logged,
        ambiguous_sms=fooled,
        good_sent=f"{len(good_latency)}/{len(good)}",
        good_p50=percentile(good_latency, 50) if good_latency else float("nan"),
        good_max=max(good_latency, default=float("nan")),
        control_max=max(control_latency, default=float("nan")),
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--protocol", choices=["smtp", "lmtp", "both"], default="both")
    parser.add_argument("--count", type=int, default=300, help="hostile emails per run")
    parser.add_argument("--good-every", type=int, default=20)
    parser.add_argument("--control", type=int, default=10, help="good replies sent alone first")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--timeout", type=float, default=600.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    protocols = ["smtp", "lmtp"] if args.protocol == "both" else [args.protocol]
    rows: list[Row] = []
    # An empty zone: every lookup is answered at once (NXDOMAIN), never sent to the internet.
    with dns_server({}) as (dns, _resolver):
        for kind in kinds:
            for protocol in protocols:
                with tempfile.TemporaryDirectory(prefix="smsbridge-mailfuzz-") as tmp:
                    workdir = Path(tmp)
                    database = sqlite_database(workdir) if kind == "sqlite" else postgres_database()
                    with database as (url, reader):
                        rows.append(bench_one(kind, protocol, url, reader, workdir, args, dns))
                print(format_table(rows[-1:]), flush=True)
    print()
    print(format_table(rows))
    bad = any(r.exceptions or r.ambiguous_sms for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
