"""The Stripe stand-in answers holds, saved cards and off-session charges as Stripe does.

Driven with plain HTTP, as docs.stripe.com/api shows the requests; what each reply and refusal
should be is in docs/providers-research.md ("Stripe").
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import stripe as stripe_sdk
from provider_standins.clients import StripeHttp
from provider_standins.stripe import StripeStandIn


@pytest.fixture
def stripe(stripe_standin: StripeStandIn) -> Iterator[StripeStandIn]:
    stripe_standin.reset()
    yield stripe_standin
    stripe_standin.reset()


@pytest.fixture
def api(stripe: StripeStandIn) -> StripeHttp:
    return StripeHttp(stripe)


def hold(api: StripeHttp, token: str = "pm_card_visa", **extra: Any) -> dict[str, Any]:
    reply = api.post(
        "/v1/payment_intents",
        {
            "amount": 10000,
            "currency": "eur",
            "capture_method": "manual",
            "payment_method": token,
            "confirm": True,
            **extra,
        },
    )
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def error_of(reply: Any) -> dict[str, Any]:
    return reply.json()["error"]  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- holds
def test_a_manual_intent_holds_until_captured_and_says_until_when(
    stripe: StripeStandIn, api: StripeHttp
) -> None:
    intent = hold(api, expand=["latest_charge"])
    assert intent["status"] == "requires_capture"
    assert (intent["amount_capturable"], intent["amount_received"]) == (10000, 0)
    card = intent["latest_charge"]["payment_method_details"]["card"]
    expected = stripe.clock.now() + timedelta(days=7)
    assert abs(card["capture_before"] - expected.timestamp()) < 5
    assert card["incremental_authorization"] == {"status": "unavailable"}
    assert stripe.intents[intent["id"]].charges == 0  # held, not taken


def test_capture_takes_part_of_the_hold_once_and_refunds_stop_at_what_was_taken(
    api: StripeHttp,
) -> None:
    intent = hold(api)
    path = f"/v1/payment_intents/{intent['id']}"
    too_much = api.post(f"{path}/capture", {"amount_to_capture": 10001})
    assert too_much.status_code == 400
    assert error_of(too_much)["code"] == "amount_too_large"
    captured = api.post(f"{path}/capture", {"amount_to_capture": 8000})
    assert captured.status_code == 200
    body = captured.json()
    assert (body["status"], body["amount_received"], body["amount_capturable"]) == (
        "succeeded",
        8000,
        0,
    )
    again = api.post(f"{path}/capture")
    assert again.status_code == 400
    assert error_of(again)["code"] == "payment_intent_unexpected_state"
    refund = api.post("/v1/refunds", {"payment_intent": intent["id"], "amount": 8001})
    assert error_of(refund)["code"] == "amount_too_large"
    assert api.post("/v1/refunds", {"payment_intent": intent["id"]}).json()["amount"] == 8000


def test_only_a_held_intent_can_be_captured_and_a_released_hold_cannot(api: StripeHttp) -> None:
    automatic = api.post(
        "/v1/payment_intents",
        {"amount": 500, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True},
    ).json()
    assert automatic["status"] == "succeeded"
    refused = api.post(f"/v1/payment_intents/{automatic['id']}/capture")
    assert error_of(refused)["code"] == "payment_intent_unexpected_state"
    intent = hold(api)
    released = api.post(
        f"/v1/payment_intents/{intent['id']}/cancel", {"cancellation_reason": "abandoned"}
    )
    assert (released.json()["status"], released.json()["amount_capturable"]) == ("canceled", 0)
    late = api.post(f"/v1/payment_intents/{intent['id']}/capture")
    assert error_of(late)["code"] == "payment_intent_unexpected_state"


def test_a_hold_past_its_capture_before_is_canceled_and_stripe_says_so(
    stripe: StripeStandIn, api: StripeHttp
) -> None:
    intent = hold(api)
    stripe.advance(timedelta(days=7, seconds=1))
    got = api.get(f"/v1/payment_intents/{intent['id']}").json()
    assert (got["status"], got["cancellation_reason"]) == ("canceled", "automatic")
    [sent] = stripe.sent_of("payment_intent.canceled")
    event = stripe_sdk.Webhook.construct_event(
        sent.body.decode(), sent.headers["Stripe-Signature"], stripe.webhook_secret
    )
    assert event["data"]["object"]["id"] == intent["id"]
    assert error_of(api.post(f"/v1/payment_intents/{intent['id']}/capture"))["code"] == (
        "payment_intent_unexpected_state"
    )


def test_increment_only_when_asked_for_at_creation_and_only_while_held(
    stripe: StripeStandIn, api: StripeHttp
) -> None:
    plain = hold(api)
    refused = api.post(
        f"/v1/payment_intents/{plain['id']}/increment_authorization", {"amount": 15000}
    )
    assert refused.status_code == 400
    incremental = hold(
        api,
        payment_method_options={"card": {"request_incremental_authorization": "if_available"}},
        expand=["latest_charge"],
    )
    card = incremental["latest_charge"]["payment_method_details"]["card"]
    assert card["incremental_authorization"] == {"status": "available"}
    path = f"/v1/payment_intents/{incremental['id']}/increment_authorization"
    assert api.post(path, {"amount": 9000}).status_code == 400  # not larger
    grown = api.post(path, {"amount": 15000}).json()
    assert (grown["amount"], grown["amount_capturable"]) == (15000, 15000)
    stripe.increment_declines.add(incremental["id"])
    declined = api.post(path, {"amount": 20000})
    assert declined.status_code == 402
    assert error_of(declined)["code"] == "card_declined"
    kept = api.get(f"/v1/payment_intents/{incremental['id']}").json()
    assert (kept["amount"], kept["amount_capturable"], kept["status"]) == (
        15000,
        15000,
        "requires_capture",
    )
    api.post(f"/v1/payment_intents/{incremental['id']}/capture")
    after = api.post(path, {"amount": 30000})
    assert error_of(after)["code"] == "payment_intent_unexpected_state"


def test_at_most_ten_increment_attempts(stripe: StripeStandIn, api: StripeHttp) -> None:
    intent = hold(
        api, payment_method_options={"card": {"request_incremental_authorization": "if_available"}}
    )
    path = f"/v1/payment_intents/{intent['id']}/increment_authorization"
    stripe.increment_declines.add("*")
    for attempt in range(10):
        assert api.post(path, {"amount": 11000 + attempt}).status_code == 402
    assert api.post(path, {"amount": 12000}).status_code == 400


# ---------------------------------------------------------------------------- the wire
@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/capture", {"amount": 100}, "amount"),
        (
            "/increment_authorization",
            {"amount": 20000, "amount_to_capture": 1},
            "amount_to_capture",
        ),
        ("/cancel", {"reason": "abandoned"}, "reason"),
    ],
)
def test_a_parameter_the_endpoint_lacks_is_refused(
    api: StripeHttp, path: str, params: dict[str, Any], param: str
) -> None:
    intent = hold(api)
    reply = api.post(f"/v1/payment_intents/{intent['id']}{path}", params)
    assert reply.status_code == 400
    assert (error_of(reply)["code"], error_of(reply)["param"]) == ("parameter_unknown", param)


def test_nested_parameters_and_their_values_are_checked_against_the_sdk(api: StripeHttp) -> None:
    base = {"amount": 100, "currency": "eur"}
    nested = api.post(
        "/v1/payment_intents",
        {**base, "payment_method_options": {"card": {"request_incremental": "if_available"}}},
    )
    assert error_of(nested)["param"] == "payment_method_options[card][request_incremental]"
    assert error_of(nested)["code"] == "parameter_unknown"
    wrong = api.post("/v1/payment_intents", {**base, "capture_method": "later"})
    assert (wrong.status_code, error_of(wrong)["param"]) == (400, "capture_method")
    off = api.post("/v1/payment_intents", {**base, "off_session": "sometimes", "confirm": True})
    assert error_of(off)["param"] == "off_session"


def test_a_key_reused_with_other_parameters_is_refused_and_the_same_request_replayed(
    stripe: StripeStandIn, api: StripeHttp
) -> None:
    intent = hold(api)
    path = f"/v1/payment_intents/{intent['id']}/capture"
    first = api.post(path, {"amount_to_capture": 4000}, key="capture-1")
    replay = api.post(path, {"amount_to_capture": 4000}, key="capture-1")
    assert replay.json() == first.json()
    other = api.post(path, {"amount_to_capture": 5000}, key="capture-1")
    assert (other.status_code, error_of(other)["type"]) == (400, "idempotency_error")
    assert stripe.conflicts == ["capture-1"]


# ---------------------------------------------------------------------------- saved cards
def save_card(api: StripeHttp, token: str) -> tuple[str, str]:
    customer = api.post("/v1/customers", {"email": "guest@example.test"}).json()["id"]
    intent = api.post(
        "/v1/payment_intents",
        {
            "amount": 2000,
            "currency": "eur",
            "customer": customer,
            "setup_future_usage": "off_session",
            "payment_method": token,
            "confirm": True,
        },
    ).json()
    assert intent["status"] == "succeeded"
    assert intent["payment_method"].startswith("pm_")
    assert intent["payment_method"] != token  # a test token makes a new PaymentMethod
    return customer, intent["payment_method"]


def off_session(api: StripeHttp, customer: str | None, method: str, **extra: Any) -> Any:
    return api.post(
        "/v1/payment_intents",
        {
            "amount": 3000,
            "currency": "eur",
            "payment_method": method,
            "off_session": True,
            "confirm": True,
            **({"customer": customer} if customer else {}),
            **extra,
        },
    )


def test_a_card_saved_during_a_payment_belongs_to_the_customer_and_pays_off_session(
    api: StripeHttp,
) -> None:
    customer, method = save_card(api, "pm_card_visa")
    assert api.get(f"/v1/payment_methods/{method}").json()["customer"] == customer
    listed = api.get(f"/v1/customers/{customer}/payment_methods").json()["data"]
    assert [m["id"] for m in listed] == [method]
    assert listed[0]["card"]["last4"] == "4242"
    paid = off_session(api, customer, method)
    assert paid.json()["status"] == "succeeded"
    held = off_session(api, customer, method, capture_method="manual")
    assert held.json()["status"] == "requires_capture"


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("pm_card_offSessionAuthRequired", "authentication_required"),
        ("pm_card_offSessionDeclined", "card_declined"),
        ("pm_card_authenticationRequired", "authentication_required"),
    ],
)
def test_off_session_charges_the_issuer_refuses(api: StripeHttp, token: str, code: str) -> None:
    if token == "pm_card_authenticationRequired":
        customer = api.post("/v1/customers", {"name": "Guest"}).json()["id"]
        method = api.post(f"/v1/payment_methods/{token}/attach", {"customer": customer}).json()[
            "id"
        ]
    else:
        customer, method = save_card(api, token)
    reply = off_session(api, customer, method)
    assert reply.status_code == 402
    error = error_of(reply)
    assert (error["type"], error["code"]) == ("card_error", code)
    assert error["payment_intent"]["status"] == "requires_payment_method"
    assert error["payment_intent"]["last_payment_error"]["code"] == code


def test_off_session_needs_confirm_the_right_customer_and_an_attached_method(
    api: StripeHttp,
) -> None:
    customer, method = save_card(api, "pm_card_visa")
    unconfirmed = api.post(
        "/v1/payment_intents",
        {"amount": 100, "currency": "eur", "customer": customer, "off_session": True},
    )
    assert error_of(unconfirmed)["param"] == "off_session"
    other = api.post("/v1/customers", {"name": "Someone else"}).json()["id"]
    assert error_of(off_session(api, other, method))["param"] == "payment_method"
    assert error_of(off_session(api, None, method))["param"] == "payment_method"
    detached = api.post(f"/v1/payment_methods/{method}/detach")
    assert (detached.status_code, detached.json()["customer"]) == (200, None)
    reuse = off_session(api, customer, method)
    assert error_of(reuse)["code"] == "payment_method_unexpected_state"
    again = api.post(f"/v1/payment_methods/{method}/detach")
    assert error_of(again)["code"] == "payment_method_unexpected_state"
    reattach = api.post(f"/v1/payment_methods/{method}/attach", {"customer": customer})
    assert error_of(reattach)["code"] == "payment_method_unexpected_state"
    assert api.get(f"/v1/customers/{customer}/payment_methods").json()["data"] == []


def test_unknown_customers_and_payment_methods_are_missing(api: StripeHttp) -> None:
    customer = api.post("/v1/customers", {"name": "Guest"}).json()["id"]
    missing = api.post("/v1/payment_methods/pm_nothing/attach", {"customer": customer})
    assert error_of(missing)["code"] == "resource_missing"
    unknown = api.post("/v1/payment_intents", {"amount": 1, "currency": "eur", "customer": "cus_x"})
    assert error_of(unknown)["code"] == "resource_missing"
