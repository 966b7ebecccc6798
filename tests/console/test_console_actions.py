"""Console actions: confirmed, once per form whatever the clicks, through the use cases."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime

from tests.console.conftest import AUTH, hidden

from payment_http.auth import key_id
from payment_http.console._actions import FLASH_COOKIE


async def refunds_of(operator, payment_id):
    response = await operator.api.client.get(f"/api/v1/refunds/payment/{payment_id}", headers=AUTH)
    return response.json()["items"]


async def review(operator, payment_id, amount="25.00", reason="requested_by_customer"):
    form = await operator.refund_form(payment_id)
    page = await operator.post(
        f"/console/payments/{payment_id}/refund/review",
        {**form, "amount": amount, "reason": reason},
    )
    return form, page


async def test_a_part_refund_is_reviewed_then_made_once(operator_on):
    payment = await operator_on.payment()
    form, page = await review(operator_on, payment["id"])
    assert page.status_code == 200
    assert "Confirm the refund" in page.text
    assert "EUR 25.00" in page.text
    assert await refunds_of(operator_on, payment["id"]) == []  # nothing before confirming
    done = await operator_on.post(
        f"/console/payments/{payment['id']}/refund",
        {
            "csrf_token": form["csrf_token"],
            "form_key": hidden(page.text, "form_key"),
            "amount": hidden(page.text, "amount"),
            "reason": hidden(page.text, "reason"),
        },
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/payments/{payment['id']}"
    refunds = await refunds_of(operator_on, payment["id"])
    assert [(r["amount"], r["status"]) for r in refunds] == [(2500, "COMPLETED")]
    shown = await operator_on.get(done.headers["location"])
    assert f"Refund {refunds[0]['reference']} of EUR 25.00: COMPLETED." in shown.text
    assert refunds[0]["reference"] in shown.text
    assert FLASH_COOKIE in shown.headers.get("set-cookie", "")  # the notice is shown once


async def confirm_fields(page):
    return {
        name: hidden(page.text, name) for name in ("csrf_token", "form_key", "amount", "reason")
    }


async def test_a_double_submission_refunds_once(operator_on):
    payment = await operator_on.payment()
    _, page = await review(operator_on, payment["id"], amount="10.00")
    fields = await confirm_fields(page)
    path = f"/console/payments/{payment['id']}/refund"
    first, second = await asyncio.gather(
        operator_on.post(path, fields), operator_on.post(path, fields)
    )
    again = await operator_on.post(path, fields)  # and a reload of the result
    assert first.status_code == second.status_code == again.status_code == 303
    refunds = await refunds_of(operator_on, payment["id"])
    assert [r["amount"] for r in refunds] == [1000]


async def test_the_whole_remainder_is_refunded_when_no_amount_is_given(operator):
    payment = await operator.payment()
    _, page = await review(operator, payment["id"], amount="")
    assert "all that remains" in page.text
    await operator.post(f"/console/payments/{payment['id']}/refund", await confirm_fields(page))
    refunds = await refunds_of(operator, payment["id"])
    assert [r["amount"] for r in refunds] == [12500]


async def test_a_refund_over_what_remains_is_refused_in_review(operator):
    payment = await operator.payment()
    _, page = await review(operator, payment["id"], amount="125.01")
    assert page.status_code == 422
    assert "at most EUR 125.00" in page.text
    _, page = await review(operator, payment["id"], amount="1,5")
    assert page.status_code == 422
    assert "a plain amount in EUR" in page.text


async def test_a_refund_the_use_case_refuses_is_told_and_not_repeated(operator):
    payment = await operator.payment()
    _, page = await review(operator, payment["id"], amount="100.00")
    fields = await confirm_fields(page)
    other = await operator.api.client.post(
        "/api/v1/refunds", json={"payment_id": payment["id"], "amount": 5000}, headers=AUTH
    )
    assert other.status_code == 201
    done = await operator.post(f"/console/payments/{payment['id']}/refund", fields)
    shown = await operator.get(done.headers["location"])
    assert "refund_exceeds_refundable" in shown.text
    assert [r["amount"] for r in await refunds_of(operator, payment["id"])] == [5000]


async def test_an_action_without_its_csrf_token_does_nothing(operator):
    payment = await operator.payment()
    _, page = await review(operator, payment["id"])
    fields = {**(await confirm_fields(page)), "csrf_token": "forged"}
    response = await operator.post(f"/console/payments/{payment['id']}/refund", fields)
    assert response.status_code == 403
    assert await refunds_of(operator, payment["id"]) == []


async def test_the_same_form_with_other_values_is_refused(operator):
    payment = await operator.payment()
    _, page = await review(operator, payment["id"], amount="10.00")
    fields = await confirm_fields(page)
    path = f"/console/payments/{payment['id']}/refund"
    await operator.post(path, fields)
    changed = await operator.post(path, {**fields, "amount": "2000"})
    shown = await operator.get(changed.headers["location"])
    assert "already submitted with other values" in shown.text
    assert [r["amount"] for r in await refunds_of(operator, payment["id"])] == [1000]


async def test_a_pending_payment_is_cancelled_after_confirmation(operator_on):
    payment = await operator_on.payment(method="")
    page = await operator_on.get(f"/console/payments/{payment['id']}/cancel")
    assert "Cancel the payment" in page.text
    fields = {n: hidden(page.text, n) for n in ("csrf_token", "form_key")}
    path = f"/console/payments/{payment['id']}/cancel"
    await asyncio.gather(operator_on.post(path, fields), operator_on.post(path, fields))
    shown = await operator_on.api.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert shown.json()["status"] == "CANCELLED"


async def test_a_waiting_refund_is_retried_now(operator_on):
    payment = await operator_on.payment("pm_card_refundFail")
    await operator_on.api.client.post(
        "/api/v1/refunds", json={"payment_id": payment["id"], "amount": 1000}, headers=AUTH
    )
    (refund,) = await refunds_of(operator_on, payment["id"])
    assert refund["status"] == "PENDING"
    page = await operator_on.get(f"/console/refunds/{refund['id']}/retry")
    fields = {n: hidden(page.text, n) for n in ("csrf_token", "form_key")}
    path = f"/console/refunds/{refund['id']}/retry"
    await asyncio.gather(operator_on.post(path, fields), operator_on.post(path, fields))
    (after,) = await refunds_of(operator_on, payment["id"])
    assert after["attempts"] == refund["attempts"] + 1  # one attempt for two clicks


async def test_a_stored_webhook_is_replayed(operator_on):
    payment = await operator_on.payment("pm_card_authenticationRequired")
    provider = operator_on.api.provider
    body, headers = provider.build_webhook(
        "payment_intent.succeeded",
        provider.payment_intent_object(payment["provider_payment_id"]),
        event_id="evt_console_replay",
        now=datetime.now(UTC),
    )
    delivered = await operator_on.api.client.post(
        "/api/v1/webhooks/fake", content=body, headers=headers
    )
    assert delivered.status_code == 200, delivered.text
    listing = await operator_on.get("/console/webhooks")
    assert "payment_intent.succeeded" in listing.text
    assert f"/console/payments/{payment['id']}" in listing.text  # it names our payment
    webhook_id = re.search(r"/console/webhooks/([0-9a-f-]+)/replay", listing.text).group(1)
    page = await operator_on.get(f"/console/webhooks/{webhook_id}/replay")
    fields = {n: hidden(page.text, n) for n in ("csrf_token", "form_key")}
    done = await operator_on.post(f"/console/webhooks/{webhook_id}/replay", fields)
    shown = await operator_on.get(done.headers["location"])
    assert "replayed: unchanged" in shown.text


async def test_actions_are_logged_with_the_key_id_and_never_the_key(operator, json_logs):
    payment = await operator.payment()
    _, page = await review(operator, payment["id"], amount="1.00")
    await operator.post(f"/console/payments/{payment['id']}/refund", await confirm_fields(page))
    captured = json_logs.readouterr()
    lines = [
        json.loads(line)
        for line in (captured.err + captured.out).splitlines()
        if line.startswith("{") and "console action" in line
    ]
    assert lines
    assert lines[0]["key_id"] == key_id("test-key-1")
    assert lines[0]["action"] == "refund"
    assert "test-key-1" not in captured.err + captured.out


async def hold(operator) -> dict:
    """A payment holding EUR 125.00 (capture_method=manual, confirmed at once)."""
    return await operator.payment(method="", capture_method="manual", confirm=True)


async def test_the_hold_actions_are_on_now_that_holds_are_built(operator):
    from payment_http.console import build_console  # noqa: PLC0415

    assert build_console(operator.api.runtime).capabilities.holds
    payment = await hold(operator)
    page = await operator.get(f"/console/payments/{payment['id']}")
    assert "Capture…" in page.text
    assert "Release hold…" in page.text
    assert "EUR 125.00 held until" in page.text


async def test_a_hold_is_captured_after_confirmation_once(operator_on):
    payment = await hold(operator_on)
    page = await operator_on.get(f"/console/payments/{payment['id']}/capture")
    assert "Capture the hold" in page.text
    assert "Capture EUR 125.00" in page.text
    fields = {n: hidden(page.text, n) for n in ("csrf_token", "form_key")}
    path = f"/console/payments/{payment['id']}/capture"
    first, second = await asyncio.gather(
        operator_on.post(path, fields), operator_on.post(path, fields)
    )
    assert first.status_code == second.status_code == 303
    shown = await operator_on.api.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert (shown.json()["status"], shown.json()["amount_captured"]) == ("COMPLETED", 12500)
    captures = [c for c in operator_on.api.provider.calls if c[0] == "capture_payment"]
    assert len(captures) == 1
    notice = await operator_on.get(first.headers["location"])
    assert "COMPLETED: EUR 125.00 taken." in notice.text


async def test_a_hold_is_released_after_confirmation(operator_on):
    payment = await hold(operator_on)
    page = await operator_on.get(f"/console/payments/{payment['id']}/cancel")
    assert "Release the hold" in page.text
    fields = {n: hidden(page.text, n) for n in ("csrf_token", "form_key")}
    await operator_on.post(f"/console/payments/{payment['id']}/cancel", fields)
    shown = await operator_on.api.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert (shown.json()["status"], shown.json()["amount_capturable"]) == ("CANCELLED", 0)


async def test_capturing_a_payment_that_holds_nothing_is_told_not_done(operator):
    payment = await operator.payment()
    page = await operator.get(f"/console/payments/{payment['id']}/capture")
    fields = {n: hidden(page.text, n) for n in ("csrf_token", "form_key")}
    done = await operator.post(f"/console/payments/{payment['id']}/capture", fields)
    shown = await operator.get(done.headers["location"])
    assert "invalid_state_transition" in shown.text
    assert not [c for c in operator.api.provider.calls if c[0] == "capture_payment"]
