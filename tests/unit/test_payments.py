"""Payment use cases: create, confirm and cancel with every fake token, validation, queries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from payment_core import (
    Card,
    CreatePayment,
    NextAction,
    PaymentStatus,
    ServiceConfig,
)
from payment_core.errors import (
    InvalidAmountError,
    InvalidTransitionError,
    NotFoundError,
    ProviderRejectedError,
    ProviderUnavailableError,
    RawCardDataError,
    UnknownCurrencyError,
    UnknownProviderError,
    ValidationError,
)
from payment_core.money import MAX_AMOUNT, Money
from payment_core.pagination import PageRequest
from payment_core.ports import CreatePaymentRequest, ProviderPayment
from payment_core.testing import FakeProvider, build_in_memory

# ---------------------------------------------------------------------------- create


async def test_create_makes_a_pending_payment_with_the_providers_ids(kit) -> None:
    payment = await kit.create(amount=12_500)
    assert payment.status is PaymentStatus.PENDING
    assert payment.amount == Money.of(12_500, "EUR")
    assert payment.provider == "fake"
    assert payment.provider_payment_id == f"pi_fake_{payment.id.hex}"
    assert payment.client_secret is not None
    assert payment.client_secret.startswith(f"{payment.provider_payment_id}_secret_")
    assert payment.reference.startswith("pay_")
    assert (payment.card, payment.failure_code, payment.next_action) == (None, None, None)


async def test_create_is_stored_and_published(kit, services, harness) -> None:
    payment = await kit.create()
    stored = await services.payments.get(payment.id)
    assert (stored.id, stored.status, stored.amount) == (payment.id, payment.status, payment.amount)
    assert harness.published_types() == ["payment.initiated"]


async def test_create_asks_the_provider_with_a_key_derived_from_the_payment_id(kit) -> None:
    payment = await kit.create()
    assert kit.calls("create_payment") == [f"payment-{payment.id}-create"]


async def test_create_keeps_description_and_metadata(kit) -> None:
    payment = await kit.create(description="Room 7", metadata={"channel": "web"})
    assert (payment.description, payment.metadata) == ("Room 7", {"channel": "web"})


async def test_the_default_provider_is_the_configured_one(kit) -> None:
    assert (await kit.create()).provider == "fake"


async def test_create_with_a_provider_reporting_another_amount_stores_nothing() -> None:
    class OffByOne(FakeProvider):
        async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
            reply = await super().create_payment(request)
            return ProviderPayment(
                provider_payment_id=reply.provider_payment_id,
                status=reply.status,
                amount=Money(request.amount.amount + 1, request.amount.currency),
            )

    harness = build_in_memory(provider=OffByOne())
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.services.payments.create(
            CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
        )
    assert caught.value.reason_code == "provider_amount_mismatch"
    assert harness.store.payments == {}


async def test_prepare_sets_the_payment_up_at_the_provider_and_saves_nothing(
    kit, services, harness
) -> None:
    payment = await services.payments.prepare(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
    )
    assert (payment.status, payment.provider_payment_id) == (
        PaymentStatus.PENDING,
        f"pi_fake_{payment.id.hex}",
    )
    assert kit.calls("create_payment") == [f"payment-{payment.id}-create"]
    assert harness.store.payments == {}
    assert harness.published_types() == []


async def test_prepare_refuses_a_provider_reporting_another_amount() -> None:
    class OffByOne(FakeProvider):
        async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
            reply = await super().create_payment(request)
            return ProviderPayment(
                provider_payment_id=reply.provider_payment_id,
                status=reply.status,
                amount=Money(request.amount.amount + 1, request.amount.currency),
            )

    harness = build_in_memory(provider=OffByOne())
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.services.payments.prepare(
            CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
        )
    assert caught.value.reason_code == "provider_amount_mismatch"


async def test_create_when_the_provider_is_down_stores_nothing(kit, harness) -> None:
    harness.provider.inject_failure("create_payment", ProviderUnavailableError(message="down"))
    with pytest.raises(ProviderUnavailableError):
        await kit.create()
    assert harness.store.payments == {}
    assert harness.published_types() == []


BAD_CREATES: list[tuple[dict[str, Any], type[Exception], str | None]] = [
    ({"amount": 12.5}, InvalidAmountError, None),
    ({"amount": "100"}, InvalidAmountError, None),
    ({"amount": True}, InvalidAmountError, None),
    ({"amount": 0}, ValidationError, "amount"),
    ({"amount": -5}, ValidationError, "amount"),
    ({"amount": MAX_AMOUNT + 1}, ValidationError, "amount"),
    ({"currency": "eur"}, UnknownCurrencyError, None),
    ({"currency": "XAU"}, UnknownCurrencyError, None),
    ({"currency": 978}, ValidationError, "currency"),
    ({"provider": "stripe"}, UnknownProviderError, None),
    ({"payment_method": "pm card"}, ValidationError, "payment_method"),
    ({"payment_method": ""}, ValidationError, "payment_method"),
    ({"payment_method": "pm_" + "x" * 300}, ValidationError, "payment_method"),
    ({"payment_method": "pm_\u00e9"}, ValidationError, "payment_method"),
    ({"description": "d" * 1_001}, ValidationError, "description"),
    ({"metadata": {f"k{i}": "v" for i in range(21)}}, ValidationError, "metadata"),
    ({"metadata": {"k" * 41: "v"}}, ValidationError, "metadata"),
    ({"metadata": {"": "v"}}, ValidationError, "metadata"),
    ({"metadata": {"k": "v" * 501}}, ValidationError, "metadata.k"),
    ({"metadata": {"k": 5}}, ValidationError, "metadata.k"),
    ({"metadata": ["k", "v"]}, ValidationError, "metadata"),
    ({"booking_id": "not-a-uuid"}, ValidationError, "booking_id"),
    ({"guest_id": 7}, ValidationError, "guest_id"),
]


@pytest.mark.parametrize(("change", "error", "field"), BAD_CREATES)
async def test_a_bad_create_raises_a_typed_error_and_changes_nothing(
    harness, change: dict[str, Any], error: type[Exception], field: str | None
) -> None:
    command: dict[str, Any] = {
        "booking_id": uuid4(),
        "guest_id": uuid4(),
        "amount": 100,
        "currency": "EUR",
        "payment_method": "pm_card_visa",
    }
    command.update(change)
    with pytest.raises(error) as caught:
        await harness.services.payments.create(CreatePayment(**command))
    if field is not None:
        assert caught.value.field == field
    assert harness.store.payments == {}
    assert harness.provider.calls == []


def test_metadata_at_the_limits_is_accepted(harness) -> None:
    amount, provider, metadata = harness.services.payments.validate(
        CreatePayment(
            booking_id=uuid4(),
            guest_id=uuid4(),
            amount=MAX_AMOUNT,
            currency="KWD",
            metadata={f"{i:040d}": "v" * 500 for i in range(20)},
        )
    )
    assert (amount, provider, len(metadata)) == (Money.of(MAX_AMOUNT, "KWD"), "fake", 20)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"payment_method": "4242424242424242"}, "payment_method"),
        ({"description": "card 4242 4242 4242 4242 exp 12/30"}, "description"),
        ({"metadata": {"note": "4000-0566-5566-5556"}}, "metadata.note"),
        ({"metadata": {"card_number": "tok"}}, "metadata.card_number"),
        ({"metadata": {"cvc": "123"}}, "metadata.cvc"),
    ],
)
async def test_raw_card_data_is_refused_naming_where_it_was(
    harness, change: dict[str, Any], field: str
) -> None:
    command: dict[str, Any] = {
        "booking_id": uuid4(),
        "guest_id": uuid4(),
        "amount": 100,
        "currency": "EUR",
    }
    command.update(change)
    with pytest.raises(RawCardDataError) as caught:
        await harness.services.payments.create(CreatePayment(**command))
    assert caught.value.field == field
    assert "4242" not in str(caught.value)
    assert harness.store.payments == {}


# ---------------------------------------------------------------------------- confirm, per token

EXP = {"exp_month": 12, "exp_year": 2034}


@pytest.mark.parametrize(
    ("token", "card"),
    [
        ("pm_card_visa", Card("visa", "4242", **EXP)),
        ("pm_card_mastercard", Card("mastercard", "4444", **EXP)),
        ("pm_card_refundFail", Card("visa", "0005", **EXP)),
    ],
)
async def test_a_successful_token_completes_with_its_card(kit, token: str, card: Card) -> None:
    payment = await kit.paid(token)
    assert payment.status is PaymentStatus.COMPLETED
    assert payment.card == card
    assert payment.payment_method == token
    assert (payment.failure_code, payment.next_action, payment.reconcile_at) == (None, None, None)


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("pm_card_chargeDeclined", "card_declined"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ],
)
async def test_a_declining_token_fails_with_its_code(kit, harness, token: str, code: str) -> None:
    payment = await kit.paid(token)
    assert payment.status is PaymentStatus.FAILED
    assert payment.failure_code == code
    assert payment.failure_message
    assert harness.published_types() == ["payment.initiated", "payment.failed"]


async def test_authentication_required_stays_processing_with_a_redirect(kit) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    assert payment.status is PaymentStatus.PROCESSING
    assert payment.next_action == NextAction(
        type="redirect", url=f"https://fake-provider.test/3ds/{payment.provider_payment_id}"
    )
    assert payment.card == Card("visa", "3184", **EXP)


async def test_a_timeout_leaves_the_payment_processing_never_failed(kit, harness) -> None:
    payment = await kit.paid("pm_card_timeout")
    assert payment.status is PaymentStatus.PROCESSING
    assert payment.failure_code is None
    assert payment.reconcile_at is not None
    assert harness.published_types() == ["payment.initiated"]


async def test_an_amount_mismatch_never_completes(kit, harness) -> None:
    payment = await kit.paid("pm_card_amountMismatch")
    assert payment.status is PaymentStatus.PROCESSING
    assert payment.failure_code == "provider_amount_mismatch"
    assert kit.records(payment.booking_id) == []
    assert harness.published_types() == ["payment.initiated"]


async def test_confirm_without_a_token_uses_visa(kit, services) -> None:
    payment = await kit.create(None)
    confirmed = await services.payments.confirm(payment.id)
    assert (confirmed.status, confirmed.payment_method) == (PaymentStatus.COMPLETED, "pm_card_visa")


async def test_the_token_given_at_confirm_wins_over_the_one_given_at_create(kit, services) -> None:
    payment = await kit.create("pm_card_visa")
    confirmed = await services.payments.confirm(payment.id, "pm_card_chargeDeclined")
    assert confirmed.status is PaymentStatus.FAILED


async def test_an_unknown_token_fails_the_payment_as_rejected(kit, services) -> None:
    payment = await kit.create("pm_card_unknown")
    confirmed = await services.payments.confirm(payment.id)
    assert (confirmed.status, confirmed.failure_code) == (
        PaymentStatus.FAILED,
        "invalid_payment_method",
    )


async def test_confirm_asks_the_provider_with_a_key_derived_from_the_payment_id(kit) -> None:
    payment = await kit.paid()
    assert kit.calls("confirm_payment") == [f"payment-{payment.id}-confirm"]


async def test_completing_publishes_initiated_then_completed(kit, harness) -> None:
    payment = await kit.paid()
    assert harness.published_types() == ["payment.initiated", "payment.completed"]
    completed = harness.publisher.events[-1]
    assert completed.payment.id == payment.id
    assert completed.payment.status is PaymentStatus.COMPLETED


async def test_confirming_a_completed_payment_again_is_an_invalid_transition(kit, services) -> None:
    payment = await kit.paid()
    with pytest.raises(InvalidTransitionError) as caught:
        await services.payments.confirm(payment.id)
    assert (caught.value.current, caught.value.requested) == ("COMPLETED", "PROCESSING")
    assert len(kit.calls("confirm_payment")) == 1


async def test_confirm_refuses_a_card_number_as_the_token(kit, services) -> None:
    payment = await kit.create(None)
    with pytest.raises(RawCardDataError) as caught:
        await services.payments.confirm(payment.id, "4242 4242 4242 4242")
    assert caught.value.field == "payment_method"
    assert (await services.payments.get(payment.id)).status is PaymentStatus.PENDING


async def test_confirm_refuses_a_malformed_token(kit, services) -> None:
    payment = await kit.create(None)
    with pytest.raises(ValidationError):
        await services.payments.confirm(payment.id, "not a token")


async def test_confirm_of_an_unknown_payment_is_not_found(services) -> None:
    with pytest.raises(NotFoundError) as caught:
        await services.payments.confirm(uuid4())
    assert caught.value.entity == "payment"


async def test_a_provider_outage_before_confirming_leaves_it_processing(
    kit, services, harness
) -> None:
    harness.provider.inject_failure("confirm_payment", ProviderUnavailableError(message="503"))
    payment = await kit.paid()
    assert payment.status is PaymentStatus.PROCESSING
    assert payment.failure_code is None


async def test_the_observer_hears_outcomes_provider_calls_and_mismatches() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.seen: list[tuple[str, ...]] = []

        def payment_outcome(self, provider: str, status: str) -> None:
            self.seen.append(("payment", status))

        def refund_outcome(self, provider: str, status: str) -> None:
            self.seen.append(("refund", status))

        def provider_call(
            self, provider: str, operation: str, outcome: str, seconds: object
        ) -> None:
            self.seen.append(("call", operation, outcome))

        def amount_mismatch(self, provider: str) -> None:
            self.seen.append(("mismatch", provider))

    observer = Recorder()
    harness = build_in_memory(observer=observer)
    services = harness.services
    for token in ("pm_card_visa", "pm_card_chargeDeclined", "pm_card_amountMismatch"):
        payment = await services.payments.create(
            CreatePayment(
                booking_id=uuid4(),
                guest_id=uuid4(),
                amount=100,
                currency="EUR",
                payment_method=token,
            )
        )
        await services.payments.confirm(payment.id)
    harness.provider.inject_failure("confirm_payment", ProviderUnavailableError(message="x"))
    harness.provider.inject_failure(
        "create_payment", ProviderRejectedError(reason_code="bad", message="x")
    )
    with pytest.raises(ProviderRejectedError):
        await services.payments.create(
            CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=100, currency="EUR")
        )
    assert ("payment", "COMPLETED") in observer.seen
    assert ("payment", "FAILED") in observer.seen
    assert ("mismatch", "fake") in observer.seen
    assert ("call", "confirm_payment", "ok") in observer.seen
    assert ("call", "confirm_payment", "declined") in observer.seen
    assert ("call", "create_payment", "rejected") in observer.seen


# ---------------------------------------------------------------------------- cancel


async def test_cancel_moves_a_pending_payment_to_cancelled(kit, services, harness) -> None:
    payment = await kit.create()
    cancelled = await services.payments.cancel(payment.id)
    assert cancelled.status is PaymentStatus.CANCELLED
    assert harness.published_types() == ["payment.initiated", "payment.cancelled"]


async def test_cancel_releases_the_payment_at_the_provider(kit, services) -> None:
    payment = await kit.create()
    await services.payments.cancel(payment.id)
    assert kit.calls("cancel_payment") == [f"payment-{payment.id}-cancel"]


async def test_cancel_stands_when_the_provider_cannot_be_told(kit, services, harness) -> None:
    harness.provider.inject_failure("cancel_payment", ProviderUnavailableError(message="down"))
    payment = await kit.create()
    cancelled = await services.payments.cancel(payment.id)
    assert cancelled.status is PaymentStatus.CANCELLED
    assert (await services.payments.get(payment.id)).status is PaymentStatus.CANCELLED


@pytest.mark.parametrize(
    "token", ["pm_card_visa", "pm_card_chargeDeclined", "pm_card_authenticationRequired"]
)
async def test_only_a_pending_payment_can_be_cancelled(kit, services, token: str) -> None:
    payment = await kit.paid(token)
    with pytest.raises(InvalidTransitionError) as caught:
        await services.payments.cancel(payment.id)
    assert (caught.value.current, caught.value.requested) == (payment.status.value, "CANCELLED")


async def test_a_cancelled_payment_cannot_be_confirmed(kit, services) -> None:
    payment = await kit.create()
    await services.payments.cancel(payment.id)
    with pytest.raises(InvalidTransitionError):
        await services.payments.confirm(payment.id)
    assert kit.calls("confirm_payment") == []


# ---------------------------------------------------------------------------- queries


async def test_a_payment_is_found_by_its_reference(kit, services) -> None:
    payment = await kit.create()
    assert (await services.payments.get_by_reference(payment.reference)).id == payment.id


async def test_an_unknown_reference_is_not_found(services) -> None:
    with pytest.raises(NotFoundError):
        await services.payments.get_by_reference("pay_" + "0" * 26)


async def test_a_bookings_payments_are_listed_oldest_first(kit, services, clock) -> None:
    booking = uuid4()
    first = await kit.create(booking_id=booking)
    clock.advance(seconds=1)
    second = await kit.create(booking_id=booking)
    await kit.create()
    page = await services.payments.list_by_booking(booking, PageRequest())
    assert [p.id for p in page.items] == [first.id, second.id]
    assert page.next_cursor is None


async def test_a_guests_payments_page_through_with_cursors(kit, services) -> None:
    guest = uuid4()
    made = [await kit.create(guest_id=guest) for _ in range(5)]
    seen: list[UUID] = []
    page = await services.payments.list_by_guest(guest, PageRequest(limit=2))
    seen += [p.id for p in page.items]
    while page.next_cursor is not None:
        page = await services.payments.list_by_guest(
            guest, PageRequest.parse(limit=2, cursor=page.next_cursor)
        )
        seen += [p.id for p in page.items]
    assert seen == [p.id for p in made]


async def test_a_returned_payment_is_a_copy_the_caller_may_change(kit, services) -> None:
    payment = await kit.create(metadata={"k": "v"})
    payment.status = PaymentStatus.COMPLETED
    payment.metadata["k"] = "changed"  # type: ignore[index]
    stored = await services.payments.get(payment.id)
    assert (stored.status, stored.metadata) == (PaymentStatus.PENDING, {"k": "v"})


async def test_a_config_with_a_non_positive_reconcile_delay_is_refused() -> None:
    with pytest.raises(ValidationError):
        ServiceConfig(reconcile_after=timedelta(0))
