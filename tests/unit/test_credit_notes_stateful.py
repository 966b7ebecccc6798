"""A Hypothesis state machine over payments, their invoices, refunds and credit notes.

Refunds complete at once or later by webhook (delivered again and again, under old and new
event ids, and replayed), some are reversed after completing, and credit notes are issued by
hand in between. After every step: no invoice is credited above its total and its notes add
up to ``amount_credited``; a refund has at most one note per invoice and its notes add up to
no more than its amount; refunds credit an invoice no more than its payment paid of it; note
numbers are gap-free; every note has its billing record and the chains verify.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
)

from payment_core import (
    BillingRecordType,
    CreateCreditNote,
    CreateInvoice,
    CreatePayment,
    InvoiceStatus,
    LineItem,
    RefundStatus,
    verify_chain,
)
from payment_core.errors import (
    CreditExceedsInvoiceError,
    InvalidTransitionError,
    RefundExceedsRefundableError,
)
from payment_core.model.credit_note import parse_credit_note_number
from payment_core.ports import ProviderRefund, ProviderRefundStatus, RefundRequest
from payment_core.testing import FakeProvider, SettableClock, build_in_memory

T = TypeVar("T")


class SometimesPending(FakeProvider):
    """Completes refunds at once, or, when told, accepts them as pending for a webhook."""

    pending = False

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        done = await super().refund(request)
        if not self.pending:
            return done
        return ProviderRefund(done.provider_refund_id, ProviderRefundStatus.PENDING, done.amount)


class CreditMachine(RuleBasedStateMachine):
    payments = Bundle("payments")
    invoices = Bundle("invoices")
    refunds = Bundle("refunds")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = SettableClock(datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
        self.provider = SometimesPending()
        self.harness = build_in_memory(clock=self.clock, provider=self.provider)
        self.services = self.harness.services
        self.booking, self.guest = uuid4(), uuid4()
        self.webhooks: list[UUID] = []
        self.events = 0

    def teardown(self) -> None:
        self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    async def _deliver(self, event_type: str, refund_id: UUID, status: str, event_id: str) -> str:
        refund = self.harness.store.refunds[refund_id]
        body, headers = self.provider.build_webhook(
            event_type,
            {
                "id": refund.provider_refund_id or f"re_fake_{refund.id.hex}",
                "object": "refund",
                "status": status,
                "amount": refund.amount.amount,
                "currency": "eur",
            },
            event_id=event_id,
            now=self.clock.now(),
        )
        result = await self.services.webhooks.receive("fake", body, headers)
        self.webhooks.append(result.webhook_id)
        return result.outcome

    # ------------------------------------------------------------------ rules
    @rule(target=payments, amount=st.integers(1_000, 40_000))
    def pay(self, amount: int) -> UUID:
        async def go() -> UUID:
            payment = await self.services.payments.create(
                CreatePayment(
                    booking_id=self.booking, guest_id=self.guest, amount=amount, currency="EUR"
                )
            )
            return (await self.services.payments.confirm(payment.id, "pm_card_visa")).id

        return self.run(go())

    @rule(
        target=invoices,
        payment=payments,
        units=st.lists(st.integers(0, 15_000), min_size=1, max_size=3),
        rate=st.sampled_from([0, 700, 1_000, 2_000]),
        by_hand=st.booleans(),
    )
    def invoice(self, payment: UUID, units: list[int], rate: int, by_hand: bool) -> UUID:
        async def go() -> UUID:
            draft = await self.services.invoices.create(
                CreateInvoice(
                    booking_id=self.booking,
                    guest_id=self.guest,
                    currency="EUR",
                    payment_id=payment,
                    line_items=[LineItem("Night", 1, u, rate) for u in units],
                )
            )
            issued = await self.services.invoices.issue(draft.id)
            if by_hand and issued.status is InvoiceStatus.OPEN:
                await self.services.invoices.mark_paid(issued.id)
            return issued.id

        self.clock.advance(timedelta(seconds=1))
        return self.run(go())

    @rule(target=refunds, payment=payments, amount=st.integers(1, 20_000), later=st.booleans())
    def refund(self, payment: UUID, amount: int, later: bool) -> MultipleResults[UUID]:
        self.provider.pending = later
        self.clock.advance(timedelta(seconds=1))
        refundable = self.harness.store.payments[payment].refundable
        try:
            refund = self.run(self.services.refunds.create(payment, amount))
        except RefundExceedsRefundableError:
            assert amount > refundable
            if not refundable:
                return multiple()
            refund = self.run(self.services.refunds.create(payment))  # whatever is left
        return multiple(refund.id)

    @rule(refund=refunds, event=st.sampled_from(["evt_a", "evt_b", "evt_c", None]))
    def succeed_by_webhook(self, refund: UUID, event: str | None) -> None:
        event_id = event or f"evt_{uuid4().hex}"
        self.run(self._deliver("refund.updated", refund, "succeeded", event_id + refund.hex))

    @precondition(lambda self: self.webhooks)
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        self.run(self.services.webhooks.replay(data.draw(st.sampled_from(self.webhooks))))

    @rule(refund=refunds)
    def reverse(self, refund: UUID) -> None:
        status = self.harness.store.refunds[refund].status
        outcome = self.run(self._deliver("refund.failed", refund, "failed", f"evt_{uuid4().hex}"))
        assert outcome == ("reversed" if status is RefundStatus.COMPLETED else "unchanged")

    @rule(invoice=invoices, amount=st.integers(1, 30_000))
    def credit(self, invoice: UUID, amount: int) -> None:
        before = self.harness.store.invoices[invoice]
        try:
            self.run(self.services.credit_notes.create(invoice, CreateCreditNote(amount=amount)))
        except InvalidTransitionError:
            assert before.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID)
        except CreditExceedsInvoiceError:
            assert amount > before.creditable
        else:
            assert before.status in (InvoiceStatus.OPEN, InvoiceStatus.PAID)
            assert amount <= before.creditable

    # ------------------------------------------------------------------ invariants
    @invariant()
    def invoices_are_never_credited_above_their_total(self) -> None:
        store = self.harness.store
        for invoice in store.invoices.values():
            notes = [n for n in store.credit_notes.values() if n.invoice_id == invoice.id]
            assert sum(n.amount.amount for n in notes) == invoice.amount_credited
            assert invoice.amount_credited <= invoice.total.amount
            by_refunds = sum(n.amount.amount for n in notes if n.refund_id is not None)
            assert by_refunds <= invoice.amount_applied

    @invariant()
    def a_refund_credits_once_per_invoice_and_never_more_than_it_gave(self) -> None:
        store = self.harness.store
        pairs = Counter(
            (n.invoice_id, n.refund_id) for n in store.credit_notes.values() if n.refund_id
        )
        assert all(count == 1 for count in pairs.values())
        for refund in store.refunds.values():
            notes = [n for n in store.credit_notes.values() if n.refund_id == refund.id]
            assert sum(n.amount.amount for n in notes) <= refund.amount.amount
            if notes:  # only a refund that completed (maybe reversed since) has notes
                assert refund.status in (RefundStatus.COMPLETED, RefundStatus.FAILED)
                assert refund.provider_refund_id is not None

    @invariant()
    def numbers_are_gap_free_per_year(self) -> None:
        years: dict[int, list[int]] = {}
        for note in self.harness.store.credit_notes.values():
            parsed = parse_credit_note_number(note.number)
            assert parsed is not None
            years.setdefault(parsed[0], []).append(parsed[1])
        for numbers in years.values():
            assert sorted(numbers) == list(range(1, len(numbers) + 1))

    @invariant()
    def every_note_is_in_the_audit_trail(self) -> None:
        chain = self.harness.store.billing.get(self.booking, [])
        issued = [r for r in chain if r.type is BillingRecordType.CREDIT_NOTE_ISSUED]
        assert len(issued) == len(self.harness.store.credit_notes)
        assert verify_chain(chain).ok


CreditMachine.TestCase.settings = settings(
    parent=settings.default,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestCreditMachine = CreditMachine.TestCase


def test_the_machine_reaches_automatic_notes() -> None:
    """A run the machine can make: a refund of a paid invoice's payment credits it."""
    machine = CreditMachine()
    try:
        payment = machine.pay(11_000)
        invoice = machine.invoice(payment, [10_000], 1_000, False)
        machine.refund(payment, 2_500, True)
        [refund] = machine.harness.store.refunds
        machine.succeed_by_webhook(refund, "evt_a")
        machine.succeed_by_webhook(refund, "evt_a")
        machine.reverse(refund)
        machine.a_refund_credits_once_per_invoice_and_never_more_than_it_gave()
        machine.invoices_are_never_credited_above_their_total()
        notes = list(machine.harness.store.credit_notes.values())
        assert [(n.invoice_id, n.amount.amount) for n in notes] == [(invoice, 2_500)]
    finally:
        machine.teardown()
