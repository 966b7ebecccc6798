"""The console's read model and session store: the same answers on memory, SQLite, PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from payment_adapters.console import PaymentFilter, SessionRecord
from payment_adapters.console.memory import InMemoryConsoleQueries, InMemorySessionStore
from payment_adapters.console.sql import SqlConsoleQueries, SqlSessionStore
from payment_core.ids import new_reference
from payment_core.model.payment import Payment
from payment_core.model.refund import Refund
from payment_core.money import Money
from payment_core.pagination import Cursor, PageRequest
from payment_core.ports import StoredWebhook

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def queries(storage):
    if storage.store is not None:
        return InMemoryConsoleQueries(storage.store)
    return SqlConsoleQueries(storage.database)


def sessions(storage):
    if storage.store is not None:
        return InMemorySessionStore()
    return SqlSessionStore(storage.database)


def payment(at, *, booking=None, amount=1000, currency="EUR", status="PENDING"):
    made = Payment.initiate(
        id=uuid4(),
        reference=new_reference("pay"),
        booking_id=booking or uuid4(),
        guest_id=uuid4(),
        amount=Money.of(amount, currency),
        provider="fake",
        now=at,
        event_id=uuid4(),
        client_secret="secret_never_shown",
    )
    if status != "PENDING":
        made.start_processing(now=at, payment_method="pm_card_visa", reconcile_after=timedelta(1))
    if status == "COMPLETED":
        made.complete(now=at, event_id=uuid4(), card=None)
    elif status == "FAILED":
        made.fail(now=at, event_id=uuid4(), code="card_declined", message=None)
    return made


async def test_search_pages_newest_first_and_filters(storage):
    booking = uuid4()
    made = [
        payment(T0 + timedelta(minutes=i), booking=booking if i % 2 else None) for i in range(7)
    ]
    await storage.add(*made)
    read = queries(storage)
    first = await read.search_payments(PaymentFilter(), PageRequest(limit=3))
    assert [p.id for p in first.items] == [p.id for p in reversed(made)][:3]
    assert first.next_cursor is not None
    rest = await read.search_payments(PaymentFilter(), PageRequest.parse(3, first.next_cursor))
    assert [p.id for p in rest.items] == [p.id for p in reversed(made)][3:6]
    by_booking = await read.search_payments(PaymentFilter(booking_id=booking), PageRequest())
    assert [p.id for p in by_booking.items] == [made[5].id, made[3].id, made[1].id]
    ranged = await read.search_payments(
        PaymentFilter(
            created_from=T0 + timedelta(minutes=2), created_until=T0 + timedelta(minutes=4)
        ),
        PageRequest(),
    )
    assert [p.id for p in ranged.items] == [made[3].id, made[2].id]
    by_ref = await read.search_payments(PaymentFilter(reference=made[4].reference), PageRequest())
    assert [p.id for p in by_ref.items] == [made[4].id]
    assert not hasattr(by_ref.items[0], "client_secret")


async def test_search_by_status_and_flagged_payments(storage):
    done = payment(T0, status="COMPLETED")
    failed = payment(T0 + timedelta(seconds=1), status="FAILED")
    stuck = payment(T0 + timedelta(seconds=2), status="PROCESSING")
    await storage.add(done, failed, stuck)
    stuck.schedule_reconciliation(now=T0, after=timedelta(hours=1))
    stuck.schedule_reconciliation(now=T0, after=timedelta(hours=1))
    await storage.update(stuck)
    read = queries(storage)
    found = await read.search_payments(PaymentFilter(status="FAILED"), PageRequest())
    assert [p.id for p in found.items] == [failed.id]
    assert [p.id for p in await read.flagged_payments(1, 10)] == [stuck.id]
    assert await read.flagged_payments(2, 10) == []


async def test_daily_totals_by_day_currency_and_status(storage):
    await storage.add(
        payment(T0, status="COMPLETED", amount=1000),
        payment(T0 + timedelta(hours=1), status="COMPLETED", amount=500),
        payment(T0 + timedelta(days=1), status="FAILED", amount=700),
        payment(T0 + timedelta(days=1), status="COMPLETED", amount=900, currency="JPY"),
        payment(T0 - timedelta(days=5), status="COMPLETED"),
    )
    rows = await queries(storage).daily_payments(T0)
    got = {(r.day, r.currency, r.status): (r.count, r.amount) for r in rows}
    assert got == {
        (date(2026, 11, 1), "EUR", "COMPLETED"): (2, 1500),
        (date(2026, 11, 2), "EUR", "FAILED"): (1, 700),
        (date(2026, 11, 2), "JPY", "COMPLETED"): (1, 900),
    }


async def test_failed_and_retrying_refunds(storage):
    paid = payment(T0, status="COMPLETED")
    await storage.add(paid)
    refunds = []
    for i in range(2):
        refund = Refund.create(
            id=uuid4(),
            reference=new_reference("re"),
            payment_id=paid.id,
            booking_id=paid.booking_id,
            guest_id=paid.guest_id,
            amount=Money.of(100, "EUR"),
            provider="fake",
            reason=None,
            now=T0 + timedelta(minutes=i),
            event_id=uuid4(),
        )
        refund.start_attempt(now=T0)
        refunds.append(refund)
    refunds[0].fail(now=T0, event_id=uuid4(), reason="refund_failed")
    refunds[1].retry_later(now=T0, at=T0 + timedelta(hours=1), error="declined", definite=True)
    await storage.add(*refunds)
    read = queries(storage)
    failed = await read.failed_refunds(PageRequest())
    assert [r.id for r in failed.items] == [refunds[0].id]
    assert [r.id for r in await read.retrying_refunds(10)] == [refunds[1].id]
    daily = await read.daily_refunds(T0)
    assert sum(r.count for r in daily) == 2


async def test_webhooks_newest_first_and_unprocessed(storage):
    read = queries(storage)
    hooks = [
        StoredWebhook(uuid4(), "fake", f"evt_{i}", b'{"id": 1}', T0 + timedelta(minutes=i))
        for i in range(3)
    ]
    async with storage.uow() as uow:
        for hook in hooks:
            await uow.webhooks.add(hook)
        await uow.webhooks.mark_processed(hooks[1].id, T0)
        await uow.commit()
    listed = await read.webhooks(PageRequest(limit=2), unprocessed=False)
    assert [w.event_id for w in listed.items] == ["evt_2", "evt_1"]
    assert listed.items[0].body == b'{"id": 1}'
    after = await read.webhooks(PageRequest.parse(2, listed.next_cursor), unprocessed=False)
    assert [w.event_id for w in after.items] == ["evt_0"]
    waiting = await read.webhooks(PageRequest(), unprocessed=True)
    assert [w.event_id for w in waiting.items] == ["evt_2", "evt_0"]


async def test_outbox_backlog_and_a_payments_events(storage):
    made = payment(T0, status="COMPLETED")
    await storage.add(made)
    read = queries(storage)
    events = await read.stream_events(made.id, 10)
    assert [e.type for e in events] == ["payment.initiated", "payment.completed"]
    backlog = await read.outbox_backlog(10)
    assert backlog.pending == 2
    assert dict(backlog.by_type) == {"payment.initiated": 1, "payment.completed": 1}
    assert [i.type for i in backlog.first] == ["payment.initiated", "payment.completed"]


async def test_sessions_are_kept_touched_revoked_and_purged(storage):
    store = sessions(storage)
    record = SessionRecord("a" * 64, "key1", T0, T0, T0 + timedelta(hours=24))
    await store.add(record)
    assert await store.get("a" * 64) == record
    await store.touch("a" * 64, T0 + timedelta(hours=1))
    assert (await store.get("a" * 64)).last_seen_at == T0 + timedelta(hours=1)
    await store.revoke("a" * 64, T0 + timedelta(hours=2))
    assert (await store.get("a" * 64)).revoked_at == T0 + timedelta(hours=2)
    assert await store.purge_expired(T0 + timedelta(hours=25), 10) == 1
    assert await store.get("a" * 64) is None


def test_a_cursor_is_the_apis_own():
    assert Cursor.decode(Cursor(T0, uuid4()).encode()).created_at == T0


pytestmark = pytest.mark.integration


async def test_disputes_by_day_currency_and_state(storage, build):
    from payment_core.model.dispute import Dispute, DisputeStatus  # noqa: PLC0415

    paid = build.completed_payment()
    disputes = []
    for i, minutes in enumerate((0, 30, 24 * 60)):
        dispute = Dispute.open(
            id=uuid4(),
            payment_id=paid.id,
            booking_id=paid.booking_id,
            guest_id=paid.guest_id,
            provider="fake",
            provider_dispute_id=f"dp_{i}_{uuid4().hex}",
            amount=Money.of(1_000 * (i + 1), "EUR"),
            reason="fraudulent",
            inquiry=False,
            evidence_due_by=None,
            evidence={},
            now=T0 + timedelta(minutes=minutes),
            event_id=uuid4(),
        )
        disputes.append(dispute)
    disputes[1].follow(
        DisputeStatus.LOST, inquiry=False, evidence_due_by=None, now=T0, event_id=uuid4()
    )
    for dispute in disputes:
        dispute.events.clear()
    await storage.add(paid, *disputes)
    daily = await queries(storage).daily_disputes(T0 - timedelta(days=1))
    assert [(r.day, r.status, r.count, r.amount) for r in daily] == [
        (T0.date(), "LOST", 1, 2_000),
        (T0.date(), "NEEDS_RESPONSE", 1, 1_000),
        (T0.date() + timedelta(days=1), "NEEDS_RESPONSE", 1, 3_000),
    ]
    assert {r.currency for r in daily} == {"EUR"}
    assert await queries(storage).daily_disputes(T0 + timedelta(days=2)) == []
