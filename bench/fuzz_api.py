"""Fuzz the API: Schemathesis over our own /openapi.json, then a sweep of hostile values, against
a real gateway process on each database.

For each database (a SQLite file in a temporary directory; with --db both, also a fresh
PostgreSQL database on postgresql+psycopg://postgres@127.0.0.1:5432/, dropped at the end):

1. `smsbridge serve` starts on a fresh database (configured only through SMSBRIDGE_* variables),
   with a funded account, an API key and a Reply Number made through the CLI;
2. `schemathesis run` generates --examples cases per operation (every phase: examples, coverage,
   fuzzing, stateful; every check but positive_data_acceptance, since an invented phone number
   is rightly refused), from a random seed unless --seed is given;
3. the hostile sweep of tests/api/test_hostile_input.py (a lone surrogate, NUL, 2^63, NaN,
   1e400, 300-deep nesting, wrong types and a 200,000-character string in every field of every
   operation, an 11 MB body to every operation, hostile path segments) is sent over HTTP;
4. every message the account holds is read back (GET /messages/{id}, and every search page), to
   show no stored row breaks a later read.

Columns: "requests" is what Schemathesis sent plus the sweep's requests; "5xx" counts answers of
500 or more; "off schema" counts Schemathesis failures other than server errors (answers off their
declared schema, status code, content type or Allow header, accepted invalid data, and so on);
"reads" is the number of stored messages read back and "read errors" how many of those failed.

    .venv/bin/python bench/fuzz_api.py --db both --examples 100      # about 20,000 requests
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.pipeline import Gateway, postgres_database, sqlite_database  # noqa: E402
from tests.api.test_fuzz import schemathesis_command  # noqa: E402
from tests.api.test_hostile_input import HOSTILE, PATH_VALUES, body_fields, substitute  # noqa: E402

FAILURE_LINE = re.compile(r"❌ (ST\d+) ([^:]+): (\d+)")
GENERATED = re.compile(r"(\d+) generated")


@dataclass
class Row:
    database: str
    seed: str
    fuzz_requests: int
    sweep_requests: int
    server_errors: int
    off_schema: int
    reads: int
    read_errors: int
    seconds: float
    failures: dict[str, int]


def schemathesis(
    base_url: str, key: str, examples: int, seed: str | None
) -> tuple[int, dict[str, int], str]:
    """Run the CLI; (requests generated, failures by code and name, seed used)."""
    command = schemathesis_command(base_url, key, examples, seed, workers=2)
    with tempfile.TemporaryDirectory(prefix="schemathesis-") as where:
        # Schemathesis keeps a cache where it runs: not in the repository.
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=where)
    out = done.stdout
    generated = sum(int(n) for n in GENERATED.findall(out))
    failures = {f"{code} {name.strip()}": int(n) for code, name, n in FAILURE_LINE.findall(out)}
    used = re.search(r"Seed: (\d+)", out)
    if failures:
        # The failures section: each failing case with its curl command to reproduce it.
        start = out.find("=== FAILURES")
        print(out[start : out.find("=== WARNINGS")] if start >= 0 else out[-5000:])
    if done.returncode not in (0, 1):
        raise RuntimeError(f"schemathesis failed to run:\n{out[-3000:]}\n{done.stderr[-2000:]}")
    return generated, failures, used.group(1) if used else (seed or "?")


def sweep(base_url: str, key: str) -> tuple[int, int]:
    """The hostile-value sweep over HTTP; (requests, answers of 500 or more)."""
    requests = errors = 0
    with httpx.Client(base_url=base_url, headers={"Authorization": key}, timeout=60) as http:
        spec = http.get("/openapi.json").json()
        for path, item in spec["paths"].items():
            if not path.startswith("/v1/"):
                continue
            for method, operation in item.items():
                fields, listed = body_fields(spec, operation)
                url = substitute(path)
                for field in fields:
                    for raw in HOSTILE.values():
                        parts = [
                            f'"{k}": {raw if k == field else json.dumps(v)}'
                            for k, v in fields.items()
                        ]
                        body = "{" + ", ".join(parts) + "}"
                        body = "[" + body + "]" if listed else body
                        response = http.request(
                            method.upper(),
                            url,
                            content=body.encode("utf-8", "surrogatepass"),
                            headers={"Content-Type": "application/json"},
                        )
                        requests += 1
                        errors += response.status_code >= 500
                if method in ("post", "put"):
                    big = json.dumps({"content": "x" * 11_000_000})
                    response = http.request(
                        method.upper(),
                        url,
                        content=big,
                        headers={"Content-Type": "application/json"},
                    )
                    requests += 1
                    errors += response.status_code >= 500
                if "{" in path:
                    for value in PATH_VALUES:
                        response = http.request(method.upper(), path.split("{")[0] + value)
                        requests += 1
                        errors += response.status_code >= 500
    return requests, errors


# Values at the edge of what is accepted: each must be stored and read back unchanged.
EDGE_CASES: list[dict[str, Any]] = [
    {"content": "😀" * 70},
    {"content": "x" * 1280},
    {"content": "שלום עולם", "tag": "עברית"},
    {"content": "e\u0301 combining, \u200d joiner, \ufeff BOM"},
    {"content": "tabs\tand\nnewlines\r\n"},
    {"metadata": {"n": 2**53 - 1, "m": -(2**53 - 1), "f": 1.5e300}},
    {"metadata": [{"key": "k" * 100, "value": "v" * 3000}]},
    {"metadata": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": "deep"}}}}}}}}}},
    {"metadata": {"é": "\u2603", "": None, "list": [True, False, None, 0, -0.0]}},
    {"tag": "t" * 50, "responseemail": ["a@example.com", "ü@bücher.example"]},
]


def edge_sends(base_url: str, key: str) -> int:
    """Send the edge cases; how many were refused (they should all be accepted)."""
    refused = 0
    with httpx.Client(
        base_url=base_url + "/v1", headers={"Authorization": key}, timeout=60
    ) as http:
        for fields in EDGE_CASES:
            body = {"sender": "Acme", "destination": "447700900123", "content": "edge", **fields}
            response = http.post("/message/send", json=body)
            refused += response.status_code != 201
            if response.status_code == 201:
                stored = http.get(f"/messages/{response.json()['messageid']}").json()
                refused += stored.get("metadata") != fields.get("metadata", stored.get("metadata"))
    return refused


def read_back(base_url: str, key: str) -> tuple[int, int]:
    """Read every stored message, by id and through search pages; (reads, failed reads)."""
    reads = failed = 0
    with httpx.Client(
        base_url=base_url + "/v1", headers={"Authorization": key}, timeout=60
    ) as http:
        skip = 0
        ids: list[str] = []
        while True:
            page = http.post("/messages", json={"limit": 1000, "skip": skip})
            if page.status_code != 200:
                failed += 1
                break
            records = page.json()
            ids += [r["messageid"] for r in records]
            if len(records) < 1000:
                break
            skip += 1000
        inbox = http.post("/messages/inbox", json={})
        failed += inbox.status_code != 200
        for message_id in ids:
            reads += 1
            failed += http.get(f"/messages/{message_id}").status_code != 200
    return reads, failed


@contextlib.contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        with sqlite_database(workdir) as (url, _reader):
            yield url
    else:
        with postgres_database() as (url, _reader):
            yield url


def bench(kind: str, examples: int, seed: str | None) -> Row:
    with (
        tempfile.TemporaryDirectory(prefix="smsbridge-fuzz-") as tmp,
        database(kind, Path(tmp)) as url,
    ):
        gateway = Gateway(url, 500, Path(tmp))
        key = gateway.create_account()
        gateway.cli("numbers", "add", "447700900001")
        account = gateway.cli("account", "list")[0]["account_id"]
        gateway.cli("numbers", "assign", account)
        gateway.start()
        started = time.monotonic()
        try:
            fuzz, failures, used = schemathesis(gateway.base_url, key, examples, seed)
            swept, sweep_errors = sweep(gateway.base_url, key)
            edge_refused = edge_sends(gateway.base_url, key)
            reads, read_errors = read_back(gateway.base_url, key)
            read_errors += edge_refused
        finally:
            gateway.stop()
        server = sum(n for name, n in failures.items() if name.startswith("ST101"))
        return Row(
            database=kind,
            seed=used,
            fuzz_requests=fuzz,
            sweep_requests=swept,
            server_errors=server + sweep_errors,
            off_schema=sum(failures.values()) - server,
            reads=reads,
            read_errors=read_errors,
            seconds=time.monotonic() - started,
            failures=failures,
        )


def format_table(rows: Sequence[Row]) -> str:
    header = (
        f"{'database':<10} {'requests':>9} {'5xx':>5} {'off schema':>10} {'reads':>6} "
        f"{'read errors':>11} {'seconds':>8}  seed"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.database:<10} {r.fuzz_requests + r.sweep_requests:>9,} {r.server_errors:>5} "
            f"{r.off_schema:>10} {r.reads:>6} {r.read_errors:>11} {r.seconds:>8.0f}  {r.seed}"
        )
        lines += [f"    {name}: {count}" for name, count in sorted(r.failures.items())]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--examples", type=int, default=100, help="Schemathesis cases per operation (default 100)"
    )
    parser.add_argument("--seed", help="Schemathesis seed (default: a random one, printed)")
    args = parser.parse_args(argv)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    rows = [bench(kind, args.examples, args.seed) for kind in kinds]
    print(format_table(rows))
    bad = any(r.server_errors or r.off_schema or r.read_errors for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
