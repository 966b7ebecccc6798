"""PayPal's holds and saved cards, end to end through the services against the stand-in.

A hold is an ``intent=AUTHORIZE`` order authorized at confirm; a capture takes its
authorization (``final_capture=true``: the rest is released), a release voids it, an increase
reauthorizes it where PayPal allows that (a PayPal-account hold after its three-day honor
period, up to 115 %) and is 422 ``not_supported_by_provider`` elsewhere. A card saved on success
is a vault payment token, charged without the guest as a merchant-initiated stored credential,
and deleted when the method is detached. Every POST carries ``PayPal-Request-Id``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from provider_standins._server import Faults, Response
from provider_standins.kits import Kit, PayPalKit
from provider_standins.paypal import PayPalStandIn

from payment_adapters.providers.paypal import PayPalProvider
from payment_adapters.providers.paypal._orders import (
    authorization_payment,
    capture_payment_reply,
    saved_method_of,
)
from payment_core.errors import (
    CardDeclinedError,
    NotSupportedByProviderError,
    ProviderDeclinedError,
    ProviderUnavailableError,
)
from payment_core.model.payment import AMOUNT_MISMATCH, Payment, PaymentStatus
from payment_core.model.payment_method import PaymentMethod, PaymentMethodStatus
from payment_core.money import Money
from payment_core.ports import (
    CapturePaymentRequest,
    DetachPaymentMethodRequest,
    ProviderCapabilities,
    ProviderPayment,
    ProviderPaymentStatus,
)
from payment_core.services import CreatePayment, ExpiryAction, ServiceConfig
from payment_core.testing import Harness, SettableClock, build_in_memory

MIT = {"payment_initiator": "MERCHANT", "payment_type": "UNSCHEDULED", "usage": "SUBSEQUENT"}


@pytest.fixture
def kit(kit_factory: Callable[..., Kit]) -> PayPalKit:
    kit = kit_factory("paypal")
    assert isinstance(kit, PayPalKit)
    return kit


@pytest.fixture
def harness(kit: PayPalKit) -> Harness:
    # The services' clock starts at the stand-in's now: its holds' deadlines are real times.
    return build_in_memory(
        provider=kit.provider,  # type: ignore[arg-type]
        config=ServiceConfig(default_provider="paypal", reconcile_after=timedelta(minutes=5)),
        clock=SettableClock(datetime.now(UTC)),
    )


async def pay(
    harness: Harness,
    *,
    guest: UUID | None = None,
    amount: int = 5_000,
    payment_method: str | None = "pm_card_visa",
    confirm: bool = True,
    **fields: Any,
) -> Payment:
    return await harness.services.payments.create(
        CreatePayment(
            booking_id=uuid4(),
            guest_id=guest or uuid4(),
            amount=amount,
            currency="EUR",
            payment_method=payment_method,
            confirm=confirm,
            **fields,
        )
    )


async def hold(harness: Harness, **fields: Any) -> Payment:
    payment = await pay(harness, capture_method="manual", **fields)
    assert payment.status is PaymentStatus.AUTHORIZED, payment.failure_code
    return payment


def authorization(kit: PayPalKit, payment: Payment) -> dict[str, Any]:
    """The order's latest authorization as the stand-in keeps it."""
    with kit.paypal.lock:
        return dict(kit.paypal.orders[payment.provider_payment_id or ""].authorizations[-1])


def posts(kit: PayPalKit, suffix: str) -> list[Any]:
    return [r for r in kit.paypal.find("POST") if r.path.endswith(suffix)]


def saved_method(harness: Harness, payment: Payment) -> PaymentMethod:
    assert payment.payment_method_id is not None
    return harness.store.payment_methods[payment.payment_method_id]


# ---------------------------------------------------------------------------- holds
def test_paypal_says_it_holds_captures_in_part_saves_and_charges_off_session(
    kit: PayPalKit,
) -> None:
    assert kit.provider.capabilities == ProviderCapabilities.all()


