"""The console's gate: a session on every page, and the headers a payment screen needs.

:func:`require_session` runs before each console handler (a ``before_request`` hook of the
console's router): without a live session it redirects to the sign-in page (or, with
``API_KEYS`` unset, opens one, as the open API needs no key). :class:`ConsoleHeaders` puts on
every console response a strict Content-Security-Policy, ``X-Frame-Options: DENY``,
``Referrer-Policy: same-origin``, ``nosniff`` and, on pages, ``Cache-Control: no-store``; and
the session cookies the handlers set.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import quote

from litestar import Request, Response
from litestar.response import Redirect

from payment_http._asgi import ASGIApp, Message, Receive, Scope, Send
from payment_http.console._state import COOKIE_STATE, SESSION_STATE, Console

__all__ = ["CONTENT_SECURITY_POLICY", "PUBLIC", "ConsoleHeaders", "require_session"]

#: ``opt`` of a console handler that needs no session (the sign-in page, the assets).
PUBLIC: Final = "console_public"
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
_HEADERS: Final = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
)
_STATIC: Final = "/console/static/"


def _safe_next(path: str, query: str) -> str:
    target = path + (f"?{query}" if query else "")
    return quote(target, safe="/?=&-_.~")


def require_session(
    console: Console,
) -> Callable[[Request[Any, Any, Any]], Awaitable[Response[Any] | None]]:
    """The console's ``before_request`` hook: the session, or a redirect to sign in."""

    async def hook(request: Request[Any, Any, Any]) -> Response[Any] | None:
        return await _require(console, request)

    return hook


async def _require(console: Console, request: Request[Any, Any, Any]) -> Response[Any] | None:
    handler = request.scope.get("route_handler")
    if handler is not None and handler.opt.get(PUBLIC, False):
        return None
    session = await console.sessions.current(console.cookie_of(request))
    if session is None and console.sessions.open:
        cookie, session = await console.sessions.open_session()
        console.set_cookie(request, console.sessions.session_cookie(cookie, session))
    if session is None:
        target = _safe_next(request.url.path, request.url.query or "")
        if request.method != "GET":
            target = "/console"
        return Redirect(f"/console/login?next={target}", status_code=303)
    request.scope.setdefault("state", {})[SESSION_STATE] = session
    return None


class ConsoleHeaders:
    """Security headers and cookies on every response of the console's router."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        page = not str(scope.get("path", "")).startswith(_STATIC)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if not (page and bytes(name).lower() == b"cache-control")
                ]
                headers.extend(_HEADERS)
                if page:
                    headers.append((b"cache-control", b"no-store"))
                headers.extend(
                    (b"set-cookie", cookie.encode("latin-1"))
                    for cookie in scope.get("state", {}).get(COOKIE_STATE, ())
                )
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
