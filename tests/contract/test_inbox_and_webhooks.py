"""Inbox and WebhookStore: deduplication, the same on every backend."""

from __future__ import annotations

import asyncio
from datetime import datetime
from uuid import uuid4

import pytest
from sqlalchemy import func, select

from payment_adapters.sqlalchemy import tables
from payment_core.errors import ValidationError
from payment_core.ports import StoredWebhook
from payment_core.services import (
    CreatePayment,
    Dependencies,
    ProviderRegistry,
    ServiceConfig,
    Services,
)
from payment_core.signing import signature_header
from payment_core.system import SystemIds
from payment_core.testing import FakeProvider, SettableClock


async def test_an_event_id_is_handled_once_per_consumer(storage):
    async with storage.uow() as uow:
        assert await uow.inbox.add("bookings", "evt-1")
        assert not await uow.inbox.add("bookings", "evt-1")  # within the same unit of work
        assert await uow.inbox.add("other-consumer", "evt-1")
        await uow.commit()
    async with storage.uow() as uow:
        assert not await uow.inbox.add("bookings", "evt-1")
        assert await uow.inbox.add("bookings", "evt-2")


async def test_an_inbox_entry_rolled_back_is_not_remembered(storage):
    async with storage.uow() as uow:
        assert await uow.inbox.add("bookings", "evt-rolled-back")
    async with storage.uow() as uow:
        assert await uow.inbox.add("bookings", "evt-rolled-back")


async def test_concurrent_deliveries_of_one_event_are_handled_once(storage):
    async def deliver() -> bool:
        async with storage.uow() as uow:
            fresh = await uow.inbox.add("bookings", "evt-raced")
            await asyncio.sleep(0)
            await uow.commit()
            return fresh

    results = await asyncio.gather(*(deliver() for _ in range(storage.tasks)))
    assert sorted(results) == [False] * (storage.tasks - 1) + [True]


def _webhook(build, event_id: str = "evt_1", body: bytes = b'{"id":"evt_1"}') -> StoredWebhook:
    return StoredWebhook(
        id=uuid4(), provider="fake", event_id=event_id, body=body, received_at=build.at(0)
    )


async def test_a_stored_webhook_reads_back(storage, build):
    webhook = _webhook(build, body=b'{"id":"evt_1","data":{"x":"\xc3\xa9"}}\x00\xff')
    async with storage.uow() as uow:
        assert await uow.webhooks.add(webhook) == webhook
        await uow.commit()
    async with storage.uow() as uow:
        assert await uow.webhooks.get(webhook.id) == webhook
        assert await uow.webhooks.get(uuid4()) is None


async def test_a_known_event_id_returns_the_stored_webhook_unchanged(storage, build):
    first = _webhook(build)
    async with storage.uow() as uow:
        await uow.webhooks.add(first)
        await uow.commit()
    again = _webhook(build, body=b"another body")
    async with storage.uow() as uow:
        assert await uow.webhooks.add(again) == first
        await uow.commit()
    async with storage.uow() as uow:
        assert await uow.webhooks.get(again.id) is None
        # the same id from another provider is another event
        other = StoredWebhook(
            id=uuid4(), provider="stripe", event_id="evt_1", body=b"{}", received_at=build.at(0)
        )
        assert await uow.webhooks.add(other) == other


async def test_a_duplicate_within_one_unit_of_work_returns_the_first(storage, build):
    first, again = _webhook(build, "evt_9"), _webhook(build, "evt_9", b"other")
    async with storage.uow() as uow:
        await uow.webhooks.add(first)
        assert await uow.webhooks.add(again) == first
        await uow.commit()


async def test_marking_processed_is_kept(storage, build):
    webhook = _webhook(build)
    async with storage.uow() as uow:
        await uow.webhooks.add(webhook)
        await uow.commit()
    async with storage.uow() as uow:
        await uow.webhooks.mark_processed(webhook.id, build.at(5))
        await uow.commit()
    async with storage.uow() as uow:
        found = await uow.webhooks.get(webhook.id)
    assert found.processed_at == build.at(5)
    assert found.body == webhook.body


async def test_concurrent_deliveries_of_one_webhook_store_one(storage, build):
    async def deliver() -> StoredWebhook:
        async with storage.uow() as uow:
            stored = await uow.webhooks.add(_webhook(build, "evt_raced"))
            await asyncio.sleep(0)
            await uow.commit()
            return stored

    stored = await asyncio.gather(*(deliver() for _ in range(storage.tasks)))
    assert len({s.id for s in stored}) == 1


# ------------------------------------------------------------------------------ booking locks
async def test_a_booking_is_recorded_once_and_remembers_its_cancellation(storage, build):
    booking = uuid4()
    async with storage.uow() as uow:
        assert await uow.bookings.lock(booking) is None
        assert await uow.bookings.lock(booking) is None  # again in the same unit of work
        await uow.commit()
    async with storage.uow() as uow:
        assert await uow.bookings.lock(booking) is None
        await uow.bookings.mark_cancelled(booking, build.at(10))
        await uow.bookings.mark_cancelled(booking, build.at(20))  # the first time stays
        assert await uow.bookings.lock(booking) == build.at(10)
        await uow.commit()
    async with storage.uow() as uow:
        assert await uow.bookings.lock(booking) == build.at(10)
        assert await uow.bookings.lock(uuid4()) is None


