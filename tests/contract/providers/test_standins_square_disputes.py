"""The Square stand-in's disputes and its signed ``dispute.*`` webhooks.

What each reply, refusal and webhook should be is in docs/providers-research.md ("Square").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from provider_standins.clients import Receiver, SquareHttp
from provider_standins.square import SquareStandIn


@pytest.fixture
def square(square_standin: SquareStandIn) -> Iterator[SquareStandIn]:
    square_standin.reset()
    yield square_standin
    square_standin.reset()


@pytest.fixture
def api(square: SquareStandIn) -> SquareHttp:
    return SquareHttp(square)


def key() -> str:
    return str(uuid.uuid4())


def paid(api: SquareHttp, token: str = "pm_card_createDispute", **extra: Any) -> dict[str, Any]:
    body = {
        "source_id": token,
        "idempotency_key": key(),
        "amount_money": {"amount": 7000, "currency": "EUR"},
        **extra,
    }
    return api.post("/v2/payments", body).json()["payment"]  # type: ignore[no-any-return]


def dispute_of(api: SquareHttp, payment_id: str) -> dict[str, Any]:
    [dispute] = [
        d
        for d in api.get("/v2/disputes").json()["disputes"]
        if d["disputed_payment"]["payment_id"] == payment_id
    ]
    return dispute


def events(square: SquareStandIn) -> list[tuple[str, str]]:
    """(type, state) of every dispute webhook, each signature checked."""
    seen = []
    for sent in square.sent_of("dispute."):
        digest = hmac.new(
            square.signature_key.encode(),
            square.notification_url.encode() + sent.body,
            hashlib.sha256,
        ).digest()
        assert sent.headers["x-square-hmacsha256-signature"] == base64.b64encode(digest).decode()
        body = sent.json()
        assert body["data"]["type"] == "dispute"
        seen.append((body["type"], body["data"]["object"]["object"]["state"]))
    return seen


def text(
    api: SquareHttp, dispute_id: str, words: str, kind: str | None = "GENERIC_EVIDENCE"
) -> Any:
    body = {"idempotency_key": key(), "evidence_text": words}
    if kind is not None:
        body["evidence_type"] = kind
    return api.post(f"/v2/disputes/{dispute_id}/evidence-text", body)


def code(reply: Any) -> str:
    return reply.json()["errors"][0]["code"]  # type: ignore[no-any-return]


def test_a_completed_payment_is_disputed_and_cannot_be_refunded(
    square: SquareStandIn, api: SquareHttp
) -> None:
    held = paid(api, autocomplete=False)
    assert api.get("/v2/disputes").json()["disputes"] == []  # not before it is completed
    api.post(f"/v2/payments/{held['id']}/complete", {})
    dispute = dispute_of(api, held["id"])
    assert (dispute["state"], dispute["reason"], dispute["amount_money"]["amount"]) == (
        "EVIDENCE_REQUIRED",
        "NO_KNOWLEDGE",
        7000,
    )
    assert dispute["due_at"] > dispute["created_at"]
    assert events(square) == [("dispute.created", "EVIDENCE_REQUIRED")]
    refund = {
        "idempotency_key": key(),
        "payment_id": held["id"],
        "amount_money": {"amount": 100, "currency": "EUR"},
    }
    assert code(api.post("/v2/refunds", refund)) == "PAYMENT_NOT_REFUNDABLE_DUE_TO_DISPUTE"


@pytest.mark.parametrize(
    ("words", "state"), [("winning_evidence", "WON"), ("losing_evidence", "LOST")]
)
def test_text_evidence_then_submit_decides_the_dispute(
    square: SquareStandIn, api: SquareHttp, words: str, state: str
) -> None:
    dispute_id = dispute_of(api, paid(api)["id"])["id"]
    path = f"/v2/disputes/{dispute_id}"
    assert api.post(f"{path}/submit-evidence").status_code == 400  # nothing to submit yet
    added = text(api, dispute_id, words).json()["evidence"]
    assert (added["dispute_id"], added["evidence_type"]) == (dispute_id, "GENERIC_EVIDENCE")
    assert [e["id"] for e in api.get(f"{path}/evidence").json()["evidence"]] == [added["id"]]
    submitted = api.post(f"{path}/submit-evidence")
    assert submitted.json()["dispute"]["state"] == "PROCESSING"
    assert api.get(path).json()["dispute"]["state"] == state
    assert events(square)[1:] == [
        ("dispute.state.updated", "PROCESSING"),
        ("dispute.state.updated", state),
    ]
    assert text(api, dispute_id, "more").status_code == 400


def test_evidence_text_is_checked(api: SquareHttp) -> None:
    dispute_id = dispute_of(api, paid(api)["id"])["id"]
    assert code(text(api, dispute_id, "x" * 501)) == "VALUE_TOO_LONG"
    assert text(api, dispute_id, "x", kind="CHECK_IN_DATE").status_code == 400
    assert text(api, dispute_id, "x", kind=None).status_code == 200  # the type is optional
    no_key = api.post(f"/v2/disputes/{dispute_id}/evidence-text", {"evidence_text": "x"})
    assert no_key.status_code == 400
    body = {"idempotency_key": key(), "evidence_text": "x", "evidence": "x"}
    assert api.post(f"/v2/disputes/{dispute_id}/evidence-text", body).status_code == 400
    extra = api.post(f"/v2/disputes/{dispute_id}/submit-evidence", {"note": "x"})
    assert extra.status_code == 400


def test_accepting_loses_and_ends_the_dispute(square: SquareStandIn, api: SquareHttp) -> None:
    dispute_id = dispute_of(api, paid(api)["id"])["id"]
    accepted = api.post(f"/v2/disputes/{dispute_id}/accept")
    assert accepted.json()["dispute"]["state"] == "ACCEPTED"
    assert events(square)[-1] == ("dispute.state.updated", "ACCEPTED")
    assert api.post(f"/v2/disputes/{dispute_id}/accept").status_code == 400


def test_no_evidence_after_due_at(square: SquareStandIn, api: SquareHttp) -> None:
    dispute_id = dispute_of(api, paid(api)["id"])["id"]
    square.advance(timedelta(days=7, seconds=1))
    assert text(api, dispute_id, "winning_evidence").status_code == 400


def test_an_inquiry_closes_when_won_and_still_allows_refunds(
    square: SquareStandIn, api: SquareHttp
) -> None:
    payment = paid(api, "pm_card_visa")
    dispute = square.open_dispute(payment["id"], inquiry=True, reason="NOT_RECEIVED")
    assert dispute["state"] == "INQUIRY_EVIDENCE_REQUIRED"
    refund = {
        "idempotency_key": key(),
        "payment_id": payment["id"],
        "amount_money": {"amount": 100, "currency": "EUR"},
    }
    assert api.post("/v2/refunds", refund).status_code == 200
    text(api, dispute["id"], "winning_evidence")
    assert api.post(f"/v2/disputes/{dispute['id']}/submit-evidence").json()["dispute"]["state"] == (
        "INQUIRY_PROCESSING"
    )
    assert api.get(f"/v2/disputes/{dispute['id']}").json()["dispute"]["state"] == "INQUIRY_CLOSED"


def test_webhooks_are_posted_to_the_url_the_test_gives(
    square: SquareStandIn, api: SquareHttp
) -> None:
    receiver = Receiver()
    try:
        square.webhook_url = receiver.url
        payment = paid(api)
        assert square.wait_for_deliveries()
        [received] = receiver.received
        body = received.json()
        assert body["type"] == "dispute.created"
        assert body["data"]["object"]["object"]["disputed_payment"] == {"payment_id": payment["id"]}
        assert "x-square-hmacsha256-signature" in received.headers
    finally:
        receiver.close()
