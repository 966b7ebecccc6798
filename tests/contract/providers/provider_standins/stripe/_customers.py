"""Customers and saved PaymentMethods: ``POST /v1/customers``, ``GET /v1/customers/{id}`` (and
its ``/payment_methods``), ``GET /v1/payment_methods/{id}``, ``POST …/attach`` and ``…/detach``.

A card is saved by a PaymentIntent with ``setup_future_usage`` (attached to the intent's
``customer`` when it has one), or by attaching a test token to a customer. A detached method,
or one used once without being saved, may not be used again (Stripe's rule and message).
"""

from __future__ import annotations

from typing import Any

from .._server import Response
from .._tokens import TOKENS
from ._objects import Customer, Method
from ._wire import invalid, missing, new_id


class CustomersMixin:
    customers: dict[str, Customer]
    methods: dict[str, Method]

    def customer_json(self, customer: Customer) -> dict[str, Any]:
        return {
            "id": customer.id,
            "object": "customer",
            "email": customer.email,
            "name": customer.name,
            "description": customer.description,
            "metadata": dict(customer.metadata),
            "created": customer.created,
            "livemode": False,
        }

    def method_json(self, method_id: str) -> dict[str, Any]:
        saved = self.methods.get(method_id)
        token = TOKENS[saved.token if saved is not None else method_id]
        return {
            "id": method_id,
            "object": "payment_method",
            "type": "card",
            "card": {
                "brand": token.card.brand,
                "last4": token.card.last4,
                "exp_month": token.card.exp_month,
                "exp_year": token.card.exp_year,
                "funding": "credit",
            },
            "customer": saved.customer if saved is not None else None,
            "created": saved.created if saved is not None else 1_767_268_800,
            "livemode": False,
        }

    def create_customer(self, params: dict[str, Any]) -> Response:
        customer = Customer(
            id=new_id("cus"),
            email=params.get("email"),
            name=params.get("name"),
            description=params.get("description"),
            metadata=dict(params.get("metadata") or {}),
            created=self.clock.timestamp(),  # type: ignore[attr-defined]
        )
        self.customers[customer.id] = customer
        method = params.get("payment_method")
        if method:
            attached = self.attach(method, {"customer": customer.id})
            if attached.status != 200:
                del self.customers[customer.id]
                return attached
        return Response(200, self.customer_json(customer))

    def get_customer(self, customer_id: str) -> Response:
        customer = self.customers.get(customer_id)
        if customer is None:
            return missing("customer", customer_id)
        return Response(200, self.customer_json(customer))

    def customer_methods(self, customer_id: str, params: dict[str, Any]) -> Response:
        if customer_id not in self.customers:
            return missing("customer", customer_id)
        found = [
            self.method_json(m.id)
            for m in self.methods.values()
            if m.customer == customer_id and not m.detached
        ]
        limit = int(params.get("limit") or 10)
        return Response(
            200,
            {
                "object": "list",
                "url": f"/v1/customers/{customer_id}/payment_methods",
                "data": found[:limit],
                "has_more": len(found) > limit,
            },
        )

    def get_method(self, method_id: str) -> Response:
        if method_id not in self.methods and method_id not in TOKENS:
            return missing("PaymentMethod", method_id)
        return Response(200, self.method_json(method_id))

    def attach(self, method_id: str, params: dict[str, Any]) -> Response:
        customer = params.get("customer")
        if not customer:
            return invalid(
                "Missing required param: customer.", code="parameter_missing", param="customer"
            )
        if customer not in self.customers:
            return missing("customer", customer, param="customer")
        if method_id in TOKENS:  # a test token makes a new PaymentMethod each time it is used
            made = Method(id=new_id("pm"), token=method_id)
            self.methods[made.id] = made
            method_id = made.id
        saved = self.methods.get(method_id)
        if saved is None:
            return missing("PaymentMethod", method_id)
        if saved.detached or (saved.used and not saved.reusable):
            return invalid(
                "This PaymentMethod was previously used without being attached to a Customer "
                "or was detached from a Customer, and may not be used again.",
                code="payment_method_unexpected_state",
            )
        if saved.customer not in (None, customer):
            return invalid(
                "The payment method you provided has already been attached to a customer.",
                code="payment_method_unexpected_state",
            )
        saved.customer = customer
        saved.reusable = True
        return Response(200, self.method_json(saved.id))

    def detach(self, method_id: str) -> Response:
        saved = self.methods.get(method_id)
        if saved is None:
            return missing("PaymentMethod", method_id)
        if saved.customer is None:
            return invalid(
                "The payment method you provided is not attached to a customer so detachment "
                "is impossible.",
                code="payment_method_unexpected_state",
            )
        body = self.method_json(method_id)
        saved.customer = None
        saved.detached = True
        body["customer"] = None
        return Response(200, body)