async def test_a_cancellation_rolled_back_is_not_remembered(storage, build):
    booking = uuid4()
    async with storage.uow() as uow:
        await uow.bookings.lock(booking)
        await uow.bookings.mark_cancelled(booking, build.at(10))
    async with storage.uow() as uow:
        assert await uow.bookings.lock(booking) is None


async def test_a_locked_booking_holds_off_other_handlers_until_commit(storage, build):
    """What one handler saw and wrote under the lock is what the next one sees: never both
    "not cancelled" once one of them cancels (a booking's created and cancelled, at once)."""
    booking = uuid4()
    order: list[str] = []

    async def handler(name: str, cancel: bool) -> datetime | None:
        async with storage.uow() as uow:
            seen = await uow.bookings.lock(booking)
            order.append(f"{name} locked")
            await asyncio.sleep(0.01)
            if cancel:
                await uow.bookings.mark_cancelled(booking, build.at(10))
            order.append(f"{name} done")
            await uow.commit()
            return seen

    results = await asyncio.gather(
        handler("cancel", True), *(handler(f"create{i}", False) for i in range(storage.tasks - 1))
    )
    # Each handler's work ran alone: no "locked" between another's "locked" and "done".
    assert all(
        order[i].endswith("locked") and order[i + 1].endswith("done")
        for i in range(0, len(order), 2)
    )
    assert all(order[i].split()[0] == order[i + 1].split()[0] for i in range(0, len(order), 2))
    cancel_slot = order.index("cancel locked") // 2
    for i, seen in enumerate(results[1:]):
        slot = order.index(f"create{i} locked") // 2
        assert seen == (build.at(10) if slot > cancel_slot else None)
    assert results[0] is None


# ---------------------------------------------------------------------------- through the service


def _webhook_services(storage, build) -> tuple[Services, FakeProvider]:
    provider = FakeProvider()
    deps = Dependencies(
        uow=storage.uow,
        providers=ProviderRegistry([provider]),
        clock=SettableClock(build.T0),
        ids=SystemIds(),
        config=ServiceConfig(default_provider=provider.name),
    )
    return Services.build(deps), provider


async def _stored_webhooks(storage) -> int:
    if storage.database is None:
        return len(storage.store.webhooks)
    async with storage.database.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(tables.webhooks)) or 0)


@pytest.mark.parametrize(
    "body",
    [
        b'{"id":"evt\\u0000nul","type":"payment_intent.succeeded","data":{"object":{}}}',
        b'{"id":"evt_\\ud800","type":"payment_intent.succeeded","data":{"object":{}}}',
        b'{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"x":"\\udfff"}}}',
        b'{"id":"evt_1","type":"x","data":{"object":' + b"[" * 5000 + b"]" * 5000 + b"}}",
    ],
    ids=["nul id", "surrogate id", "surrogate value", "deep"],
)
async def test_a_hostile_signed_webhook_is_refused_and_stores_nothing(storage, build, body):
    services, provider = _webhook_services(storage, build)
    headers = {"Fake-Signature": signature_header("whsec_fake", int(build.T0.timestamp()), body)}
    with pytest.raises(ValidationError):  # MalformedBodyError is one
        await services.webhooks.receive(provider.name, body, headers)
    assert await _stored_webhooks(storage) == 0


async def test_whatever_a_failure_webhook_says_is_stored_as_it_fits(storage, build):
    """Codes, messages and cards from a webhook fit their columns on every backend."""
    services, provider = _webhook_services(storage, build)
    payment = await services.payments.create(
        CreatePayment(booking_id=uuid4(), guest_id=uuid4(), amount=12_500, currency="EUR")
    )
    payment = await services.payments.confirm(payment.id, "pm_card_authenticationRequired")
    assert payment.provider_payment_id is not None
    obj = provider.payment_intent_object(payment.provider_payment_id, status="failed")
    obj["last_payment_error"] = {
        "decline_code": "d" * 65,
        "message": "Declined\x00 by\x1b the 4242 4242 4242 4242 bank \u2028" + "!" * 5_000,
    }
    obj["payment_method_details"] = {
        "card": {"brand": "b" * 40, "last4": "4242", "exp_month": 99_999, "exp_year": 10**9}
    }
    body, headers = provider.build_webhook(
        "payment_intent.payment_failed", obj, event_id="evt_" + "é" * 200, now=build.T0
    )
    result = await services.webhooks.receive(provider.name, body, headers)
    assert result.outcome == "settled"
    failed = await services.payments.get(payment.id)
    assert failed.failure_code == "payment_failed"
    assert failed.failure_message is not None
    assert failed.failure_message.startswith("Declined by the [redacted] bank !")
    assert failed.card is not None
    assert (failed.card.brand, failed.card.exp_month, failed.card.exp_year) == (
        "unknown",
        None,
        None,
    )
