"""The fake provider as a PaymentProvider in its own right: deterministic, keyed, restartable."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import UUID

import pytest

from payment_core import Money
from payment_core.errors import (
    ProviderDeclinedError,
    ProviderRejectedError,
    ProviderUnavailableError,
    WebhookSignatureError,
)
from payment_core.ports import (
    CancelPaymentRequest,
    ConfirmPaymentRequest,
    CreatePaymentRequest,
    ProviderPaymentStatus,
    ProviderRefundStatus,
    RefundRequest,
    RetrievePaymentRequest,
    RetrieveRefundRequest,
    WebhookKind,
)
from payment_core.testing import FakeProvider

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
PAYMENT = UUID(int=0xABC)
AMOUNT = Money.of(5_000, "EUR")
INTENT = f"pi_fake_{PAYMENT.hex}"


def confirm_request(token: str) -> ConfirmPaymentRequest:
    return ConfirmPaymentRequest(PAYMENT, INTENT, AMOUNT, token, f"payment-{PAYMENT}-confirm")


def retrieve_request(token: str | None) -> RetrievePaymentRequest:
    return RetrievePaymentRequest(PAYMENT, INTENT, AMOUNT, f"payment-{PAYMENT}-reconcile", token)


def cancel_request() -> CancelPaymentRequest:
    return CancelPaymentRequest(PAYMENT, INTENT, AMOUNT, "cancel-key")


async def test_create_sets_up_an_intent_named_after_our_payment() -> None:
    fake = FakeProvider()
    reply = await fake.create_payment(CreatePaymentRequest(PAYMENT, AMOUNT, "k"))
    assert (reply.provider_payment_id, reply.status, reply.amount, reply.payment_id) == (
        INTENT,
        ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD,
        AMOUNT,
        PAYMENT,
    )
    assert reply.card is None
    assert fake.calls == [("create_payment", "k")]


async def test_confirming_again_gives_the_first_answer() -> None:
    fake = FakeProvider()
    first = await fake.confirm_payment(confirm_request("pm_card_visa"))
    second = await fake.confirm_payment(confirm_request("pm_card_chargeDeclined"))
    assert first.status is second.status is ProviderPaymentStatus.SUCCEEDED


async def test_a_declined_intent_reports_its_decline_when_asked_again() -> None:
    fake = FakeProvider()
    with pytest.raises(ProviderDeclinedError) as caught:
        await fake.confirm_payment(confirm_request("pm_card_chargeDeclinedInsufficientFunds"))
    assert caught.value.decline_code == "insufficient_funds"
    reply = await fake.retrieve_payment(retrieve_request(None))
    assert (reply.status, reply.failure_code, reply.failure_message) == (
        ProviderPaymentStatus.FAILED,
        "insufficient_funds",
        "Your card has insufficient funds.",
    )


async def test_an_unknown_token_is_rejected() -> None:
    with pytest.raises(ProviderRejectedError) as caught:
        await FakeProvider().confirm_payment(confirm_request("pm_card_bogus"))
    assert caught.value.reason_code == "invalid_payment_method"


@pytest.mark.parametrize(
    ("token", "status"),
    [
        ("pm_card_visa", ProviderPaymentStatus.SUCCEEDED),
        ("pm_card_timeout", ProviderPaymentStatus.SUCCEEDED),
        ("pm_card_chargeDeclined", ProviderPaymentStatus.FAILED),
        ("pm_card_authenticationRequired", ProviderPaymentStatus.REQUIRES_ACTION),
        ("pm_card_bogus", ProviderPaymentStatus.REQUIRES_PAYMENT_METHOD),
    ],
)
async def test_a_fresh_process_answers_retrieve_from_the_token(
    token: str, status: ProviderPaymentStatus
) -> None:
    reply = await FakeProvider().retrieve_payment(retrieve_request(token))
    assert reply.status is status


async def test_a_timeout_charges_but_never_answers() -> None:
    fake = FakeProvider()
    with pytest.raises(ProviderUnavailableError):
        await fake.confirm_payment(confirm_request("pm_card_timeout"))
    assert (await fake.retrieve_payment(retrieve_request(None))).status is (
        ProviderPaymentStatus.SUCCEEDED
    )


async def test_the_mismatch_token_always_reports_another_amount() -> None:
    fake = FakeProvider()
    confirmed = await fake.confirm_payment(confirm_request("pm_card_amountMismatch"))
    retrieved = await fake.retrieve_payment(retrieve_request(None))
    assert confirmed.amount == retrieved.amount == Money.of(5_001, "EUR")


async def test_cancel_releases_an_unpaid_intent_but_not_a_captured_one() -> None:
    fake = FakeProvider()
    await fake.cancel_payment(cancel_request())
    assert (await fake.retrieve_payment(retrieve_request(None))).status is (
        ProviderPaymentStatus.CANCELED
    )
    paid = FakeProvider()
    await paid.confirm_payment(confirm_request("pm_card_visa"))
    await paid.cancel_payment(cancel_request())
    assert (await paid.retrieve_payment(retrieve_request(None))).status is (
        ProviderPaymentStatus.SUCCEEDED
    )


def refund_request(key: str = "refund-1-0", token: str | None = "pm_card_visa") -> RefundRequest:
    return RefundRequest(UUID(int=1), PAYMENT, INTENT, Money.of(1_000, "EUR"), key, None, token)


async def test_a_refund_key_is_answered_once_and_the_same_ever_after() -> None:
    fake = FakeProvider()
    first = await fake.refund(refund_request())
    again = await fake.refund(refund_request())
    assert first == again
    assert first.status is ProviderRefundStatus.SUCCEEDED
    assert len(fake.refunds_made(UUID(int=1))) == 1


async def test_a_fresh_process_refunds_a_payment_it_learns_of_from_the_token() -> None:
    assert (await FakeProvider().refund(refund_request())).status is (
        ProviderRefundStatus.SUCCEEDED
    )


async def test_refunds_on_the_refund_fail_token_are_declined() -> None:
    with pytest.raises(ProviderDeclinedError) as caught:
        await FakeProvider().refund(refund_request(token="pm_card_refundFail"))
    assert caught.value.decline_code == "refund_failed"


async def test_retrieve_refund_by_key_returns_the_refund_made_with_it() -> None:
    fake = FakeProvider()
    made = await fake.refund(refund_request())
    found = await fake.retrieve_refund(
        RetrieveRefundRequest(UUID(int=1), None, INTENT, made.amount, "refund-1-0")
    )
    assert found == made
    unknown = await fake.retrieve_refund(
        RetrieveRefundRequest(UUID(int=2), None, INTENT, made.amount, "refund-2-0", "pm_card_visa")
    )
    assert unknown.provider_refund_id == f"re_fake_{UUID(int=2).hex}"


async def test_an_injected_failure_happens_once_by_default() -> None:
    fake = FakeProvider()
    fake.inject_failure("create_payment", ProviderUnavailableError(message="down"))
    with pytest.raises(ProviderUnavailableError):
        await fake.create_payment(CreatePaymentRequest(PAYMENT, AMOUNT, "k"))
    assert (await fake.create_payment(CreatePaymentRequest(PAYMENT, AMOUNT, "k"))).amount == AMOUNT


@pytest.mark.parametrize(("operation", "times"), [("charge", 1), ("refund", 0), ("refund", 1.5)])
def test_injecting_into_an_unknown_operation_or_no_times_is_refused(
    operation: str, times: object
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - both messages are checked by the caller
        FakeProvider().inject_failure(operation, ProviderUnavailableError(message="x"), times=times)  # type: ignore[arg-type]


async def test_webhooks_are_signed_with_the_first_secret_and_checked_against_all() -> None:
    fake = FakeProvider(webhook_secrets=("whsec_new", "whsec_old"))
    body, headers = fake.build_webhook(
        "customer.created", {"id": "cus_1"}, event_id="evt_1", now=NOW, secret="whsec_old"
    )
    event = fake.parse_webhook(body, headers, now=NOW)
    assert (event.id, event.kind, event.created_at) == ("evt_1", WebhookKind.IGNORED, NOW)
    with pytest.raises(WebhookSignatureError):
        FakeProvider().parse_webhook(body, headers, now=NOW)  # only knows whsec_fake


async def test_a_failed_webhook_moves_the_fakes_own_books_unless_already_paid() -> None:
    fake = FakeProvider()
    await fake.create_payment(CreatePaymentRequest(PAYMENT, AMOUNT, "k"))
    body, _ = fake.build_webhook(
        "payment_intent.payment_failed",
        fake.payment_intent_object(INTENT, status="requires_payment_method"),
        event_id="evt_f",
        now=NOW,
    )
    fake.translate_webhook(body)
    assert (await fake.retrieve_payment(retrieve_request(None))).status is (
        ProviderPaymentStatus.FAILED
    )


def test_the_intent_object_has_stripes_shape() -> None:
    fake = FakeProvider()
    obj = json.loads(
        fake.build_webhook("payment_intent.succeeded", {"id": INTENT}, event_id="e", now=NOW)[0]
    )["data"]["object"]
    assert obj == {"id": INTENT}


async def test_the_intent_object_carries_card_amount_currency_and_our_id() -> None:
    fake = FakeProvider()
    await fake.confirm_payment(confirm_request("pm_card_visa"))
    obj = fake.payment_intent_object(INTENT)
    assert (obj["amount"], obj["currency"], obj["metadata"], obj["status"]) == (
        5_000,
        "eur",
        {"payment_id": str(PAYMENT)},
        "succeeded",
    )
    assert obj["payment_method_details"]["card"]["last4"] == "4242"


async def test_the_fake_remembers_a_bounded_number_of_intents_refunds_and_calls() -> None:
    fake = FakeProvider(max_remembered=3)
    for n in range(10):
        await fake.create_payment(CreatePaymentRequest(UUID(int=n), AMOUNT, f"k{n}"))
        await fake.refund(
            RefundRequest(UUID(int=n), UUID(int=n), None, AMOUNT, f"r{n}", None, "pm_card_visa")
        )
    assert len(fake._intents) <= 3
    assert len(fake._refunds) <= 3
    assert len(fake.calls) <= 3
    assert fake.calls[-1] == ("refund", "r9")  # the newest are kept
    # A forgotten intent is answered from its token, as a fresh process would.
    forgotten = RetrievePaymentRequest(UUID(int=0), None, AMOUNT, "reconcile-key", "pm_card_visa")
    assert (await fake.retrieve_payment(forgotten)).status is ProviderPaymentStatus.SUCCEEDED


@pytest.mark.parametrize("limit", [0, -1, 2.5])
def test_the_memory_bound_must_be_a_positive_int(limit: object) -> None:
    with pytest.raises(ValueError, match="max_remembered"):
        FakeProvider(max_remembered=limit)  # type: ignore[arg-type]
