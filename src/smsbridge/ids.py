"""Identifiers: public ids for rows and secrets for API keys."""

from __future__ import annotations

import hashlib
import secrets
import uuid


def new_id() -> str:
    return str(uuid.uuid4())


def new_api_key() -> str:
    # 32 random bytes: far beyond guessing, which is why a plain SHA-256 of it is a safe
    # thing to store (a slow password hash buys nothing for a key with this much entropy).
    return "smsb_" + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
