"""Faults: the stand-ins time out (after doing the work), answer 429 with ``Retry-After`` and
answer 5xx, at random (seeded), on every kind of request, during a run of 100 payments and 50
refunds. Whatever happens:

- every retry of an operation carries the key of its first attempt (from the recorded requests);
- no payment is charged twice and no refund is paid twice (the stand-ins' own books);
- nothing is marked FAILED because an outcome was unknown;
- reconciliation (with the harness clock moved on) settles everything afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar
from uuid import uuid4

import pytest
from provider_standins._server import Faults
from provider_standins.kits import Kit

from payment_core.errors import ProviderError
from payment_core.model.payment import Payment, PaymentStatus
from payment_core.model.refund import Refund, RefundStatus
from payment_core.services import CreatePayment, RetryPolicy, ServiceConfig
from payment_core.testing import Harness, build_in_memory

T = TypeVar("T")

PAYMENTS = 100
REFUNDS = 50
DECLINED_EVERY = 10


async def bounded(tasks: list[Callable[[], Awaitable[T]]], limit: int = 10) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def run(task: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await task()

    return await asyncio.gather(*(run(t) for t in tasks))


async def create(harness: Harness, amount: int) -> Payment:
    """Create a payment; a create whose outcome stayed unknown is simply asked again."""
    for _ in range(5):
        try:
            return await harness.services.payments.create(
                CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=amount, currency="EUR")
            )
        except ProviderError:
            continue
    raise AssertionError("could not create a payment in 5 tries")


@pytest.mark.parametrize("name", ["stripe", "paypal", "square"])
async def test_faults_never_charge_or_refund_twice_and_reconciliation_settles_everything(
    name: str, kit_factory: Callable[..., Kit]
) -> None:
    kit = kit_factory(name, timeout=0.15, attempts=2)
    assert kit.standin is not None
    harness = build_in_memory(
        provider=kit.provider,  # type: ignore[arg-type]
        config=ServiceConfig(
            default_provider=name,
            reconcile_after=timedelta(minutes=5),
            refund_retry=RetryPolicy(
                base=timedelta(seconds=2), cap=timedelta(seconds=30), max_attempts=4
            ),
        ),
        randbelow=lambda n: 0,
    )
    faults = Faults(
        timeout=0.10,
        rate_limited=0.05,
        server_error=0.05,
        retry_after=1,
        seed=sum(map(ord, name)),
        applies=lambda method, path: "/notifications/certs/" not in path,
    )
    kit.standin.faults = faults

    # -------------------------------------------------------------- 100 payments
    # Mostly good cards; every tenth declined; five whose every confirm times out (after the
    # charge), so that reconciliation always has work whatever the random faults did.
    methods = [
        "pm_card_chargeDeclined"
        if i % DECLINED_EVERY == DECLINED_EVERY - 1
        else "pm_card_timeout"
        if i % 20 == 4
        else "pm_card_visa"
        for i in range(PAYMENTS)
    ]

    async def pay(method: str, amount: int) -> tuple[str, Payment]:
        payment = await create(harness, amount)
        return method, await harness.services.payments.confirm(payment.id, method)

    paid = await bounded(
        [lambda m=m, i=i: pay(m, 10_000 + i) for i, m in enumerate(methods)]  # type: ignore[misc]
    )
    declined = {p.id for m, p in paid if m == "pm_card_chargeDeclined"}

    for method, payment in paid:
        assert kit.charges(payment) <= 1
        if payment.status is PaymentStatus.FAILED:
            # A decline is an answer; an unknown outcome never becomes FAILED.
            assert method == "pm_card_chargeDeclined", payment.failure_code
            assert payment.failure_code == "card_declined"
        else:
            assert payment.status in (PaymentStatus.COMPLETED, PaymentStatus.PROCESSING)
        if method == "pm_card_timeout":
            assert payment.status is PaymentStatus.PROCESSING

    # -------------------------------------------------------------- 50 refunds
    completed = [p for m, p in paid if p.status is PaymentStatus.COMPLETED and m == "pm_card_visa"]
    assert len(completed) >= REFUNDS
    targets = completed[:REFUNDS]

    async def refund(i: int, payment: Payment) -> Refund:
        amount = 3_000 if i % 2 == 0 else None  # half partial, half the whole remainder
        return await harness.services.refunds.create(payment.id, amount)

    refunds = await bounded(
        [lambda i=i, p=p: refund(i, p) for i, p in enumerate(targets)]  # type: ignore[misc]
    )
    for r in refunds:
        assert r.status is not RefundStatus.FAILED, r.last_error

    assert faults.injected["timeout"] > 0
    assert faults.injected["429"] > 0
    assert faults.injected["5xx"] > 0

    # -------------------------------------------------------------- reconciliation, faults on
    for _ in range(10):
        harness.clock.advance(days=2)
        await harness.services.refunds.process_due()
        await harness.services.reconciliation.sweep()
        states = [(await harness.services.payments.get(p.id)).status for _, p in paid]
        pending = [
            r
            for r in refunds
            if (await harness.services.refunds.get(r.id)).status is not RefundStatus.COMPLETED
        ]
        if PaymentStatus.PROCESSING not in states and not pending:
            break

    # -------------------------------------------------------------- everything settled, once
    for original in refunds:
        refund_now = await harness.services.refunds.get(original.id)
        assert refund_now.status is RefundStatus.COMPLETED, refund_now.last_error
    for _, original in paid:
        payment = await harness.services.payments.get(original.id)
        if payment.id in declined:
            assert payment.status is PaymentStatus.FAILED
            assert payment.failure_code == "card_declined"
            assert kit.charges(payment) == 0
        else:
            assert payment.status is PaymentStatus.COMPLETED, payment.failure_code
            assert kit.charges(payment) == 1
            assert kit.refunded(payment) == payment.amount_refunded
    payouts = kit.payouts()
    assert {str(r.id) for r in refunds} <= set(payouts)
    assert all(count == 1 for count in payouts.values()), payouts
    assert "refund.failed" not in harness.published_types()

    # -------------------------------------------------------------- retries reused their keys
    keys = kit.post_keys()
    retried = 0
    for operation, sent in keys.items():
        assert None not in sent, f"{operation} was sent without an idempotency key"
        assert len(set(sent)) == 1, f"{operation} was retried under another key: {set(sent)}"
        retried += len(sent) - 1
    assert retried > 0
    assert kit.sleep.waits  # the backoff ran (without sleeping)
    assert max(kit.sleep.waits) >= faults.retry_after  # and honoured Retry-After
