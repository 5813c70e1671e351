"""Every API error is JSON in The SMS Works' error model, with our stable code beside it.

`{"message", "errorCode", "status", "permanent"}` is their ExtendedErrorModel (ErrorModel is its
`message` alone); `code` (the same word as `status`) and `details` are ours. The numbers and
flags come from the one table in smsbridge.errors.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from smsbridge.errors import ERROR_CODES, ServiceError, error_code

log = logging.getLogger(__name__)

# The document's media type for every answer; its generated clients match on it.
MEDIA_TYPE = "application/json;charset=UTF-8"


class SmsWorksJSON(JSONResponse):
    media_type = MEDIA_TYPE


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers an operation can give, for the OpenAPI document we serve."""
    from smsbridge.messages.schemas import ErrorResponse

    described = {
        status: [e.code for e in ERROR_CODES.values() if e.http_status == status]
        for status in statuses
    }
    return {
        status: {
            "model": ErrorResponse,
            "description": "Error: " + (", ".join(codes[:12]) or "see docs/api.md"),
        }
        for status, codes in described.items()
    }


_HTTP_CODES = {
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}

# A field whose value is wrong has its own code where the send API documents one.
_FIELD_CODES = {
    "validity": "INVALID_VALIDITY",
    "ttl": "INVALID_TTL",
    "metadata": "INVALID_METADATA",
}


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    entry = error_code(code)
    body: dict[str, Any] = {
        "message": message,
        "errorCode": entry.number,
        "status": code,
        "permanent": entry.permanent,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def error_response(
    status: int, code: str, message: str, details: list[Any] | None = None, **kwargs: Any
) -> JSONResponse:
    return SmsWorksJSON(error_body(code, message, details), status_code=status, **kwargs)


def _describe(errors: list[Any]) -> tuple[str, str]:
    """Turn pydantic's first error into our code and a sentence."""
    first = errors[0]
    kind = first.get("type", "")
    location = [str(p) for p in first.get("loc", ()) if p != "body"]
    field = ".".join(location) or "the body"
    if kind in ("json_invalid", "json_type"):
        return "MALFORMED_JSON", "The request body is not valid JSON in UTF-8."
    if kind == "extra_forbidden":
        return "UNKNOWN_FIELD", f"'{field}' is not a field of this request; check its spelling."
    if kind == "missing":
        if field == "the body":
            return "MISSING_BODY", "The request needs a JSON body."
        return "MISSING_FIELD", f"'{field}' is required."
    code = _FIELD_CODES.get(location[-1] if location else "", "INVALID_FIELD")
    return code, f"'{field}' is invalid: {first.get('msg', 'bad value')}."


def describe_errors_truthfully(app: FastAPI) -> None:
    """Make /openapi.json say what we answer: FastAPI documents a 422 `HTTPValidationError`
    for every operation with parameters, but our validation errors are 400 in the error model;
    and the input boundary can refuse any API request's path or query with a 400 and any body
    over the limit with a 413."""
    from fastapi.openapi.utils import get_openapi

    error = {"content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                if "HTTPValidationError" in str(responses.get("422", "")):
                    del responses["422"]
                if path.startswith("/v1/"):
                    responses.setdefault("400", {"description": "Bad request", **error})
                    if "requestBody" in operation:
                        responses.setdefault("413", {"description": "Body too large", **error})
        components = schema.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _allowed_methods(request: Request) -> list[str]:
    """Every method the request's path takes, read off the app's own OpenAPI document (the
    routes that the document leaves out, the account page's, take GET and POST)."""
    path = request.url.path
    paths: dict[str, Any] = request.app.openapi().get("paths", {})
    if path in paths:  # a literal path (/v1/messages/schedule) is its own resource
        return sorted(method.upper() for method in paths[path])
    allowed: set[str] = set()
    for template, item in paths.items():
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            allowed |= {method.upper() for method in item}
    return sorted(allowed or {"GET", "POST"})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details)

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
        return error_response(400, code, message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
        if exc.status_code == 400:
            # Starlette's own 400s are bodies it could not decode.
            code = "MALFORMED_JSON"
        message = exc.detail if isinstance(exc.detail, str) else "Request refused."
        if exc.status_code == 404 and message == "Not Found":
            message = "There is no such API path; see /docs for the paths we serve."
        if exc.status_code == 400:
            message = "The request body is not valid JSON in UTF-8."
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route's methods; a path can have several.
            allowed = _allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            message = f"This path takes {', '.join(allowed)}."
        return error_response(exc.status_code, code, message, headers=headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in an API request", exc_info=exc)
        return error_response(
            500, "INTERNAL_ERROR", "Something went wrong on our side; nothing was sent."
        )
