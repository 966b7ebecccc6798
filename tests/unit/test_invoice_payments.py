"""An invoice is paid by its payment only as far as the payment holds the money.

The payment must be of the invoice's booking and currency; it gives what it still holds (its
amount less refunds, done or in flight, less what it already paid other invoices); the invoice
is ``PAID`` once that covers its total, else it stays ``OPEN`` with the part in ``amount_paid``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from payment_core import CreateInvoice, InvoiceStatus, LineItem, PaymentStatus, UpdateInvoice
from payment_core.errors import (
    InvalidTransitionError,
    InvoicePaymentMismatchError,
    RefundExceedsRefundableError,
)
from payment_core.services import BookingCancelled, CreatePayment
from payment_core.testing import SettableClock, build_in_memory

T = TypeVar("T")
Inv = InvoiceStatus


def room(amount: int) -> list[LineItem]:
    """One line of ``amount`` minor units, no tax: the invoice's total is ``amount``."""
    return [LineItem("Room", 1, amount)]


async def issued(kit, payment, amount: int, **kwargs: Any):
    invoice = await kit.draft(room(amount), payment_id=payment.id, **kwargs)
    return await kit.services.invoices.issue(invoice.id)


# ---------------------------------------------------------------------------- the three reports


async def test_a_small_payment_does_not_pay_a_large_invoice(kit) -> None:
    payment = await kit.paid(amount=100)
    invoice = await issued(kit, payment, 500_000)
    assert invoice.status is Inv.OPEN
    assert (invoice.amount_paid, invoice.amount_applied, invoice.amount_due.amount) == (
        100,
        100,
        499_900,
    )


async def test_one_payment_pays_one_of_three_invoices_of_its_amount(kit) -> None:
    payment = await kit.paid(amount=500_000)
    first, second, third = [await issued(kit, payment, 500_000) for _ in range(3)]
    assert [i.status for i in (first, second, third)] == [Inv.PAID, Inv.OPEN, Inv.OPEN]
    assert [i.amount_paid for i in (first, second, third)] == [500_000, 0, 0]


async def test_a_fully_refunded_payment_pays_nothing_on_issue(kit, services) -> None:
    payment = await kit.paid(amount=500_000)
    await services.refunds.create(payment.id, None)
    invoice = await issued(kit, payment, 500_000)
    assert (invoice.status, invoice.amount_paid) == (Inv.OPEN, 0)


async def test_open_invoices_share_a_completing_payment_oldest_first(kit, services) -> None:
    payment = await kit.create(amount=500_000)
    invoices = [await issued(kit, payment, amount) for amount in (300_000, 300_000, 100_000)]
    await services.payments.confirm(payment.id)
    paid = [await services.invoices.get(i.id) for i in invoices]
    assert [(i.status, i.amount_paid) for i in paid] == [
        (Inv.PAID, 300_000),
        (Inv.OPEN, 200_000),
        (Inv.OPEN, 0),
    ]


# ---------------------------------------------------------------------------- what a payment holds


async def test_a_refund_in_flight_holds_its_amount_back(kit, services) -> None:
    payment = await kit.paid("pm_card_refundFail", amount=10_000)
    refund = await services.refunds.create(payment.id, 4_000)
    assert refund.status is not refund.status.COMPLETED  # the provider keeps refusing it
    invoice = await issued(kit, payment, 10_000)
    assert (invoice.status, invoice.amount_paid) == (Inv.OPEN, 6_000)


async def test_a_booking_cancelled_in_flight_pays_no_invoice(kit, services, clock) -> None:
    """Completing after its booking was cancelled, the payment goes straight back."""
    payment = await kit.paid("pm_card_timeout", amount=10_000)  # PROCESSING: answer lost
    invoice = await issued(kit, payment, 10_000)
    await services.bookings.booking_cancelled("evt-1", BookingCancelled(payment.booking_id))
    clock.advance(minutes=5)
    await services.reconciliation.sweep()
    assert (await services.payments.get(payment.id)).status is PaymentStatus.COMPLETED
    after = await services.invoices.get(invoice.id)
    assert (after.status, after.amount_paid) == (Inv.OPEN, 0)


