"""Square's holds and cards on file, end to end through the services against Square's stand-in:
a hold is a payment left ``APPROVED`` (``autocomplete=false``) and completed, lowered first for a
partial capture, raised for an increase, cancelled for a release; a card is kept from the
payment that asked to save it and charged later by its id with its customer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from provider_standins._server import Faults, Response
from provider_standins.kits import Kit, SquareKit
from provider_standins.square._wire import bad_request

from payment_core.errors import (
    CardDeclinedError,
    InvalidTransitionError,
    NotSupportedByProviderError,
    PaymentMethodDetachedError,
    ProviderError,
    ProviderRejectedError,
)
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.model.payment_method import PaymentMethodStatus
from payment_core.ports import ProviderCapabilities
from payment_core.services import CreatePayment, ServiceConfig
from payment_core.testing import Harness, SettableClock, build_in_memory

P = PaymentStatus


@pytest.fixture
def kit(kit_factory: Callable[..., Kit]) -> SquareKit:
    kit = kit_factory("square")
    assert isinstance(kit, SquareKit)
    return kit


@pytest.fixture
def harness(kit: SquareKit) -> Harness:
    # The harness keeps Square's time, so that Square's deadlines are ours.
    return build_in_memory(
        provider=kit.provider,  # type: ignore[arg-type]
        config=ServiceConfig(default_provider="square", reconcile_after=timedelta(minutes=5)),
        clock=SettableClock(kit.square.clock.now()),
    )


async def held(
    harness: Harness, amount: int = 5000, token: str = "pm_card_visa", **fields: Any
) -> Payment:
    return await harness.services.payments.create(
        CreatePayment(
            booking_id=uuid4(),
            guest_id=fields.pop("guest_id", uuid4()),
            amount=amount,
            currency="EUR",
            payment_method=token,
            capture_method=fields.pop("capture_method", "manual"),
            confirm=True,
            **fields,
        )
    )


async def saved(
    harness: Harness, guest_id: UUID, token: str = "pm_card_visa", **fields: Any
) -> Payment:
    return await held(
        harness,
        token=token,
        guest_id=guest_id,
        setup_future_usage="off_session",
        capture_method=fields.pop("capture_method", "automatic"),
        **fields,
    )


async def off_session(harness: Harness, method: Payment, amount: int = 2500) -> Payment:
    return await harness.services.payments.create(
        CreatePayment(
            booking_id=uuid4(),
            guest_id=method.guest_id,
            amount=amount,
            currency="EUR",
            payment_method_id=method.payment_method_id,
            off_session=True,
            confirm=True,
        )
    )


def square_payment(kit: SquareKit, payment: Payment) -> dict[str, Any]:
    found = kit.latest(payment)
    assert found is not None
    return found


def writes(kit: SquareKit, suffix: str = "") -> list[Any]:
    return [
        r for r in kit.square.requests if r.method in ("POST", "PUT") and r.path.endswith(suffix)
    ]


def drop_capability(kit: SquareKit, payment: Payment, name: str) -> None:
    with kit.square.lock:
        kit.square.payments[square_payment(kit, payment)["id"]]["capabilities"].remove(name)


# ---------------------------------------------------------------------------- holds


async def test_the_adapter_says_what_square_can_do(kit: SquareKit) -> None:
    assert kit.provider.capabilities == ProviderCapabilities.all()


async def test_a_hold_is_approved_at_square_then_completed_whole(
    kit: SquareKit, harness: Harness
) -> None:
    payment = await held(harness)

    assert payment.status is P.AUTHORIZED
    assert payment.amount_capturable == 5000
    at_square = square_payment(kit, payment)
    assert (at_square["status"], payment.provider_payment_id) == ("APPROVED", at_square["id"])
    [create] = writes(kit, "/v2/payments")
    assert create.params["autocomplete"] is False
    assert create.params["delay_action"] == "CANCEL"  # Square never takes it by itself
    # Square's own deadline: created_at + delay_duration (P7D for a card not present).
    assert payment.authorization_expires_at is not None
    assert payment.authorization_expires_at.isoformat().startswith(at_square["delayed_until"][:19])

    captured = await harness.services.holds.capture(payment.id)

    assert (captured.status, captured.amount_captured) == (P.COMPLETED, 5000)
    assert square_payment(kit, payment)["status"] == "COMPLETED"
    assert [r.method for r in writes(kit)] == ["POST", "POST"]  # no amount update
    [complete] = writes(kit, "/complete")
    assert complete.params == {"version_token": at_square["version_token"]}
    assert kit.charges(payment) == 1


async def test_a_partial_capture_lowers_the_amount_then_completes(
    kit: SquareKit, harness: Harness
) -> None:
    payment = await held(harness)

    captured = await harness.services.holds.capture(payment.id, 3000)

    assert (captured.status, captured.amount_captured) == (P.COMPLETED, 3000)
    at_square = square_payment(kit, payment)
    assert (at_square["status"], at_square["amount_money"]["amount"]) == ("COMPLETED", 3000)
    [update] = [r for r in kit.square.requests if r.method == "PUT"]
    assert update.path == f"/v2/payments/{at_square['id']}"
    assert update.params["payment"]["amount_money"] == {"amount": 3000, "currency": "EUR"}
    assert "version_token" in update.params["payment"]
    assert 1 <= len(update.params["idempotency_key"]) <= 45
    # What was not captured was never taken: a refund is capped at the 3000.
    refund = await harness.services.refunds.create(payment.id, 3000)
    assert refund.amount.amount == 3000
    assert kit.refunded(payment) == 3000


async def test_a_partial_capture_is_not_supported_where_square_cannot_lower_the_amount(
    kit: SquareKit, harness: Harness
) -> None:
    payment = await held(harness)
    drop_capability(kit, payment, "EDIT_AMOUNT_DOWN")
    before = len(kit.square.requests)

    with pytest.raises(NotSupportedByProviderError) as refused:
        await harness.services.holds.capture(payment.id, 3000)

    assert refused.value.code == "not_supported_by_provider"
    still = await harness.services.payments.get(payment.id)
    assert (still.status, still.amount_capturable, still.capture_in_flight) == (
        P.AUTHORIZED,
        5000,
        False,
    )
    assert [r.method for r in kit.square.requests[before:]] == ["GET"]  # looked, changed nothing
    assert square_payment(kit, payment)["status"] == "APPROVED"
    # The whole hold can still be taken.
    assert (await harness.services.holds.capture(payment.id)).amount_captured == 5000


async def test_a_hold_lowered_for_a_capture_square_refused_can_still_be_captured_whole(
    kit: SquareKit, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    payment = await held(harness)
    drop_capability(kit, payment, "EDIT_AMOUNT_UP")  # back up to what was approved needs none
    complete = kit.square.complete
    refusals = iter([bad_request("BAD_REQUEST", "Not now.")])
    monkeypatch.setattr(kit.square, "complete", lambda *a: next(refusals, None) or complete(*a))

    with pytest.raises(ProviderRejectedError):
        await harness.services.holds.capture(payment.id, 3000)
    assert square_payment(kit, payment)["amount_money"]["amount"] == 3000  # lowered, not taken
    still = await harness.services.payments.get(payment.id)
    assert (still.status, still.amount_capturable) == (P.AUTHORIZED, 5000)

    captured = await harness.services.holds.capture(payment.id)

    assert (captured.status, captured.amount_captured) == (P.COMPLETED, 5000)
    assert square_payment(kit, payment)["amount_money"]["amount"] == 5000


async def test_a_release_cancels_the_hold_at_square(kit: SquareKit, harness: Harness) -> None:
    payment = await held(harness)

    released = await harness.services.payments.cancel(payment.id)

    assert released.status is P.CANCELLED
    assert square_payment(kit, payment)["status"] == "CANCELED"
    [cancel] = writes(kit, "/cancel")
    assert not cancel.params  # Square's cancel takes no body
    assert kit.charges(payment) == 1
    assert kit.refunded(payment) == 0
    assert harness.store.billing[payment.booking_id] == []


async def test_an_increase_raises_the_amount_at_square(kit: SquareKit, harness: Harness) -> None:
    payment = await held(harness)

    raised = await harness.services.holds.increment(payment.id, 8000)

    assert (raised.status, raised.amount.amount, raised.amount_capturable) == (
        P.AUTHORIZED,
        8000,
        8000,
    )
    at_square = square_payment(kit, payment)
    assert (at_square["amount_money"]["amount"], at_square["approved_money"]["amount"]) == (
        8000,
        8000,
    )
    assert (await harness.services.holds.capture(payment.id)).amount_captured == 8000
    assert square_payment(kit, payment)["amount_money"]["amount"] == 8000


async def test_a_declined_increase_leaves_the_hold_as_it_was(
    kit: SquareKit, harness: Harness
) -> None:
    payment = await held(harness)
    kit.decline_increments(payment)

    with pytest.raises(CardDeclinedError):
        await harness.services.holds.increment(payment.id, 8000)

    still = await harness.services.payments.get(payment.id)
    assert (still.status, still.amount.amount) == (P.AUTHORIZED, 5000)
    assert square_payment(kit, payment)["amount_money"]["amount"] == 5000


async def test_an_increase_is_not_supported_where_square_cannot_raise_the_amount(
    kit: SquareKit, harness: Harness
) -> None:
    payment = await held(harness)
    drop_capability(kit, payment, "EDIT_AMOUNT_UP")

    with pytest.raises(NotSupportedByProviderError):
        await harness.services.holds.increment(payment.id, 8000)

    assert not [r for r in kit.square.requests if r.method == "PUT"]
    assert (await harness.services.payments.get(payment.id)).amount.amount == 5000


async def test_a_hold_square_let_go_at_its_deadline_expires_here(
    kit: SquareKit, harness: Harness
) -> None:
    payment = await held(harness)

    kit.advance(timedelta(days=7, minutes=1))
    [(body, headers)] = kit.sent("payment.updated")
    result = await harness.services.webhooks.receive("square", body, headers)

    assert result.outcome == "settled"
    assert (await harness.services.payments.get(payment.id)).status is P.EXPIRED
    assert square_payment(kit, payment)["status"] == "CANCELED"


async def test_a_hold_past_its_deadline_expires_by_the_sweep_and_is_let_go_quietly(
    kit: SquareKit, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    payment = await held(harness)
    kit.advance(timedelta(days=7, minutes=1))  # Square cancelled it at delayed_until
    harness.clock.advance(days=7, minutes=1)

    report = await harness.services.holds.sweep()

    assert report.expired == 1
    assert (await harness.services.payments.get(payment.id)).status is P.EXPIRED
    assert square_payment(kit, payment)["status"] == "CANCELED"
    assert writes(kit, "/cancel")  # asked, and Square's refusal read as "let go already"
    assert not [r for r in caplog.records if "could not release" in r.getMessage()]


async def test_a_capture_reply_for_another_amount_settles_nothing(
    kit: SquareKit, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    payment = await held(harness)
    complete = kit.square.complete

    def another_amount(payment_id: str, body: dict[str, Any]) -> Response:
        answer = complete(payment_id, body)
        told = dict(answer.body["payment"])
        told["amount_money"] = {"amount": 4999, "currency": "EUR"}
        return Response(answer.status, {"payment": told})

    monkeypatch.setattr(kit.square, "complete", another_amount)

    after = await harness.services.holds.capture(payment.id)

    assert after.status is P.AUTHORIZED  # flagged for a human, never completed
    assert after.capture_in_flight
    assert after.failure_code == "provider_amount_mismatch"
    assert after.amount_captured == 0
    assert harness.store.billing[payment.booking_id] == []


async def test_a_capture_whose_answer_was_lost_is_settled_by_reconciliation_once(
    kit: SquareKit, harness: Harness
) -> None:
    payment = await held(harness)
    kit.square.faults = Faults(timeout=1.0, applies=lambda m, path: path.endswith("/complete"))

    pending = await harness.services.holds.capture(payment.id, 2000)

    assert (pending.status, pending.capture_in_flight) == (P.AUTHORIZED, True)
    kit.square.faults = None
    harness.clock.advance(minutes=6)
    await harness.services.reconciliation.sweep()

    settled = await harness.services.payments.get(payment.id)
    assert (settled.status, settled.amount_captured) == (P.COMPLETED, 2000)
    assert square_payment(kit, payment)["amount_money"]["amount"] == 2000
    assert kit.charges(payment) == 1
    assert len({r.params["idempotency_key"] for r in kit.square.requests if r.method == "PUT"}) == 1


async def test_a_hold_whose_answer_was_lost_is_found_held_never_completed(
    kit: SquareKit, harness: Harness
) -> None:
    kit.square.faults = Faults(timeout=1.0, applies=lambda m, path: path == "/v2/payments")
    payment = await held(harness)
    assert payment.status is P.PROCESSING
    kit.square.faults = None

    harness.clock.advance(minutes=6)
    await harness.services.reconciliation.sweep()

    found = await harness.services.payments.get(payment.id)
    assert (found.status, found.amount_capturable) == (P.AUTHORIZED, 5000)
    assert square_payment(kit, payment)["status"] == "APPROVED"  # still only held
    assert not writes(kit, "/complete")
    assert kit.charges(payment) == 1


# ---------------------------------------------------------------------------- cards on file


async def test_a_card_saved_with_a_payment_is_a_card_on_file_of_a_customer(
    kit: SquareKit, harness: Harness
) -> None:
    payment = await saved(harness, uuid4(), "pm_card_mastercard")

    assert payment.status is P.COMPLETED
    assert payment.payment_method_id is not None
    method = harness.store.payment_methods[payment.payment_method_id]
    [customer] = kit.square.customers.values()
    [card] = kit.square.cards.values()
    assert (method.provider_token, method.provider_customer_id) == (card["id"], customer["id"])
    assert card["customer_id"] == customer["id"]
    assert method.card is not None
    assert method.card.last4 == "4444"
    [create_card] = writes(kit, "/v2/cards")
    assert create_card.params["source_id"] == square_payment(kit, payment)["id"]
    assert create_card.params["card"] == {"customer_id": customer["id"]}


async def test_a_hold_saves_its_card_too(kit: SquareKit, harness: Harness) -> None:
    payment = await saved(harness, uuid4(), capture_method="manual")

    assert payment.status is P.AUTHORIZED
    assert payment.payment_method_id is not None
    assert len(kit.square.cards) == 1


async def test_a_guests_second_card_joins_their_customer(kit: SquareKit, harness: Harness) -> None:
    guest = uuid4()
    first = await saved(harness, guest)
    second = await saved(harness, guest, "pm_card_mastercard")

    assert first.payment_method_id != second.payment_method_id
    assert len(kit.square.customers) == 1
    assert len(kit.square.cards) == 2
    assert len(writes(kit, "/v2/customers")) == 1


async def test_an_off_session_charge_uses_the_card_on_file_and_its_customer(
    kit: SquareKit, harness: Harness
) -> None:
    first = await saved(harness, uuid4())
    method = harness.store.payment_methods[first.payment_method_id or uuid4()]

    charge = await off_session(harness, first)

    assert (charge.status, charge.payment_method_id) == (P.COMPLETED, first.payment_method_id)
    create = list(writes(kit, "/v2/payments"))[-1]
    assert create.params["source_id"] == method.provider_token
    assert create.params["customer_id"] == method.provider_customer_id
    assert "verification_token" not in create.params  # the buyer is not there
    assert square_payment(kit, charge)["card_details"]["entry_method"] == "ON_FILE"
    assert kit.charges(charge) == 1


async def test_an_off_session_charge_square_never_saw_is_made_by_reconciliation(
    kit: SquareKit, harness: Harness
) -> None:
    first = await saved(harness, uuid4())
    method = harness.store.payment_methods[first.payment_method_id or uuid4()]
    kit.square.faults = Faults(server_error=1.0, applies=lambda m, path: path == "/v2/payments")
    charge = await off_session(harness, first)
    assert charge.status is P.PROCESSING
    kit.square.faults = None

    harness.clock.advance(minutes=6)
    await harness.services.reconciliation.sweep()

    assert (await harness.services.payments.get(charge.id)).status is P.COMPLETED
    # The card's customer, asked of Square, goes with the same request under the same key.
    assert kit.square.find("GET", f"/v2/cards/{method.provider_token}")
    made = [r for r in writes(kit, "/v2/payments") if r.status == 200][-1]
    assert made.params["customer_id"] == method.provider_customer_id
    assert made.params["idempotency_key"] == f"sq-pay-{charge.id.hex}"
    assert kit.charges(charge) == 1


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("pm_card_offSessionAuthRequired", "authentication_required"),
        ("pm_card_offSessionDeclined", "card_declined"),
    ],
)
async def test_an_off_session_charge_the_bank_refuses_fails(
    kit: SquareKit, harness: Harness, token: str, code: str
) -> None:
    first = await saved(harness, uuid4(), token)
    assert first.status is P.COMPLETED

    charge = await off_session(harness, first)

    assert (charge.status, charge.failure_code) == (P.FAILED, code)
    assert charge.next_action is None  # nobody is there to verify


@pytest.mark.parametrize(
    "fault",
    [Faults(timeout=1.0), Faults(server_error=1.0)],
    ids=["answer-lost", "never-arrived"],
)
async def test_an_off_session_charge_settled_by_reconciliation_never_waits_for_the_guest(
    kit: SquareKit, harness: Harness, fault: Faults
) -> None:
    first = await saved(harness, uuid4(), "pm_card_offSessionAuthRequired")
    fault.applies = lambda m, path: path == "/v2/payments"
    kit.square.faults = fault
    charge = await off_session(harness, first)
    assert charge.status is P.PROCESSING
    kit.square.faults = None

    harness.clock.advance(minutes=6)
    await harness.services.reconciliation.sweep()

    settled = await harness.services.payments.get(charge.id)
    assert (settled.status, settled.failure_code) == (P.FAILED, "authentication_required")
    assert settled.next_action is None
    assert kit.charges(charge) == 0


async def test_detaching_disables_the_card_at_square_for_good(
    kit: SquareKit, harness: Harness
) -> None:
    first = await saved(harness, uuid4())
    assert first.payment_method_id is not None

    detached = await harness.services.payment_methods.detach(first.payment_method_id)
    again = await harness.services.payment_methods.detach(first.payment_method_id)

    assert detached.status is again.status is PaymentMethodStatus.DETACHED
    [card] = kit.square.cards.values()
    assert card["enabled"] is False
    disables = writes(kit, "/disable")
    assert len(disables) == 2
    assert not any(r.params for r in disables)
    before = len(kit.square.requests)
    with pytest.raises(PaymentMethodDetachedError):
        await off_session(harness, first)
    assert len(kit.square.requests) == before


# ---------------------------------------------------------------------------- keys


async def test_every_post_that_takes_a_key_carries_one_derived_from_our_ids(
    kit: SquareKit, harness: Harness
) -> None:
    first = await saved(harness, uuid4(), capture_method="manual")
    await harness.services.holds.increment(first.id, 6000)
    await harness.services.holds.capture(first.id, 4000)
    charge = await off_session(harness, first)
    await harness.services.refunds.create(charge.id, 500)

    keyed = ("/v2/payments", "/v2/refunds", "/v2/customers", "/v2/cards")
    seen: dict[str, str] = {}
    for request in writes(kit):
        key = request.params.get("idempotency_key") if request.params else None
        if request.method == "PUT" or request.path in keyed:
            assert isinstance(key, str), request.path
            assert 1 <= len(key) <= 45, request.path
            # One key, one request: never the same key for two different writes.
            assert seen.setdefault(key, request.path + repr(request.params)) == (
                request.path + repr(request.params)
            )
        else:
            # complete, cancel and disable take no key at Square (idempotent by state).
            assert key is None, request.path
    assert f"sq-card-{first.id.hex}" in seen
    assert f"sq-cus-{first.id.hex}" in seen
    assert f"sq-pay-{first.id.hex}" in seen
    assert f"sq-pay-{charge.id.hex}" in seen
    assert len([r for r in kit.square.requests if r.method == "PUT"]) == 2


# ---------------------------------------------------------------------------- faults


async def test_under_faults_our_holds_and_captures_agree_with_square_s(
    kit_factory: Callable[..., Kit],
) -> None:
    """Timeouts (after the work), 429 and 5xx on every request while 20 holds are placed,
    raised and captured in part: once reconciliation has run, every capture we record is what
    Square completed, every hold we keep is still approved there, and nothing failed for an
    unknown outcome (the teardown checks that no key was reused with another request)."""
    kit = kit_factory("square", timeout=0.15, attempts=2)
    assert isinstance(kit, SquareKit)
    harness = build_in_memory(
        provider=kit.provider,  # type: ignore[arg-type]
        config=ServiceConfig(default_provider="square", reconcile_after=timedelta(minutes=5)),
        clock=SettableClock(kit.square.clock.now()),
        randbelow=lambda n: 0,
    )
    faults = Faults(timeout=0.10, rate_limited=0.05, server_error=0.05, seed=12)
    kit.square.faults = faults

    async def run(i: int) -> Payment | None:
        try:
            payment = await held(harness, 5_000 + i)
        except ProviderError:
            return None  # never set up: nothing to agree on
        for step in (
            lambda: harness.services.holds.increment(payment.id, 7_000 + i),
            lambda: harness.services.holds.capture(payment.id, 3_000),
        ):
            # A payment still PROCESSING (its confirm's outcome unknown) cannot move yet.
            with contextlib.suppress(ProviderError, InvalidTransitionError):
                await step()
        return payment

    made = [p for p in await asyncio.gather(*(run(i) for i in range(20))) if p is not None]
    assert sum(faults.injected.values()) > 0
    kit.square.faults = None
    for _ in range(3):
        harness.clock.advance(minutes=10)
        await harness.services.reconciliation.sweep()
    completed = 0
    for payment in made:
        ours = await harness.services.payments.get(payment.id)
        assert ours.status is not P.FAILED, ours.failure_code
        assert kit.charges(ours) <= 1
        at_square = kit.latest(ours)
        if ours.status is P.COMPLETED:
            completed += 1
            assert at_square is not None
            assert (at_square["status"], at_square["amount_money"]["amount"]) == (
                "COMPLETED",
                ours.amount_captured,
            )
        elif ours.status is P.AUTHORIZED and not ours.capture_in_flight:
            assert at_square is not None
            assert at_square["status"] == "APPROVED"
            # An increase whose every answer was lost may have raised it there, never lowered.
            assert at_square["amount_money"]["amount"] >= ours.amount_capturable
    assert completed > 0
