"""Bearer API keys: ``Authorization: Bearer <key>`` against ``API_KEYS``.

The candidate is hashed and compared with the hash of *every* configured key by
:func:`hmac.compare_digest`, without stopping at a match, so neither the position of the
matching key nor the lengths of the keys show in the timing. Keys are never logged; a request is
known by a key *id* (a short hash), which also scopes its idempotency keys.

Public, exactly as the contract lists: the two ``/reference/{reference}`` reads, ``/health/*``,
``/metrics`` and ``/api/v1/webhooks/*`` (route handlers with ``opt={"public": True}``), and the
OpenAPI documents and UI under ``/schema``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Final

from payment_http._asgi import ASGIApp, Receive, Scope, Send
from payment_http.errors import HttpProblem

__all__ = ["OPEN_KEY_ID", "PUBLIC_KEY_ID", "AuthMiddleware", "is_public", "key_id"]

OPEN_KEY_ID: Final = "open"
PUBLIC_KEY_ID: Final = "public"
_SCHEMA_PREFIX: Final = "/schema"
_CHALLENGE: Final = 'Bearer realm="payment-service"'


def key_id(key: str) -> str:
    """A stable, non-secret name for a key (the first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def is_public(scope: Scope) -> bool:
    handler = scope.get("route_handler")
    if handler is not None and handler.opt.get("public", False) is True:
        return True
    path = str(scope.get("path_template") or scope.get("path", ""))
    return path == _SCHEMA_PREFIX or path.startswith(_SCHEMA_PREFIX + "/")


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            try:
                text = value.decode("latin-1")
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
                return None
            scheme, _, token = text.strip().partition(" ")
            if scheme.lower() != "bearer":
                return None
            token = token.strip()
            return token or None
    return None


class AuthMiddleware:
    """Refuses a non-public request without a valid key (401 ``unauthorized``)."""

    def __init__(self, app: ASGIApp, *, keys: Sequence[str]) -> None:
        self.app = app
        self._keys = tuple((hashlib.sha256(k.encode()).digest(), key_id(k)) for k in keys)

    def _match(self, token: str) -> str | None:
        candidate = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found: str | None = None
        for digest, ident in self._keys:
            # Every key is compared (no early exit), in constant time.
            if hmac.compare_digest(digest, candidate):
                found = ident
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if not self._keys:
            state["api_key_id"] = OPEN_KEY_ID
        elif is_public(scope):
            state["api_key_id"] = PUBLIC_KEY_ID
        else:
            token = _bearer(scope)
            ident = self._match(token) if token is not None else None
            if ident is None:
                raise HttpProblem(
                    401,
                    "unauthorized",
                    "a valid API key is required: Authorization: Bearer <key>"
                    if token is None
                    else "the API key is not valid",
                    headers={"WWW-Authenticate": _CHALLENGE},
                )
            state["api_key_id"] = ident
        await self.app(scope, receive, send)
