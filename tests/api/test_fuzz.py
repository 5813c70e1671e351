"""Schemathesis over our own /openapi.json against a live server, on both databases.

A short run (a few hundred generated requests, a fixed seed so a failure reproduces); the long
run, tens of thousands of requests, is `bench/fuzz_api.py`. Checks: no 5xx, every answer
matches the schema and status codes we declare, content types and Allow headers are right,
invalid data is refused, auth is enforced, a deleted resource stays gone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

CHECKS = "all"
# Valid-by-schema data is not always valid to us (an invented phone number is not a mobile),
# so "the API accepts what the schema allows" does not hold by design.
EXCLUDED = "positive_data_acceptance"
SEED = "20261201"


def schemathesis_command(
    base_url: str, key: str, examples: int, seed: str | None, workers: int = 1
) -> list[str]:
    """The Schemathesis run the tests and bench/fuzz_api.py share (a seed of None: random)."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{base_url}/openapi.json",
        "--header",
        f"Authorization: {key}",
        "--max-examples",
        str(examples),
        "--checks",
        CHECKS,
        "--exclude-checks",
        EXCLUDED,
        "--workers",
        str(workers),
        "--no-color",
    ]
    return command + (["--seed", seed] if seed else [])


def client_environment() -> dict[str, str]:
    """The environment for the fuzzer's process: ours without libfaketime.

    Under `faketime` with an offset (the suite's second run) a timed lock wait (an
    `Event.wait` or `Queue.get` with a timeout) never returns, and Schemathesis's run loop
    makes such waits; the clock under test is the server's, which stays moved in this process.
    """
    moved = ("LD_PRELOAD", "FAKETIME", "FAKETIME_SHARED")
    return {name: value for name, value in os.environ.items() if name not in moved}


def run_schemathesis(
    base_url: str, key: str, examples: int, report: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *schemathesis_command(base_url, key, examples, SEED),
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=client_environment(),
        cwd=report.parent,  # Schemathesis keeps a cache where it runs: not in the repository
    )


@pytest.mark.slow
def test_a_short_schemathesis_run_finds_nothing(
    live_api: str, funded_account: dict[str, str], tmp_path: Path
) -> None:
    report = tmp_path / "junit.xml"
    result = run_schemathesis(live_api, funded_account["key"], 5, report)
    tail = "\n".join(result.stdout.splitlines()[-60:])
    assert result.returncode == 0, tail
    cases = ElementTree.parse(report).getroot()
    tested = sum(int(suite.get("tests", 0)) for suite in cases.iter("testsuite"))
    failures = sum(int(suite.get("failures", 0)) for suite in cases.iter("testsuite"))
    assert tested >= 30 and failures == 0, tail  # every operation was exercised
    assert "generated" in result.stdout
