"""Throughput of the SMPP carrier: a real gateway process submitting to a local SMPP peer.

For each database (a SQLite file in a temporary directory by default; with --db postgresql or
both, also a fresh PostgreSQL database with a random name on
postgresql+psycopg://postgres@127.0.0.1:5432/, dropped at the end) and each window size
(--windows, default 10,50), this script:

1. starts the SMPP test peer once (tests/carriers/smpp/peer/peer.js, a real SMPP 3.4 server from
   the npm package "smpp", through tests/carriers/smpp/smpp_peer.py), with a small receipt delay
   (--receipt-delay-ms, default 1) and every other behaviour at its default;
2. migrates a fresh database with `smsbridge migrate`, creates a funded account with
   `smsbridge account create --json`, and queues --messages (default 20,000) single-part SMS to
   distinct UK mobiles in batches of 5,000 with `Gateway(settings).messages.send_batch`, in this
   process, before any worker runs;
3. starts `smsbridge serve --no-http` as its own process, configured only through SMSBRIDGE_*
   variables (carrier.kind = smpp with one transceiver connector to the peer, the given window
   size, hex ids both ways; pipeline batch size --batch-size, default 500), and polls a read-only
   `COUNT(*)` of DELIVERED rows until every message is DELIVERED, i.e. its receipt was matched;
4. stops the gateway with SIGTERM and reads the peer's records.

Columns: "seconds" runs from the peer's first submit_sm to the latest `modified` of the
DELIVERED rows. "submit/s" is the peer's count of submit_sm over its first-to-last submit time,
"delivered/s" is messages over "seconds" (end to end, receipts matched and committed). "gw CPU"
and "peer CPU" are the CPU time of the gateway process and of the node peer over that same
interval, per wall-clock second (100% = one core). A peer CPU near 100% would mean that the
SMPP test server, not the gateway, limits the run; it is flagged "(limit)". "rest CPU" is the
CPU time of everything else on the machine over the same interval (from /proc/stat): the
PostgreSQL server, this script's polling, and whatever else runs (the machine may be shared).
The note column flags refused submits, unanswered receipts, peer errors, and a peer that saw
more unanswered submits at once than the window allows (its `max_in_flight`).

A run in which delivery stops making progress for --stall seconds is reported as STALLED with
the messages per state, and the exit status is then 1. --py-spy DIR samples the gateway with
py-spy (from the venv or PATH) into DIR/<db>-w<window>.txt (collapsed stacks).

    .venv/bin/python bench/smpp.py                       # SQLite, windows 10 and 50, 20,000
    .venv/bin/python bench/smpp.py --db both --windows 50 --messages 50000
    .venv/bin/python bench/smpp.py --py-spy /tmp/smpp-prof --py-spy-gil
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for tests.carriers.smpp.smpp_peer

from bench.pipeline import (  # noqa: E402 - shared with the simulated-carrier bench
    ServeProcess,
    free_port,
    markdown_table,
    postgres_database,
    py_spy_binary,
)
from tests.carriers.smpp.smpp_peer import SmppPeer  # noqa: E402

from smsbridge.app import Gateway  # noqa: E402
from smsbridge.messages.schemas import BatchIn  # noqa: E402
from smsbridge.settings import Settings  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "SMSBRIDGE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SENDER = "Bench"
CONTENT = "Your smsbridge benchmark code is 123456. It expires in 10 minutes."
CREDITS = 1_000_000_000
DESTINATION_PREFIX = "447400"  # 07400 000000 onwards: valid UK mobiles to libphonenumber
QUEUE_CHUNK = 5000  # the API's largest batch
NODE_BOTTLENECK = 0.90  # peer CPU share of one core from which node is called the limit


# -- results -----------------------------------------------------------------------------------


@dataclass
class Row:
    database: str
    window: int
    messages: int
    delivered: int
    seconds: float
    submits: int
    submit_seconds: float
    gateway_cpu: float
    peer_cpu: float
    max_in_flight: int
    rest_cpu: float  # CPU of everything else on the machine, per wall second
    note: str = ""

    @property
    def submit_rate(self) -> float:
        return self.submits / self.submit_seconds if self.submit_seconds > 0 else math.nan

    @property
    def delivered_rate(self) -> float:
        return self.delivered / self.seconds if self.seconds > 0 else math.nan

    def cells(self) -> list[str]:
        peer = f"{self.peer_cpu * 100:.0f}%"
        if self.peer_cpu >= NODE_BOTTLENECK:
            peer += " (limit)"
        return [
            self.database,
            str(self.window),
            f"{self.delivered:,}" + ("" if self.delivered == self.messages else "!"),
            f"{self.seconds:.2f}",
            f"{self.submit_rate:,.0f}",
            f"{self.delivered_rate:,.0f}",
            f"{self.gateway_cpu * 100:.0f}%",
            peer,
            f"{max(self.rest_cpu, 0.0) * 100:.0f}%",
            self.note,
        ]


HEADERS = [
    "database",
    "window",
    "messages",
    "seconds",
    "submit/s",
    "delivered/s",
    "gw CPU",
    "peer CPU",
    "rest CPU",
    "note",
]
LEFT = {0, 9}


def format_table(rows: Sequence[Row]) -> str:
    return markdown_table(HEADERS, [r.cells() for r in rows], LEFT)


# -- processes ---------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc; NaN once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine (all CPUs, not idle nor iowait), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return math.nan
    ticks = [int(f) for f in fields[:8]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def peer_pid(peer: SmppPeer) -> int:
    """The node process behind SmppPeer (it keeps the Popen private)."""
    process: subprocess.Popen[bytes] | None = getattr(peer, "_proc", None)
    if process is None:
        raise RuntimeError("the SMPP peer is not running")
    return process.pid


class GatewayProcess(ServeProcess):
    """`smsbridge serve --no-http` with the SMPP carrier, configured through the environment."""

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        peer_port: int,
        window: int,
        batch_size: int,
        workers: int | None,
    ) -> None:
        connector = {
            "name": "peer",
            "host": "127.0.0.1",
            "port": peer_port,
            "system_id": "bench",
            "password": "pw",
            "window_size": window,
            "submit_id_base": "hex",
            "receipt_id_base": "hex",
        }
        env = {k: v for k, v in os.environ.items() if k != "SMSBRIDGE_CONFIG"}
        env.update(
            {
                "SMSBRIDGE_DATABASE__URL": database_url,
                "SMSBRIDGE_CARRIER__KIND": "smpp",
                "SMSBRIDGE_CARRIER__SMPP__CONNECTORS": json.dumps([connector]),
                "SMSBRIDGE_PIPELINE__BATCH_SIZE": str(batch_size),
                "SMSBRIDGE_HTTP__PORT": str(free_port()),
                "SMSBRIDGE_MAIL__INBOUND__SMTP_PORT": str(free_port()),
            }
        )
        if workers is not None:
            env["SMSBRIDGE_PIPELINE__WORKERS"] = str(workers)
        super().__init__(env, workdir, workdir / f"gateway-w{window}.log")

    def start(self) -> int:
        return self.spawn("--no-http")


@contextlib.contextmanager
def sampled(pid: int, output: Path | None, gil: bool) -> Iterator[None]:
    """Sample `pid` with py-spy into `output` (collapsed stacks) while the block runs."""
    binary = py_spy_binary()
    if output is None or binary is None:
        if output is not None:
            print("py-spy not found: no profile (pip install py-spy into the venv)")
        yield
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [binary, "record", "--pid", str(pid), "--format", "raw", "--rate", "100"]
    command += ["--nonblocking", *(["--gil"] if gil else []), "--output", str(output)]
    with open(output.with_suffix(".log"), "wb") as log:
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
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


# -- databases ---------------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_database(workdir: Path) -> Iterator[tuple[str, Engine]]:
    path = workdir / "smsbridge.db"
    reader = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")  # never takes the lock
    try:
        yield f"sqlite:///{path}", reader
    finally:
        reader.dispose()


def scalar(reader: Engine, sql: str) -> Any:
    with reader.connect() as connection:
        return connection.execute(text(sql)).scalar()


def states(reader: Engine) -> str:
    sql = text("SELECT state, status, COUNT(*) AS n FROM messages GROUP BY state, status")
    with reader.connect() as connection:
        found = {f"{r.state}/{r.status}": int(r.n) for r in connection.execute(sql)}
    orphans = scalar(reader, "SELECT COUNT(*) FROM orphan_receipts")
    return f"messages by state/status {found}; orphan_receipts {orphans}"


def as_utc(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite through text(): an ISO-ish string
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def queue_messages(database_url: str, account_id: str, count: int) -> float:
    """Queue `count` single-part SMS in batches, in this process; returns the seconds taken."""
    # SMSBRIDGE_* variables beat constructor arguments; those meant for the gateway must not
    # point this process at another database or carrier.
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("SMSBRIDGE_")}
    try:
        settings = Settings(database={"url": database_url, "auto_migrate": False})
    finally:
        os.environ.update(saved)
    gateway = Gateway(settings)
    started = time.perf_counter()
    try:
        for first in range(0, count, QUEUE_CHUNK):
            destinations = [
                f"{DESTINATION_PREFIX}{i % 1_000_000:06d}"
                for i in range(first, min(first + QUEUE_CHUNK, count))
            ]
            gateway.messages.send_batch(
                account_id, BatchIn(sender=SENDER, destinations=destinations, content=CONTENT)
            )
    finally:
        gateway.db.dispose()
    return time.perf_counter() - started


# -- one run -----------------------------------------------------------------------------------


@dataclass
class Options:
    messages: int
    batch_size: int
    workers: int | None
    receipt_delay_ms: int
    timeout: float
    stall: float
    py_spy: Path | None
    gil: bool


@dataclass
class Sample:
    wall: float  # time.time()
    gateway_cpu: float
    peer_cpu: float
    machine_cpu: float
    delivered: int


@dataclass
class Trace:
    samples: list[Sample] = field(default_factory=list)

    def at(self, wall: float, which: str) -> float:
        """Cumulative CPU seconds of `which` at `wall`, interpolated between samples."""
        points = [
            (s.wall, getattr(s, which)) for s in self.samples if not math.isnan(s.gateway_cpu)
        ]
        if not points:
            return math.nan
        if wall <= points[0][0]:
            return float(points[0][1])
        for (w0, c0), (w1, c1) in itertools.pairwise(points):
            if w0 <= wall <= w1:
                return float(c0 + (c1 - c0) * (wall - w0) / (w1 - w0)) if w1 > w0 else float(c1)
        return float(points[-1][1])

    def share(self, start: float, end: float, which: str) -> float:
        if end <= start:
            return math.nan
        return (self.at(end, which) - self.at(start, which)) / (end - start)


def bench_one(kind: str, window: int, peer: SmppPeer, options: Options) -> Row:
    with tempfile.TemporaryDirectory(prefix=f"smsbridge-smpp-{kind}-") as tmp:
        workdir = Path(tmp)
        database = sqlite_database(workdir) if kind == "sqlite" else postgres_database()
        with database as (url, reader):
            gateway = GatewayProcess(
                url, workdir, peer.port, window, options.batch_size, options.workers
            )
            gateway.cli("migrate")
            account = gateway.cli("account", "create", "bench", "--credits", str(CREDITS))
            queued_in = queue_messages(url, account["account_id"], options.messages)
            print(f"[{kind} w{window}] queued {options.messages:,} in {queued_in:.1f}s", flush=True)
            peer.reset()
            peer.configure(receipt_delay_ms=options.receipt_delay_ms)
            node = peer_pid(peer)
            trace = Trace()
            left = options.messages
            pid = gateway.start()
            profile = options.py_spy / f"{kind}-w{window}.txt" if options.py_spy else None
            try:
                with sampled(pid, profile, options.gil):
                    left = wait_delivered(gateway, reader, node, options, trace)
            finally:
                code = gateway.stop()
                if code not in (0, -signal.SIGTERM, None):
                    print(f"[{kind} w{window}] gateway exited {code}:\n{gateway.log_tail()}")
            if left:
                print(f"[{kind} w{window}] STALLED: {states(reader)}\n{gateway.log_tail()}")
            return measure(kind, window, peer, reader, options.messages, trace, left)


def wait_delivered(
    gateway: GatewayProcess, reader: Engine, node: int, options: Options, trace: Trace
) -> int:
    """Poll until every message is DELIVERED; returns how many were not (0 on success)."""
    deadline = time.monotonic() + options.timeout
    moved = time.monotonic()
    last = -1
    while True:
        delivered = int(scalar(reader, "SELECT COUNT(*) FROM messages WHERE status = 'DELIVERED'"))
        trace.samples.append(
            Sample(
                time.time(),
                cpu_seconds(gateway.pid),
                cpu_seconds(node),
                machine_cpu_seconds(),
                delivered,
            )
        )
        if delivered >= options.messages:
            return 0
        now = time.monotonic()
        if delivered != last:
            last, moved = delivered, now
        if now > deadline or now - moved > options.stall or not gateway.alive():
            return options.messages - delivered
        time.sleep(0.1)


def measure(
    kind: str,
    window: int,
    peer: SmppPeer,
    reader: Engine,
    messages: int,
    trace: Trace,
    left: int,
) -> Row:
    state = peer.state()
    ok = [s for s in state["submits"] if s["status"] == 0]
    times = sorted(as_utc(s["time"]).timestamp() for s in state["submits"])
    first, last = (times[0], times[-1]) if times else (math.nan, math.nan)
    finished = scalar(reader, "SELECT MAX(modified) FROM messages WHERE status = 'DELIVERED'")
    end = as_utc(finished).timestamp() if finished is not None else math.nan
    refused = len(state["submits"]) - len(ok)
    notes = []
    if left:
        notes.append(f"STALLED, {left:,} not DELIVERED")
    if refused:
        notes.append(f"{refused} submits refused")
    if state["errors"]:
        notes.append(f"{len(state['errors'])} peer errors")
    if state["max_in_flight"] > window:
        notes.append(f"window exceeded: {state['max_in_flight']} in flight")
    if len(state["deliver_resps"]) < len(ok):
        notes.append(f"{len(ok) - len(state['deliver_resps'])} receipts unanswered")
    return Row(
        database=kind,
        window=window,
        messages=messages,
        delivered=messages - left,
        seconds=end - first,
        submits=len(times),
        submit_seconds=last - first,
        gateway_cpu=trace.share(first, end, "gateway_cpu"),
        peer_cpu=trace.share(first, end, "peer_cpu"),
        max_in_flight=int(state["max_in_flight"]),
        rest_cpu=trace.share(first, end, "machine_cpu")
        - trace.share(first, end, "gateway_cpu")
        - trace.share(first, end, "peer_cpu"),
        note="; ".join(notes),
    )


# -- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument(
        "--windows",
        default="10,50",
        help="comma-separated SMPP window sizes, one run each (default 10,50)",
    )
    parser.add_argument(
        "--messages", type=int, default=20_000, help="messages per run (default 20,000)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=500,
        help="SMSBRIDGE_PIPELINE__BATCH_SIZE: rows a worker claims per round (default 500)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="SMSBRIDGE_PIPELINE__WORKERS (default: the gateway's own default, 1)",
    )
    parser.add_argument(
        "--receipt-delay-ms",
        type=int,
        default=1,
        help="the peer's delay between a submit_sm_resp and its receipt (default 1)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each database and window (default 1)"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="most seconds per run (default 300)"
    )
    parser.add_argument(
        "--stall",
        type=float,
        default=15.0,
        help="give up when no message became DELIVERED for this long (default 15)",
    )
    parser.add_argument(
        "--py-spy", type=Path, default=None, metavar="DIR", help="sample the gateway with py-spy"
    )
    parser.add_argument(
        "--py-spy-gil", action="store_true", help="with --py-spy: only the GIL-holding thread"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    windows = [int(w) for w in args.windows.split(",") if w.strip()]
    options = Options(
        messages=args.messages,
        batch_size=args.batch_size,
        workers=args.workers,
        receipt_delay_ms=args.receipt_delay_ms,
        timeout=args.timeout,
        stall=args.stall,
        py_spy=args.py_spy,
        gil=args.py_spy_gil,
    )
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    print(f"{cores} CPUs, load average {load:.2f}", flush=True)
    if load > 0.5 * cores:
        print("WARNING: the machine is busy; numbers will be low and noisy", flush=True)
    started = time.monotonic()
    rows: list[Row] = []
    with SmppPeer() as peer:
        for kind in kinds:
            for window in windows:
                for _ in range(max(1, args.repeat)):
                    row = bench_one(kind, window, peer, options)
                    rows.append(row)
                    print(f"[{kind} w{window}] " + "  ".join(row.cells()[2:]), flush=True)
    print()
    print(format_table(rows))
    print(
        f"\n{len(rows)} runs in {time.monotonic() - started:.0f}s; {args.messages:,} messages "
        f"each; pipeline batch size {args.batch_size}; workers {args.workers or 'default'}; "
        f"peer receipt delay {args.receipt_delay_ms} ms."
    )
    stalled = [r for r in rows if r.delivered < r.messages]
    if stalled:
        print(f"{len(stalled)} run(s) stalled: some messages were never DELIVERED (see above).")
    return 1 if stalled else 0


if __name__ == "__main__":
    raise SystemExit(main())
