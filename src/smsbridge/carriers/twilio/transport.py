"""The HTTP client the official `twilio` library sends through: httpx, at a configurable base.

The library's own async client needs aiohttp and always calls api.twilio.com; this one reuses
the gateway's HTTP stack and can be pointed at a test double or a proxy (`api_base_url`)."""

from __future__ import annotations

import logging

import httpx
from twilio.http import AsyncHttpClient
from twilio.http.response import Response

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"


class HttpxTwilioClient(AsyncHttpClient):  # type: ignore[misc]  # twilio ships no type info
    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(log, True, timeout)
        self._base = base_url.rstrip("/")
        self._http = httpx.AsyncClient(timeout=timeout)

    def rebase(self, url: str) -> str:
        if self._base != TWILIO_API and url.startswith(TWILIO_API):
            return self._base + url[len(TWILIO_API) :]
        return url

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        # httpx exceptions propagate: the carrier tells "never reached Twilio" (connect) from
        # "sent, answer lost" (read timeout) itself, which decides between retry and doubt.
        response = await self._http.request(
            method.upper(),
            self.rebase(url),
            params=params,  # type: ignore[arg-type]
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout or self.timeout,
            follow_redirects=allow_redirects,
        )
        return Response(response.status_code, response.text, response.headers)

    async def close(self) -> None:
        await self._http.aclose()
