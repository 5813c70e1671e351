"""Throughput benchmark of a real smsbridge gateway: send API, batch API and the whole pipeline.

For each database (a SQLite file in a temporary directory, and/or a fresh PostgreSQL database
with a random name on postgresql+psycopg://postgres@127.0.0.1:5432/, dropped at the end) this
script starts `smsbridge serve` as its own process, configured only through SMSBRIDGE_*
environment variables (a free port on 127.0.0.1, the simulated carrier with a receipt delay of 0
unless --receipt-delay says otherwise, the given pipeline batch size), creates a funded account
with `smsbridge account create --json`, then drives the gateway over HTTP with httpx and measures:

1. single sends: POST /v1/message/send with bounded concurrency; messages accepted per second and
   p50/p99 request latency;
2. batch sends: POST /v1/batch/send of `--batch-destinations` (default 5,000) distinct UK mobile
   numbers each, `--batches` times; messages accepted per second and per-request latency;
3. end-to-end: from the first batch POST until every message of those batches is DELIVERED
   (checked with a read-only SQL COUNT on the `messages` table); the finish time is the latest
   `modified` of those rows, and p50/p99 are of (modified - created) per delivered message.

A short unmeasured warm-up comes first, and the pipeline is drained between scenarios 1 and 2 so
that scenario 3 measures only the batches. A pipeline that stops making progress (messages that
are never DELIVERED) is reported as STALLED with a breakdown by state, and the exit code is 1.
The gateway is stopped with SIGTERM at the end. The "gw CPU" column is the gateway process's CPU
time per wall-clock second (100% = one core; one Python process is held near that by the GIL).
`--split` runs the API (`serve --no-worker`) and the pipeline (`serve --no-http`) as two
processes on one database; "gw CPU" is then their sum.

`--py-spy DIR` also samples the gateway with py-spy (if it is in the venv or on PATH) into
DIR/<db>-single.txt and DIR/<db>-batch.txt (collapsed stacks; `--py-spy-gil` for GIL-only).

    .venv/bin/python bench/pipeline.py                    # both databases, defaults
    .venv/bin/python bench/pipeline.py --db sqlite --batches 10 --batch-size 1000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Collection, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import DateTime, Engine, bindparam, create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "SMSBRIDGE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SENDER = "Bench"
CONTENT = "Your smsbridge benchmark code is 123456. It expires in 10 minutes."
CREDITS = 1_000_000_000
# 07400 000000-999999 are all valid UK mobile numbers to libphonenumber: 1M distinct destinations.
BATCH_PREFIX = "447400"
SINGLE_PREFIX = "447401"
WARMUP_PREFIX = "447402"


# -- results -----------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Row:
    database: str
    scenario: str
    messages: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    gateway_cpu: float = math.nan  # gateway CPU seconds per wall second (1.0 = one full core)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else math.nan

    def cells(self) -> list[str]:
        return [
            self.database,
            self.scenario,
            f"{self.messages:,}",
            f"{self.seconds:.2f}",
            f"{self.rate:,.0f}",
            f"{percentile(self.latencies_ms, 50):,.1f}",
            f"{percentile(self.latencies_ms, 99):,.1f}",
            "-" if math.isnan(self.gateway_cpu) else f"{self.gateway_cpu * 100:.0f}%",
        ]


HEADERS = ["database", "scenario", "messages", "seconds", "msg/s", "p50 ms", "p99 ms", "gw CPU"]


def markdown_table(
    headers: Sequence[str], body: Sequence[Sequence[str]], left: Collection[int]
) -> str:
    """A Markdown table, as docs/benchmarks.md keeps them: the `left` columns left-aligned,
    the figures right-aligned."""
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        aligned = (
            c.ljust(widths[i]) if i in left else c.rjust(widths[i]) for i, c in enumerate(cells)
        )
        return "| " + " | ".join(aligned) + " |"

    rule = "|" + "|".join(
        "-" * (w + 2) if i in left else "-" * (w + 1) + ":" for i, w in enumerate(widths)
    )
    return "\n".join([line(headers), rule + "|", *(line(b) for b in body)])


def format_table(rows: Sequence[Row]) -> str:
    return markdown_table(HEADERS, [r.cells() for r in rows], left={0, 1})


# -- the gateway process ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def smsbridge_command() -> list[str]:
    script = ROOT / ".venv" / "bin" / "smsbridge"
    if script.exists():
        return [str(script)]
    found = shutil.which("smsbridge")
    return [found] if found else [sys.executable, "-m", "smsbridge"]


def run_cli(env: dict[str, str], workdir: Path, *args: str) -> Any:
    """Run one `smsbridge ... --json` command and return its JSON document."""
    done = subprocess.run(
        [*smsbridge_command(), *args, "--json"],
        env=env,
        cwd=workdir,  # never pick up a ./smsbridge.toml from where the bench was run
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"smsbridge {' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (and its reaped children), from /proc; NaN if none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


class ServeProcess:
    """A `smsbridge serve` process of a bench: started, waited for, stopped politely, logged."""

    def __init__(self, env: dict[str, str], workdir: Path, log_path: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> Any:
        """Run one `smsbridge ... --json` command against this gateway's database."""
        return run_cli(self.env, self.workdir, *args)

    def spawn(self, *flags: str) -> int:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [*smsbridge_command(), "serve", *flags],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self.process.pid

    def wait_healthy(self, base_url: str, timeout: float) -> None:
        """Until GET /health answers 200; an exit or the timeout raises, with the log's tail."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited at start:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/health", timeout=1.0, trust_env=False).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"gateway did not answer /health in {timeout:.0f}s:\n{self.log_tail()}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait, and only then SIGKILL; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"gateway {self.pid} ignored SIGTERM for {timeout:.0f}s; killing it")
            self.process.kill()
            return self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"


class Gateway(ServeProcess):
    """One `smsbridge serve` process on a free port, configured through the environment."""

    def __init__(
        self,
        database_url: str,
        batch_size: int,
        workdir: Path,
        receipt_delay: float = 0.0,
        role: str = "all",
    ) -> None:
        self.role = role  # "all": API and workers; "api": --no-worker; "worker": --no-http
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != "SMSBRIDGE_CONFIG"}
        env.update(
            {
                "SMSBRIDGE_DATABASE__URL": database_url,
                "SMSBRIDGE_HTTP__HOST": "127.0.0.1",
                "SMSBRIDGE_HTTP__PORT": str(self.port),
                "SMSBRIDGE_CARRIER__SIMULATOR__RECEIPT_DELAY_SECONDS": str(receipt_delay),
                "SMSBRIDGE_PIPELINE__BATCH_SIZE": str(batch_size),
                # The built-in mail server is not measured; its own port avoids clashes.
                "SMSBRIDGE_MAIL__INBOUND__SMTP_PORT": str(free_port()),
            }
        )
        super().__init__(env, workdir, workdir / f"gateway-{role}-{self.port}.log")

    def create_account(self) -> str:
        document = self.cli("account", "create", "bench", "--credits", str(CREDITS))
        key: str = document["api_key"]
        return key

    def start(self, timeout: float = 60.0) -> None:
        flags = {"all": [], "api": ["--no-worker"], "worker": ["--no-http"]}[self.role]
        self.spawn(*flags)
        if self.role != "worker":
            self.wait_healthy(self.base_url, timeout)
            return
        # No HTTP to ask: give it a moment, then check it lives.
        time.sleep(1.0)
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"gateway exited at start:\n{self.log_tail()}")


# -- databases ---------------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_database(workdir: Path) -> Iterator[tuple[str, Engine]]:
    path = workdir / "smsbridge.db"
    # Read-only URI: the bench can count rows but never take SQLite's write lock.
    reader = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        yield f"sqlite:///{path}", reader
    finally:
        reader.dispose()


@contextlib.contextmanager
def postgres_database() -> Iterator[tuple[str, Engine]]:
    name = f"smsbridge_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    reader = create_engine(
        url, connect_args={"options": "-c default_transaction_read_only=on"}, pool_size=1
    )
    try:
        yield url, reader
    finally:
        reader.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def count_where(reader: Engine, condition: str, **params: Any) -> int:
    statement = text(f"SELECT COUNT(*) FROM messages WHERE {condition}")
    if any(isinstance(v, list) for v in params.values()):
        statement = statement.bindparams(
            *(bindparam(k, expanding=True) for k, v in params.items() if isinstance(v, list))
        )
    with reader.connect() as connection:
        return int(connection.execute(statement, params).scalar_one())


def wait_for_zero(
    remaining: Callable[[], int], timeout: float, stall: float, interval: float
) -> int:
    """Poll until `remaining()` is 0; give up early if it stops moving for `stall` seconds.

    Returns what was left (0 on success), so a stuck pipeline is reported, not waited on.
    """
    deadline = time.monotonic() + timeout
    last = remaining()
    moved = time.monotonic()
    while last > 0:
        now = time.monotonic()
        if now > deadline or now - moved > stall:
            return last
        time.sleep(interval)
        current = remaining()
        if current != last:
            last, moved = current, time.monotonic()
    return 0


def states(reader: Engine) -> str:
    """Messages per pipeline state/status and waiting orphan receipts (for diagnostics)."""
    statement = text("SELECT state, status, COUNT(*) AS n FROM messages GROUP BY state, status")
    with reader.connect() as connection:
        found = {f"{r.state}/{r.status}": int(r.n) for r in connection.execute(statement)}
        orphans = connection.execute(text("SELECT COUNT(*) FROM orphan_receipts")).scalar_one()
    return f"messages by state/status {found}; orphan_receipts {orphans}"


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def delivered_times(reader: Engine, batch_ids: list[str]) -> list[tuple[datetime, datetime]]:
    statement = (
        text(
            "SELECT created, modified FROM messages "
            "WHERE batch_id IN :batch_ids AND status = 'DELIVERED'"
        )
        .bindparams(bindparam("batch_ids", expanding=True))
        .columns(created=DateTime(), modified=DateTime())
    )
    with reader.connect() as connection:
        return [
            (as_utc(row.created), as_utc(row.modified))
            for row in connection.execute(statement, {"batch_ids": batch_ids})
        ]


# -- HTTP load -------------------------------------------------------------------------------


class RequestFailed(RuntimeError):
    pass


async def run_bounded(
    jobs: Sequence[Callable[[], Coroutine[Any, Any, None]]], concurrency: int
) -> None:
    """Run the jobs with at most `concurrency` in flight, in order of submission."""
    pending = iter(jobs)

    async def lane() -> None:
        for job in pending:  # one shared iterator: each job runs exactly once
            await job()

    await asyncio.gather(*(lane() for _ in range(max(1, concurrency))))


def client(base_url: str, api_key: str, concurrency: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": api_key},
        timeout=httpx.Timeout(300.0),
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
    )


async def post_json(http: httpx.AsyncClient, path: str, body: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    response = await http.post(path, json=body)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if not response.is_success:
        raise RequestFailed(f"POST {path} -> {response.status_code}: {response.text[:500]}")
    return response.json(), elapsed_ms


async def single_sends(
    base_url: str, api_key: str, count: int, concurrency: int, prefix: str = SINGLE_PREFIX
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    async with client(base_url, api_key, concurrency) as http:

        def job(index: int) -> Callable[[], Coroutine[Any, Any, None]]:
            async def send() -> None:
                body = {
                    "sender": SENDER,
                    "destination": f"{prefix}{index % 1_000_000:06d}",
                    "content": CONTENT,
                }
                _, elapsed_ms = await post_json(http, "/v1/message/send", body)
                latencies.append(elapsed_ms)

            return send

        started = time.perf_counter()
        await run_bounded([job(i) for i in range(count)], concurrency)
        return time.perf_counter() - started, latencies


async def batch_sends(
    base_url: str, api_key: str, batches: int, size: int, concurrency: int, prefix: str
) -> tuple[float, list[float], list[str]]:
    latencies: list[float] = []
    batch_ids: list[str] = []
    async with client(base_url, api_key, concurrency) as http:

        def job(index: int) -> Callable[[], Coroutine[Any, Any, None]]:
            first = index * size
            body = {
                "sender": SENDER,
                "destinations": [f"{prefix}{(first + i) % 1_000_000:06d}" for i in range(size)],
                "content": CONTENT,
            }

            async def send() -> None:
                document, elapsed_ms = await post_json(http, "/v1/batch/send", body)
                latencies.append(elapsed_ms)
                batch_ids.append(document["batchid"])

            return send

        jobs = [job(i) for i in range(batches)]  # bodies built before the clock starts
        started = time.perf_counter()
        await run_bounded(jobs, concurrency)
        return time.perf_counter() - started, latencies, batch_ids


# -- one database ----------------------------------------------------------------------------


@dataclass
class Options:
    messages: int
    batches: int
    batch_destinations: int
    batch_size: int
    concurrency: int
    batch_concurrency: int
    receipt_delay: float
    timeout: float
    stall: float
    py_spy: Path | None
    gil: bool
    split: bool


def py_spy_binary() -> str | None:
    local = ROOT / ".venv" / "bin" / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def sampled(targets: Sequence[tuple[int, Path]], gil: bool = False) -> Iterator[None]:
    """Sample each (pid, output) with py-spy (collapsed stacks) while the block runs."""
    binary = py_spy_binary()
    if not targets or binary is None:
        if targets:
            print("py-spy not found: no profile (pip install py-spy into the venv)")
        yield
        return
    with contextlib.ExitStack() as stack:
        spies: list[subprocess.Popen[bytes]] = []
        for pid, output in targets:
            output.parent.mkdir(parents=True, exist_ok=True)
            log = stack.enter_context(open(output.with_suffix(".log"), "wb"))
            command = [binary, "record", "--pid", str(pid), "--format", "raw", "--rate", "100"]
            command += ["--nonblocking", *(["--gil"] if gil else []), "--output", str(output)]
            spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log))
        time.sleep(0.5)  # let them attach before the load starts
        try:
            yield
        finally:
            for spy in spies:
                spy.send_signal(signal.SIGINT)
            for spy in spies:
                try:
                    spy.wait(30)
                except subprocess.TimeoutExpired:
                    spy.kill()
                    spy.wait()
            print("py-spy profiles: " + ", ".join(str(output) for _, output in targets))


def bench_database(
    kind: str, database_url: str, reader: Engine, workdir: Path, options: Options
) -> list[Row]:
    rows: list[Row] = []
    roles = ["api", "worker"] if options.split else ["all"]
    processes = [
        Gateway(database_url, options.batch_size, workdir, options.receipt_delay, role)
        for role in roles
    ]
    gateway = processes[0]  # the one that serves HTTP
    api_key = gateway.create_account()  # also migrates the fresh database
    for process in processes:
        process.start()
        print(f"[{kind}] {process.role} pid {process.pid} on {process.base_url}", flush=True)

    def cpu() -> float:
        return sum(p.cpu() for p in processes)

    def profiles(scenario: str) -> list[tuple[int, Path]]:
        if options.py_spy is None:
            return []
        suffix = {"all": ""}
        return [
            (p.pid, options.py_spy / f"{kind}{suffix.get(p.role, '-' + p.role)}-{scenario}.txt")
            for p in processes
        ]

    def undelivered() -> int:
        return count_where(reader, "status <> 'DELIVERED'")

    def drain(what: str) -> None:
        left = wait_for_zero(undelivered, options.timeout, options.stall, 0.1)
        if left:
            print(f"[{kind}] WARNING: {left} messages of {what} never DELIVERED; {states(reader)}")

    def report(row: Row) -> None:
        rows.append(row)
        print(f"[{kind}] " + "  ".join(row.cells()[1:]), flush=True)

    try:
        # Warm-up (not measured): first-request imports, phone metadata, connection pools.
        asyncio.run(single_sends(gateway.base_url, api_key, 20, 4, prefix=WARMUP_PREFIX))
        asyncio.run(batch_sends(gateway.base_url, api_key, 1, 100, 1, WARMUP_PREFIX))
        drain("the warm-up")

        # 1. single sends.
        if options.messages > 0:
            with sampled(profiles("single"), options.gil):
                cpu0 = cpu()
                seconds, latencies = asyncio.run(
                    single_sends(gateway.base_url, api_key, options.messages, options.concurrency)
                )
                used = (cpu() - cpu0) / seconds
            report(Row(kind, "single send (accepted)", options.messages, seconds, latencies, used))
            drain("the single sends")

        if options.batches <= 0:
            return rows

        # 2. batch sends, then 3. their delivery, timed from the first POST.
        total = options.batches * options.batch_destinations
        with sampled(profiles("batch"), options.gil):
            cpu0 = cpu()
            t0 = datetime.now(UTC)
            seconds, latencies, batch_ids = asyncio.run(
                batch_sends(
                    gateway.base_url,
                    api_key,
                    options.batches,
                    options.batch_destinations,
                    options.batch_concurrency,
                    BATCH_PREFIX,
                )
            )
            cpu1 = cpu()
            scenario = f"batch send x{options.batch_destinations} (accepted)"
            report(Row(kind, scenario, total, seconds, latencies, (cpu1 - cpu0) / seconds))

            def batch_undelivered() -> int:
                delivered = count_where(
                    reader, "batch_id IN :ids AND status = 'DELIVERED'", ids=batch_ids
                )
                return total - delivered

            left = wait_for_zero(batch_undelivered, options.timeout, options.stall, 0.05)
            cpu2 = cpu()
            observed = (datetime.now(UTC) - t0).total_seconds()

        times = delivered_times(reader, batch_ids)
        finished = max((modified for _, modified in times), default=t0)
        e2e_seconds = (finished - t0).total_seconds()
        lag_ms = [(m - c).total_seconds() * 1000 for c, m in times]
        scenario = "batch end-to-end (DELIVERED)"
        if left:
            scenario = f"batch end-to-end (STALLED, {left:,} never DELIVERED)"
            print(f"[{kind}] WARNING: {left} batch messages never DELIVERED; {states(reader)}")
        report(Row(kind, scenario, len(times), e2e_seconds, lag_ms, (cpu2 - cpu0) / observed))
        print(
            f"[{kind}] last batch accepted after {seconds:.2f}s; last receipt recorded after "
            f"{e2e_seconds:.2f}s (pipeline tail {e2e_seconds - seconds:.2f}s)",
            flush=True,
        )
        return rows
    except Exception:
        print(f"[{kind}] {states(reader)}")
        for process in processes:
            print(f"[{kind}] {process.role} log:\n{process.log_tail()}")
        raise
    finally:
        for process in processes:
            code = process.stop()
            # uvicorn shuts down cleanly on SIGTERM and then re-raises it: -15 is a clean stop.
            if code not in (0, -signal.SIGTERM, None):
                print(f"[{kind}] {process.role} exited with {code}:\n{process.log_tail()}")


def run(kinds: Sequence[str], options: Options) -> list[Row]:
    rows: list[Row] = []
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix=f"smsbridge-bench-{kind}-") as tmp:
            workdir = Path(tmp)
            database = sqlite_database(workdir) if kind == "sqlite" else postgres_database()
            with database as (url, reader):
                rows += bench_database(kind, url, reader, workdir, options)
    return rows


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--messages",
        type=int,
        default=1000,
        help="single sends (POST /v1/message/send) per database (default 1000)",
    )
    parser.add_argument(
        "--batches",
        type=int,
        default=6,
        help="batch sends (POST /v1/batch/send) per database (default 6)",
    )
    parser.add_argument(
        "--batch-destinations",
        type=int,
        default=5000,
        help="destinations per batch send (default 5000, the API's maximum)",
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=500,
        help="SMSBRIDGE_PIPELINE__BATCH_SIZE: rows a worker claims per round",
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="requests in flight for single sends (default 8)"
    )
    parser.add_argument(
        "--batch-concurrency",
        type=int,
        default=1,
        help="batch requests in flight (default 1: back to back)",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="run two processes on one database: `serve --no-worker` (API) and "
        "`serve --no-http` (pipeline and carrier), as a scale-out deployment would",
    )
    parser.add_argument(
        "--receipt-delay",
        type=float,
        default=0.0,
        help="simulated carrier's receipt delay in seconds (default 0; included in end-to-end)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds to wait for delivery before giving up (default 600)",
    )
    parser.add_argument(
        "--stall",
        type=float,
        default=15.0,
        help="stop waiting for delivery when nothing changed for this long (default 15s)",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="DIR",
        help="sample the gateway with py-spy during the batch scenarios",
    )
    parser.add_argument(
        "--py-spy-gil",
        action="store_true",
        help="with --py-spy: sample only the thread holding the GIL (pure CPU view)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    options = Options(
        messages=args.messages,
        batches=args.batches,
        batch_destinations=args.batch_destinations,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        batch_concurrency=args.batch_concurrency,
        receipt_delay=args.receipt_delay,
        timeout=args.timeout,
        stall=args.stall,
        py_spy=args.py_spy,
        gil=args.py_spy_gil,
        split=args.split,
    )
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    print(f"{cores} CPUs, load average {load:.2f}", flush=True)
    if load > 0.5 * cores:
        print("WARNING: the machine is busy; numbers will be low and noisy", flush=True)
    started = time.monotonic()
    rows = run(kinds, options)
    print()
    print(format_table(rows))
    print(
        f"\n{len(rows)} measurements in {time.monotonic() - started:.0f}s; pipeline batch size "
        f"{args.batch_size}; single-send concurrency {args.concurrency}; receipt delay "
        f"{args.receipt_delay:g}s; "
        + ("API and pipeline in two processes." if args.split else "one gateway process.")
    )
    stalled = [r for r in rows if "STALLED" in r.scenario]
    if stalled:
        print(f"{len(stalled)} run(s) stalled: some messages were never DELIVERED (see above).")
    return 1 if stalled else 0


if __name__ == "__main__":
    raise SystemExit(main())
