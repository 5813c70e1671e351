"""Latency of the conversation: customers' SMS to the mail relay, and email replies to the SMSC.

For each database (a SQLite file in a temporary directory; with --db postgresql or both, also a
fresh PostgreSQL database with a random name on postgresql+psycopg://postgres@127.0.0.1:5432/,
dropped at the end) this script:

1. starts the SMPP test peer (tests/carriers/smpp/peer/peer.js, a real SMPP 3.4 server from the
   npm package "smpp", through tests/carriers/smpp/smpp_peer.py) and a real SMTP relay on
   loopback (aiosmtpd, in this process), which answers every DATA with 250 and notes when;
2. writes a settings file (smsbridge.toml) in a temporary directory and starts
   `smsbridge serve` from it as its own process: the SMPP carrier with one transceiver bind to
   the peer, outbound email through the relay (`mail.out.transport = "smtp"`), its SMTP server
   for replies on a free port, the reply rate limits lifted;
3. sets up --accounts accounts with `smsbridge account create --json` and `smsbridge numbers
   add/assign --json`, two Reply Numbers each, and gives every Reply Number its own default
   Response Email through the API (`PUT /v1/replynumbers/{number}`);
4. runs the stages, one after another, each for --duration seconds of steady load:
   - SMS -> email at each of --sms-rates per second: the peer sends a `deliver_sm` (its control
     API, `POST /deliver`) from one of --customers handsets per Reply Number, its text carrying
     a unique token. Latency runs from the peer writing the `deliver_sm` (its own timestamp) to
     the relay answering 250 to the DATA of the forward that carries the token;
   - email -> SMS at each of --email-rates per second: replies to those forwards, written as a
     mail client writes them (From the Response Email, To the forward's Reply-To, Subject "Re:",
     In-Reply-To and References naming the forward's Message-ID, the text above the quoted
     forward), over SMTP from 127.0.0.1 (trusted by the gateway's default
     `mail.inbound.trusted_networks`; no DKIM). Latency runs from the gateway's 250 to our DATA
     to the peer receiving the `submit_sm` with the reply's token (its own timestamp);
   - both at once (--both SMS_RATE,EMAIL_RATE), each direction measured as above.
   Before the stages, a few unmeasured SMS and replies warm the gateway up (the first email it
   judges loads the Public Suffix List, about a second). A stage first waits (up to --drain s)
   for what earlier stages left on the way ("backlog"), stops injecting once more than 2 s of
   its load is outstanding ("stopped": the gateway fell behind, and a longer run would only
   measure its queue), then waits up to --drain s for its last messages; any still missing are
   counted ("!" on "measured"), never hidden. Higher rates of a direction that fell behind are
   skipped. The replies' DMARC look-ups go to a DNS server this script runs on loopback, with
   an empty zone (every answer NXDOMAIN at once).

Columns: messages sent and measured; "rate/s" is the rate the injector achieved ("!" below 90%
of the target: the SMTP client waits for each 250, so a slow gateway slows it down); p50/p95/
p99/max latency in milliseconds; "gw CPU" is the gateway process's CPU per wall-clock second
over the stage, "µs/msg" the gateway's CPU per message measured in the stage (both directions
in "both"), less what it burns idle (measured for 3 s before the stages); "load" the 1-minute
load average when the stage started; "probe ms" how long sum(range(10**6)) took in this process
then (best of 3; 18 ms at the quietest moment of our runs), to show how much of a
core a Python process was getting. The gateway's peak RSS (VmHWM) is printed per database.
Timestamps are the machine's wall clock, read by node (the peer, whole milliseconds) and by
this process (the relay, the SMTP client).

    .venv/bin/python bench/conversation.py                     # SQLite, about 2 minutes
    .venv/bin/python bench/conversation.py --db both --duration 10
    .venv/bin/python bench/conversation.py --sms-rates 500,1000 --email-rates 0 --both none
    .venv/bin/python bench/conversation.py --py-spy /tmp/conv-prof   # py-spy in the venv
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import re
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for tests.carriers.smpp.smpp_peer

from bench.pipeline import (  # noqa: E402 - shared with the other benches
    ServeProcess,
    cpu_seconds,
    free_port,
    markdown_table,
    percentile,
    postgres_database,
    py_spy_binary,
    sqlite_database,
)
from tests.carriers.smpp.smpp_peer import SmppPeer, part  # noqa: E402
from tests.mail.dns_server import dns_server  # noqa: E402

DOMAIN = "sms.bench.test"
CREDITS = 1_000_000_000
# Reply Numbers from the range the README uses; customers from 07401 000000 onwards (valid UK
# mobiles to libphonenumber, as in bench/pipeline.py).
NUMBER_BASE = 447700900001
CUSTOMER_BASE = 447401000000
SMS_TOKEN = re.compile(rb"\bS(\d{9})Q\b")
REPLY_TOKEN = re.compile(rb"\bR(\d{9})Q\b")
AIM_SMS_P99_MS = 100.0
AIM_EMAIL_P99_MS = 250.0
# A stage stops injecting once more than this many seconds of its load are outstanding.
GUARD_SECONDS = 2.0
KEPT_RATE = 0.9
IDLE_SAMPLE_SECONDS = (
    3.0  # a stage whose injector reached less than this share of its rate fell behind
)


# -- results -----------------------------------------------------------------------------------


@dataclass
class Row:
    database: str
    stage: str  # "sms->email", "email->sms", or "both: ..." with the direction
    target: float
    sent: int
    measured: int
    achieved: float
    latencies_ms: list[float]
    gateway_cpu_share: float
    cpu_us_per_message: float
    load: float
    backlog: int = 0  # messages of earlier stages still on their way when this one started
    probe_ms: float = math.nan  # speed_probe() when the stage started
    stopped: bool = False  # the injector stopped early: more than GUARD_SECONDS behind
    waiting: str = ""  # what was still queued, and where, when the load ended

    def cells(self) -> list[str]:
        lat = self.latencies_ms

        def ms(pct: float) -> str:
            return f"{percentile(lat, pct):,.1f}" if lat else "-"

        return [
            self.database,
            self.stage,
            f"{self.target:,.0f}",
            f"{self.sent:,}",
            f"{self.measured:,}" + ("" if self.measured == self.sent else "!"),
            f"{self.achieved:,.0f}" + ("!" if not self.kept_rate else ""),
            ms(50),
            ms(95),
            ms(99),
            f"{max(lat):,.1f}" if lat else "-",
            f"{self.gateway_cpu_share * 100:.0f}%",
            f"{self.cpu_us_per_message:,.0f}",
            f"{self.load:.2f}",
            f"{self.probe_ms:.0f}",
            f"{self.backlog:,}" if self.backlog else "",
            "; ".join(
                part
                for part in (
                    f"stopped, {GUARD_SECONDS:g} s behind" if self.stopped else "",
                    f"waiting: {self.waiting}" if self.waiting else "",
                )
                if part
            ),
        ]

    @property
    def kept_rate(self) -> bool:
        """Whether the injector reached the target rate (it waits for each SMTP 250)."""
        return self.achieved >= KEPT_RATE * self.target

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99) if self.latencies_ms else math.nan


HEADERS = [
    "database",
    "stage",
    "target/s",
    "sent",
    "measured",
    "rate/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "gw CPU",
    "µs/msg",
    "load",
    "probe ms",
    "backlog",
    "note",
]
LEFT = {0, 1, 15}


def format_table(rows: Sequence[Row]) -> str:
    return markdown_table(HEADERS, [r.cells() for r in rows], LEFT)


def speed_probe() -> float:
    """Milliseconds for sum(range(10**6)), best of 3: how fast a core is for Python right now.
    A shared machine slows every figure down; this says by how much (about 15-20 ms on an idle
    2.6 GHz core)."""
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        sum(range(10**6))
        best = min(best, time.perf_counter() - started)
    return best * 1000


# -- the mail relay ----------------------------------------------------------------------------


@dataclass
class Forward:
    """What a mail client needs to answer a forward."""

    token: int
    to: str  # the member it went to: the reply's From
    reply_to: str
    message_id: str
    subject: str


class Relay:
    """The gateway's outbound SMTP relay: notes when each forward's DATA was answered 250."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted_at: dict[int, float] = {}  # SMS token -> time.time() of our 250
        self.forwards: list[Forward] = []
        self.other = 0  # emails that are not forwards (copies of replies, notices)
        self._parser = BytesHeaderParser(policy=default_policy)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.time()
        raw: bytes = envelope.content
        headers = self._parser.parsebytes(raw)
        if headers.get("X-Smsbridge-Kind") != "forward":
            with self.lock:
                self.other += 1
            return "250 OK"
        # The forward shows the SMS first, then the conversation's last messages (whose tokens
        # may even be newer: on PostgreSQL two SMS of one handset are stored concurrently), so
        # the first token in the plain-text part is this SMS's own.
        found = SMS_TOKEN.search(raw)
        if found:
            token = int(found[1])
            forward = Forward(
                token=token,
                to=str(headers["To"]),
                reply_to=str(headers["Reply-To"]),
                message_id=str(headers["Message-ID"]),
                subject=str(headers["Subject"]),
            )
            with self.lock:
                if token not in self.accepted_at:
                    self.accepted_at[token] = now
                    self.forwards.append(forward)
        return "250 OK"

    @contextlib.contextmanager
    def running(self) -> Iterator[int]:
        port = free_port()
        controller = Controller(self, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            yield port
        finally:
            controller.stop()


# -- the gateway process -----------------------------------------------------------------------


def settings_toml(
    database_url: str,
    http_port: int,
    mail_port: int,
    relay_port: int,
    peer_port: int,
    dns: str,
) -> str:
    return f"""# Written by bench/conversation.py
[database]
url = "{database_url}"

[http]
host = "127.0.0.1"
port = {http_port}

[carrier]
kind = "smpp"

[[carrier.smpp.connectors]]
name = "peer"
host = "127.0.0.1"
port = {peer_port}
system_id = "bench"
password = "pw"
window_size = 50
submit_id_base = "hex"
receipt_id_base = "hex"

[mail]
domain = "{DOMAIN}"

[mail.out]
transport = "smtp"
smtp_host = "127.0.0.1"
smtp_port = {relay_port}
smtp_security = "none"

[mail.inbound]
smtp_host = "127.0.0.1"
smtp_port = {mail_port}
replies_per_conversation_per_hour = 1000000
replies_per_account_per_hour = 1000000
dns_servers = ["{dns}"]
"""


class GatewayProcess(ServeProcess):
    """`smsbridge serve` (API, mail server and workers) from a settings file in `workdir`."""

    def __init__(
        self, database_url: str, workdir: Path, relay_port: int, peer_port: int, dns: str
    ) -> None:
        self.http_port = free_port()
        self.mail_port = free_port()
        self.config = workdir / "smsbridge.toml"
        self.config.write_text(
            settings_toml(database_url, self.http_port, self.mail_port, relay_port, peer_port, dns)
        )
        # Other SMSBRIDGE_* variables reach the gateway, as in the other benches (to try a
        # setting without editing this script); the settings file is ours.
        env = {k: v for k, v in os.environ.items() if k != "SMSBRIDGE_CONFIG"}
        env["SMSBRIDGE_CONFIG"] = str(self.config)
        super().__init__(env, workdir, workdir / "gateway.log")

    def start(self, timeout: float = 60.0) -> int:
        pid = self.spawn()
        self.wait_healthy(f"http://127.0.0.1:{self.http_port}", timeout)
        return pid

    def peak_rss_mb(self) -> float:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return math.nan


@dataclass
class Setup:
    numbers: list[str]  # international digits, as the SMSC writes them
    members: dict[str, str]  # Reply Number digits -> its Response Email


def set_up_accounts(gateway: GatewayProcess, accounts: int) -> Setup:
    """Accounts, two Reply Numbers each, and a Response Email per number, as an operator and
    the accounts' own API calls would."""
    pool = [str(NUMBER_BASE + i) for i in range(accounts * 2)]
    gateway.cli("numbers", "add", *pool)
    members: dict[str, str] = {}
    for index in range(accounts):
        created = gateway.cli("account", "create", f"bench{index}", "--credits", str(CREDITS))
        key, account_id = created["api_key"], created["account_id"]
        for number in pool[index * 2 : index * 2 + 2]:
            gateway.cli("numbers", "assign", account_id, number)
            member = f"desk{number[-2:]}@acme{index}.example"
            response = httpx.put(
                f"http://127.0.0.1:{gateway.http_port}/v1/replynumbers/{number}",
                headers={"Authorization": key},
                json={"responseemail": [member]},
                timeout=10.0,
                trust_env=False,
            )
            response.raise_for_status()
            members[number] = member
    return Setup(numbers=pool, members=members)


# -- load --------------------------------------------------------------------------------------


def paced(
    rate: float,
    duration: float,
    threads: int,
    send: Callable[[int], None],
    behind: Callable[[], bool],
) -> tuple[float, bool]:
    """Call send(0), send(1), ... at `rate` per second for `duration`, from `threads` threads
    (each call at its slot or as soon after as a thread is free), checking `behind()` twice a
    second and stopping early once it is true. Returns the achieved rate and whether it stopped.

    Stopping bounds the backlog an overloaded stage leaves: the next stage waits for it, and a
    gateway minutes behind would only measure its own queue."""
    count = max(1, round(rate * duration))
    start = time.monotonic() + 0.05
    slots = iter(range(count))
    lock = threading.Lock()
    done_at: list[float] = []
    stop = threading.Event()
    finished = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            with lock:
                index = next(slots, None)
            if index is None:
                return
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            send(index)
            with lock:
                done_at.append(time.monotonic())

    def monitor() -> None:
        while not finished.wait(0.5):
            if behind():
                stop.set()
                return

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    watcher = threading.Thread(target=monitor, daemon=True)
    watcher.start()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    finished.set()
    watcher.join()
    elapsed = max(done_at) - start if done_at else math.nan
    return (len(done_at) / elapsed if elapsed > 0 else math.nan), stop.is_set()


class SmsInjector:
    """Customers' SMS, through the peer's control API: one `deliver_sm` each."""

    def __init__(self, peer: SmppPeer, setup: Setup, customers: int) -> None:
        self.base_url = f"http://127.0.0.1:{peer.control_port}"
        self.setup = setup
        self.customers = customers
        self.next_token = itertools.count(1)
        self.tokens: list[int] = []
        self._lock = threading.Lock()
        self._local = threading.local()
        self._clients: list[httpx.Client] = []

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.base_url, timeout=10.0, trust_env=False)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._local = threading.local()

    def send(self, index: int) -> None:
        with self._lock:
            token = next(self.next_token)
            self.tokens.append(token)
        numbers = self.setup.numbers
        number = numbers[index % len(numbers)]
        customer = CUSTOMER_BASE + (index // len(numbers)) % self.customers
        text = f"Hi, is my order ready? Ref S{token:09d}Q"
        body = {"source": str(customer), "destination": number, "parts": [part(text.encode())]}
        self._client().post("/deliver", json=body).raise_for_status()


class ReplySender:
    """Email replies to forwards over SMTP, one connection per thread, as a mail client."""

    def __init__(self, port: int, forwards: Callable[[], list[Forward]]) -> None:
        self.port = port
        self.forwards = forwards
        self.next_token = itertools.count(1)
        self.sent_at: dict[int, float] = {}  # reply token -> time.time() of the gateway's 250
        self.failed = 0
        self.errors: dict[str, int] = {}  # each kind of failure, with the first send it hit
        self._lock = threading.Lock()
        self._local = threading.local()
        self._clients: list[smtplib.SMTP] = []

    def _client(self) -> smtplib.SMTP:
        client: smtplib.SMTP | None = getattr(self._local, "client", None)
        if client is None:
            client = smtplib.SMTP("127.0.0.1", self.port, local_hostname="mail.acme.example")
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.quit()
        self._clients.clear()
        self._local = threading.local()

    def send(self, index: int) -> None:
        available = self.forwards()
        forward = available[index % len(available)]
        with self._lock:
            token = next(self.next_token)
        reply = EmailMessage()
        reply["From"] = forward.to
        reply["To"] = forward.reply_to
        reply["Subject"] = "Re: " + forward.subject
        reply["In-Reply-To"] = forward.message_id
        reply["References"] = forward.message_id
        reply["Message-ID"] = f"<reply-{token}-{os.getpid()}@acme.example>"
        reply.set_content(
            f"Yes, it is ready to collect. Ref R{token:09d}Q\n\nOn a day, SMS wrote:\n> Hi, is "
            f"my order ready? Ref S{forward.token:09d}Q\n"
        )
        client = self._client()
        try:
            client.send_message(reply)
        except (smtplib.SMTPException, OSError) as exc:
            with self._lock:
                self.failed += 1
                self.errors.setdefault(f"{type(exc).__name__}: {exc}"[:200], index)
                self._clients.remove(client)
            client.close()  # the next send opens a new connection
            self._local.client = None
            return
        now = time.time()
        with self._lock:
            self.sent_at[token] = now


def peer_times(peer: SmppPeer) -> tuple[dict[int, float], dict[int, float]]:
    """From the peer's records: when each SMS token's deliver_sm was written, and when each
    reply token's submit_sm arrived (time.time() scale)."""
    state = peer.state()
    delivered: dict[int, float] = {}
    for record in state["delivers"]:
        if record.get("kind") != "mo":
            continue
        found = SMS_TOKEN.search(bytes.fromhex(record["short_message"]))
        if found:
            delivered[int(found[1])] = iso_seconds(record["time"])
    submitted: dict[int, float] = {}
    for record in state["submits"]:
        found = REPLY_TOKEN.search(bytes.fromhex(record.get("short_message") or ""))
        if found:
            submitted.setdefault(int(found[1]), iso_seconds(record["time"]))
    return delivered, submitted


def iso_seconds(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# -- one database ------------------------------------------------------------------------------


@dataclass
class Options:
    duration: float
    sms_rates: list[float]
    email_rates: list[float]
    both: tuple[float, float] | None
    accounts: int
    customers: int
    threads: int
    drain: float
    py_spy: Path | None


@dataclass
class Run:
    rows: list[Row] = field(default_factory=list)
    peak_rss_mb: float = math.nan
    idle_share: float = 0.0  # the gateway's CPU per wall second with no load
    notes: list[str] = field(default_factory=list)  # stages skipped as already too fast
    problems: list[str] = field(default_factory=list)  # what makes the exit status 1


def bench_database(kind: str, options: Options) -> Run:
    run = Run()
    relay = Relay()
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="smsbridge-conv-")))
        database: contextlib.AbstractContextManager[tuple[str, Engine]] = (
            sqlite_database(workdir) if kind == "sqlite" else postgres_database()
        )
        url, reader = stack.enter_context(database)
        peer = stack.enter_context(SmppPeer())
        relay_port = stack.enter_context(relay.running())
        # The DMARC look-ups of email replies go to an empty zone on loopback (every answer an
        # immediate NXDOMAIN), never to the machine's resolver or the internet.
        dns, _zone = stack.enter_context(dns_server({}))
        gateway = GatewayProcess(url, workdir, relay_port, peer.port, dns)
        gateway.cli("migrate")
        pid = gateway.start()
        stack.callback(gateway.stop)
        print(f"[{kind}] gateway pid {pid}: http {gateway.http_port}, smtp {gateway.mail_port}")
        setup = set_up_accounts(gateway, options.accounts)
        wait_bound(peer)
        injector = SmsInjector(peer, setup, options.customers)
        stack.callback(injector.close)
        replies = ReplySender(gateway.mail_port, lambda: list(relay.forwards))
        stack.callback(replies.close)
        # A few unmeasured conversations first: imports, caches and connections warm up, and
        # the email stages have forwards to answer even if no SMS stage runs.
        warm = max(20, options.accounts * 2)
        paced(50, warm / 50, 1, injector.send, lambda: False)
        wait_until(lambda: len(relay.forwards) >= warm, options.drain)
        # And a few replies: the first email a process judges loads the Public Suffix List.
        paced(10, 1.0, 1, replies.send, lambda: False)
        warm_replies = list(replies.sent_at)
        wait_until(lambda: all(t in peer_times(peer)[1] for t in warm_replies), options.drain, 0.25)
        # What the gateway burns doing nothing (its workers' idle polls), to take out of the
        # per-message CPU: at low rates it would otherwise be most of it.
        before, started = cpu_seconds(pid), time.monotonic()
        time.sleep(IDLE_SAMPLE_SECONDS)
        run.idle_share = (cpu_seconds(pid) - before) / (time.monotonic() - started)
        if options.py_spy is not None:
            stack.enter_context(sampled(pid, options.py_spy / f"{kind}.txt"))
        stages: list[tuple[float, float]] = [(r, 0.0) for r in options.sms_rates if r > 0]
        stages += [(0.0, r) for r in options.email_rates if r > 0]
        if options.both is not None:
            stages.append(options.both)
        overloaded: dict[str, float] = {}  # direction -> the lowest rate it could not keep
        for sms_rate, email_rate in stages:
            # A rate at or above one a direction already fell behind at would only queue more.
            too_fast = [
                direction
                for direction, rate in (("sms", sms_rate), ("email", email_rate))
                if rate and rate >= overloaded.get(direction, math.inf)
            ]
            if too_fast:
                run.notes.append(
                    f"skipped {sms_rate:g} SMS/s + {email_rate:g} emails/s: "
                    + ", ".join(f"{d} fell behind at {overloaded[d]:g}/s" for d in too_fast)
                )
                print(f"[{kind}] {run.notes[-1]}", flush=True)
                continue
            rows = stage(
                kind,
                gateway,
                peer,
                relay,
                injector,
                replies,
                sms_rate,
                email_rate,
                options,
                run.idle_share,
                reader,
            )
            for row in rows:
                print(f"[{kind}] " + "  ".join(row.cells()[1:]), flush=True)
                if row.measured < row.sent or not row.kept_rate or row.stopped:
                    direction = "sms" if row.stage.endswith("sms->email") else "email"
                    overloaded[direction] = min(overloaded.get(direction, math.inf), row.target)
            run.rows += rows
        run.peak_rss_mb = gateway.peak_rss_mb()
        if replies.failed:
            run.problems.append(f"{replies.failed} SMTP sends failed: {list(replies.errors)}")
        code = gateway.stop()
        if code not in (0, -signal.SIGTERM, None):
            run.problems.append(f"gateway exited {code}")
            print(gateway.log_tail())
        errors = peer.state()["errors"]
        if errors:
            run.problems.append(f"{len(errors)} peer errors")
    return run


