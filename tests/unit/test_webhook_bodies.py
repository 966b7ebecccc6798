"""What a correctly signed webhook may still hold, for every provider: hostile bodies are client
errors that store nothing, and an event that does not say how much never settles anything."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.test_provider_webhooks import (
    NOW,
    SQUARE_KEY,
    SQUARE_URL,
    STRIPE_SECRET,
    CertFetcher,
    T,
    paypal_headers,
    paypal_provider,
    square_provider,
    square_sig,
    stripe_provider,
    stripe_sig,
)

from payment_adapters.providers.square import placeholder_id
from payment_core import Payment, PaymentStatus, Refund, RefundStatus
from payment_core.errors import MalformedBodyError, PaymentError, ValidationError
from payment_core.money import Money
from payment_core.ports import PaymentProvider
from payment_core.signing import signature_header
from payment_core.testing import FakeProvider, Harness, SettableClock, build_in_memory

PROVIDERS = ("fake", "stripe", "paypal", "square")
AMOUNT = Money.of(12_500, "EUR")


_BUILT: dict[str, PaymentProvider] = {}


def make_provider(name: str) -> PaymentProvider:
    """One provider per name for the module: building one opens an HTTP client (and its TLS
    context), which a webhook never uses."""
    if name not in _BUILT:
        _BUILT[name] = _build(name)
    return _BUILT[name]


def _build(name: str) -> PaymentProvider:
    if name == "fake":
        return FakeProvider()
    if name == "stripe":
        return stripe_provider()
    if name == "square":
        return square_provider()
    return paypal_provider(CertFetcher())


def sign(name: str, body: bytes) -> dict[str, str]:
    if name == "fake":
        return {"Fake-Signature": signature_header("whsec_fake", T, body)}
    if name == "stripe":
        return {"Stripe-Signature": f"t={T},v1={stripe_sig(STRIPE_SECRET, T, body)}"}
    if name == "square":
        return {"x-square-hmacsha256-signature": square_sig(SQUARE_KEY, SQUARE_URL, body)}
    return paypal_headers(body)


def envelope(name: str, event_id: Any, data: Any) -> str:
    """A provider's event envelope around ``data`` (already JSON text), as JSON text."""
    eid = json.dumps(event_id) if not isinstance(event_id, RawJson) else event_id.text
    if name in ("fake", "stripe"):
        return f'{{"id":{eid},"type":"payment_intent.succeeded","data":{{"object":{data}}}}}'
    if name == "square":
        return f'{{"event_id":{eid},"type":"payment.updated","data":{{"object":{data}}}}}'
    return f'{{"id":{eid},"event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{data}}}'


class RawJson:
    def __init__(self, text: str) -> None:
        self.text = text


def harness_for(name: str) -> Harness:
    return build_in_memory(
        provider=make_provider(name),  # type: ignore[arg-type]
        clock=SettableClock(NOW),
    )


async def deliver(harness: Harness, name: str, body: bytes) -> str:
    result = await harness.services.webhooks.receive(name, body, sign(name, body))
    return result.outcome


# ---------------------------------------------------------------------------- hostile bodies

