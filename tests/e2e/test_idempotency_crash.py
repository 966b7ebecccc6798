"""``kill -9`` of ``serve`` after a request committed and before its response was stored: the
retry under the same ``Idempotency-Key``, once the dead request's lock has timed out, answers
with what the first run made. One refund, paid once; one payment; a confirm that replays.

The service runs through the journaling boot of the worker crash tests (its fake provider
writes every call and every refund it pays to a file that survives the kill, and a restarted
provider remembers those refunds by key, as a real one does), with one more test-only hook:
with ``TEST_KILL_BEFORE_STORING_RESPONSE`` set, the process sends itself ``SIGKILL`` when it is
about to store a response, that is after everything the request does has committed. The
other way to die tested here is from outside: the provider has paid a refund and is slow to
answer, and the test kills the process while it waits.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from tests.integration.test_relay_worker_crash import BOOT as JOURNALING_BOOT
from tests.integration.test_relay_worker_crash import journal

from payment_adapters.crypto import generate_key

from .conftest import AUTH, Backend, Service

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: The journaling boot, plus the hook that kills the process right before it stores a response.
BOOT = (
    r"""
import os, signal
if os.environ.get("TEST_KILL_BEFORE_STORING_RESPONSE"):
    from payment_adapters.sqlalchemy.idempotency import SqlAlchemyIdempotencyStore

    async def complete(self, key, response, *, now):
        # Everything the request does has committed; its response is not stored yet.
        os.kill(os.getpid(), signal.SIGKILL)

    SqlAlchemyIdempotencyStore.complete = complete
