"""Provider webhooks: signatures, deduplication, never moving backwards, 3-D Secure and late
refund failures."""

from __future__ import annotations

import json
from datetime import timedelta
from uuid import uuid4

import pytest

from payment_core import BillingRecordType, CreatePayment, PaymentStatus, RefundStatus
from payment_core.errors import NotFoundError, ValidationError, WebhookSignatureError
from payment_core.ports import ProviderRefund, ProviderRefundStatus, RefundRequest
from payment_core.services import NullObserver
from payment_core.signing import signature_header
from payment_core.testing import FakeProvider, build_in_memory


class PendingRefunds(FakeProvider):
    """Accepts refunds as pending: the webhook says how they end."""

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        done = await super().refund(request)
        return ProviderRefund(done.provider_refund_id, ProviderRefundStatus.PENDING, done.amount)


class FailingRefundReplies(FakeProvider):
    """Answers every refund with a definite ``failed`` reply that carries its refund id."""

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        return ProviderRefund(
            f"re_fake_{request.refund_id.hex}",
            ProviderRefundStatus.FAILED,
            request.amount,
            failure_reason="insufficient_balance",
        )


# ---------------------------------------------------------------------------- signatures


async def test_a_webhook_without_a_signature_is_refused_and_stores_nothing(
    kit, services, harness
) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    body, _ = kit.signed("payment_intent.succeeded", kit.intent(payment))
    with pytest.raises(WebhookSignatureError) as caught:
        await services.webhooks.receive("fake", body, {})
    assert caught.value.reason == "missing signature header"
    assert harness.store.webhooks == {}
    assert (await services.payments.get(payment.id)).status is PaymentStatus.PROCESSING


async def test_a_forged_signature_is_refused(kit, services, harness) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    body, _ = kit.signed("payment_intent.succeeded", kit.intent(payment))
    now = int(harness.clock.now().timestamp())
    forged = {"Fake-Signature": signature_header("whsec_attacker", now, body)}
    with pytest.raises(WebhookSignatureError):
        await services.webhooks.receive("fake", body, forged)
    assert (await services.payments.get(payment.id)).status is PaymentStatus.PROCESSING


async def test_a_body_changed_after_signing_is_refused(kit, services) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    body, headers = kit.signed("payment_intent.succeeded", kit.intent(payment))
    with pytest.raises(WebhookSignatureError):
        await services.webhooks.receive("fake", body.replace(b"succeeded", b"SUCCEEDED"), headers)


async def test_a_stale_signature_is_refused(kit, services, clock) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    body, headers = kit.signed("payment_intent.succeeded", kit.intent(payment))
    clock.advance(seconds=301)
    with pytest.raises(WebhookSignatureError) as caught:
        await services.webhooks.receive("fake", body, headers)
    assert caught.value.reason == "timestamp too old"


async def test_a_signature_from_the_future_is_refused(kit, services, clock) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    body, headers = kit.signed("payment_intent.succeeded", kit.intent(payment))
    clock.advance(seconds=-301)
    with pytest.raises(WebhookSignatureError) as caught:
        await services.webhooks.receive("fake", body, headers)
    assert caught.value.reason == "timestamp in the future"


async def test_a_signature_within_the_tolerance_is_accepted(kit, services, clock) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    body, headers = kit.signed("payment_intent.succeeded", kit.intent(payment))
    clock.advance(seconds=300)
    result = await services.webhooks.receive("fake", body, headers)
    assert result.outcome == "settled"


async def test_the_signature_header_name_is_case_insensitive(kit, services) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    body, headers = kit.signed("payment_intent.succeeded", kit.intent(payment))
    lowered = {k.lower(): v for k, v in headers.items()}
    assert (await services.webhooks.receive("fake", body, lowered)).outcome == "settled"


async def test_an_unknown_provider_endpoint_is_not_found(services) -> None:
    with pytest.raises(NotFoundError):
        await services.webhooks.receive("paypal", b"{}", {})


async def test_a_signed_body_that_is_not_an_event_is_a_validation_error(
    kit, services, harness
) -> None:
    body = b"[1, 2, 3]"
    headers = {
        "Fake-Signature": signature_header("whsec_fake", int(harness.clock.now().timestamp()), body)
    }
    with pytest.raises(ValidationError):
        await services.webhooks.receive("fake", body, headers)


