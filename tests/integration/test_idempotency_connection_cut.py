"""The database connection dropped right after a request's commit, on PostgreSQL through a
TCP proxy: a retry under the same ``Idempotency-Key`` answers with what the request made.

The proxy drops every open connection (a network blip; new connections get through) at the
moment under test: right after a refund or a confirm has committed and the provider has
moved the money (the next step fails: 503, and the key is released), or right after a
payment's create has committed (storing its response fails: the client gets no answer it can
keep, and the key stays locked until the lock timeout). Either way the retry must find the
refund, the payment or the confirm the first run made, and the provider must have been asked
under one key only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import UUID, uuid4

import attrs
import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from payment_adapters.bootstrap import Runtime, service_config
from payment_adapters.settings import Settings
from payment_adapters.sqlalchemy import Database
from payment_adapters.sqlalchemy import tables as t
from payment_core.ports import ConfirmPaymentRequest, ProviderPayment, ProviderRefund, RefundRequest
from payment_core.services import Dependencies, NullObserver, ProviderRegistry, Services
from payment_core.system import SystemClock, SystemIds
from payment_core.testing import FakeProvider
from payment_http.app import create_app
from payment_http.metrics import Metrics

from .conftest import CIPHER, TcpProxy

pytestmark = pytest.mark.integration

API_KEY = "cut-key"
LOCK_TIMEOUT = 1  # seconds


class CuttingProvider(FakeProvider):
    """The fake provider; ``cut_after`` names the operation after which (the money moved)
    the database connections are dropped, once."""

    def __init__(self, proxy: TcpProxy) -> None:
        super().__init__()
        self.proxy = proxy
        self.cut_after: str | None = None

    def _cut(self, operation: str) -> None:
        if operation == self.cut_after:
            self.cut_after = None
            self.proxy.drop()

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        reply = await super().refund(request)
        self._cut("refund")
        return reply

    async def confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        reply = await super().confirm_payment(request)
        self._cut("confirm_payment")
        return reply


@attrs.define
class CuttingObserver(NullObserver):
    """Drops the database connections once, right after a payment's create commits (the
    service reports the new payment's outcome right after that commit)."""

    proxy: TcpProxy
    armed: bool = False

    def payment_outcome(self, provider: str, status: str) -> None:
        if self.armed and status == "PENDING":
            self.armed = False
            self.proxy.drop()


@attrs.define
class Service:
    client: httpx.AsyncClient
    provider: CuttingProvider
    observer: CuttingObserver
    database: Database

    async def post(self, url: str, body: dict[str, Any] | None, key: str) -> Any:
        headers = {"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": key}
        return await self.client.post(url, json=body, headers=headers)

    async def count(self, table: Any, **where: Any) -> int:
        stmt = select(func.count()).select_from(table)
        for column, value in where.items():
            stmt = stmt.where(table.c[column] == value)
        async with self.database.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def completed_payment(self) -> dict[str, Any]:
        created = await self.post("/api/v1/payments", _payment_body(), str(uuid4()))
        assert created.status_code == 201, created.text
        url = f"/api/v1/payments/{created.json()['id']}/confirm"
        confirmed = await self.post(url, {"payment_method": "pm_card_visa"}, str(uuid4()))
        assert confirmed.json()["status"] == "COMPLETED", confirmed.text
        return dict(confirmed.json())


def _payment_body() -> dict[str, Any]:
    return {
        "booking_id": str(uuid4()),
        "guest_id": str(uuid4()),
        "amount": 12_500,
        "currency": "EUR",
    }