async def test_a_refund_after_the_invoice_is_paid_leaves_it_paid(kit, services) -> None:
    payment = await kit.paid(amount=10_000)
    invoice = await issued(kit, payment, 10_000)
    await services.refunds.create(payment.id, None)
    after = await services.invoices.get(invoice.id)
    assert (after.status, after.amount_paid, after.amount_applied) == (Inv.PAID, 10_000, 10_000)


async def test_voiding_an_invoice_gives_its_share_back_to_the_payment(kit, services) -> None:
    payment = await kit.paid(amount=10_000)
    partial = await issued(kit, payment, 30_000)
    voided = await services.invoices.void(partial.id)
    assert (voided.amount_paid, voided.amount_applied) == (0, 0)
    assert (await issued(kit, payment, 10_000)).status is Inv.PAID


async def test_marking_paid_by_hand_takes_what_the_payment_holds_first(kit, services) -> None:
    payment = await kit.paid(amount=10_000)
    invoice = await issued(kit, payment, 30_000)
    await services.refunds.create(payment.id, 5_000)
    paid = await services.invoices.mark_paid(invoice.id)
    # 10,000 taken on issue; the refund came after; the other 20,000 was paid otherwise.
    assert (paid.status, paid.amount_paid, paid.amount_applied) == (Inv.PAID, 30_000, 10_000)
    second = await issued(kit, payment, 100)
    assert (second.status, second.amount_paid) == (Inv.OPEN, 0)


async def test_a_pending_payment_pays_nothing_when_marked_paid_by_hand(kit, services) -> None:
    payment = await kit.create(amount=10_000)
    invoice = await issued(kit, payment, 10_000)
    paid = await services.invoices.mark_paid(invoice.id)
    assert (paid.amount_paid, paid.amount_applied) == (10_000, 0)
    await services.payments.confirm(payment.id)
    other = await issued(kit, payment, 10_000)
    assert other.status is Inv.PAID  # the payment still held all of it


async def test_a_zero_total_invoice_of_a_completed_payment_is_paid_on_issue(kit) -> None:
    payment = await kit.paid(amount=100)
    invoice = await issued(kit, payment, 0)
    assert (invoice.status, invoice.amount_paid) == (Inv.PAID, 0)


# ---------------------------------------------------------------------------- linking


async def test_linking_a_payment_of_another_booking_is_refused(kit) -> None:
    payment = await kit.paid(amount=10_000)
    with pytest.raises(InvoicePaymentMismatchError) as caught:
        await kit.draft(room(10_000), payment_id=payment.id, booking_id=uuid4())
    assert (caught.value.code, caught.value.field) == ("invoice_payment_mismatch", "payment_id")


async def test_relinking_a_draft_to_another_bookings_payment_changes_nothing(kit, services) -> None:
    mine = await kit.paid(amount=10_000)
    theirs = await kit.paid(amount=10_000)
    invoice = await kit.draft(room(10_000), payment_id=mine.id)
    with pytest.raises(InvoicePaymentMismatchError):
        await services.invoices.update(
            invoice.id, UpdateInvoice(payment_id=theirs.id, status="OPEN")
        )
    unchanged = await services.invoices.get(invoice.id)
    assert (unchanged.payment_id, unchanged.status) == (mine.id, Inv.DRAFT)


async def test_linking_a_payment_in_another_currency_is_refused(kit) -> None:
    payment = await kit.paid(amount=10_000, currency="USD")
    with pytest.raises(InvoicePaymentMismatchError):
        await kit.draft(room(10_000), payment_id=payment.id, currency="EUR")


