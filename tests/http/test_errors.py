"""Every error is a problem document; nothing internal ever leaves the process."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import attrs
import pytest
from sqlalchemy.exc import OperationalError
from tests.http.conftest import AUTH, Api, payment_body

from payment_core import errors
from payment_core.money import Money
from payment_core.ports import CreatePaymentRequest, ProviderPayment
from payment_core.testing import FakeProvider
from payment_http.errors import DOMAIN_ERRORS, is_database_unavailable

SECRET_SQL = "SELECT secret FROM api_keys WHERE card = '4242424242424242'"


class BrokenProvider(FakeProvider):
    """A provider whose adapter has a bug (an exception no adapter should let escape)."""

    def __init__(self) -> None:
        super().__init__(name="broken")

    async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        raise RuntimeError(SECRET_SQL)


class MismatchingProvider(FakeProvider):
    """A provider that sets a payment up for another amount than it was asked for."""

    def __init__(self) -> None:
        super().__init__(name="mismatching")

    async def create_payment(self, request: CreatePaymentRequest) -> ProviderPayment:
        reply = await super().create_payment(request)
        return attrs.evolve(reply, amount=Money(reply.amount.amount + 1, reply.amount.currency))


async def test_a_provider_rejection_on_create_is_a_422_and_nothing_is_kept(mem: Api) -> None:
    mem.runtime.services.deps.providers.register(MismatchingProvider())
    body = payment_body(provider="mismatching")
    response = await mem.client.post("/api/v1/payments", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["code"] == "provider_rejected"
    listed = await mem.client.get(f"/api/v1/payments/booking/{body['booking_id']}", headers=AUTH)
    assert listed.json()["items"] == []


async def test_an_unknown_path_is_a_404_problem(mem: Api) -> None:
    response = await mem.client.get("/api/v2/whatever")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


async def test_a_wrong_method_is_a_405_problem_with_allow(mem: Api) -> None:
    response = await mem.client.delete("/api/v1/payments", headers=AUTH)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert "POST" in response.headers["allow"]


async def test_an_unhandled_exception_is_a_bare_500(
    mem: Api, caplog: pytest.LogCaptureFixture
) -> None:
    mem.runtime.services.deps.providers.register(BrokenProvider())
    caplog.set_level(logging.DEBUG)
    response = await mem.client.post(
        "/api/v1/payments", json=payment_body(provider="broken"), headers=AUTH
    )
    assert response.status_code == 500
    problem = response.json()
    assert problem["code"] == "internal_error"
    assert "SELECT" not in response.text
    assert "4242" not in response.text
    assert "Traceback" not in response.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged  # the type, for the operator
    assert "SELECT" not in logged
    assert "4242424242424242" not in logged
    assert all(r.exc_info is None for r in caplog.records if r.name.startswith("payment_http"))


async def test_a_database_outage_is_a_503_problem(make_api: object, tmp_path: Path) -> None:
    api = await make_api("sqlite")  # type: ignore[operator]
    database = api.runtime.database
    await database.dispose()
    path = Path(database.engine.url.database)
    # The file becomes a directory: SQLite cannot open it.
    await asyncio.to_thread(path.unlink)
    await asyncio.to_thread(path.mkdir)
    response = await api.client.post("/api/v1/payments", json=payment_body(), headers=AUTH)
    assert response.status_code == 503
    problem = response.json()
    assert problem["code"] == "service_unavailable"
    assert "sqlite" not in response.text.lower()
    assert "SELECT" not in response.text
    got = await api.client.get(
        "/api/v1/payments/00000000-0000-0000-0000-000000000001", headers=AUTH
    )
    assert got.status_code == 503


def test_the_table_maps_every_domain_error() -> None:

    classes = {
        getattr(errors, name)
        for name in errors.__all__
        if isinstance(getattr(errors, name), type)
        and issubclass(getattr(errors, name), errors.PaymentError)
    }
    assert classes <= set(DOMAIN_ERRORS)
    codes = {cls.code: DOMAIN_ERRORS[cls].status for cls in classes}
    assert codes["invalid_state_transition"] == 409
    assert codes["invoice_not_editable"] == 409
    assert codes["not_found"] == 404
    assert codes["refund_exceeds_refundable"] == 422
    assert codes["idempotency_key_reused"] == 422
    assert codes["idempotency_request_in_progress"] == 409
    assert codes["concurrent_modification"] == 409
    assert codes["invalid_signature"] == 400
    assert codes["provider_unavailable"] == 503
    assert codes["raw_card_data_forbidden"] == 422
    # Card holds and saved cards (Part 2 of the contract).
    assert codes["capture_exceeds_authorized"] == 422
    assert codes["capture_in_progress"] == 409
    assert codes["card_declined"] == 402
    assert codes["payment_method_guest_mismatch"] == 422
    assert codes["payment_method_detached"] == 409
    assert codes["payment_method_required"] == 422
    assert codes["not_supported_by_provider"] == 422


def test_connection_failures_count_as_the_database_being_down() -> None:

    assert is_database_unavailable(ConnectionRefusedError())
    assert is_database_unavailable(OperationalError("x", {}, Exception("y")))
    assert not is_database_unavailable(ValueError("x"))
