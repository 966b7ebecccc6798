"""The in-memory adapters behave like a database: transactions, optimistic locking, copies."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import attrs
import pytest

from payment_adapters.idempotency import InMemoryIdempotencyStore, StoredResponse
from payment_core import (
    BillingRecord,
    BillingRecordType,
    Currency,
    Money,
    Payment,
    RefundStatus,
)
from payment_core.errors import (
    ConcurrencyError,
    IdempotencyKeyReusedError,
    IdempotencyRequestInProgressError,
)
from payment_core.model._copy import copy_aggregate
from payment_core.ports import StoredWebhook
from payment_core.testing import (
    InMemoryStore,
    InMemoryUnitOfWork,
    SequentialIds,
    SettableClock,
)

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
EUR = Currency.of("EUR")


def new_payment(n: int = 1) -> Payment:
    return Payment.initiate(
        id=UUID(int=n),
        reference=f"pay_{n}",
        booking_id=UUID(int=100),
        guest_id=UUID(int=200),
        amount=Money(1_000, EUR),
        provider="fake",
        now=NOW,
        event_id=UUID(int=1_000 + n),
        metadata={"k": "v"},
    )


async def stored(store: InMemoryStore, payment: Payment) -> None:
    async with InMemoryUnitOfWork(store) as uow:
        await uow.payments.add(payment)
        await uow.commit()


# ---------------------------------------------------------------------------- transactions


async def test_leaving_without_commit_rolls_everything_back() -> None:
    store = InMemoryStore()
    async with InMemoryUnitOfWork(store) as uow:
        await uow.payments.add(new_payment())
        await uow.inbox.add("consumer", "evt-1")
        await uow.invoice_numbers.next(2026)
    assert (store.payments, store.inbox, store.invoice_counters, store.outbox) == (
        {},
        set(),
        {},
        [],
    )


async def test_an_exception_inside_rolls_back() -> None:
    store = InMemoryStore()

    async def failing_transaction() -> None:
        async with InMemoryUnitOfWork(store) as uow:
            await uow.payments.add(new_payment())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await failing_transaction()
    assert store.payments == {}


async def test_commit_applies_writes_and_outboxes_events() -> None:
    store = InMemoryStore()
    await stored(store, new_payment())
    assert list(store.payments) == [UUID(int=1)]
    assert [e.event.type for e in store.outbox] == ["payment.initiated"]
    assert store.commits == 1


async def test_a_unit_of_work_commits_once() -> None:
    async with InMemoryUnitOfWork(InMemoryStore()) as uow:
        await uow.commit()
        with pytest.raises(RuntimeError):
            await uow.commit()


async def test_adding_an_existing_id_is_a_conflict() -> None:
    store = InMemoryStore()
    await stored(store, new_payment())
    async with InMemoryUnitOfWork(store) as uow:
        with pytest.raises(ConcurrencyError):
            await uow.payments.add(new_payment())


async def test_two_inserts_of_one_id_conflict_at_commit() -> None:
    store = InMemoryStore()
    first, second = InMemoryUnitOfWork(store), InMemoryUnitOfWork(store)
    await first.payments.add(new_payment())
    await second.payments.add(new_payment())
    await first.commit()
    with pytest.raises(ConcurrencyError):
        await second.commit()
    assert len(store.outbox) == 1


async def test_a_stale_update_is_a_conflict() -> None:
    store = InMemoryStore()
    await stored(store, new_payment())
    async with InMemoryUnitOfWork(store) as uow:
        stale = await uow.payments.get(UUID(int=1))
    assert stale is not None
    async with InMemoryUnitOfWork(store) as uow:
        fresh = await uow.payments.get(UUID(int=1))
        assert fresh is not None
        await uow.payments.update(fresh)
        await uow.commit()
    async with InMemoryUnitOfWork(store) as uow:
        with pytest.raises(ConcurrencyError):
            await uow.payments.update(stale)


async def test_a_concurrent_writer_makes_the_slower_commit_fail() -> None:
    store = InMemoryStore()
    await stored(store, new_payment())
    slow, fast = InMemoryUnitOfWork(store), InMemoryUnitOfWork(store)
    mine = await slow.payments.get(UUID(int=1))
    theirs = await fast.payments.get(UUID(int=1))
    assert mine is not None
    assert theirs is not None
    await slow.payments.update(mine)
    await fast.payments.update(theirs)
    await fast.commit()
    with pytest.raises(ConcurrencyError):
        await slow.commit()
    assert store.payments[UUID(int=1)].version == 1


async def test_updating_an_unknown_aggregate_is_a_conflict() -> None:
    async with InMemoryUnitOfWork(InMemoryStore()) as uow:
        with pytest.raises(ConcurrencyError):
            await uow.payments.update(new_payment())


async def test_updating_twice_in_one_unit_of_work_is_fine() -> None:
    store = InMemoryStore()
    await stored(store, new_payment())
    async with InMemoryUnitOfWork(store) as uow:
        payment = await uow.payments.get(UUID(int=1), for_update=True)
        assert payment is not None
        await uow.payments.update(payment)
        await uow.payments.update(payment)
        await uow.commit()
    assert store.payments[UUID(int=1)].version == 2


async def test_for_update_makes_a_second_writer_wait_for_the_first() -> None:
    store = InMemoryStore()
    await stored(store, new_payment())
    order: list[str] = []

    async def writer(name: str, pause: float) -> None:
        async with InMemoryUnitOfWork(store) as uow:
            payment = await uow.payments.get(UUID(int=1), for_update=True)
            assert payment is not None
            order.append(f"{name} locked")
            await asyncio.sleep(pause)
            await uow.payments.update(payment)
            await uow.commit()
            order.append(f"{name} done")

    await asyncio.gather(writer("a", 0.01), writer("b", 0))
    assert order == ["a locked", "a done", "b locked", "b done"]
    assert store.payments[UUID(int=1)].version == 2


async def test_locking_the_same_row_twice_in_one_unit_of_work_does_not_deadlock() -> None:
    store = InMemoryStore()
    await stored(store, new_payment())
    async with InMemoryUnitOfWork(store) as uow:
        await uow.payments.get(UUID(int=1), for_update=True)
        assert await uow.payments.get(UUID(int=1), for_update=True) is not None


# ---------------------------------------------------------------------------- copies


async def test_reads_are_copies_that_share_nothing_mutable() -> None:
    store = InMemoryStore()
    await stored(store, new_payment())
    async with InMemoryUnitOfWork(store) as uow:
        copy = await uow.payments.get(UUID(int=1))
    assert copy is not None
    copy.metadata["k"] = "changed"  # type: ignore[index]
    copy.amount_refunded = 999
    assert store.payments[UUID(int=1)].metadata == {"k": "v"}
    assert store.payments[UUID(int=1)].amount_refunded == 0


async def test_a_written_aggregate_changed_afterwards_does_not_change_the_store() -> None:
    store = InMemoryStore()
    payment = new_payment()
    async with InMemoryUnitOfWork(store) as uow:
        await uow.payments.add(payment)
        payment.description = "after add"
        await uow.commit()
    assert store.payments[payment.id].description is None


def test_copy_aggregate_copies_containers_and_drops_events() -> None:
    @attrs.define
    class Thing:
        id: int
        tags: list[str] = attrs.field(factory=list)
        seen: set[str] = attrs.field(factory=set)
        events: list[object] = attrs.field(factory=list)

    thing = Thing(1, ["a"], {"x"}, ["event"])
    clone = copy_aggregate(thing)
    clone.tags.append("b")
    assert (clone.id, thing.tags, clone.events) == (1, ["a"], [])
    assert clone.seen is thing.seen  # not a dict or list: shared, as it is immutable in use


def test_copy_aggregate_works_on_frozen_classes() -> None:
    @attrs.frozen
    class Frozen:
        id: int
        meta: dict[str, str] = attrs.field(factory=dict)
        events: list[object] = attrs.field(factory=list)

    original = Frozen(1, {"k": "v"})
    clone = copy_aggregate(original)
    assert clone == original
    assert clone.meta is not original.meta


# ---------------------------------------------------------------------------- queries


async def test_payments_are_found_by_reference_and_provider_id_including_staged_ones() -> None:
    store = InMemoryStore()
    payment = attrs.evolve(new_payment(), provider_payment_id="pi_1")
    async with InMemoryUnitOfWork(store) as uow:
        await uow.payments.add(payment)
        by_ref = await uow.payments.get_by_reference("pay_1")
        by_provider = await uow.payments.get_by_provider_id("fake", "pi_1")
        assert by_ref is not None
        assert by_provider is not None
        assert await uow.payments.get_by_provider_id("stripe", "pi_1") is None


async def test_refunds_of_a_booking_and_stuck_refunds_are_listed(kit, services, harness) -> None:
    payment = await kit.paid()
    refund = await services.refunds.create(payment.id, 100)
    async with harness.uow() as uow:
        [listed] = await uow.refunds.list_by_booking(payment.booking_id)
        assert listed.id == refund.id
        assert await uow.refunds.list_by_booking(uuid4()) == []
        # A refund whose attempt died while PROCESSING is listed once old enough.
        stuck = attrs.evolve(listed, status=RefundStatus.PROCESSING)
        await uow.refunds.update(stuck)
        later = harness.clock.now() + timedelta(seconds=1)
        assert [r.id for r in await uow.refunds.list_stuck(later, 10)] == [refund.id]
        assert await uow.refunds.list_stuck(harness.clock.now(), 10) == []


# ---------------------------------------------------------------------------- billing


def record(sequence: int, previous: BillingRecord | None = None) -> BillingRecord:
    return BillingRecord.append_to(
        previous,
        id=uuid4(),
        type=BillingRecordType.CHARGE,
        booking_id=UUID(int=100),
        guest_id=UUID(int=200),
        amount=Money(sequence, EUR),
        description="x",
        created_at=NOW,
    )


async def test_a_taken_sequence_is_a_fork_and_refused() -> None:
    store = InMemoryStore()
    first = record(1)
    async with InMemoryUnitOfWork(store) as uow:
        await uow.billing.add(first)
        await uow.billing.add(record(2, first))
        with pytest.raises(ConcurrencyError):
            await uow.billing.add(record(1))
        await uow.commit()
    async with InMemoryUnitOfWork(store) as uow:
        with pytest.raises(ConcurrencyError):
            await uow.billing.add(attrs.evolve(record(2, first), id=uuid4()))


async def test_two_appends_after_the_same_head_conflict_at_commit() -> None:
    store = InMemoryStore()
    first = record(1)
    async with InMemoryUnitOfWork(store) as uow:
        await uow.billing.add(first)
        await uow.commit()
    a, b = InMemoryUnitOfWork(store), InMemoryUnitOfWork(store)
    await a.billing.add(record(2, first))
    await b.billing.add(record(2, first))
    await a.commit()
    with pytest.raises(ConcurrencyError):
        await b.commit()
    assert [r.sequence for r in store.billing[UUID(int=100)]] == [1, 2]


async def test_the_head_sees_records_staged_in_the_same_unit_of_work() -> None:
    store = InMemoryStore()
    async with InMemoryUnitOfWork(store) as uow:
        assert await uow.billing.head(UUID(int=100)) is None
        first = record(1)
        await uow.billing.add(first)
        assert await uow.billing.head(UUID(int=100)) == first


# ---------------------------------------------------------------------------- inbox, webhooks


async def test_the_inbox_tells_a_new_event_from_a_seen_one() -> None:
    store = InMemoryStore()
    async with InMemoryUnitOfWork(store) as uow:
        assert await uow.inbox.add("c", "e1") is True
        assert await uow.inbox.add("c", "e1") is False  # staged in this transaction
        await uow.commit()
    async with InMemoryUnitOfWork(store) as uow:
        assert await uow.inbox.add("c", "e1") is False
        assert await uow.inbox.add("other", "e1") is True


def webhook(event_id: str) -> StoredWebhook:
    return StoredWebhook(uuid4(), "fake", event_id, b"{}", NOW)


async def test_a_webhook_event_id_is_stored_once() -> None:
    store = InMemoryStore()
    first = webhook("evt_1")
    async with InMemoryUnitOfWork(store) as uow:
        assert await uow.webhooks.add(first) is first
        assert await uow.webhooks.add(webhook("evt_1")) is first  # staged duplicate
        await uow.webhooks.mark_processed(first.id, NOW)
        await uow.webhooks.mark_processed(uuid4(), NOW)  # unknown: nothing happens
        await uow.commit()
    async with InMemoryUnitOfWork(store) as uow:
        again = await uow.webhooks.add(webhook("evt_1"))
        assert (again.id, again.processed_at) == (first.id, NOW)
        assert await uow.webhooks.get(uuid4()) is None


# ---------------------------------------------------------------------------- idempotency keys

TTL = timedelta(hours=24)
LOCK = timedelta(seconds=30)
RESPONSE = StoredResponse(status=201, body=b'{"id": 1}')


async def claim(store: InMemoryIdempotencyStore, fingerprint: str = "fp", at: datetime = NOW):
    return await store.claim("key", fingerprint, now=at, ttl=TTL, lock_timeout=LOCK)


async def test_the_first_claim_runs_the_request() -> None:
    assert (await claim(InMemoryIdempotencyStore())).replay is None


async def test_a_completed_key_replays_the_first_response() -> None:
    store = InMemoryIdempotencyStore()
    await claim(store)
    await store.complete("key", RESPONSE, now=NOW)
    assert (await claim(store)).replay == RESPONSE


async def test_a_key_reused_with_another_request_is_refused() -> None:
    store = InMemoryIdempotencyStore()
    await claim(store)
    with pytest.raises(IdempotencyKeyReusedError):
        await claim(store, "other")


async def test_a_key_still_in_progress_is_refused() -> None:
    store = InMemoryIdempotencyStore()
    await claim(store)
    with pytest.raises(IdempotencyRequestInProgressError):
        await claim(store, at=NOW + timedelta(seconds=29))


async def test_a_stale_lock_is_taken_over() -> None:
    store = InMemoryIdempotencyStore()
    await claim(store)
    assert (await claim(store, at=NOW + LOCK)).replay is None


async def test_an_expired_key_is_free_again() -> None:
    store = InMemoryIdempotencyStore()
    await claim(store)
    await store.complete("key", RESPONSE, now=NOW)
    assert (await claim(store, "other", at=NOW + TTL)).replay is None


async def test_a_released_key_may_run_again() -> None:
    store = InMemoryIdempotencyStore()
    await claim(store)
    await store.release("key")
    await store.release("never-claimed")
    assert (await claim(store)).replay is None


async def test_purge_deletes_expired_keys_up_to_the_limit() -> None:
    store = InMemoryIdempotencyStore()
    for n in range(3):
        await store.claim(f"k{n}", "fp", now=NOW, ttl=TTL, lock_timeout=LOCK)
    await store.complete("missing", RESPONSE, now=NOW)  # completing an unknown key is harmless
    assert await store.purge_expired(NOW + TTL, limit=2) == 2
    assert await store.purge_expired(NOW + TTL, limit=2) == 1
    assert await store.purge_expired(NOW + TTL, limit=2) == 0


# ---------------------------------------------------------------------------- clock and ids


def test_the_settable_clock_moves_only_when_told() -> None:
    clock = SettableClock(NOW)
    assert clock.now() == NOW
    assert clock.advance(minutes=5) == NOW + timedelta(minutes=5)
    assert clock.advance(timedelta(seconds=1)) == NOW + timedelta(minutes=5, seconds=1)
    clock.set(NOW)
    assert clock.now() == NOW


def test_the_clock_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SettableClock(datetime(2026, 1, 1))  # a naive time: the point of the test


def test_sequential_ids_are_predictable() -> None:
    ids = SequentialIds(start=5)
    assert [ids.new_id(), ids.new_id()] == [UUID(int=5), UUID(int=6)]
    assert ids.new_reference("pay").startswith("pay_")
