"""Opt-out list routes: list, search, add, import, remove, the audit trail, CSV, settings."""

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from smsbridge.accounts.service import KeyHolder
from smsbridge.api.errors import SmsWorksJSON, error_responses
from smsbridge.errors import Invalid
from smsbridge.optout.service import Actor, OptOutService

# No `from __future__ import annotations`: FastAPI must see the real types of the handlers'
# parameters, and `Caller` below is a local alias it could not resolve from text.

MAX_IMPORT_CHARS = 1_000_000


class OptOutAddIn(BaseModel):
    """Numbers to add: all of them, or none if any is wrong."""

    model_config = ConfigDict(extra="forbid")
    numbers: list[str] = Field(
        description="Customer numbers, each optionally followed by ',<Reply Number>'.",
        max_length=10_000,
    )
    replynumber: str | None = Field(
        None,
        description="The Reply Number the entries are for; leave out (or '*') for every sender "
        "of the account.",
        max_length=30,
    )
    note: str | None = Field(None, description="Why, for the audit trail.", max_length=1000)


class OptOutImportIn(BaseModel):
    """A CSV or plain list: one number a line, optionally ',<Reply Number>'."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="The list, as text.", max_length=MAX_IMPORT_CHARS)
    note: str | None = Field(None, description="Why, for the audit trail.", max_length=1000)


class OptOutSettingsIn(BaseModel):
    """Fields left out are kept; a field set to null goes back to the operator's default."""

    model_config = ConfigDict(extra="forbid")
    scope: Literal["pair", "account"] | None = Field(
        None, description="pair: a STOP covers the Reply Number it was sent to; account: all."
    )
    keywords: dict[str, dict[str, list[str]]] | None = Field(
        None, description='{"en": {"optout": [...], "optin": [...], "help": [...]}, ...}'
    )
    texts: dict[str, dict[str, str]] | None = Field(
        None,
        description='Automatic replies: {"optout": {"en": "..."}, "optin": ..., "help": ...}; '
        "{account}, {scope}, {optin}, {optout} and {help} are filled in.",
    )


def _actor(holder: KeyHolder) -> Actor:
    return Actor(source="api", who=f"API key {holder.key_name} ({holder.key_id})")


def build_optout_router(
    service: OptOutService, key_dependency: Callable[..., KeyHolder]
) -> APIRouter:
    router = APIRouter(
        prefix="/v1/optouts",
        tags=["Opt-outs"],
        responses=error_responses(400, 401, 404, 413, 500),
        default_response_class=SmsWorksJSON,
    )
    Caller = Annotated[KeyHolder, Depends(key_dependency)]

    @router.get("")
    def list_optouts(
        caller: Caller,
        search: Annotated[str | None, Query(max_length=40)] = None,
        replynumber: Annotated[str | None, Query(max_length=30)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        skip: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> dict[str, Any]:
        """The numbers the account may not text, newest first; `search` matches digits."""
        return service.listing(
            caller.account_id, search=search, reply_number=replynumber, limit=limit, skip=skip
        )

    @router.post("", status_code=201)
    def add_optouts(body: OptOutAddIn, caller: Caller) -> dict[str, Any]:
        """Add numbers to the list: all, or none with each wrong line and why."""
        return service.add(
            caller.account_id,
            body.numbers,
            _actor(caller),
            reply_number=body.replynumber,
            note=body.note,
        )

    @router.post("/import", status_code=201)
    def import_optouts(body: OptOutImportIn, caller: Caller) -> dict[str, Any]:
        """Add a list (CSV or one number a line): all, or none with each wrong line and why."""
        actor = Actor(source="import", who=_actor(caller).who)
        return service.add(caller.account_id, body.text.splitlines(), actor, note=body.note)

    @router.get("/events")
    def optout_events(
        caller: Caller,
        customer: Annotated[str | None, Query(max_length=30)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        skip: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> dict[str, Any]:
        """The audit trail: each opt-out, opt-in, addition and removal, newest first."""
        return {
            "events": service.events(caller.account_id, customer=customer, limit=limit, skip=skip)
        }

    @router.get("/export.csv", response_class=Response)
    def export_optouts(caller: Caller) -> Response:
        """Every entry as CSV (re-importable: its first two columns are the import format)."""
        return Response(
            service.export_csv(caller.account_id),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="optouts.csv"'},
        )

    @router.get("/settings")
    def get_optout_settings(caller: Caller) -> dict[str, Any]:
        """The account's scope, keyword lists and automatic reply texts."""
        return service.get_settings(caller.account_id)

    @router.put("/settings")
    def put_optout_settings(body: OptOutSettingsIn, caller: Caller) -> dict[str, Any]:
        """Change the scope, keyword lists or reply texts."""
        return service.update_settings(caller.account_id, body.model_dump(exclude_unset=True))

    @router.delete("/{customer}")
    def remove_optout(
        customer: str,
        caller: Caller,
        replynumber: Annotated[str | None, Query(max_length=30)] = None,
    ) -> dict[str, Any]:
        """Take a number off the list (for one Reply Number, '*' for the account-wide entry,
        or, with no replynumber, every entry of the number)."""
        if len(customer) > 30:
            raise Invalid("INVALID_DESTINATION", "That is not a phone number.")
        return service.remove(caller.account_id, customer, _actor(caller), reply_number=replynumber)

    return router
