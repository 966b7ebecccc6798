"""The fake provider's webhooks: Stripe's scheme and event shapes, signed with
``Fake-Signature``; what they say is kept in the fake's own books too."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from payment_core import dispute_events, signing
from payment_core.intent_events import event_body, read_event, translate_event
from payment_core.ports import (
    ProviderPaymentStatus,
    SavedPaymentMethod,
    WebhookEvent,
    WebhookKind,
)
from payment_core.testing._fake_state import Intent
from payment_core.testing._fake_tokens import FakeToken

__all__ = ["DEFAULT_WEBHOOK_SECRET", "SIGNATURE_HEADER", "FakeWebhooks"]

SIGNATURE_HEADER: Final = "Fake-Signature"
DEFAULT_WEBHOOK_SECRET: Final = "whsec_fake"  # noqa: S105 - the contract's documented default


class FakeWebhooks:
    """Webhooks of the fake provider (a part of ``FakeProvider``)."""

    _secrets: tuple[str, ...]
    _intents: dict[str, Intent]
    _hold: Callable[[Intent], None]
    _save_card: Callable[[Intent], None]
    _saved_for: Callable[[Intent], SavedPaymentMethod | None]
    _token_of: Callable[[str | None], FakeToken | None]

    async def prepare_webhook(self, headers: Mapping[str, str], *, now: datetime) -> None:
        return None  # a shared secret: nothing to fetch

    def parse_webhook(
        self, body: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> WebhookEvent:
        header = signing.get_header(headers, SIGNATURE_HEADER)
        signing.verify(header, body, self._secrets, now=now)
        return self.translate_webhook(body)

    def translate_webhook(self, body: bytes) -> WebhookEvent:
        envelope = read_event(body)
        disputed = dispute_events.translate(envelope)
        if disputed is not None:
            return disputed
        event = translate_event(envelope)
        # Keep our own books in step with what the provider told the service.
        if event.provider_payment_id and event.provider_payment_id in self._intents:
            intent = self._intents[event.provider_payment_id]
            settled = (ProviderPaymentStatus.SUCCEEDED, ProviderPaymentStatus.REQUIRES_CAPTURE)
            if intent.status not in settled:
                if event.kind is WebhookKind.PAYMENT_SUCCEEDED:
                    intent.status = ProviderPaymentStatus.SUCCEEDED
                    intent.amount_received = intent.amount.amount
                elif event.kind is WebhookKind.PAYMENT_AUTHORIZED:
                    self._hold(intent)
                elif event.kind is WebhookKind.PAYMENT_FAILED:
                    intent.status = ProviderPaymentStatus.FAILED
                self._save_card(intent)
        return event

    def build_webhook(
        self,
        event_type: str,
        obj: Mapping[str, Any],
        *,
        event_id: str,
        now: datetime,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A signed delivery (body and headers) of a Stripe-shaped event, for tests and demos."""
        body = event_body(event_type, obj, event_id=event_id, created=now)
        header = signing.signature_header(secret or self._secrets[0], int(now.timestamp()), body)
        return body, {SIGNATURE_HEADER: header}

    def payment_intent_object(
        self, provider_payment_id: str, *, status: str = "succeeded"
    ) -> dict[str, Any]:
        """The ``data.object`` of a ``payment_intent.*`` event about a known intent."""
        intent = self._intents[provider_payment_id]
        token = self._token_of(intent.payment_method)
        obj: dict[str, Any] = {
            "id": intent.id,
            "object": "payment_intent",
            "amount": intent.amount.amount,
            "currency": intent.amount.currency.code.lower(),
            "status": status,
            "capture_method": intent.capture_method.value,
            "metadata": {"payment_id": str(intent.payment_id)},
        }
        if status == "requires_capture":
            obj["amount_capturable"] = intent.amount.amount
        saved = self._saved_for(intent)
        if saved is not None and status in ("succeeded", "requires_capture"):
            obj.update(
                setup_future_usage="off_session",
                payment_method=saved.token,
                customer=saved.customer_id,
            )
        if token is not None:
            obj["payment_method_details"] = {"card": attrs.asdict(token.card)}
        return obj
