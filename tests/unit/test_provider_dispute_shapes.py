"""Our evidence in each provider's shape, and each provider's dispute read as ours."""

from __future__ import annotations

from datetime import UTC, datetime

from payment_adapters.providers.paypal._disputes import dispute_of as paypal_dispute
from payment_adapters.providers.paypal._disputes import evidences
from payment_adapters.providers.square._disputes import dispute_of as square_dispute
from payment_adapters.providers.square._disputes import evidence_pieces
from payment_adapters.providers.stripe._disputes import evidence_params
from payment_core.model.dispute import DisputeStatus
from payment_core.money import Money
from payment_core.ports import FundsMovement

D = DisputeStatus
EVIDENCE = {
    "receipt": "INV-2026-000001, INV-2026-000002",
    "cancellation_policy": "Free cancellation until 30 days before check-in.",
    "service_date": "2027-03-10",
    "uncategorized_text": "winning_evidence",
}


def test_stripe_never_gets_text_in_a_file_field() -> None:
    params = evidence_params({**EVIDENCE, "product_description": "Two nights, room 12"})
    assert "receipt" not in params
    assert "cancellation_policy" not in params
    assert params["cancellation_policy_disclosure"] == EVIDENCE["cancellation_policy"]
    assert params["product_description"] == (
        "Two nights, room 12\nInvoices: INV-2026-000001, INV-2026-000002"
    )
    assert params["uncategorized_text"] == "winning_evidence"  # exactly the operator's
    assert evidence_params({"receipt": "INV-1"}) == {"product_description": "Invoices: INV-1"}


def test_paypal_gets_one_item_per_field_within_its_notes_limit() -> None:
    items = evidences({**EVIDENCE, "customer_name": "x" * 3000})
    assert {i["evidence_type"] for i in items} == {
        "PROOF_OF_RECEIPT_COPY",
        "RETURN_POLICY",
        "ORDER_DETAILS",
        "OTHER",
    }
    assert all(len(i["notes"]) <= 2000 for i in items)
    assert {"evidence_type": "OTHER", "notes": "winning_evidence"} in items


def test_square_gets_pieces_of_at_most_500_characters() -> None:
    pieces = evidence_pieces({"uncategorized_text": "a" * 1200, "receipt": "INV-1"})
    assert [kind for kind, _ in pieces] == ["RECEIPT"] + ["GENERIC_EVIDENCE"] * 3
    assert all(len(text) <= 500 for _, text in pieces)
    assert "".join(t for k, t in pieces if k == "GENERIC_EVIDENCE") == "a" * 1200


def test_paypal_states_outcomes_and_money() -> None:
    base = {
        "dispute_id": "PP-D-1",
        "status": "WAITING_FOR_SELLER_RESPONSE",
        "dispute_amount": {"currency_code": "EUR", "value": "99.00"},
        "dispute_life_cycle_stage": "CHARGEBACK",
        "seller_response_due_date": "2026-12-20T10:00:00.000Z",
        "disputed_transactions": [{"custom": "0d9e8f0a-5d0e-4c36-9a86-0f6f0fbd2b51"}],
        "money_movements": [{"affected_party": "SELLER", "type": "DEBIT"}],
        "reason": "UNAUTHORISED",
    }
    opened = paypal_dispute(base)
    assert opened is not None
    assert (opened.status, opened.funds, opened.inquiry, opened.reason) == (
        D.NEEDS_RESPONSE,
        FundsMovement.WITHDRAWN,
        False,
        "unauthorised",
    )
    assert opened.amount == Money.parse("99.00", "EUR")
    assert opened.evidence_due_by == datetime(2026, 12, 20, 10, tzinfo=UTC)
    assert str(opened.payment_id) == "0d9e8f0a-5d0e-4c36-9a86-0f6f0fbd2b51"
    won = paypal_dispute(
        {
            **base,
            "status": "RESOLVED",
            "dispute_outcome": {"outcome_code": "RESOLVED_SELLER_FAVOUR"},
            "money_movements": [{"type": "DEBIT"}, {"type": "CREDIT"}],
        }
    )
    assert won is not None
    assert (won.status, won.funds) == (D.WON, FundsMovement.REINSTATED)
    unknown = paypal_dispute({**base, "status": "RESOLVED", "dispute_outcome": {}})
    assert unknown is not None
    assert unknown.status is D.LOST  # an outcome we do not know: the money is gone
    inquiry = paypal_dispute({**base, "dispute_life_cycle_stage": "INQUIRY", "money_movements": []})
    assert inquiry is not None
    assert (inquiry.inquiry, inquiry.funds) == (True, None)
    assert paypal_dispute({**base, "status": "SOMETHING_NEW"}) is None


def test_square_states_and_held_money() -> None:
    base = {
        "id": "sqd_1",
        "state": "EVIDENCE_REQUIRED",
        "amount_money": {"amount": 9900, "currency": "EUR"},
        "disputed_payment": {"payment_id": "sqpay_1"},
        "due_at": "2026-12-20T10:00:00Z",
        "reason": "NO_KNOWLEDGE",
    }
    held = square_dispute(base)
    assert held is not None
    assert (held.status, held.funds, held.provider_payment_id) == (
        D.NEEDS_RESPONSE,
        FundsMovement.WITHDRAWN,
        "sqpay_1",
    )
    inquiry = square_dispute({**base, "state": "INQUIRY_EVIDENCE_REQUIRED"})
    assert inquiry is not None
    assert (inquiry.inquiry, inquiry.funds) == (True, None)
    accepted = square_dispute({**base, "state": "ACCEPTED"})
    assert accepted is not None
    assert accepted.status is D.LOST
    closed = square_dispute({**base, "state": "INQUIRY_CLOSED"})
    assert closed is not None
    assert (closed.status, closed.inquiry) == (D.WON, True)
