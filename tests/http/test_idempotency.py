"""The Idempotency-Key of every POST and PATCH: replay, reuse, in flight, stale locks."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import attrs
import msgspec
import pytest
from tests.http.conftest import API_KEY, AUTH, OTHER_KEY, Api, invoice_body, payment_body

from payment_adapters.idempotency import IdempotencyClaim, IdempotencyStore, StoredResponse
from payment_core.errors import ProviderUnavailableError
from payment_core.ports import CreatePaymentRequest, ProviderPayment
from payment_core.testing import FakeProvider
from payment_http.auth import key_id
from payment_http.idempotency import fingerprint, scoped_key


def keyed(key: str, api_key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "Idempotency-Key": key}


async def test_the_same_request_replays_the_first_response(api: Api) -> None:
    body = payment_body()
    first = await api.client.post("/api/v1/payments", json=body, headers=keyed("k-1"))
    second = await api.client.post("/api/v1/payments", json=body, headers=keyed("k-1"))
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    listed = await api.client.get(f"/api/v1/payments/booking/{body['booking_id']}", headers=AUTH)
    assert len(listed.json()["items"]) == 1


async def test_key_order_and_whitespace_do_not_change_the_fingerprint(mem: Api) -> None:
    body = payment_body()
    compact = json.dumps(body, separators=(",", ":")).encode()
    spaced = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
    headers = {**keyed("k-2"), "Content-Type": "application/json"}
    first = await mem.client.post("/api/v1/payments", content=compact, headers=headers)
    second = await mem.client.post("/api/v1/payments", content=spaced, headers=headers)
    assert second.headers.get("idempotent-replayed") == "true"
    assert second.json()["id"] == first.json()["id"]


async def test_the_same_key_with_another_body_is_422(api: Api) -> None:
    await api.client.post("/api/v1/payments", json=payment_body(), headers=keyed("k-3"))
    reused = await api.client.post(
        "/api/v1/payments", json=payment_body(amount=1), headers=keyed("k-3")
    )
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"


async def test_the_same_key_on_another_path_is_422(api: Api) -> None:
    await api.client.post("/api/v1/invoices", json=invoice_body(), headers=keyed("k-4"))
    reused = await api.client.post("/api/v1/payments", json=payment_body(), headers=keyed("k-4"))
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"


async def test_keys_are_scoped_per_api_key(mem: Api) -> None:
    one = await mem.client.post("/api/v1/payments", json=payment_body(), headers=keyed("k-5"))
    other = await mem.client.post(
        "/api/v1/payments", json=payment_body(), headers=keyed("k-5", OTHER_KEY)
    )
    assert one.status_code == other.status_code == 201
    assert one.json()["id"] != other.json()["id"]


async def test_an_error_answer_is_replayed_too(api: Api) -> None:
    payment = await api.completed_payment()
    body = {"payment_id": payment["id"], "amount": payment["amount"] + 1}
    first = await api.client.post("/api/v1/refunds", json=body, headers=keyed("k-6"))
    second = await api.client.post("/api/v1/refunds", json=body, headers=keyed("k-6"))
    assert first.status_code == second.status_code == 422
    assert first.json()["code"] == "refund_exceeds_refundable"
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content


async def test_confirming_a_completed_payment_with_the_same_key_replays(api: Api) -> None:
    payment = await api.create_payment()
    url = f"/api/v1/payments/{payment['id']}/confirm"
    first = await api.client.post(url, headers=keyed("confirm-1"))
    again = await api.client.post(url, headers=keyed("confirm-1"))
    without = await api.client.post(url, headers=AUTH)
    assert first.status_code == again.status_code == 200
    assert again.json()["status"] == "COMPLETED"
    assert again.headers["idempotent-replayed"] == "true"
    assert without.status_code == 409
    assert without.json()["code"] == "invalid_state_transition"


async def test_patch_is_idempotent_too(api: Api) -> None:
    created = await api.client.post("/api/v1/invoices", json=invoice_body(), headers=AUTH)
    url = f"/api/v1/invoices/{created.json()['id']}"
    first = await api.client.patch(url, json={"status": "OPEN"}, headers=keyed("patch-1"))
    second = await api.client.patch(url, json={"status": "OPEN"}, headers=keyed("patch-1"))
    assert first.status_code == 200
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json()["number"] == first.json()["number"]


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "caf\u00e9", "tab\there", "new\x7fline"],
    ids=["empty", "too-long", "non-ascii", "control", "del"],
)
async def test_a_malformed_key_is_400(mem: Api, key: str) -> None:
    response = await mem.client.post(
        "/api/v1/payments",
        json=payment_body(),
        headers=[
            ("Authorization", AUTH["Authorization"]),
            ("Idempotency-Key", key.encode("utf-8")),  # type: ignore[list-item]
        ],
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"


async def test_a_key_of_255_printable_characters_is_accepted(mem: Api) -> None:
    response = await mem.client.post(
        "/api/v1/payments", json=payment_body(), headers=keyed("~ !" + "a" * 252)
    )
    assert response.status_code == 201


async def test_a_body_that_fails_validation_does_not_use_up_the_key(api: Api) -> None:
    bad = await api.client.post(
        "/api/v1/payments", json=payment_body(amount=1.5), headers=keyed("k-7")
    )
    good = await api.client.post("/api/v1/payments", json=payment_body(), headers=keyed("k-7"))
    assert bad.status_code == 422
    assert good.status_code == 201
    assert "idempotent-replayed" not in good.headers


def _claim_args(body: dict[str, Any], key: str) -> tuple[str, str]:
    canonical = msgspec.json.encode(body, order="sorted")
    return scoped_key(key_id(API_KEY), key), fingerprint("POST", "/api/v1/payments", canonical)


async def test_a_request_still_in_flight_is_409_and_not_recorded(api: Api) -> None:
    body = payment_body()
    store_key, print_ = _claim_args(body, "k-8")
    now = datetime.now(UTC)
    await api.runtime.idempotency.claim(
        store_key, print_, now=now, ttl=timedelta(days=1), lock_timeout=timedelta(seconds=60)
    )
    for _ in range(2):  # the 409 is never stored: the next try is 409 again, not a replay
        response = await api.client.post("/api/v1/payments", json=body, headers=keyed("k-8"))
        assert response.status_code == 409
        assert response.json()["code"] == "idempotency_request_in_progress"
        assert "idempotent-replayed" not in response.headers


async def test_a_stale_lock_is_taken_over(api: Api) -> None:
    body = payment_body()
    store_key, print_ = _claim_args(body, "k-9")
    long_ago = datetime.now(UTC) - timedelta(
        seconds=api.runtime.settings.idempotency_lock_timeout_seconds + 5
    )
    await api.runtime.idempotency.claim(
        store_key, print_, now=long_ago, ttl=timedelta(days=1), lock_timeout=timedelta(seconds=60)
    )
    response = await api.client.post("/api/v1/payments", json=body, headers=keyed("k-9"))
    assert response.status_code == 201


class FlakyProvider(FakeProvider):
    """The fake provider, whose create is unavailable the first ``failures`` times."""

    def __init__(self, failures: int) -> None:
        super().__init__(name="flaky")
        self.failures = failures

    async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        if self.failures > 0:
            self.failures -= 1
            raise ProviderUnavailableError(message="try later", retry_after_seconds=2)
        return await super().create_payment(request)


async def test_a_5xx_is_not_recorded_so_a_retry_runs(api: Api) -> None:
    api.runtime.services.deps.providers.register(FlakyProvider(failures=1))
    body = payment_body(provider="flaky")
    first = await api.client.post("/api/v1/payments", json=body, headers=keyed("k-10"))
    assert first.status_code == 503
    assert first.json()["code"] == "provider_unavailable"
    assert first.headers["retry-after"] == "2"
    listed = await api.client.get(f"/api/v1/payments/booking/{body['booking_id']}", headers=AUTH)
    assert listed.json()["items"] == []  # nothing was accepted
    retry = await api.client.post("/api/v1/payments", json=body, headers=keyed("k-10"))
    assert retry.status_code == 201
    assert "idempotent-replayed" not in retry.headers


async def test_concurrent_identical_requests_create_one_payment(api: Api) -> None:
    body = payment_body()
    responses = await asyncio.gather(
        *(api.client.post("/api/v1/payments", json=body, headers=keyed("k-11")) for _ in range(16))
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    listed = await api.client.get(f"/api/v1/payments/booking/{body['booking_id']}", headers=AUTH)
    assert len(listed.json()["items"]) == 1


async def test_replays_are_counted_in_the_metrics(mem: Api) -> None:
    body = payment_body()
    for _ in range(3):
        await mem.client.post("/api/v1/payments", json=body, headers=keyed("k-12"))
    metrics = (await mem.client.get("/metrics")).text
    assert 'idempotent_replays_total{route="/api/v1/payments"} 2.0' in metrics


# ------------------------------------------------------------------ what a key did, found again


@attrs.define
class CrashingStore:
    """The idempotency store of a process that dies between its handler's commit and storing
    the response: the next ``lose`` responses are never stored (the key stays locked), and
    claims happen ``later`` (the lock timeout, or the key's lifetime, passing)."""

    inner: IdempotencyStore
    lose: int = 0
    later: timedelta = timedelta(0)

    async def claim(
        self, key: str, fingerprint: str, *, now: datetime, ttl: timedelta, lock_timeout: timedelta
    ) -> IdempotencyClaim:
        return await self.inner.claim(
            key, fingerprint, now=now + self.later, ttl=ttl, lock_timeout=lock_timeout
        )

    async def complete(self, key: str, response: StoredResponse, *, now: datetime) -> None:
        if self.lose > 0:
            self.lose -= 1
            return
        await self.inner.complete(key, response, now=now + self.later)

    async def release(self, key: str) -> None:
        await self.inner.release(key)

    async def purge_expired(self, now: datetime, limit: int) -> int:
        return await self.inner.purge_expired(now, limit)

    def lock_times_out(self, api: Api) -> None:
        self.later += timedelta(seconds=api.runtime.settings.idempotency_lock_timeout_seconds + 1)

    def key_expires(self, api: Api) -> None:
        self.later += timedelta(seconds=api.runtime.settings.idempotency_ttl_seconds + 1)


def crashing(api: Api) -> CrashingStore:
    store = CrashingStore(api.runtime.idempotency)
    api.runtime.idempotency = store  # the middleware reads it on every request
    return store


async def _lost_then_retried(
    api: Api, url: str, key: str, body: dict[str, Any] | None = None
) -> tuple[Any, Any]:
    """The request under ``key``, whose process dies before storing the response, and its
    retry once the lock has timed out."""
    store = crashing(api)
    store.lose = 1
    first = await api.client.post(url, json=body, headers=keyed(key))
    store.lock_times_out(api)
    retry = await api.client.post(url, json=body, headers=keyed(key))
    assert "idempotent-replayed" not in retry.headers  # it ran again, and found what it made
    return first, retry


async def test_a_payment_create_taken_over_after_a_crash_returns_the_payment_it_made(
    api: Api,
) -> None:
    body = payment_body()
    first, retry = await _lost_then_retried(api, "/api/v1/payments", "crash-create", body)
    assert first.status_code == retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert retry.json()["reference"] == first.json()["reference"]
    listed = await api.client.get(f"/api/v1/payments/booking/{body['booking_id']}", headers=AUTH)
    assert len(listed.json()["items"]) == 1


async def test_a_refund_taken_over_after_a_crash_is_the_refund_it_made_paid_once(
    api: Api,
) -> None:
    payment = await api.completed_payment()
    body = {"payment_id": payment["id"], "amount": 2500}
    first, retry = await _lost_then_retried(api, "/api/v1/refunds", "crash-refund", body)
    assert first.status_code == retry.status_code == 201
    refund = retry.json()
    assert refund["id"] == first.json()["id"]
    assert refund["status"] == "COMPLETED"
    listed = await api.client.get(f"/api/v1/refunds/payment/{payment['id']}", headers=AUTH)
    assert [r["id"] for r in listed.json()["items"]] == [refund["id"]]
    assert len(api.provider.refunds_made(UUID(refund["id"]))) == 1
    assert [key for op, key in api.provider.calls if op == "refund"] == [f"refund-{refund['id']}-0"]
    current = await api.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert current.json()["amount_refunded"] == 2500


async def test_a_confirm_taken_over_after_a_crash_answers_as_the_first_did(api: Api) -> None:
    payment = await api.create_payment()
    url = f"/api/v1/payments/{payment['id']}/confirm"
    first, retry = await _lost_then_retried(
        api, url, "crash-confirm", {"payment_method": "pm_card_visa"}
    )
    assert first.status_code == retry.status_code == 200
    assert retry.json()["status"] == first.json()["status"] == "COMPLETED"
    assert retry.json()["id"] == payment["id"]
    # Another request (no key, or another key) is still refused: only its own retry replays.
    again = await api.client.post(url, json={"payment_method": "pm_card_visa"}, headers=AUTH)
    other = await api.client.post(
        url, json={"payment_method": "pm_card_visa"}, headers=keyed("another-confirm")
    )
    assert again.status_code == other.status_code == 409
    assert other.json()["code"] == "invalid_state_transition"


async def test_a_cancel_taken_over_after_a_crash_answers_as_the_first_did(api: Api) -> None:
    payment = await api.create_payment()
    url = f"/api/v1/payments/{payment['id']}/cancel"
    first, retry = await _lost_then_retried(api, url, "crash-cancel")
    assert first.status_code == retry.status_code == 200
    assert retry.json()["status"] == "CANCELLED"
    assert (await api.client.post(url, headers=AUTH)).status_code == 409


async def test_a_refund_process_taken_over_after_a_crash_makes_no_second_attempt(
    api: Api,
) -> None:
    payment = await api.completed_payment("pm_card_refundFail")
    created = await api.client.post(
        "/api/v1/refunds", json={"payment_id": payment["id"]}, headers=AUTH
    )
    assert created.json()["status"] == "PENDING"  # its first attempt failed: retried later
    url = f"/api/v1/refunds/{created.json()['id']}/process"
    first, retry = await _lost_then_retried(api, url, "crash-process")
    assert first.status_code == retry.status_code == 200
    assert first.json()["attempts"] == retry.json()["attempts"] == 2
    assert len([op for op, _ in api.provider.calls if op == "refund"]) == 2


async def test_an_invoice_create_taken_over_after_a_crash_returns_the_invoice_it_made(
    api: Api,
) -> None:
    body = invoice_body()
    first, retry = await _lost_then_retried(api, "/api/v1/invoices", "crash-invoice", body)
    assert first.status_code == retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    listed = await api.client.get(f"/api/v1/invoices/booking/{body['booking_id']}", headers=AUTH)
    assert len(listed.json()["items"]) == 1


class BrokenAfterCommitProvider(FakeProvider):
    """The fake provider, after which the service's next step fails (as on a dropped
    database connection) the first time ``operation`` is called: the money has moved."""

    def __init__(self, operation: str) -> None:
        super().__init__()
        self.operation = operation
        self.broken = False

    def _call(self, operation: str, key: str | None, body: Any) -> Any:
        result = super()._call(operation, key, body)
        if operation == self.operation and not self.broken:
            self.broken = True
            raise ConnectionResetError("connection lost")
        return result


async def test_a_refund_retried_after_a_5xx_that_followed_its_commit_is_the_same_refund(
    api: Api,
) -> None:
    payment = await api.completed_payment()
    provider = BrokenAfterCommitProvider("refund")
    api.runtime.services.deps.providers.register(provider)  # replaces "fake": it knows no intent
    body = {"payment_id": payment["id"], "amount": 2500}
    first = await api.client.post("/api/v1/refunds", json=body, headers=keyed("5xx-refund"))
    assert first.status_code == 503  # a dropped connection: service_unavailable, key released
    retry = await api.client.post("/api/v1/refunds", json=body, headers=keyed("5xx-refund"))
    assert retry.status_code == 201
    refund = retry.json()
    assert refund["status"] == "COMPLETED"
    listed = await api.client.get(f"/api/v1/refunds/payment/{payment['id']}", headers=AUTH)
    assert [r["id"] for r in listed.json()["items"]] == [refund["id"]]
    assert len(provider.refunds_made(UUID(refund["id"]))) == 1
    assert {key for op, key in provider.calls if op == "refund"} == {f"refund-{refund['id']}-0"}


async def test_a_confirm_retried_after_a_5xx_that_followed_its_commit_completes(
    api: Api,
) -> None:
    payment = await api.create_payment()
    provider = BrokenAfterCommitProvider("confirm_payment")
    api.runtime.services.deps.providers.register(provider)
    url = f"/api/v1/payments/{payment['id']}/confirm"
    first = await api.client.post(url, headers=keyed("5xx-confirm"))
    assert first.status_code == 503
    retry = await api.client.post(url, headers=keyed("5xx-confirm"))
    assert retry.status_code == 200
    assert retry.json()["status"] == "COMPLETED"
    keys = [key for op, key in provider.calls if op == "confirm_payment"]
    assert keys == [f"payment-{payment['id']}-confirm"] * 2  # asked again under the same key


async def test_a_key_reused_for_another_refund_after_it_expired_is_422_and_refunds_nothing(
    api: Api,
) -> None:
    one, two = await api.completed_payment(), await api.completed_payment()
    store = crashing(api)
    made = await api.client.post(
        "/api/v1/refunds", json={"payment_id": one["id"]}, headers=keyed("reused-refund")
    )
    assert made.status_code == 201
    store.key_expires(api)  # the stored response is gone; the refund made under it is not
    other = await api.client.post(
        "/api/v1/refunds", json={"payment_id": two["id"]}, headers=keyed("reused-refund")
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert one["id"] not in other.text
    assert made.json()["id"] not in other.text
    listed = await api.client.get(f"/api/v1/refunds/payment/{two['id']}", headers=AUTH)
    assert listed.json()["items"] == []


async def test_a_key_reused_on_another_payment_after_it_expired_confirms_that_payment(
    api: Api,
) -> None:
    one, two = await api.create_payment(), await api.create_payment()
    store = crashing(api)
    first = await api.client.post(
        f"/api/v1/payments/{one['id']}/confirm", headers=keyed("reused-confirm")
    )
    store.key_expires(api)
    second = await api.client.post(
        f"/api/v1/payments/{two['id']}/confirm", headers=keyed("reused-confirm")
    )
    assert first.status_code == second.status_code == 200
    assert second.json()["id"] == two["id"]


async def test_the_same_key_under_another_api_key_never_finds_what_the_first_made(
    mem: Api,
) -> None:
    payment = await mem.completed_payment()
    body = {"payment_id": payment["id"], "amount": 100}
    mine = await mem.client.post("/api/v1/refunds", json=body, headers=keyed("shared"))
    theirs = await mem.client.post("/api/v1/refunds", json=body, headers=keyed("shared", OTHER_KEY))
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert "idempotent-replayed" not in theirs.headers
