"""The stored reply-token key: made once, the same for every transaction that needs it."""

from __future__ import annotations

import threading

import pytest

from smsbridge.db.engine import Database
from smsbridge.secrets_store import reply_token_keys
from tests.conftest import FakeClock


def test_first_uses_in_concurrent_transactions_get_one_committed_key(
    database_url: str, clock: FakeClock
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock runs the two transactions one after the other")
    db = Database(database_url)
    both_inside = threading.Barrier(2, timeout=30)
    found: list[bytes] = []
    failures: list[BaseException] = []

    def first_use() -> None:
        try:
            with db.write() as session:
                found.extend(reply_token_keys(db, clock, "", session))
                both_inside.wait()  # each transaction has its key before either commits
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert failures == []
        assert len(found) == 2 and found[0] == found[1]
        # And it is the stored one: what a restarted process will verify addresses with.
        assert reply_token_keys(db, clock, "") == [found[0]]
    finally:
        db.dispose()


def test_a_configured_key_is_used_as_given(database_url: str, clock: FakeClock) -> None:
    db = Database(database_url)
    try:
        with db.write() as session:
            assert reply_token_keys(db, clock, "new, old", session) == [b"new", b"old"]
    finally:
        db.dispose()