QUEUES = {
    # SMS the gateway stored (the bench compares with what it injected: "unstored").
    "stored": "SELECT COUNT(*) FROM inbound_messages",
    # Emails the outbox has yet to send.
    "outbox": "SELECT COUNT(*) FROM emails WHERE status IN ('queued', 'sending')",
    # Email replies stored but not judged yet.
    "judging": "SELECT COUNT(*) FROM inbound_emails WHERE status = 'received'",
    # SMS queued but not yet claimed by the pipeline.
    "to submit": "SELECT COUNT(*) FROM messages WHERE state = 'queued'",
}


def queues(reader: Engine) -> dict[str, int]:
    """How many rows wait at each step of the conversation (read-only)."""
    with reader.connect() as connection:
        return {
            name: int(connection.execute(text(sql)).scalar_one()) for name, sql in QUEUES.items()
        }


def explain(reader: Engine) -> str:
    """What became of work that never arrived: emails not sent, replies not turned into SMS."""
    with reader.connect() as connection:
        emails = connection.execute(
            text("SELECT status, COUNT(*) FROM emails WHERE status <> 'sent' GROUP BY status")
        ).all()
        replies = connection.execute(
            text(
                "SELECT status, reason, COUNT(*) FROM inbound_emails WHERE status <> 'sent' "
                "GROUP BY status, reason"
            )
        ).all()
        unrouted = connection.execute(
            text("SELECT COUNT(*) FROM inbound_messages WHERE email_id IS NULL")
        ).scalar_one()
    return (
        f"emails not sent {dict((str(r[0]), int(r[1])) for r in emails)}; replies not sent "
        f"{[(str(r[0]), str(r[1])[:80], int(r[2])) for r in replies]}; SMS stored without an "
        f"email {int(unrouted)}"
    )


