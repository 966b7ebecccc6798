"""PayPal, over the Orders v2 and Payments v2 REST APIs with ``httpx``.

PayPal's official Python server SDK is synchronous, so it would block the event loop (or need a
thread per call) and it cannot take an arbitrary base URL for a local stand-in; the handful of
calls used here are plain JSON over HTTPS, so ``httpx.AsyncClient`` speaks them directly.

- Our create: an order with ``intent=CAPTURE`` (``custom_id`` = our payment id).
- Our confirm: capture the order, paying with the vaulted payment method given as the payment
  method (``payment_source.card.vault_id``); the payment method ``paypal`` means "capture what
  the buyer approved at PayPal" (no payment source). A buyer who still has to act (approve the
  order, pass 3-D Secure) gets ``next_action`` = the ``payer-action`` / ``approve`` link.
- Holds (``_holds``): an ``intent=AUTHORIZE`` order, authorized at confirm; the capture, void
  or reauthorization of its latest authorization (``final_capture=true``: the rest is
  released). PayPal reauthorizes only a PayPal-account hold after its honor period, up to
  115 %: anything else is ``NotSupportedByProviderError``.
- Saved cards (``_vault``): ``store_in_vault=ON_SUCCESS`` on the confirm's card, the vault's
  payment token reported as the saved method; a saved card charged as a stored credential
  (merchant-initiated off-session); ``DELETE /v3/vault/payment-tokens/{id}`` to detach.
- Refunds: refund the order's capture (``custom_id`` = the refund attempt's idempotency key).
- Every POST carries ``PayPal-Request-Id`` = our idempotency key (PayPal keeps it for 6 hours;
  past that, reconciliation finds a lost refund by its ``custom_id`` rather than asking again).
- OAuth2 client credentials: the access token is cached, refreshed ahead of its expiry and
  once more when PayPal answers 401 (``_auth``).

Amounts are PayPal's decimal text, whole units for HUF, JPY and TWD
(``_transformers.PAYPAL_UNITS``).

Webhooks are verified offline with PayPal's documented CRC32 scheme (``_webhooks``) against the
certificate at ``PAYPAL-CERT-URL``, fetched only from an allow-listed PayPal origin, without
blocking the event loop (:meth:`PayPalProvider.prepare_webhook`), and cached
(``_certificates``).

The package: :class:`PayPalProvider` (``_provider``, the payments), its parts ``_client`` (the
calls), ``_holds``, ``_vault`` and ``_refunds``, ``_orders`` (an order, held or taken, as the
port's reply), ``_transformers`` (request and reply shapes, status maps, error replies),
``_auth``, ``_certificates`` and ``_webhooks``.
"""

from payment_adapters.providers.paypal._certificates import PAYPAL_CERT_ORIGINS, CertFetcher
from payment_adapters.providers.paypal._provider import (
    APPROVAL_PAYMENT_METHOD,
    PAYPAL_LIVE_API_BASE,
    PAYPAL_SANDBOX_API_BASE,
    PayPalProvider,
)
from payment_adapters.providers.paypal._webhooks import PAYPAL_REDELIVERY_WINDOW

__all__ = [
    "APPROVAL_PAYMENT_METHOD",
    "PAYPAL_CERT_ORIGINS",
    "PAYPAL_LIVE_API_BASE",
    "PAYPAL_REDELIVERY_WINDOW",
    "PAYPAL_SANDBOX_API_BASE",
    "CertFetcher",
    "PayPalProvider",
]
