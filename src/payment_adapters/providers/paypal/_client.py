"""What every PayPal operation shares: authenticated calls with ``PayPal-Request-Id``, bounded
retries of an unknown outcome, error replies as the port's errors, and reading an order."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from payment_adapters.providers._common import Backoff, call_with_retries
from payment_adapters.providers._http import HttpReply, JsonHttp
from payment_adapters.providers.paypal._auth import AccessTokens
from payment_adapters.providers.paypal._transformers import error_from, issue_of, order_of
from payment_core.errors import ProviderRejectedError

__all__ = ["PayPalClient", "no_order"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def no_order() -> ProviderRejectedError:
    return ProviderRejectedError(
        reason_code="unknown_provider_payment", message="this payment has no PayPal order"
    )


class PayPalClient:
    """The calls under the PayPal adapter's operations (a base of ``PayPalProvider``)."""

    _name: str
    _http: JsonHttp
    _tokens: AccessTokens
    _backoff: Backoff

    async def _api(
        self,
        method: str,
        path: str,
        *,
        json_body: object | None = None,
        request_id: str | None = None,
    ) -> HttpReply:
        token = await self._tokens.get()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {token}", "Prefer": "return=representation"}
            if request_id is not None:
                headers["PayPal-Request-Id"] = request_id
            reply = await self._http.request(method, path, headers=headers, json_body=json_body)
            if reply.status != 401 or attempt == 2:
                return reply
            # Revoked or expired early: one fresh token, then the same request again.
            token = await self._tokens.get(stale=token)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _call(self, operation: str, attempt: Callable[[], Awaitable[T]]) -> T:
        return await call_with_retries(
            attempt, backoff=self._backoff, provider=self._name, operation=operation, logger=logger
        )

    def _error(self, reply: HttpReply) -> Exception:
        return error_from(reply, self._tokens.redactor)

    def _issue(self, reply: HttpReply) -> tuple[str, str]:
        return issue_of(reply, self._tokens.redactor)

    async def _get_order(self, order_id: str, operation: str) -> Mapping[str, Any]:
        async def attempt() -> Mapping[str, Any]:
            reply = await self._api("GET", f"/v2/checkout/orders/{order_id}")
            if not reply.ok:
                raise self._error(reply)
            return order_of(reply)

        return await self._call(operation, attempt)
