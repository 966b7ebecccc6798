"""Every request's id, access-log line and latency sample, through Litestar's own hooks.

:class:`RequestContext` is the app's first middleware (the request id, the clock, the id bound
to every log line of the request) and its ``before_send`` hook (the ``X-Request-Id`` header, the
status, and at the last body message the access-log line and the latency sample). The hook sees
every response Litestar sends, the ones its router makes for an unknown path (404) or method
(405) included, which no middleware sees; such a request gets its id and its clock when its
problem is made (:func:`request_id`), routing being all it cost. An ``X-Request-Id`` sent by the
caller is kept when it is short and plain; otherwise a new one is made.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Final

import structlog
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from payment_http.logging import redact
from payment_http.metrics import Metrics

__all__ = ["REQUEST_ID_HEADER", "RequestContext", "request_id"]

REQUEST_ID_HEADER: Final = "X-Request-Id"
_SANE_ID: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_UNMATCHED: Final = "unmatched"
#: Where a request's :class:`_Exchange` is kept (``scope["state"]``).
_STATE_KEY: Final = "request_context"

access_log = structlog.get_logger("payment_http.access")


def _new_request_id(scope: Any) -> str:
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


class _Exchange:
    """One request as the access log tells it."""

    __slots__ = ("done", "request_id", "started", "status")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.started = time.perf_counter()
        self.status = 500  # until a response starts
        self.done = False


def _exchange(scope: Any) -> _Exchange:
    state: dict[str, Any] = scope["state"]
    exchange: _Exchange | None = state.get(_STATE_KEY)
    if exchange is None:
        exchange = state[_STATE_KEY] = _Exchange(_new_request_id(scope))
    return exchange


def request_id(scope: Any) -> str:
    """The request's id (made now if nothing asked for it yet)."""
    return _exchange(scope).request_id


class RequestContext(ASGIMiddleware):
    """Request id in, request id out; one access-log line and one latency sample per request.

    Give it to Litestar twice: in ``middleware`` (first) and its :meth:`before_send` in
    ``before_send``.
    """

    scopes = (ScopeType.HTTP,)

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        exchange = _exchange(scope)
        try:
            with structlog.contextvars.bound_contextvars(request_id=exchange.request_id):
                await next_app(scope, receive, send)
        except BaseException as exc:
            # An error is answered by Litestar's exception handling (through before_send); a
            # cancelled request is not answered at all.
            if not isinstance(exc, Exception):
                self._finish(scope, exchange)
            raise
        # Returned without an answer: the client went away while sending its body.
        if not exchange.done:
            self._finish(scope, exchange)

    async def before_send(self, message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            exchange = _exchange(scope)
            exchange.status = int(message["status"])
            header = (b"x-request-id", exchange.request_id.encode("ascii"))
            message["headers"] = [*message.get("headers", ()), header]
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self._finish(scope, _exchange(scope))

    def _finish(self, scope: Any, exchange: _Exchange) -> None:
        if exchange.done:
            return
        exchange.done = True
        elapsed = time.perf_counter() - exchange.started
        route = scope.get("path_template") or _UNMATCHED
        method = scope["method"]
        self.metrics.observe_request(method, route, exchange.status, elapsed)
        access_log.info(
            "request",
            method=method,
            path=scope["path"],
            route=route,
            status=exchange.status,
            duration_ms=round(elapsed * 1000, 2),
            request_id=exchange.request_id,
        )