# ---------------------------------------------------------------------------- deduplication


async def test_a_webhook_is_stored_before_it_is_acted_on(kit, services, harness) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    body, headers = kit.signed("payment_intent.succeeded", kit.intent(payment), event_id="evt_1")
    result = await services.webhooks.receive("fake", body, headers)
    stored = harness.store.webhooks[result.webhook_id]
    assert (stored.provider, stored.event_id, stored.body) == ("fake", "evt_1", body)
    assert stored.processed_at == harness.clock.now()


async def test_a_duplicate_event_id_changes_nothing(kit, services, harness) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    first = await kit.deliver("payment_intent.succeeded", kit.intent(payment), event_id="evt_1")
    published = list(harness.published_types())
    records = kit.records(payment.booking_id)
    again = await kit.deliver(
        "payment_intent.payment_failed", kit.intent(payment), event_id="evt_1"
    )
    assert (again.duplicate, again.outcome, again.webhook_id) == (
        True,
        "duplicate",
        first.webhook_id,
    )
    assert (await services.payments.get(payment.id)).status is PaymentStatus.COMPLETED
    assert harness.published_types() == published
    assert kit.records(payment.booking_id) == records


async def test_a_stored_webhook_can_be_replayed(kit, services) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    result = await kit.deliver("payment_intent.succeeded", kit.intent(payment))
    replay = await services.webhooks.replay(result.webhook_id)
    assert (replay.duplicate, replay.outcome) == (False, "unchanged")
    assert len(kit.records(payment.booking_id)) == 1


async def test_replaying_an_unknown_webhook_is_not_found(services) -> None:
    with pytest.raises(NotFoundError):
        await services.webhooks.replay(uuid4())


# ---------------------------------------------------------------------------- payments


async def test_3ds_completes_when_the_succeeded_webhook_arrives(kit, services, harness) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    assert payment.next_action is not None
    result = await kit.deliver("payment_intent.succeeded", kit.intent(payment))
    completed = await services.payments.get(payment.id)
    assert (result.duplicate, result.outcome) == (False, "settled")
    assert (completed.status, completed.next_action) == (PaymentStatus.COMPLETED, None)
    assert completed.card is not None
    assert completed.card.last4 == "3184"
    assert harness.published_types()[-1] == "payment.completed"
    assert [r.type for r in kit.records(payment.booking_id)] == [BillingRecordType.CHARGE]


async def test_a_payment_failed_webhook_fails_a_processing_payment(kit, services) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    intent = kit.intent(payment, status="requires_payment_method")
    intent["last_payment_error"] = {
        "code": "card_declined",
        "decline_code": "authentication_failed",
        "message": "The customer did not authenticate.",
    }
    await kit.deliver("payment_intent.payment_failed", intent)
    failed = await services.payments.get(payment.id)
    assert (failed.status, failed.failure_code, failed.failure_message) == (
        PaymentStatus.FAILED,
        "authentication_failed",
        "The customer did not authenticate.",
    )


async def test_a_canceled_webhook_fails_a_processing_payment(kit, services) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    await kit.deliver("payment_intent.canceled", kit.intent(payment, status="canceled"))
    failed = await services.payments.get(payment.id)
    assert (failed.status, failed.failure_code) == (PaymentStatus.FAILED, "payment_canceled")


async def test_a_late_processing_webhook_after_success_changes_nothing(
    kit, services, harness
) -> None:
    payment = await kit.paid()
    published = list(harness.published_types())
    result = await kit.deliver(
        "payment_intent.processing", kit.intent(payment, status="processing")
    )
    assert result.outcome == "unchanged"
    stored = await services.payments.get(payment.id)
    assert (stored.status, stored.version) == (PaymentStatus.COMPLETED, payment.version)
    assert harness.published_types() == published


async def test_a_late_failure_webhook_after_success_changes_nothing(kit, services) -> None:
    payment = await kit.paid()
    result = await kit.deliver(
        "payment_intent.payment_failed", kit.intent(payment, status="failed")
    )
    assert result.outcome == "unchanged"
    assert (await services.payments.get(payment.id)).status is PaymentStatus.COMPLETED


