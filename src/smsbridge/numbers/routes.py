"""Reply Number routes: request one from the pool, set its Response Email and tags, release it."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from smsbridge.api.errors import SmsWorksJSON, error_responses
from smsbridge.db.models import ReplyNumber
from smsbridge.numbers.service import NumberService


class NumberRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    responseemail: list[str] | None = None
    tags: list[str] | None = None


class NumberUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    responseemail: list[str] | None = Field(None, description="Default Response Email(s).")
    tags: list[str] | None = Field(None, description="The number's tags, outermost first.")
    copyreplies: bool | None = Field(
        None, description="Email the other people a copy of each reply sent by email."
    )
    authorisedsenders: list[str] | None = Field(
        None, description="Addresses or @domains that may always reply by email."
    )
    deliveryconfirmations: bool | None = Field(
        None,
        description="Email the writer of an email reply when its SMS is delivered (a failure "
        "is always told).",
    )


def number_view(row: ReplyNumber) -> dict[str, Any]:
    return {
        "number": row.number.lstrip("+"),
        "responseemail": list(row.response_emails or []),
        "tags": list(row.tags or []),
        "copyreplies": row.copy_replies,
        "authorisedsenders": list(row.authorised_senders or []),
        "deliveryconfirmations": row.delivery_confirmations,
        "assigned": row.assigned_at.isoformat() if row.assigned_at else None,
    }


def build_number_router(numbers: NumberService, account_dependency: Any) -> APIRouter:
    router = APIRouter(
        prefix="/v1/replynumbers",
        tags=["Reply Numbers"],
        responses=error_responses(400, 401, 404, 409, 413, 500),
        default_response_class=SmsWorksJSON,
    )
    Account = Annotated[str, Depends(account_dependency)]

    def changes(body: NumberUpdateIn | NumberRequestIn) -> dict[str, Any]:
        return {
            "response_emails": body.responseemail,
            "tags": body.tags,
            "copy_replies": getattr(body, "copyreplies", None),
            "authorised_senders": getattr(body, "authorisedsenders", None),
            "delivery_confirmations": getattr(body, "deliveryconfirmations", None),
        }

    @router.post("")
    def request_number(account: Account, body: NumberRequestIn | None = None) -> dict[str, Any]:
        """Take a free Reply Number from the pool (free of charge)."""
        row = numbers.assign(account)
        if body is not None:
            row = numbers.update(account, row.number, changes(body))
        return number_view(row)

    @router.get("")
    def list_numbers(account: Account) -> dict[str, Any]:
        """The account's Reply Numbers."""
        rows = [r for r in numbers.list_numbers(account) if r.state == "assigned"]
        return {"numbers": [number_view(r) for r in rows]}

    @router.get("/{number}")
    def get_number(number: str, account: Account) -> dict[str, Any]:
        return number_view(numbers.get(account, number))

    @router.put("/{number}")
    def update_number(number: str, body: NumberUpdateIn, account: Account) -> dict[str, Any]:
        """Change the default Response Email, tags, copies or authorised senders."""
        return number_view(numbers.update(account, number, changes(body)))

    @router.delete("/{number}")
    def release_number(number: str, account: Account) -> dict[str, Any]:
        """Give the number back. It rests in quarantine before anyone else gets it; replies to
        its old emails are refused with an explanation."""
        row = numbers.release(account, number)
        return {"number": row.number.lstrip("+"), "status": "RELEASED"}

    return router
