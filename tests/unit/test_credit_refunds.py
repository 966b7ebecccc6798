"""A refund that completes credits the PAID invoices its payment paid: once, whatever happens.

The rule (docs/documents.md): the refunded amount goes to the payment's PAID invoices, oldest
first, each up to what the payment paid of it that refunds have not credited yet and up to
what is still creditable on it; the rest credits nothing.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from payment_core import (
    BillingRecordType,
    CreateCreditNote,
    InvoiceStatus,
    LineItem,
    RefundStatus,
)
from payment_core.errors import ProviderUnavailableError, ValidationError
from payment_core.ports import ProviderRefund, ProviderRefundStatus, RefundRequest
from payment_core.testing import FakeProvider, build_in_memory

ROOM = [LineItem("Room", 1, 10_000, 1_000)]  # 110.00


class PendingRefunds(FakeProvider):
    """Accepts refunds as pending: a webhook says how they end."""

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        done = await super().refund(request)
        return ProviderRefund(done.provider_refund_id, ProviderRefundStatus.PENDING, done.amount)


def refund_object(refund, status: str) -> dict[str, object]:
    return {
        "id": refund.provider_refund_id or f"re_fake_{refund.id.hex}",
        "object": "refund",
        "status": status,
        "amount": refund.amount.amount,
        "currency": refund.amount.currency.code.lower(),
    }


async def _paid_invoice(kit, payment, lines=ROOM):
    draft = await kit.draft(lines, payment_id=payment.id)
    invoice = await kit.services.invoices.issue(draft.id)
    assert invoice.status is InvoiceStatus.PAID
    return invoice


async def _notes(services, invoice):
    return await services.credit_notes.all_for_invoice(invoice.id)


async def test_a_completed_refund_credits_the_paid_invoice(kit, services, harness) -> None:
    payment = await kit.paid(amount=11_000)
    invoice = await _paid_invoice(kit, payment)
    harness.publisher.clear()
    refund = await services.refunds.create(payment.id, 2_500, "requested_by_customer")
    assert refund.status is RefundStatus.COMPLETED
    [note] = await _notes(services, invoice)
    assert (note.amount.amount, note.tax, note.refund_id, note.reason, note.memo) == (
        2_500,
        227,
        refund.id,
        "requested_by_customer",
        f"Refund {refund.reference}",
    )
    assert (await services.invoices.get(invoice.id)).amount_credited == 2_500
    assert [r.type for r in kit.records(payment.booking_id)][-2:] == [
        BillingRecordType.REFUND,
        BillingRecordType.CREDIT_NOTE_ISSUED,
    ]
    assert harness.published_types()[-2:] == ["refund.completed", "credit_note.issued"]


async def test_no_credit_note_without_a_paid_invoice(kit, services) -> None:
    bare = await kit.paid(amount=5_000)
    await services.refunds.create(bare.id, 1_000)
    partly = await kit.paid(amount=5_000)
    opened = await services.invoices.issue((await kit.draft(ROOM, payment_id=partly.id)).id)
    assert (opened.status, opened.amount_paid) == (InvoiceStatus.OPEN, 5_000)
    await services.refunds.create(partly.id, 1_000)
    assert kit.harness.store.credit_notes == {}


async def test_a_refund_spreads_over_the_invoices_its_payment_paid(kit, services, clock) -> None:
    payment = await kit.paid(amount=30_000)
    first = await _paid_invoice(kit, payment)
    clock.advance(timedelta(seconds=1))
    second = await _paid_invoice(kit, payment)
    # 30000 paid 11000 + 11000; 8000 of it paid no invoice.
    refund = await services.refunds.create(payment.id, 15_000)
    assert [n.amount.amount for n in await _notes(services, first)] == [11_000]
    assert [n.amount.amount for n in await _notes(services, second)] == [4_000]
    rest = await services.refunds.create(payment.id)  # 15000 more
    assert [(n.amount.amount, n.refund_id) for n in await _notes(services, second)] == [
        (4_000, refund.id),
        (7_000, rest.id),
    ]
    # 8000 of the second refund gave back money no invoice took: it credits nothing.
    assert sum(n.amount.amount for n in kit.harness.store.credit_notes.values()) == 22_000


async def test_each_invoice_is_credited_up_to_what_is_still_creditable(
    kit, services, clock
) -> None:
    payment = await kit.paid(amount=22_000)
    first = await _paid_invoice(kit, payment)
    clock.advance(timedelta(seconds=1))
    second = await _paid_invoice(kit, payment)
    await services.credit_notes.create(first.id, CreateCreditNote(amount=10_000))
    await services.refunds.create(payment.id, 5_000)
    assert [n.amount.amount for n in await _notes(services, first)] == [10_000, 1_000]
    assert [n.amount.amount for n in await _notes(services, second)] == [4_000]


async def test_money_paid_otherwise_is_not_credited_by_a_refund(kit, services) -> None:
    """An invoice marked PAID by hand before its payment completed took nothing from it:
    refunding that payment gives back no money of the invoice's."""
    payment = await kit.create(amount=11_000)
    invoice = await services.invoices.issue((await kit.draft(ROOM, payment_id=payment.id)).id)
    invoice = await services.invoices.mark_paid(invoice.id)
    await services.payments.confirm(payment.id)
    assert (invoice.amount_applied, invoice.amount_paid) == (0, 11_000)
    await services.refunds.create(payment.id, 11_000)
    assert await _notes(services, invoice) == []