async def test_a_processing_webhook_for_a_pending_payment_changes_nothing(kit, services) -> None:
    payment = await kit.create()
    result = await kit.deliver(
        "payment_intent.processing", kit.intent(payment, status="processing")
    )
    assert result.outcome == "unchanged"
    assert (await services.payments.get(payment.id)).status is PaymentStatus.PENDING


async def test_a_succeeded_webhook_for_a_pending_payment_completes_it(kit, services) -> None:
    # The customer confirmed at the provider directly (client-side confirmation).
    payment = await kit.create()
    await kit.deliver("payment_intent.succeeded", kit.intent(payment))
    assert (await services.payments.get(payment.id)).status is PaymentStatus.COMPLETED


async def test_a_webhook_with_another_amount_never_completes(kit, services, harness) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    intent = kit.intent(payment)
    intent["amount"] = payment.amount.amount - 1
    result = await kit.deliver("payment_intent.succeeded", intent)
    stored = await services.payments.get(payment.id)
    assert result.outcome == "mismatch"
    assert (stored.status, stored.failure_code) == (
        PaymentStatus.PROCESSING,
        "provider_amount_mismatch",
    )
    assert kit.records(payment.booking_id) == []


async def test_a_webhook_echoing_another_payment_id_never_completes(kit, services) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    intent = kit.intent(payment)
    intent["metadata"] = {"payment_id": str(uuid4())}
    result = await kit.deliver("payment_intent.succeeded", intent)
    assert result.outcome == "mismatch"
    assert (await services.payments.get(payment.id)).status is PaymentStatus.PROCESSING


async def test_a_webhook_naming_our_payment_by_another_provider_id_changes_nothing(
    counted, caplog
) -> None:
    """Our payment id in the metadata never lets an event act on it under another id."""
    observer, kit = counted
    payment = await kit.paid("pm_card_authenticationRequired")
    for event_type, status in (
        ("payment_intent.succeeded", "succeeded"),
        ("payment_intent.payment_failed", "requires_payment_method"),
    ):
        intent = kit.intent(payment, status=status)
        intent["id"] = "pi_attacker"
        intent["last_payment_error"] = {"code": "card_declined", "message": "Call us at 555"}
        result = await kit.deliver(event_type, intent)
        assert result.outcome == "provider_id_mismatch"
    stored = await kit.services.payments.get(payment.id)
    assert (stored.status, stored.provider_payment_id, stored.failure_message) == (
        PaymentStatus.PROCESSING,
        payment.provider_payment_id,
        None,
    )
    assert kit.records(payment.booking_id) == []
    assert observer.webhook_mismatches == [("fake", "payment")] * 2
    assert f"names payment {payment.id} by another fake id than its own" in caplog.text


async def test_a_payment_webhook_without_a_provider_id_changes_nothing(counted) -> None:
    observer, kit = counted
    payment = await kit.paid("pm_card_authenticationRequired")
    intent = kit.intent(payment)
    del intent["id"]
    assert (await kit.deliver("payment_intent.succeeded", intent)).outcome == (
        "provider_id_mismatch"
    )
    assert (await kit.services.payments.get(payment.id)).status is PaymentStatus.PROCESSING
    assert observer.webhook_mismatches == [("fake", "payment")]


