"""The fake provider's disputes on their own: opened by its token, sent by themselves a moment
later as signed Stripe-shaped deliveries, decided by the contract's evidence words, and
answered once per submission key."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from payment_core.errors import ProviderRejectedError, WebhookSignatureError
from payment_core.model.dispute import DisputeStatus
from payment_core.money import Currency, Money
from payment_core.ports import (
    ConfirmPaymentRequest,
    FundsMovement,
    RetrieveDisputeRequest,
    SubmitDisputeEvidenceRequest,
    WebhookKind,
)
from payment_core.testing import FakeProvider, SettableClock

AMOUNT = Money(7_500, Currency.of("EUR"))


async def confirmed(provider: FakeProvider, token: str = "pm_card_createDispute") -> str:
    payment_id = uuid4()
    reply = await provider.confirm_payment(
        ConfirmPaymentRequest(payment_id, None, AMOUNT, token, f"payment-{payment_id}-confirm")
    )
    return reply.provider_payment_id


async def test_it_sends_the_dispute_by_itself_signed_within_moments() -> None:
    provider = FakeProvider(dispute_delay=timedelta(milliseconds=50))
    received: list[tuple[bytes, Mapping[str, str]]] = []

    async def sink(body: bytes, headers: Mapping[str, str]) -> None:
        received.append((body, headers))

    provider.deliver_webhooks_to(sink)
    intent = await confirmed(provider)
    assert received == []
    for _ in range(50):
        await asyncio.sleep(0.02)
        if len(received) == 2:
            break
    events = [provider.parse_webhook(b, h, now=datetime.now(UTC)) for b, h in received]
    assert [e.type for e in events] == ["charge.dispute.created", "charge.dispute.funds_withdrawn"]
    assert {e.kind for e in events} == {WebhookKind.DISPUTE}
    dispute = events[1].dispute
    assert dispute is not None
    assert (dispute.provider_payment_id, dispute.amount, dispute.reason) == (
        intent,
        AMOUNT,
        "fraudulent",
    )
    assert (dispute.status, dispute.funds) == (
        DisputeStatus.NEEDS_RESPONSE,
        FundsMovement.WITHDRAWN,
    )
    # Signed with its secret: a tampered body is refused like any forged delivery.
    with pytest.raises(WebhookSignatureError):
        provider.parse_webhook(received[0][0] + b" ", received[0][1], now=datetime.now(UTC))


async def test_other_tokens_open_no_dispute_and_a_failed_delivery_is_sent_again() -> None:
    clock = SettableClock(datetime(2026, 5, 1, tzinfo=UTC))
    provider = FakeProvider(clock=clock)
    await confirmed(provider, "pm_card_visa")
    assert provider.pending_webhooks() == []
    await confirmed(provider)
    attempts = 0

    async def failing(body: bytes, headers: Mapping[str, str]) -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("down")

    provider.webhook_sink = failing
    clock.advance(timedelta(seconds=2))
    assert await provider.deliver_due_webhooks() == 2
    assert attempts == 2
    assert len(provider.pending_webhooks()) == 2  # kept, for later


async def test_evidence_decides_once_per_key() -> None:
    clock = SettableClock(datetime(2026, 5, 1, tzinfo=UTC))
    provider = FakeProvider(clock=clock)
    await confirmed(provider)
    (dispute_id,) = provider._disputes
    dispute = uuid4()

    def submit(key: str, text: str) -> SubmitDisputeEvidenceRequest:
        return SubmitDisputeEvidenceRequest(
            dispute, dispute_id, AMOUNT, {"uncategorized_text": text}, key
        )

    answer = await provider.submit_dispute_evidence(submit("k1", "losing_evidence"))
    assert answer.status is DisputeStatus.UNDER_REVIEW
    again = await provider.submit_dispute_evidence(submit("k1", "losing_evidence"))
    assert again == answer
    with pytest.raises(ProviderRejectedError):
        await provider.submit_dispute_evidence(submit("k2", "winning_evidence"))
    now = await provider.retrieve_dispute(RetrieveDisputeRequest(dispute, dispute_id, AMOUNT))
    assert now.status is DisputeStatus.LOST
    assert [kind for _, kind in provider.pending_webhooks()][-1] == "charge.dispute.closed"
    with pytest.raises(ProviderRejectedError):
        await provider.retrieve_dispute(RetrieveDisputeRequest(dispute, "dp_nope", AMOUNT))
