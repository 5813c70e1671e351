"""Open the database: SQLite tuned for durability, or PostgreSQL by URL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

# Where a transaction notes what it queued (Session.info), for Database.write to announce.
_ANNOUNCE = "smsbridge.announce"

# What a transaction can announce: rows that a worker of this process may be waiting for.
EMAILS_QUEUED = "emails queued"
MESSAGES_QUEUED = "messages queued"


def announce_after_commit(session: Session, topic: str) -> None:
    """Wake this process's workers waiting on `topic` once the caller's transaction commits
    (nothing happens if it rolls back). The rows are the truth; this only saves a poll."""
    session.info.setdefault(_ANNOUNCE, set()).add(topic)


async def wait_idle(stop: asyncio.Event, woken: asyncio.Event, seconds: float) -> None:
    """Wait until `stop` or `woken` is set, or `seconds` pass."""
    waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(woken.wait())}
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class Database:
    """One engine and the two kinds of transaction the services use."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        # SQLite has one writer; its busy handler sleeps and retries, so under load some
        # writers lose again and again. Queueing our own writers on a lock keeps them in order.
        self._write_lock: contextlib.AbstractContextManager[object] = (
            threading.Lock() if self.is_sqlite else contextlib.nullcontext()
        )
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        self._listeners_lock = threading.Lock()
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                directory = os.path.dirname(os.path.abspath(parsed.database))
                os.makedirs(directory, exist_ok=True)
            self.engine: Engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 30}
            )
            _tune_sqlite(self.engine)
        else:
            self.engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that will write: on SQLite it takes the write lock up front.

        Taking the lock at BEGIN (BEGIN IMMEDIATE) means two writers never both read, then
        collide on upgrade with SQLITE_BUSY mid-transaction; the second simply waits.
        """
        with self._write_lock, Session(self.engine, expire_on_commit=False) as session:
            with session.begin():
                yield session
            topics = session.info.pop(_ANNOUNCE, None)
        # Committed (an exception skips this): wake the waiters, outside SQLite's write lock.
        if topics:
            self._announce(topics)

    def _announce(self, topics: set[str]) -> None:
        with self._listeners_lock:
            callbacks = [c for topic in topics for c in self._listeners.get(topic, ())]
        for callback in callbacks:
            callback()

    @contextlib.contextmanager
    def woken_by(self, topic: str) -> Iterator[asyncio.Event]:
        """An event of the running loop, set whenever a write() transaction of this process
        that announced `topic` commits. Workers wait on it next to their idle poll, which stays:
        rows committed by another process are only found by polling."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()

        def ring() -> None:
            if not event.is_set():  # a commit per row must not flood the loop with callbacks
                with contextlib.suppress(RuntimeError):  # the loop is closing
                    loop.call_soon_threadsafe(event.set)

        with self._listeners_lock:
            self._listeners.setdefault(topic, []).append(ring)
        try:
            yield event
        finally:
            with self._listeners_lock:
                self._listeners[topic].remove(ring)

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction: on SQLite a deferred BEGIN, so readers never wait on writers."""
        with (
            Session(
                self.engine.execution_options(sqlite_begin="DEFERRED"),
                expire_on_commit=False,
            ) as session,
            session.begin(),
        ):
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself, so we choose its mode.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit survives power loss, not only a process crash (standard 3).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")
