"""Finding the Square payment behind one of our provider ids.

Our create answers a placeholder id (``sqpending_…``) that names our payment id and amount; a
confirm whose answer was lost, or a payment whose first attempt was declined for want of buyer
verification, is found again by listing Square's payments of that exact amount and matching
``reference_id``. Nothing is ever re-created to find it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final
from uuid import UUID

from payment_adapters.providers._common import parse_uuid
from payment_adapters.providers.square._transformers import (
    SQUARE_UNITS,
    parse_placeholder,
    square_money,
)
from payment_core.money import Money

__all__ = ["PaymentLookup"]

_LIST_PAGES: Final = 10
_MAX_RESOLVED: Final = 10_000

Payment = Mapping[str, Any]


class PaymentLookup:
    """Square payments by our provider ids, placeholders resolved once and remembered.

    ``get_payment`` reads one payment by Square's id; ``list_payments`` lists a page of them
    (``GET /v2/payments`` with these query parameters).
    """

    def __init__(
        self,
        get_payment: Callable[[str], Awaitable[Payment]],
        list_payments: Callable[[Mapping[str, str]], Awaitable[Payment]],
        *,
        location_id: str | None,
    ) -> None:
        self._get_payment = get_payment
        self._list_payments = list_payments
        self._location_id = location_id
        self._resolved: dict[str, str] = {}

    def remember(self, placeholder: str | None, payment: Payment) -> None:
        """Note the Square payment a placeholder now stands for."""
        if placeholder is None or parse_placeholder(placeholder) is None:
            return  # only a placeholder needs resolving
        # A failed attempt is not what the placeholder stands for: a later one may be.
        if isinstance(payment.get("id"), str) and payment.get("status") != "FAILED":
            if len(self._resolved) >= _MAX_RESOLVED:
                self._resolved.pop(next(iter(self._resolved)))
            self._resolved[placeholder] = str(payment["id"])

    async def find(self, provider_payment_id: str | None) -> Payment | None:
        """The Square payment behind one of our provider ids, or ``None`` if it has none."""
        if provider_payment_id is None:
            return None
        parsed = parse_placeholder(provider_payment_id)
        if parsed is None:
            payment = await self._get_payment(provider_payment_id)  # a real Square id
            ours = parse_uuid(payment.get("reference_id"))
            amount = square_money(payment.get("amount_money"))
            if payment.get("status") != "FAILED" or ours is None or amount is None:
                return payment
            # A declined attempt (the bank wanted the buyer verified): a later attempt, whose
            # answer may have been lost, is the one that counts.
            return await self._list_attempts(ours, amount) or payment
        known = self._resolved.get(provider_payment_id)
        if known is not None:
            return await self._get_payment(known)
        best = await self._list_attempts(*parsed)
        if best is not None:
            self.remember(provider_payment_id, best)
        return best

    async def _list_attempts(self, payment_id: UUID, amount: Money) -> Payment | None:
        """The Square payment made for ``payment_id`` that took the money, else any attempt."""
        cursor: str | None = None
        best: Payment | None = None
        for _ in range(_LIST_PAGES):
            params = {
                "total": str(SQUARE_UNITS.to_provider(amount)),
                "sort_order": "DESC",
                "limit": "100",
            }
            if self._location_id:
                params["location_id"] = self._location_id
            if cursor:
                params["cursor"] = cursor
            page = await self._list_payments(params)
            for payment in page.get("payments") or ():
                if not isinstance(payment, dict) or payment.get("reference_id") != str(payment_id):
                    continue
                if square_money(payment.get("amount_money")) != amount:
                    continue
                # Several attempts may exist (one declined for want of buyer verification,
                # then a verified one); one that took the money wins over one that did not.
                if best is None or (
                    best.get("status") == "FAILED" and payment.get("status") != "FAILED"
                ):
                    best = payment
            cursor = page.get("cursor") if isinstance(page.get("cursor"), str) else None
            if not cursor:
                break
        return best