async def test_a_hold_is_an_authorized_order_and_a_partial_capture_releases_the_rest(
    kit: PayPalKit, harness: Harness
) -> None:
    payment = await hold(harness)

    [create] = kit.paypal.find("POST", "/v2/checkout/orders")[:1]
    assert create.params["intent"] == "AUTHORIZE"
    assert "payment_source" not in create.params  # the card comes with the confirm
    [authorize] = posts(kit, "/authorize")
    assert authorize.path == f"/v2/checkout/orders/{payment.provider_payment_id}/authorize"
    assert authorize.params == {"payment_source": {"card": {"vault_id": "pm_card_visa"}}}
    held = authorization(kit, payment)
    expires = datetime.fromisoformat(held["expiration_time"].replace("Z", "+00:00"))
    assert payment.authorization_expires_at == expires  # PayPal's deadline, 29 days on
    assert (payment.amount_capturable, kit.charges(payment)) == (5_000, 0)

    captured = await harness.services.payments.capture(payment.id, 3_000)

    assert (captured.status, captured.amount_captured) == (PaymentStatus.COMPLETED, 3_000)
    [capture] = posts(kit, "/capture")
    assert capture.path == f"/v2/payments/authorizations/{held['id']}/capture"
    assert capture.params == {
        "amount": {"currency_code": "EUR", "value": "30.00"},
        "final_capture": True,
    }
    assert capture.header("paypal-request-id") == f"payment-{payment.id}-capture-3000"
    assert authorization(kit, payment)["status"] == "CAPTURED"  # the rest is released
    assert kit.paypal.held[held["id"]].captured == 3_000
    assert kit.charges(captured) == 1
    refund = await harness.services.refunds.create(payment.id, 1_000)
    assert refund.amount.amount == 1_000
    assert kit.refunded(captured) == 1_000


async def test_a_release_voids_the_authorization_and_nothing_is_taken(
    kit: PayPalKit, harness: Harness
) -> None:
    payment = await hold(harness)

    released = await harness.services.payments.cancel(payment.id)

    assert released.status is PaymentStatus.CANCELLED
    [void] = posts(kit, "/void")
    assert void.body == b""  # void takes no body
    assert void.header("paypal-request-id") == f"payment-{payment.id}-cancel"
    assert authorization(kit, payment)["status"] == "VOIDED"
    assert kit.charges(released) == 0


async def test_a_capture_after_paypal_let_the_hold_lapse_takes_nothing(
    kit: PayPalKit, harness: Harness
) -> None:
    payment = await hold(harness)
    kit.advance(timedelta(days=29, seconds=1))  # PayPal's clock only

    late = await harness.services.payments.capture(payment.id)

    assert (late.status, late.amount_captured) == (PaymentStatus.EXPIRED, 0)
    assert kit.charges(late) == 0


async def test_a_card_hold_cannot_be_raised_and_stays_as_it_was(
    kit: PayPalKit, harness: Harness
) -> None:
    payment = await hold(harness)

    with pytest.raises(NotSupportedByProviderError) as refused:
        await harness.services.payments.increment_authorization(payment.id, 5_500)

    assert refused.value.code == "not_supported_by_provider"
    [asked] = posts(kit, "/reauthorize")
    assert asked.params == {"amount": {"currency_code": "EUR", "value": "55.00"}}
    assert asked.status == 422  # REAUTHORIZATION_NOT_SUPPORTED: a card's authorization
    kept = await harness.services.payments.get(payment.id)
    assert (kept.status, kept.amount.amount, kept.amount_capturable) == (
        PaymentStatus.AUTHORIZED,
        5_000,
        5_000,
    )
    # Beyond 115 % of the hold PayPal never reauthorizes: refused before any request.
    with pytest.raises(NotSupportedByProviderError):
        await harness.services.payments.increment_authorization(payment.id, 5_751)
    assert len(posts(kit, "/reauthorize")) == 1


async def wallet_hold(kit: PayPalKit, harness: Harness, amount: int = 5_000) -> Payment:
    """A hold of the buyer's PayPal account: approved at PayPal, authorized by reconciliation."""
    created = await pay(
        harness, amount=amount, payment_method=None, capture_method="manual", confirm=False
    )
    waiting = await harness.services.payments.confirm(created.id, "paypal")
    assert waiting.status is PaymentStatus.PROCESSING
    assert waiting.next_action is not None  # the buyer approves at PayPal
    kit.paypal.approve(created.provider_payment_id or "", capture=True)  # and authorizes
    harness.clock.advance(minutes=6)
    await harness.services.reconciliation.sweep()
    payment = await harness.services.payments.get(created.id)
    assert payment.status is PaymentStatus.AUTHORIZED
    return payment


