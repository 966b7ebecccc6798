"""The outermost layer of every request: its id, its access-log line and its latency metric.

It wraps Litestar's whole ASGI handler (routing and error handling included), so a 404 for an
unknown path or a 405 is logged, measured and carries its ``X-Request-Id`` like any other
response. An ``X-Request-Id`` sent by the caller is kept when it is short and plain; otherwise
a new one is made.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Final

import structlog

from payment_http._asgi import ASGIApp, Message, Receive, Scope, Send
from payment_http.logging import redact
from payment_http.metrics import Metrics

__all__ = ["REQUEST_ID_HEADER", "RequestContext"]

REQUEST_ID_HEADER: Final = "X-Request-Id"
_SANE_ID: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_UNMATCHED: Final = "unmatched"

access_log = structlog.get_logger("payment_http.access")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            try:
                text = bytes(value).decode("ascii")
            except UnicodeDecodeError:
                break
            # Ids are logged unmasked: one the log would read as a card number is not taken.
            if _SANE_ID.match(text) and redact(text) == text:
                return text
            break
    return uuid.uuid4().hex


class RequestContext:
    """Request id in, request id out; one access-log line and one latency sample per request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        header = (b"x-request-id", request_id.encode("ascii"))
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                route = scope.get("path_template") or _UNMATCHED
                method = scope["method"]
                self.metrics.observe_request(method, route, status, elapsed)
                access_log.info(
                    "request",
                    method=method,
                    path=scope["path"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
