"""Dashboard users: argon2id passwords, cookie sessions (hash stored), CSRF and sign-in limits."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from smsbridge.clock import Clock
from smsbridge.db.engine import Database
from smsbridge.db.models import Account, SignInFailure, User, WebSession
from smsbridge.errors import Invalid, NotFound, ServiceError
from smsbridge.ids import new_id
from smsbridge.secrets_store import stored_secret

DEVICE_KEY = "device-cookie-key"

SESSION_LIFETIME = timedelta(hours=12)
# Sliding expiry writes to the database; once a minute per browser is plenty.
SLIDE_GRANULARITY = timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
ROLES = ("user", "operator")


class SignInRefused(ServiceError):
    """Wrong email or password; deliberately the same answer for both (no user enumeration)."""

    def __init__(self) -> None:
        super().__init__(401, "SIGN_IN_FAILED", "That email and password do not match.")


class TooManyAttempts(ServiceError):
    def __init__(self, seconds: int) -> None:
        wait = f"{seconds} seconds" if seconds < 120 else f"{-(-seconds // 60)} minutes"
        super().__init__(
            429,
            "TOO_MANY_ATTEMPTS",
            "Too many failed sign-ins. For your security, wait "
            f"{wait} before trying again. A browser you have signed in with before is not "
            "held up by other people's attempts; an operator can also reset your password.",
        )


@dataclass(frozen=True)
class Viewer:
    """Who is looking at a page: the signed-in user and their session's CSRF token."""

    user_id: str
    email: str
    role: str
    account_id: str | None
    csrf: str
    token_hash: str
    slid: bool = False

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


@dataclass(frozen=True)
class NewSession:
    token: str  # goes in the cookie, never stored
    csrf: str
    expires_at: datetime
    # The browser's device cookie: proves later that this user signed in with it before.
    device: str = ""


