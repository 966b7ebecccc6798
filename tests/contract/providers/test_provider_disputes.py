"""Disputes through Stripe, PayPal and Square, each adapter against its stand-in (which
validates every request as the provider's API and SDK define it): the provider's own signed
dispute webhooks open the dispute and record the chargeback; the evidence goes out in the
provider's shape and is decided by the stand-in's test words; the outcome arrives by webhook
and the money comes back (or not) once in the billing chain."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

import attrs
import pytest
from provider_standins.kits import Kit

from payment_core.model.billing import BillingRecordType
from payment_core.model.dispute import Dispute, DisputeStatus
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.pagination import PageRequest
from payment_core.services import CreatePayment, ServiceConfig
from payment_core.testing import Harness, build_in_memory

KitFactory = Callable[..., Kit]
R, D = BillingRecordType, DisputeStatus
PREFIXES = ("charge.dispute", "CUSTOMER.DISPUTE", "dispute.")


@pytest.fixture(params=("stripe", "paypal", "square"))
def kit(request: pytest.FixtureRequest, kit_factory: KitFactory) -> Kit:
    return kit_factory(request.param)


@pytest.fixture
def harness(kit: Kit, config: ServiceConfig) -> Harness:
    harness = build_in_memory(
        provider=kit.provider,  # type: ignore[arg-type]
        config=attrs.evolve(config, default_provider=kit.name),
        randbelow=lambda n: 0,
    )
    harness.clock.set(datetime.now(UTC))
    return harness


class Deliveries:
    """The dispute webhooks the stand-in sent, handed to the service once each."""

    def __init__(self, kit: Kit, harness: Harness) -> None:
        self.kit, self.harness, self.done = kit, harness, 0

    def all(self) -> list[tuple[bytes, dict[str, str]]]:
        return [d for prefix in PREFIXES for d in self.kit.sent(prefix)]

    async def deliver_new(self) -> list[str]:
        sent = sorted(self.all(), key=lambda d: self.kit.sent().index(d))
        outcomes = []
        for body, headers in sent[self.done :]:
            self.harness.clock.set(datetime.now(UTC))
            result = await self.harness.services.webhooks.receive(self.kit.name, body, headers)
            outcomes.append(result.outcome)
        self.done = len(sent)
        return outcomes


async def pay(harness: Harness, method: str = "pm_card_visa") -> Payment:
    payment = await harness.services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=9_900, currency="EUR")
    )
    payment = await harness.services.payments.confirm(payment.id, method)
    assert payment.status is PaymentStatus.COMPLETED
    return payment


async def dispute_of(harness: Harness, payment: Payment) -> Dispute:
    page = await harness.services.disputes.list_by_payment(payment.id, PageRequest())
    (dispute,) = page.items
    return dispute


def kinds(harness: Harness, payment: Payment) -> list[R]:
    return [r.type for r in harness.store.billing.get(payment.booking_id, [])]


@pytest.mark.parametrize("words", ["winning_evidence", "losing_evidence"])
async def test_a_dispute_from_the_providers_webhook_to_its_outcome(
    kit: Kit, harness: Harness, words: str
) -> None:
    deliveries = Deliveries(kit, harness)
    payment = await pay(harness)
    kit.open_dispute(payment)
    outcomes = await deliveries.deliver_new()
    assert "dispute_opened" in outcomes
    dispute = await dispute_of(harness, payment)
    assert (dispute.status, dispute.amount, dispute.inquiry) == (
        D.NEEDS_RESPONSE,
        payment.amount,
        False,
    )
    assert dispute.evidence_due_by is not None
    assert dispute.evidence_due_by > harness.clock.now()
    assert dispute.funds_withdrawn
    assert kinds(harness, payment) == [R.CHARGE, R.CHARGEBACK]

    answered = await harness.services.disputes.add_evidence(
        dispute.id,
        {"uncategorized_text": words, "service_date": "2027-03-10", "receipt": "INV-2026-000001"},
        submit=True,
    )
    assert answered.evidence_submitted_at is not None
    await deliveries.deliver_new()
    closed = await harness.services.disputes.get(dispute.id)
    if words == "winning_evidence":
        assert closed.status is D.WON
        assert kinds(harness, payment) == [R.CHARGE, R.CHARGEBACK, R.CHARGEBACK_REVERSED]
    else:
        assert closed.status is D.LOST
        assert kinds(harness, payment) == [R.CHARGE, R.CHARGEBACK]
    assert (await harness.services.billing.verify()).ok
    # Every delivery again (a provider's retry) changes nothing.
    deliveries.done = 0
    assert set(await deliveries.deliver_new()) <= {"duplicate", "unchanged"}
    assert len(kinds(harness, payment)) == (3 if words == "winning_evidence" else 2)


async def test_an_inquiry_moves_no_money(kit: Kit, harness: Harness) -> None:
    deliveries = Deliveries(kit, harness)
    payment = await pay(harness)
    kit.open_dispute(payment, inquiry=True)
    assert "dispute_opened" in await deliveries.deliver_new()
    dispute = await dispute_of(harness, payment)
    assert dispute.inquiry
    assert not dispute.funds_withdrawn
    assert kinds(harness, payment) == [R.CHARGE]


async def test_the_dispute_token_is_disputed_at_the_provider(kit: Kit, harness: Harness) -> None:
    deliveries = Deliveries(kit, harness)
    payment = await pay(harness, "pm_card_createDispute")
    assert "dispute_opened" in await deliveries.deliver_new()
    assert (await dispute_of(harness, payment)).status is D.NEEDS_RESPONSE


async def test_reconciliation_asks_the_provider(kit: Kit, harness: Harness) -> None:
    from datetime import timedelta  # noqa: PLC0415

    deliveries = Deliveries(kit, harness)
    payment = await pay(harness)
    kit.open_dispute(payment)
    await deliveries.deliver_new()
    dispute = await dispute_of(harness, payment)
    assert dispute.evidence_due_by is not None
    harness.clock.set(dispute.evidence_due_by + timedelta(seconds=1))
    assert await harness.services.disputes.reconcile() == 1
    checked = await harness.services.disputes.get(dispute.id)
    assert checked.status is D.NEEDS_RESPONSE  # the provider says so still
    assert checked.next_check_at == harness.clock.now() + timedelta(days=1)
