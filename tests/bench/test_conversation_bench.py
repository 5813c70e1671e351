"""Smoke test of bench/conversation.py: a few seconds at a low rate measure both directions."""

from __future__ import annotations

import pytest
from bench.conversation import Options, bench_database


@pytest.mark.slow
def test_the_conversation_bench_measures_both_directions() -> None:
    # SQLite only: the bench's own runs cover PostgreSQL, and each run starts a whole gateway.
    options = Options(
        duration=2.0,
        sms_rates=[5.0],
        email_rates=[3.0],
        both=None,
        accounts=1,
        customers=3,
        threads=2,
        drain=60.0,  # a shared, busy machine may be slow; the bench only reports it
        py_spy=None,
    )
    run = bench_database("sqlite", options)

    assert run.problems == []
    stages = {row.stage: row for row in run.rows}
    assert set(stages) == {"sms->email", "email->sms"}
    for row in run.rows:
        assert row.sent > 0
        # Every message sent was seen at the other end and timed (how fast is the bench's job).
        assert row.measured == row.sent, row.stage
        assert len(row.latencies_ms) == row.measured
    assert run.peak_rss_mb > 0
