"""Webhook settings over the API: URLs, the signing secret, and what was delivered."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from smsbridge.api.errors import SmsWorksJSON, error_responses
from smsbridge.webhooks.service import WebhookService


class WebhookSettingsIn(BaseModel):
    """Both URLs at once (PUT): a field left out or null clears that URL."""

    model_config = ConfigDict(extra="forbid")
    deliveryreporturl: str | None = None
    inboundurl: str | None = None


# No `from __future__ import annotations` here: FastAPI must see the real types of the
# handlers' parameters, and `Account` below is a local alias it could not resolve from text.


def build_webhook_router(
    service: WebhookService, account_dependency: Callable[..., str]
) -> APIRouter:
    router = APIRouter(
        prefix="/v1",
        responses=error_responses(400, 401, 404, 413, 500),
        tags=["Webhooks"],
        default_response_class=SmsWorksJSON,
    )
    Account = Annotated[str, Depends(account_dependency)]

    @router.get("/account/webhooks")
    def get_webhooks(account: Account) -> dict[str, Any]:
        """The account's webhook URLs, and whether a signing secret exists."""
        return service.get_settings(account)

    @router.put("/account/webhooks")
    def put_webhooks(body: WebhookSettingsIn, account: Account) -> dict[str, Any]:
        """Set the default delivery-report URL (for messages without their own) and the
        inbound-SMS URL."""
        return service.update_settings(account, body.deliveryreporturl, body.inboundurl)

    @router.post("/account/webhooks/secret")
    def rotate_secret(account: Account) -> dict[str, Any]:
        """A new signing secret, shown this once; the previous one stops working now."""
        return {"secret": service.rotate_secret(account)}

    @router.get("/account/webhooks/deliveries")
    def recent_deliveries(
        account: Account, limit: Annotated[int, Query(ge=1, le=500)] = 50
    ) -> dict[str, Any]:
        """The latest webhooks POSTed (or being retried) for the account, newest first."""
        return {"deliveries": service.recent_deliveries(account, limit)}

    @router.get("/messages/{messageid}/webhooks")
    def message_webhooks(messageid: str, account: Account) -> dict[str, Any]:
        """The webhooks of one message, oldest first."""
        return {"deliveries": service.deliveries_for_message(account, messageid)}

    return router