async def test_a_fake_webhook_never_settles_another_providers_payment(counted, caplog) -> None:
    """The fake provider's secret is public: its events act on fake payments only, even when
    they name another provider's payment by our id and by that provider's own id."""
    observer, kit = counted
    live = FakeProvider(name="live", webhook_secrets=("whsec_live_own_secret",))
    kit.services.deps.providers.register(live)
    created = await kit.services.payments.create(
        CreatePayment(
            booking_id=uuid4(), guest_id=uuid4(), amount=10_000, currency="EUR", provider="live"
        )
    )
    payment = await kit.services.payments.confirm(created.id, "pm_card_authenticationRequired")
    assert payment.provider_payment_id is not None
    published = kit.harness.published_types()
    for intent_id in ("pi_attacker", payment.provider_payment_id):
        for event_type, status in (
            ("payment_intent.succeeded", "succeeded"),
            ("payment_intent.payment_failed", "requires_payment_method"),
        ):
            obj = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": 10_000,
                "currency": "eur",
                "status": status,
                "metadata": {"payment_id": str(payment.id)},
                "last_payment_error": {"code": "card_declined", "message": "Call 555 now"},
            }
            result = await kit.deliver(event_type, obj)  # signed with the fake's secret
            assert result.outcome == "provider_mismatch"
    stored = await kit.services.payments.get(payment.id)
    assert (stored.status, stored.provider_payment_id, stored.failure_message) == (
        PaymentStatus.PROCESSING,
        payment.provider_payment_id,
        None,
    )
    assert kit.records(payment.booking_id) == []
    assert kit.harness.published_types() == published
    assert observer.webhook_mismatches == [("fake", "payment")] * 4
    assert f"names payment {payment.id} of provider live: ignored" in caplog.text


async def test_a_webhook_about_no_payment_of_ours_is_acknowledged(kit) -> None:
    result = await kit.deliver(
        "payment_intent.succeeded",
        {"id": "pi_elsewhere", "object": "payment_intent", "amount": 100, "currency": "eur"},
    )
    assert (result.duplicate, result.outcome) == (False, "unknown_payment")


async def test_an_event_type_we_do_not_use_is_ignored(kit) -> None:
    result = await kit.deliver("customer.created", {"id": "cus_1", "object": "customer"})
    assert result.outcome == "ignored"


async def test_a_repeated_requires_action_webhook_changes_nothing(kit, services) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    result = await kit.deliver(
        "payment_intent.requires_action", kit.intent(payment, status="requires_action")
    )
    stored = await services.payments.get(payment.id)
    assert result.outcome == "unchanged"
    assert (stored.status, stored.next_action, stored.version) == (
        PaymentStatus.PROCESSING,
        payment.next_action,
        payment.version,
    )


async def test_a_processing_webhook_for_a_processing_payment_saves_nothing(kit, services) -> None:
    payment = await kit.paid("pm_card_timeout")
    result = await kit.deliver(
        "payment_intent.processing", kit.intent(payment, status="processing")
    )
    assert result.outcome == "unchanged"
    assert (await services.payments.get(payment.id)).version == payment.version


# ---------------------------------------------------------------------------- refunds


def refund_object(refund, status: str, **extra: object) -> dict[str, object]:
    return {
        "id": refund.provider_refund_id,
        "object": "refund",
        "status": status,
        "amount": refund.amount.amount,
        "currency": refund.amount.currency.code.lower(),
        **extra,
    }


async def test_a_refund_that_fails_after_completion_is_reversed(kit, services, harness) -> None:
    payment = await kit.paid(amount=10_000)
    refund = await services.refunds.create(payment.id, 4_000)
    harness.publisher.clear()
    result = await kit.deliver(
        "refund.failed", refund_object(refund, "failed", failure_reason="expired_or_canceled_card")
    )
    assert result.outcome == "reversed"
    reversed_ = await services.refunds.get(refund.id)
    assert (reversed_.status, reversed_.failure_reason) == (
        RefundStatus.FAILED,
        "expired_or_canceled_card",
    )
    stored = await services.payments.get(payment.id)
    assert (stored.amount_refunded, stored.refundable) == (0, 10_000)
    assert harness.published_types() == ["refund.reversed", "refund.failed"]
    last = kit.records(payment.booking_id)[-1]
    assert (last.type, last.amount, last.refund_id) == (
        BillingRecordType.REFUND_REVERSED,
        4_000,
        refund.id,
    )
    assert (await services.billing.verify()).ok


async def test_after_a_reversal_the_amount_can_be_refunded_again(kit, services) -> None:
    payment = await kit.paid(amount=10_000)
    refund = await services.refunds.create(payment.id)
    await kit.deliver("refund.failed", refund_object(refund, "failed"))
    again = await services.refunds.create(payment.id)
    assert (again.status, again.amount.amount) == (RefundStatus.COMPLETED, 10_000)


