"""The PayPal stand-in's disputes (Disputes v1) and its signed ``CUSTOMER.DISPUTE.*`` webhooks.

What each reply, refusal and webhook should be is in docs/providers-research.md ("PayPal").
"""

from __future__ import annotations

import base64
import uuid
import zlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from provider_standins._server import Sent
from provider_standins.clients import PayPalHttp, Receiver
from provider_standins.paypal import PayPalStandIn


@pytest.fixture
def paypal(paypal_standin: PayPalStandIn) -> Iterator[PayPalStandIn]:
    paypal_standin.reset()
    yield paypal_standin
    paypal_standin.reset()


@pytest.fixture
def api(paypal: PayPalStandIn) -> PayPalHttp:
    return PayPalHttp(paypal)


def captured(api: PayPalHttp, token: str = "pm_card_createDispute") -> str:
    body = {
        "intent": "CAPTURE",
        "purchase_units": [{"amount": {"currency_code": "EUR", "value": "80.00"}}],
        "payment_source": {"card": {"vault_id": token}},
    }
    made = api.post("/v2/checkout/orders", body, key=str(uuid.uuid4())).json()
    return str(made["purchase_units"][0]["payments"]["captures"][0]["id"])


def verified(paypal: PayPalStandIn, sent: Sent | Any) -> dict[str, Any]:
    """The webhook's body, once its signature checks out (PayPal's CRC32 scheme)."""
    headers = {k.upper(): v for k, v in sent.headers.items()}
    message = (
        f"{headers['PAYPAL-TRANSMISSION-ID']}|{headers['PAYPAL-TRANSMISSION-TIME']}|"
        f"{paypal.webhook_id}|{zlib.crc32(sent.body)}"
    ).encode()
    key = x509.load_pem_x509_certificate(paypal.cert_pem).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(
        base64.b64decode(headers["PAYPAL-TRANSMISSION-SIG"]),
        message,
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    return sent.json()  # type: ignore[no-any-return]


def events(paypal: PayPalStandIn) -> list[tuple[str, str]]:
    return [
        (body["event_type"], body["resource"]["status"])
        for body in (verified(paypal, s) for s in paypal.sent_of("CUSTOMER.DISPUTE."))
    ]


def evidence(api: PayPalHttp, dispute_id: str, notes: str, **extra: Any) -> Any:
    item = {"evidence_type": "OTHER", "notes": notes, **extra}
    return api.multipart(
        f"/v1/customer/disputes/{dispute_id}/provide-evidence", {"input": {"evidences": [item]}}
    )


def only_dispute(paypal: PayPalStandIn, api: PayPalHttp, capture: str) -> dict[str, Any]:
    listed = api.get(f"/v1/customer/disputes?disputed_transaction_id={capture}").json()["items"]
    assert len(listed) == 1
    return api.get(f"/v1/customer/disputes/{listed[0]['dispute_id']}").json()  # type: ignore[no-any-return]


def test_a_disputed_capture_is_a_chargeback_waiting_for_the_seller(
    paypal: PayPalStandIn, api: PayPalHttp
) -> None:
    capture = captured(api)
    dispute = only_dispute(paypal, api, capture)
    assert (dispute["status"], dispute["dispute_life_cycle_stage"]) == (
        "WAITING_FOR_SELLER_RESPONSE",
        "CHARGEBACK",
    )
    assert dispute["reason"] == "UNAUTHORISED"
    assert dispute["dispute_amount"] == {"currency_code": "EUR", "value": "80.00"}
    assert dispute["disputed_transactions"][0]["seller_transaction_id"] == capture
    assert dispute["seller_response_due_date"] > paypal.stamp()
    assert [m["type"] for m in dispute["money_movements"]] == ["DEBIT"]
    assert events(paypal) == [("CUSTOMER.DISPUTE.CREATED", "WAITING_FOR_SELLER_RESPONSE")]
    refund = api.post(f"/v2/payments/captures/{capture}/refund", {}, key="refund-1")
    assert refund.json()["details"][0]["issue"] == "REFUND_NOT_PERMITTED_DUE_TO_CHARGEBACK"


@pytest.mark.parametrize(
    ("notes", "outcome", "moved"),
    [
        ("winning_evidence", "RESOLVED_SELLER_FAVOUR", ["DEBIT", "CREDIT"]),
        ("losing_evidence", "RESOLVED_BUYER_FAVOUR", ["DEBIT"]),
    ],
)
def test_evidence_goes_as_multipart_and_decides_the_dispute(
    paypal: PayPalStandIn, api: PayPalHttp, notes: str, outcome: str, moved: list[str]
) -> None:
    dispute_id = only_dispute(paypal, api, captured(api))["dispute_id"]
    as_json = api.post(
        f"/v1/customer/disputes/{dispute_id}/provide-evidence",
        {"evidences": [{"evidence_type": "OTHER", "notes": notes}]},
    )
    assert as_json.status_code == 415
    reply = evidence(api, dispute_id, notes)
    assert reply.status_code == 200
    assert reply.json()["links"][0]["href"].endswith(f"/v1/customer/disputes/{dispute_id}")
    dispute = api.get(f"/v1/customer/disputes/{dispute_id}").json()
    assert (dispute["status"], dispute["dispute_outcome"]["outcome_code"]) == ("RESOLVED", outcome)
    assert [m["type"] for m in dispute["money_movements"]] == moved
    assert events(paypal)[1:] == [
        ("CUSTOMER.DISPUTE.UPDATED", "UNDER_REVIEW"),
        ("CUSTOMER.DISPUTE.RESOLVED", "RESOLVED"),
    ]
    assert evidence(api, dispute_id, "more").status_code == 422


def test_evidence_is_checked_against_paypals_schema(paypal: PayPalStandIn, api: PayPalHttp) -> None:
    dispute_id = only_dispute(paypal, api, captured(api))["dispute_id"]
    assert evidence(api, dispute_id, "x", evidence_kind="OTHER").status_code == 400
    assert evidence(api, dispute_id, "x", evidence_type="CHECK_IN_DATE").status_code == 400
    assert evidence(api, dispute_id, "x" * 2001).status_code == 400
    no_input = api.multipart(f"/v1/customer/disputes/{dispute_id}/provide-evidence", {"x": b"1"})
    assert no_input.status_code == 400
    assert api.get(f"/v1/customer/disputes/{dispute_id}").json()["status"] == (
        "WAITING_FOR_SELLER_RESPONSE"
    )


def test_accepting_the_claim_needs_a_note_and_loses(paypal: PayPalStandIn, api: PayPalHttp) -> None:
    dispute_id = only_dispute(paypal, api, captured(api))["dispute_id"]
    path = f"/v1/customer/disputes/{dispute_id}/accept-claim"
    assert api.post(path, {}, key="accept-0").status_code == 400
    accepted = api.post(path, {"note": "Refunding the guest."}, key="accept-1")
    assert accepted.status_code == 200
    dispute = api.get(f"/v1/customer/disputes/{dispute_id}").json()
    assert (dispute["status"], dispute["dispute_outcome"]["outcome_code"]) == (
        "RESOLVED",
        "ACCEPTED",
    )
    assert events(paypal)[-1] == ("CUSTOMER.DISPUTE.RESOLVED", "RESOLVED")


def test_no_answer_after_the_seller_response_due_date(
    paypal: PayPalStandIn, api: PayPalHttp
) -> None:
    dispute_id = only_dispute(paypal, api, captured(api))["dispute_id"]
    paypal.advance(timedelta(days=10, seconds=1))
    assert evidence(api, dispute_id, "winning_evidence").status_code == 422


def test_an_inquiry_moves_no_money_but_blocks_refunds(
    paypal: PayPalStandIn, api: PayPalHttp
) -> None:
    capture = captured(api, "pm_card_visa")
    dispute = paypal.open_dispute(
        capture, stage="INQUIRY", reason="MERCHANDISE_OR_SERVICE_NOT_RECEIVED"
    )
    assert (dispute["dispute_life_cycle_stage"], dispute["money_movements"]) == ("INQUIRY", [])
    refund = api.post(f"/v2/payments/captures/{capture}/refund", {}, key="refund-2")
    assert refund.json()["details"][0]["issue"] == "TRANSACTION_DISPUTED"


def test_webhooks_are_posted_to_the_url_the_test_gives(
    paypal: PayPalStandIn, api: PayPalHttp
) -> None:
    receiver = Receiver()
    try:
        paypal.webhook_url = receiver.url
        capture = captured(api)
        assert paypal.wait_for_deliveries()
        [received] = receiver.received
        body = verified(paypal, received)
        assert (body["event_type"], body["resource_type"]) == (
            "CUSTOMER.DISPUTE.CREATED",
            "dispute",
        )
        assert body["resource"]["disputed_transactions"][0]["seller_transaction_id"] == capture
    finally:
        receiver.close()
