"""The browsable API reference at ``/schema``: Scalar, shipped inside the package.

The page needs nothing but this process: its one script is a pinned release of Scalar's
standalone bundle, served from ``/schema/static/`` with a year-long immutable cache (the
version is in the file name), and the page's Content-Security-Policy lets it load and connect
to this origin only. The bundle injects its own stylesheet, which the policy admits by a nonce
made for each response.
"""

from __future__ import annotations

import html
import json
import secrets
from pathlib import Path
from typing import Any, Final

from litestar import Request, Router
from litestar.datastructures import CacheControlHeader
from litestar.middleware import DefineMiddleware
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.static_files import create_static_files_router

from payment_http._asgi import ASGIApp, Message, Receive, Scope, Send
from payment_http.auth import PUBLIC

__all__ = [
    "SCALAR_VERSION",
    "STATIC_DIR",
    "DocsSecurityHeaders",
    "PinnedScalarRenderPlugin",
    "docs_router",
]

#: The Scalar release in ``static/scalar`` (``@scalar/api-reference``, MIT; see its LICENSE).
SCALAR_VERSION: Final = "1.76.4"
STATIC_DIR: Final = Path(__file__).parent / "static"
STATIC_PATH: Final = "/static"
_SCRIPT: Final = f"scalar/api-reference-{SCALAR_VERSION}.js"
_NONCE_KEY: Final = "csp_nonce"
_YEAR: Final = 365 * 24 * 3600

# Nothing from elsewhere: no fonts service, no telemetry, no hosted assistant.
_SCALAR_OPTIONS: Final[dict[str, Any]] = {
    "withDefaultFonts": False,
    "telemetry": False,
    "agent": {"disabled": True},
    "showOperationId": True,
    "hideClientButton": True,
    "showDeveloperTools": "never",
}
# The two stylesheets the bundle inserts without the nonce (its toasts' and its theme's), by
# their hashes; to recompute when the bundle is upgraded (a browser's console names them).
_STYLE_HASHES: Final = (
    "sha256-l/2OpPg0d+2VLTLgwjf5mQo2CYwHDEqdj5TjbfEyVJI=",
    "sha256-T13Uev3xCax2N28XaoAE8DOzQZKvPp7ZQVAi1iRREjo=",
)
_STYLE_SOURCES: Final = " ".join(f"'{digest}'" for digest in _STYLE_HASHES)


def content_security_policy(nonce: str) -> str:
    """The docs page's policy: this origin only (plus the nonce of the bundle's own styles)."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            f"style-src 'self' 'nonce-{nonce}' {_STYLE_SOURCES}",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


class DocsSecurityHeaders:
    """A nonce for each docs response, and the policy that names it on every HTML page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})[_NONCE_KEY] = nonce
        policy = content_security_policy(nonce).encode("ascii")

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                is_html = any(
                    name.lower() == b"content-type" and value.startswith(b"text/html")
                    for name, value in headers
                )
                if is_html:
                    headers += [
                        (b"content-security-policy", policy),
                        (b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"no-referrer"),
                    ]
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_policy)


class PinnedScalarRenderPlugin(ScalarRenderPlugin):
    """Litestar's Scalar page, pointed at the bundle in this package, with no inline script."""

    def __init__(self, *, path: str = "/") -> None:
        super().__init__(
            js_url=f"{STATIC_PATH}/{_SCRIPT}",
            css_url="",
            path=path,
            options=_SCALAR_OPTIONS,
            favicon="",
            style="",
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        prefix = request.app.openapi_config.path if request.app.openapi_config else ""
        nonce = str(request.scope.get("state", {}).get(_NONCE_KEY, ""))
        title = html.escape(str(openapi_schema["info"]["title"]))
        spec_url = html.escape(self.get_openapi_json_route(request))
        options = html.escape(json.dumps(self.options, separators=(",", ":")))
        script = html.escape(f"{prefix}{self.js_url}")
        # The empty <script id="api-reference"> is configuration Scalar reads, not code: with
        # no text in it, the policy has nothing to refuse.
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n'
            f"<title>{title}</title>\n"
            '<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta property="csp-nonce" content="{html.escape(nonce)}">\n'
            "</head>\n<body>\n"
            "<noscript>The API reference needs JavaScript; the schema itself is at "
            f'<a href="{spec_url}">{spec_url}</a>.</noscript>\n'
            f'<script id="api-reference" data-url="{spec_url}" '
            f'data-configuration="{options}"></script>'
            f'<script src="{script}"></script>\n'
            "</body>\n</html>\n"
        ).encode()


def docs_router(path: str) -> Router:
    """The router under ``path`` that Litestar's OpenAPI handlers are added to, with the
    bundled assets and the security headers."""
    assets = create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC_DIR],
        name="docs-static",
        cache_control=CacheControlHeader(max_age=_YEAR, public=True, immutable=True),
        include_in_schema=False,
    )
    return Router(
        path,
        route_handlers=[assets],
        include_in_schema=False,
        middleware=[DefineMiddleware(DocsSecurityHeaders)],  # type: ignore[arg-type]
        opt=PUBLIC,  # the documents are public
    )
