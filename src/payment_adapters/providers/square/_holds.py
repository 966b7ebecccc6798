"""Holds at Square (delayed capture): a payment created with ``autocomplete=false`` stays
``APPROVED`` (our ``requires_capture``) until it is completed or cancelled, or until Square
applies its ``delay_action`` (``CANCEL``, which we always ask for) at ``delayed_until``.

- Capture: ``POST /v2/payments/{id}/complete`` takes no amount and completes the whole
  ``amount_money``. A partial capture first lowers it (``PUT /v2/payments/{id}``, allowed when
  the payment's ``capabilities`` list ``EDIT_AMOUNT_DOWN``); without that capability it is
  ``NotSupportedByProviderError``.
- Increase: the same update up, allowed when the payment lists ``EDIT_AMOUNT_UP`` (Square may
  re-authorise and decline it: ``ProviderDeclinedError``); otherwise
  ``NotSupportedByProviderError``.
- Release: ``POST /v2/payments/{id}/cancel`` (``SquareProvider.cancel_payment``).

An update carries an idempotency key derived from the port's key and the payment's
``version_token`` (also sent, for Square's optimistic concurrency): a retry of the same update
is the same request, and an update of a payment changed meanwhile is a new one. ``complete``
sends the version the amount was checked at, so a payment changed since is never completed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from payment_adapters.providers._common import parse_rfc3339
from payment_adapters.providers.square._client import SquareClient
from payment_adapters.providers.square._transformers import (
    square_key,
    square_money,
    to_square_money,
)
from payment_core.errors import (
    NotSupportedByProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from payment_core.money import Money
from payment_core.ports import (
    CapturePaymentRequest,
    IncrementAuthorizationRequest,
    ProviderPayment,
    ProviderPaymentStatus,
)

__all__ = ["SquareHolds", "hold_view"]

_EDIT_DOWN: Final = "EDIT_AMOUNT_DOWN"
_EDIT_UP: Final = "EDIT_AMOUNT_UP"


def hold_view(payment: Mapping[str, Any], reply: ProviderPayment, *, held: bool) -> ProviderPayment:
    """``reply`` (a Square payment as the port's) with what a hold adds: a ``held`` payment
    still ``APPROVED`` waits for its capture until ``delayed_until``; a completed one took its
    ``amount_money``."""
    status = payment.get("status")
    if status == "COMPLETED":
        return attrs.evolve(reply, amount_capturable=0, amount_received=reply.amount.amount)
    if status == "APPROVED" and held:
        return attrs.evolve(
            reply,
            status=ProviderPaymentStatus.REQUIRES_CAPTURE,
            amount_capturable=reply.amount.amount,
            amount_received=0,
            authorization_expires_at=parse_rfc3339(payment.get("delayed_until")),
        )
    if status in ("CANCELED", "FAILED"):
        return attrs.evolve(reply, amount_capturable=0, amount_received=0)
    return reply


def _unexpected_state(payment: Mapping[str, Any]) -> ProviderRejectedError:
    return ProviderRejectedError(
        reason_code="payment_unexpected_state",
        message=f"The Square payment is {str(payment.get('status'))[:20]}.",
    )


class SquareHolds(SquareClient):
    """Captures and increases of Square holds (a part of ``SquareProvider``)."""

    async def capture_payment(self, request: CapturePaymentRequest) -> ProviderPayment:
        payment = await self._found_payment(request.provider_payment_id)
        status = payment.get("status")
        if status == "APPROVED":
            wanted = request.amount_to_capture
            approved = square_money(payment.get("approved_money"))
            if (
                approved is not None
                and approved.currency == wanted.currency
                and wanted.amount > approved.amount
            ):
                # Never more than held, whatever Square would re-authorise.
                raise ProviderRejectedError(
                    reason_code="amount_too_large",
                    message="The amount to capture is more than the amount held.",
                )
            payment = await self._set_amount(
                payment, wanted, request.idempotency_key, "capture_payment", "partial capture"
            )
            payment = await self._complete_hold(payment)
        elif status not in ("COMPLETED", "CANCELED"):
            raise _unexpected_state(payment)
        # COMPLETED: taken already (this capture's answer was lost): the reply says how much,
        # and the core settles only the amount it asked for. CANCELED: Square let the hold go
        # at its deadline before the capture came, which the core records as expired.
        return hold_view(payment, self._payment(payment), held=True)

    async def increment_authorization(
        self, request: IncrementAuthorizationRequest
    ) -> ProviderPayment:
        payment = await self._found_payment(request.provider_payment_id)
        if payment.get("status") != "APPROVED":
            raise _unexpected_state(payment)
        payment = await self._set_amount(
            payment,
            request.amount,
            request.idempotency_key,
            "increment_authorization",
            "increment_authorization",
        )
        return hold_view(payment, self._payment(payment), held=True)

    # ------------------------------------------------------------------ parts
    async def _found_payment(self, provider_payment_id: str | None) -> Mapping[str, Any]:
        """Square's payment for ours, as it stands now (read by the lookup)."""
        payment = await self._lookup.find(provider_payment_id)
        if payment is None or not isinstance(payment.get("id"), str):
            raise ProviderRejectedError(
                reason_code="unknown_provider_payment",
                message="Square has no payment for this one of ours",
            )
        return payment

    async def _set_amount(
        self,
        payment: Mapping[str, Any],
        wanted: Money,
        key: str,
        operation: str,
        refused_as: str,
    ) -> Mapping[str, Any]:
        """``payment`` with ``amount_money`` = ``wanted`` (``UpdatePayment``), if it is not so
        already; ``NotSupportedByProviderError`` (as ``refused_as``) where the payment's
        capabilities do not allow the change."""
        current = square_money(payment.get("amount_money"))
        if current == wanted:
            return payment
        if current is None or current.currency != wanted.currency:
            raise ProviderRejectedError(
                reason_code="currency_mismatch", message="The hold is in another currency."
            )
        approved = square_money(payment.get("approved_money")) or current
        needed = (
            _EDIT_DOWN
            if wanted.amount < current.amount
            else _EDIT_UP
            if wanted.amount > max(current.amount, approved.amount)
            else None  # back up to what was approved: no new authorisation
        )
        capabilities = payment.get("capabilities")
        allowed = capabilities if isinstance(capabilities, list) else ()
        if needed is not None and needed not in allowed:
            raise NotSupportedByProviderError.of(self.name, refused_as)
        version = payment.get("version_token")
        change: dict[str, Any] = {"amount_money": to_square_money(wanted)}
        if isinstance(version, str):
            change["version_token"] = version
        body = {
            "idempotency_key": square_key(f"{key}-{version if isinstance(version, str) else ''}"),
            "payment": change,
        }
        updated = await self._object(
            operation, "PUT", f"/v2/payments/{payment['id']}", "payment", json_body=body
        )
        if square_money(updated.get("amount_money")) != wanted:
            # Not the update asked for (an earlier answer under this key?): never completed
            # or reported as done; the core asks again later.
            raise ProviderUnavailableError(message="square did not set the amount asked for")
        return updated

    async def _complete_hold(self, payment: Mapping[str, Any]) -> Mapping[str, Any]:
        """Complete ``payment`` at the version its amount was checked at."""
        square_id = str(payment["id"])
        version = payment.get("version_token")
        body = {"version_token": version} if isinstance(version, str) else {}
        try:
            return await self._object(
                "capture_payment",
                "POST",
                f"/v2/payments/{square_id}/complete",
                "payment",
                json_body=body,
            )
        except ProviderRejectedError:
            # Completed already (a retry whose first answer was lost)? Its state says.
            current = await self._get_payment(square_id)
            if current.get("status") == "COMPLETED":
                return current
            raise
