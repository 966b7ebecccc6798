"""Stripe, through the official SDK's async API (``StripeClient`` + ``HTTPXClient``).

PaymentIntents with card payment methods, confirmed server-side; holds (``capture_method=manual``,
captured whole or in part, released, raised); cards saved to a Customer and charged again without
the guest; refunds against the intent.
Every POST carries the idempotency key the services derive from our ids, and a retry of an
unknown outcome sends the same key again with exactly the same parameters (Stripe refuses a key
reused with other parameters), so Stripe does the work at most once. Amounts go out and come back
in Stripe's own unit per currency (``_transformers.STRIPE_UNITS``), which is not always ISO 4217's.

Every request names the API version the adapter is written for (:data:`STRIPE_API_VERSION`),
whatever version the installed SDK pins.

The SDK's own retries (``max_network_retries``) would reuse the key too (it computes the
headers once per call), but they sleep on the wall clock with a fixed schedule and ignore
``Retry-After``; they are switched off and :func:`call_with_retries` does the retrying, with an
injectable backoff, the same as for the other providers.

The package: :class:`StripeProvider` (``_provider``, payments and refunds) on ``_base`` (the
client and the calls), with ``_holds`` (captures and increases) and ``_customers`` (Customers
and detaching saved cards); ``_transformers`` (request and reply shapes, status maps, Stripe's
units), ``_errors`` (SDK errors as the port's) and ``_webhooks`` (the signature and Stripe's
events).
"""

from payment_adapters.providers.stripe._provider import (
    STRIPE_API_BASE,
    STRIPE_API_VERSION,
    StripeProvider,
)
from payment_adapters.providers.stripe._webhooks import SIGNATURE_HEADER

__all__ = ["SIGNATURE_HEADER", "STRIPE_API_BASE", "STRIPE_API_VERSION", "StripeProvider"]