async def test_a_paypal_account_hold_is_raised_after_its_honor_period_then_captured(
    kit: PayPalKit, harness: Harness
) -> None:
    payment = await wallet_hold(kit, harness)
    first = authorization(kit, payment)

    with pytest.raises(NotSupportedByProviderError):  # still in its honor period
        await harness.services.payments.increment_authorization(payment.id, 5_400)
    kit.advance(timedelta(days=4))
    raised = await harness.services.payments.increment_authorization(payment.id, 5_500)

    assert (raised.amount.amount, raised.amount_capturable) == (5_500, 5_500)
    fresh = authorization(kit, raised)
    assert fresh["id"] != first["id"]
    assert fresh["expiration_time"] == first["expiration_time"]  # no longer than the first
    assert posts(kit, "/reauthorize")[-1].header("paypal-request-id") == (
        f"payment-{payment.id}-increment-5500"
    )
    with pytest.raises(NotSupportedByProviderError):  # once only
        await harness.services.payments.increment_authorization(payment.id, 5_700)
    captured = await harness.services.payments.capture(payment.id)
    assert (captured.status, captured.amount_captured) == (PaymentStatus.COMPLETED, 5_500)
    assert posts(kit, "/capture")[-1].path == f"/v2/payments/authorizations/{fresh['id']}/capture"


async def test_an_increase_paypal_refuses_is_a_decline_and_the_hold_stays(
    kit: PayPalKit, harness: Harness
) -> None:
    payment = await wallet_hold(kit, harness, amount=100_000)
    kit.advance(timedelta(days=4))

    # Within 115 %, but PayPal's reauthorization ceiling is also 75.00 above the original.
    with pytest.raises(CardDeclinedError) as declined:
        await harness.services.payments.increment_authorization(payment.id, 110_000)

    assert declined.value.code == "card_declined"
    kept = await harness.services.payments.get(payment.id)
    assert (kept.status, kept.amount.amount, kept.amount_capturable) == (
        PaymentStatus.AUTHORIZED,
        100_000,
        100_000,
    )
    raised = await harness.services.payments.increment_authorization(payment.id, 107_500)
    assert raised.amount.amount == 107_500


async def test_a_capture_whose_answer_is_lost_is_made_once_and_settled_by_reconciliation(
    kit: PayPalKit, harness: Harness
) -> None:
    payment = await hold(harness)
    kit.paypal.faults = Faults(
        timeout=1.0, applies=lambda method, path: path.endswith("/capture") and "/auth" in path
    )

    unknown = await harness.services.payments.capture(payment.id)

    assert (unknown.status, unknown.amount_capture_pending) == (PaymentStatus.AUTHORIZED, 5_000)
    kit.paypal.faults = None
    harness.clock.advance(minutes=6)
    await harness.services.reconciliation.sweep()
    settled = await harness.services.payments.get(payment.id)
    assert (settled.status, settled.amount_captured) == (PaymentStatus.COMPLETED, 5_000)
    assert kit.charges(settled) == 1
    keys = {r.header("paypal-request-id") for r in posts(kit, "/capture")}
    assert keys == {f"payment-{payment.id}-capture-5000"}


