"""A small JSON-over-HTTP client for the providers spoken to through ``httpx`` (PayPal, Square).

It sends one request and hands back the status, the parsed body and the headers; what a status
means is each provider's business. Transport failures (timeouts, refused or dropped
connections) become ``ProviderUnavailableError``: the request may or may not have been acted on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import attrs
import httpx

from payment_adapters.providers.ratelimit import TokenBucket
from payment_core.errors import ProviderUnavailableError

__all__ = ["HttpReply", "JsonHttp"]

_MAX_BODY = 2 * 1024 * 1024


@attrs.frozen(slots=True)
class HttpReply:
    status: int
    body: Any = attrs.field(repr=False)
    headers: Mapping[str, str] = attrs.field(repr=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def object(self) -> dict[str, Any]:
        """The body when it is a JSON object, else an empty dict."""
        return self.body if isinstance(self.body, dict) else {}


class JsonHttp:
    """``httpx.AsyncClient`` with a base URL, a timeout, a rate limiter and error translation."""

    def __init__(
        self,
        *,
        base_url: str,
        provider: str,
        timeout: float,
        limiter: TokenBucket | None,
        client: httpx.AsyncClient | None = None,
        logger: logging.Logger,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._provider = provider
        self._limiter = limiter
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._timeout = timeout
        self._logger = logger

    @property
    def base_url(self) -> str:
        return self._base_url

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        json_body: object | None = None,
        form: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str | None, bytes, str]] | None = None,
        params: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> HttpReply:
        if self._limiter is not None:
            await self._limiter.acquire()
        content: bytes | None = None
        send_headers = {"Accept": "application/json", **headers}
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":")).encode()
            send_headers["Content-Type"] = "application/json"
        try:
            response = await self._client.request(
                method,
                self._base_url + path,
                headers=send_headers,
                content=content,
                data=dict(form) if form is not None else None,
                # multipart/form-data parts: name -> (file name or None, content, type)
                files=dict(files) if files is not None else None,
                params=dict(params) if params is not None else None,
                auth=httpx.BasicAuth(*auth) if auth is not None else None,
                timeout=self._timeout,
            )
        except httpx.TimeoutException:
            raise ProviderUnavailableError(
                message=f"{self._provider} did not answer {method} {_route(path)} in time"
            ) from None
        except httpx.HTTPError as exc:
            raise ProviderUnavailableError(
                message=f"{self._provider} connection failed ({type(exc).__name__})"
            ) from None
        raw = response.content[:_MAX_BODY]
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        self._logger.debug(
            "%s %s %s -> %d", self._provider, method, _route(path), response.status_code
        )
        return HttpReply(status=response.status_code, body=body, headers=response.headers)


def _route(path: str) -> str:
    """The path without ids, for log lines (``/v2/payments/{id}/complete``)."""
    parts = []
    for part in path.split("?", maxsplit=1)[0].split("/"):
        has_digit = any(c.isdigit() for c in part)
        parts.append("{id}" if has_digit and len(part) > 8 else part)
    return "/".join(parts)
