"""Disputes in the console: listed with their deadline where a person looks, shown on their
payment, and answered with the evidence form: reviewed, then saved or submitted once,
whatever the clicks, through the API's use case."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from tests.console.conftest import hidden
from tests.http.conftest import AUTH


async def disputed(operator: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    operator.api.provider.dispute_delay = timedelta(milliseconds=20)
    payment = await operator.payment("pm_card_createDispute")
    for _ in range(200):
        listed = await operator.api.client.get(
            f"/api/v1/disputes/payment/{payment['id']}", headers=AUTH
        )
        items = listed.json()["items"]
        if items and items[0]["funds_withdrawn"]:
            return payment, items[0]
        await asyncio.sleep(0.02)
    raise AssertionError("no dispute arrived")


async def test_a_dispute_is_listed_with_its_deadline_where_a_person_looks(operator_on) -> None:
    payment, dispute = await disputed(operator_on)
    listed = await operator_on.get("/console/disputes")
    assert listed.status_code == 200
    assert dispute["provider_dispute_id"] in listed.text
    assert "NEEDS_RESPONSE" in listed.text
    assert "EUR 125.00" in listed.text
    attention = await operator_on.get("/console/attention")
    assert f"/console/disputes/{dispute['id']}" in attention.text
    shown = await operator_on.get(f"/console/payments/{payment['id']}")
    assert f"/console/disputes/{dispute['id']}" in shown.text
    assert "Dispute opened by the guest" in shown.text  # its timeline
    assert "CHARGEBACK" in shown.text  # its billing records
    everything = await operator_on.get("/console/disputes?status=all")
    assert dispute["provider_dispute_id"] in everything.text
    won = await operator_on.get("/console/disputes?status=WON")
    assert dispute["provider_dispute_id"] not in won.text
    overview = await operator_on.get("/console")
    assert "Disputes opened per day" in overview.text
    assert "1 opened: 1 NEEDS_RESPONSE, 0 UNDER_REVIEW, 0 WON, 0 LOST." in overview.text


async def test_evidence_is_reviewed_then_submitted_once(operator_on) -> None:
    _, dispute = await disputed(operator_on)
    path = f"/console/disputes/{dispute['id']}"
    form_page = await operator_on.get(path)
    assert form_page.status_code == 200
    assert 'id="evidence-form"' in form_page.text
    fields = {n: hidden(form_page.text, n) for n in ("csrf_token", "form_key")}
    review = await operator_on.post(
        f"{path}/evidence/review",
        {
            **fields,
            "evidence_customer_name": "Ana Lima",
            "evidence_uncategorized_text": "winning_evidence",
            "submit": "yes",
        },
    )
    assert review.status_code == 200, review.text
    assert "Submit the evidence" in review.text
    assert "Submit to fake" in review.text
    confirm = {
        n: hidden(review.text, n)
        for n in (
            "csrf_token",
            "form_key",
            "submit",
            "evidence_customer_name",
            "evidence_uncategorized_text",
        )
    }
    first, second = await asyncio.gather(
        operator_on.post(f"{path}/evidence", confirm),
        operator_on.post(f"{path}/evidence", confirm),
    )
    assert first.status_code == second.status_code == 303
    submissions = [c for c in operator_on.api.provider.calls if c[0] == "submit_dispute_evidence"]
    assert len(submissions) == 1
    notice = await operator_on.get(first.headers["location"])
    assert "Evidence submitted" in notice.text
    assert 'id="evidence-form"' not in notice.text
    assert "Ana Lima" in notice.text
    shown = await operator_on.api.client.get(f"/api/v1/disputes/{dispute['id']}", headers=AUTH)
    assert shown.json()["evidence_submitted_at"] is not None
    assert shown.json()["evidence"]["customer_name"] == "Ana Lima"


async def test_evidence_is_saved_without_submitting(operator) -> None:
    _, dispute = await disputed(operator)
    path = f"/console/disputes/{dispute['id']}"
    page = await operator.get(path)
    fields = {n: hidden(page.text, n) for n in ("csrf_token", "form_key")}
    review = await operator.post(
        f"{path}/evidence/review", {**fields, "evidence_product_description": "Two nights"}
    )
    assert "Save the evidence" in review.text
    confirm = {
        n: hidden(review.text, n)
        for n in ("csrf_token", "form_key", "submit", "evidence_product_description")
    }
    done = await operator.post(f"{path}/evidence", confirm)
    assert done.status_code == 303
    shown = await operator.api.client.get(f"/api/v1/disputes/{dispute['id']}", headers=AUTH)
    assert shown.json()["evidence"]["product_description"] == "Two nights"
    assert shown.json()["status"] == "NEEDS_RESPONSE"
    assert not [c for c in operator.api.provider.calls if c[0] == "submit_dispute_evidence"]


async def test_a_stale_form_or_an_unknown_dispute_does_nothing(operator) -> None:
    _, dispute = await disputed(operator)
    path = f"/console/disputes/{dispute['id']}"
    forged = await operator.post(
        f"{path}/evidence", {"csrf_token": "nope", "form_key": "a" * 24, "submit": "yes"}
    )
    assert forged.status_code == 403
    assert not [c for c in operator.api.provider.calls if c[0] == "submit_dispute_evidence"]
    missing = await operator.get("/console/disputes/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    malformed = await operator.get("/console/disputes/nope")
    assert malformed.status_code == 404
