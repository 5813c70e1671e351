"""SMS Works v1 routes: thin handlers that parse, call a service and shape the reply.

Paths, methods, status codes, field names and types follow The SMS Works' OpenAPI document
(v1.9.0), so their generated clients work unchanged; docs/api.md lists what we add.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response, Security
from fastapi.responses import PlainTextResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict

from smsbridge.accounts.service import AccountService, KeyHolder
from smsbridge.api.errors import SmsWorksJSON, error_responses
from smsbridge.carriers.metrics import carrier_metrics
from smsbridge.errors import NotFound, ServiceError, find_error_code
from smsbridge.messages import wire
from smsbridge.messages.schemas import (
    BatchIn,
    BatchResponse,
    CancelledResponse,
    CreditsResponse,
    DeletedResponse,
    ErrorResponse,
    MessageIn,
    MessageRecord,
    QueryIn,
    ScheduledList,
    ScheduledMessageResponse,
    SendMessageResponse,
    TestResponse,
)
from smsbridge.messages.service import MessageService
from smsbridge.otp.service import OtpIn, OtpService, OtpVerifyIn

# Every operation can answer these: a bad body, a bad key, a body over the size limit, us.
_COMMON = (400, 401, 413, 500)
_SEND = (*_COMMON, 402, 403, 409, 422)


class AnyBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    messages: list[MessageIn]


class Unauthorized(ServiceError):
    def __init__(self, message: str) -> None:
        super().__init__(401, "UNAUTHORIZED", message)


# The document's security scheme: the key (their "JWT") in the Authorization header.
_api_key = APIKeyHeader(
    name="Authorization",
    scheme_name="JWT",
    auto_error=False,
    description="Your API key, bare or as 'Bearer <key>' or 'JWT <key>'.",
)


def account_dependency(accounts: AccountService) -> Callable[..., str]:
    """The FastAPI dependency that turns the Authorization header into an account id."""

    def account_id(authorization: Annotated[str | None, Security(_api_key)] = None) -> str:
        if not authorization:
            raise Unauthorized(
                "Send your API key in the Authorization header (bare or as 'Bearer <key>')."
            )
        found = accounts.authenticate(authorization)
        if found is None:
            raise Unauthorized("The API key is unknown or has been revoked.")
        return found

    return account_id


def key_dependency(accounts: AccountService) -> Callable[..., KeyHolder]:
    """Like account_dependency, but says which key asked: for changes an audit trail records."""

    def key_holder(authorization: Annotated[str | None, Security(_api_key)] = None) -> KeyHolder:
        if not authorization:
            raise Unauthorized(
                "Send your API key in the Authorization header (bare or as 'Bearer <key>')."
            )
        found = accounts.identify(authorization)
        if found is None:
            raise Unauthorized("The API key is unknown or has been revoked.")
        return found

    return key_holder


def build_router(
    account_id: Callable[..., str], messages: MessageService, otp: OtpService
) -> APIRouter:
    router = APIRouter(prefix="/v1", default_response_class=SmsWorksJSON)
    max_page_bytes = messages.max_page_bytes

    def page(
        records: list[dict[str, Any]], query: QueryIn, response: Response
    ) -> list[dict[str, Any]]:
        kept, next_skip = wire.cap_page(records, query.skip, max_page_bytes)
        if next_skip is not None:
            # A page bounded in bytes as well as rows: the client goes on from here.
            response.headers["X-Smsbridge-Next-Skip"] = str(next_skip)
        return kept

    Account = Annotated[str, Depends(account_id)]
    IdempotencyKey = Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="smsbridge addition: a retry with the same key sends nothing twice.",
        ),
    ]

    @router.post(
        "/message/send",
        status_code=201,
        response_model=SendMessageResponse,
        response_model_exclude_unset=True,
        responses=error_responses(*_SEND),
        tags=["Messages"],
    )
    def send_message(
        body: MessageIn, account: Account, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """Send one SMS now (or at `schedule`, if given)."""
        return messages.send(account, body, idempotency_key=idempotency_key)

    @router.post(
        "/message/flash",
        status_code=201,
        response_model=SendMessageResponse,
        response_model_exclude_unset=True,
        responses=error_responses(*_SEND),
        tags=["Messages"],
    )
    def send_flash(
        body: MessageIn, account: Account, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """Send a flash SMS (class 0): shown on the handset's screen at once, not stored."""
        return messages.send(account, body, flash=True, idempotency_key=idempotency_key)

    @router.post(
        "/message/schedule",
        response_model=list[ScheduledMessageResponse],
        response_model_exclude_unset=True,
        responses=error_responses(*_SEND),
        tags=["Messages"],
    )
    def schedule_message(
        body: MessageIn, account: Account, idempotency_key: IdempotencyKey = None
    ) -> list[dict[str, Any]]:
        """Send one SMS at the date-time in `schedule`; the answer is a list of one."""
        return [messages.send(account, body, scheduled=True, idempotency_key=idempotency_key)]

    @router.get(
        "/messages/schedule",
        response_model=ScheduledList,
        response_model_exclude_unset=True,
        responses=error_responses(401, 500),
        tags=["Messages"],
    )
    def list_scheduled(account: Account) -> dict[str, Any]:
        """Messages and batches scheduled in the last three months or for the future."""
        return messages.scheduled(account)

    @router.delete(
        "/messages/schedule/{messageid}",
        response_model=CancelledResponse,
        response_model_exclude_unset=True,
        responses=error_responses(401, 404, 409, 500),
        tags=["Messages"],
    )
    def cancel_scheduled(messageid: str, account: Account) -> dict[str, Any]:
        """Cancel a scheduled SMS and refund its credits."""
        return messages.cancel_scheduled(account, messageid)

    @router.post(
        "/messages",
        response_model=list[MessageRecord],
        response_model_exclude_unset=True,
        responses=error_responses(*_COMMON),
        tags=["Messages"],
    )
    def search_messages(
        body: QueryIn, account: Account, response: Response
    ) -> list[dict[str, Any]]:
        """Up to 1,000 outbound messages matching the query, newest first (status INCOMING
        searches the inbox)."""
        return page(messages.search(account, body), body, response)

    @router.post(
        "/messages/failed",
        response_model=list[MessageRecord],
        response_model_exclude_unset=True,
        responses=error_responses(*_COMMON),
        tags=["Messages"],
    )
    def failed_messages(
        body: QueryIn, account: Account, response: Response
    ) -> list[dict[str, Any]]:
        """Messages that failed for good (UNDELIVERABLE, REJECTED, EXPIRED)."""
        return page(messages.search(account, body, failed_only=True), body, response)

    @router.post(
        "/messages/inbox",
        response_model=list[MessageRecord],
        response_model_exclude_unset=True,
        responses=error_responses(*_COMMON),
        tags=["Messages"],
    )
    def inbox(body: QueryIn, account: Account, response: Response) -> list[dict[str, Any]]:
        """Inbound SMS received on the account's Reply Numbers, newest first."""
        return page(messages.inbox(account, body), body, response)

    @router.get(
        "/messages/{messageid}",
        response_model=MessageRecord,
        response_model_exclude_unset=True,
        responses=error_responses(401, 404, 500),
        tags=["Messages"],
    )
    def get_message(messageid: str, account: Account) -> dict[str, Any]:
        """One message by its id (outbound, or an inbound SMS)."""
        return messages.get(account, messageid)

    @router.delete(
        "/messages/{messageid}",
        response_model=DeletedResponse,
        response_model_exclude_unset=True,
        responses=error_responses(401, 404, 500),
        tags=["Messages"],
    )
    def delete_message(messageid: str, account: Account) -> dict[str, Any]:
        """Take a message out of the log (a message not yet sent is cancelled and refunded)."""
        return messages.delete(account, messageid)

    @router.get(
        "/credits/balance",
        response_model=CreditsResponse,
        response_model_exclude_unset=True,
        responses=error_responses(401, 500),
        tags=["Credits"],
    )
    def credits_balance(account: Account) -> dict[str, Any]:
        """The credits left on the account."""
        return {"credits": messages.balance(account)}

    @router.post(
        "/batch/send",
        status_code=201,
        response_model=BatchResponse,
        response_model_exclude_unset=True,
        responses=error_responses(*_SEND),
        tags=["Batches"],
    )
    def batch_send(
        body: BatchIn, account: Account, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """Send one text to up to 5,000 destinations."""
        return messages.send_batch(account, body, idempotency_key=idempotency_key)

    @router.post(
        "/batch/schedule",
        status_code=201,
        response_model=BatchResponse,
        response_model_exclude_unset=True,
        responses=error_responses(*_SEND),
        tags=["Batches"],
    )
    def batch_schedule(
        body: BatchIn, account: Account, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """Send one text to many destinations at `schedule`."""
        return messages.send_batch(account, body, scheduled=True, idempotency_key=idempotency_key)

    @router.post(
        "/batch/any",
        status_code=201,
        response_model=BatchResponse,
        response_model_exclude_unset=True,
        responses=error_responses(*_SEND),
        tags=["Batches"],
    )
    def batch_any(
        body: list[MessageIn] | AnyBatchIn,
        account: Account,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Send up to 5,000 different messages (a JSON array, or {"messages": [...]})."""
        items = body.messages if isinstance(body, AnyBatchIn) else body
        return messages.send_any(account, items, idempotency_key=idempotency_key)

    @router.get(
        "/batch/{batchid}",
        response_model=list[MessageRecord],
        response_model_exclude_unset=True,
        responses=error_responses(401, 404, 500),
        tags=["Batches"],
    )
    def get_batch(batchid: str, account: Account) -> list[dict[str, Any]]:
        """Every message of a batch."""
        return messages.get_batch(account, batchid)

    @router.delete(
        "/batches/schedule/{batchid}",
        response_model=CancelledResponse,
        response_model_exclude_unset=True,
        responses=error_responses(401, 404, 409, 500),
        tags=["Batches"],
    )
    def cancel_batch(batchid: str, account: Account) -> dict[str, Any]:
        """Cancel the scheduled messages of a batch and refund them."""
        return messages.cancel_batch(account, batchid)

    @router.post(
        "/otp/send",
        status_code=201,
        response_model=SendMessageResponse,
        response_model_exclude_unset=True,
        responses=error_responses(*_COMMON, 402, 403, 409),
        tags=["One-Time Password"],
    )
    def otp_send(body: OtpIn, account: Account) -> dict[str, Any]:
        """Generate a one-time passcode and send it by SMS (billed as an SMS)."""
        return otp.send(account, body)

    @router.post(
        "/otp/verify",
        responses=error_responses(*_COMMON, 404, 409, 429),
        tags=["One-Time Password"],
    )
    def otp_verify(body: OtpVerifyIn, account: Account) -> dict[str, Any]:
        """Check a passcode: VERIFIED once, EXPIRED when too late; a wrong one is 404."""
        return otp.verify(account, body)

    @router.get(
        "/otp/{messageid}",
        responses=error_responses(401, 404, 500),
        tags=["One-Time Password"],
    )
    def otp_get(messageid: str, account: Account) -> dict[str, Any]:
        """An OTP's state (its passcode is never stored, so never shown)."""
        return otp.get(account, messageid)

    @router.get(
        "/utils/test",
        response_model=TestResponse,
        response_model_exclude_unset=True,
        responses=error_responses(401, 500),
        tags=["Utils"],
    )
    def utils_test(account: Account) -> dict[str, Any]:
        """Check a key works: returns the customer (account) id."""
        return {"message": f"Your customer ID is {account}", "customerid": account}

    @router.get(
        "/utils/errors/{errorcode}",
        response_model=ErrorResponse,
        response_model_exclude_unset=True,
        responses=error_responses(401, 404, 500),
        tags=["Utils"],
    )
    def utils_error(errorcode: str, account: Account) -> dict[str, Any]:
        """A sample of the error body for a code (its number or its name), to code against."""
        entry = find_error_code(errorcode)
        if entry is None:
            raise NotFound(
                "ERROR_CODE_NOT_FOUND",
                f"There is no error code {errorcode[:40]!r}; docs/api.md lists them all.",
            )
        return {
            "message": entry.summary,
            "errorCode": entry.number,
            "status": entry.code,
            "permanent": entry.permanent,
            "code": entry.code,
            "httpstatus": entry.http_status,
        }

    return router


def health_router(carrier: object) -> APIRouter:
    """Liveness, the carrier's connections, and Prometheus metrics. These carry no account
    data; like the rest of the API they listen on 127.0.0.1 unless the operator says otherwise.
    """
    router = APIRouter()

    def connections() -> list[dict[str, Any]]:
        status = getattr(carrier, "status", None)
        return list(status()) if callable(status) else []

    @router.get("/health", tags=["Utils"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/v1/carrier/connections", tags=["Utils"])
    def carrier_connections() -> dict[str, Any]:
        """Each carrier connection or account: its kind and state (SMPP: binds, submits per
        second, window in use, errors; routed carriers: up or down, recent failures)."""
        return {"carrier": getattr(carrier, "name", "unknown"), "connections": connections()}

    @router.get("/metrics", tags=["Utils"], response_class=PlainTextResponse)
    def metrics() -> str:
        """Prometheus text format."""
        return carrier_metrics(connections())

    return router
