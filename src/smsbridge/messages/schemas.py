"""Request and response shapes of the SMS Works-compatible API (field names are theirs)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    # Unknown fields are an error, not silently ignored: a typo like "responsemail" must not
    # quietly drop the routing a customer relies on.
    model_config = ConfigDict(extra="forbid")


class MessageIn(_Strict):
    sender: str
    destination: str
    content: str
    tag: str | None = None
    responseemail: list[str] | None = None
    schedule: str | None = None
    validity: int | None = Field(None, description="Minutes to try delivery before EXPIRED.")
    deliveryreporturl: str | None = None
    ttl: int | None = None
    metadata: Any = None
    ai: bool | None = Field(
        None, description="Use smart encoding for this message (look-alikes to GSM-7)."
    )


class BatchIn(_Strict):
    sender: str
    destinations: list[str]
    content: str
    tag: str | None = None
    responseemail: list[str] | None = None
    schedule: str | None = None
    validity: int | None = None
    deliveryreporturl: str | None = None
    ttl: int | None = None
    metadata: Any = None
    ai: bool | None = None


class QueryIn(_Strict):
    status: str | None = None
    destination: str | None = None
    sender: str | None = None
    keyword: str | None = None
    tag: str | None = None
    unread: bool | None = None
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    limit: int = Field(100, ge=1, le=1000)
    skip: int = Field(0, ge=0)
    metadata: Any = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SendMessageResponse(BaseModel):
    messageid: str
    status: str
    credits: float


class ScheduledMessageResponse(BaseModel):
    messageid: str
    status: str


class BatchResponse(BaseModel):
    batchid: str
    status: str


class CreditsResponse(BaseModel):
    credits: float


class ErrorResponse(BaseModel):
    code: str = Field(description="Stable machine-readable error code.")
    message: str = Field(description="What went wrong, in a sentence.")
    details: list[Any] | None = None
