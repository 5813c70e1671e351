"""The HTTP side of the input boundary: one ASGI middleware in front of every route.

It bounds the body's size (413), and for the API's JSON bodies, paths and query strings it
refuses, with a code and a sentence, what smsbridge.boundary says cannot be kept, before any
route runs and so before anything is charged. The body it checked is handed on unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smsbridge.api.errors import SmsWorksJSON, error_body
from smsbridge.boundary import Problem, encoded_size, json_problem, parse_json, text_problem

# Bodies that are not JSON and have their own checks (a raw email; form posts of carriers).
_RAW_BODY_PATHS = ("/v1/inbound/email",)


@dataclass(frozen=True)
class Limits:
    max_request_bytes: int
    max_json_depth: int
    max_metadata_bytes: int
    max_metadata_depth: int


class InputBoundary:
    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        api = path.startswith("/v1/")
        if api:
            refusal = self._check_url(scope)
            if refusal is not None:
                await _refuse(scope, receive, send, *refusal)
                return
        declared = _header(scope, b"content-length")
        if (
            declared is not None
            and declared.isascii()
            and declared.isdigit()
            and int(declared) > self.limits.max_request_bytes
        ):
            await _refuse(scope, receive, send, *self._too_large())
            return
        if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS") and declared in (None, "0"):
            await self.app(scope, receive, send)
            return
        body, too_large, messages = await self._read(receive)
        if too_large:
            await _refuse(scope, receive, send, *self._too_large())
            return
        if api and body and self._is_json(scope, path):
            refusal = self._check_json(body)
            if refusal is not None:
                await _refuse(scope, receive, send, *refusal)
                return
        await self.app(scope, _replay(messages, receive), send)

    # -- the checks ------------------------------------------------------------------------

    def _check_url(self, scope: Scope) -> tuple[int, str, str] | None:
        reason = text_problem(scope.get("path", ""))
        if reason is not None:
            return 400, "INVALID_TEXT", f"The path holds {reason}."
        query = scope.get("query_string", b"")
        if query:
            try:
                pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, errors="strict")
            except (UnicodeDecodeError, ValueError):
                return 400, "INVALID_TEXT", "The query string is not UTF-8."
            for key, value in pairs:
                reason = text_problem(key) or text_problem(value)
                if reason is not None:
                    return 400, "INVALID_TEXT", f"The query parameter '{key[:40]}' holds {reason}."
        return None

    def _check_json(self, body: bytes) -> tuple[int, str, str] | None:
        try:
            document = parse_json(body)
        except ValueError as exc:
            return 400, "MALFORMED_JSON", f"The request body is not valid JSON: {exc}."
        problem = json_problem(document, max_depth=self.limits.max_json_depth)
        if problem is not None:
            return _describe(problem, "metadata" in problem.path.split("."))
        for where, metadata in _metadata_of(document):
            problem = json_problem(
                metadata,
                path=where,
                max_depth=self.limits.max_metadata_depth,
                check_integers=True,
            )
            if problem is not None:
                return _describe(problem, True)
            size = encoded_size(metadata)
            if size > self.limits.max_metadata_bytes:
                return (
                    400,
                    "INVALID_METADATA",
                    f"'{where}' is {size} bytes of JSON; the most is "
                    f"{self.limits.max_metadata_bytes}.",
                )
        return None

    def _too_large(self) -> tuple[int, str, str]:
        return (
            413,
            "REQUEST_TOO_LARGE",
            f"The request body is over {self.limits.max_request_bytes} bytes; send less at once "
            "(for example, a batch in several parts).",
        )

    def _is_json(self, scope: Scope, path: str) -> bool:
        if path.startswith(_RAW_BODY_PATHS):
            return False
        content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        # FastAPI reads a body without a Content-Type as JSON, so it is checked as JSON too.
        return content_type in ("", "application/json") or content_type.endswith("+json")

    async def _read(self, receive: Receive) -> tuple[bytes, bool, list[Message]]:
        """The whole body (stopping once it is over the limit), and the messages it came in."""
        chunks: list[bytes] = []
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limits.max_request_bytes:
                return b"", True, messages
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), False, messages


# Bad text in a field with a documented code of its own is refused with that code.
_FIELD_CODES = {
    "content": "INVALID_CONTENT",
    "tag": "INVALID_TAG",
    "sender": "INVALID_SENDER",
    "destination": "INVALID_DESTINATION",
    "destinations": "INVALID_DESTINATION",
    "responseemail": "INVALID_EMAIL",
    "deliveryreporturl": "INVALID_URL",
    "schedule": "INVALID_DATE",
}


def _describe(problem: Problem, in_metadata: bool) -> tuple[int, str, str]:
    names = [part for part in problem.path.split(".") if not part.isdigit()]
    if in_metadata:
        code = "INVALID_METADATA"
    elif problem.code == "INVALID_TEXT" and names:
        code = _FIELD_CODES.get(names[-1], problem.code)
    else:
        code = problem.code
    return 400, code, f"'{problem.path[:200]}' {problem.reason}."


def _metadata_of(document: Any) -> Iterator[tuple[str, Any]]:
    """Every `metadata` a send body carries: its own, or each message's in a batch."""
    if isinstance(document, dict):
        if "metadata" in document:
            yield "metadata", document["metadata"]
        messages = document.get("messages")
        if isinstance(messages, list):
            for index, item in enumerate(messages):
                if isinstance(item, dict) and "metadata" in item:
                    yield f"messages.{index}.metadata", item["metadata"]
    elif isinstance(document, list):
        for index, item in enumerate(document):
            if isinstance(item, dict) and "metadata" in item:
                yield f"{index}.metadata", item["metadata"]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, code: str, text: str
) -> None:
    response = SmsWorksJSON(error_body(code, text), status_code=status)
    await response(scope, receive, send)
