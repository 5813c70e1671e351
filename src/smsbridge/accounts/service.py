"""Account actions: create accounts and keys, revoke keys, authenticate a request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from smsbridge.clock import Clock
from smsbridge.db.engine import Database
from smsbridge.db.models import Account, ApiKey, CreditEntry
from smsbridge.errors import Invalid, NotFound
from smsbridge.ids import hash_api_key, new_api_key, new_id


@dataclass(frozen=True)
class NewKey:
    id: str
    account_id: str
    name: str
    key: str  # shown once, never stored
    created_at: datetime


@dataclass(frozen=True)
class KeyHolder:
    account_id: str
    key_id: str
    key_name: str


class AccountService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def create_account(self, name: str, *, allow_international: bool = False) -> Account:
        if not name.strip():
            raise Invalid("INVALID_NAME", "An account needs a name.")
        account = Account(
            id=new_id(),
            name=name.strip(),
            balance_milli=0,
            allow_domestic=True,
            allow_international=allow_international,
            created_at=self._clock.now(),
        )
        with self._db.write() as session:
            session.add(account)
        return account

    def get(self, account_id: str) -> Account:
        with self._db.read() as session:
            account = session.get(Account, account_id)
        if account is None:
            raise NotFound("ACCOUNT_NOT_FOUND", f"There is no account {account_id}.")
        return account

    def list_accounts(self) -> list[Account]:
        with self._db.read() as session:
            return list(session.scalars(select(Account).order_by(Account.created_at)))

    def set_international(self, account_id: str, allowed: bool) -> Account:
        with self._db.write() as session:
            result = session.execute(
                update(Account).where(Account.id == account_id).values(allow_international=allowed)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound("ACCOUNT_NOT_FOUND", f"There is no account {account_id}.")
        return self.get(account_id)

    def create_key(self, account_id: str, name: str = "default") -> NewKey:
        key = new_api_key()
        now = self._clock.now()
        row = ApiKey(
            id=new_id(),
            account_id=account_id,
            name=name,
            prefix=key[:12],
            key_hash=hash_api_key(key),
            created_at=now,
            revoked_at=None,
        )
        with self._db.write() as session:
            if session.get(Account, account_id) is None:
                raise NotFound("ACCOUNT_NOT_FOUND", f"There is no account {account_id}.")
            session.add(row)
        return NewKey(id=row.id, account_id=account_id, name=name, key=key, created_at=now)

    def list_keys(self, account_id: str) -> list[ApiKey]:
        with self._db.read() as session:
            return list(
                session.scalars(
                    select(ApiKey)
                    .where(ApiKey.account_id == account_id)
                    .order_by(ApiKey.created_at)
                )
            )

    def revoke_key(self, account_id: str, key_id: str) -> None:
        with self._db.write() as session:
            key = session.get(ApiKey, key_id)
            if key is None or key.account_id != account_id:
                raise NotFound("KEY_NOT_FOUND", f"There is no API key {key_id} on this account.")
            if key.revoked_at is None:
                key.revoked_at = self._clock.now()

    def authenticate(self, presented: str) -> str | None:
        """The account id for a live key, or None. Accepts a bare key or `Bearer <key>`."""
        found = self.identify(presented)
        return found.account_id if found is not None else None

    def identify(self, presented: str) -> KeyHolder | None:
        """The live key presented (its account, id and name), or None: for actions whose
        audit trail names the key that did them."""
        token = presented.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        # SMS Works clients send "JWT <token>" too.
        elif token[:4].lower() == "jwt ":
            token = token[4:].strip()
        if not token:
            return None
        with self._db.read() as session:
            row = session.execute(
                select(ApiKey.id, ApiKey.name, ApiKey.account_id, ApiKey.revoked_at).where(
                    ApiKey.key_hash == hash_api_key(token)
                )
            ).first()
        if row is None or row.revoked_at is not None:
            return None
        return KeyHolder(account_id=str(row.account_id), key_id=str(row.id), key_name=row.name)

    def ledger(self, account_id: str, limit: int = 100) -> list[CreditEntry]:
        with self._db.read() as session:
            return list(
                session.scalars(
                    select(CreditEntry)
                    .where(CreditEntry.account_id == account_id)
                    .order_by(CreditEntry.id.desc())
                    .limit(limit)
                )
            )
