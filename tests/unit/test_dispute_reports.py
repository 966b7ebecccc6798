"""Any sequence of a provider's reports about one dispute (any states, funds, order, repeats):
the money is recorded at most once each way and always matches the dispute's own flag, a
closed dispute never changes, and the booking's chain verifies."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from payment_core.model.billing import BillingRecordType
from payment_core.model.dispute import DisputeStatus
from payment_core.ports import FundsMovement, ProviderDispute, WebhookEvent, WebhookKind
from payment_core.services import CreatePayment
from payment_core.testing import build_in_memory

R = BillingRecordType

reports = st.lists(
    st.tuples(
        st.sampled_from(list(DisputeStatus)),
        st.booleans(),  # inquiry
        st.sampled_from([None, FundsMovement.WITHDRAWN, FundsMovement.REINSTATED]),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(sequence=reports)
def test_reports_in_any_order_keep_the_books_straight(sequence) -> None:
    asyncio.run(_run(sequence))


async def _run(sequence: list[tuple[DisputeStatus, bool, FundsMovement | None]]) -> None:
    harness = build_in_memory()
    services = harness.services
    payment = await services.payments.create(
        CreatePayment(
            booking_id=uuid4(),
            guest_id=uuid4(),
            amount=5_000,
            currency="EUR",
            payment_method="pm_card_visa",
            confirm=True,
        )
    )
    closed_as = None
    for n, (status, inquiry, funds) in enumerate(sequence):
        report = ProviderDispute(
            provider_dispute_id="dp_1",
            status=status,
            provider_payment_id=payment.provider_payment_id,
            amount=payment.amount,
            inquiry=inquiry,
            funds=funds,
        )
        event = WebhookEvent(
            id=f"evt_{n}",
            type="charge.dispute.updated",
            kind=WebhookKind.DISPUTE,
            created_at=harness.clock.now(),
            dispute=report,
        )
        async with harness.uow() as uow:
            await services.disputes.apply_report_in(uow, "fake", event)
            await uow.commit()
        (dispute,) = harness.store.disputes.values()
        if closed_as is not None:
            assert (dispute.status, dispute.funds_withdrawn) == closed_as, "a closed one moved"
        elif not dispute.is_open:
            closed_as = (dispute.status, dispute.funds_withdrawn)
        kinds = [r.type for r in harness.store.billing[payment.booking_id]][1:]
        # Chargebacks and their reversals alternate, starting with a chargeback.
        assert kinds == [R.CHARGEBACK, R.CHARGEBACK_REVERSED] * (len(kinds) // 2) + (
            [R.CHARGEBACK] if len(kinds) % 2 else []
        )
        assert dispute.funds_withdrawn == (len(kinds) % 2 == 1)
        if dispute.status is DisputeStatus.LOST:
            assert dispute.funds_withdrawn, "a lost dispute's money is gone"
        if dispute.status is DisputeStatus.WON:
            assert not dispute.funds_withdrawn, "a won dispute's money is back"
    assert (await services.billing.verify()).ok
    published = [e.type for e in harness.publisher.events]
    assert published.count("dispute.created") == 1
    assert published.count("dispute.closed") == (0 if closed_as is None else 1)
