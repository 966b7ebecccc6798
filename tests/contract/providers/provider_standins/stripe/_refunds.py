"""Refunds: of what was captured (a hold captured in part refunds at most that part), never of
a charge its cardholder's bank has charged back (Stripe: ``charge_disputed``)."""

from __future__ import annotations

from typing import Any

from .._server import Response
from ._objects import Dispute, Intent, Refund
from ._wire import bad_amount, invalid, missing, new_id


class RefundsMixin:
    intents: dict[str, Intent]
    refunds: dict[str, Refund]
    disputes: dict[str, Dispute]

    def refund_json(self, refund: Refund) -> dict[str, Any]:
        return {
            "id": refund.id,
            "object": "refund",
            "amount": refund.amount,
            "currency": refund.currency,
            "payment_intent": refund.payment_intent,
            "status": refund.status,
            "metadata": dict(refund.metadata),
            "reason": refund.reason,
            "failure_reason": refund.failure_reason,
            "created": refund.created,
        }

    def refunded(self, intent_id: str) -> int:
        return sum(
            r.amount
            for r in self.refunds.values()
            if r.payment_intent == intent_id and r.status in ("succeeded", "pending")
        )

    def create_refund(self, params: dict[str, Any]) -> Response:
        intent = self.intents.get(params.get("payment_intent") or "")
        if intent is None:
            return missing("payment_intent", str(params.get("payment_intent")))
        if intent.status != "succeeded":
            return invalid(
                "This PaymentIntent has no successful charge.", code="charge_not_refundable"
            )
        if any(
            d.intent == intent.id and d.status in ("needs_response", "under_review", "lost")
            for d in self.disputes.values()
        ):
            return invalid(
                f"Charge {intent.latest_charge} has been charged back; cannot issue a refund.",
                code="charge_disputed",
            )
        remaining = intent.amount_received - self.refunded(intent.id)
        amount = int(params.get("amount") or remaining)
        bad = bad_amount(amount, intent.currency)
        if bad is not None:
            return bad
        if amount <= 0 or amount > remaining:
            return invalid(
                "Refund amount is greater than the unrefunded amount on the charge.",
                code="amount_too_large",
                param="amount",
            )
        token = self.token_of(intent.payment_method)  # type: ignore[attr-defined]
        failed = token is not None and token.refunds_fail
        refund = Refund(
            id=new_id("re"),
            payment_intent=intent.id,
            amount=amount,
            currency=intent.currency,
            status="failed" if failed else "succeeded",
            metadata=dict(params.get("metadata") or {}),
            reason=params.get("reason"),
            failure_reason="declined" if failed else None,
        )
        self.refunds[refund.id] = refund
        return Response(200, self.refund_json(refund))

    def list_refunds(self, params: dict[str, Any]) -> Response:
        items = [
            r
            for r in reversed(self.refunds.values())
            if params.get("payment_intent") in (None, r.payment_intent)
        ]
        after = params.get("starting_after")
        if after:
            ids = [r.id for r in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        limit = int(params.get("limit") or 10)
        return Response(
            200,
            {
                "object": "list",
                "url": "/v1/refunds",
                "data": [self.refund_json(r) for r in items[:limit]],
                "has_more": len(items) > limit,
            },
        )

    def get_refund(self, refund_id: str) -> Response:
        refund = self.refunds.get(refund_id)
        if refund is None:
            return missing("refund", refund_id)
        return Response(200, self.refund_json(refund))

    def fail_refund(self, refund_id: str) -> dict[str, Any]:
        """The bank bounced a refund after it succeeded. Its JSON, for a webhook."""
        with self.lock:  # type: ignore[attr-defined]
            refund = self.refunds[refund_id]
            refund.status = "failed"
            refund.failure_reason = "expired_or_canceled_card"
            return self.refund_json(refund)
