"""DisputeRepository, and disputes through the use cases, on every backend."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from payment_core.dispute_errors import PaymentDisputedError
from payment_core.errors import ConcurrencyError
from payment_core.model.billing import BillingRecordType
from payment_core.model.dispute import Dispute, DisputeStatus
from payment_core.money import Money
from payment_core.pagination import PageRequest
from payment_core.services import (
    CreatePayment,
    Dependencies,
    ProviderRegistry,
    ServiceConfig,
    Services,
)
from payment_core.system import SystemIds
from payment_core.testing import FakeProvider, SettableClock

D = DisputeStatus


def make_dispute(build, payment, *, seconds: float = 10, **overrides: Any) -> Dispute:
    fields: dict[str, Any] = {
        "id": uuid4(),
        "payment_id": payment.id,
        "booking_id": payment.booking_id,
        "guest_id": payment.guest_id,
        "provider": payment.provider,
        "provider_dispute_id": f"dp_{uuid4().hex}",
        "amount": Money(5_000, payment.amount.currency),
        "reason": "fraudulent",
        "inquiry": False,
        "evidence_due_by": build.at(7 * 86_400),
        "evidence": {"receipt": "INV-2026-000001", "uncategorized_text": "Zoë stayed ✓"},
        "now": build.at(seconds),
        "event_id": uuid4(),
    }
    fields.update(overrides)
    dispute = Dispute.open(**fields)
    dispute.events.clear()
    return dispute


async def test_a_dispute_reads_back_with_every_field(storage, build):
    payment = build.completed_payment()
    dispute = make_dispute(build, payment)
    dispute.withdraw_funds(now=build.at(11))
    await storage.add(payment, dispute)
    async with storage.uow() as uow:
        found = await uow.disputes.get(dispute.id)
        locked = await uow.disputes.get(dispute.id, for_update=True)
        by_provider = await uow.disputes.get_by_provider_id("fake", dispute.provider_dispute_id)
        other = await uow.disputes.get_by_provider_id("stripe", dispute.provider_dispute_id)
    assert found is not None
    assert locked is not None
    assert by_provider is not None
    assert build.state(found) == build.state(dispute)
    assert build.state(by_provider) == build.state(dispute)
    assert other is None
    async with storage.uow() as uow:
        assert await uow.disputes.get(uuid4()) is None


async def test_one_dispute_per_provider_id(storage, build):
    payment = build.completed_payment()
    first = make_dispute(build, payment)
    await storage.add(payment, first)
    again = make_dispute(build, payment, provider_dispute_id=first.provider_dispute_id)
    with pytest.raises(ConcurrencyError):
        await storage.add(again)


async def test_updates_are_optimistic(storage, build):
    payment = build.completed_payment()
    dispute = make_dispute(build, payment)
    await storage.add(payment, dispute)
    async with storage.uow() as uow:
        first = await uow.disputes.get(dispute.id)
    async with storage.uow() as uow:
        second = await uow.disputes.get(dispute.id)
    assert first is not None
    assert second is not None
    first.merge_evidence({"customer_name": "Ana"}, now=build.at(20))
    await storage.update(first)
    second.merge_evidence({"customer_name": "Bo"}, now=build.at(21))
    with pytest.raises(ConcurrencyError):
        await storage.update(second)
    async with storage.uow() as uow:
        found = await uow.disputes.get(dispute.id)
    assert found is not None
    assert found.evidence["customer_name"] == "Ana"
    assert found.version == 1


async def test_lists_amounts_open_and_checks_due(storage, build):
    one, two = build.completed_payment(), build.completed_payment()
    a = make_dispute(build, one, seconds=10, evidence_due_by=build.at(100))
    b = make_dispute(build, one, seconds=20, evidence_due_by=build.at(50))
    c = make_dispute(build, two, seconds=30, evidence_due_by=None)
    c.follow(D.LOST, inquiry=False, evidence_due_by=None, now=build.at(31), event_id=uuid4())
    c.events.clear()
    await storage.add(one, two, a, b, c)
    async with storage.uow() as uow:
        by_payment = await uow.disputes.list_by_payment(one.id, PageRequest(limit=1))
        assert [d.id for d in by_payment.items] == [a.id]
        assert by_payment.next_cursor is not None
        rest = await uow.disputes.list_by_payment(
            one.id, PageRequest.parse(1, by_payment.next_cursor)
        )
        assert [d.id for d in rest.items] == [b.id]
        needs = await uow.disputes.list_by_status(D.NEEDS_RESPONSE, PageRequest())
        assert [d.id for d in needs.items] == [a.id, b.id]
        every = await uow.disputes.list_by_status(None, PageRequest())
        assert [d.id for d in every.items] == [a.id, b.id, c.id]
        assert await uow.disputes.amount_open([one.id, two.id, uuid4()]) == {one.id: 10_000}
        assert await uow.disputes.amount_open([]) == {}
        assert [d.id for d in await uow.disputes.list_due_for_check(build.at(60), 10)] == [b.id]
        due = await uow.disputes.list_due_for_check(build.at(200), 10)
        assert [d.id for d in due] == [b.id, a.id]
        assert [d.id for d in await uow.disputes.list_due_for_check(build.at(200), 1)] == [b.id]


# ---------------------------------------------------------------------- through the use cases
def _services(storage, build) -> tuple[Services, FakeProvider, SettableClock]:
    clock = SettableClock(build.T0)
    provider = FakeProvider(clock=clock)
    deps = Dependencies(
        uow=storage.uow,
        providers=ProviderRegistry([provider]),
        clock=clock,
        ids=SystemIds(),
        config=ServiceConfig(default_provider=provider.name),
    )
    services = Services.build(deps)
    provider.webhook_sink = lambda body, headers: services.webhooks.receive("fake", body, headers)
    return services, provider, clock


async def test_a_dispute_from_open_to_won_on_every_backend(storage, build):
    services, provider, clock = _services(storage, build)
    payment = await services.payments.create(
        CreatePayment(
            booking_id=uuid4(),
            guest_id=uuid4(),
            amount=12_000,
            currency="EUR",
            confirm=True,
            payment_method="pm_card_createDispute",
        )
    )
    clock.advance(timedelta(seconds=3))
    assert await provider.deliver_due_webhooks() == 2
    (dispute,) = (await services.disputes.list_by_payment(payment.id, PageRequest())).items
    assert (dispute.status, dispute.amount.amount, dispute.funds_withdrawn) == (
        D.NEEDS_RESPONSE,
        12_000,
        True,
    )
    with pytest.raises(PaymentDisputedError):
        await services.refunds.create(payment.id)
    submitted = await services.disputes.add_evidence(
        dispute.id, {"uncategorized_text": "winning_evidence"}, submit=True
    )
    assert submitted.status is D.UNDER_REVIEW
    clock.advance(timedelta(seconds=3))
    assert await provider.deliver_due_webhooks() == 2
    won = await services.disputes.get(dispute.id)
    assert won.status is D.WON
    records = await services.billing.list_by_booking(payment.booking_id, PageRequest())
    assert [r.type for r in records.items] == [
        BillingRecordType.CHARGE,
        BillingRecordType.CHARGEBACK,
        BillingRecordType.CHARGEBACK_REVERSED,
    ]
    verified = await services.billing.verify()
    assert verified.ok
    assert verified.records == 3
    types = [row.type for row in await storage.outbox()]
    assert types.count("dispute.created") == 1
    assert types.count("dispute.closed") == 1


async def test_a_refund_and_a_dispute_at_once_never_both_take_the_money(storage, build):
    """The dispute's opening and a refund lock the payment in turn: either the refund is
    made first (and the dispute still opens: the bank decides), or it is refused."""
    services, provider, clock = _services(storage, build)
    payment = await services.payments.create(
        CreatePayment(
            booking_id=uuid4(),
            guest_id=uuid4(),
            amount=12_000,
            currency="EUR",
            confirm=True,
            payment_method="pm_card_createDispute",
        )
    )
    clock.advance(timedelta(seconds=3))
    results = await asyncio.gather(
        provider.deliver_due_webhooks(),
        services.refunds.create(payment.id, 1_000),
        return_exceptions=True,
    )
    refund = results[1]
    disputes = (await services.disputes.list_by_payment(payment.id, PageRequest())).items
    assert len(disputes) == 1
    if isinstance(refund, BaseException):
        assert isinstance(refund, PaymentDisputedError)
    # Whichever came first, a second refund now is refused.
    with pytest.raises(PaymentDisputedError):
        await services.refunds.create(payment.id, 1_000)


async def test_concurrent_submissions_reach_the_provider_once(storage, build):
    from payment_core.dispute_errors import DisputeEvidenceClosedError  # noqa: PLC0415

    services, provider, clock = _services(storage, build)
    payment = await services.payments.create(
        CreatePayment(
            booking_id=uuid4(),
            guest_id=uuid4(),
            amount=12_000,
            currency="EUR",
            confirm=True,
            payment_method="pm_card_createDispute",
        )
    )
    clock.advance(timedelta(seconds=3))
    await provider.deliver_due_webhooks()
    (dispute,) = (await services.disputes.list_by_payment(payment.id, PageRequest())).items
    tasks = min(storage.tasks, 8)
    results = await asyncio.gather(
        *(
            services.disputes.add_evidence(dispute.id, {"customer_name": f"Ana {n}"}, submit=True)
            for n in range(tasks)
        ),
        return_exceptions=True,
    )
    submitted = [r for r in results if isinstance(r, Dispute)]
    refused = [r for r in results if isinstance(r, DisputeEvidenceClosedError)]
    assert len(submitted) == 1
    assert len(refused) == tasks - 1
    assert [c for c in provider.calls if c[0] == "submit_dispute_evidence"] == [
        ("submit_dispute_evidence", f"dispute-{dispute.id}-submit")
    ]
    stored = await services.disputes.get(dispute.id)
    assert stored.status is D.UNDER_REVIEW
    assert stored.evidence["customer_name"] == submitted[0].evidence["customer_name"]