"""
    + JOURNALING_BOOT
)
LOCK_TIMEOUT = 1  # IDEMPOTENCY_LOCK_TIMEOUT_SECONDS of these services


def keyed(key: str) -> dict[str, str]:
    return {**AUTH, "Idempotency-Key": key}


class Crash:
    """A service that dies with a request in flight, and the one started after it."""

    def __init__(self, backend: Backend, workdir: Path) -> None:
        self.url = backend.new_database()
        self.workdir = workdir
        self.journal = workdir / "provider.journal"
        self.env = {
            "ENCRYPTION_KEYS": generate_key("crash"),  # the same for the restarted process
            "TEST_PROVIDER_JOURNAL": str(self.journal),
            "IDEMPOTENCY_LOCK_TIMEOUT_SECONDS": str(LOCK_TIMEOUT),
        }

    def start(self, **env: str) -> Service:
        return Service(self.url, self.workdir, boot=BOOT, **self.env, **env).start()

    async def dies_during(
        self,
        service: Service,
        request: Awaitable[httpx.Response],
        kill_when: Callable[[], bool] | None = None,
    ) -> None:
        """``request`` is in flight when ``service`` dies: by its own hook, or killed from
        outside once ``kill_when()`` holds."""
        pending = asyncio.ensure_future(request)
        if kill_when is not None:
            deadline = time.monotonic() + 30
            while not kill_when():
                assert time.monotonic() < deadline, service.output()
                assert not pending.done(), pending.result().text
                await asyncio.sleep(0.02)
            assert service.process is not None
            service.process.send_signal(signal.SIGKILL)
        with pytest.raises(httpx.HTTPError):  # the connection dies with the process
            await pending
        assert service.process is not None
        assert service.process.wait(30) == -signal.SIGKILL

    def records(self, event: str, **where: Any) -> list[dict[str, Any]]:
        return [
            r
            for r in journal(self.journal)
            if r["event"] == event and all(r.get(k) == v for k, v in where.items())
        ]


@pytest.fixture
def crash(backend: Backend, tmp_path: Path) -> Crash:
    return Crash(backend, tmp_path)


async def retried(send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """The retry of a request whose process died: 409 while its lock is young, then its run."""
    deadline = time.monotonic() + LOCK_TIMEOUT + 30
    while True:
        response = await send()
        if response.status_code != 409 or "idempotency_request_in_progress" not in response.text:
            return response
        assert time.monotonic() < deadline, "the dead request's lock was never taken over"
        await asyncio.sleep(0.2)


async def completed_payment(http: httpx.AsyncClient) -> dict[str, Any]:
    body = {"booking_id": str(uuid4()), "guest_id": str(uuid4()), "amount": 12_500}
    created = await http.post("/api/v1/payments", json={**body, "currency": "EUR"}, headers=AUTH)
    assert created.status_code == 201, created.text
    url = f"/api/v1/payments/{created.json()['id']}/confirm"
    confirmed = await http.post(url, json={"payment_method": "pm_card_visa"}, headers=AUTH)
    assert confirmed.json()["status"] == "COMPLETED", confirmed.text
    return dict(confirmed.json())


@pytest.mark.parametrize("death", ["before-storing", "provider-answering"])
async def test_a_refund_killed_after_its_commit_is_one_refund_paid_once(
    crash: Crash, death: str
) -> None:
    if death == "before-storing":
        first = crash.start(TEST_KILL_BEFORE_STORING_RESPONSE="1")
        kill_when = None
    else:  # the provider pays, then takes 60 s to answer: killed while it waits
        first = crash.start(TEST_PROVIDER_DELAYS='{"refund": [0, 60]}')
        kill_when = lambda: bool(crash.records("refunded"))  # noqa: E731
    async with first.client() as http:
        payment = await completed_payment(http)
        body = {"payment_id": payment["id"], "amount": 2_500}
        send = lambda: http.post("/api/v1/refunds", json=body, headers=keyed("refund-1"))  # noqa: E731
        await crash.dies_during(first, send(), kill_when)

    second = crash.start()
    try:
        async with second.client() as http:
            retry = await retried(
                lambda: http.post("/api/v1/refunds", json=body, headers=keyed("refund-1"))
            )
            assert retry.status_code == 201, retry.text
            refund = retry.json()
            assert refund["status"] == "COMPLETED"
            # Paid once, under the refund's one key, whoever asked.
            assert [r["key"] for r in crash.records("refunded")] == [f"refund-{refund['id']}-0"]
            assert {r["key"] for r in crash.records("call", operation="refund")} == {
                f"refund-{refund['id']}-0"
            }
            listed = await http.get(f"/api/v1/refunds/payment/{payment['id']}", headers=AUTH)
            assert [r["id"] for r in listed.json()["items"]] == [refund["id"]]
            now = await http.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
            assert now.json()["amount_refunded"] == 2_500
    finally:
        assert second.terminate() == 0, second.output()


async def test_a_payment_create_killed_after_its_commit_is_one_payment(crash: Crash) -> None:
    body = {"booking_id": str(uuid4()), "guest_id": str(uuid4()), "amount": 9_900}
    body["currency"] = "EUR"
    first = crash.start(TEST_KILL_BEFORE_STORING_RESPONSE="1")
    async with first.client() as http:
        await crash.dies_during(
            first, http.post("/api/v1/payments", json=body, headers=keyed("create-1"))
        )

    second = crash.start()
    try:
        async with second.client() as http:
            retry = await retried(
                lambda: http.post("/api/v1/payments", json=body, headers=keyed("create-1"))
            )
            assert retry.status_code == 201, retry.text
            listed = await http.get(f"/api/v1/payments/booking/{body['booking_id']}", headers=AUTH)
            assert [p["id"] for p in listed.json()["items"]] == [retry.json()["id"]]
    finally:
        assert second.terminate() == 0, second.output()
    # Asked again (by the restarted process), under the same key only.
    creates = crash.records("call", operation="create_payment")
    assert [r["key"] for r in creates] == [f"payment-{retry.json()['id']}-create"] * 2


async def test_a_confirm_killed_after_its_commit_replays_as_completed(crash: Crash) -> None:
    first = crash.start(TEST_KILL_BEFORE_STORING_RESPONSE="1")
    async with first.client() as http:
        created = await http.post(
            "/api/v1/payments",
            json={
                "booking_id": str(uuid4()),
                "guest_id": str(uuid4()),
                "amount": 5_000,
                "currency": "EUR",
            },
            headers=AUTH,
        )
        url = f"/api/v1/payments/{created.json()['id']}/confirm"
        await crash.dies_during(first, http.post(url, headers=keyed("confirm-1")))

    second = crash.start()
    try:
        async with second.client() as http:
            retry = await retried(lambda: http.post(url, headers=keyed("confirm-1")))
            assert retry.status_code == 200, retry.text
            assert retry.json()["status"] == "COMPLETED"
            replay = await http.post(url, headers=keyed("confirm-1"))
            assert replay.headers["idempotent-replayed"] == "true"
            assert (await http.post(url, headers=AUTH)).status_code == 409
    finally:
        assert second.terminate() == 0, second.output()
    confirms = crash.records("call", operation="confirm_payment")
    assert [r["key"] for r in confirms] == [f"payment-{created.json()['id']}-confirm"]