@pytest.fixture
async def service(postgres_url: str) -> AsyncIterator[Service]:
    parsed = make_url(postgres_url)
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    await proxy.start()
    proxied = parsed.set(host="127.0.0.1", port=proxy.port, query={"ssl": "disable"})
    url = proxied.render_as_string(hide_password=False)
    settings = Settings(
        environment="test",
        database_url=url,
        api_keys=(API_KEY,),
        idempotency_lock_timeout_seconds=LOCK_TIMEOUT,
    )
    database = Database.from_url(url, cipher=CIPHER, pool_size=2)
    provider = CuttingProvider(proxy)
    observer = CuttingObserver(proxy)
    deps = Dependencies(
        uow=database.uow,
        providers=ProviderRegistry([provider]),
        clock=SystemClock(),
        ids=SystemIds(),
        config=service_config(settings),
        observer=observer,
    )
    runtime = Runtime(
        settings=settings,
        services=Services.build(deps),
        idempotency=database.idempotency,
        observer=observer,
        database=database,
        cipher=CIPHER,
    )
    # The app on this loop, with the proxy (Litestar's test client would run it on a thread
    # of its own and block this loop, proxy included, while it waits for the answer).
    transport = httpx.ASGITransport(app=create_app(runtime, metrics=Metrics()))
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        yield Service(client, provider, observer, database)
    await database.dispose()
    await proxy.stop()


def keys_of(provider: FakeProvider, operation: str) -> list[str | None]:
    return [key for name, key in provider.calls if name == operation]


async def _after_the_lock_timeout(send: Callable[[], Any]) -> Any:
    """Retry until the key's lock has timed out (409 in progress until then)."""
    await asyncio.sleep(LOCK_TIMEOUT + 0.2)
    return await send()


async def test_a_refund_retried_after_the_connection_dropped_behind_its_commit_is_the_same(
    service: Service,
) -> None:
    payment = await service.completed_payment()
    body = {"payment_id": payment["id"], "amount": 2_500}
    service.provider.cut_after = "refund"
    first = await service.post("/api/v1/refunds", body, "refund-cut")
    assert first.status_code == 503, first.text  # the key is released: the client retries
    assert first.json()["code"] == "service_unavailable"

    retry = await service.post("/api/v1/refunds", body, "refund-cut")
    assert retry.status_code == 201, retry.text
    refund = retry.json()
    assert refund["status"] == "COMPLETED"
    assert await service.count(t.refunds, payment_id=UUID(payment["id"])) == 1
    assert len(service.provider.refunds_made(UUID(refund["id"]))) == 1
    assert keys_of(service.provider, "refund") == [f"refund-{refund['id']}-0"] * 2
    replay = await service.post("/api/v1/refunds", body, "refund-cut")
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == refund["id"]


async def test_a_confirm_retried_after_the_connection_dropped_behind_its_commit_completes(
    service: Service,
) -> None:
    created = await service.post("/api/v1/payments", _payment_body(), "create-for-confirm")
    url = f"/api/v1/payments/{created.json()['id']}/confirm"
    service.provider.cut_after = "confirm_payment"
    first = await service.post(url, None, "confirm-cut")
    assert first.status_code == 503, first.text

    retry = await service.post(url, None, "confirm-cut")
    assert retry.status_code == 200, retry.text
    assert retry.json()["status"] == "COMPLETED"
    confirm_key = f"payment-{created.json()['id']}-confirm"
    assert keys_of(service.provider, "confirm_payment") == [confirm_key] * 2
    assert await service.count(t.billing_records, payment_id=UUID(created.json()["id"])) == 1


async def test_a_create_whose_response_was_lost_to_a_dropped_connection_is_one_payment(
    service: Service,
) -> None:
    body = _payment_body()
    service.observer.armed = True
    first = await service.post("/api/v1/payments", body, "create-cut")
    # Committed; storing the response failed, so the key stays locked and the answer was
    # never recorded: a client that lost it too can only retry.
    assert first.status_code == 201, first.text
    locked = await service.post("/api/v1/payments", body, "create-cut")
    assert locked.status_code == 409
    assert locked.json()["code"] == "idempotency_request_in_progress"

    retry = await _after_the_lock_timeout(
        lambda: service.post("/api/v1/payments", body, "create-cut")
    )
    assert retry.status_code == 201, retry.text
    assert retry.json()["id"] == first.json()["id"]
    assert await service.count(t.payments, booking_id=UUID(body["booking_id"])) == 1
    # The provider was asked again, under the same key only.
    made_under = f"payment-{first.json()['id']}-create"
    assert keys_of(service.provider, "create_payment") == [made_under] * 2
