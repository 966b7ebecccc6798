"""PaymentIntents: create (and confirm in one go), confirm, holds (``capture_method=manual``)
with capture, cancel and incremental authorization, expiry by the stand-in's clock, and
off-session charges of saved payment methods.

What Stripe does and the stand-in enforces (docs.stripe.com/api/payment_intents, the SDK's
``PaymentIntent`` docstrings):

- a confirmed manual intent stops at ``requires_capture`` with ``amount_capturable``; its charge
  says until when in ``payment_method_details.card.capture_before`` (7 days for online cards);
  uncaptured past it, the intent is ``canceled`` with ``cancellation_reason=automatic``;
- capture: ``requires_capture`` only, ``amount_to_capture`` at most ``amount_capturable``; the
  rest is released (``final_capture=false`` needs multicapture, which the stand-in has not);
- increment: ``requires_capture`` only, and only when the intent asked for it at creation
  (``request_incremental_authorization=if_available``); a larger total; at most 10 attempts; a
  decline is 402 ``card_declined`` and changes nothing;
- ``off_session=true`` only with ``confirm=true``; a card the issuer wants authenticated is 402
  ``authentication_required`` with the intent in ``error.payment_intent``.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from .._server import Response
from .._tokens import TOKENS, Token
from ._objects import Intent, Method
from ._wire import bad_amount, error, integer, invalid, missing, new_id, unexpected_state

_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "authentication_required": "Your card was declined. This transaction requires authentication.",
}
#: Card brands Stripe can increment an authorization on (docs: incremental-authorization).
_INCREMENTABLE = frozenset({"visa", "mastercard", "amex", "discover", "unionpay"})
MAX_INCREMENTS = 10


class IntentsMixin:
    intents: dict[str, Intent]
    methods: dict[str, Method]
    hold_ttl: timedelta
    increment_declines: set[str]

    # ------------------------------------------------------------------ helpers
    def token_of(self, method: str | None) -> Token | None:
        if method in self.methods:
            return TOKENS.get(self.methods[method].token)
        return TOKENS.get(method or "")

    def card_json(self, token: Token) -> dict[str, Any]:
        card = token.card
        return {
            "brand": card.brand,
            "last4": card.last4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
        }

    def intent_json(
        self, intent: Intent, expand: list[str] | tuple[str, ...] = ()
    ) -> dict[str, Any]:
        self.expire(intent)
        token = self.token_of(intent.payment_method)
        bump = 1 if token is not None and token.outcome == "mismatch" else 0
        method: Any = intent.payment_method
        if "payment_method" in expand and intent.payment_method and token is not None:
            method = self.method_json(intent.payment_method)  # type: ignore[attr-defined]
        charge: Any = intent.latest_charge
        if "latest_charge" in expand and intent.latest_charge and token is not None:
            charge = self.charge_json(intent, token)
        return {
            "id": intent.id,
            "object": "payment_intent",
            "amount": intent.amount + bump,
            "amount_capturable": intent.amount_capturable,
            "amount_received": intent.amount_received + (bump if intent.amount_received else 0),
            "currency": intent.currency,
            "status": intent.status,
            "metadata": dict(intent.metadata),
            "description": intent.description,
            "client_secret": intent.client_secret,
            "customer": intent.customer,
            "payment_method": method,
            "latest_charge": charge,
            "next_action": intent.next_action,
            "last_payment_error": intent.last_payment_error,
            "capture_method": intent.capture_method,
            "confirmation_method": "automatic",
            "setup_future_usage": intent.setup_future_usage,
            "payment_method_options": {
                "card": {
                    "request_incremental_authorization": "if_available"
                    if intent.incremental
                    else None
                }
            },
            "payment_method_types": ["card"],
            "canceled_at": intent.canceled_at,
            "cancellation_reason": intent.cancellation_reason,
            "created": intent.created,
            "livemode": False,
        }

    def charge_json(self, intent: Intent, token: Token) -> dict[str, Any]:
        card = self.card_json(token)
        manual = intent.capture_method == "manual"
        if manual:
            card["capture_before"] = intent.capture_before
            card["incremental_authorization"] = {
                "status": "available" if self._incrementable(intent, token) else "unavailable"
            }
            card["extended_authorization"] = {"status": "disabled"}
        captured = intent.status == "succeeded"
        disputes = [d for d in self.disputes.values() if d.intent == intent.id]  # type: ignore[attr-defined]
        return {
            "id": intent.latest_charge,
            "object": "charge",
            "amount": intent.amount + (1 if token.outcome == "mismatch" else 0),
            "amount_captured": intent.amount_received,
            "amount_refunded": self.refunded(intent.id),  # type: ignore[attr-defined]
            "captured": captured,
            "currency": intent.currency,
            "customer": intent.customer,
            "disputed": bool(disputes),
            "payment_intent": intent.id,
            "status": "succeeded",
            "payment_method_details": {"type": "card", "card": card},
        }

    def _incrementable(self, intent: Intent, token: Token) -> bool:
        return intent.incremental and token.card.brand in _INCREMENTABLE

    def _card_error(self, intent: Intent, code: str, decline: str) -> Response:
        message = _MESSAGES.get(decline, "Your card was declined.")
        intent.status = "requires_payment_method"
        intent.next_action = None
        intent.last_payment_error = {
            "type": "card_error",
            "code": code,
            "decline_code": decline,
            "message": message,
        }
        return error(
            402,
            "card_error",
            message,
            code=code,
            decline_code=decline,
            param="",
            payment_intent=self.intent_json(intent),
        )

    # ------------------------------------------------------------------ create / confirm
    def create_intent(self, params: dict[str, Any], expand: tuple[str, ...]) -> Response:
        amount = integer(params, "amount")
        currency = params.get("currency")
        if amount is None or not isinstance(currency, str):
            name = "amount" if amount is None else "currency"
            return invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)
        if currency != currency.lower():
            return invalid("Invalid currency.", param="currency")
        bad = bad_amount(amount, currency)
        if bad is not None:
            return bad
        confirm = params.get("confirm") == "true"
        if params.get("off_session") not in (None, "false") and not confirm:
            return invalid(
                "off_session can only be used when confirm is true.", param="off_session"
            )
        customer = params.get("customer")
        if customer is not None and customer not in self.customers:  # type: ignore[attr-defined]
            return missing("customer", customer, param="customer")
        intent_id = new_id("pi")
        card_options = (params.get("payment_method_options") or {}).get("card") or {}
        intent = Intent(
            id=intent_id,
            amount=amount,
            currency=currency,
            metadata=dict(params.get("metadata") or {}),
            description=params.get("description"),
            client_secret=f"{intent_id}_secret_{secrets.token_hex(8)}",
            capture_method=params.get("capture_method") or "automatic",
            customer=customer,
            setup_future_usage=params.get("setup_future_usage"),
            incremental=card_options.get("request_incremental_authorization") == "if_available",
        )
        if params.get("payment_method"):
            intent.payment_method = params["payment_method"]
            intent.status = "requires_confirmation"
        self.intents[intent_id] = intent
        if confirm:
            return self.confirm(intent, params, expand)
        return Response(200, self.intent_json(intent, expand))

    def confirm(self, intent: Intent, params: dict[str, Any], expand: tuple[str, ...]) -> Response:
        self.expire(intent)
        method = params.get("payment_method") or intent.payment_method
        if intent.status in ("succeeded", "canceled", "processing", "requires_capture"):
            return unexpected_state(
                f"This PaymentIntent's status is {intent.status}; it cannot be confirmed.",
                payment_intent=self.intent_json(intent),
            )
        token = self.token_of(method)
        if token is None or method is None:
            return missing("PaymentMethod", str(method), param="payment_method")
        refused = self._refuse_method(intent, method)
        if refused is not None:
            return refused
        intent.payment_method = method
        if params.get("setup_future_usage"):
            intent.setup_future_usage = params["setup_future_usage"]
        intent.off_session = params.get("off_session") not in (None, "false")
        if intent.off_session and token.off_session_outcome() != "ok":
            if token.off_session_outcome() == "authentication_required":
                return self._card_error(
                    intent, "authentication_required", "authentication_required"
                )
            return self._card_error(intent, "card_declined", "generic_decline")
        if token.outcome == "declined":
            decline = (
                "generic_decline" if token.decline_code == "card_declined" else token.decline_code
            )
            return self._card_error(intent, "card_declined", decline or "generic_decline")
        if token.outcome == "requires_action":
            intent.status = "requires_action"
            return_url = params.get("return_url")
            intent.next_action = (
                {
                    "type": "redirect_to_url",
                    "redirect_to_url": {
                        "url": f"{self.base_url}/3ds/{intent.id}",  # type: ignore[attr-defined]
                        "return_url": return_url,
                    },
                }
                if return_url
                else {
                    "type": "use_stripe_sdk",
                    "use_stripe_sdk": {"type": "three_d_secure_redirect"},
                }
            )
            return Response(200, self.intent_json(intent, expand))
        self.authorize(intent)
        response = Response(200, self.intent_json(intent, expand))
        if token.outcome == "timeout":
            response.hang = True  # done, but every answer to this confirm is lost
        return response

    def _refuse_method(self, intent: Intent, method: str) -> Response | None:
        saved = self.methods.get(method)
        if saved is None:
            return None
        if saved.detached or (saved.used and not saved.reusable):
            return invalid(
                "This PaymentMethod was previously used without being attached to a Customer "
                "or was detached from a Customer, and may not be used again.",
                code="payment_method_unexpected_state",
                param="payment_method",
            )
        if saved.customer is not None and saved.customer != intent.customer:
            return invalid(
                f"The provided PaymentMethod is attached to Customer {saved.customer}; "
                "pass that customer to use it.",
                param="payment_method",
            )
        return None

    def authorize(self, intent: Intent) -> None:
        """The card was accepted: a hold for a manual intent, else the money is taken."""
        intent.next_action = None
        intent.last_payment_error = None
        intent.latest_charge = intent.latest_charge or new_id("ch")
        self._save_method(intent)
        if intent.capture_method == "manual":
            intent.status = "requires_capture"
            intent.amount_capturable = intent.amount
            now = self.clock.now()  # type: ignore[attr-defined]
            intent.capture_before = int((now + self.hold_ttl).timestamp())
            return
        self.take(intent, intent.amount)

    def take(self, intent: Intent, amount: int) -> None:
        intent.status = "succeeded"
        intent.amount_capturable = 0
        intent.amount_received = amount
        intent.charges += 1
        token = self.token_of(intent.payment_method)
        if token is not None and token.disputed:
            self.open_dispute(intent.id)  # type: ignore[attr-defined]

    def _save_method(self, intent: Intent) -> None:
        method = intent.payment_method or ""
        saved = self.methods.get(method)
        if saved is not None:
            saved.used = True
            return
        if intent.setup_future_usage is None:
            return
        made = Method(id=new_id("pm"), token=method, customer=intent.customer, reusable=True)
        self.methods[made.id] = made
        intent.payment_method = made.id

    def charge(self, intent: Intent) -> None:
        """The intent succeeds at once (kept for kits that drive the stand-in directly)."""
        intent.latest_charge = intent.latest_charge or new_id("ch")
        intent.next_action = None
        self.take(intent, intent.amount)

    def complete_action(self, intent_id: str) -> dict[str, Any]:
        """The customer passed 3-D Secure: the intent is authorized. Its JSON, for a webhook."""
        with self.lock:  # type: ignore[attr-defined]
            intent = self.intents[intent_id]
            self.authorize(intent)
            return self.intent_json(intent)

    # ------------------------------------------------------------------ holds
    def expire(self, intent: Intent) -> None:
        """A hold past its ``capture_before`` is canceled, as Stripe does (and says so)."""
        now = self.clock.timestamp()  # type: ignore[attr-defined]
        if intent.status != "requires_capture" or intent.capture_before is None:
            return
        if now < intent.capture_before:
            return
        intent.status = "canceled"
        intent.amount_capturable = 0
        intent.canceled_at = intent.capture_before
        intent.cancellation_reason = "automatic"
        self.emit_event("payment_intent.canceled", self.intent_json(intent))  # type: ignore[attr-defined]

    def capture(self, intent: Intent, params: dict[str, Any], expand: tuple[str, ...]) -> Response:
        self.expire(intent)
        if intent.status != "requires_capture":
            return unexpected_state(
                "This PaymentIntent could not be captured because it has a status of "
                f"{intent.status}. Only a PaymentIntent with one of the following statuses may "
                "be captured: requires_capture.",
                payment_intent=self.intent_json(intent),
            )
        wanted = integer(params, "amount_to_capture")
        amount = intent.amount_capturable if wanted is None else wanted
        if amount > intent.amount_capturable:
            return invalid(
                f"The amount to capture ({amount}) must be less than or equal to the "
                f"PaymentIntent's amount_capturable ({intent.amount_capturable}).",
                code="amount_too_large",
                param="amount_to_capture",
            )
        if amount <= 0:
            return invalid(
                "Amount must be at least 1.", code="amount_too_small", param="amount_to_capture"
            )
        bad = bad_amount(amount, intent.currency, "amount_to_capture")
        if bad is not None:
            return bad
        if params.get("final_capture") == "false":
            return invalid(
                "final_capture=false is only available for PaymentIntents with multicapture.",
                param="final_capture",
            )
        self.take(intent, amount)
        return Response(200, self.intent_json(intent, expand))

    def cancel(self, intent: Intent, params: dict[str, Any], expand: tuple[str, ...]) -> Response:
        self.expire(intent)
        if intent.status in ("succeeded", "canceled"):
            return unexpected_state(
                f"You cannot cancel this PaymentIntent because it has a status of {intent.status}.",
                payment_intent=self.intent_json(intent),
            )
        intent.status = "canceled"
        intent.amount_capturable = 0
        intent.canceled_at = self.clock.timestamp()  # type: ignore[attr-defined]
        intent.cancellation_reason = params.get("cancellation_reason")
        return Response(200, self.intent_json(intent, expand))

    def increment(
        self, intent: Intent, params: dict[str, Any], expand: tuple[str, ...]
    ) -> Response:
        self.expire(intent)
        amount = integer(params, "amount")
        if amount is None:
            return invalid(
                "Missing required param: amount.", code="parameter_missing", param="amount"
            )
        if intent.status != "requires_capture":
            return unexpected_state(
                "Incremental authorization requires a PaymentIntent with status "
                f"requires_capture; this one's status is {intent.status}.",
                payment_intent=self.intent_json(intent),
            )
        token = self.token_of(intent.payment_method)
        if token is None or not self._incrementable(intent, token):
            return invalid(
                "This PaymentIntent is not eligible for incremental authorization: it must be "
                "created with payment_method_options[card][request_incremental_authorization]"
                "=if_available and its charge must show incremental_authorization.status="
                "available.",
                code="payment_intent_invalid_parameter",
                param="amount",
            )
        if amount <= intent.amount:
            return invalid(
                f"The amount ({amount}) must be greater than the currently authorized amount "
                f"({intent.amount}).",
                param="amount",
            )
        bad = bad_amount(amount, intent.currency)
        if bad is not None:
            return bad
        if intent.increments >= MAX_INCREMENTS:
            return unexpected_state(
                "This PaymentIntent has reached the maximum of 10 incremental authorization "
                "attempts."
            )
        intent.increments += 1
        if intent.id in self.increment_declines or "*" in self.increment_declines:
            return error(
                402,
                "card_error",
                "Your card was declined.",
                code="card_declined",
                decline_code="generic_decline",
                param="amount",
            )
        intent.amount = amount
        intent.amount_capturable = amount
        return Response(200, self.intent_json(intent, expand))

    def sweep_holds(self) -> None:
        for intent in list(self.intents.values()):
            self.expire(intent)
