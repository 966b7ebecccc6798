"""Orders v2: create (``intent`` ``CAPTURE`` or ``AUTHORIZE``; with a card payment source it is a
single-step order, processed at once), capture and authorize an order, and the vault
instruction that saves the card on success.

The stand-in's card sources: ``payment_source.card.vault_id`` names either a test token (the
card the buyer entered, as the adapter's confirm sends it) or a payment token the stand-in
saved (``attributes.vault.store_in_vault=ON_SUCCESS``; its id comes back in
``payment_source.card.attributes.vault.id``). A merchant-initiated charge of a saved card carries
``stored_credential`` with ``payment_initiator=MERCHANT``; the test tokens' off-session
behaviour applies to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from payment_core.money import Money

from .._server import Response
from .._tokens import TOKENS, Token
from ._wire import malformed, new_id, not_found, unprocessable, value, vault_id

STAMP = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class Order:
    id: str
    amount: int
    currency: str
    custom_id: str | None
    reference_id: str | None
    intent: str = "CAPTURE"
    status: str = "CREATED"
    captures: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[dict[str, Any]] = field(default_factory=list)
    payment_source: dict[str, Any] | None = None
    charges: int = 0
    method: str | None = None
    #: ``payment_source.card`` as the create request gave it (vault instruction, saved card).
    source: dict[str, Any] = field(default_factory=dict)
    invoice_id: str | None = None


@dataclass
class Saved:
    """A payment token in the stand-in's vault."""

    id: str
    token: str
    customer: str
    deleted: bool = False