async def test_linking_and_issuing_in_one_patch_pays_from_the_new_payment(kit, services) -> None:
    payment = await kit.paid(amount=10_000)
    invoice = await kit.draft(room(10_000), booking_id=payment.booking_id)
    paid = await services.invoices.update(
        invoice.id, UpdateInvoice(payment_id=payment.id, status="OPEN")
    )
    assert (paid.status, paid.amount_applied) == (Inv.PAID, 10_000)


# ---------------------------------------------------------------------------- the property


@attrs.define
class Bill:
    payment_id: UUID
    total: int
    status: InvoiceStatus = Inv.DRAFT
    applied: int = 0
    by_hand: bool = False


AMOUNTS = st.sampled_from([0, 1, 2_500, 5_000, 7_500, 10_000])


class InvoicesOfOneBooking(RuleBasedStateMachine):
    """Payments, refunds and invoices of one booking, moved in any order.

    The model holds the rule (what a payment still holds, oldest invoice first); after every
    step the store agrees with it, and no payment has paid out more than its amount.
    """

    payments = Bundle("payments")
    invoices = Bundle("invoices")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.harness = build_in_memory(clock=SettableClock(datetime(2026, 6, 1, tzinfo=UTC)))
        self.services = self.harness.services
        self.booking, self.guest = uuid4(), uuid4()
        self.amounts: dict[UUID, int] = {}
        self.tokens: dict[UUID, str] = {}
        self.bills: dict[UUID, Bill] = {}

    def teardown(self) -> None:
        self.loop.close()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    # ------------------------------------------------------------------ model
    def holds(self, payment_id: UUID) -> int:
        payment = self.harness.store.payments[payment_id]
        if payment.status is not PaymentStatus.COMPLETED:
            return 0
        paid = sum(b.applied for b in self.bills.values() if b.payment_id == payment_id)
        return max(0, payment.refundable - paid)

    def take(self, bill: Bill) -> None:
        bill.applied += min(self.holds(bill.payment_id), bill.total - bill.applied)

    # ------------------------------------------------------------------ payments and refunds
    @initialize(target=payments)
    def first_payment(self) -> UUID:
        return self.new_payment(10_000, complete=True, token="pm_card_visa")

    @rule(
        target=payments,
        amount=st.sampled_from([1, 5_000, 10_000, 15_000]),
        complete=st.booleans(),
        # refundFail: its refunds stay in flight (holding their amount) until they fail.
        token=st.sampled_from(["pm_card_visa", "pm_card_refundFail"]),
    )
    def new_payment(self, amount: int, complete: bool, token: str) -> UUID:
        payment = self.run(
            self.services.payments.create(
                CreatePayment(
                    booking_id=self.booking, guest_id=self.guest, amount=amount, currency="EUR"
                )
            )
        )
        self.amounts[payment.id] = amount
        self.tokens[payment.id] = token
        if complete:
            self.complete(payment.id)
        return payment.id

    @rule(payment_id=payments)
    def complete(self, payment_id: UUID) -> None:
        if self.harness.store.payments[payment_id].status is not PaymentStatus.PENDING:
            return
        waiting = sorted(
            (
                (self.harness.store.invoices[iid].created_at, iid)
                for iid, b in self.bills.items()
                if b.payment_id == payment_id and b.status in (Inv.OPEN, Inv.UNCOLLECTIBLE)
            ),
        )
        self.run(self.services.payments.confirm(payment_id, self.tokens[payment_id]))
        for _, iid in waiting:  # oldest first, each what is left
            bill = self.bills[iid]
            self.take(bill)
            if bill.applied == bill.total:
                bill.status = Inv.PAID

    @rule(payment_id=payments, amount=st.sampled_from([1, 2_500, 5_000, None]))
    def refund(self, payment_id: UUID, amount: int | None) -> None:
        # Not completed, or nothing left to refund: the model reads the payment as it is.
        with contextlib.suppress(InvalidTransitionError, RefundExceedsRefundableError):
            self.run(self.services.refunds.create(payment_id, amount))

    @rule()
    def time_passes_and_due_refunds_run(self) -> None:
        """Refunds in flight are retried; those the provider keeps refusing fail for good and
        give their hold back to the payment (nothing is paid again by that alone)."""
        self.harness.clock.advance(hours=12)
        self.run(self.services.refunds.process_due())

    # ------------------------------------------------------------------ invoices
    @rule(target=invoices, payment_id=payments, total=AMOUNTS)
    def draft(self, payment_id: UUID, total: int) -> UUID:
        invoice = self.run(
            self.services.invoices.create(
                CreateInvoice(
                    booking_id=self.booking,
                    guest_id=self.guest,
                    currency="EUR",
                    line_items=room(total),
                    payment_id=payment_id,
                )
            )
        )
        self.bills[invoice.id] = Bill(payment_id, total)
        self.harness.clock.advance(seconds=1)
        return invoice.id

    @rule(invoice_id=invoices)
    def issue(self, invoice_id: UUID) -> None:
        bill = self.bills[invoice_id]
        if bill.status is not Inv.DRAFT:
            return
        self.run(self.services.invoices.issue(invoice_id))
        self.take(bill)
        completed = self.harness.store.payments[bill.payment_id].status is PaymentStatus.COMPLETED
        bill.status = Inv.PAID if completed and bill.applied == bill.total else Inv.OPEN

    @rule(invoice_id=invoices)
    def mark_paid(self, invoice_id: UUID) -> None:
        bill = self.bills[invoice_id]
        if bill.status not in (Inv.OPEN, Inv.UNCOLLECTIBLE):
            return
        self.run(self.services.invoices.mark_paid(invoice_id))
        self.take(bill)
        bill.status, bill.by_hand = Inv.PAID, bill.applied < bill.total

    @rule(invoice_id=invoices)
    def void(self, invoice_id: UUID) -> None:
        bill = self.bills[invoice_id]
        if bill.status not in (Inv.DRAFT, Inv.OPEN):
            return
        self.run(self.services.invoices.void(invoice_id))
        bill.status, bill.applied = Inv.VOID, 0

    @precondition(lambda self: self.bills)
    @rule(invoice_id=invoices)
    def uncollectible(self, invoice_id: UUID) -> None:
        bill = self.bills[invoice_id]
        if bill.status is not Inv.OPEN:
            return
        self.run(self.services.invoices.mark_uncollectible(invoice_id))
        bill.status = Inv.UNCOLLECTIBLE

    # ------------------------------------------------------------------ invariants
    @invariant()
    def the_store_is_the_model(self) -> None:
        store = self.harness.store.invoices
        assert {i: (s.status, s.amount_applied) for i, s in store.items()} == {
            i: (b.status, b.applied) for i, b in self.bills.items()
        }

    @invariant()
    def a_payment_never_pays_more_than_its_amount(self) -> None:
        for payment_id, amount in self.amounts.items():
            invoices = self.harness.store.invoices.values()
            assert sum(i.amount_applied for i in invoices if i.payment_id == payment_id) <= amount

    @invariant()
    def a_paid_invoice_was_paid_its_total(self) -> None:
        for iid, invoice in self.harness.store.invoices.items():
            if invoice.status is Inv.PAID:
                assert invoice.amount_paid == invoice.total.amount
                if not self.bills[iid].by_hand:
                    assert invoice.amount_applied == invoice.total.amount
            else:  # what it shows paid is what its payment gave, and that is not all of it
                assert invoice.amount_paid == invoice.amount_applied
                assert invoice.amount_applied < invoice.total.amount or invoice.total.is_zero


InvoicesOfOneBooking.TestCase.settings = settings(
    parent=settings.default,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestInvoicesOfOneBooking = InvoicesOfOneBooking.TestCase
