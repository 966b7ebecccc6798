"""Disputes on the harness: opened and moved only by the provider's signed webhooks, money
recorded once each way in the billing chain, refunds refused while open, evidence prefilled,
merged and submitted once before the deadline, and webhooks that may not act changing nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from tests.unit.conftest import Kit, new_uuid

from payment_core import CreateInvoice, LineItem, Payment
from payment_core.dispute_errors import DisputeEvidenceClosedError, PaymentDisputedError
from payment_core.errors import NotFoundError, ValidationError
from payment_core.model.billing import BillingRecordType
from payment_core.model.customer import Customer
from payment_core.model.dispute import Dispute, DisputeStatus
from payment_core.pagination import PageRequest
from payment_core.ports import PlanTerms
from payment_core.services import (
    BookingCancelled,
    CreatePaymentPlan,
    Policy,
    ProviderRegistry,
    Services,
    Tier,
)
from payment_core.testing import FakeProvider, build_in_memory

D = DisputeStatus
R = BillingRecordType


async def disputed(kit: Kit, **kwargs: Any) -> tuple[Payment, Dispute]:
    """A payment with ``pm_card_createDispute`` and the dispute its provider opens."""
    payment = await kit.paid("pm_card_createDispute", **kwargs)
    kit.harness.clock.advance(timedelta(seconds=3))
    assert await kit.harness.deliver_webhooks() == 2
    page = await kit.services.disputes.list_by_payment(payment.id, PageRequest())
    assert len(page.items) == 1
    return payment, page.items[0]


def kinds(kit: Kit, payment: Payment) -> list[R]:
    return [r.type for r in kit.records(payment.booking_id)]


async def test_the_dispute_token_completes_then_a_dispute_arrives_by_webhook(kit: Kit) -> None:
    payment = await kit.paid("pm_card_createDispute")
    assert payment.status.value == "COMPLETED"
    # Nothing yet: the provider's events are due a moment later, on its clock.
    assert await kit.harness.deliver_webhooks() == 0
    assert (await kit.services.disputes.list_by_payment(payment.id, PageRequest())).items == []
    kit.harness.clock.advance(timedelta(seconds=3))
    assert await kit.harness.deliver_webhooks() == 2
    (dispute,) = (await kit.services.disputes.list_by_payment(payment.id, PageRequest())).items
    assert dispute.status is D.NEEDS_RESPONSE
    assert (dispute.amount.amount, dispute.reason, dispute.provider) == (
        10_000,
        "fraudulent",
        "fake",
    )
    assert dispute.funds_withdrawn
    assert not dispute.inquiry
    assert dispute.evidence_due_by == kit.harness.clock.now() - timedelta(seconds=3) + timedelta(
        days=7
    )
    assert kinds(kit, payment) == [R.CHARGE, R.CHARGEBACK]
    assert "dispute.created" in kit.harness.published_types()
    assert (await kit.services.billing.verify()).ok
    assert await kit.services.disputes.amount_disputed([payment.id]) == {payment.id: 10_000}


async def test_a_disputed_payment_cannot_be_refunded_and_a_cancellation_refunds_nothing(
    kit: Kit,
) -> None:
    payment, _ = await disputed(kit)
    with pytest.raises(PaymentDisputedError) as refused:
        await kit.services.refunds.create(payment.id, 1_000)
    assert refused.value.code == "payment_disputed"
    assert refused.value.amount_disputed == 10_000
    handled = await kit.services.bookings.booking_cancelled(
        "evt-cancel", BookingCancelled(payment.booking_id)
    )
    assert handled.refunds == ()
    assert kit.harness.store.refunds == {}


async def test_winning_evidence_wins_and_the_money_comes_back_once(kit: Kit) -> None:
    payment, dispute = await disputed(kit)
    submitted = await kit.services.disputes.add_evidence(
        dispute.id, {"uncategorized_text": "winning_evidence"}, submit=True
    )
    assert submitted.status is D.UNDER_REVIEW
    assert submitted.evidence_submitted_at == kit.harness.clock.now()
    assert kit.calls("submit_dispute_evidence") == [f"dispute-{dispute.id}-submit"]
    kit.harness.clock.advance(timedelta(seconds=3))
    assert await kit.harness.deliver_webhooks() == 2
    won = await kit.services.disputes.get(dispute.id)
    assert won.status is D.WON
    assert not won.funds_withdrawn
    assert kinds(kit, payment) == [R.CHARGE, R.CHARGEBACK, R.CHARGEBACK_REVERSED]
    assert kit.harness.published_types().count("dispute.closed") == 1
    assert (await kit.services.billing.verify()).ok
    # Closed: the payment may be refunded again.
    refund = await kit.services.refunds.create(payment.id, 1_000)
    assert refund.amount.amount == 1_000


async def test_losing_evidence_loses_and_the_chargeback_stays(kit: Kit) -> None:
    payment, dispute = await disputed(kit)
    await kit.services.disputes.add_evidence(
        dispute.id, {"uncategorized_text": "losing_evidence"}, submit=True
    )
    kit.harness.clock.advance(timedelta(seconds=3))
    assert await kit.harness.deliver_webhooks() == 1
    lost = await kit.services.disputes.get(dispute.id)
    assert lost.status is D.LOST
    assert lost.funds_withdrawn
    assert kinds(kit, payment) == [R.CHARGE, R.CHARGEBACK]
    closed = [e for e in kit.harness.publisher.events if e.type == "dispute.closed"]
    assert [e.dispute.status for e in closed] == [D.LOST]  # type: ignore[union-attr]


async def test_evidence_is_prefilled_from_invoices_and_plan_terms(harness, kit: Kit) -> None:
    booking = new_uuid()

    class Terms:
        async def terms_for(self, booking_id: Any) -> PlanTerms | None:
            from datetime import date  # noqa: PLC0415

            if booking_id != booking:
                return None
            return PlanTerms(date(2027, 3, 10), "Free cancellation until 30 days before.")

    kit.services.disputes.plan_terms = Terms()
    payment = await kit.paid("pm_card_createDispute", booking_id=booking)
    invoice = await kit.services.invoices.create(
        CreateInvoice(
            booking_id=booking,
            guest_id=payment.guest_id,
            currency="EUR",
            line_items=[LineItem("Room", 1, 10_000, 0)],
            payment_id=payment.id,
            customer=Customer(name="Ana", email="ana@example.com"),
        )
    )
    issued = await kit.services.invoices.issue(invoice.id)
    kit.harness.clock.advance(timedelta(seconds=3))
    await kit.harness.deliver_webhooks()
    (dispute,) = (await kit.services.disputes.list_by_payment(payment.id, PageRequest())).items
    assert dispute.evidence == {
        "receipt": issued.number,
        "customer_email_address": "ana@example.com",
        "service_date": "2027-03-10",
        "cancellation_policy": "Free cancellation until 30 days before.",
    }


async def test_a_disputed_plan_deposit_takes_its_plans_check_in_and_policy(kit: Kit) -> None:
    check_in = (kit.harness.clock.now() + timedelta(days=60)).date()
    plan = await kit.services.plans.create(
        CreatePaymentPlan(
            booking_id=new_uuid(),
            guest_id=new_uuid(),
            currency="EUR",
            total_amount=20_000,
            check_in=check_in,
            time_zone="Europe/Madrid",
            deposit_bps=3_000,
            balance_due_days_before_check_in=14,
            payment_method="pm_card_createDispute",
            cancellation_policy=Policy(tiers=(Tier(30, 10_000), Tier(7, 5_000))),
        )
    )
    deposit = plan.installments[0].payment_id
    assert deposit is not None
    kit.harness.clock.advance(timedelta(seconds=3))
    await kit.harness.deliver_webhooks()
    (dispute,) = (await kit.services.disputes.list_by_payment(deposit, PageRequest())).items
    assert dispute.evidence["service_date"] == check_in.isoformat()
    assert dispute.evidence["cancellation_policy"] == (
        "cancelled 30 or more days before check-in: 100 % refunded; cancelled 7 or more days "
        "before check-in: 50 % refunded; cancelled later: nothing refunded (days counted in "
        "the property's time zone)."
    )


async def test_a_cancelled_plan_refunds_nothing_of_a_disputed_deposit(kit: Kit) -> None:
    plan = await kit.services.plans.create(
        CreatePaymentPlan(
            booking_id=new_uuid(),
            guest_id=new_uuid(),
            currency="EUR",
            total_amount=20_000,
            check_in=(kit.harness.clock.now() + timedelta(days=60)).date(),
            time_zone="Europe/Madrid",
            deposit_bps=3_000,
            balance_due_days_before_check_in=14,
            payment_method="pm_card_createDispute",
            cancellation_policy=Policy(tiers=(Tier(30, 10_000),)),
        )
    )
    deposit = plan.installments[0].payment_id
    assert deposit is not None
    kit.harness.clock.advance(timedelta(seconds=3))
    await kit.harness.deliver_webhooks()
    cancelled = await kit.services.plans.cancel(plan.id, "changed plans")
    # The whole deposit would be owed back, but the bank is taking it back already.
    assert cancelled.cancellation is not None
    assert cancelled.cancellation.refund_bps == 10_000
    refunds = await kit.services.refunds.list_by_payment(deposit, PageRequest())
    assert refunds.items == []
    assert cancelled.amount_refunded == 0


async def test_evidence_merges_then_is_submitted_once_and_never_after(kit: Kit) -> None:
    _, dispute = await disputed(kit)
    merged = await kit.services.disputes.add_evidence(
        dispute.id, {"customer_name": "Ana", "product_description": "2 nights"}
    )
    assert merged.status is D.NEEDS_RESPONSE
    merged = await kit.services.disputes.add_evidence(
        dispute.id, {"customer_name": None, "uncategorized_text": "card 4242424242424242 used"}
    )
    assert merged.evidence == {
        "product_description": "2 nights",
        "uncategorized_text": "card [redacted] used",
    }
    with pytest.raises(ValidationError):
        await kit.services.disputes.add_evidence(dispute.id, {"receipt_file": "x"})
    with pytest.raises(ValidationError):
        await kit.services.disputes.add_evidence(dispute.id, {"receipt": 12})
    await kit.services.disputes.add_evidence(dispute.id, {}, submit=True)
    for submit in (False, True):
        with pytest.raises(DisputeEvidenceClosedError) as closed:
            await kit.services.disputes.add_evidence(
                dispute.id, {"customer_name": "B"}, submit=submit
            )
        assert closed.value.reason == "submitted"
    assert len(kit.calls("submit_dispute_evidence")) == 1


async def test_evidence_is_refused_after_the_deadline(kit: Kit) -> None:
    _, dispute = await disputed(kit)
    kit.harness.clock.advance(timedelta(days=8))
    with pytest.raises(DisputeEvidenceClosedError) as closed:
        await kit.services.disputes.add_evidence(dispute.id, {"customer_name": "A"}, submit=True)
    assert closed.value.reason == "past_due"
    assert kit.calls("submit_dispute_evidence") == []
    with pytest.raises(NotFoundError):
        await kit.services.disputes.get(new_uuid())


async def test_a_refused_submission_may_be_tried_again(kit: Kit) -> None:
    from payment_core.errors import ProviderRejectedError  # noqa: PLC0415

    _, dispute = await disputed(kit)
    kit.harness.provider.inject_failure(
        "submit_dispute_evidence", ProviderRejectedError(reason_code="x", message="no")
    )
    with pytest.raises(ProviderRejectedError):
        await kit.services.disputes.add_evidence(dispute.id, {}, submit=True)
    again = await kit.services.disputes.add_evidence(dispute.id, {}, submit=True)
    assert again.status is D.UNDER_REVIEW


# ---------------------------------------------------------------------- webhook safety
def dispute_object(payment: Payment, **fields: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "dp_test_1",
        "object": "dispute",
        "amount": payment.amount.amount,
        "currency": payment.amount.currency.code.lower(),
        "payment_intent": payment.provider_payment_id,
        "reason": "product_not_received",
        "status": "needs_response",
        "evidence_details": {"due_by": 1_900_000_000},
    }
    obj.update(fields)
    return obj


async def test_an_amount_above_the_captured_one_opens_nothing(kit: Kit) -> None:
    payment = await kit.paid()
    for amount in (payment.amount.amount + 1, 0):
        result = await kit.deliver("charge.dispute.created", dispute_object(payment, amount=amount))
        assert result.outcome == "amount_mismatch"
    result = await kit.deliver("charge.dispute.created", dispute_object(payment, currency="usd"))
    assert result.outcome == "amount_mismatch"
    assert kit.harness.store.disputes == {}
    assert kinds(kit, payment) == [R.CHARGE]


async def test_a_dispute_of_another_providers_payment_changes_nothing(clock) -> None:
    fake, other = FakeProvider(clock=clock), FakeProvider(clock=clock, name="other")
    harness = build_in_memory(clock=clock, provider=fake)
    harness.services = Services.build(
        attrs_evolve_providers(harness.services, ProviderRegistry([fake, other]))
    )
    kit = Kit(harness)
    payment = await kit.paid()  # the fake's
    body, headers = other.build_webhook(
        "charge.dispute.created", dispute_object(payment), event_id="evt_x", now=clock.now()
    )
    result = await harness.services.webhooks.receive("other", body, headers)
    assert result.outcome == "unknown_payment"
    assert harness.store.disputes == {}


def attrs_evolve_providers(services: Services, registry: ProviderRegistry) -> Any:
    import attrs  # noqa: PLC0415

    return attrs.evolve(services.deps, providers=registry)


async def test_replays_and_repeats_record_the_money_once(kit: Kit) -> None:
    payment = await kit.paid()
    first = await kit.deliver("charge.dispute.funds_withdrawn", dispute_object(payment))
    assert first.outcome == "dispute_opened"
    # The same event again (deduplicated), then the same fact under another id, then a replay.
    assert (
        await kit.deliver(
            "charge.dispute.funds_withdrawn", dispute_object(payment), event_id="evt_1"
        )
    ).duplicate
    again = await kit.deliver("charge.dispute.funds_withdrawn", dispute_object(payment))
    assert again.outcome == "unchanged"
    replayed = await kit.services.webhooks.replay(first.webhook_id)
    assert replayed.outcome == "unchanged"
    assert kinds(kit, payment) == [R.CHARGE, R.CHARGEBACK]
    won = await kit.deliver("charge.dispute.closed", dispute_object(payment, status="won"))
    assert won.outcome == "dispute_closed"
    # An old "withdrawn" replayed after the win moves no money and reopens nothing.
    assert (await kit.services.webhooks.replay(first.webhook_id)).outcome == "unchanged"
    late = await kit.deliver("charge.dispute.updated", dispute_object(payment))
    assert late.outcome == "unchanged"
    assert kinds(kit, payment) == [R.CHARGE, R.CHARGEBACK, R.CHARGEBACK_REVERSED]
    other_amount = await kit.deliver(
        "charge.dispute.updated", dispute_object(payment, amount=5_000)
    )
    assert other_amount.outcome == "amount_mismatch"
    assert (await kit.services.billing.verify()).ok


async def test_a_report_naming_another_payment_changes_nothing(kit: Kit) -> None:
    payment, other = await kit.paid(), await kit.paid()
    await kit.deliver("charge.dispute.created", dispute_object(payment))
    moved = await kit.deliver(
        "charge.dispute.closed",
        dispute_object(payment, payment_intent=other.provider_payment_id, status="lost"),
    )
    assert moved.outcome == "provider_id_mismatch"
    (dispute,) = kit.harness.store.disputes.values()
    assert dispute.status is D.NEEDS_RESPONSE


async def test_an_inquiry_moves_no_money_and_closes_won_or_escalates(kit: Kit) -> None:
    payment = await kit.paid()
    opened = await kit.deliver(
        "charge.dispute.created", dispute_object(payment, status="warning_needs_response")
    )
    assert opened.outcome == "dispute_opened"
    (dispute,) = kit.harness.store.disputes.values()
    assert dispute.inquiry
    assert dispute.status is D.NEEDS_RESPONSE
    await kit.deliver(
        "charge.dispute.updated", dispute_object(payment, status="warning_under_review")
    )
    # Escalated into a chargeback: the same dispute, evidence due again, money withdrawn.
    await kit.deliver("charge.dispute.updated", dispute_object(payment, status="needs_response"))
    await kit.deliver("charge.dispute.funds_withdrawn", dispute_object(payment))
    (dispute,) = kit.harness.store.disputes.values()
    assert (dispute.inquiry, dispute.status, dispute.funds_withdrawn) == (
        False,
        D.NEEDS_RESPONSE,
        True,
    )
    assert kinds(kit, payment) == [R.CHARGE, R.CHARGEBACK]


async def test_an_inquiry_closed_in_our_favour_is_won_without_records(kit: Kit) -> None:
    payment = await kit.paid()
    await kit.deliver(
        "charge.dispute.created", dispute_object(payment, status="warning_needs_response")
    )
    await kit.deliver("charge.dispute.closed", dispute_object(payment, status="warning_closed"))
    (dispute,) = kit.harness.store.disputes.values()
    assert dispute.status is D.WON
    assert kinds(kit, payment) == [R.CHARGE]


async def test_reconciliation_asks_about_open_disputes_past_their_deadline(kit: Kit) -> None:
    payment, dispute = await disputed(kit)
    provider = kit.harness.provider
    # The provider decided, but its webhook was lost.
    provider._disputes[dispute.provider_dispute_id].status = "lost"
    assert await kit.services.disputes.reconcile() == 0  # not due yet
    kit.harness.clock.advance(timedelta(days=8))
    assert await kit.services.disputes.reconcile() == 1
    lost = await kit.services.disputes.get(dispute.id)
    assert lost.status is D.LOST
    assert lost.next_check_at is None
    assert kinds(kit, payment) == [R.CHARGE, R.CHARGEBACK]
    assert await kit.services.disputes.reconcile() == 0


async def test_lists_by_status_oldest_first(kit: Kit) -> None:
    _, first = await disputed(kit)
    _, second = await disputed(kit)
    await kit.services.disputes.add_evidence(second.id, {}, submit=True)
    needs = await kit.services.disputes.list(D.NEEDS_RESPONSE, PageRequest())
    assert [d.id for d in needs.items] == [first.id]
    every = await kit.services.disputes.list(None, PageRequest())
    assert [d.id for d in every.items] == [first.id, second.id]


async def test_our_id_echoed_back_finds_only_a_payment_of_that_provider(kit: Kit) -> None:
    """PayPal's disputes name the capture and echo our payment id: that id finds a payment
    only of the provider whose signed event it is."""
    from datetime import UTC, datetime  # noqa: PLC0415

    from payment_core.ports import ProviderDispute, WebhookEvent, WebhookKind  # noqa: PLC0415

    payment = await kit.paid()  # the fake's
    report = ProviderDispute(
        provider_dispute_id="PP-D-1",
        status=D.NEEDS_RESPONSE,
        payment_id=payment.id,
        amount=payment.amount,
    )
    event = WebhookEvent(
        id="WH-1",
        type="CUSTOMER.DISPUTE.CREATED",
        kind=WebhookKind.DISPUTE,
        created_at=datetime.now(UTC),
        dispute=report,
    )
    async with kit.harness.uow() as uow:
        assert await kit.services.disputes.apply_report_in(uow, "paypal", event) == (
            "provider_mismatch"
        )
    async with kit.harness.uow() as uow:
        assert await kit.services.disputes.apply_report_in(uow, "fake", event) == "dispute_opened"
        await uow.commit()
    (dispute,) = kit.harness.store.disputes.values()
    assert dispute.payment_id == payment.id


async def test_a_captured_hold_of_the_dispute_token_is_disputed_for_what_was_taken(
    kit: Kit,
) -> None:
    payment = await kit.hold("pm_card_createDispute")
    assert payment.status.value == "AUTHORIZED"
    kit.harness.clock.advance(timedelta(seconds=3))
    assert await kit.harness.deliver_webhooks() == 0  # a hold takes nothing to dispute
    captured = await kit.services.payments.capture(payment.id, 6_000)
    assert captured.amount_captured == 6_000
    kit.harness.clock.advance(timedelta(seconds=3))
    assert await kit.harness.deliver_webhooks() == 2
    (dispute,) = (await kit.services.disputes.list_by_payment(payment.id, PageRequest())).items
    assert dispute.amount.amount == 6_000
    assert kinds(kit, payment) == [R.CHARGE, R.CHARGEBACK]


async def test_a_submission_whose_answer_was_lost_is_settled_by_the_providers_word(
    kit: Kit,
) -> None:
    from payment_core.errors import ProviderUnavailableError  # noqa: PLC0415

    _, dispute = await disputed(kit)
    kit.harness.provider.inject_failure(
        "submit_dispute_evidence",
        ProviderUnavailableError(message="lost"),
        after_effect=True,
    )
    with pytest.raises(ProviderUnavailableError):
        await kit.services.disputes.add_evidence(dispute.id, {}, submit=True)
    # Never guessed: the claim stays, and the provider is asked soon.
    waiting = await kit.services.disputes.get(dispute.id)
    assert waiting.evidence_submitting
    assert waiting.status is D.NEEDS_RESPONSE
    assert await kit.services.disputes.reconcile() == 0
    kit.harness.clock.advance(timedelta(minutes=2))
    # The provider has it (under review): the check says so, and it is submitted here.
    assert await kit.services.disputes.reconcile() == 1
    checked = await kit.services.disputes.get(dispute.id)
    assert checked.status is D.UNDER_REVIEW
    assert checked.evidence_submitted_at == kit.harness.clock.now()
    assert not checked.evidence_submitting


async def test_a_submission_that_never_arrived_may_be_made_again(kit: Kit) -> None:
    from payment_core.errors import ProviderUnavailableError  # noqa: PLC0415

    _, dispute = await disputed(kit)
    kit.harness.provider.inject_failure(
        "submit_dispute_evidence", ProviderUnavailableError(message="down")
    )
    with pytest.raises(ProviderUnavailableError):
        await kit.services.disputes.add_evidence(dispute.id, {}, submit=True)
    with pytest.raises(DisputeEvidenceClosedError) as closed:
        await kit.services.disputes.add_evidence(dispute.id, {}, submit=True)
    assert closed.value.reason == "submitting"
    kit.harness.clock.advance(timedelta(minutes=2))
    assert await kit.services.disputes.reconcile() == 1  # still waiting for evidence there
    again = await kit.services.disputes.add_evidence(dispute.id, {}, submit=True)
    assert again.status is D.UNDER_REVIEW
    # Every try carried the same key: the provider takes the evidence once.
    assert set(kit.calls("submit_dispute_evidence")) == {f"dispute-{dispute.id}-submit"}
