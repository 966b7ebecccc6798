"""A Hypothesis state machine over payments (holds and saved cards included), refunds and
invoices, driven through the services.

The model below knows the contract (which moves are legal, what each fake token does) and
nothing of the implementation. After every step: no illegal move succeeded and every legal one
did, refunds never exceed the captured amount, the billing trail reconciles with what was
captured and refunded and its chains verify, invoice numbers stay unique and gap-free per year,
no payment pays its invoices more than it holds (a PAID invoice was paid its whole total), and
each payment's events follow its state machine (a hold's warning told at most once).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

import attrs
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from payment_core import (
    BillingRecordType,
    CreateInvoice,
    CreatePayment,
    InvoiceStatus,
    LineItem,
    PaymentStatus,
    RefundStatus,
    UpdateInvoice,
    verify_chain,
)
from payment_core.errors import (
    CaptureExceedsAuthorizedError,
    CardDeclinedError,
    InvalidTransitionError,
    InvoiceNotEditableError,
    InvoicePaymentMismatchError,
    PaymentMethodDetachedError,
    ProviderRejectedError,
    ProviderUnavailableError,
    RefundExceedsRefundableError,
    ValidationError,
)
from payment_core.model.invoice import parse_invoice_number
from payment_core.testing import FAKE_TOKENS, SettableClock, build_in_memory

T = TypeVar("T")
P, R, Inv = PaymentStatus, RefundStatus, InvoiceStatus

# What confirming with each token does, by the contract (None: the default, visa).
AFTER_CONFIRM = {
    None: P.COMPLETED,
    "pm_card_visa": P.COMPLETED,
    "pm_card_mastercard": P.COMPLETED,
    "pm_card_refundFail": P.COMPLETED,
    "pm_card_chargeDeclined": P.FAILED,
    "pm_card_chargeDeclinedInsufficientFunds": P.FAILED,
    "pm_card_authenticationRequired": P.PROCESSING,
    "pm_card_timeout": P.PROCESSING,
    "pm_card_amountMismatch": P.PROCESSING,
    "pm_card_offSessionAuthRequired": P.COMPLETED,
    "pm_card_offSessionDeclined": P.COMPLETED,
    "pm_card_incrementDeclined": P.COMPLETED,
    # Completes; its dispute arrives later, by webhook (tests/unit/test_disputes.py).
    "pm_card_createDispute": P.COMPLETED,
}
# A saved card charged without the guest: what its token's issuer does (any other completes).
# A decline token saved by a forged success webhook declines every charge after it too.
OFF_SESSION = {
    "pm_card_chargeDeclined": (P.FAILED, "card_declined"),
    "pm_card_chargeDeclinedInsufficientFunds": (P.FAILED, "insufficient_funds"),
    "pm_card_offSessionAuthRequired": (P.FAILED, "authentication_required"),
    "pm_card_offSessionDeclined": (P.FAILED, "card_declined"),
    "pm_card_authenticationRequired": (P.FAILED, "authentication_required"),
    "pm_card_amountMismatch": (P.PROCESSING, "provider_amount_mismatch"),
    "pm_card_timeout": (P.PROCESSING, None),
}
# What the reconciliation sweep finds for a payment left PROCESSING.
AFTER_SWEEP = {
    "pm_card_timeout": P.COMPLETED,
    "pm_card_authenticationRequired": P.PROCESSING,
    "pm_card_amountMismatch": P.PROCESSING,
}
TERMINAL_EVENTS = ("payment.completed", "payment.failed", "payment.cancelled", "payment.expired")
REFUND_MOVES = {
    R.PENDING: {R.PENDING, R.PROCESSING, R.COMPLETED, R.FAILED},
    R.PROCESSING: {R.PROCESSING, R.COMPLETED, R.FAILED, R.PENDING},
    R.COMPLETED: {R.COMPLETED, R.FAILED},
    R.FAILED: {R.FAILED},
}
MAX_ATTEMPTS = 8


@attrs.define
class PaymentModel:
    amount: int
    token: str | None
    status: PaymentStatus = P.PENDING
    manual: bool = False
    #: Asked to save its card; the saved method, once it did.
    saves: bool = False
    method_id: UUID | None = None
    capturable: int = 0
    captured: int = 0
    expires_at: datetime | None = None

    def after_confirm(self, status: PaymentStatus) -> PaymentStatus:
        """A manual payment the provider took is held instead."""
        return P.AUTHORIZED if self.manual and status is P.COMPLETED else status


@attrs.define
class RefundModel:
    payment_id: UUID
    amount: int
    status: RefundStatus


@attrs.define
class InvoiceModel:
    status: InvoiceStatus
    total: int
    payment_id: UUID | None
    lines: int
    #: Taken from its payment.
    applied: int = 0
    #: Marked PAID while its payment did not cover it.
    by_hand: bool = False

    @property
    def has_lines(self) -> bool:
        return self.lines > 0


def total_of(lines: list[LineItem]) -> int:
    return sum(line.amount + line.tax for line in lines)


line_items = st.lists(
    st.builds(
        LineItem,
        description=st.sampled_from(["Room", "Breakfast", "City tax"]),
        quantity=st.integers(min_value=1, max_value=5),
        unit_amount=st.integers(min_value=0, max_value=50_000),
        tax_rate_bps=st.sampled_from([0, 550, 1_000, 2_000]),
    ),
    max_size=3,
)


class PaymentsMachine(RuleBasedStateMachine):
    payments = Bundle("payments")
    refunds = Bundle("refunds")
    invoices = Bundle("invoices")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        # Close to a year's end, so that steps of the clock cross into the next year.
        self.clock = SettableClock(datetime(2026, 12, 31, 20, 0, tzinfo=UTC))
        self.harness = build_in_memory(clock=self.clock)
        self.services = self.harness.services
        self.model_payments: dict[UUID, PaymentModel] = {}
        self.model_refunds: dict[UUID, RefundModel] = {}
        self.model_invoices: dict[UUID, InvoiceModel] = {}
        self.webhook_ids: list[str] = []

    def teardown(self) -> None:
        self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T] | Awaitable[T]) -> T:
        return self.loop.run_until_complete(coro)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ model upkeep
    def refresh(self) -> None:
        """Fold what the services did by themselves (settling, auto-paying) into the model,
        checking that each change was a legal one."""
        store = self.harness.store
        for pid, model in self.model_payments.items():
            actual = store.payments[pid].status
            if actual is not model.status:
                assert (model.status, actual) in {
                    (P.PENDING, P.COMPLETED),  # a webhook for a customer-confirmed payment
                    (P.PROCESSING, P.COMPLETED),
                    (P.PROCESSING, P.FAILED),
                    (P.PROCESSING, P.AUTHORIZED),  # reconciliation finds it held
                    (P.AUTHORIZED, P.EXPIRED),  # its deadline passed
                }, (model.status, actual)
                model.status = actual
            payment = store.payments[pid]
            if actual is P.AUTHORIZED and model.expires_at is None:
                model.capturable = payment.amount_capturable
                model.expires_at = payment.authorization_expires_at
            if actual is P.COMPLETED and not model.captured:
                model.captured = payment.amount_captured
                assert model.captured == (model.capturable if model.manual else model.amount) or (
                    payment.amount_captured == payment.amount.amount
                )
            if model.saves and model.method_id is None:
                model.method_id = payment.payment_method_id
        for rid, refund in self.model_refunds.items():
            actual_r = store.refunds[rid].status
            assert actual_r in REFUND_MOVES[refund.status], (refund.status, actual_r)
            refund.status = actual_r
        for iid, invoice in self.model_invoices.items():
            actual = store.invoices[iid]
            if (actual.status, actual.amount_applied) == (invoice.status, invoice.applied):
                continue
            # Only a payment that completes pays by itself, its open invoices, never backwards.
            linked = invoice.payment_id
            assert linked is not None
            assert store.payments[linked].status is P.COMPLETED
            assert invoice.status in (Inv.OPEN, Inv.UNCOLLECTIBLE)
            assert actual.amount_applied >= invoice.applied  # a zero total takes nothing
            if actual.status is not invoice.status:
                assert actual.status is Inv.PAID, (invoice.status, actual.status)
                assert actual.amount_applied == invoice.total
            invoice.status, invoice.applied = actual.status, actual.amount_applied

    def refundable(self, payment_id: UUID) -> int:
        held = sum(
            r.amount
            for r in self.model_refunds.values()
            if r.payment_id == payment_id and r.status is not R.FAILED
        )
        return self.model_payments[payment_id].captured - held

    def left_to_pay(self, payment_id: UUID) -> int:
        """What a payment can still pay invoices: what it holds less what it already paid."""
        if self.model_payments[payment_id].status is not P.COMPLETED:
            return 0
        paid = sum(i.applied for i in self.model_invoices.values() if i.payment_id == payment_id)
        return max(0, self.refundable(payment_id) - paid)

    # ------------------------------------------------------------------ payments
    @initialize(target=payments)
    def first_payment(self) -> UUID:
        return self.create_payment("pm_card_visa", 10_000, manual=True, save=True)

    @rule(
        target=payments,
        token=st.sampled_from(sorted(AFTER_CONFIRM, key=str)),
        amount=st.integers(min_value=1, max_value=100_000),
        manual=st.booleans(),
        save=st.booleans(),
    )
    def create_payment(
        self, token: str | None, amount: int, manual: bool = False, save: bool = False
    ) -> UUID:
        payment = self.run(
            self.services.payments.create(
                CreatePayment(
                    booking_id=uuid4(),
                    guest_id=uuid4(),
                    amount=amount,
                    currency="EUR",
                    payment_method=token,
                    capture_method="manual" if manual else "automatic",
                    setup_future_usage="off_session" if save else None,
                )
            )
        )
        assert payment.status is P.PENDING
        self.model_payments[payment.id] = PaymentModel(amount, token, manual=manual, saves=save)
        return payment.id

    @rule(payment_id=payments)
    def confirm(self, payment_id: UUID) -> None:
        model = self.model_payments[payment_id]
        try:
            payment = self.run(self.services.payments.confirm(payment_id))
        except InvalidTransitionError as error:
            assert model.status is not P.PENDING, "a legal confirm was refused"
            # A rule may raise by design; pytest.raises cannot say "iff the model says so".
            assert (error.current, error.requested) == (  # noqa: PT017
                model.status.value,
                "PROCESSING",
            )
            return
        assert model.status is P.PENDING, f"confirmed a {model.status} payment"
        assert payment.status is model.after_confirm(AFTER_CONFIRM[model.token])
        model.status = payment.status
        if model.status is P.COMPLETED:
            model.captured = model.amount
        self.refresh()

    @rule(payment_id=payments)
    def cancel(self, payment_id: UUID) -> None:
        """Cancel a pending payment, or release a hold."""
        model = self.model_payments[payment_id]
        legal = (P.PENDING, P.AUTHORIZED)
        try:
            payment = self.run(self.services.payments.cancel(payment_id))
        except InvalidTransitionError:
            assert model.status not in legal, "a legal cancel was refused"
            return
        assert model.status in legal, f"cancelled a {model.status} payment"
        assert (payment.status, payment.amount_capturable) == (P.CANCELLED, 0)
        model.status = P.CANCELLED

    def past_expiry(self, model: PaymentModel) -> bool:
        return model.expires_at is not None and self.clock.now() >= model.expires_at

    # ------------------------------------------------------------------ holds
    @rule(
        payment_id=payments,
        amount=st.one_of(st.none(), st.integers(min_value=1, max_value=120_000)),
    )
    def capture(self, payment_id: UUID, amount: int | None) -> None:
        model = self.model_payments[payment_id]
        try:
            payment = self.run(self.services.payments.capture(payment_id, amount))
        except InvalidTransitionError as error:
            held = model.status is P.AUTHORIZED
            assert not held or self.past_expiry(model), "a legal capture was refused"
            if held:
                assert error.current == "EXPIRED"  # noqa: PT017 - as in confirm
                model.status = P.EXPIRED
            return
        except CaptureExceedsAuthorizedError:
            assert amount is not None
            assert amount > model.capturable, "a capture within the hold was refused"
            return
        assert model.status is P.AUTHORIZED, f"captured a {model.status} payment"
        assert not self.past_expiry(model), "captured a hold past its expiry"
        expected = model.capturable if amount is None else amount
        assert expected <= model.capturable, "captured more than was held"
        assert (payment.status, payment.amount_captured) == (P.COMPLETED, expected)
        event("a hold was captured")
        model.status, model.captured, model.capturable = P.COMPLETED, expected, 0
        self.refresh()

    @rule(payment_id=payments, more=st.integers(min_value=-1_000, max_value=50_000))
    def increase_the_hold(self, payment_id: UUID, more: int) -> None:
        model = self.model_payments[payment_id]
        total = model.amount + more
        try:
            payment = self.run(self.services.payments.increment_authorization(payment_id, total))
        except InvalidTransitionError:
            assert model.status is not P.AUTHORIZED, "an increase of a hold was refused"
            return
        except ValidationError:
            assert total <= model.amount, "a larger hold was refused"
            assert model.status is P.AUTHORIZED or total < 1  # an amount of nothing, anywhere
            return
        except CardDeclinedError:
            assert model.token == "pm_card_incrementDeclined"
            return
        except ProviderRejectedError:
            assert self.past_expiry(model), "the provider refused an increase of a live hold"
            return
        assert model.status is P.AUTHORIZED, f"increased a {model.status} payment"
        assert more > 0
        event("a hold was increased")
        model.capturable += more
        model.amount = total
        assert (payment.amount.amount, payment.amount_capturable) == (total, model.capturable)

    @rule(hours=st.integers(min_value=1, max_value=120))
    def time_passes_and_holds_are_swept(self, hours: int) -> None:
        self.clock.advance(hours=hours)
        self.run(self.services.holds.sweep())
        for model in self.model_payments.values():
            if model.status is P.AUTHORIZED and self.past_expiry(model):
                event("a hold expired")
                model.status = P.EXPIRED
        self.refresh()

    # ------------------------------------------------------------------ saved cards
    @precondition(lambda self: any(m.method_id for m in self.model_payments.values()))
    @rule(target=payments, data=st.data(), amount=st.integers(min_value=1, max_value=50_000))
    def charge_a_saved_card_off_session(self, data: st.DataObject, amount: int) -> Any:
        saver_id = data.draw(
            st.sampled_from(sorted(p for p, m in self.model_payments.items() if m.method_id))
        )
        saver = self.model_payments[saver_id]
        method = self.harness.store.payment_methods[saver.method_id]
        try:
            charge = self.run(
                self.services.payments.create(
                    CreatePayment(
                        booking_id=uuid4(),
                        guest_id=method.guest_id,
                        amount=amount,
                        currency="EUR",
                        payment_method_id=method.id,
                        off_session=True,
                        confirm=True,
                    )
                )
            )
        except PaymentMethodDetachedError:
            assert not method.is_active
            return multiple()
        assert method.is_active, "a detached card was charged"
        status, code = OFF_SESSION.get(saver.token or "", (P.COMPLETED, None))
        assert (charge.status, charge.failure_code) == (status, code)
        event(f"a saved card was charged off-session: {status.value}")
        self.model_payments[charge.id] = PaymentModel(
            amount, saver.token, status=status, captured=amount if status is P.COMPLETED else 0
        )
        return charge.id

    @precondition(lambda self: any(m.method_id for m in self.model_payments.values()))
    @rule(data=st.data())
    def detach_a_saved_card(self, data: st.DataObject) -> None:
        method_id = data.draw(
            st.sampled_from(
                sorted(str(m.method_id) for m in self.model_payments.values() if m.method_id)
            )
        )
        method = self.run(self.services.payment_methods.detach(UUID(method_id)))
        assert not method.is_active

    # ------------------------------------------------------------------ refunds
    @rule(
        target=refunds,
        payment_id=payments,
        amount=st.one_of(st.none(), st.integers(min_value=1, max_value=120_000)),
    )
    def create_refund(self, payment_id: UUID, amount: int | None) -> Any:
        model = self.model_payments[payment_id]
        refundable = self.refundable(payment_id)
        try:
            refund = self.run(self.services.refunds.create(payment_id, amount))
        except InvalidTransitionError:
            assert model.status is not P.COMPLETED, "a refund of a completed payment was refused"
            return multiple()
        except RefundExceedsRefundableError as error:
            assert model.status is P.COMPLETED
            wanted = refundable if amount is None else amount
            assert wanted > refundable or wanted == 0, "a refund within the remainder was refused"
            assert error.refundable == refundable  # noqa: PT017 - as in confirm
            return multiple()
        assert model.status is P.COMPLETED, f"refunded a {model.status} payment"
        expected = refundable if amount is None else amount
        assert 0 < expected <= refundable, "a refund above the remainder was accepted"
        assert refund.amount.amount == expected
        assert refund.status in REFUND_MOVES[R.PENDING]
        self.model_refunds[refund.id] = RefundModel(payment_id, expected, refund.status)
        self.refresh()
        return refund.id

    @rule(refund_id=refunds)
    def process_refund(self, refund_id: UUID) -> None:
        model = self.model_refunds[refund_id]
        try:
            refund = self.run(self.services.refunds.process(refund_id))
        except InvalidTransitionError:
            assert model.status is R.FAILED, "processing a live refund was refused"
            return
        assert model.status is not R.FAILED, "processed a FAILED refund"
        if model.status is R.COMPLETED:
            assert refund.status is R.COMPLETED  # returned as it is
        assert refund.status in REFUND_MOVES[model.status]
        self.refresh()

    @rule(after_effect=st.booleans())
    def provider_times_out_on_next_refund(self, after_effect: bool) -> None:
        self.harness.provider.inject_failure(
            "refund", ProviderUnavailableError(message="timeout"), after_effect=after_effect
        )

    @rule(seconds=st.integers(min_value=1, max_value=4 * 3600))
    def time_passes_and_due_refunds_run(self, seconds: int) -> None:
        self.clock.advance(seconds=seconds)
        self.run(self.services.refunds.process_due())
        self.refresh()

    @rule()
    def reconciliation_sweeps(self) -> None:
        before = {pid: m.status for pid, m in self.model_payments.items()}
        self.clock.advance(minutes=5)
        self.run(self.services.reconciliation.sweep())
        self.refresh()
        for pid, model in self.model_payments.items():
            if before[pid] is P.PROCESSING and self.harness.store.payments[pid].reconcile_at:
                continue  # not due yet, or still unknown at the provider
            if before[pid] is P.PROCESSING and model.token in AFTER_SWEEP:
                assert model.status in (
                    model.after_confirm(AFTER_SWEEP[model.token]),
                    P.COMPLETED,
                )

    # ------------------------------------------------------------------ webhooks
    @rule(payment_id=payments)
    def payment_succeeded_webhook(self, payment_id: UUID) -> None:
        model = self.model_payments[payment_id]
        payment = self.harness.store.payments[payment_id]
        obj = self.harness.provider.payment_intent_object(payment.provider_payment_id or "")
        result = self.deliver("payment_intent.succeeded", obj)
        self.refresh()
        if model.status in (P.CANCELLED, P.FAILED) or result.duplicate:
            assert self.harness.store.payments[payment_id].status is model.status

    @rule(payment_id=payments)
    def late_processing_webhook(self, payment_id: UUID) -> None:
        before = self.harness.store.payments[payment_id]
        obj = self.harness.provider.payment_intent_object(
            before.provider_payment_id or "", status="processing"
        )
        self.deliver("payment_intent.processing", obj)
        after = self.harness.store.payments[payment_id]
        assert (after.status, after.version) == (before.status, before.version)

    @rule(refund_id=refunds)
    def refund_failed_webhook(self, refund_id: UUID) -> None:
        model = self.model_refunds[refund_id]
        refund = self.harness.store.refunds[refund_id]
        if refund.provider_refund_id is None:
            return
        result = self.deliver(
            "refund.failed",
            {
                "id": refund.provider_refund_id,
                "object": "refund",
                "status": "failed",
                "amount": refund.amount.amount,
                "currency": "eur",
            },
        )
        self.refresh()
        if model.status is R.COMPLETED and not result.duplicate:
            assert result.outcome == "reversed"
            assert model.status is R.FAILED

    @precondition(lambda self: self.webhook_ids)
    @rule(data=st.data())
    def a_webhook_is_redelivered(self, data: st.DataObject) -> None:
        published = len(self.harness.publisher.events)
        event_id = data.draw(st.sampled_from(self.webhook_ids))
        result = self.deliver("payment_intent.payment_failed", {"id": "pi_x"}, event_id=event_id)
        assert result.duplicate
        assert len(self.harness.publisher.events) == published

    def deliver(self, event_type: str, obj: dict[str, Any], *, event_id: str | None = None) -> Any:
        event_id = event_id or f"evt_{len(self.webhook_ids) + 1}"
        body, headers = self.harness.provider.build_webhook(
            event_type, obj, event_id=event_id, now=self.clock.now()
        )
        if event_id not in self.webhook_ids:
            self.webhook_ids.append(event_id)
        return self.run(self.services.webhooks.receive("fake", body, headers))

    # ------------------------------------------------------------------ invoices
    @rule(target=invoices, lines=line_items, link=st.booleans(), data=st.data())
    def create_invoice(self, lines: list[LineItem], link: bool, data: st.DataObject) -> UUID:
        payment_id, booking_id = None, uuid4()
        if link and self.model_payments:
            payment_id = data.draw(st.sampled_from(sorted(self.model_payments)))
            booking_id = self.harness.store.payments[payment_id].booking_id
        invoice = self.run(
            self.services.invoices.create(
                CreateInvoice(
                    booking_id=booking_id,
                    guest_id=uuid4(),
                    currency="EUR",
                    line_items=lines,
                    payment_id=payment_id,
                )
            )
        )
        assert (invoice.status, invoice.number) == (Inv.DRAFT, None)
        model = InvoiceModel(Inv.DRAFT, total_of(lines), payment_id, len(lines))
        self.model_invoices[invoice.id] = model
        return invoice.id

    @precondition(lambda self: self.model_payments)
    @rule(data=st.data())
    def link_another_bookings_payment(self, data: st.DataObject) -> None:
        """Refused whatever the payment's state: an invoice is paid only by its booking's."""
        payment_id = data.draw(st.sampled_from(sorted(self.model_payments)))
        with pytest.raises(InvoicePaymentMismatchError):
            self.run(
                self.services.invoices.create(
                    CreateInvoice(
                        booking_id=uuid4(),
                        guest_id=uuid4(),
                        currency="EUR",
                        line_items=[LineItem("Room", 1, 100)],
                        payment_id=payment_id,
                    )
                )
            )

    @rule(invoice_id=invoices, lines=line_items)
    def edit_invoice(self, invoice_id: UUID, lines: list[LineItem]) -> None:
        model = self.model_invoices[invoice_id]
        try:
            self.run(self.services.invoices.update(invoice_id, UpdateInvoice(line_items=lines)))
        except InvoiceNotEditableError:
            assert model.status is not Inv.DRAFT, "editing a draft was refused"
            return
        assert model.status is Inv.DRAFT, f"edited a {model.status} invoice"
        model.total, model.lines = total_of(lines), len(lines)

    @rule(invoice_id=invoices, target_status=st.sampled_from([Inv.OPEN, Inv.VOID, Inv.PAID]))
    def move_invoice(self, invoice_id: UUID, target_status: InvoiceStatus) -> None:
        self._move_invoice(invoice_id, target_status)

    @rule(invoice_id=invoices)
    def invoice_uncollectible(self, invoice_id: UUID) -> None:
        self._move_invoice(invoice_id, Inv.UNCOLLECTIBLE)

    def _move_invoice(self, invoice_id: UUID, target_status: InvoiceStatus) -> None:
        model = self.model_invoices[invoice_id]
        legal = {
            Inv.OPEN: {Inv.DRAFT, Inv.OPEN},
            Inv.VOID: {Inv.DRAFT, Inv.OPEN, Inv.VOID},
            Inv.PAID: {Inv.OPEN, Inv.UNCOLLECTIBLE, Inv.PAID},
            Inv.UNCOLLECTIBLE: {Inv.OPEN, Inv.UNCOLLECTIBLE},
        }[target_status]
        issuing_empty = (
            target_status is Inv.OPEN and model.status is Inv.DRAFT and not model.has_lines
        )
        try:
            invoice = self.run(
                self.services.invoices.update(invoice_id, UpdateInvoice(status=target_status))
            )
        except InvalidTransitionError:
            assert model.status not in legal, f"{model.status} -> {target_status} was refused"
            return
        except ValidationError:
            assert issuing_empty, "a valid issue was refused"
            return
        assert model.status in legal, f"moved a {model.status} invoice to {target_status}"
        assert not issuing_empty, "issued an invoice without lines"
        expected, linked = target_status, model.payment_id
        if model.status is not target_status:
            if target_status in (Inv.OPEN, Inv.PAID) and linked is not None:
                # Issued or marked paid: it takes what its payment still holds first.
                model.applied += min(self.left_to_pay(linked), model.total - model.applied)
            if target_status is Inv.OPEN and linked is not None:
                completed = self.model_payments[linked].status is P.COMPLETED
                expected = Inv.PAID if completed and model.applied == model.total else Inv.OPEN
            elif target_status is Inv.PAID:
                model.by_hand = model.applied < model.total
            elif target_status is Inv.VOID:
                model.applied = 0  # what it took goes back to the payment
        assert invoice.status is (model.status if model.status is target_status else expected)
        assert invoice.amount_applied == model.applied
        model.status = invoice.status

    # ------------------------------------------------------------------ invariants
    @invariant()
    def every_status_is_the_models(self) -> None:
        store = self.harness.store
        assert {pid: p.status for pid, p in store.payments.items()} == {
            pid: m.status for pid, m in self.model_payments.items()
        }
        assert {iid: i.status for iid, i in store.invoices.items()} == {
            iid: m.status for iid, m in self.model_invoices.items()
        }

    @invariant()
    def no_payment_pays_more_than_its_amount(self) -> None:
        store = self.harness.store
        for payment in store.payments.values():
            linked = [i for i in store.invoices.values() if i.payment_id == payment.id]
            assert sum(i.amount_applied for i in linked) <= payment.amount.amount
            assert all(i.booking_id == payment.booking_id for i in linked)
        for iid, invoice in store.invoices.items():
            model = self.model_invoices[iid]
            assert invoice.amount_applied == model.applied
            assert 0 <= invoice.amount_applied <= invoice.amount_paid <= invoice.total.amount
            assert invoice.amount_due.amount == invoice.total.amount - invoice.amount_paid
            if invoice.status is Inv.PAID:
                assert invoice.amount_paid == invoice.total.amount
                if not model.by_hand:
                    assert invoice.amount_applied == invoice.total.amount
            elif invoice.status in (Inv.DRAFT, Inv.VOID):
                assert invoice.amount_paid == 0
            else:
                assert invoice.amount_paid == invoice.amount_applied

    @invariant()
    def refunds_never_exceed_the_payment(self) -> None:
        store = self.harness.store
        for payment in store.payments.values():
            refunds = [r for r in store.refunds.values() if r.payment_id == payment.id]
            live = sum(r.amount.amount for r in refunds if r.status is not R.FAILED)
            completed = sum(r.amount.amount for r in refunds if r.status is R.COMPLETED)
            in_flight = sum(
                r.amount.amount for r in refunds if r.status in (R.PENDING, R.PROCESSING)
            )
            assert live <= payment.amount_captured <= payment.amount.amount
            assert payment.amount_refunded == completed
            assert payment.amount_refund_pending == in_flight
            assert payment.refundable == payment.amount_captured - live >= 0
            if refunds:
                assert payment.status is P.COMPLETED
            if payment.status is not P.COMPLETED:
                assert payment.amount_captured == 0
            if payment.status is not P.AUTHORIZED:
                assert payment.amount_capturable == 0
                assert payment.authorization_expires_at is None

    @invariant()
    def the_provider_gives_each_refund_back_at_most_once(self) -> None:
        for refund in self.harness.store.refunds.values():
            made = len(self.harness.provider.refunds_made(refund.id))
            assert made <= 1, f"refund {refund.id} was paid out {made} times"
            if refund.status is R.COMPLETED:
                assert made == 1

    @invariant()
    def billing_reconciles_with_payments_and_refunds(self) -> None:
        store = self.harness.store
        records = [r for chain in store.billing.values() for r in chain]
        totals: dict[BillingRecordType, int] = defaultdict(int)
        for record in records:
            totals[record.type] += record.amount
        completed = [p for p in store.payments.values() if p.status is P.COMPLETED]
        # Money that moved, and only that: a charge for what was captured, none for a hold.
        assert totals[BillingRecordType.CHARGE] == sum(p.amount_captured for p in completed)
        assert totals[BillingRecordType.REFUND] - totals[BillingRecordType.REFUND_REVERSED] == sum(
            p.amount_refunded for p in store.payments.values()
        )
        charged = [r.payment_id for r in records if r.type is BillingRecordType.CHARGE]
        assert sorted(map(str, charged)) == sorted(str(p.id) for p in completed)

    @invariant()
    def billing_chains_verify(self) -> None:
        store = self.harness.store
        ordered = [r for booking in sorted(store.billing, key=str) for r in store.billing[booking]]
        assert verify_chain(ordered).ok
        assert self.run(self.services.billing.verify()).ok

    @invariant()
    def invoice_numbers_are_unique_and_gap_free_per_year(self) -> None:
        by_year: dict[int, list[int]] = defaultdict(list)
        for invoice in self.harness.store.invoices.values():
            if invoice.number is None:
                assert invoice.issued_at is None
                continue
            parsed = parse_invoice_number(invoice.number)
            assert parsed is not None
            assert invoice.issued_at is not None
            assert parsed[0] == invoice.issued_at.year
            by_year[parsed[0]].append(parsed[1])
        for numbers in by_year.values():
            assert sorted(numbers) == list(range(1, len(numbers) + 1))

    @invariant()
    def each_payments_events_follow_its_state_machine(self) -> None:
        story: dict[UUID, list[str]] = defaultdict(list)
        for published in self.harness.publisher.events:
            if published.type.startswith("payment."):
                story[published.stream_id].append(published.type)
        for types in story.values():
            assert types[0] == "payment.initiated"
            rest = types[1:]
            assert all(rest.count(t) <= 1 for t in rest), types
            assert sum(t in TERMINAL_EVENTS for t in rest) <= 1, types
            if rest and rest[-1] not in TERMINAL_EVENTS:
                assert rest[-1] in ("payment.authorized", "payment.authorization_expiring")
            if "payment.authorization_expiring" in rest:
                assert rest.index("payment.authorized") < rest.index(
                    "payment.authorization_expiring"
                )
            if "payment.expired" in rest:
                assert "payment.authorized" in rest


# max_examples comes from the loaded profile (100 by default, 200 with HYPOTHESIS_PROFILE=ci).
PaymentsMachine.TestCase.settings = settings(
    parent=settings.default,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestPaymentsMachine = PaymentsMachine.TestCase


def test_the_model_knows_every_fake_token() -> None:
    assert set(AFTER_CONFIRM) - {None} == set(FAKE_TOKENS)
