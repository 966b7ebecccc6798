"""Use cases called again under the same idempotency key find what the first call did.

The library's own guarantee (no HTTP): ``idempotency_key`` on create, confirm, cancel and
process. What a call creates gets an id derived from the key; what it moves remembers the key;
so a retry after a crash or a lost answer returns that, and never makes a second payment,
refund or provider call under a new key.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.conftest import Kit, new_uuid

from payment_core import (
    CreateInvoice,
    CreatePayment,
    LineItem,
    PaymentStatus,
    RefundStatus,
    ServiceConfig,
    Services,
)
from payment_core.errors import (
    IdempotencyKeyReusedError,
    InvalidTransitionError,
    ProviderUnavailableError,
)
from payment_core.ids import id_for_request
from payment_core.pagination import PageRequest
from payment_core.services import NullObserver
from payment_core.testing import FakeProvider, Harness, build_in_memory

OPERATIONS = ["payment.create", "payment.confirm", "payment.cancel", "refund.create"]


class DiesAfterProvider(FakeProvider):
    """The fake provider, after whose first ``operation`` the caller dies (the money moved,
    nothing after the call was committed): a process killed, a connection dropped."""

    def __init__(self, operation: str) -> None:
        super().__init__()
        self.operation = operation
        self.died = False

    def _call(self, operation: str, key: str | None, body: Any) -> Any:
        result = super()._call(operation, key, body)
        if operation == self.operation and not self.died:
            self.died = True
            raise ConnectionResetError("the process died here")
        return result


def dies_after(operation: str) -> tuple[Harness, DiesAfterProvider]:
    provider = DiesAfterProvider(operation)
    return build_in_memory(provider=provider, randbelow=lambda n: 0), provider


def command(**overrides: Any) -> CreatePayment:
    fields: dict[str, Any] = {
        "booking_id": new_uuid(),
        "guest_id": new_uuid(),
        "amount": 10_000,
        "currency": "EUR",
        "payment_method": "pm_card_visa",
    }
    return CreatePayment(**(fields | overrides))


# ---------------------------------------------------------------------------- the derivation


@given(
    st.sampled_from(OPERATIONS),
    st.text(min_size=1, max_size=64),
    st.sampled_from(OPERATIONS),
    st.text(min_size=1, max_size=64),
)
def test_a_request_id_is_a_function_of_its_operation_and_key_alone(
    op1: str, key1: str, op2: str, key2: str
) -> None:
    assert id_for_request(op1, key1) == id_for_request(op1, key1)
    assert (id_for_request(op1, key1) == id_for_request(op2, key2)) == ((op1, key1) == (op2, key2))
    assert id_for_request(op1, key1).version == 5


# ---------------------------------------------------------------------------- payments


async def test_a_create_under_a_key_twice_is_one_payment(kit: Kit) -> None:
    first = await kit.services.payments.create(command(), idempotency_key="order-1")
    again = await kit.services.payments.create(
        command(booking_id=first.booking_id, guest_id=first.guest_id), idempotency_key="order-1"
    )
    assert again.id == first.id == id_for_request("payment.create", "order-1")
    assert again.reference == first.reference
    page = await kit.services.payments.list_by_booking(first.booking_id, PageRequest())
    assert [p.id for p in page.items] == [first.id]
    # Asked again, under the same key: the provider answers as it did the first time.
    assert kit.calls("create_payment") == [f"payment-{first.id}-create"] * 2


async def test_a_create_that_died_before_its_commit_asks_the_provider_again_under_its_key(
    kit: Kit,
) -> None:
    kit.harness.provider.inject_failure(
        "create_payment", ProviderUnavailableError(message="timeout"), after_effect=True
    )
    order = command()
    with pytest.raises(ProviderUnavailableError):
        await kit.services.payments.create(order, idempotency_key="order-2")
    payment = await kit.services.payments.create(order, idempotency_key="order-2")
    assert kit.calls("create_payment") == [f"payment-{payment.id}-create"] * 2


class MismatchCounter(NullObserver):
    def __init__(self) -> None:
        self.mismatches = 0

    def amount_mismatch(self, provider: str) -> None:
        self.mismatches += 1


async def test_a_create_key_used_for_another_payment_is_refused() -> None:
    observer = MismatchCounter()
    kit = Kit(build_in_memory(observer=observer))
    first = await kit.services.payments.create(command(), idempotency_key="order-3")
    for other in [command(), command(amount=5_000), command(guest_id=first.guest_id)]:
        with pytest.raises(IdempotencyKeyReusedError):
            await kit.services.payments.create(other, idempotency_key="order-3")
    assert list(kit.harness.store.payments) == [first.id]
    # The provider's answer for another amount under the key is no mismatch to alarm about.
    assert observer.mismatches == 0


async def test_without_a_key_every_create_is_a_new_payment(kit: Kit) -> None:
    order = command()
    one = await kit.services.payments.create(order)
    two = await kit.services.payments.create(order)
    assert one.id != two.id


async def test_a_confirm_under_a_key_again_answers_as_it_did(kit: Kit) -> None:
    payment = await kit.create()
    first = await kit.services.payments.confirm(payment.id, idempotency_key="pay-1")
    again = await kit.services.payments.confirm(payment.id, idempotency_key="pay-1")
    assert first.status is again.status is PaymentStatus.COMPLETED
    assert kit.calls("confirm_payment") == [f"payment-{payment.id}-confirm"]
    with pytest.raises(InvalidTransitionError):
        await kit.services.payments.confirm(payment.id, idempotency_key="pay-other")
    with pytest.raises(InvalidTransitionError):
        await kit.services.payments.confirm(payment.id)


async def test_a_declined_confirm_under_a_key_again_is_the_same_failed_payment(kit: Kit) -> None:
    payment = await kit.create("pm_card_chargeDeclined")
    await kit.services.payments.confirm(payment.id, idempotency_key="pay-2")
    again = await kit.services.payments.confirm(payment.id, idempotency_key="pay-2")
    assert (again.status, again.failure_code) == (PaymentStatus.FAILED, "card_declined")


async def test_a_confirm_that_died_after_the_provider_is_finished_under_the_same_key() -> None:
    harness, _ = dies_after("confirm_payment")
    kit = Kit(harness)
    payment = await kit.create()
    with pytest.raises(ConnectionResetError):
        await kit.services.payments.confirm(payment.id, idempotency_key="pay-3")
    assert (await kit.services.payments.get(payment.id)).status is PaymentStatus.PROCESSING
    done = await kit.services.payments.confirm(payment.id, idempotency_key="pay-3")
    assert done.status is PaymentStatus.COMPLETED
    assert kit.calls("confirm_payment") == [f"payment-{payment.id}-confirm"] * 2


async def test_a_confirm_key_with_another_payment_method_is_refused(kit: Kit) -> None:
    payment = await kit.create()
    await kit.services.payments.confirm(payment.id, "pm_card_visa", idempotency_key="pay-4")
    with pytest.raises(IdempotencyKeyReusedError):
        await kit.services.payments.confirm(
            payment.id, "pm_card_mastercard", idempotency_key="pay-4"
        )


async def test_a_cancel_under_a_key_again_is_the_payment_it_cancelled(kit: Kit) -> None:
    payment = await kit.create()
    await kit.services.payments.cancel(payment.id, idempotency_key="cancel-1")
    again = await kit.services.payments.cancel(payment.id, idempotency_key="cancel-1")
    assert again.status is PaymentStatus.CANCELLED
    with pytest.raises(InvalidTransitionError):
        await kit.services.payments.cancel(payment.id, idempotency_key="cancel-2")


async def test_one_key_for_a_create_and_its_confirm_does_not_mix_them(kit: Kit) -> None:
    payment = await kit.services.payments.create(command(), idempotency_key="same")
    confirmed = await kit.services.payments.confirm(payment.id, idempotency_key="same")
    assert confirmed.status is PaymentStatus.COMPLETED


# ---------------------------------------------------------------------------- refunds


async def test_a_refund_under_a_key_twice_is_one_refund_paid_once(kit: Kit) -> None:
    payment = await kit.paid()
    first = await kit.services.refunds.create(payment.id, 2_500, idempotency_key="back-1")
    again = await kit.services.refunds.create(payment.id, 2_500, idempotency_key="back-1")
    whole = await kit.services.refunds.create(payment.id, idempotency_key="back-1")
    assert first.id == again.id == whole.id == id_for_request("refund.create", "back-1")
    assert again.status is RefundStatus.COMPLETED
    assert len(kit.harness.provider.refunds_made(first.id)) == 1
    assert kit.calls("refund") == [f"refund-{first.id}-0"]
    assert (await kit.services.payments.get(payment.id)).amount_refunded == 2_500


async def test_a_refund_that_died_after_the_provider_paid_is_finished_under_the_same_key() -> None:
    harness, provider = dies_after("refund")
    kit = Kit(harness)
    payment = await kit.paid()
    with pytest.raises(ConnectionResetError):
        await kit.services.refunds.create(payment.id, 2_500, idempotency_key="back-2")
    refund = await kit.services.refunds.create(payment.id, 2_500, idempotency_key="back-2")
    assert refund.status is RefundStatus.COMPLETED
    page = await kit.services.refunds.list_by_payment(payment.id, PageRequest())
    assert [r.id for r in page.items] == [refund.id]
    assert len(provider.refunds_made(refund.id)) == 1
    assert kit.calls("refund") == [f"refund-{refund.id}-0"] * 2


async def test_a_refund_committed_but_never_attempted_is_attempted_by_its_retry() -> None:
    """The first call died right after its commit, before its attempt: the retry makes it."""
    harness = build_in_memory(config=ServiceConfig(process_refunds_immediately=False))
    kit = Kit(harness)
    payment = await kit.paid()
    made = await kit.services.refunds.create(payment.id, 1_000, idempotency_key="back-3")
    assert (made.status, made.attempts) == (RefundStatus.PENDING, 0)
    attempting = Services.build(attrs.evolve(harness.services.deps, config=ServiceConfig()))
    refund = await attempting.refunds.create(payment.id, 1_000, idempotency_key="back-3")
    assert (refund.id, refund.status) == (made.id, RefundStatus.COMPLETED)
    assert kit.calls("refund") == [f"refund-{made.id}-0"]


async def test_a_refund_key_for_another_amount_reason_or_payment_is_refused(kit: Kit) -> None:
    payment, other = await kit.paid(), await kit.paid()
    await kit.services.refunds.create(payment.id, 2_500, idempotency_key="back-4")
    for args in [
        (payment.id, 2_600, None),
        (payment.id, 2_500, "duplicate"),
        (other.id, 2_500, None),
    ]:
        with pytest.raises(IdempotencyKeyReusedError):
            await kit.services.refunds.create(*args, idempotency_key="back-4")
    assert len(kit.calls("refund")) == 1


async def test_a_process_under_a_key_again_makes_no_second_attempt(kit: Kit) -> None:
    payment = await kit.paid("pm_card_refundFail")
    refund = await kit.services.refunds.create(payment.id)
    assert (refund.status, refund.attempts) == (RefundStatus.PENDING, 1)
    first = await kit.services.refunds.process(refund.id, idempotency_key="retry-1")
    again = await kit.services.refunds.process(refund.id, idempotency_key="retry-1")
    assert first.attempts == again.attempts == 2
    assert len(kit.calls("refund")) == 2
    other = await kit.services.refunds.process(refund.id, idempotency_key="retry-2")
    assert other.attempts == 3


# ---------------------------------------------------------------------------- invoices


async def test_an_invoice_create_under_a_key_twice_is_one_invoice(kit: Kit) -> None:
    draft = CreateInvoice(
        booking_id=new_uuid(),
        guest_id=new_uuid(),
        currency="EUR",
        line_items=[LineItem("Room", 1, 10_000, 0)],
    )
    first = await kit.services.invoices.create(draft, idempotency_key="inv-1")
    again = await kit.services.invoices.create(draft, idempotency_key="inv-1")
    assert first.id == again.id
    page = await kit.services.invoices.list_by_booking(draft.booking_id, PageRequest())
    assert len(page.items) == 1
    with pytest.raises(IdempotencyKeyReusedError):
        await kit.services.invoices.create(
            CreateInvoice(booking_id=new_uuid(), guest_id=draft.guest_id, currency="EUR"),
            idempotency_key="inv-1",
        )
