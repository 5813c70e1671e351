"""OTP actions: send a passcode as a billed SMS, verify it once, look it up."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from smsbridge.clock import Clock
from smsbridge.db.engine import Database
from smsbridge.db.models import OneTimePasscode, OtpFailure
from smsbridge.errors import Invalid, NotFound, ServiceError
from smsbridge.messages import wire
from smsbridge.messages.schemas import MessageIn, Number
from smsbridge.messages.service import MessageService
from smsbridge.numbers.phone import InvalidNumber, normalise_number
from smsbridge.otp import codes
from smsbridge.secrets_store import stored_secret
from smsbridge.settings import OtpSettings

OTP_KEY = "otp-key"
# Fresh codes are drawn again when one happens to equal a live code of the same account, so
# that verifying by passcode alone (as the document does) names one OTP.
_DRAWS = 20
_METADATA_BYTES = 1024  # the document's limit


class OtpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sender: str
    destination: str
    length: Any = Field(None, description="Digits in a generated passcode (default 6).")
    template: str | None = Field(None, description="The text; must contain {{passcode}}.")
    validity: Number | None = Field(None, description="Seconds the passcode lives.")
    passcode: str | None = Field(None, description="Your own passcode instead of ours.")
    metadata: dict[str, Any] | None = Field(None, description="Returned when verified.")


class OtpVerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passcode: str
    # smsbridge additions: say which OTP the passcode is for, so wrong guesses count against
    # that OTP and cannot verify someone else's.
    messageid: str | None = None
    destination: str | None = None


class OtpService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: OtpSettings,
        messages: MessageService,
        home_region: str,
        *,
        exempt_from_optout: bool = False,
    ) -> None:
        self._db = db
        self._clock = clock
        self._settings = settings
        self._messages = messages
        self._home_region = home_region
        # The operator's choice (optout.otp_exempt): a passcode someone asked for is not
        # marketing, but an account may not use OTPs to get round a STOP unless allowed.
        self._exempt_from_optout = exempt_from_optout

    @functools.cached_property
    def _key(self) -> bytes:
        # Read before any write transaction: on SQLite a second writer would wait for ever.
        return stored_secret(self._db, self._clock, OTP_KEY).encode()

    def send(self, account_id: str, request: OtpIn) -> dict[str, Any]:
        validity = self._validity(request.validity)
        metadata = request.metadata
        if metadata is not None and len(json.dumps(metadata, default=str)) > _METADATA_BYTES:
            raise Invalid("INVALID_METADATA", "OTP metadata is at most 1,024 bytes of JSON.")
        supplied = codes.check_supplied(request.passcode) if request.passcode else None
        length = codes.passcode_length(request.length)
        key = self._key
        now = self._clock.now()
        with self._db.write() as session:
            live = self._live_digests(session, account_id, now)
            if supplied is not None:
                passcode = supplied
                if codes.digest(key, account_id, passcode) in live:
                    raise ServiceError(
                        409,
                        "PASSCODE_IN_USE",
                        "That passcode is already live for this account; let it expire, "
                        "verify it, or leave passcode out to get a fresh one.",
                    )
            else:
                passcode = codes.new_passcode(length)
                for _draw in range(_DRAWS):
                    if codes.digest(key, account_id, passcode) not in live:
                        break
                    passcode = codes.new_passcode(length)
            content = codes.render(request.template, self._settings.default_template, passcode)
            sent = self._messages.queue_in(
                session,
                account_id,
                MessageIn(sender=request.sender, destination=request.destination, content=content),
                now,
                exempt=self._exempt_from_optout,
            )
            session.execute(
                insert(OneTimePasscode).values(
                    message_id=sent["messageid"],
                    account_id=account_id,
                    destination=self._e164(request.destination),
                    passcode_digest=codes.digest(key, account_id, passcode),
                    validity_seconds=validity,
                    metadata_json=metadata,
                    status="SENT",
                    attempts=0,
                    created_at=now,
                    expires_at=now + timedelta(seconds=validity),
                    modified_at=now,
                    verified_at=None,
                )
            )
        return sent

    def verify(self, account_id: str, request: OtpVerifyIn) -> dict[str, Any]:
        passcode = request.passcode.strip()
        if not passcode:
            raise Invalid("INVALID_PASSCODE", "Give the passcode the customer typed.")
        key = self._key
        wanted = codes.digest(key, account_id, passcode)
        now = self._clock.now()
        outcome: dict[str, Any] | None = None
        refusal: ServiceError | None = self._no_match()
        with self._db.write() as session:
            scoped = request.messageid is not None or request.destination is not None
            if scoped:
                otp = self._scoped(session, account_id, request)
                if otp is None:
                    raise self._no_match()
                outcome, refusal = self._check(session, otp, wanted, passcode, now)
            else:
                self._throttle(session, account_id, now)
                otp = session.scalars(
                    select(OneTimePasscode)
                    .where(
                        OneTimePasscode.account_id == account_id,
                        OneTimePasscode.passcode_digest == wanted,
                    )
                    .order_by(OneTimePasscode.created_at.desc())
                    .limit(1)
                ).first()
                if otp is None:
                    session.add(OtpFailure(account_id=account_id, at=now))
                else:
                    outcome, refusal = self._check(session, otp, wanted, passcode, now)
        # Raised after the transaction commits, so the attempt that failed is counted.
        if outcome is None:
            raise refusal or self._no_match()
        return outcome

    def get(self, account_id: str, message_id: str) -> dict[str, Any]:
        with self._db.read() as session:
            otp = session.get(OneTimePasscode, message_id)
            if otp is None or otp.account_id != account_id:
                raise NotFound("OTP_NOT_FOUND", f"There is no one-time passcode {message_id}.")
            return self._record(otp, self._clock.now())

    # -- helpers ---------------------------------------------------------------------------

    def _validity(self, value: float | None) -> int:
        if value is None:
            return self._settings.default_validity_seconds
        if not float(value).is_integer() or not 1 <= value <= self._settings.max_validity_seconds:
            raise Invalid(
                "INVALID_VALIDITY",
                "An OTP's validity is a whole number of seconds from 1 to "
                f"{self._settings.max_validity_seconds}.",
            )
        return int(value)

    def _e164(self, raw: str) -> str:
        try:
            return normalise_number(raw, self._home_region).e164
        except InvalidNumber as exc:
            raise Invalid(exc.code, str(exc)) from exc

    def _live_digests(self, session: Session, account_id: str, now: datetime) -> set[str]:
        return set(
            session.scalars(
                select(OneTimePasscode.passcode_digest).where(
                    OneTimePasscode.account_id == account_id,
                    OneTimePasscode.status == "SENT",
                    OneTimePasscode.expires_at > now,
                )
            )
        )

    def _scoped(
        self, session: Session, account_id: str, request: OtpVerifyIn
    ) -> OneTimePasscode | None:
        if request.messageid is not None:
            otp = session.get(OneTimePasscode, request.messageid)
            return otp if otp is not None and otp.account_id == account_id else None
        try:
            destination = normalise_number(request.destination or "", self._home_region).e164
        except InvalidNumber:
            return None
        return session.scalars(
            select(OneTimePasscode)
            .where(
                OneTimePasscode.account_id == account_id,
                OneTimePasscode.destination == destination,
            )
            .order_by(OneTimePasscode.created_at.desc())
            .limit(1)
        ).first()

    def _check(
        self,
        session: Session,
        otp: OneTimePasscode,
        wanted: str,
        passcode: str,
        now: datetime,
    ) -> tuple[dict[str, Any] | None, ServiceError | None]:
        """Apply one verification to one OTP: (the answer, or why not). A refusal is raised by
        the caller after the transaction commits, so a wrong guess is counted."""
        if otp.status == "VERIFIED":
            return None, ServiceError(
                409, "OTP_ALREADY_VERIFIED", "That passcode was verified already; it works once."
            )
        if otp.status == "FAILED":
            return None, ServiceError(
                429,
                "TOO_MANY_OTP_ATTEMPTS",
                "Too many wrong passcodes were tried for this OTP; send a new one.",
            )
        if otp.passcode_digest != wanted:
            attempts = otp.attempts + 1
            locked = attempts >= self._settings.max_attempts
            session.execute(
                update(OneTimePasscode)
                .where(OneTimePasscode.message_id == otp.message_id)
                .values(
                    attempts=attempts, status="FAILED" if locked else otp.status, modified_at=now
                )
            )
            return None, self._no_match()
        if now >= otp.expires_at:
            # The document's answer for a code used too late: 200 with status EXPIRED.
            return {**self._record(otp, now), "passcode": _number(passcode)}, None
        session.execute(
            update(OneTimePasscode)
            .where(OneTimePasscode.message_id == otp.message_id, OneTimePasscode.status == "SENT")
            .values(status="VERIFIED", verified_at=now, modified_at=now)
        )
        otp.status, otp.verified_at, otp.modified_at = "VERIFIED", now, now
        return {**self._record(otp, now), "passcode": _number(passcode)}, None

    def _throttle(self, session: Session, account_id: str, now: datetime) -> None:
        window = now - timedelta(minutes=1)
        session.execute(delete(OtpFailure).where(OtpFailure.at < window))
        failures = session.scalar(
            select(func.count())
            .select_from(OtpFailure)
            .where(OtpFailure.account_id == account_id, OtpFailure.at >= window)
        )
        if int(failures or 0) >= self._settings.max_failures_per_minute:
            raise ServiceError(
                429,
                "TOO_MANY_OTP_ATTEMPTS",
                "Too many wrong passcodes for this account in the last minute; wait a minute, "
                "or verify with messageid or destination so guesses count against one OTP.",
            )

    def _no_match(self) -> ServiceError:
        return NotFound("OTP_NOT_FOUND", "That passcode matches no live one-time passcode.")

    def _record(self, otp: OneTimePasscode, now: datetime) -> dict[str, Any]:
        zone = self._messages.zone
        status = otp.status
        if status == "SENT" and now >= otp.expires_at:
            status = "EXPIRED"
        return {
            "messageid": otp.message_id,
            "destination": wire.digits(otp.destination),
            "status": status,
            "validity": otp.validity_seconds,
            "metadata": otp.metadata_json if otp.metadata_json is not None else {},
            "created": wire.js_date(otp.created_at, zone),
            "expires": wire.js_date(otp.expires_at, zone),
            "modified": wire.js_date(otp.modified_at, zone),
            "attempts": otp.attempts,
        }


def _number(passcode: str) -> int | str:
    # The document types the passcode as a number; a code with letters stays text.
    return (
        int(passcode)
        if passcode.isascii() and passcode.isdigit() and len(passcode) <= 15
        else passcode
    )
