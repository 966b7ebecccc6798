"""The Idempotency-Key of every POST and PATCH: replay, reuse, in flight, stale locks."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from tests.http.conftest import API_KEY, AUTH, OTHER_KEY, Api, invoice_body, payment_body

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
