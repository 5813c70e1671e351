"""Every API error is JSON: a stable `code` and a `message` a person can act on."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from smsbridge.errors import ServiceError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return body


def _describe(errors: list[Any]) -> tuple[str, str]:
    """Turn pydantic's first error into our code and a sentence."""
    first = errors[0]
    kind = first.get("type", "")
    location = [str(p) for p in first.get("loc", ()) if p != "body"]
    field = ".".join(location) or "the body"
    if kind == "json_invalid":
        return "MALFORMED_JSON", "The request body is not valid JSON."
    if kind == "extra_forbidden":
        return "UNKNOWN_FIELD", f"'{field}' is not a field of this request; check its spelling."
    if kind == "missing":
        if field == "the body":
            return "MISSING_BODY", "The request needs a JSON body."
        return "MISSING_FIELD", f"'{field}' is required."
    return "INVALID_FIELD", f"'{field}' is invalid: {first.get('msg', 'bad value')}."


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        code, message = _describe(errors)
        details = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "problem": e.get("msg"),
            }
            for e in errors[:20]
        ]
        return JSONResponse(error_body(code, message, details), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else "Request refused."
        if exc.status_code == 404 and message == "Not Found":
            message = "There is no such API path; see /docs for the paths we serve."
        return JSONResponse(
            error_body(code, message), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in an API request", exc_info=exc)
        return JSONResponse(
            error_body("INTERNAL_ERROR", "Something went wrong on our side; nothing was sent."),
            status_code=500,
        )
