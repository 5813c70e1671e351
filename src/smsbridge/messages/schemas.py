"""Request and response shapes of the SMS Works-compatible API (names and types are theirs).

The reference is The SMS Works' OpenAPI document v1.9.0. Where it types a field `number` we
take a JSON number (an integer where the document says "Integer"), never a string or a
boolean; our additions are marked as such in their descriptions.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# The database's INTEGER is 32-bit on PostgreSQL; nothing we count comes near it.
MAX_INT32 = 2**31 - 1


def _whole_number(value: Any) -> Any:
    """A JSON number with no fractional part. Generated clients for the document's `number`
    type send 1000.0 as readily as 1000; `true` and "5" are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be a whole number")
        return int(value)
    return value


def _json_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


def _strict_bool(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
Number = Annotated[float, BeforeValidator(_json_number)]
StrictBool = Annotated[bool, BeforeValidator(_strict_bool)]


class _Strict(BaseModel):
    # Unknown fields are an error, not silently ignored: a typo like "responsemail" must not
    # quietly drop the routing a customer relies on.
    model_config = ConfigDict(extra="forbid")


class MessageIn(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "sender": "Acme",
                    "destination": "447700900123",
                    "content": "Your table is booked for 7pm",
                    "tag": "booking",
                    "validity": 1440,
                    "metadata": [{"key": "order", "value": "A1"}],
                }
            ]
        },
    )

    sender: str = Field(description="A Reply Number you hold, or a name of 1-11 characters.")
    destination: str = Field(description="The recipient, e.g. 447700900123.")
    content: str = Field(description="Up to 1,280 characters.")
    tag: str | None = Field(None, description="A label, at most 50 characters (theirs: 280).")
    responseemail: list[str] | None = Field(
        None, description="Where replies to this message are emailed (a Reply Number sender)."
    )
    schedule: str | None = Field(
        None, description="When to send: ISO 8601 or a JavaScript date string."
    )
    validity: WholeNumber | None = Field(
        None, ge=1, le=2880, description="Minutes to try delivery before EXPIRED (default 2880)."
    )
    deliveryreporturl: str | None = None
    ttl: WholeNumber | None = Field(
        None, ge=1, le=MAX_INT32, description="Minutes before the delivery report is deleted."
    )
    metadata: Any = Field(
        None, description="Your own JSON (key/value pairs), returned with the message."
    )
    ai: StrictBool | None = Field(
        None, description="Use smart encoding for this message (look-alikes to GSM-7)."
    )


class BatchIn(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "sender": "Acme",
                    "destinations": ["447700900123", "447700900124"],
                    "content": "Our sale starts today",
                }
            ]
        },
    )

    sender: str
    destinations: list[str]
    content: str
    tag: str | None = None
    responseemail: list[str] | None = None
    schedule: str | None = None
    validity: WholeNumber | None = Field(None, ge=1, le=2880)
    deliveryreporturl: str | None = None
    ttl: WholeNumber | None = Field(None, ge=1, le=MAX_INT32)
    metadata: Any = None
    ai: StrictBool | None = None


class QueryIn(_Strict):
    status: str | None = None
    credits: Number | None = Field(
        None, ge=0, le=1_000_000, description="Credits used by the message."
    )
    destination: str | None = None
    sender: str | None = None
    keyword: str | None = None
    tag: str | None = Field(None, description="smsbridge addition: the message's tag.")
    unread: StrictBool | None = None
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    limit: WholeNumber = Field(1000, ge=1, le=1000)
    # Bounded so the OFFSET always fits the database's 64-bit integer.
    skip: WholeNumber = Field(0, ge=0, le=MAX_INT32)
    metadata: Any = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SendMessageResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    messageid: str
    status: str
    credits: float = Field(description="Credits left on the account after this send.")
    creditsUsed: float = Field(description="Credits this message cost.")
    messageparts: int = Field(description="SMS segments the message was sent as.")


class ScheduledMessageResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    messageid: str
    status: str


class RefusedDestination(BaseModel):
    """A destination of a batch that was not sent to (smsbridge addition)."""

    model_config = ConfigDict(extra="allow")

    index: int = Field(description="Its position in the request's destinations (from 0).")
    destination: str
    code: str = Field(description="Why, as an error code: DESTINATION_OPTED_OUT.")
    message: str


class BatchResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    batchid: str
    status: str
    credits: float = Field(description="Credits left on the account after this batch.")
    creditsUsed: float = Field(description="Credits the batch cost.")
    refused: list[RefusedDestination] | None = Field(
        None,
        description="smsbridge addition, present only when some destinations opted out: "
        "those left out (nothing sent or charged for them); the rest were sent.",
    )


class CancelledResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    messageid: str
    status: str


class DeletedResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    messageid: str
    status: str


class CreditsResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    credits: float


class TestResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    message: str
    customerid: str


class FailureReason(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: int | None = None
    details: str | None = None
    permanent: bool | None = None


class MessageRecord(BaseModel):
    """A message as The SMS Works' MessageResponse shapes it (outbound or inbound)."""

    model_config = ConfigDict(extra="allow")

    messageid: str
    id: str
    customerid: str
    sender: str
    destination: int | str = Field(description="A number (digits) as the document types it.")
    identifier: str | None = None
    content: str
    status: str
    tag: str = Field(description="Empty when the message has none.")
    schedule: str = Field(description="Empty when the message was not scheduled.")
    created: str
    modified: str
    batchid: str | None = None
    keyword: str | None = None
    deliveryreporturl: str | None = None
    failurereason: FailureReason | None = None


class ScheduledItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str = Field(description="SCHEDULED, PROCESSED or CANCELLED.")
    id: str
    batch: bool
    message: dict[str, Any]


class ScheduledList(BaseModel):
    """The document types this answer as one scheduled item although it describes a list: the
    newest item's fields stand at the top, and `scheduled` lists them all (newest first)."""

    model_config = ConfigDict(extra="allow")

    status: str | None = None
    id: str | None = None
    batch: bool | None = None
    message: dict[str, Any] | None = None
    scheduled: list[ScheduledItem]


class ErrorResponse(BaseModel):
    """The SMS Works' ExtendedErrorModel, plus our stable string code and details."""

    model_config = ConfigDict(extra="allow")

    message: str = Field(description="What went wrong, in a sentence.")
    errorCode: int = Field(description="The error's number; see GET /v1/utils/errors/{code}.")
    status: str = Field(description="The error's code, as in `code`.")
    permanent: bool = Field(description="False when the same request may succeed later.")
    code: str = Field(description="Stable machine-readable error code (smsbridge).")
    details: list[Any] | None = None