async def test_a_capture_reply_for_another_amount_settles_nothing(
    kit: PayPalKit, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    payment = await hold(harness)
    honest = kit.paypal.capture_authorization

    def misreporting(ident: str, body: dict[str, Any]) -> Response:
        answer = honest(ident, body)
        tampered = {**answer.body, "amount": {"currency_code": "EUR", "value": "50.01"}}
        return Response(answer.status, tampered, answer.headers)

    monkeypatch.setattr(kit.paypal, "capture_authorization", misreporting)

    kept = await harness.services.payments.capture(payment.id)

    assert (kept.status, kept.amount_capture_pending, kept.failure_code) == (
        PaymentStatus.AUTHORIZED,
        5_000,
        AMOUNT_MISMATCH,
    )
    await harness.deliver()
    assert "payment.completed" not in harness.published_types()


# ---------------------------------------------------------------------------- saved cards
async def test_a_card_is_saved_in_the_vault_and_the_next_one_joins_its_customer(
    kit: PayPalKit, harness: Harness
) -> None:
    guest = uuid4()
    payment = await pay(harness, guest=guest, setup_future_usage="off_session")

    assert payment.status is PaymentStatus.COMPLETED
    [capture] = posts(kit, f"/{payment.provider_payment_id}/capture")
    assert capture.params == {
        "payment_source": {
            "card": {
                "vault_id": "pm_card_visa",
                "attributes": {"vault": {"store_in_vault": "ON_SUCCESS"}},
            }
        }
    }
    method = saved_method(harness, payment)
    stored = kit.paypal.vault[method.provider_token]  # the payment token, not the card token
    assert (method.provider_customer_id, method.card) == (stored.customer, payment.card)
    assert method.card is not None
    assert method.card.last4 == "4242"

    second = await hold(
        harness, guest=guest, payment_method="pm_card_mastercard", setup_future_usage="off_session"
    )

    [authorize] = posts(kit, f"/{second.provider_payment_id}/authorize")
    attributes = authorize.params["payment_source"]["card"]["attributes"]
    assert attributes["customer"] == {"id": method.provider_customer_id}
    assert saved_method(harness, second).provider_customer_id == method.provider_customer_id


async def test_a_saved_card_is_charged_merchant_initiated_taken_or_held(
    kit: PayPalKit, harness: Harness
) -> None:
    guest = uuid4()
    first = await pay(harness, guest=guest, setup_future_usage="off_session")
    method = saved_method(harness, first)

    charged = await pay(
        harness, guest=guest, payment_method=None, payment_method_id=method.id, off_session=True
    )
    held = await hold(
        harness, guest=guest, payment_method=None, payment_method_id=method.id, off_session=True
    )

    assert (charged.status, charged.payment_method_id) == (PaymentStatus.COMPLETED, method.id)
    source = {"card": {"vault_id": method.provider_token, "stored_credential": MIT}}
    assert posts(kit, f"/{charged.provider_payment_id}/capture")[0].params == {
        "payment_source": source
    }
    assert posts(kit, f"/{held.provider_payment_id}/authorize")[0].params == {
        "payment_source": source
    }
    assert kit.charges(charged) == 1
    assert len(kit.paypal.vault) == 1  # charging a saved card saves nothing new


@pytest.mark.parametrize(
    ("token", "failure"),
    [
        ("pm_card_offSessionAuthRequired", "authentication_required"),
        ("pm_card_offSessionDeclined", "card_declined"),
    ],
)
async def test_off_session_charges_the_issuer_refuses_fail(
    kit: PayPalKit, harness: Harness, token: str, failure: str
) -> None:
    guest = uuid4()
    first = await pay(harness, guest=guest, payment_method=token, setup_future_usage="off_session")
    assert first.status is PaymentStatus.COMPLETED  # on-session it goes through
    method = saved_method(harness, first)

    refused = await pay(
        harness, guest=guest, payment_method=None, payment_method_id=method.id, off_session=True
    )

    assert (refused.status, refused.failure_code) == (PaymentStatus.FAILED, failure)
    assert kit.charges(refused) == 0


async def test_a_detached_card_is_deleted_from_the_vault(kit: PayPalKit, harness: Harness) -> None:
    payment = await pay(harness, setup_future_usage="off_session")
    method = saved_method(harness, payment)

    detached = await harness.services.payment_methods.detach(method.id)

    assert detached.status is PaymentMethodStatus.DETACHED
    [delete] = kit.paypal.find("DELETE")
    assert delete.path == f"/v3/vault/payment-tokens/{method.provider_token}"
    assert delete.status == 204
    assert kit.paypal.vault[method.provider_token].deleted
    provider = kit.provider
    assert isinstance(provider, PayPalProvider)
    again = DetachPaymentMethodRequest(method.id, method.provider_token, None, "k")
    await provider.detach_payment_method(again)  # gone already (404): no error
    assert [r.status for r in kit.paypal.find("DELETE")] == [204, 404]


async def test_the_paypal_wallet_is_not_saved_as_a_card(kit: PayPalKit, harness: Harness) -> None:
    with pytest.raises(NotSupportedByProviderError):
        await pay(harness, payment_method="paypal", setup_future_usage="off_session")
    assert harness.store.payments == {}
    assert kit.paypal.find("POST", "/v2/checkout/orders") == []


# ---------------------------------------------------------------------------- idempotency
async def test_every_post_carries_a_request_id_derived_from_our_ids(
    kit: PayPalKit, harness: Harness
) -> None:
    guest = uuid4()
    saved = await hold(harness, guest=guest, setup_future_usage="off_session")
    await harness.services.payments.capture(saved.id, 4_000)
    method = saved_method(harness, saved)
    released = await hold(
        harness, guest=guest, payment_method=None, payment_method_id=method.id, off_session=True
    )
    await harness.services.payments.cancel(released.id)

    sent = [r for r in kit.paypal.find("POST") if r.path != "/v1/oauth2/token"]
    assert len(sent) == 6  # two creates, two authorizes, a capture and a void
    ours = (str(saved.id), str(released.id))
    for request in sent:
        key = request.header("paypal-request-id") or ""
        assert key.startswith(tuple(f"payment-{p}-" for p in ours)), request.path
    assert kit.paypal.conflicts == []
    # The same capture again is the same request: PayPal answers it as the first time, and
    # nothing more is taken.
    provider = kit.provider
    assert isinstance(provider, PayPalProvider)
    again = await provider.capture_payment(
        CapturePaymentRequest(
            saved.id,
            saved.provider_payment_id,
            Money.of(5_000, "EUR"),
            Money.of(4_000, "EUR"),
            f"payment-{saved.id}-capture-4000",
        )
    )
    assert (again.status, again.amount_received) == (ProviderPaymentStatus.SUCCEEDED, 4_000)
    assert again.payment_id == saved.id
    assert kit.charges(saved) == 1
    assert len(posts(kit, "/capture")) == 2


# ---------------------------------------------------------------------------- expiry, races
async def test_a_hold_past_its_deadline_is_expired_and_voided_at_paypal(
    kit: PayPalKit, harness: Harness
) -> None:
    payment = await hold(harness)
    assert payment.authorization_expires_at is not None
    harness.clock.set(payment.authorization_expires_at + timedelta(seconds=1))

    report = await harness.services.holds.sweep()

    assert report.expired == 1
    expired = await harness.services.payments.get(payment.id)
    assert expired.status is PaymentStatus.EXPIRED
    [void] = posts(kit, "/void")
    assert void.header("paypal-request-id") == f"payment-{payment.id}-cancel"
    assert authorization(kit, payment)["status"] == "VOIDED"
    assert kit.charges(expired) == 0


async def test_a_hold_about_to_expire_is_captured_whole_when_so_configured(
    kit: PayPalKit,
) -> None:
    clock = SettableClock(datetime.now(UTC))
    harness = build_in_memory(
        provider=kit.provider,  # type: ignore[arg-type]
        config=ServiceConfig(
            default_provider="paypal",
            reconcile_after=timedelta(minutes=5),
            authorization_expiry_action=ExpiryAction.CAPTURE,
        ),
        clock=clock,
    )
    payment = await hold(harness)
    assert payment.authorization_expires_at is not None
    clock.set(payment.authorization_expires_at - timedelta(hours=12))

    report = await harness.services.holds.sweep()

    assert (report.warned, report.captured) == (1, 1)
    captured = await harness.services.payments.get(payment.id)
    assert (captured.status, captured.amount_captured) == (PaymentStatus.COMPLETED, 5_000)
    assert kit.charges(captured) == 1


async def test_twenty_captures_at_once_take_the_hold_once(kit: PayPalKit, harness: Harness) -> None:
    payment = await hold(harness)

    await asyncio.gather(
        *(harness.services.payments.capture(payment.id) for _ in range(20)),
        return_exceptions=True,
    )

    settled = await harness.services.payments.get(payment.id)
    assert (settled.status, settled.amount_captured) == (PaymentStatus.COMPLETED, 5_000)
    assert len(posts(kit, "/capture")) == 1
    assert kit.charges(settled) == 1


# ---------------------------------------------------------------------------- hostile replies
EUR_50 = {"currency_code": "EUR", "value": "50.00"}
AUTH = {"id": "AUTH1", "status": "CREATED", "amount": EUR_50, "custom_id": str(uuid4())}


def held_reply() -> ProviderPayment:
    return authorization_payment(AUTH, order_id="ORDER1", unit={})


@pytest.mark.parametrize(
    ("capture", "received"),
    [
        ({"status": "COMPLETED", "amount": EUR_50}, 5_000),
        ({"status": "COMPLETED"}, None),  # no amount: nothing is known to be taken
        ({"status": "COMPLETED", "amount": {"currency_code": "USD", "value": "50.00"}}, None),
        ({"status": "PENDING", "amount": EUR_50}, None),
    ],
)
def test_a_capture_reply_reports_only_what_it_shows_taken(
    capture: dict[str, Any], received: int | None
) -> None:
    reply = capture_payment_reply(capture, order_id="ORDER1", auth=AUTH, hold=held_reply())
    assert reply.amount_received == received
    assert reply.payment_id == UUID(AUTH["custom_id"])
    taken = capture["status"] == "COMPLETED"
    assert reply.status is (
        ProviderPaymentStatus.SUCCEEDED if taken else ProviderPaymentStatus.PROCESSING
    )


def test_a_capture_of_another_authorization_or_declined_is_no_capture() -> None:
    other = {
        "status": "COMPLETED",
        "amount": EUR_50,
        "supplementary_data": {"related_ids": {"authorization_id": "AUTH2"}},
    }
    with pytest.raises(ProviderUnavailableError):
        capture_payment_reply(other, order_id="ORDER1", auth=AUTH, hold=held_reply())
    declined = {"status": "DECLINED", "processor_response": {"response_code": "5120"}}
    with pytest.raises(ProviderDeclinedError) as caught:
        capture_payment_reply(declined, order_id="ORDER1", auth=AUTH, hold=held_reply())
    assert caught.value.decline_code == "insufficient_funds"


@pytest.mark.parametrize(
    ("status", "expected", "failure"),
    [
        ("CREATED", ProviderPaymentStatus.REQUIRES_CAPTURE, None),
        ("PENDING", ProviderPaymentStatus.PROCESSING, None),
        ("VOIDED", ProviderPaymentStatus.CANCELED, None),
        ("EXPIRED", ProviderPaymentStatus.CANCELED, None),
        ("DENIED", ProviderPaymentStatus.FAILED, "authentication_required"),
    ],
)
def test_an_authorization_is_held_only_while_created(
    status: str, expected: ProviderPaymentStatus, failure: str | None
) -> None:
    auth = {
        **AUTH,
        "status": status,
        "expiration_time": "2027-01-04T10:00:00Z",
        "processor_response": {"response_code": "5650"},
    }
    reply = authorization_payment(auth, order_id="ORDER1", unit={})
    assert (reply.status, reply.failure_code) == (expected, failure)
    held = expected is ProviderPaymentStatus.REQUIRES_CAPTURE
    assert reply.amount_capturable == (5_000 if held else 0)
    assert reply.authorization_expires_at == (
        datetime(2027, 1, 4, 10, tzinfo=UTC) if held else None
    )


@pytest.mark.parametrize(
    ("vault", "saved"),
    [
        ({"id": "8kk8451t", "status": "VAULTED", "customer": {"id": "C1"}}, ("8kk8451t", "C1")),
        ({"id": "8kk8451t", "status": "CREATED", "customer": {"id": "C1"}}, None),
        ({"status": "VAULTED"}, None),
    ],
)
def test_only_a_vaulted_card_is_a_saved_method(
    vault: dict[str, Any], saved: tuple[str, str] | None
) -> None:
    order = {"payment_source": {"card": {"last_digits": "4242", "attributes": {"vault": vault}}}}
    method = saved_method_of(order)
    assert (None if method is None else (method.token, method.customer_id)) == saved


# ---------------------------------------------------------------------------- property
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    currency=st.sampled_from(["EUR", "JPY", "USD"]),
    held=st.integers(min_value=100, max_value=2_000_000),
    share=st.fractions(min_value=0, max_value=1),
)
def test_any_part_of_any_hold_is_captured_exactly_once(
    paypal_standin: PayPalStandIn, currency: str, held: int, share: Fraction
) -> None:
    wanted = max(1, int(held * share))
    paypal_standin.reset()  # each example's harness numbers its payments from one again

    async def run() -> tuple[Payment, str]:
        provider = PayPalProvider(
            paypal_standin.client_id, paypal_standin.client_secret, api_base=paypal_standin.base_url
        )
        try:
            harness = build_in_memory(
                provider=provider,  # type: ignore[arg-type]
                config=ServiceConfig(default_provider="paypal"),
                clock=SettableClock(datetime.now(UTC)),
            )
            payment = await harness.services.payments.create(
                CreatePayment(
                    booking_id=uuid4(),
                    guest_id=uuid4(),
                    amount=held,
                    currency=currency,
                    payment_method="pm_card_visa",
                    capture_method="manual",
                    confirm=True,
                )
            )
            assert payment.status is PaymentStatus.AUTHORIZED
            done = await harness.services.payments.capture(payment.id, wanted)
            return done, payment.provider_payment_id or ""
        finally:
            await provider.aclose()

    done, order_id = asyncio.run(run())

    assert (done.status, done.amount_captured) == (PaymentStatus.COMPLETED, wanted)
    with paypal_standin.lock:
        [auth] = paypal_standin.orders[order_id].authorizations
        assert auth["status"] == "CAPTURED"
        assert paypal_standin.held[auth["id"]].captured == wanted
        assert paypal_standin.orders[order_id].charges == 1
        assert paypal_standin.conflicts == []
