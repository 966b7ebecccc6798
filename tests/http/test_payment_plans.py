"""Payment plans over HTTP: create (the deposit charged at once), read, list by booking, pay an
installment, cancel by the policy, record a no-show; every bad input its problem code and
nothing changed; idempotent replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.http.conftest import AUTH, Api, new_id

PLAN_FIELDS = {
    "id",
    "booking_id",
    "guest_id",
    "currency",
    "total_amount",
    "check_in",
    "time_zone",
    "status",
    "payment_method_id",
    "deposit_bps",
    "cancellation_policy",
    "amount_paid",
    "amount_refunded",
    "installments",
    "cancellation",
    "created_at",
    "updated_at",
}
INSTALLMENT_FIELDS = {
    "id",
    "kind",
    "amount",
    "due_at",
    "status",
    "payment_id",
    "attempts",
    "next_attempt_at",
    "failure_code",
}


def today() -> datetime:
    return datetime.now(UTC)


def plan_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "booking_id": new_id(),
        "guest_id": new_id(),
        "currency": "EUR",
        "total_amount": 100_000,
        "check_in": (today() + timedelta(days=60)).date().isoformat(),
        "time_zone": "Europe/Lisbon",
        "deposit_bps": 3000,
        "balance_due_days_before_check_in": 14,
        "payment_method": "pm_card_visa",
        "cancellation_policy": {
            "tiers": [
                {"days_before_check_in": 30, "refund_bps": 10000},
                {"days_before_check_in": 7, "refund_bps": 5000},
            ],
            "no_show_fee_bps": 10000,
        },
    }
    body.update(overrides)
    return body


async def create(api: Api, headers: dict[str, str] | None = None, **body: Any):
    return await api.client.post(
        "/api/v1/payment-plans", json=plan_body(**body), headers=headers or AUTH
    )


async def test_create_charges_the_deposit_and_schedules_the_balance(api: Api) -> None:
    response = await create(api)
    assert response.status_code == 201, response.text
    plan = response.json()
    assert set(plan) == PLAN_FIELDS
    assert (plan["status"], plan["amount_paid"], plan["cancellation"]) == ("ACTIVE", 30_000, None)
    deposit, balance = plan["installments"]
    assert set(deposit) == INSTALLMENT_FIELDS
    assert (deposit["kind"], deposit["amount"], deposit["status"]) == ("DEPOSIT", 30_000, "PAID")
    assert (balance["kind"], balance["amount"], balance["status"]) == (
        "BALANCE",
        70_000,
        "SCHEDULED",
    )
    assert balance["due_at"].endswith("T00:00:00Z") or balance["due_at"].endswith("T23:00:00Z")
    assert plan["payment_method_id"] is not None
    assert "payment_method" not in plan  # the token is never shown
    got = await api.client.get(f"/api/v1/payment-plans/{plan['id']}", headers=AUTH)
    assert got.json() == plan
    listed = await api.client.get(
        f"/api/v1/payment-plans/booking/{plan['booking_id']}", headers=AUTH
    )
    assert listed.json() == {"items": [plan], "next_cursor": None}
    payment = await api.client.get(f"/api/v1/payments/{deposit['payment_id']}", headers=AUTH)
    assert payment.json()["status"] == "COMPLETED"


async def test_pay_cancel_by_policy_and_no_show(api: Api) -> None:
    plan = (await create(api)).json()
    balance = plan["installments"][1]
    url = f"/api/v1/payment-plans/{plan['id']}"
    paid = await api.client.post(f"{url}/installments/{balance['id']}/pay", headers=AUTH)
    assert paid.status_code == 200, paid.text
    assert (paid.json()["status"], paid.json()["amount_paid"]) == ("PAID", 100_000)
    again = await api.client.post(f"{url}/installments/{balance['id']}/pay", headers=AUTH)
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state_transition")
    # Sixty days out: the 30-day tier, everything back.
    cancelled = await api.client.post(
        f"{url}/cancel", json={"reason": "plans changed"}, headers=AUTH
    )
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "CANCELLED"
    assert body["amount_refunded"] == 100_000
    decision = body["cancellation"]
    assert decision["refund_bps"] == 10_000
    assert decision["amount_retained"] == 0
    assert decision["amount_refunded"] == 100_000
    assert decision["days_before_check_in"] in (59, 60, 61)
    assert decision["reason"] == "plans changed"
    assert decision["tier"] == {"days_before_check_in": 30, "refund_bps": 10000}
    for bad in ("cancel", "no-show"):
        refused = await api.client.post(f"{url}/{bad}", headers=AUTH)
        assert (refused.status_code, refused.json()["code"]) == (409, "invalid_state_transition")

    other = (await create(api)).json()
    shown = await api.client.post(f"/api/v1/payment-plans/{other['id']}/no-show", headers=AUTH)
    assert shown.status_code == 200, shown.text
    kinds = [(i["kind"], i["status"], i["amount"]) for i in shown.json()["installments"]]
    assert kinds == [
        ("DEPOSIT", "PAID", 30_000),
        ("BALANCE", "CANCELLED", 70_000),
        ("NO_SHOW_FEE", "PAID", 70_000),
    ]
    assert shown.json()["status"] == "NO_SHOW"


async def test_a_declined_deposit_is_201_and_defaulted(api: Api) -> None:
    response = await create(api, payment_method="pm_card_chargeDeclined")
    assert response.status_code == 201
    plan = response.json()
    assert plan["status"] == "DEFAULTED"
    assert plan["installments"][0]["failure_code"] == "card_declined"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"time_zone": "Mars/Olympus"}, "unknown_time_zone"),
        ({"check_in": "2020-01-01"}, "check_in_in_past"),
        ({"deposit_bps": 10_001}, "invalid_basis_points"),
        ({"deposit_bps": -1}, "invalid_basis_points"),
        (
            {"cancellation_policy": {"tiers": [], "no_show_fee_bps": 20_000}},
            "invalid_basis_points",
        ),
        (
            {
                "cancellation_policy": {
                    "tiers": [
                        {"days_before_check_in": 7, "refund_bps": 5000},
                        {"days_before_check_in": 30, "refund_bps": 10000},
                    ]
                }
            },
            "cancellation_tiers_unordered",
        ),
        (
            {
                "cancellation_policy": {
                    "tiers": [
                        {"days_before_check_in": 7, "refund_bps": 5000},
                        {"days_before_check_in": 7, "refund_bps": 4000},
                    ]
                }
            },
            "cancellation_tiers_duplicated",
        ),
        ({"total_amount": 100_000_000_000}, "amount_out_of_range"),
        ({"total_amount": 0}, "amount_out_of_range"),
        ({"currency": "XXX"}, "unknown_currency"),
        ({"total_amount": 1000.0}, "validation_error"),
        ({"payment_method": "4242 4242 4242 4242"}, "raw_card_data_forbidden"),
    ],
)
async def test_bad_inputs_get_their_code_and_change_nothing(
    mem: Api, overrides: dict[str, Any], code: str
) -> None:
    body = plan_body(**overrides)
    response = await mem.client.post("/api/v1/payment-plans", json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert response.headers["content-type"].startswith("application/problem+json")
    listed = await mem.client.get(
        f"/api/v1/payment-plans/booking/{body['booking_id']}", headers=AUTH
    )
    assert listed.json()["items"] == []
    assert mem.runtime.harness is not None
    assert mem.runtime.harness.store.payments == {}


async def test_unknown_plans_and_installments_are_404(api: Api) -> None:
    missing = await api.client.get(f"/api/v1/payment-plans/{new_id()}", headers=AUTH)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    plan = (await create(api)).json()
    url = f"/api/v1/payment-plans/{plan['id']}/installments/{new_id()}/pay"
    response = await api.client.post(url, headers=AUTH)
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


async def test_create_replays_under_its_idempotency_key(api: Api) -> None:
    body = plan_body()
    headers = {**AUTH, "Idempotency-Key": "plan-1"}
    first = await api.client.post("/api/v1/payment-plans", json=body, headers=headers)
    second = await api.client.post("/api/v1/payment-plans", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("idempotent-replayed") == "true"
    assert second.json() == first.json()
    listed = await api.client.get(
        f"/api/v1/payment-plans/booking/{body['booking_id']}", headers=AUTH
    )
    assert len(listed.json()["items"]) == 1


async def test_plans_work_on_postgres(make_api) -> None:
    api = await make_api("postgres")
    plan = (await create(api)).json()
    assert plan["status"] == "ACTIVE"
    cancelled = await api.client.post(f"/api/v1/payment-plans/{plan['id']}/cancel", headers=AUTH)
    assert cancelled.json()["amount_refunded"] == 30_000
