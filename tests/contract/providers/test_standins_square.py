"""The Square stand-in answers delayed capture, payment updates and cards on file as Square does.

What each reply and refusal should be is in docs/providers-research.md ("Square").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from provider_standins.clients import SquareHttp
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


def pay(api: SquareHttp, source: str = "pm_card_visa", **extra: Any) -> Any:
    body = {
        "source_id": source,
        "idempotency_key": key(),
        "amount_money": {"amount": 10000, "currency": "EUR"},
        "reference_id": "p-1",
        **extra,
    }
    return api.post("/v2/payments", body)


def held(api: SquareHttp, source: str = "pm_card_visa", **extra: Any) -> dict[str, Any]:
    reply = pay(api, source, autocomplete=False, **extra)
    assert reply.status_code == 200, reply.text
    return reply.json()["payment"]  # type: ignore[no-any-return]


def code(reply: Any) -> str:
    return reply.json()["errors"][0]["code"]  # type: ignore[no-any-return]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def signed(square: SquareStandIn, body: bytes, signature: str) -> bool:
    digest = hmac.new(
        square.signature_key.encode(), square.notification_url.encode() + body, hashlib.sha256
    ).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), signature)


# ---------------------------------------------------------------------------- delayed capture
def test_a_held_payment_is_approved_until_its_delay(api: SquareHttp) -> None:
    payment = held(api)
    assert (payment["status"], payment["card_details"]["status"]) == ("APPROVED", "AUTHORIZED")
    assert (payment["delay_duration"], payment["delay_action"]) == ("P7D", "CANCEL")
    delay = when(payment["delayed_until"]) - when(payment["created_at"])
    assert abs(delay - timedelta(days=7)) < timedelta(seconds=1)
    assert "EDIT_AMOUNT_UP" in payment["capabilities"]
    done = api.post(f"/v2/payments/{payment['id']}/complete", {})
    assert (done.json()["payment"]["status"], done.json()["payment"]["card_details"]["status"]) == (
        "COMPLETED",
        "CAPTURED",
    )
    assert code(api.post(f"/v2/payments/{payment['id']}/cancel")) == "BAD_REQUEST"


def test_delay_settings_only_for_a_held_payment_and_only_valid_ones(api: SquareHttp) -> None:
    assert code(pay(api, delay_duration="PT2H")) == "BAD_REQUEST"
    assert code(pay(api, autocomplete=False, delay_duration="two hours")) == "INVALID_VALUE"
    assert code(pay(api, autocomplete=False, delay_duration="P8D")) == "INVALID_VALUE"
    assert code(pay(api, autocomplete=False, delay_action="REFUND")) == "INVALID_VALUE"
    short = held(api, delay_duration="PT36H", delay_action="COMPLETE")
    assert when(short["delayed_until"]) - when(short["created_at"]) < timedelta(hours=37)


@pytest.mark.parametrize(("action", "status"), [("CANCEL", "CANCELED"), ("COMPLETE", "COMPLETED")])
def test_at_its_delay_square_applies_the_delay_action_and_says_so(
    square: SquareStandIn, api: SquareHttp, action: str, status: str
) -> None:
    payment = held(api, delay_action=action)
    square.advance(timedelta(days=7, seconds=1))
    assert api.get(f"/v2/payments/{payment['id']}").json()["payment"]["status"] == status
    [sent] = square.sent_of("payment.updated")
    assert signed(square, sent.body, sent.headers["x-square-hmacsha256-signature"])
    assert sent.json()["data"]["object"]["payment"]["status"] == status
    late = api.post(f"/v2/payments/{payment['id']}/complete", {})
    assert code(late) == "DELAYED_TRANSACTION_EXPIRED"


def test_a_partial_capture_is_an_update_down_then_complete(api: SquareHttp) -> None:
    payment = held(api)
    path = f"/v2/payments/{payment['id']}"
    updated = api.put(
        path,
        {
            "idempotency_key": key(),
            "payment": {"amount_money": {"amount": 8000, "currency": "EUR"}},
        },
    )
    body = updated.json()["payment"]
    assert (body["amount_money"]["amount"], body["approved_money"]["amount"]) == (8000, 10000)
    assert body["version_token"] != payment["version_token"]
    stale = api.post(f"{path}/complete", {"version_token": payment["version_token"]})
    assert stale.status_code == 409
    done = api.post(f"{path}/complete", {"version_token": body["version_token"]})
    assert done.json()["payment"]["amount_money"]["amount"] == 8000
    too_much = {"idempotency_key": key(), "payment_id": payment["id"]}
    too_much["amount_money"] = {"amount": 8001, "currency": "EUR"}
    assert code(api.post("/v2/refunds", too_much)) == "REFUND_AMOUNT_INVALID"


def test_an_increase_is_an_update_up_the_bank_may_decline(
    square: SquareStandIn, api: SquareHttp
) -> None:
    payment = held(api)
    path = f"/v2/payments/{payment['id']}"

    def to(amount: int, **extra: Any) -> Any:
        change = {"amount_money": {"amount": amount, "currency": "EUR"}, **extra}
        return api.put(path, {"idempotency_key": key(), "payment": change})

    grown = to(15000).json()["payment"]
    assert (grown["amount_money"]["amount"], grown["approved_money"]["amount"]) == (15000, 15000)
    square.increment_declines.add(payment["id"])
    declined = to(20000)
    assert (declined.json()["errors"][0]["category"], code(declined)) == (
        "PAYMENT_METHOD_ERROR",
        "GENERIC_DECLINE",
    )
    assert api.get(path).json()["payment"]["amount_money"]["amount"] == 15000
    assert to(9000, version_token="stale").status_code == 409
    other_currency = {"amount_money": {"amount": 100, "currency": "USD"}}
    assert code(api.put(path, {"idempotency_key": key(), "payment": other_currency})) == (
        "CURRENCY_MISMATCH"
    )
    status = api.put(path, {"idempotency_key": key(), "payment": {"status": "COMPLETED"}})
    assert code(status) == "BAD_REQUEST"
    assert code(api.put(path, {"payment": {"tip_money": {"amount": 1, "currency": "EUR"}}})) == (
        "BAD_REQUEST"
    )
    api.post(f"{path}/complete", {})
    assert code(to(16000)) == "BAD_REQUEST"  # only an APPROVED payment is updated


def test_fields_and_keys(square: SquareStandIn, api: SquareHttp) -> None:
    payment = held(api)
    odd = api.post(f"/v2/payments/{payment['id']}/complete", {"amount_money": {"amount": 1}})
    assert odd.status_code == 400
    body = {
        "source_id": "pm_card_visa",
        "idempotency_key": "same-key",
        "amount_money": {"amount": 500, "currency": "EUR"},
    }
    first = api.post("/v2/payments", body)
    assert api.post("/v2/payments", body).json() == first.json()
    body["amount_money"] = {"amount": 600, "currency": "EUR"}
    assert code(api.post("/v2/payments", body)) == "IDEMPOTENCY_KEY_REUSED"


# ---------------------------------------------------------------------------- cards on file
def customer(api: SquareHttp) -> str:
    assert code(api.post("/v2/customers", {"idempotency_key": key(), "note": "x"})) == "BAD_REQUEST"
    made = api.post("/v2/customers", {"idempotency_key": key(), "email_address": "g@example.test"})
    return str(made.json()["customer"]["id"])


def card(api: SquareHttp, owner: str, source: str = "pm_card_visa", **extra: Any) -> Any:
    body = {"idempotency_key": key(), "source_id": source, "card": {"customer_id": owner}, **extra}
    return api.post("/v2/cards", body)


def test_a_card_on_file_belongs_to_its_customer_and_pays_again(api: SquareHttp) -> None:
    owner = customer(api)
    first = pay(api).json()["payment"]
    saved = card(api, owner, first["id"]).json()["card"]  # the card of a payment, kept
    assert (saved["id"][:5], saved["enabled"], saved["last_4"]) == ("ccof:", True, "4242")
    assert api.get(f"/v2/cards?customer_id={owner}").json()["cards"] == [saved]
    assert code(pay(api, saved["id"])) == "BAD_REQUEST"  # customer_id is required
    other = customer(api)
    assert code(pay(api, saved["id"], customer_id=other)) == "CARD_MISMATCH"
    again = pay(api, saved["id"], customer_id=owner).json()["payment"]
    assert (again["status"], again["card_details"]["entry_method"]) == ("COMPLETED", "ON_FILE")
    disabled = api.post(f"/v2/cards/{saved['id']}/disable")
    assert disabled.json()["card"]["enabled"] is False
    assert api.post(f"/v2/cards/{saved['id']}/disable").status_code == 200
    assert code(pay(api, saved["id"], customer_id=owner)) == "INVALID_CARD"
    assert code(card(api, owner, card={"customer_id": owner, "pan": "4242"})) == "BAD_REQUEST"


@pytest.mark.parametrize(
    ("token", "refused"),
    [
        ("pm_card_offSessionAuthRequired", "CARD_DECLINED_VERIFICATION_REQUIRED"),
        ("pm_card_offSessionDeclined", "GENERIC_DECLINE"),
    ],
)
def test_a_card_on_file_charged_without_the_buyer(
    square: SquareStandIn, api: SquareHttp, token: str, refused: str
) -> None:
    owner = customer(api)
    assert pay(api, token).json()["payment"]["status"] == "COMPLETED"  # on-session: fine
    saved = card(api, owner, token).json()["card"]["id"]
    reply = pay(api, saved, customer_id=owner)
    assert (reply.json()["errors"][0]["category"], code(reply)) == ("PAYMENT_METHOD_ERROR", refused)
    assert reply.json()["payment"]["status"] == "FAILED"
    present = pay(api, saved, customer_id=owner, verification_token=square.verify_buyer())
    if token == "pm_card_offSessionAuthRequired":
        assert present.json()["payment"]["status"] == "COMPLETED"


def test_a_card_that_needs_verification_is_saved_only_verified(
    square: SquareStandIn, api: SquareHttp
) -> None:
    owner = customer(api)
    refused = card(api, owner, "pm_card_authenticationRequired")
    assert code(refused) == "CARD_DECLINED_VERIFICATION_REQUIRED"
    saved = card(
        api, owner, "pm_card_authenticationRequired", verification_token=square.verify_buyer()
    )
    assert saved.status_code == 200