async def test_a_refund_webhook_naming_no_refund_of_ours_is_acknowledged(
    kit, services, clock
) -> None:
    payment = await kit.paid("pm_card_refundFail")
    refund = await services.refunds.create(payment.id, 100)
    provider_id = f"re_fake_{refund.id.hex}"
    # The attempt failed before the provider gave an id: no refund of ours has this one yet.
    result = await kit.deliver(
        "refund.failed",
        {
            "id": provider_id,
            "object": "refund",
            "status": "failed",
            "amount": 100,
            "currency": "eur",
        },
    )
    assert result.outcome == "unknown_refund"
    assert (await services.refunds.get(refund.id)).status is RefundStatus.PENDING


async def test_a_refund_succeeded_webhook_for_a_completed_refund_changes_nothing(
    kit, services
) -> None:
    payment = await kit.paid()
    refund = await services.refunds.create(payment.id, 100)
    result = await kit.deliver("refund.updated", refund_object(refund, "succeeded"))
    assert result.outcome == "unchanged"
    assert (await services.payments.get(payment.id)).amount_refunded == 100


async def test_a_refund_webhook_without_an_id_is_acknowledged(kit) -> None:
    result = await kit.deliver(
        "refund.updated",
        {"object": "refund", "status": "succeeded", "amount": 1, "currency": "eur"},
    )
    assert result.outcome == "unknown_refund"


async def test_a_refund_webhook_with_a_pending_status_is_ignored(kit) -> None:
    result = await kit.deliver("refund.updated", {"id": "re_x", "status": "pending"})
    assert result.outcome == "ignored"


async def test_webhook_bodies_keep_unicode_and_compact_json(kit) -> None:
    body, _ = kit.signed("customer.created", {"id": "cus_1", "name": "Zoë"})
    event = json.loads(body)
    assert (event["type"], event["data"]["object"]["name"]) == ("customer.created", "Zoë")
    assert event["created"] == int(kit.harness.clock.now().timestamp())


async def test_an_old_event_delivered_late_is_judged_by_its_delivery_signature(
    kit, services, clock
) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    clock.advance(timedelta(days=2))
    result = await kit.deliver("payment_intent.succeeded", kit.intent(payment))
    assert result.outcome == "settled"


async def test_a_refund_failed_webhook_for_a_refund_in_flight_changes_nothing(make_kit) -> None:
    harness = build_in_memory(provider=PendingRefunds())
    kit = make_kit(harness)
    payment = await kit.paid()
    refund = await harness.services.refunds.create(payment.id, 100)
    assert refund.status is RefundStatus.PROCESSING
    result = await kit.deliver("refund.failed", refund_object(refund, "failed"))
    assert result.outcome == "unchanged"  # the attempt's own outcome decides
    assert (await harness.services.refunds.get(refund.id)).status is RefundStatus.PROCESSING


async def test_a_failed_refund_reply_is_retried_and_its_later_success_webhook_completes_it(
    make_kit,
) -> None:
    harness = build_in_memory(provider=FailingRefundReplies(), randbelow=lambda n: 0)
    kit = make_kit(harness)
    payment = await kit.paid()
    refund = await harness.services.refunds.create(payment.id, 100)
    assert (refund.status, refund.last_error, refund.key_generation) == (
        RefundStatus.PENDING,
        "insufficient_balance",
        1,
    )
    result = await kit.deliver("refund.updated", refund_object(refund, "succeeded"))
    assert result.outcome == "settled"
    done = await harness.services.refunds.get(refund.id)
    assert (done.status, done.attempts) == (RefundStatus.COMPLETED, 2)
    assert (await harness.services.payments.get(payment.id)).amount_refunded == 100


# ---------------------------------------------------------------------------- reply checks


class Counting(NullObserver):
    """Counts what the metrics would."""

    def __init__(self) -> None:
        self.mismatches: list[str] = []
        self.conflicts: list[tuple[str, str]] = []
        self.webhook_mismatches: list[tuple[str, str]] = []

    def amount_mismatch(self, provider: str) -> None:
        self.mismatches.append(provider)

    def state_conflict(self, provider: str, entity: str) -> None:
        self.conflicts.append((provider, entity))

    def webhook_mismatch(self, provider: str, entity: str) -> None:
        self.webhook_mismatches.append((provider, entity))


@pytest.fixture
def counted(make_kit):
    observer = Counting()
    return observer, make_kit(build_in_memory(observer=observer))


