"""What every kit shares: the :class:`Kit` terms, the secrets and URLs the adapters are
configured with, and the helpers that pace and time them."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

from tests import _leakscan

from payment_adapters.providers import Backoff
from payment_adapters.providers.ratelimit import TokenBucket
from payment_core.model.payment import Payment
from payment_core.ports import PaymentProvider

from .. import paypal as paypal_standin
from .. import square as square_standin
from .. import stripe as stripe_standin
from .._server import StandIn
from .._tokens import NEW_PANS

EventKind = Literal["succeeded", "processing", "failed"]
Keys = dict[tuple[str, str], list[str | None]]
_REFUND_KEY = re.compile(r"refund-(?P<id>[0-9a-f-]{36})-\d+")
Delivery = tuple[bytes, dict[str, str]]

#: The stand-ins sign the webhooks they send of themselves with the first (the current) one.
STRIPE_WEBHOOK_SECRETS = (stripe_standin.WEBHOOK_SECRET, "whsec_contract_old_77aa51e0c4d9")
FAKE_WEBHOOK_SECRET = "whsec_fake_contract_secret_5a0c"
PAYPAL_WEBHOOK_ID = paypal_standin.WEBHOOK_ID
SQUARE_SIGNATURE_KEY = square_standin.SIGNATURE_KEY
SQUARE_NOTIFICATION_URL = square_standin.NOTIFICATION_URL
RETURN_URL = "https://shop.example.test/payments/return"
VERIFY_URL = "https://shop.example.test/payments/{payment_id}/verify"
#: Card numbers that must never show up anywhere (the test cards behind the tokens).
KNOWN_PANS = (
    "4242424242424242",
    "4000000000000002",
    "5555555555554444",
    "4000002760003184",
    *NEW_PANS,
)


class RecordingSleep:
    """An injectable ``sleep`` that records each wait and does not wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


def fast_backoff(sleep: RecordingSleep, attempts: int = 3) -> Backoff:
    return Backoff(attempts=attempts, base_seconds=0.05, cap_seconds=0.4, sleep=sleep)


def _iso(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class VirtualPace:
    """A clock that moves only when a token bucket sleeps, and how long it slept in all."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waited = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.waited += seconds


class Kit:
    """A provider under test, with what its contract tests need around it."""

    name: str
    provider: PaymentProvider
    standin: StandIn | None = None
    #: Everything that must never be logged or put in an error message.
    secrets: tuple[str, ...] = ()

    def __init__(self, timeout: float = 0.25, attempts: int = 3, rate: float = 10_000) -> None:
        self.sleep = RecordingSleep()
        self.backoff = fast_backoff(self.sleep, attempts)
        self.timeout = timeout
        # The adapters' client-side rate limit, in virtual time: pacing is observed, not waited.
        self.pace = VirtualPace()
        self.limiter = TokenBucket(rate, clock=self.pace.clock, sleep=self.pace.sleep)
        # Read at each scan: PayPal's access tokens are issued while the kit is in use.
        _leakscan.SCANNER.add_source(self, lambda: self.secrets)

    async def aclose(self) -> None:
        close: Callable[[], Awaitable[None]] | None = getattr(self.provider, "aclose", None)
        if close is not None:
            await close()
        _leakscan.SCANNER.retire_source(self)

    def customer_authenticates(self, payment: Payment) -> None:
        """The customer passes 3-D Secure / approves; the provider takes the money."""
        raise NotImplementedError

    def event(
        self, payment: Payment, kind: EventKind, now: datetime, event_id: str | None = None
    ) -> Delivery:
        """A signed delivery saying the payment is now ``kind``."""
        raise NotImplementedError

    def charges(self, payment: Payment) -> int:
        """How many times the provider took money for this payment."""
        raise NotImplementedError

    def refunded(self, payment: Payment) -> int:
        """Minor units the provider paid back on this payment (refunds not failed)."""
        raise NotImplementedError

    def post_keys(self) -> Keys:
        """Idempotency keys of every recorded POST, grouped by the operation it repeats."""
        raise NotImplementedError

    def payouts(self) -> Counter[str]:
        """How many provider refunds (not failed) each of our refunds got."""
        raise NotImplementedError

    # ------------------------------------------------------------------ holds and disputes
    def advance(self, delta: timedelta) -> None:
        """Time passes at the provider: holds reach their expiry, evidence its deadline."""
        if self.standin is None:
            raise NotImplementedError
        self.standin.advance(delta)

    def decline_increments(self, payment: Payment) -> None:
        """The issuer declines every further increase of this payment's hold."""
        raise NotImplementedError

    def open_dispute(self, payment: Payment, *, inquiry: bool = False) -> None:
        """The cardholder's bank disputes the payment's captured money (or inquires)."""
        raise NotImplementedError

    def sent(self, prefix: str = "") -> list[Delivery]:
        """The signed webhooks the provider sent of itself (disputes, expiries), oldest first."""
        if self.standin is None:
            raise NotImplementedError
        return [(s.body, dict(s.headers)) for s in self.standin.sent_of(prefix)]


def _operation(path: str, key: str | None) -> str:
    """A confirm, or reconciliation finishing one that never arrived (its own operation)."""
    return f"{path} (reconcile)" if "-reconcile" in (key or "") else path


def refund_id_of(text: object) -> str:
    match = _REFUND_KEY.search(str(text))
    return match["id"] if match else "?"
