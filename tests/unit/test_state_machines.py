"""Every state machine: the tables are the contract's, every legal move works through the
aggregate, and every illegal one raises InvalidTransitionError carrying the facts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import product
from uuid import UUID

import pytest

from payment_core import (
    Currency,
    Invoice,
    InvoiceStatus,
    LineItem,
    Money,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from payment_core.errors import InvalidTransitionError
from payment_core.model._base import check_transition
from payment_core.model.invoice import INVOICE_TRANSITIONS
from payment_core.model.payment import PAYMENT_TRANSITIONS, CaptureMethod
from payment_core.model.refund import REFUND_TRANSITIONS

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
EUR = Currency.of("EUR")
P, R, Inv = PaymentStatus, RefundStatus, InvoiceStatus

CONTRACT_PAYMENT = {
    (P.PENDING, P.PROCESSING),
    (P.PROCESSING, P.COMPLETED),
    (P.PROCESSING, P.FAILED),
    (P.PENDING, P.CANCELLED),
    # Card holds (Part 2): authorize now, capture, release or let expire.
    (P.PROCESSING, P.AUTHORIZED),
    (P.AUTHORIZED, P.COMPLETED),
    (P.AUTHORIZED, P.CANCELLED),
    (P.AUTHORIZED, P.EXPIRED),
}
# The contract's refund moves, plus the retry loop (a failed attempt goes back to PENDING)
# and the late reversal (COMPLETED -> FAILED).
CONTRACT_REFUND = {
    (R.PENDING, R.PROCESSING),
    (R.PROCESSING, R.COMPLETED),
    (R.PROCESSING, R.FAILED),
    (R.PROCESSING, R.PENDING),
    (R.COMPLETED, R.FAILED),
}
CONTRACT_INVOICE = {
    (Inv.DRAFT, Inv.OPEN),
    (Inv.OPEN, Inv.PAID),
    (Inv.OPEN, Inv.VOID),
    (Inv.OPEN, Inv.UNCOLLECTIBLE),
    (Inv.DRAFT, Inv.VOID),
    (Inv.UNCOLLECTIBLE, Inv.PAID),
}


def _pairs(table: object) -> set[tuple[object, object]]:
    assert isinstance(table, dict)
    return {(a, b) for a, targets in table.items() for b in targets}


def test_payment_table_is_exactly_the_contracts() -> None:
    assert _pairs(PAYMENT_TRANSITIONS) == CONTRACT_PAYMENT
    assert set(PAYMENT_TRANSITIONS) == set(PaymentStatus)


def test_refund_table_is_exactly_the_contracts() -> None:
    assert _pairs(REFUND_TRANSITIONS) == CONTRACT_REFUND
    assert set(REFUND_TRANSITIONS) == set(RefundStatus)


def test_invoice_table_is_exactly_the_contracts() -> None:
    assert _pairs(INVOICE_TRANSITIONS) == CONTRACT_INVOICE
    assert set(INVOICE_TRANSITIONS) == set(InvoiceStatus)


# ---------------------------------------------------------------------------- builders


def payment_in(status: PaymentStatus) -> Payment:
    """A hold (``capture_method=manual``), holding its whole amount when ``AUTHORIZED``."""
    return Payment(
        id=UUID(int=1),
        reference="pay_x",
        booking_id=UUID(int=2),
        guest_id=UUID(int=3),
        amount=Money(5_000, EUR),
        provider="fake",
        status=status,
        created_at=NOW,
        updated_at=NOW,
        capture_method=CaptureMethod.MANUAL,
        amount_capturable=5_000 if status is P.AUTHORIZED else 0,
        authorization_expires_at=NOW + timedelta(days=7) if status is P.AUTHORIZED else None,
    )


def refund_in(status: RefundStatus) -> Refund:
    return Refund(
        id=UUID(int=10),
        reference="re_x",
        payment_id=UUID(int=1),
        booking_id=UUID(int=2),
        guest_id=UUID(int=3),
        amount=Money(1_000, EUR),
        provider="fake",
        status=status,
        created_at=NOW,
        updated_at=NOW,
    )


def invoice_in(status: InvoiceStatus) -> Invoice:
    return Invoice(
        id=UUID(int=20),
        booking_id=UUID(int=2),
        guest_id=UUID(int=3),
        currency=EUR,
        status=status,
        created_at=NOW,
        updated_at=NOW,
        line_items=(LineItem("Room", 1, 10_000),),
    )


EVENT = UUID(int=99)
LATER = NOW + timedelta(minutes=1)


def _complete(payment: Payment) -> None:
    """A confirm's success, or a hold's capture."""
    if payment.status is P.AUTHORIZED:
        payment.start_capture(now=LATER, amount=Money(5_000, EUR), reconcile_after=timedelta(1))
        payment.complete_capture(now=LATER, event_id=EVENT)
    else:
        payment.complete(now=LATER, event_id=EVENT, card=None)


PAYMENT_MOVES: dict[PaymentStatus, Callable[[Payment], None]] = {
    P.PROCESSING: lambda p: p.start_processing(
        now=LATER, payment_method="pm_card_visa", reconcile_after=timedelta(minutes=5)
    ),
    P.AUTHORIZED: lambda p: p.authorize(
        now=LATER, event_id=EVENT, amount_capturable=5_000, expires_at=LATER + timedelta(7)
    ),
    P.COMPLETED: _complete,
    P.FAILED: lambda p: p.fail(now=LATER, event_id=EVENT, code="card_declined", message=None),
    P.CANCELLED: lambda p: p.cancel(now=LATER, event_id=EVENT),
    P.EXPIRED: lambda p: p.expire(now=LATER, event_id=EVENT),
}
REFUND_MOVES: dict[RefundStatus, Callable[[Refund], None]] = {
    R.PROCESSING: lambda r: r.start_attempt(now=LATER),
    R.COMPLETED: lambda r: r.complete(now=LATER, event_id=EVENT, provider_refund_id="re_1"),
    R.PENDING: lambda r: r.retry_later(now=LATER, at=LATER, error="x", definite=True),
}
INVOICE_MOVES: dict[InvoiceStatus, Callable[[Invoice], None]] = {
    Inv.OPEN: lambda i: i.issue(now=LATER, number="INV-2026-000001", event_id=EVENT),
    Inv.PAID: lambda i: i.mark_paid(now=LATER, event_id=EVENT),
    Inv.VOID: lambda i: i.void(now=LATER, event_id=EVENT),
    Inv.UNCOLLECTIBLE: lambda i: i.mark_uncollectible(now=LATER, event_id=EVENT),
}


def _refund_to_failed(refund: Refund) -> None:
    if refund.status is R.COMPLETED:
        refund.reverse(now=LATER, event_id=EVENT, failed_event_id=UUID(int=98), reason="late")
    else:
        refund.fail(now=LATER, event_id=EVENT, reason="gave up")


REFUND_MOVES[R.FAILED] = _refund_to_failed


# ---------------------------------------------------------------------------- payments


@pytest.mark.parametrize(("current", "requested"), sorted(CONTRACT_PAYMENT))
def test_every_legal_payment_move_works(current: P, requested: P) -> None:
    payment = payment_in(current)
    PAYMENT_MOVES[requested](payment)
    assert payment.status is requested
    assert payment.updated_at == LATER


ILLEGAL_PAYMENT = sorted(set(product(P, P)) - CONTRACT_PAYMENT)


@pytest.mark.parametrize(("current", "requested"), ILLEGAL_PAYMENT)
def test_every_illegal_payment_move_raises_with_the_facts(current: P, requested: P) -> None:
    payment = payment_in(current)
    move = PAYMENT_MOVES.get(requested) or (  # nothing moves a payment back to PENDING
        lambda p: check_transition(PAYMENT_TRANSITIONS, "payment", p.id, current, requested)
    )
    with pytest.raises(InvalidTransitionError) as caught:
        move(payment)
    assert (caught.value.entity, caught.value.entity_id) == ("payment", payment.id)
    assert (caught.value.current, caught.value.requested) == (current.value, requested.value)
    assert payment.status is current
    assert payment.events == []


# ---------------------------------------------------------------------------- refunds


@pytest.mark.parametrize(("current", "requested"), sorted(CONTRACT_REFUND))
def test_every_legal_refund_move_works(current: R, requested: R) -> None:
    refund = refund_in(current)
    REFUND_MOVES[requested](refund)
    assert refund.status is requested


ILLEGAL_REFUND = sorted(set(product(R, R)) - CONTRACT_REFUND)


@pytest.mark.parametrize(("current", "requested"), ILLEGAL_REFUND)
def test_every_illegal_refund_move_raises_with_the_facts(current: R, requested: R) -> None:
    refund = refund_in(current)
    with pytest.raises(InvalidTransitionError) as caught:
        REFUND_MOVES[requested](refund)
    assert (caught.value.entity, caught.value.entity_id) == ("refund", refund.id)
    assert (caught.value.current, caught.value.requested) == (current.value, requested.value)
    assert refund.status is current
    assert refund.events == []


# ---------------------------------------------------------------------------- invoices


@pytest.mark.parametrize(("current", "requested"), sorted(CONTRACT_INVOICE))
def test_every_legal_invoice_move_works(current: Inv, requested: Inv) -> None:
    invoice = invoice_in(current)
    INVOICE_MOVES[requested](invoice)
    assert invoice.status is requested


ILLEGAL_INVOICE = sorted(set(product(Inv, Inv)) - CONTRACT_INVOICE)


@pytest.mark.parametrize(("current", "requested"), ILLEGAL_INVOICE)
def test_every_illegal_invoice_move_raises_with_the_facts(current: Inv, requested: Inv) -> None:
    invoice = invoice_in(current)
    move = INVOICE_MOVES.get(requested) or (  # nothing returns an invoice to DRAFT
        lambda i: check_transition(INVOICE_TRANSITIONS, "invoice", i.id, current, requested)
    )
    with pytest.raises(InvalidTransitionError) as caught:
        move(invoice)
    assert (caught.value.entity, caught.value.entity_id) == ("invoice", invoice.id)
    assert (caught.value.current, caught.value.requested) == (current.value, requested.value)
    assert invoice.status is current
    assert invoice.events == []


def test_invalid_transition_error_describes_itself() -> None:
    error = InvalidTransitionError(
        entity="payment", entity_id=UUID(int=1), current="COMPLETED", requested="PROCESSING"
    )
    assert str(error) == (
        "payment 00000000-0000-0000-0000-000000000001 is COMPLETED; cannot move to PROCESSING"
    )
    assert error.code == "invalid_state_transition"
