"""SMS Works v1 routes: thin handlers that parse, call a service and shape the reply."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict

from smsbridge.accounts.service import AccountService
from smsbridge.errors import ServiceError
from smsbridge.messages.schemas import (
    BatchIn,
    BatchResponse,
    CreditsResponse,
    ErrorResponse,
    MessageIn,
    QueryIn,
    ScheduledMessageResponse,
    SendMessageResponse,
)
from smsbridge.messages.service import MessageService

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 402, 403, 404, 409, 422)
}


class AnyBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    messages: list[MessageIn]


class Unauthorized(ServiceError):
    def __init__(self, message: str) -> None:
        super().__init__(401, "UNAUTHORIZED", message)


def account_dependency(accounts: AccountService) -> Callable[..., str]:
    """The FastAPI dependency that turns the Authorization header into an account id."""

    def account_id(authorization: Annotated[str | None, Header()] = None) -> str:
        if not authorization:
            raise Unauthorized(
                "Send your API key in the Authorization header (bare or as 'Bearer <key>')."
            )
        found = accounts.authenticate(authorization)
        if found is None:
            raise Unauthorized("The API key is unknown or has been revoked.")
        return found

    return account_id


def build_router(account_id: Callable[..., str], messages: MessageService) -> APIRouter:
    router = APIRouter(prefix="/v1", responses=ERRORS)
    Account = Annotated[str, Depends(account_id)]
    IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]

    @router.post("/message/send", response_model=SendMessageResponse, tags=["Messages"])
    def send_message(
        body: MessageIn, account: Account, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """Send one SMS now (or at `schedule`, if given)."""
        return messages.send(account, body, idempotency_key=idempotency_key)

    @router.post("/message/schedule", response_model=ScheduledMessageResponse, tags=["Messages"])
    def schedule_message(
        body: MessageIn, account: Account, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """Send one SMS at the date-time in `schedule`."""
        return messages.send(account, body, scheduled=True, idempotency_key=idempotency_key)

    @router.delete("/messages/schedule/{messageid}", tags=["Messages"])
    def cancel_scheduled(messageid: str, account: Account) -> dict[str, Any]:
        """Cancel a scheduled SMS and refund its credits."""
        return messages.cancel_scheduled(account, messageid)

    @router.post("/messages", tags=["Messages"])
    def search_messages(body: QueryIn, account: Account) -> dict[str, Any]:
        """Outbound messages matching the query, newest first."""
        return {"messages": messages.search(account, body)}

    @router.post("/messages/failed", tags=["Messages"])
    def failed_messages(body: QueryIn, account: Account) -> dict[str, Any]:
        """Messages that failed for good (UNDELIVERABLE, REJECTED, EXPIRED)."""
        return {"messages": messages.search(account, body, failed_only=True)}

    @router.post("/messages/inbox", tags=["Messages"])
    def inbox(body: QueryIn, account: Account) -> dict[str, Any]:
        """Inbound SMS received on the account's Reply Numbers, newest first."""
        return {"messages": messages.inbox(account, body)}

    @router.get("/messages/{messageid}", tags=["Messages"])
    def get_message(messageid: str, account: Account) -> dict[str, Any]:
        """One message by its id."""
        return messages.get(account, messageid)

    @router.get("/credits/balance", response_model=CreditsResponse, tags=["Credits"])
    def credits_balance(account: Account) -> dict[str, Any]:
        """The credits left on the account."""
        return {"credits": messages.balance(account)}

    @router.post("/batch/send", response_model=BatchResponse, tags=["Batches"])
    def batch_send(
        body: BatchIn, account: Account, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """Send one text to up to 5,000 destinations."""
        return messages.send_batch(account, body, idempotency_key=idempotency_key)

    @router.post("/batch/schedule", response_model=BatchResponse, tags=["Batches"])
    def batch_schedule(
        body: BatchIn, account: Account, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """Send one text to many destinations at `schedule`."""
        return messages.send_batch(account, body, scheduled=True, idempotency_key=idempotency_key)

    @router.post("/batch/any", response_model=BatchResponse, tags=["Batches"])
    def batch_any(
        body: list[MessageIn] | AnyBatchIn,
        account: Account,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Send up to 5,000 different messages (a JSON array, or {"messages": [...]})."""
        items = body.messages if isinstance(body, AnyBatchIn) else body
        return messages.send_any(account, items, idempotency_key=idempotency_key)

    @router.get("/batch/{batchid}", tags=["Batches"])
    def get_batch(batchid: str, account: Account) -> list[dict[str, Any]]:
        """Every message of a batch."""
        return messages.get_batch(account, batchid)

    @router.delete("/batches/schedule/{batchid}", tags=["Batches"])
    def cancel_batch(batchid: str, account: Account) -> dict[str, Any]:
        """Cancel the scheduled messages of a batch and refund them."""
        return messages.cancel_batch(account, batchid)

    @router.get("/utils/test", tags=["Utils"])
    def utils_test(account: Account) -> dict[str, Any]:
        """Check a key works: returns the customer (account) id."""
        return {"message": f"Your customer ID is {account}", "customerid": account}

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
        """Each SMPP connection: state, binds, submits per second, window in use, errors."""
        return {"carrier": getattr(carrier, "name", "unknown"), "connections": connections()}

    @router.get("/metrics", tags=["Utils"], response_class=PlainTextResponse)
    def metrics() -> str:
        """Prometheus text format."""
        lines = [
            "# HELP smsbridge_smpp_up 1 when the connection is bound.",
            "# TYPE smsbridge_smpp_up gauge",
        ]
        rows = connections()
        for row in rows:
            lines.append(
                f'smsbridge_smpp_up{{connection="{row["name"]}"}} '
                f"{1 if row['state'] == 'bound' else 0}"
            )
        for metric, key, kind in (
            ("smsbridge_smpp_submitted_total", "submitted", "counter"),
            ("smsbridge_smpp_receipts_total", "receipts", "counter"),
            ("smsbridge_smpp_inbound_total", "inbound", "counter"),
            ("smsbridge_smpp_window_in_use", "window_in_use", "gauge"),
            ("smsbridge_smpp_submits_per_second", "submits_per_second", "gauge"),
            ("smsbridge_smpp_connects_total", "connects", "counter"),
        ):
            lines.append(f"# TYPE {metric} {kind}")
            lines += [f'{metric}{{connection="{r["name"]}"}} {r[key]}' for r in rows]
        lines.append("# TYPE smsbridge_smpp_errors_total counter")
        for row in rows:
            for code, count in row["errors"].items():
                lines.append(
                    f'smsbridge_smpp_errors_total{{connection="{row["name"]}",code="{code}"}} '
                    f"{count}"
                )
        return "\n".join(lines) + "\n"

    return router