async def test_a_refund_webhook_with_another_amount_settles_nothing(counted, caplog) -> None:
    observer, kit = counted
    payment = await kit.paid(amount=10_000)
    refund = await kit.services.refunds.create(payment.id, 4_000)
    # A failure report for another amount must not reverse the refund that was paid.
    result = await kit.deliver("refund.failed", refund_object(refund, "failed", amount=3_999))
    assert result.outcome == "mismatch"
    assert (await kit.services.refunds.get(refund.id)).status is RefundStatus.COMPLETED
    assert (await kit.services.payments.get(payment.id)).amount_refunded == 4_000
    assert observer.mismatches == ["fake"]
    assert f"reports 3999 EUR for refund {refund.id}, expected 4000 EUR" in caplog.text


async def test_money_reported_moved_for_a_failed_payment_is_flagged_not_applied(
    counted, caplog
) -> None:
    observer, kit = counted
    payment = await kit.paid("pm_card_chargeDeclined")
    result = await kit.deliver("payment_intent.succeeded", kit.intent(payment))
    assert result.outcome == "unchanged"
    assert (await kit.services.payments.get(payment.id)).status is PaymentStatus.FAILED
    assert observer.conflicts == [("fake", "payment")]
    assert f"reports payment {payment.id} succeeded, but it is FAILED here" in caplog.text


async def test_a_refund_reported_paid_after_it_failed_is_flagged_not_applied(
    counted, caplog
) -> None:
    observer, kit = counted
    payment = await kit.paid(amount=10_000)
    refund = await kit.services.refunds.create(payment.id)
    await kit.deliver("refund.failed", refund_object(refund, "failed"))  # reversed: FAILED
    result = await kit.deliver("refund.updated", refund_object(refund, "succeeded"))
    assert result.outcome == "conflict"
    stored = await kit.services.payments.get(payment.id)
    assert (stored.amount_refunded, stored.refundable) == (0, 10_000)
    assert observer.conflicts == [("fake", "refund")]
    assert f"refund {refund.id} succeeded, but it is FAILED here" in caplog.text


async def test_a_mismatch_for_a_payment_not_yet_confirmed_is_counted(counted, caplog) -> None:
    observer, kit = counted
    payment = await kit.create()
    intent = kit.intent(payment)
    intent["amount"] = payment.amount.amount + 1
    result = await kit.deliver("payment_intent.succeeded", intent)
    assert result.outcome == "unchanged"
    assert (await kit.services.payments.get(payment.id)).status is PaymentStatus.PENDING
    assert observer.mismatches == ["fake"]
    assert f"for payment {payment.id} (its own id), expected" in caplog.text


# ---------------------------------------------------------------------------- missing amounts


@pytest.mark.parametrize(
    "change",
    [
        {"amount": None},
        {"currency": None},
        {"amount": None, "currency": None},
        {"amount": "10000"},
        {"amount": 10_000.0},
        {"currency": "xxx"},
    ],
    ids=["no amount", "no currency", "neither", "amount as text", "amount as float", "unknown"],
)
async def test_a_success_webhook_that_does_not_say_how_much_never_completes(
    counted, change: dict[str, object]
) -> None:
    """The amount check never falls back to ours: an event without a usable amount and
    currency is a mismatch."""
    observer, kit = counted
    payment = await kit.paid("pm_card_authenticationRequired")
    intent = kit.intent(payment)
    for key, value in change.items():
        if value is None:
            del intent[key]
        else:
            intent[key] = value
    result = await kit.deliver("payment_intent.succeeded", intent)
    stored = await kit.services.payments.get(payment.id)
    assert result.outcome == "mismatch"
    assert (stored.status, stored.failure_code) == (
        PaymentStatus.PROCESSING,
        "provider_amount_mismatch",
    )
    assert kit.records(payment.booking_id) == []
    assert observer.mismatches == ["fake"]