class OrdersMixin:
    orders: dict[str, Order]
    vault: dict[str, Saved]
    captures: dict[str, str]
    authorization_ttl: timedelta

    def stamp(self) -> str:
        return self.clock.now().strftime(STAMP)  # type: ignore[attr-defined]

    def order_json(self, order: Order) -> dict[str, Any]:
        unit: dict[str, Any] = {
            "reference_id": order.reference_id or "default",
            "amount": value(order.amount, order.currency),
        }
        if order.custom_id:
            unit["custom_id"] = order.custom_id
        payments: dict[str, Any] = {}
        if order.captures or order.refunds:
            payments.update(captures=list(order.captures), refunds=list(order.refunds))
        if order.authorizations:
            payments["authorizations"] = list(order.authorizations)
        if payments:
            unit["payments"] = payments
        base = self.base_url  # type: ignore[attr-defined]
        links = [
            {"href": f"{base}/v2/checkout/orders/{order.id}", "rel": "self", "method": "GET"},
            {"href": f"{base}/checkoutnow?token={order.id}", "rel": "approve", "method": "GET"},
        ]
        if order.status == "PAYER_ACTION_REQUIRED":
            links.append(
                {
                    "href": f"{base}/webapps/helios?action=verify&token={order.id}",
                    "rel": "payer-action",
                    "method": "GET",
                }
            )
        body: dict[str, Any] = {
            "id": order.id,
            "intent": order.intent,
            "status": order.status,
            "purchase_units": [unit],
            "links": links,
            "create_time": "2026-01-01T12:00:00Z",
        }
        if order.payment_source:
            body["payment_source"] = order.payment_source
        return body

    # ------------------------------------------------------------------ create
    def create_order(self, body: dict[str, Any], key: str | None) -> Response:
        units = body.get("purchase_units")
        if "intent" not in body or not isinstance(units, list) or not units:
            return malformed("Request is not well-formed.", "MISSING_REQUIRED_PARAMETER")
        if body["intent"] not in ("CAPTURE", "AUTHORIZE"):
            return malformed("intent must be CAPTURE or AUTHORIZE.", "INVALID_PARAMETER_VALUE")
        source = body.get("payment_source")
        if source is not None and key is None:
            return malformed(
                "PayPal-Request-Id is required for an order created with a payment source.",
                "PAYPAL_REQUEST_ID_REQUIRED",
            )
        amount = units[0].get("amount") or {}
        try:
            money = Money.parse(amount["value"], amount["currency_code"])
        except (KeyError, TypeError, ValueError):
            return unprocessable("DECIMAL_PRECISION", "Invalid amount.")
        order = Order(
            id=new_id(),
            amount=money.amount,
            currency=money.currency.code,
            custom_id=units[0].get("custom_id"),
            reference_id=units[0].get("reference_id"),
            intent=body["intent"],
            invoice_id=units[0].get("invoice_id"),
        )
        card = (source or {}).get("card") if isinstance(source, dict) else None
        order.source = dict(card) if isinstance(card, dict) else {}
        self.orders[order.id] = order
        if order.source.get("vault_id"):  # single step: PayPal processes the order now
            action = "authorize" if order.intent == "AUTHORIZE" else "capture"
            return self.pay(order, {}, action)
        return Response(201, self.order_json(order))

    def get_order(self, order_id: str) -> Response:
        order = self.orders.get(order_id)
        if order is None:
            return not_found()
        return Response(200, self.order_json(order))

    # ------------------------------------------------------------------ capture / authorize
    def order_action(self, order: Order, body: dict[str, Any], action: str) -> Response:
        wanted = "AUTHORIZE" if action == "authorize" else "CAPTURE"
        if order.intent != wanted:
            return unprocessable(
                "ACTION_DOES_NOT_MATCH_INTENT",
                f"The order's intent is {order.intent}; it cannot be {action}d.",
            )
        if order.captures:
            return unprocessable("ORDER_ALREADY_CAPTURED", "Order already captured.")
        if order.authorizations:
            return unprocessable("ORDER_ALREADY_AUTHORIZED", "Order already authorized.")
        card = (body.get("payment_source") or {}).get("card") or {}
        return self.pay(order, card, action)

    def _resolve(self, order: Order, card: dict[str, Any]) -> tuple[str, Token, bool] | Response:
        """The test token behind the source, and whether it is a saved card (or a refusal).

        Without a source the buyer approved the order at PayPal: the card that went through
        the payer action, else PayPal's own wallet (``paypal``, paid as ``pm_card_visa``).
        """
        source = {**order.source, **card}
        vaulted = source.get("vault_id")
        if vaulted is None:
            if order.status != "APPROVED":
                return unprocessable("ORDER_NOT_APPROVED", "The buyer has not approved the order.")
            name = order.method or "paypal"
            return name, TOKENS.get(name, TOKENS["pm_card_visa"]), False
        saved = self.vault.get(vaulted)
        if saved is not None and not saved.deleted:
            if (source.get("attributes") or {}).get("vault"):
                return unprocessable(
                    "VAULT_INSTRUCTION_DUPLICATED", "The payment source is already saved."
                )
            return saved.token, TOKENS[saved.token], True
        token = TOKENS.get(vaulted)
        if token is None:
            return unprocessable("INVALID_PAYMENT_SOURCE", f"The vault id {vaulted} is invalid.")
        return vaulted, token, False

    def pay(self, order: Order, card: dict[str, Any], action: str) -> Response:
        resolved = self._resolve(order, card)
        if isinstance(resolved, Response):
            return resolved
        name, token, saved = resolved
        source = {**order.source, **card}
        merchant = (source.get("stored_credential") or {}).get("payment_initiator") == "MERCHANT"
        details: dict[str, Any] = {
            "brand": token.card.brand.upper(),
            "last_digits": token.card.last4,
            "expiry": f"{token.card.exp_year}-{token.card.exp_month:02d}",
        }
        outcome = token.off_session_outcome() if merchant else "ok"
        if outcome == "declined" or (
            token.outcome == "declined" and token.decline_code == "card_declined"
        ):
            return unprocessable("INSTRUMENT_DECLINED", "The instrument presented was declined.")
        if token.outcome == "requires_action" and not merchant and order.status != "APPROVED":
            order.status = "PAYER_ACTION_REQUIRED"
            order.method = name
            order.payment_source = {"card": details}
            return unprocessable("PAYER_ACTION_REQUIRED", "Payer action is required.")
        declined = outcome == "authentication_required" or token.outcome == "declined"
        if action == "capture":
            made = self._capture(order, token, declined)
        else:
            made = self.authorization(order, token, declined, wallet=name == "paypal")  # type: ignore[attr-defined]
        if declined:
            # 5650: the issuer wants the cardholder authenticated; 5120: insufficient funds.
            code = "5650" if outcome == "authentication_required" else "5120"
            made["processor_response"] = {"avs_code": "G", "cvv_code": "P", "response_code": code}
        order.method = name
        order.status = "COMPLETED"
        order.payment_source = {"card": details}
        attributes = source.get("attributes") or {}
        wants_vault = (attributes.get("vault") or {}).get("store_in_vault") == "ON_SUCCESS"
        if not declined and not saved and wants_vault:
            customer = (attributes.get("customer") or {}).get("id") or new_id()
            stored = Saved(vault_id(), name, customer)
            self.vault[stored.id] = stored
            details["attributes"] = {"vault": self.vault_json(stored)}  # type: ignore[attr-defined]
        response = Response(201, self.order_json(order))
        if token.outcome == "timeout":
            response.hang = True
        return response

    def _capture(self, order: Order, token: Token, declined: bool) -> dict[str, Any]:
        capture: dict[str, Any] = {
            "id": new_id(),
            "status": "DECLINED" if declined else "COMPLETED",
            "amount": value(
                order.amount + (1 if token.outcome == "mismatch" else 0), order.currency
            ),
            "final_capture": True,
            "create_time": "2026-01-01T12:00:00Z",
            "supplementary_data": {"related_ids": {"order_id": order.id}},
        }
        if order.custom_id:
            capture["custom_id"] = order.custom_id
        order.captures.append(capture)
        self.captures[capture["id"]] = order.id
        if not declined:
            order.charges += 1
            if token.disputed:
                self.open_dispute(capture["id"])  # type: ignore[attr-defined]
        return capture

    def approve(self, order_id: str, *, capture: bool = True) -> dict[str, Any]:
        """The buyer passed the payer action; with ``capture``, the merchant's capture (or
        authorization, for an ``AUTHORIZE`` order) ran too."""
        with self.lock:  # type: ignore[attr-defined]
            order = self.orders[order_id]
            order.status = "APPROVED"
            if capture:
                self.pay(order, {}, "authorize" if order.intent == "AUTHORIZE" else "capture")
            return self.order_json(order)