DEEP = "[" * 5_000 + "]" * 5_000
HOSTILE: dict[str, tuple[Callable[[str], bytes], type[PaymentError]]] = {
    "nested 5,000 deep": (lambda n: envelope(n, "evt_1", DEEP).encode(), MalformedBodyError),
    "nested 65 deep and more": (
        lambda n: envelope(n, "evt_1", "[" * 64 + "]" * 64).encode(),
        MalformedBodyError,
    ),
    "lone surrogate in the id": (
        lambda n: envelope(n, RawJson('"evt_\\ud800"'), "{}").encode(),
        MalformedBodyError,
    ),
    "lone surrogate in a value": (
        lambda n: envelope(n, "evt_1", '{"id":"x","note":"\\udfff"}').encode(),
        MalformedBodyError,
    ),
    "lone surrogate in a key": (
        lambda n: envelope(n, "evt_1", '{"\\ud83d":1}').encode(),
        MalformedBodyError,
    ),
    "not UTF-8": (
        lambda n: envelope(n, "evt_1", '{"x":"\xff"}').encode("latin-1"),
        MalformedBodyError,
    ),
    "UTF-16": (lambda n: envelope(n, "evt_1", "{}").encode("utf-16"), MalformedBodyError),
    "NaN": (lambda n: envelope(n, "evt_1", '{"amount":NaN}').encode(), MalformedBodyError),
    "an integer of 5,000 digits": (
        lambda n: envelope(n, "evt_1", '{"amount":' + "9" * 5_000 + "}").encode(),
        MalformedBodyError,
    ),
    "truncated": (lambda n: envelope(n, "evt_1", "{}").encode()[:-3], MalformedBodyError),
    "NUL in the id": (lambda n: envelope(n, "evt\x00_1", "{}").encode(), ValidationError),
    "escape in the id": (lambda n: envelope(n, "evt\x1b[2J", "{}").encode(), ValidationError),
    "id of 256 characters": (lambda n: envelope(n, "e" * 256, "{}").encode(), ValidationError),
    "empty id": (lambda n: envelope(n, "", "{}").encode(), ValidationError),
    "numeric id": (lambda n: envelope(n, 12345, "{}").encode(), ValidationError),
    "null id": (lambda n: envelope(n, None, "{}").encode(), ValidationError),
    "list id": (lambda n: envelope(n, ["evt_1"], "{}").encode(), ValidationError),
    "data a list": (lambda n: envelope(n, "evt_1", "[]").encode(), ValidationError),
    "data a string": (lambda n: envelope(n, "evt_1", '"x"').encode(), ValidationError),
    "an array": (lambda n: b"[1,2,3]", ValidationError),
    "a string": (lambda n: b'"evt"', ValidationError),
    "empty": (lambda n: b"", MalformedBodyError),
}


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize("shape", sorted(HOSTILE))
async def test_a_hostile_signed_body_is_refused_and_stores_nothing(name: str, shape: str) -> None:
    build, error = HOSTILE[shape]
    harness = harness_for(name)
    body = build(name)
    with pytest.raises(error) as caught:
        await harness.services.webhooks.receive(name, body, sign(name, body))
    assert type(caught.value) is error
    assert harness.store.webhooks == {}


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_hostile_body_is_refused_before_anything_recurses_through_it(name: str) -> None:
    """Within the body limit, the deepest nesting is refused in a bounded time."""
    harness = harness_for(name)
    body = envelope(name, "evt_1", "[" * 32_000 + "]" * 32_000).encode()
    with pytest.raises(MalformedBodyError):
        await harness.services.webhooks.receive(name, body, sign(name, body))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _object(name: str, value: Any) -> bytes:
    return envelope(name, "evt_prop", json.dumps(value)).encode()


@pytest.mark.parametrize("name", PROVIDERS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        json_values.map(lambda v: ("any", v)),
        st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "amount",
                    "currency",
                    "status",
                    "metadata",
                    "custom_id",
                    "payment",
                    "refund",
                    "reference_id",
                    "last_payment_error",
                    "amount_money",
                    "card_details",
                    "supplementary_data",
                    "payment_method_details",
                    "payment_intent",
                ]
            ),
            json_values,
        ).map(lambda v: ("object", v)),
    ),
    st.binary(max_size=200),
)
async def test_any_signed_json_or_bytes_is_answered_or_refused_as_a_client_error(
    name: str, case: tuple[str, Any], raw: bytes
) -> None:
    """Whatever a signed body holds, the outcome is an answer or a 4xx-mapped domain error."""
    harness = harness_for(name)
    for body in (_object(name, case[1]), raw, json.dumps(case[1]).encode()):
        with contextlib.suppress(ValidationError):  # MalformedBodyError is one too
            await harness.services.webhooks.receive(name, body, sign(name, body))


# ---------------------------------------------------------------------------- amounts

PROVIDER_ID = {
    "fake": "pi_fake_amountless",
    "stripe": "pi_amountless",
    "paypal": "5O190127TN364715T",
    "square": "sqAmountless1",
}


async def processing_payment(harness: Harness, name: str) -> Payment:
    now = harness.clock.now()
    payment = Payment.initiate(
        id=uuid4(),
        reference=f"pay_{uuid4().hex[:26]}",
        booking_id=uuid4(),
        guest_id=uuid4(),
        amount=AMOUNT,
        provider=name,
        now=now,
        event_id=uuid4(),
        provider_payment_id=PROVIDER_ID[name],
    )
    payment.start_processing(now=now, payment_method="pm_x", reconcile_after=timedelta(hours=1))
    async with harness.services.deps.uow() as uow:
        await uow.payments.add(payment)
        await uow.commit()
    return payment


def succeeded(name: str, payment_id: UUID, *, amount: bool, currency: bool) -> bytes:
    if name in ("fake", "stripe"):
        obj: dict[str, Any] = {
            "id": PROVIDER_ID[name],
            "object": "payment_intent",
            "status": "succeeded",
            "metadata": {"payment_id": str(payment_id)},
        }
        if amount:
            obj["amount"] = AMOUNT.amount
        if currency:
            obj["currency"] = "eur"
    elif name == "square":
        money: dict[str, Any] = {}
        if amount:
            money["amount"] = AMOUNT.amount
        if currency:
            money["currency"] = "EUR"
        obj = {
            "payment": {
                "id": PROVIDER_ID[name],
                "status": "COMPLETED",
                "reference_id": str(payment_id),
                "amount_money": money,
            }
        }
    else:
        value: dict[str, Any] = {}
        if amount:
            value["value"] = "125.00"
        if currency:
            value["currency_code"] = "EUR"
        obj = {
            "id": "42311647XV020574X",
            "status": "COMPLETED",
            "amount": value,
            "custom_id": str(payment_id),
            "supplementary_data": {"related_ids": {"order_id": PROVIDER_ID[name]}},
        }
    return envelope(name, f"evt_{uuid4().hex}", json.dumps(obj)).encode()


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize(
    ("amount", "currency"), [(False, True), (True, False), (False, False)], ids=str
)
async def test_a_success_without_amount_or_currency_never_completes_a_payment(
    name: str, amount: bool, currency: bool
) -> None:
    harness = harness_for(name)
    payment = await processing_payment(harness, name)
    body = succeeded(name, payment.id, amount=amount, currency=currency)
    assert await deliver(harness, name, body) == "mismatch"
    stored = await harness.services.payments.get(payment.id)
    assert (stored.status, stored.failure_code) == (
        PaymentStatus.PROCESSING,
        "provider_amount_mismatch",
    )