async def test_a_refund_webhook_without_an_amount_settles_nothing(counted, caplog) -> None:
    observer, kit = counted
    payment = await kit.paid(amount=10_000)
    refund = await kit.services.refunds.create(payment.id, 4_000)
    obj = refund_object(refund, "failed")
    del obj["amount"]
    result = await kit.deliver("refund.failed", obj)
    assert result.outcome == "mismatch"
    assert (await kit.services.refunds.get(refund.id)).status is RefundStatus.COMPLETED
    assert (await kit.services.payments.get(payment.id)).amount_refunded == 4_000
    assert observer.mismatches == ["fake"]
    assert f"reports no amount for refund {refund.id}, expected 4000 EUR" in caplog.text


async def test_a_refund_success_webhook_without_a_currency_never_completes_it(make_kit) -> None:
    harness = build_in_memory(provider=PendingRefunds())
    kit = make_kit(harness)
    payment = await kit.paid()
    refund = await harness.services.refunds.create(payment.id, 100)
    obj = refund_object(refund, "succeeded")
    del obj["currency"]
    assert (await kit.deliver("refund.updated", obj)).outcome == "mismatch"
    stored = await harness.services.refunds.get(refund.id)
    assert (stored.status, stored.last_error) == (
        RefundStatus.PROCESSING,
        "provider_amount_mismatch",
    )
    assert (await harness.services.payments.get(payment.id)).amount_refunded == 0


async def test_a_refund_webhook_naming_another_payment_than_its_own_settles_nothing(
    counted,
) -> None:
    observer, kit = counted
    payment = await kit.paid(amount=10_000)
    refund = await kit.services.refunds.create(payment.id, 4_000)
    result = await kit.deliver(
        "refund.failed", refund_object(refund, "failed", payment_intent="pi_someone_else")
    )
    assert result.outcome == "provider_id_mismatch"
    assert (await kit.services.refunds.get(refund.id)).status is RefundStatus.COMPLETED
    assert observer.webhook_mismatches == [("fake", "refund")]


# ---------------------------------------------------------------------------- outside text

PAN = "4242 4242 4242 4242"


@pytest.mark.parametrize(
    "message",
    [
        f"Card {PAN} was declined.",
        "Card 4242424242424242 was declined.",
        "Card 4242-4242-4242-4242 was declined.",
    ],
)
async def test_a_card_number_in_a_webhook_failure_message_is_never_stored(
    kit, services, harness, message: str
) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    intent = kit.intent(payment, status="requires_payment_method")
    intent["last_payment_error"] = {"decline_code": "4242424242424242", "message": message}
    await kit.deliver("payment_intent.payment_failed", intent)
    failed = await services.payments.get(payment.id)
    assert (failed.status, failed.failure_code, failed.failure_message) == (
        PaymentStatus.FAILED,
        "payment_failed",  # a card number is no code
        "Card [redacted] was declined.",
    )
    last = harness.publisher.events[-1]
    assert (last.type, last.payment.failure_message) == (  # type: ignore[union-attr]
        "payment.failed",
        "Card [redacted] was declined.",
    )


async def test_a_card_number_in_a_refund_failure_reason_is_never_stored(kit, services) -> None:
    payment = await kit.paid(amount=10_000)
    refund = await services.refunds.create(payment.id, 4_000)
    await kit.deliver(
        "refund.failed", refund_object(refund, "failed", failure_reason=f"card {PAN} closed")
    )
    reversed_ = await services.refunds.get(refund.id)
    assert (reversed_.status, reversed_.failure_reason) == (
        RefundStatus.FAILED,
        "refund_failed_after_completion",  # a card number is no reason code
    )
    records = kit.records(payment.booking_id)
    assert all("4242" not in r.description for r in records)


async def test_control_characters_and_overlong_messages_are_trimmed(kit, services) -> None:
    payment = await kit.paid("pm_card_authenticationRequired")
    intent = kit.intent(payment, status="requires_payment_method")
    intent["last_payment_error"] = {
        "code": "x" * 65,  # wider than the failure_code column
        "message": "Declined\x00\x1b[31m by\n\nthe\tbank " + "!" * 1000,
    }
    await kit.deliver("payment_intent.payment_failed", intent)
    failed = await services.payments.get(payment.id)
    assert failed.failure_code == "payment_failed"
    assert failed.failure_message is not None
    assert failed.failure_message.startswith("Declined[31m by the bank !")
    assert len(failed.failure_message) == 300
