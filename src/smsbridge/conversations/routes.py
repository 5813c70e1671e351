"""Email routes: the inbound-parse endpoint (raw MIME by HTTP, with a shared secret), and the
account's log of received emails with what became of each."""

import asyncio
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request

from smsbridge.api.errors import SmsWorksJSON, error_responses
from smsbridge.conversations.service import ConversationService
from smsbridge.errors import ServiceError
from smsbridge.mail.ports import ReceivedEmail


def build_inbound_router(
    conversations: ConversationService, secret: str, max_bytes: int
) -> APIRouter:
    router = APIRouter(
        prefix="/v1/inbound",
        tags=["Email"],
        responses=error_responses(400, 401, 404, 413, 422, 500),
        default_response_class=SmsWorksJSON,
    )

    @router.post("/email", status_code=202)
    async def inbound_email(
        request: Request,
        recipient: Annotated[list[str], Query(description="Envelope recipient(s).")],
        sender: Annotated[str, Query(description="Envelope sender; empty for <>.")] = "",
        x_smsbridge_secret: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        """Accept one raw RFC 5322 email (body: message/rfc822), stored before we answer."""
        if not secret:
            raise ServiceError(404, "NOT_FOUND", "The inbound email endpoint is not enabled.")
        if not x_smsbridge_secret or not hmac.compare_digest(
            x_smsbridge_secret.encode(), secret.encode()
        ):
            raise ServiceError(401, "UNAUTHORIZED", "Send the shared secret in X-Smsbridge-Secret.")
        raw = await request.body()
        if len(raw) > max_bytes:
            raise ServiceError(413, "EMAIL_TOO_LARGE", f"The email is over {max_bytes} bytes.")
        if not raw.strip():
            raise ServiceError(400, "EMPTY_EMAIL", "The request body holds no email.")
        for address in recipient:
            reason = await asyncio.to_thread(conversations.check_recipient, address)
            if reason is not None:
                raise ServiceError(422, "UNKNOWN_RECIPIENT", reason)
        email = ReceivedEmail(
            envelope_sender=sender,
            recipients=list(recipient),
            raw=raw,
            channel="http",
            peer=request.client.host if request.client else None,
        )
        return {"id": await asyncio.to_thread(conversations.store, email), "status": "ACCEPTED"}

    return router


def build_email_log_router(
    conversations: ConversationService, account_dependency: Any
) -> APIRouter:
    router = APIRouter(
        prefix="/v1/inbound",
        tags=["Email"],
        responses=error_responses(400, 401, 500),
        default_response_class=SmsWorksJSON,
    )
    Account = Annotated[str, Depends(account_dependency)]

    @router.get("/emails")
    def email_log(
        account: Account,
        status: Annotated[
            str | None, Query(description="sent, refused, ignored, failed or received.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[dict[str, Any]]:
        """Emails received for this account, newest first: what each became (an SMS, or why
        not), including those refused and never answered."""
        return conversations.email_log(account, status=status, limit=limit, skip=skip)

    return router
