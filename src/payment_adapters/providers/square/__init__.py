"""Square, over the Payments, Refunds, Customers and Cards APIs with ``httpx``.

Square's official Python SDK is generated, synchronous-first and tied to its own environments;
the few JSON calls used here go through ``httpx.AsyncClient`` directly (``Authorization:
Bearer``, ``Square-Version``), which also lets a local stand-in take Square's place.

Square has no object to "set up" before the card is known: a payment is created with its source
and is authorised there and then. So:

- Our create calls nothing and answers a *placeholder* provider id,
  ``sqpending_<our payment id, hex>_<amount>_<currency>``: it names everything needed to find the
  Square payment later, without a database of our own.
- Our confirm creates the Square payment (``source_id`` = the payment method,
  ``autocomplete=false``, ``reference_id`` = our payment id, ``idempotency_key`` = ours), then
  completes it, unless it is a hold (``capture_method=manual``), which stays ``APPROVED`` until
  captured, released or let go at ``delayed_until`` (``_holds``). A lost answer is found again
  by listing payments of that exact amount (``GET /v2/payments?total=…``) and matching
  ``reference_id``; nothing is ever re-created to find it.
- Cards on file (``_cards``): a payment that asks to save its card keeps it from the payment
  (``POST /v2/cards``) under the guest's Square customer; a charge of it sends the card's id as
  ``source_id`` with its ``customer_id``; detaching disables it.
- Strong Customer Authentication: a bank that wants the buyer verified declines with
  ``CARD_DECLINED_VERIFICATION_REQUIRED``; the buyer runs Square's ``verifyBuyer`` in the
  browser and the confirm brings its ``verification_token``. Each such attempt is a new Square
  payment under its own key, derived from our payment id and the attempt (its token), so a
  retry of one attempt is the same request and a new attempt is never refused as a reused key.
- Refunds: ``POST /v2/refunds`` with our key; the refund's ``reason`` carries the key
  (``ref:<key>``) so that reconciliation finds a refund whose answer was lost.

Square caps idempotency keys at 45 characters: a longer key of ours is replaced by a fixed
45-character digest of it, the same for every retry.

Webhooks (``_webhooks``): an HMAC-SHA256 over the notification URL and the raw body; Square
signs no timestamp, so a replayed delivery is caught by its event id.

The package: :class:`SquareProvider` (``_provider``, the payment, refund and webhook
operations), ``_holds`` (captures and increases), ``_cards`` (cards on file), ``_client`` (the
HTTP calls they share), ``_transformers`` (keys, placeholder ids, request and reply shapes,
status maps, error replies), ``_lookup`` (the Square payment behind one of ours) and
``_webhooks``.
"""

from payment_adapters.providers.square._provider import (
    SQUARE_LIVE_API_BASE,
    SQUARE_SANDBOX_API_BASE,
    SQUARE_VERSION,
    SquareProvider,
)
from payment_adapters.providers.square._transformers import placeholder_id
from payment_adapters.providers.square._webhooks import SIGNATURE_HEADER

__all__ = [
    "SIGNATURE_HEADER",
    "SQUARE_LIVE_API_BASE",
    "SQUARE_SANDBOX_API_BASE",
    "SQUARE_VERSION",
    "SquareProvider",
    "placeholder_id",
]
