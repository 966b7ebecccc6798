"""The Stripe stand-in's disputes: opened by the bank, answered with evidence, signed events.

What each reply, refusal and event should be is in docs/providers-research.md ("Stripe").
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import stripe as stripe_sdk
from provider_standins.clients import Receiver, StripeHttp
from provider_standins.stripe import StripeStandIn


@pytest.fixture
def stripe(stripe_standin: StripeStandIn) -> Iterator[StripeStandIn]:
    stripe_standin.reset()
    yield stripe_standin
    stripe_standin.reset()


@pytest.fixture
def api(stripe: StripeStandIn) -> StripeHttp:
    return StripeHttp(stripe)


def disputed(api: StripeHttp, stripe: StripeStandIn, **extra: Any) -> tuple[str, str]:
    """A payment with ``pm_card_createDispute``: its intent and the dispute the bank opened."""
    intent = api.post(
        "/v1/payment_intents",
        {
            "amount": 12000,
            "currency": "eur",
            "payment_method": "pm_card_createDispute",
            "confirm": True,
            **extra,
        },
    ).json()
    if intent["status"] == "requires_capture":
        api.post(f"/v1/payment_intents/{intent['id']}/capture")
    [dispute] = api.get("/v1/disputes", {"payment_intent": intent["id"]}).json()["data"]
    return intent["id"], dispute["id"]


def events(stripe: StripeStandIn) -> list[tuple[str, str]]:
    """(type, dispute status) of every event sent, each checked with Stripe's own verifier."""
    seen = []
    for sent in stripe.sent_of("charge.dispute."):
        event = stripe_sdk.Webhook.construct_event(
            sent.body.decode(), sent.headers["Stripe-Signature"], stripe.webhook_secret
        )
        seen.append((event["type"], event["data"]["object"]["status"]))
    return seen


def test_create_dispute_card_is_disputed_once_captured_and_the_funds_withdrawn(
    stripe: StripeStandIn, api: StripeHttp
) -> None:
    held = api.post(
        "/v1/payment_intents",
        {
            "amount": 12000,
            "currency": "eur",
            "capture_method": "manual",
            "payment_method": "pm_card_createDispute",
            "confirm": True,
        },
    ).json()
    assert api.get("/v1/disputes").json()["data"] == []  # nothing was taken yet
    api.post(f"/v1/payment_intents/{held['id']}/capture", {"amount_to_capture": 9000})
    [dispute] = api.get("/v1/disputes", {"payment_intent": held["id"]}).json()["data"]
    assert (dispute["amount"], dispute["reason"], dispute["status"]) == (
        9000,
        "fraudulent",
        "needs_response",
    )
    assert dispute["evidence_details"]["due_by"] > stripe.clock.timestamp()
    assert dispute["is_charge_refundable"] is False
    [withdrawal] = dispute["balance_transactions"]
    assert withdrawal["amount"] == -9000
    assert events(stripe) == [
        ("charge.dispute.created", "needs_response"),
        ("charge.dispute.funds_withdrawn", "needs_response"),
    ]
    refund = api.post("/v1/refunds", {"payment_intent": held["id"]})
    assert refund.json()["error"]["code"] == "charge_disputed"


@pytest.mark.parametrize(
    ("text", "outcome", "last"),
    [
        ("winning_evidence", "won", ("charge.dispute.funds_reinstated", "won")),
        ("losing_evidence", "lost", ("charge.dispute.closed", "lost")),
    ],
)
def test_submitted_evidence_decides_the_dispute_as_in_stripe_test_mode(
    stripe: StripeStandIn, api: StripeHttp, text: str, outcome: str, last: tuple[str, str]
) -> None:
    _, dispute_id = disputed(api, stripe)
    reply = api.post(
        f"/v1/disputes/{dispute_id}",
        {"evidence": {"uncategorized_text": text, "service_date": "2026-08-01"}, "submit": True},
    )
    body = reply.json()
    assert (reply.status_code, body["status"]) == (200, "under_review")
    assert body["evidence"]["service_date"] == "2026-08-01"
    assert body["evidence_details"]["submission_count"] == 1
    assert api.get(f"/v1/disputes/{dispute_id}").json()["status"] == outcome
    assert ("charge.dispute.updated", "under_review") in events(stripe)
    assert events(stripe)[-1] == last
    again = api.post(f"/v1/disputes/{dispute_id}", {"evidence": {"uncategorized_text": "more"}})
    assert again.status_code == 400


