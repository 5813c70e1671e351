"""Secrets the gateway makes for itself and keeps in the database, shared by every process."""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smsbridge.clock import Clock
from smsbridge.db.engine import Database
from smsbridge.db.models import GatewaySecret

REPLY_TOKEN_KEY = "reply-token-key"


def reply_token_keys(
    db: Database, clock: Clock, configured: str, session: Session | None = None
) -> list[bytes]:
    """The configured keys (first signs, all verify), else one generated once and stored.

    Pass the caller's session when inside a transaction: on SQLite a second write
    transaction would wait for the first forever (the caller holds the write lock, which also
    makes the first use there race-free). Elsewhere the key is made in a transaction of its
    own, committed before it is returned: two transactions making one each at once (the first
    SMS after a start, arriving together) would otherwise sign reply addresses with a key that
    then loses the insert, and every such address would be refused.
    """
    keys = [k.strip().encode() for k in configured.split(",") if k.strip()]
    if keys:
        return keys
    if session is not None and db.is_sqlite:
        row = session.get(GatewaySecret, REPLY_TOKEN_KEY)
        if row is None:
            row = GatewaySecret(
                name=REPLY_TOKEN_KEY, value=secrets.token_urlsafe(32), created_at=clock.now()
            )
            session.add(row)
        return [row.value.encode()]
    return [stored_secret(db, clock, REPLY_TOKEN_KEY).encode()]


def stored_secret(db: Database, clock: Clock, name: str) -> str:
    """The secret called `name`, made once (by whichever process is first) and then shared."""
    with db.read() as session:
        row = session.get(GatewaySecret, name)
        if row is not None:
            return row.value
    try:
        with db.write() as session:
            row = session.get(GatewaySecret, name)
            if row is not None:
                return row.value
            value = secrets.token_urlsafe(32)
            session.add(GatewaySecret(name=name, value=value, created_at=clock.now()))
            return value
    except IntegrityError:  # another process made it first
        with db.read() as session:
            stored = session.get(GatewaySecret, name)
            assert stored is not None
            return stored.value