async def test_a_refund_retried_after_an_unknown_outcome_credits_once(kit, services, clock) -> None:
    payment = await kit.paid(amount=11_000)
    invoice = await _paid_invoice(kit, payment)
    kit.harness.provider.inject_failure(
        "refund", ProviderUnavailableError(message="timeout"), after_effect=True
    )
    refund = await services.refunds.create(payment.id, 3_000)
    assert refund.status is RefundStatus.PENDING
    assert await _notes(services, invoice) == []
    clock.advance(timedelta(hours=1))
    assert await services.refunds.process_due() == 1
    assert await services.refunds.process_due() == 0
    await services.refunds.process(refund.id)  # a COMPLETED refund comes back as it is
    assert (await services.refunds.get(refund.id)).status is RefundStatus.COMPLETED
    assert [(n.amount.amount, n.refund_id) for n in await _notes(services, invoice)] == [
        (3_000, refund.id)
    ]


async def test_redelivered_and_replayed_refund_webhooks_credit_once(make_kit) -> None:
    harness = build_in_memory(provider=PendingRefunds())
    kit = make_kit(harness)
    services = harness.services
    payment = await kit.paid(amount=11_000)
    invoice = await _paid_invoice(kit, payment)
    refund = await services.refunds.create(payment.id, 4_000)
    assert refund.status is RefundStatus.PROCESSING
    first = await kit.deliver("refund.updated", refund_object(refund, "succeeded"), event_id="e1")
    again = await kit.deliver("refund.updated", refund_object(refund, "succeeded"), event_id="e1")
    other = await kit.deliver("refund.updated", refund_object(refund, "succeeded"), event_id="e2")
    replayed = await services.webhooks.replay(first.webhook_id)
    assert [r.outcome for r in (first, again, other, replayed)] == [
        "settled",
        "duplicate",
        "unchanged",
        "unchanged",
    ]
    assert [(n.amount.amount, n.refund_id) for n in await _notes(services, invoice)] == [
        (4_000, refund.id)
    ]


async def test_a_reversed_refund_leaves_its_credit_note(kit, services, harness) -> None:
    payment = await kit.paid(amount=11_000)
    invoice = await _paid_invoice(kit, payment)
    refund = await services.refunds.create(payment.id, 2_000)
    result = await kit.deliver("refund.failed", refund_object(refund, "failed"))
    assert result.outcome == "reversed"
    assert [n.refund_id for n in await _notes(services, invoice)] == [refund.id]
    after = await services.invoices.get(invoice.id)
    assert (after.status, after.amount_credited) == (InvoiceStatus.PAID, 2_000)
    assert kit.records(payment.booking_id)[-1].type is BillingRecordType.REFUND_REVERSED
    # Refunded again for real: that refund has its own credit note.
    again = await services.refunds.create(payment.id, 2_000)
    assert [n.refund_id for n in await _notes(services, invoice)] == [refund.id, again.id]


# ---------------------------------------------------------------------------- by hand


async def test_a_note_by_hand_may_document_a_refund_of_the_invoices_payment(kit, services) -> None:
    payment = await kit.paid(amount=5_000)
    opened = await services.invoices.issue((await kit.draft(ROOM, payment_id=payment.id)).id)
    refund = await services.refunds.create(payment.id, 3_000)  # OPEN: nothing automatic
    assert await _notes(services, opened) == []
    note = await services.credit_notes.create(
        opened.id, CreateCreditNote(amount=3_000, refund_id=refund.id)
    )
    assert note.refund_id == refund.id
    with pytest.raises(ValidationError, match="already"):
        await services.credit_notes.create(
            opened.id, CreateCreditNote(amount=1, refund_id=refund.id)
        )


async def test_a_note_by_hand_credits_no_more_than_its_refund(kit, services, clock) -> None:
    payment = await kit.paid(amount=30_000)
    first = await services.invoices.issue((await kit.draft(ROOM)).id)
    refund = await services.refunds.create(payment.id, 3_000)
    # Issued after the refund completed: paid by the payment, never credited by the refund.
    other = await services.invoices.issue((await kit.draft(ROOM, payment_id=payment.id)).id)
    with pytest.raises(ValidationError) as wrong_payment:
        await services.credit_notes.create(
            first.id, CreateCreditNote(amount=1_000, refund_id=refund.id)
        )
    assert wrong_payment.value.field == "refund_id"
    with pytest.raises(ValidationError) as too_much:
        await services.credit_notes.create(
            other.id, CreateCreditNote(amount=3_001, refund_id=refund.id)
        )
    assert too_much.value.field == "amount"


@pytest.mark.parametrize("known", [True, False])
async def test_a_note_by_hand_needs_a_completed_refund(make_kit, known) -> None:
    harness = build_in_memory(provider=PendingRefunds())
    kit = make_kit(harness)
    payment = await kit.paid(amount=11_000)
    opened = await harness.services.invoices.issue(
        (await kit.draft([LineItem("Room", 1, 20_000)], payment_id=payment.id)).id
    )
    refund = await harness.services.refunds.create(payment.id, 1_000)  # PROCESSING
    with pytest.raises(ValidationError) as caught:
        await harness.services.credit_notes.create(
            opened.id, CreateCreditNote(amount=100, refund_id=refund.id if known else uuid4())
        )
    assert caught.value.field == "refund_id"
    assert caught.value.reason == ("the refund has not completed" if known else "no such refund")
