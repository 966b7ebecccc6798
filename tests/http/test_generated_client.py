"""A client generated from the published schema drives a payment's life through the API.

The client is generated during the test, by openapi-python-client (the ``test`` extra), from
the document the app serves at ``/schema/openapi.json``, into a temporary directory; it is
imported from there and talks to the app in process. The generator and the client need no
network. Generating with ``--fail-on-warning`` also proves the document is one a generator
reads without guessing, and the operation ids give the functions their names.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from tests.http.conftest import API_KEY, Api
from tests.http.conftest import settings as make_settings

from payment_adapters.bootstrap import bootstrap_in_memory
from payment_http.app import create_app

PACKAGE = "payment_client"
# PDFs are bytes to a client: the generator reads them as it reads any binary body.
CONFIG = (
    f"package_name_override: {PACKAGE}\npost_hooks: []\n"
    "content_type_overrides:\n  application/pdf: application/octet-stream\n"
)


@pytest.fixture(scope="module")
def published() -> dict[str, Any]:
    """The document as the app serves it."""
    with TestClient(create_app(bootstrap_in_memory(make_settings()))) as client:
        response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


@pytest.fixture(scope="module")
def generated(
    published: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleType]:
    """The client package, generated now and imported from a temporary directory."""
    work = tmp_path_factory.mktemp("generated")
    (work / "openapi.json").write_text(json.dumps(published))
    (work / "config.yml").write_text(CONFIG)
    out = work / "src" / PACKAGE
    result = subprocess.run(  # the generator's own command line, as a user runs it
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(work / "openapi.json"),
            "--config",
            str(work / "config.yml"),
            "--meta",
            "none",
            "--output-path",
            str(out),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(out.parent))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out.parent))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_the_operations_have_the_names_a_client_wants(generated: ModuleType) -> None:
    for name in (
        "api.payments.create_payment",
        "api.payments.get_payment",
        "api.payments.get_payment_by_reference",
        "api.payments.confirm_payment",
        "api.payments.cancel_payment",
        "api.payments.list_booking_payments",
        "api.refunds.create_refund",
        "api.refunds.get_refund_by_reference",
        "api.refunds.list_payment_refunds",
        "api.invoices.create_invoice",
        "api.invoices.update_invoice",
        "api.invoices.get_invoice_by_number",
        "api.billing.verify_billing_records",
        "api.webhooks.handle_webhook",
    ):
        assert hasattr(_module(name), "asyncio_detailed"), name


async def test_a_payment_lifecycle_through_the_generated_client(
    generated: ModuleType, api: Api, published: dict[str, Any]
) -> None:
    """Create, confirm, refund, read by reference, draft and issue an invoice."""
    served = await api.client.get("/schema/openapi.json")
    assert served.json() == published
    models = _module("models")
    payments = _module("api.payments")
    refunds = _module("api.refunds")
    invoices = _module("api.invoices")
    billing = _module("api.billing")
    transport = httpx.ASGITransport(app=api.app)
    client = generated.AuthenticatedClient(
        base_url="http://payments.test", token=API_KEY, httpx_args={"transport": transport}
    )
    booking, guest = uuid.uuid4(), uuid.uuid4()
    async with client:
        created = await payments.create_payment.asyncio_detailed(
            client=client,
            body=models.CreatePaymentRequest(
                booking_id=booking,
                guest_id=guest,
                amount=12500,
                currency=models.CreatePaymentRequestCurrency.EUR,
                description="Room 12, 2 nights",
            ),
            idempotency_key=f"create-{booking}",
        )
        assert created.status_code == 201, created.content
        payment = created.parsed
        assert isinstance(payment, models.PaymentView)
        assert payment.status == models.PaymentViewStatus.PENDING

        confirmed = await payments.confirm_payment.asyncio(
            payment.id,
            client=client,
            body=models.ConfirmPaymentRequest(payment_method="pm_card_visa"),
        )
        assert isinstance(confirmed, models.PaymentView)
        assert confirmed.status == models.PaymentViewStatus.COMPLETED
        assert confirmed.card is not None
        assert confirmed.card.last4 == "4242"

        refund = await refunds.create_refund.asyncio(
            client=client,
            body=models.CreateRefundRequest(
                payment_id=payment.id, amount=2500, reason="requested_by_customer"
            ),
        )
        assert isinstance(refund, models.RefundView)
        assert refund.amount == 2500

        public = generated.Client(
            base_url="http://payments.test", httpx_args={"transport": transport}
        )
        async with public:
            safe = await payments.get_payment_by_reference.asyncio(payment.reference, client=public)
        assert isinstance(safe, models.PaymentSafeView)
        assert (safe.status, safe.amount, safe.amount_refunded) == ("COMPLETED", 12500, 2500)

        draft = await invoices.create_invoice.asyncio(
            client=client,
            body=models.CreateInvoiceRequest(
                booking_id=booking,
                guest_id=guest,
                currency=models.CreateInvoiceRequestCurrency.EUR,
                line_items=[
                    models.LineItemRequest(
                        description="Room", quantity=2, unit_amount=5000, tax_rate_bps=1000
                    )
                ],
            ),
        )
        assert isinstance(draft, models.InvoiceView)
        assert (draft.status, draft.number, draft.total) == (
            models.InvoiceViewStatus.DRAFT,
            None,
            11000,
        )

        issued = await invoices.update_invoice.asyncio(
            draft.id,
            client=client,
            body=models.UpdateInvoiceRequest(status=models.UpdateInvoiceRequestStatus.OPEN),
        )
        assert isinstance(issued, models.InvoiceView)
        assert issued.status == models.InvoiceViewStatus.OPEN
        assert isinstance(issued.number, str)
        assert issued.number.startswith("INV-")

        by_number = await invoices.get_invoice_by_number.asyncio(issued.number, client=client)
        assert isinstance(by_number, models.InvoiceView)
        assert by_number.id == draft.id

        verified = await billing.verify_billing_records.asyncio(client=client)
        assert isinstance(verified, models.VerifyView)
        assert verified.ok is True

        # An error is a problem document the client parses too.
        missing = await payments.get_payment.asyncio(uuid.uuid4(), client=client)
        assert isinstance(missing, models.Problem)
        assert missing.code == "not_found"