@pytest.mark.parametrize("name", PROVIDERS)
async def test_the_same_success_with_its_amount_completes_it(name: str) -> None:
    harness = harness_for(name)
    payment = await processing_payment(harness, name)
    body = succeeded(name, payment.id, amount=True, currency=True)
    assert await deliver(harness, name, body) == "settled"
    assert (await harness.services.payments.get(payment.id)).status is PaymentStatus.COMPLETED


PROVIDER_REFUND_ID = {
    "fake": "re_amountless",
    "stripe": "re_amountless",
    "paypal": "1JU08902781691411",
    "square": "sqRefund1",
}


async def completed_refund(harness: Harness, name: str) -> Refund:
    payment = await processing_payment(harness, name)
    body = succeeded(name, payment.id, amount=True, currency=True)
    assert await deliver(harness, name, body) == "settled"
    now = harness.clock.now()
    async with harness.services.deps.uow() as uow:
        stored = await uow.payments.get(payment.id, for_update=True)
        assert stored is not None
        refund = Refund.create(
            id=uuid4(),
            reference=f"ref_{uuid4().hex[:26]}",
            payment_id=payment.id,
            booking_id=payment.booking_id,
            guest_id=payment.guest_id,
            amount=Money.of(1_000, "EUR"),
            provider=name,
            reason=None,
            now=now,
            event_id=uuid4(),
        )
        stored.reserve_refund(now=now, amount=refund.amount)
        refund.start_attempt(now=now)
        refund.complete(now=now, event_id=uuid4(), provider_refund_id=PROVIDER_REFUND_ID[name])
        stored.settle_refund(now=now, amount=refund.amount)
        await uow.refunds.add(refund)
        await uow.payments.update(stored)
        await uow.commit()
    return refund


def refund_failed_without_amount(name: str) -> bytes:
    refund_id = PROVIDER_REFUND_ID[name]
    if name in ("fake", "stripe"):
        obj: dict[str, Any] = {
            "id": refund_id,
            "object": "refund",
            "status": "failed",
            "currency": "eur",
        }
        return (
            envelope(name, f"evt_{uuid4().hex}", json.dumps(obj))
            .encode()
            .replace(b"payment_intent.succeeded", b"refund.failed")
        )
    if name == "square":
        obj = {"refund": {"id": refund_id, "status": "REJECTED"}}
        return (
            envelope(name, f"evt_{uuid4().hex}", json.dumps(obj))
            .encode()
            .replace(b"payment.updated", b"refund.updated")
        )
    obj = {"id": refund_id, "status": "FAILED"}
    return (
        envelope(name, f"evt_{uuid4().hex}", json.dumps(obj))
        .encode()
        .replace(b"PAYMENT.CAPTURE.COMPLETED", b"PAYMENT.CAPTURE.REFUNDED")
    )


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_refund_failure_without_an_amount_never_reverses_a_refund(name: str) -> None:
    harness = harness_for(name)
    refund = await completed_refund(harness, name)
    assert await deliver(harness, name, refund_failed_without_amount(name)) == "mismatch"
    assert (await harness.services.refunds.get(refund.id)).status is RefundStatus.COMPLETED


# ---------------------------------------------------------------------------- Square's ids


async def test_a_square_payment_named_by_its_placeholder_takes_squares_id() -> None:
    """A confirm whose answer was lost leaves our placeholder: the payment's webhook, whose
    reference id and amount derive exactly that placeholder, finds it and names it."""
    harness = harness_for("square")
    payment = await processing_payment(harness, "square")
    async with harness.services.deps.uow() as uow:
        stored = await uow.payments.get(payment.id, for_update=True)
        assert stored is not None
        stored.provider_payment_id = placeholder_id(payment.id, AMOUNT)
        await uow.payments.update(stored)
        await uow.commit()
    body = succeeded("square", payment.id, amount=True, currency=True)
    assert await deliver(harness, "square", body) == "settled"
    done = await harness.services.payments.get(payment.id)
    assert (done.status, done.provider_payment_id) == (
        PaymentStatus.COMPLETED,
        PROVIDER_ID["square"],
    )
