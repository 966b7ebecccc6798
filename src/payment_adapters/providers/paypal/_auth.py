"""PayPal's OAuth2 client-credentials token, cached and refreshed ahead of its expiry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from payment_adapters.providers._common import Redactor
from payment_adapters.providers._http import JsonHttp
from payment_adapters.providers.paypal._transformers import unavailable
from payment_core.errors import ProviderRejectedError, ProviderUnavailableError

__all__ = ["AccessTokens"]

logger = logging.getLogger(__name__)


class AccessTokens:
    """One access token at a time for a client id, fetched once however many tasks ask.

    A token is handed out until ``refresh_margin`` seconds (at most half its life) before it
    expires by ``clock``; :attr:`redactor` knows the credentials and the current token, so that
    neither is quoted back in an error.
    """

    def __init__(
        self,
        http: JsonHttp,
        client_id: str,
        client_secret: str,
        *,
        refresh_margin: float,
        clock: Callable[[], float],
    ) -> None:
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock: asyncio.Lock | None = None
        self.redactor = Redactor([client_id, client_secret])

    def _fresh(self, stale: str | None) -> str | None:
        token = self._token
        if token is not None and token != stale and self._clock() < self._expires_at:
            return token
        return None

    async def get(self, *, stale: str | None = None) -> str:
        """A valid token; ``stale`` names one PayPal refused, which is never handed out again."""
        token = self._fresh(stale)
        if token is not None:
            return token
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            token = self._fresh(stale)
            if token is not None:
                return token  # refreshed by another task while this one waited
            reply = await self._http.request(
                "POST",
                "/v1/oauth2/token",
                headers={},
                form={"grant_type": "client_credentials"},
                auth=(self._client_id, self._client_secret),
            )
            if reply.status in (400, 401, 403):
                self._token = None
                raise ProviderRejectedError(
                    reason_code="authentication_failed",
                    message="PayPal refused the client credentials.",
                )
            if not reply.ok:
                raise unavailable(reply)
            body = reply.object()
            token = body.get("access_token")
            expires_in = body.get("expires_in")
            if not isinstance(token, str) or not token or type(expires_in) is not int:
                raise ProviderUnavailableError(message="paypal token reply is malformed")
            margin = min(self._refresh_margin, expires_in / 2)
            self._token = token
            self._expires_at = self._clock() + expires_in - margin
            self.redactor = Redactor([self._client_id, self._client_secret, token])
            logger.debug("paypal access token refreshed; valid for %ss", expires_in)
            return token
