"""Bearer API keys: ``Authorization: Bearer <key>`` against ``API_KEYS``.

Litestar's :class:`~litestar.middleware.authentication.AbstractAuthenticationMiddleware`, with
the public operations opted out by ``opt={"exclude_from_auth": True}`` (:data:`PUBLIC`): the two
``/reference/{reference}`` reads, ``/health/*``, ``/metrics``, ``/api/v1/webhooks/*`` and the
OpenAPI documents and UI under ``/schema``, exactly as the contract lists. Every method is
checked, ``OPTIONS`` included.

The candidate is hashed and compared with the hash of *every* configured key by
:func:`hmac.compare_digest`, without stopping at a match, so neither the position of the
matching key nor the lengths of the keys show in the timing. Keys are never logged; a request is
known by a key *id* (a short hash), its ``request.auth``, which also scopes its idempotency keys.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any, Final

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.middleware.authentication import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
)
from litestar.types import ASGIApp

from payment_http.errors import HttpProblem

__all__ = [
    "OPEN_KEY_ID",
    "PUBLIC",
    "PUBLIC_KEY_ID",
    "ApiKeyAuthentication",
    "api_key_id",
    "key_id",
]

OPEN_KEY_ID: Final = "open"
PUBLIC_KEY_ID: Final = "public"
#: The ``opt`` of a public route handler (or router): no key is asked for.
PUBLIC: Final[Mapping[str, Any]] = {"exclude_from_auth": True}
_CHALLENGE: Final = 'Bearer realm="payment-service"'


def key_id(key: str) -> str:
    """A stable, non-secret name for a key (the first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def api_key_id(scope: Mapping[str, Any]) -> str:
    """Who sent the request: its key's id, ``open`` without ``API_KEYS``, ``public`` on a public
    route (which is not authenticated)."""
    auth = scope.get("auth")
    return auth if isinstance(auth, str) else PUBLIC_KEY_ID


def _bearer(scope: Mapping[str, Any]) -> str | None:
    # The first Authorization header, read from the scope as it is (no header map is built).
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() != "bearer":
                return None
            return token.strip() or None
    return None


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    """Refuses a non-public request without a valid key (401 ``unauthorized``)."""

    def __init__(self, app: ASGIApp, *, keys: Sequence[str]) -> None:
        # Every method is authenticated (Litestar would let OPTIONS through by default).
        super().__init__(app, exclude_http_methods=(), scopes={ScopeType.HTTP})
        self._keys = tuple((hashlib.sha256(k.encode()).digest(), key_id(k)) for k in keys)

    def _match(self, token: str) -> str | None:
        candidate = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found: str | None = None
        for digest, ident in self._keys:
            # Every key is compared (no early exit), in constant time.
            if hmac.compare_digest(digest, candidate):
                found = ident
        return found

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        if not self._keys:
            return AuthenticationResult(user=None, auth=OPEN_KEY_ID)
        token = _bearer(connection.scope)
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
        return AuthenticationResult(user=None, auth=ident)