def test_evidence_submits_unless_told_not_to_and_staged_evidence_stays(
    stripe: StripeStandIn, api: StripeHttp
) -> None:
    _, dispute_id = disputed(api, stripe)
    staged = api.post(
        f"/v1/disputes/{dispute_id}",
        {"evidence": {"customer_email_address": "guest@example.test"}, "submit": False},
    )
    assert staged.json()["status"] == "needs_response"
    assert staged.json()["evidence_details"]["has_evidence"] is True
    default = api.post(f"/v1/disputes/{dispute_id}", {"evidence": {"uncategorized_text": "x"}})
    assert default.json()["status"] == "under_review"  # submit defaults to true
    assert default.json()["evidence"]["customer_email_address"] == "guest@example.test"


def test_file_fields_take_file_ids_and_text_has_its_limits(
    stripe: StripeStandIn, api: StripeHttp
) -> None:
    _, dispute_id = disputed(api, stripe)
    path = f"/v1/disputes/{dispute_id}"
    receipt = api.post(path, {"evidence": {"receipt": "INV-2026-0001"}, "submit": False})
    assert receipt.json()["error"]["code"] == "resource_missing"
    assert receipt.json()["error"]["param"] == "evidence[receipt]"
    policy = api.post(path, {"evidence": {"cancellation_policy": "Free until 7 days before"}})
    assert policy.status_code == 400
    long = api.post(path, {"evidence": {"uncategorized_text": "x" * 20_001}, "submit": False})
    assert long.status_code == 400
    unknown = api.post(path, {"evidence": {"check_in": "2026-08-01"}})
    assert unknown.json()["error"]["param"] == "evidence[check_in]"
    fine = api.post(
        path,
        {"evidence": {"receipt": "file_1PaBcD", "cancellation_policy_disclosure": "On the page"}},
    )
    assert fine.status_code == 200
    assert api.get(path).json()["status"] == "under_review"


def test_no_evidence_after_the_deadline(stripe: StripeStandIn, api: StripeHttp) -> None:
    _, dispute_id = disputed(api, stripe)
    stripe.advance(timedelta(days=7, seconds=1))
    got = api.get(f"/v1/disputes/{dispute_id}").json()
    assert got["evidence_details"]["past_due"] is True
    late = api.post(f"/v1/disputes/{dispute_id}", {"evidence": {"uncategorized_text": "x"}})
    assert late.status_code == 400


def test_closing_accepts_the_loss(stripe: StripeStandIn, api: StripeHttp) -> None:
    _, dispute_id = disputed(api, stripe)
    closed = api.post(f"/v1/disputes/{dispute_id}/close")
    assert closed.json()["status"] == "lost"
    assert events(stripe)[-1] == ("charge.dispute.closed", "lost")
    assert api.post(f"/v1/disputes/{dispute_id}/close").status_code == 400


def test_an_inquiry_moves_no_money_and_a_lost_one_becomes_a_chargeback(
    stripe: StripeStandIn, api: StripeHttp
) -> None:
    intent = api.post(
        "/v1/payment_intents",
        {"amount": 5000, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True},
    ).json()
    dispute = stripe.open_dispute(intent["id"], inquiry=True)
    assert (dispute["status"], dispute["balance_transactions"]) == ("warning_needs_response", [])
    assert dispute["is_charge_refundable"] is True
    reply = api.post(
        f"/v1/disputes/{dispute['id']}", {"evidence": {"uncategorized_text": "losing_evidence"}}
    )
    assert reply.json()["status"] == "warning_under_review"
    assert api.get(f"/v1/disputes/{dispute['id']}").json()["status"] == "needs_response"
    assert events(stripe)[-1] == ("charge.dispute.funds_withdrawn", "needs_response")


def test_events_are_posted_to_the_url_the_test_gives(
    stripe: StripeStandIn, api: StripeHttp
) -> None:
    receiver = Receiver()
    try:
        stripe.webhook_url = receiver.url
        _, dispute_id = disputed(api, stripe)
        assert stripe.wait_for_deliveries()
        types = [r.json()["type"] for r in receiver.received]
        assert types == ["charge.dispute.created", "charge.dispute.funds_withdrawn"]
        first = receiver.received[0]
        event = stripe_sdk.Webhook.construct_event(
            first.body.decode(), first.headers["stripe-signature"], stripe.webhook_secret
        )
        assert event["data"]["object"]["id"] == dispute_id
        assert all(s.status == 200 for s in stripe.sent)
    finally:
        receiver.close()