def _device_signature(key: bytes, user_id: str, nonce: str) -> str:
    digest = hmac.new(key, f"{user_id}.{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise Invalid("INVALID_EMAIL", f"'{email}' is not an email address: {exc}") from exc


def check_new_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            "PASSWORD_TOO_SHORT",
            f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid("PASSWORD_TOO_LONG", "That password is too long.")
    return password


@dataclass(frozen=True)
class SignInPolicy:
    """How failed sign-ins slow further attempts down (never a lock the owner cannot pass)."""

    free_failures: int = 5  # per email (or per trusted browser) before waits begin
    free_failures_per_address: int = 20  # per client address: many users may share one
    window: timedelta = timedelta(minutes=15)
    max_wait: timedelta = timedelta(minutes=15)


class LoginLimiter:
    """Failed sign-ins, kept in the database (every gateway process sees them), slowing the
    next attempt down exponentially once a subject has used its free failures.

    Three subjects are counted. The email, for browsers not known to that user: guessing one
    user's password from many places is slowed down. The client address: one password
    sprayed over many emails from one place is slowed down. And a trusted browser (one the
    user signed in with before, proven by a signed cookie), which counts only its own
    failures: an attacker who knows an email cannot keep its owner out. This is the device
    cookie scheme OWASP describes against online guessing.
    """

    def __init__(self, db: Database, clock: Clock, policy: SignInPolicy | None = None) -> None:
        self._db = db
        self._clock = clock
        self.policy = policy or SignInPolicy()

    def subjects(self, email: str, address: str | None, device: str | None) -> list[str]:
        """What an attempt counts against: the trusted browser instead of the email."""
        found = [f"device:{device}" if device else f"email:{email}"]
        if address:
            found.append(f"address:{address}")
        return found

    def check(self, subjects: list[str]) -> None:
        """Raise TooManyAttempts while any subject must still wait."""
        now = self._clock.now()
        with self._db.read() as session:
            wait = max(self._wait(session, subject, now) for subject in subjects)
        if wait > 0:
            raise TooManyAttempts(wait)

    def fail(self, subjects: list[str]) -> None:
        now = self._clock.now()
        with self._db.write() as session:
            session.execute(
                delete(SignInFailure).where(SignInFailure.failed_at < now - self.policy.window)
            )
            session.add_all(
                SignInFailure(subject=_subject_key(subject), failed_at=now) for subject in subjects
            )

    def clear(self, subjects: list[str]) -> None:
        with self._db.write() as session:
            session.execute(
                delete(SignInFailure).where(
                    SignInFailure.subject.in_([_subject_key(s) for s in subjects])
                )
            )

    def _wait(self, session: Session, subject: str, now: datetime) -> int:
        times = list(
            session.scalars(
                select(SignInFailure.failed_at)
                .where(
                    SignInFailure.subject == _subject_key(subject),
                    SignInFailure.failed_at >= now - self.policy.window,
                )
                .order_by(SignInFailure.failed_at.desc())
                .limit(64)
            )
        )
        free = (
            self.policy.free_failures_per_address
            if subject.startswith("address:")
            else self.policy.free_failures
        )
        over = len(times) - free
        if over <= 0:
            return 0
        # 2 s after the first failure past the free ones, then 4, 8, ... up to max_wait.
        delay = min(timedelta(seconds=2 ** min(over, 20)), self.policy.max_wait)
        remaining = times[0] + delay - now
        return max(0, -(-int(remaining.total_seconds()) // 1))


def _subject_key(subject: str) -> str:
    # Stored hashed: the table must not become a list of who tried to sign in from where.
    return hashlib.sha256(subject.encode("utf-8")).hexdigest()


class DashboardService:
    """Users and their browser sessions."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        hasher: PasswordHasher | None = None,
        limiter: LoginLimiter | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        # argon2-cffi's defaults are argon2id with the RFC 9106 "low memory" profile.
        self._hasher = hasher or PasswordHasher()
        self.limiter = limiter or LoginLimiter(db, clock)
        # Verified against when the email is unknown, so both cases take the same time.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    # -- users -----------------------------------------------------------------------------

    def create_user(
        self, email: str, password: str, *, account_id: str | None, role: str = "user"
    ) -> User:
        if role not in ROLES:
            raise Invalid("INVALID_ROLE", f"A role is one of {', '.join(ROLES)}.")
        if role == "user" and not account_id:
            raise Invalid("ACCOUNT_REQUIRED", "A user belongs to an account: give --account.")
        address = normalise_email(email)
        now = self._clock.now()
        user = User(
            id=new_id(),
            account_id=account_id or None,
            email=address,
            password_hash=self._hasher.hash(check_new_password(password)),
            role=role,
            created_at=now,
            password_changed_at=now,
        )
        with self._db.write() as session:
            if account_id and session.get(Account, account_id) is None:
                raise NotFound("ACCOUNT_NOT_FOUND", f"There is no account {account_id}.")
            if session.scalar(select(User.id).where(User.email == address)) is not None:
                raise ServiceError(409, "USER_EXISTS", f"There is already a user {address}.")
            session.add(user)
        return user

    def get_user(self, user_id: str) -> User:
        with self._db.read() as session:
            user = session.get(User, user_id)
        if user is None:
            raise NotFound("USER_NOT_FOUND", "There is no such user.")
        return user

    def set_password(self, email: str, password: str) -> User:
        """Set a password (operator reset): every session of the user ends."""
        address = normalise_email(email)
        digest = self._hasher.hash(check_new_password(password))
        with self._db.write() as session:
            user = session.scalars(select(User).where(User.email == address)).first()
            if user is None:
                raise NotFound("USER_NOT_FOUND", f"There is no user {address}.")
            user.password_hash = digest
            user.password_changed_at = self._clock.now()
            session.execute(delete(WebSession).where(WebSession.user_id == user.id))
        self.limiter.clear([f"email:{address}"])
        return user

    def change_password(self, viewer: Viewer, current: str, new: str, confirm: str) -> None:
        """The user's own change: needs the current password; other sessions end."""
        user = self.get_user(viewer.user_id)
        if not self._verify(user.password_hash, current):
            raise Invalid("WRONG_PASSWORD", "Your current password is not right.")
        check_new_password(new)
        if new != confirm:
            raise Invalid("PASSWORDS_DIFFER", "The new password and its confirmation differ.")
        if new == current:
            raise Invalid("PASSWORD_UNCHANGED", "Choose a password different from the current one.")
        with self._db.write() as session:
            row = session.get(User, user.id)
            if row is None:
                raise NotFound("USER_NOT_FOUND", "There is no such user.")
            row.password_hash = self._hasher.hash(new)
            row.password_changed_at = self._clock.now()
            # Anyone else signed in with the old password is signed out.
            session.execute(
                delete(WebSession).where(
                    WebSession.user_id == user.id, WebSession.token_hash != viewer.token_hash
                )
            )

    def _verify(self, digest: str, password: str) -> bool:
        try:
            return self._hasher.verify(digest, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    # -- sessions --------------------------------------------------------------------------

    @functools.cached_property
    def _device_key(self) -> bytes:
        return stored_secret(self._db, self._clock, DEVICE_KEY).encode()

    def _trusted_device(self, cookie: str | None, user: User | None) -> str | None:
        """The browser's id when its device cookie was issued to this user, else None."""
        if not cookie or user is None or cookie.count(".") != 2:
            return None
        user_id, nonce, signature = cookie.split(".")
        expected = _device_signature(self._device_key, user_id, nonce)
        if user_id != user.id or not hmac.compare_digest(signature, expected):
            return None
        return f"{user_id}:{nonce}"

    def sign_in(
        self,
        email: str,
        password: str,
        *,
        client_address: str | None = None,
        device_cookie: str | None = None,
    ) -> NewSession:
        address = email.strip().lower()[:320]
        with self._db.read() as session:
            user = session.scalars(select(User).where(User.email == address)).first()
        device = self._trusted_device(device_cookie, user)
        subjects = self.limiter.subjects(address, client_address, device)
        self.limiter.check(subjects)
        if user is None:
            self._verify(self._dummy_hash, password)
            self.limiter.fail(subjects)
            raise SignInRefused()
        if not self._verify(user.password_hash, password):
            self.limiter.fail(subjects)
            raise SignInRefused()
        # The address's count stays: signing in to one's own account must not reset a count
        # of passwords sprayed at other people's.
        self.limiter.clear([subjects[0], f"email:{address}"])
        if device is None:
            nonce = secrets.token_urlsafe(16)
            device_cookie = (
                f"{user.id}.{nonce}.{_device_signature(self._device_key, user.id, nonce)}"
            )
        rehash = self._hasher.check_needs_rehash(user.password_hash)
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self._clock.now()
        expires = now + SESSION_LIFETIME
        with self._db.write() as session:
            # Sign-in is a natural moment to sweep sessions nobody will use again.
            session.execute(delete(WebSession).where(WebSession.expires_at < now))
            session.add(
                WebSession(
                    token_hash=hash_token(token),
                    user_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=expires,
                    last_seen_at=now,
                )
            )
            if rehash:
                row = session.get(User, user.id)
                if row is not None:
                    row.password_hash = self._hasher.hash(password)
        return NewSession(token=token, csrf=csrf, expires_at=expires, device=device_cookie or "")

    def viewer(self, token: str | None) -> Viewer | None:
        """The signed-in user for a cookie token, sliding the session's expiry; or None."""
        if not token:
            return None
        digest = hash_token(token)
        now = self._clock.now()
        with self._db.read() as session:
            row = session.execute(
                select(WebSession, User)
                .join(User, User.id == WebSession.user_id)
                .where(WebSession.token_hash == digest)
            ).first()
        if row is None:
            return None
        web_session, user = row[0], row[1]
        if web_session.expires_at <= now:
            return None
        slid = now - web_session.last_seen_at >= SLIDE_GRANULARITY
        if slid:
            with self._db.write() as session:
                stored = session.get(WebSession, digest)
                if stored is not None:
                    stored.last_seen_at = now
                    stored.expires_at = now + SESSION_LIFETIME
        return Viewer(
            user_id=user.id,
            email=user.email,
            role=user.role,
            account_id=user.account_id,
            csrf=web_session.csrf_token,
            token_hash=digest,
            slid=slid,
        )

    def sign_out(self, viewer: Viewer) -> None:
        with self._db.write() as session:
            session.execute(delete(WebSession).where(WebSession.token_hash == viewer.token_hash))


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so the CSRF token cannot be learnt byte by byte."""
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())
