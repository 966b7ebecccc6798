"""PaymentMethodRepository: the same behaviour on every backend."""

from __future__ import annotations

from uuid import uuid4

import pytest

from payment_core.errors import ConcurrencyError
from payment_core.model.payment_method import PaymentMethodStatus
from payment_core.pagination import PageRequest


async def test_a_saved_method_reads_back_with_every_field(storage, build):
    method = build.payment_method()
    await storage.add(method)
    async with storage.uow() as uow:
        found = await uow.payment_methods.get(method.id)
        locked = await uow.payment_methods.get(method.id, for_update=True)
    assert found is not None
    assert locked is not None
    assert build.state(found) == build.state(method)
    assert found.provider_token == method.provider_token
    assert found.provider_customer_id == method.provider_customer_id
    assert found.created_at.microsecond == method.created_at.microsecond


async def test_a_method_without_customer_or_card_round_trips(storage, build):
    method = build.payment_method(provider_customer_id=None, card=None, payment_id=None)
    await storage.add(method)
    async with storage.uow() as uow:
        found = await uow.payment_methods.get(method.id)
    assert found is not None
    assert build.state(found) == build.state(method)


async def test_an_unknown_method_is_none(storage):
    async with storage.uow() as uow:
        assert await uow.payment_methods.get(uuid4()) is None


async def test_detaching_is_saved_and_a_stale_update_conflicts(storage, build):
    method = build.payment_method()
    await storage.add(method)
    async with storage.uow() as uow:
        first = await uow.payment_methods.get(method.id)
    async with storage.uow() as uow:
        second = await uow.payment_methods.get(method.id)
    assert first is not None
    assert second is not None
    assert first.detach(now=build.at(5))
    await storage.update(first)
    second.detach(now=build.at(6))
    with pytest.raises(ConcurrencyError):
        await storage.update(second)
    async with storage.uow() as uow:
        found = await uow.payment_methods.get(method.id)
    assert found is not None
    assert (found.status, found.version, found.updated_at) == (
        PaymentMethodStatus.DETACHED,
        1,
        build.at(5),
    )


async def test_one_method_per_saving_payment(storage, build):
    payment_id = uuid4()
    await storage.add(build.payment_method(payment_id=payment_id))
    with pytest.raises(ConcurrencyError):
        await storage.add(build.payment_method(payment_id=payment_id))


async def test_guest_pages_list_only_that_guest_oldest_first(storage, build):
    guest = uuid4()
    mine = [build.payment_method(guest_id=guest, now=build.at(n)) for n in (3, 1, 2)]
    await storage.add(*mine, build.payment_method())
    async with storage.uow() as uow:
        first = await uow.payment_methods.list_by_guest(guest, PageRequest(limit=2))
        assert first.next_cursor is not None
        rest = await uow.payment_methods.list_by_guest(
            guest, PageRequest.parse(limit=2, cursor=first.next_cursor)
        )
    assert [m.created_at for m in first.items + rest.items] == [
        build.at(1),
        build.at(2),
        build.at(3),
    ]
    assert rest.next_cursor is None


async def test_the_guests_customer_is_the_latest_method_that_has_one(storage, build):
    guest = uuid4()
    await storage.add(
        build.payment_method(guest_id=guest, provider_customer_id="cus_old", now=build.at(1)),
        build.payment_method(guest_id=guest, provider_customer_id="cus_new", now=build.at(2)),
        build.payment_method(guest_id=guest, provider_customer_id=None, now=build.at(3)),
        build.payment_method(guest_id=guest, provider="stripe", provider_customer_id="cus_s"),
    )
    async with storage.uow() as uow:
        assert await uow.payment_methods.customer_of(guest, "fake") == "cus_new"
        assert await uow.payment_methods.customer_of(guest, "stripe") == "cus_s"
        assert await uow.payment_methods.customer_of(guest, "paypal") is None
        assert await uow.payment_methods.customer_of(uuid4(), "fake") is None
