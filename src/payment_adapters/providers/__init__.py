"""Payment provider adapters: Stripe, PayPal and Square behind ``payment_core``'s port.

``build_providers(settings)`` builds the configured ones (and the fake provider, always).
The provider classes live in their own modules (``payment_adapters.providers.stripe``, ...) and
are imported lazily here, so that importing this package pulls in no provider SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from payment_adapters.providers._common import Backoff
from payment_adapters.providers.ratelimit import TokenBucket
from payment_adapters.providers.registry import (
    ProviderOptions,
    ProviderSettings,
    aclose_providers,
    build_providers,
)

if TYPE_CHECKING:
    from payment_adapters.providers.paypal import PayPalProvider
    from payment_adapters.providers.square import SquareProvider
    from payment_adapters.providers.stripe import StripeProvider

__all__ = [
    "Backoff",
    "PayPalProvider",
    "ProviderOptions",
    "ProviderSettings",
    "SquareProvider",
    "StripeProvider",
    "TokenBucket",
    "aclose_providers",
    "build_providers",
]

_LAZY = {
    "StripeProvider": "payment_adapters.providers.stripe",
    "PayPalProvider": "payment_adapters.providers.paypal",
    "SquareProvider": "payment_adapters.providers.square",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib  # noqa: PLC0415

    return getattr(importlib.import_module(module), name)
