"""Sign-in with an API key, sign-out, and the console's own 404."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

import structlog
from litestar import Controller, MediaType, Request, get, post
from litestar.response import Redirect, Template

from payment_http.console._common import PathText, QueryText, form_of, page
from payment_http.console._guard import PUBLIC
from payment_http.console._session import COOKIE, LOGIN_COOKIE, LOGIN_COOKIE_SECONDS
from payment_http.console._state import ConsoleDep

__all__ = ["ConsoleSignIn"]

log = structlog.get_logger("payment_http.console")

_KEY_MAX: Final = 512


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def _next(value: str | None) -> str:
    """Where to go after signing in: a console page of this site, nothing else."""
    if not value:
        return "/console"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console") or "\\" in value:
        return "/console"
    return value


def _signin_page(
    console: ConsoleDep,
    request: Request[Any, Any, Any],
    *,
    target: str,
    error: QueryText = "",
    status_code: int = 200,
    retry_after: int | None = None,
) -> Template:
    nonce = console.sessions.new_login_nonce()
    console.set_cookie(request, console.sessions.cookie(LOGIN_COOKIE, nonce, LOGIN_COOKIE_SECONDS))
    response = Template(
        template_name="login.html",
        context={
            "csrf_token": console.sessions.login_csrf(nonce),
            "next": target,
            "error": error,
            "title": "Sign in",
        },
        status_code=status_code,
        media_type=MediaType.HTML,
    )
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


class ConsoleSignIn(Controller):
    path = "/console"
    opt = {PUBLIC: True}  # noqa: RUF012 - Litestar's layer attribute

    @get("/login")
    async def form(
        self,
        request: Request[Any, Any, Any],
        console: ConsoleDep,
        next: QueryText = "",
    ) -> Any:
        if console.sessions.open:
            return Redirect(_next(next), status_code=303)
        if await console.sessions.current(console.cookie_of(request)) is not None:
            return Redirect(_next(next), status_code=303)
        return _signin_page(console, request, target=_next(next))

    @post("/login", status_code=303)
    async def sign_in(self, request: Request[Any, Any, Any], console: ConsoleDep) -> Any:
        address = _client(request)
        wait = console.limiter.check(address)
        if wait is not None:
            log.warning("console sign-in throttled", client=address)
            seconds = int(wait) + 1
            return _signin_page(
                console,
                request,
                target="/console",
                error=f"Too many attempts. Try again in {seconds} seconds.",
                status_code=429,
                retry_after=seconds,
            )
        form = await form_of(request)
        target = _next(form.get("next"))
        expected = console.sessions.login_csrf(request.cookies.get(LOGIN_COOKIE))
        submitted = form.get("csrf_token", "")
        if expected is None or not console.sessions.check_login_csrf(expected, submitted):
            return _signin_page(
                console,
                request,
                target=target,
                error="The sign-in form expired. Please try again.",
                status_code=403,
            )
        if console.sessions.open:
            return Redirect(target, status_code=303)
        candidate = form.get("api_key", "").strip()[:_KEY_MAX]
        ident = console.sessions.match(candidate) if candidate else None
        if ident is None:
            log.warning("console sign-in refused", client=address)
            return _signin_page(
                console,
                request,
                target=target,
                error="That API key is not valid.",
                status_code=401,
            )
        cookie, session = await console.sessions.sign_in(ident)
        console.set_cookie(request, console.sessions.session_cookie(cookie, session))
        console.set_cookie(request, console.sessions.clear(LOGIN_COOKIE))
        log.info("console sign-in", key_id=ident, client=address)
        return Redirect(target, status_code=303)

    @post("/logout", status_code=303)
    async def sign_out(self, request: Request[Any, Any, Any], console: ConsoleDep) -> Any:
        session = await console.sessions.current(console.cookie_of(request))
        if session is not None:
            form = await form_of(request)
            if not console.sessions.check_csrf(session, form.get("csrf_token")):
                return Redirect("/console", status_code=303)
            await console.sessions.sign_out(session)
            log.info("console sign-out", key_id=session.key_id)
        console.set_cookie(request, console.sessions.clear(COOKIE))
        return Redirect("/console/login", status_code=303)


class ConsoleFallback(Controller):
    """Any other console URL: sign in first, then a page that says it does not exist."""

    path = "/console"

    @get("/{rest:path}", name="console:fallback")
    async def missing(
        self, request: Request[Any, Any, Any], console: ConsoleDep, rest: PathText
    ) -> Template:
        return page(
            console, request, "not_found.html", title="Not found", status_code=404, what="page"
        )
