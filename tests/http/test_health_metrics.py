"""Health, readiness, metrics and request ids."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.http.conftest import AUTH, Api, payment_body

from payment_adapters.sqlalchemy import Database


async def test_live(mem: Api) -> None:
    response = await mem.client.get("/health/live")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_ready_when_the_database_answers(api: Api) -> None:
    response = await api.client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


async def test_ready_is_503_naming_the_database_when_it_is_down(
    make_api: object, tmp_path: Path
) -> None:

    api = await make_api("sqlite")  # type: ignore[operator]
    assert api.runtime.database is not None
    await api.runtime.database.dispose()
    api.runtime.database = Database.from_url(
        f"sqlite+aiosqlite:///{tmp_path}/missing/dir/payments.db", cipher=api.runtime.cipher
    )
    response = await api.client.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["checks"] == {"database": "down"}
    assert "database" in response.json()["detail"]


async def test_ready_is_503_naming_the_broker_when_it_is_down(make_api: object) -> None:
    api = await make_api("memory", rabbitmq_url="amqp://guest:guest@127.0.0.1:1/")  # type: ignore[operator]
    response = await api.client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "down"}


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` with exactly ``labels``, from an exposition."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


async def test_metrics_expose_latency_by_route_and_outcomes(mem: Api) -> None:
    payment = await mem.create_payment()
    await mem.client.post(f"/api/v1/payments/{payment['id']}/confirm", headers=AUTH)
    response = await mem.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    route = "/api/v1/payments/{payment_id}/confirm"
    count = "http_request_duration_seconds_count"
    assert sample(text, count, method="POST", route=route, status="200") == 1
    assert sample(text, "payments_total", provider="fake", status="PENDING") == 1
    assert sample(text, "payments_total", provider="fake", status="COMPLETED") == 1
    latency = "provider_call_duration_seconds_count"
    labels = {"provider": "fake", "operation": "confirm_payment", "outcome": "ok"}
    assert sample(text, latency, **labels) == 1
    assert sample(text, "outbox_lag_seconds") == 0
    assert "_created" not in text


async def test_provider_errors_and_declines_are_counted(mem: Api) -> None:
    payment = await mem.create_payment()
    await mem.client.post(
        f"/api/v1/payments/{payment['id']}/confirm",
        json={"payment_method": "pm_card_chargeDeclined"},
        headers=AUTH,
    )
    text = (await mem.client.get("/metrics")).text
    labels = {"provider": "fake", "operation": "confirm_payment", "outcome": "declined"}
    assert sample(text, "provider_call_errors_total", **labels) == 1
    assert sample(text, "payments_total", provider="fake", status="FAILED") == 1


async def test_amount_mismatches_are_counted(mem: Api) -> None:
    payment = await mem.create_payment()
    confirmed = await mem.client.post(
        f"/api/v1/payments/{payment['id']}/confirm",
        json={"payment_method": "pm_card_amountMismatch"},
        headers=AUTH,
    )
    assert confirmed.json()["status"] == "PROCESSING"
    assert confirmed.json()["failure_code"] == "provider_amount_mismatch"
    text = (await mem.client.get("/metrics")).text
    assert sample(text, "provider_amount_mismatches_total", provider="fake") == 1


async def test_money_reported_moved_for_a_failed_payment_is_counted(mem: Api) -> None:
    payment = await mem.create_payment()
    failed = await mem.client.post(
        f"/api/v1/payments/{payment['id']}/confirm",
        json={"payment_method": "pm_card_chargeDeclined"},
        headers=AUTH,
    )
    assert failed.json()["status"] == "FAILED"
    obj = mem.provider.payment_intent_object(
        failed.json()["provider_payment_id"], status="succeeded"
    )
    body, headers = mem.provider.build_webhook(
        "payment_intent.succeeded", obj, event_id="evt_conflict", now=datetime.now(UTC)
    )
    delivered = await mem.client.post("/api/v1/webhooks/fake", content=body, headers=headers)
    assert delivered.status_code == 200
    text = (await mem.client.get("/metrics")).text
    assert sample(text, "provider_state_conflicts_total", provider="fake", entity="payment") == 1


async def test_refunds_are_counted_by_outcome(api: Api) -> None:
    payment = await api.completed_payment()
    await api.client.post(
        "/api/v1/refunds", json={"payment_id": payment["id"], "amount": 1}, headers=AUTH
    )
    text = (await api.client.get("/metrics")).text
    assert sample(text, "refunds_total", provider="fake", status="COMPLETED") == 1


async def test_the_outbox_backlog_is_reported(api: Api) -> None:
    await api.create_payment()
    text = (await api.client.get("/metrics")).text
    pending = sample(text, "outbox_pending_events")
    # In memory events are delivered at commit; on SQLite they wait for the relay.
    assert pending == (0 if api.backend == "memory" else 1)
    assert (sample(text, "outbox_lag_seconds") or 0) >= 0


async def test_unmatched_paths_are_one_route_label(mem: Api) -> None:
    for i in range(3):
        await mem.client.get(f"/nope/{i}")
    text = (await mem.client.get("/metrics")).text
    count = "http_request_duration_seconds_count"
    assert sample(text, count, method="GET", route="unmatched", status="404") == 3


async def test_a_sane_request_id_is_echoed(mem: Api) -> None:
    response = await mem.client.get("/health/live", headers={"X-Request-Id": "abc-123_x.y:z"})
    assert response.headers["x-request-id"] == "abc-123_x.y:z"


@pytest.mark.parametrize("value", ["", "x" * 200, "a b", "<script>", "caf\u00e9"])
async def test_an_insane_request_id_is_replaced(mem: Api, value: str) -> None:
    response = await mem.client.get(
        "/health/live",
        headers=[("X-Request-Id", value.encode())],  # type: ignore[list-item]
    )
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_problems_carry_the_request_id(mem: Api) -> None:
    response = await mem.client.post(
        "/api/v1/payments", json=payment_body(amount=0), headers={**AUTH, "X-Request-Id": "r-1"}
    )
    assert response.json()["request_id"] == "r-1"


async def test_logs_are_json_lines_carrying_the_request_id(
    mem: Api, json_logs: pytest.CaptureFixture[str]
) -> None:
    await mem.client.get("/health/live", headers={"X-Request-Id": "trace-42"})
    lines = [json.loads(line) for line in json_logs.readouterr().err.splitlines() if line]
    access = [line for line in lines if line.get("logger") == "payment_http.access"]
    assert access, lines
    assert access[-1]["request_id"] == "trace-42"
    assert access[-1]["route"] == "/health/live"
    assert access[-1]["status"] == 200
    assert {"timestamp", "level", "event"} <= set(access[-1])
