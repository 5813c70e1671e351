"""Errors every service can raise: a stable code, an HTTP status and a sentence for people."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A request we refuse. The API turns it into `{"code": ..., "message": ...}`."""

    def __init__(
        self, status: int, code: str, message: str, *, details: list[Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class NotFound(ServiceError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(404, code, message)


class Invalid(ServiceError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(400, code, message)
