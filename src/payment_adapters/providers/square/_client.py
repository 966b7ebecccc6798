"""The calls every part of the Square adapter makes: one JSON request with Square's headers,
retried while its outcome is unknown, and the replies as the port's."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from uuid import UUID

from payment_adapters.providers._common import Backoff, Redactor, call_with_retries
from payment_adapters.providers._http import HttpReply, JsonHttp
from payment_adapters.providers.square._lookup import PaymentLookup
from payment_adapters.providers.square._transformers import error_from, payment_reply
from payment_core.errors import ProviderUnavailableError
from payment_core.model.payment import NextAction
from payment_core.ports import ProviderPayment

__all__ = ["SquareClient"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class SquareClient:
    """Square's HTTP calls, shared by the adapter's parts (``SquareProvider`` sets the state)."""

    _name: str
    _access_token: str
    _version: str
    _location_id: str | None
    _verification_url: str | None
    _backoff: Backoff
    _redactor: Redactor
    _http: JsonHttp
    _lookup: PaymentLookup

    @property
    def name(self) -> str:
        return self._name

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: object | None = None,
        params: Mapping[str, str] | None = None,
    ) -> HttpReply:
        headers = {
            "Authorization": f"Bearer {self._access_token}",
            "Square-Version": self._version,
        }
        return await self._http.request(
            method, path, headers=headers, json_body=json_body, params=params
        )

    async def _call(self, operation: str, attempt: Callable[[], Awaitable[T]]) -> T:
        return await call_with_retries(
            attempt, backoff=self._backoff, provider=self._name, operation=operation, logger=logger
        )

    async def _object(
        self,
        operation: str,
        method: str,
        path: str,
        field: str,
        *,
        json_body: object = None,
    ) -> Mapping[str, Any]:
        """``body[field]`` of a successful call, retried while the outcome is unknown."""

        async def attempt() -> Mapping[str, Any]:
            reply = await self._send(method, path, json_body=json_body)
            if not reply.ok:
                raise error_from(reply, self._redactor)
            obj = reply.object().get(field)
            if not isinstance(obj, dict):
                raise ProviderUnavailableError(message=f"square reply has no {field}")
            return obj

        return await self._call(operation, attempt)

    async def _get_payment(self, square_id: str) -> Mapping[str, Any]:
        return await self._object("retrieve_payment", "GET", f"/v2/payments/{square_id}", "payment")

    async def _list_payments(self, params: Mapping[str, str]) -> Mapping[str, Any]:
        async def attempt() -> Mapping[str, Any]:
            reply = await self._send("GET", "/v2/payments", params=params)
            if not reply.ok:
                raise error_from(reply, self._redactor)
            return reply.object()

        return await self._call("retrieve_payment", attempt)

    def _payment(
        self, payment: Mapping[str, Any], *, fallback_id: str | None = None
    ) -> ProviderPayment:
        return payment_reply(payment, fallback_id=fallback_id, verify_buyer=self._verify_buyer)

    def _verify_buyer(self, payment_id: UUID | None) -> NextAction:
        if self._verification_url:
            return NextAction(
                type="redirect",
                url=self._verification_url.replace("{payment_id}", str(payment_id or "")),
            )
        return NextAction(type="verify_buyer", url="")