def wait_bound(peer: SmppPeer, timeout: float = 30.0) -> None:
    peer.wait_for(
        lambda s: any(x["system_id"] == "bench" for x in s["open_sessions"]), timeout=timeout
    )


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def stage(
    kind: str,
    gateway: GatewayProcess,
    peer: SmppPeer,
    relay: Relay,
    injector: SmsInjector,
    replies: ReplySender,
    sms_rate: float,
    email_rate: float,
    options: Options,
    idle_share: float,
    reader: Engine,
) -> list[Row]:
    # What earlier stages left behind would be measured here too: let it arrive first.
    earlier_sms = list(injector.tokens)
    earlier_replies = list(replies.sent_at)

    def caught_up() -> bool:
        if any(t not in relay.accepted_at for t in earlier_sms):
            return False
        _, submitted = peer_times(peer)
        return all(t in submitted for t in earlier_replies)

    wait_until(caught_up, options.drain, interval=0.25)
    delivered, submitted = peer_times(peer)
    backlog = sum(t not in relay.accepted_at for t in earlier_sms)
    backlog += sum(t not in submitted for t in earlier_replies)
    if backlog:
        print(f"[{kind}] still on the way from earlier stages: {explain(reader)}", flush=True)
    load = os.getloadavg()[0]
    probe = speed_probe()
    first_sms = len(injector.tokens)
    first_reply = len(replies.sent_at)
    achieved: dict[str, float] = {}
    cpu_before, wall_before = cpu_seconds(gateway.pid), time.monotonic()
    stored_before = queues(reader)["stored"]
    accepted_before = len(relay.accepted_at)
    submitted_before = len(peer_times(peer)[1])

    def sms_behind() -> bool:
        outstanding = (len(injector.tokens) - first_sms) - (
            len(relay.accepted_at) - accepted_before
        )
        return outstanding > max(50.0, sms_rate * GUARD_SECONDS)

    def email_behind() -> bool:
        outstanding = (len(replies.sent_at) - first_reply) - (
            len(peer_times(peer)[1]) - submitted_before
        )
        return outstanding > max(50.0, email_rate * GUARD_SECONDS)

    loads: list[tuple[str, float, Callable[[int], None], Callable[[], bool]]] = []
    if sms_rate:
        loads.append(("sms", sms_rate, injector.send, sms_behind))
    if email_rate:
        loads.append(("email", email_rate, replies.send, email_behind))
    stopped: dict[str, bool] = {}

    def drive(
        name: str, rate: float, send: Callable[[int], None], late: Callable[[], bool]
    ) -> None:
        achieved[name], stopped[name] = paced(rate, options.duration, options.threads, send, late)

    threads = [threading.Thread(target=drive, args=load, daemon=True) for load in loads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sms_tokens = injector.tokens[first_sms:]
    reply_tokens = list(replies.sent_at)[first_reply:]
    # Where the work waits when the load ends: which step is behind.
    waiting = queues(reader)
    waiting["unstored"] = len(sms_tokens) - (waiting.pop("stored") - stored_before)
    where = ", ".join(f"{name} {count}" for name, count in waiting.items() if count > 0)

    def arrived() -> bool:
        if any(t not in relay.accepted_at for t in sms_tokens):
            return False
        if not reply_tokens:
            return True
        _, submitted = peer_times(peer)
        return all(t in submitted for t in reply_tokens)

    wait_until(arrived, options.drain, interval=0.25)
    cpu = cpu_seconds(gateway.pid) - cpu_before
    wall = time.monotonic() - wall_before
    delivered, submitted = peer_times(peer)
    label = "both: " if sms_rate and email_rate else ""
    sms_lat = [
        (relay.accepted_at[t] - delivered[t]) * 1000
        for t in sms_tokens
        if t in relay.accepted_at and t in delivered
    ]
    reply_lat = [(submitted[t] - replies.sent_at[t]) * 1000 for t in reply_tokens if t in submitted]
    # CPU per message that made it through (in "both", of both directions together).
    per_message = max(cpu - idle_share * wall, 0.0) / max(len(sms_lat) + len(reply_lat), 1) * 1e6
    rows = []
    if sms_rate:
        lat = sms_lat
        rows.append(
            Row(
                kind,
                label + "sms->email",
                sms_rate,
                len(sms_tokens),
                len(lat),
                achieved.get("sms", math.nan),
                lat,
                cpu / wall,
                per_message,
                load,
                backlog,
                probe,
                stopped.get("sms", False),
                where,
            )
        )
    if email_rate:
        lat = reply_lat
        rows.append(
            Row(
                kind,
                label + "email->sms",
                email_rate,
                len(reply_tokens),
                len(lat),
                achieved.get("email", math.nan),
                lat,
                cpu / wall,
                per_message,
                load,
                backlog,
                probe,
                stopped.get("email", False),
                where,
            )
        )
    return rows


@contextlib.contextmanager
def sampled(pid: int, output: Path) -> Iterator[None]:
    """py-spy on the gateway (collapsed stacks, every thread) while the block runs."""
    binary = py_spy_binary()
    if binary is None:
        print("py-spy not found: no profile (pip install py-spy into the venv)")
        yield
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [binary, "record", "--pid", str(pid), "--format", "raw", "--rate", "100"]
    command += ["--nonblocking", "--output", str(output)]
    with open(output.with_suffix(".log"), "wb") as log:
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        time.sleep(0.5)
        try:
            yield
        finally:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
    print(f"py-spy profile: {output}", flush=True)


# -- main --------------------------------------------------------------------------------------


def rates(value: str) -> list[float]:
    return [float(r) for r in value.split(",") if r.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per stage")
    parser.add_argument("--sms-rates", type=rates, default=[50.0, 200.0, 500.0])
    parser.add_argument("--email-rates", type=rates, default=[20.0, 100.0, 300.0])
    parser.add_argument(
        "--both", default="200,100", help="SMS_RATE,EMAIL_RATE at once, or 'none' (default 200,100)"
    )
    parser.add_argument("--accounts", type=int, default=2, help="accounts, 2 Reply Numbers each")
    parser.add_argument("--customers", type=int, default=200, help="handsets per Reply Number")
    parser.add_argument(
        "--threads",
        type=int,
        default=8,
        help="sender threads (SMTP connections, peer requests) per direction (default 8)",
    )
    parser.add_argument(
        "--drain", type=float, default=15.0, help="most seconds a stage waits for its last messages"
    )
    parser.add_argument("--py-spy", type=Path, default=None, metavar="DIR")
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace) -> Options:
    both: tuple[float, float] | None = None
    if args.both != "none":
        sms, email = rates(args.both)
        both = (sms, email)
    return Options(
        duration=args.duration,
        sms_rates=args.sms_rates,
        email_rates=args.email_rates,
        both=both,
        accounts=args.accounts,
        customers=args.customers,
        threads=args.threads,
        drain=args.drain,
        py_spy=args.py_spy,
    )


def best_rate(rows: Sequence[Row], stage_name: str, aim_ms: float) -> str:
    met = [r.target for r in rows if r.stage == stage_name and r.measured == r.sent and r.kept_rate]
    met = [r.target for r in rows if r.stage == stage_name and r.p99 < aim_ms and r.target in met]
    return f"{max(met):,.0f}/s" if met else "none of the rates tried"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    options = options_from(args)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    print(
        f"{os.cpu_count()} CPUs ({cpu}), load average "
        + " ".join(Path("/proc/loadavg").read_text().split()[:3])
        + f"; speed probe {speed_probe():.0f} ms"
    )
    started = time.monotonic()
    runs: dict[str, Run] = {}
    for kind in kinds:
        runs[kind] = bench_database(kind, options)
    rows = [row for run in runs.values() for row in run.rows]
    print()
    print(format_table(rows))
    print()
    for kind, run in runs.items():
        sms_best = best_rate(run.rows, "sms->email", AIM_SMS_P99_MS)
        email_best = best_rate(run.rows, "email->sms", AIM_EMAIL_P99_MS)
        print(
            f"{kind}: gateway peak RSS {run.peak_rss_mb:.0f} MB; idle CPU "
            f"{run.idle_share * 100:.1f}% (taken out of µs/msg); highest SMS->email rate with "
            f"p99 < {AIM_SMS_P99_MS:.0f} ms: {sms_best}; email->SMS with p99 < "
            f"{AIM_EMAIL_P99_MS:.0f} ms: {email_best}"
            + "".join(f"; {note}" for note in run.notes + run.problems)
        )
    print(
        f"{len(rows)} rows in {time.monotonic() - started:.0f}s; {args.duration:g} s per stage; "
        f"load average now {os.getloadavg()[0]:.2f}."
    )
    # Falling behind is a result, not a failure; a gateway or peer misbehaving is.
    return 1 if any(run.problems for run in runs.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
