"""The PayPal stand-in answers authorizations, the vault and merchant-initiated charges as PayPal
does (Orders v2, Payments v2, Payment Method Tokens v3).

What each reply and refusal should be is in docs/providers-research.md ("PayPal").
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from provider_standins.clients import PayPalHttp
from provider_standins.paypal import PayPalStandIn

MIT = {"payment_initiator": "MERCHANT", "payment_type": "UNSCHEDULED", "usage": "SUBSEQUENT"}


@pytest.fixture
def paypal(paypal_standin: PayPalStandIn) -> Iterator[PayPalStandIn]:
    paypal_standin.reset()
    yield paypal_standin
    paypal_standin.reset()


@pytest.fixture
def api(paypal: PayPalStandIn) -> PayPalHttp:
    return PayPalHttp(paypal)


def order(api: PayPalHttp, intent: str = "AUTHORIZE", value: str = "100.00", **extra: Any) -> Any:
    body = {
        "intent": intent,
        "purchase_units": [
            {"amount": {"currency_code": "EUR", "value": value}, "custom_id": "p-1"}
        ],
        **extra,
    }
    return api.post("/v2/checkout/orders", body, key=f"create-{uuid.uuid4()}")


def authorized(api: PayPalHttp, card: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    made = order(api).json()
    reply = api.post(
        f"/v2/checkout/orders/{made['id']}/authorize",
        {"payment_source": {"card": card or {"vault_id": "pm_card_visa"}}},
        key=f"authorize-{made['id']}",
    )
    assert reply.status_code == 201, reply.text
    body = reply.json()
    return body["purchase_units"][0]["payments"]["authorizations"][0]["id"], body


def issue(reply: Any) -> str:
    return reply.json()["details"][0]["issue"]  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- authorizations
def test_an_authorize_order_holds_for_29_days(paypal: PayPalStandIn, api: PayPalHttp) -> None:
    auth_id, body = authorized(api)
    assert (body["intent"], body["status"]) == ("AUTHORIZE", "COMPLETED")
    auth = api.get(f"/v2/payments/authorizations/{auth_id}").json()
    assert (auth["status"], auth["amount"]) == (
        "CREATED",
        {"currency_code": "EUR", "value": "100.00"},
    )
    expires = datetime.fromisoformat(auth["expiration_time"].replace("Z", "+00:00"))
    assert abs((expires - paypal.clock.now() - timedelta(days=29)).total_seconds()) < 5
    assert {link["rel"] for link in auth["links"]} >= {"capture", "void", "reauthorize"}


def test_the_order_action_must_match_its_intent_and_run_once(api: PayPalHttp) -> None:
    capture_order = order(api, "CAPTURE").json()
    source = {"payment_source": {"card": {"vault_id": "pm_card_visa"}}}
    wrong = api.post(f"/v2/checkout/orders/{capture_order['id']}/authorize", source, key="a-1")
    assert issue(wrong) == "ACTION_DOES_NOT_MATCH_INTENT"
    _, body = authorized(api)
    twice = api.post(f"/v2/checkout/orders/{body['id']}/authorize", source, key="a-2")
    assert issue(twice) == "ORDER_ALREADY_AUTHORIZED"
    capture = api.post(f"/v2/checkout/orders/{body['id']}/capture", source, key="a-3")
    assert issue(capture) == "ACTION_DOES_NOT_MATCH_INTENT"


def test_captures_take_part_then_the_rest_and_never_more(api: PayPalHttp) -> None:
    auth_id, _ = authorized(api)
    path = f"/v2/payments/authorizations/{auth_id}/capture"
    first = api.post(path, {"amount": {"currency_code": "EUR", "value": "60.00"}}, key="c-1")
    assert (first.status_code, first.json()["final_capture"]) == (201, False)  # default false
    assert api.get(f"/v2/payments/authorizations/{auth_id}").json()["status"] == (
        "PARTIALLY_CAPTURED"
    )
    too_much = api.post(path, {"amount": {"currency_code": "EUR", "value": "40.01"}}, key="c-2")
    assert issue(too_much) == "MAX_CAPTURE_AMOUNT_EXCEEDED"
    rest = api.post(path, {}, key="c-3")
    assert rest.json()["amount"]["value"] == "40.00"
    assert api.get(f"/v2/payments/authorizations/{auth_id}").json()["status"] == "CAPTURED"
    assert issue(api.post(path, {}, key="c-4")) == "AUTHORIZATION_ALREADY_CAPTURED"
    refund = f"/v2/payments/captures/{first.json()['id']}/refund"
    over = api.post(refund, {"amount": {"currency_code": "EUR", "value": "60.01"}}, key="r-1")
    assert issue(over) == "REFUND_AMOUNT_EXCEEDED"
    assert api.post(refund, {}, key="r-2").json()["amount"]["value"] == "60.00"


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(min_value=1, max_value=6000), min_size=1, max_size=5))
def test_captures_never_take_more_than_the_authorization(
    paypal_standin: PayPalStandIn, amounts: list[int]
) -> None:
    paypal_standin.reset()
    api = PayPalHttp(paypal_standin)
    auth_id, _ = authorized(api)  # 100.00 EUR
    left = 10000
    for n, cents in enumerate(amounts):
        value = f"{cents // 100}.{cents % 100:02d}"
        reply = api.post(
            f"/v2/payments/authorizations/{auth_id}/capture",
            {"amount": {"currency_code": "EUR", "value": value}},
            key=f"p-{n}",
        )
        if cents <= left:
            assert reply.status_code == 201
            left -= cents
        else:
            assert issue(reply) == (
                "AUTHORIZATION_ALREADY_CAPTURED" if left == 0 else "MAX_CAPTURE_AMOUNT_EXCEEDED"
            )
    status = api.get(f"/v2/payments/authorizations/{auth_id}").json()["status"]
    expected = "CAPTURED" if left == 0 else "CREATED" if left == 10000 else "PARTIALLY_CAPTURED"
    assert status == expected
    assert paypal_standin.held[auth_id].captured == 10000 - left


def test_a_final_capture_releases_the_rest(api: PayPalHttp) -> None:
    auth_id, _ = authorized(api)
    path = f"/v2/payments/authorizations/{auth_id}"
    body = {"amount": {"currency_code": "EUR", "value": "30.00"}, "final_capture": True}
    assert api.post(f"{path}/capture", body, key="f-1").json()["final_capture"] is True
    assert api.get(path).json()["status"] == "CAPTURED"
    assert issue(api.post(f"{path}/void", key="f-2")) == "PREVIOUSLY_CAPTURED"


def test_void_takes_no_body_answers_204_and_nothing_is_captured_after(api: PayPalHttp) -> None:
    auth_id, _ = authorized(api)
    path = f"/v2/payments/authorizations/{auth_id}"
    assert api.post(f"{path}/void", {"reason": "x"}, key="v-0").status_code == 400
    voided = api.post(f"{path}/void", key="v-1")
    assert (voided.status_code, voided.content) == (204, b"")
    assert issue(api.post(f"{path}/capture", {}, key="v-2")) == "AUTHORIZATION_VOIDED"
    assert issue(api.post(f"{path}/void", key="v-3")) == "PREVIOUSLY_VOIDED"
    other, _ = authorized(api)
    shown = api.post(
        f"/v2/payments/authorizations/{other}/void",
        key="v-4",
        headers={"Prefer": "return=representation"},
    )
    assert (shown.status_code, shown.json()["status"]) == (200, "VOIDED")


def test_an_expired_authorization_cannot_be_captured(
    paypal: PayPalStandIn, api: PayPalHttp
) -> None:
    auth_id, _ = authorized(api)
    paypal.advance(timedelta(days=29, seconds=1))
    late = api.post(f"/v2/payments/authorizations/{auth_id}/capture", {}, key="e-1")
    assert issue(late) == "AUTHORIZATION_EXPIRED"


def test_only_a_paypal_account_authorization_is_reauthorized_after_its_honor_period(
    paypal: PayPalStandIn, api: PayPalHttp
) -> None:
    card_auth, _ = authorized(api)
    amount = {"amount": {"currency_code": "EUR", "value": "110.00"}}
    refused = api.post(f"/v2/payments/authorizations/{card_auth}/reauthorize", amount, key="ra-1")
    assert issue(refused) == "REAUTHORIZATION_NOT_SUPPORTED"
    wallet = order(api).json()
    paypal.approve(wallet["id"], capture=False)
    body = api.post(f"/v2/checkout/orders/{wallet['id']}/authorize", None, key="ra-2").json()
    wallet_auth = body["purchase_units"][0]["payments"]["authorizations"][0]["id"]
    path = f"/v2/payments/authorizations/{wallet_auth}/reauthorize"
    assert issue(api.post(path, amount, key="ra-3")) == "REAUTHORIZATION_NOT_SUPPORTED"
    paypal.advance(timedelta(days=4))
    over = {"amount": {"currency_code": "EUR", "value": "115.01"}}
    assert issue(api.post(path, over, key="ra-4")) == "TRANSACTION_REFUSED"
    fresh = api.post(path, amount, key="ra-5")
    assert (fresh.status_code, fresh.json()["amount"]["value"]) == (201, "110.00")
    assert fresh.json()["id"] != wallet_auth
    assert issue(api.post(path, amount, key="ra-6")) == "AUTHORIZATION_VOIDED"  # replaced


# ---------------------------------------------------------------------------- the wire
def test_fields_the_sdk_models_lack_are_refused(api: PayPalHttp) -> None:
    auth_id, _ = authorized(api)
    capture = api.post(f"/v2/payments/authorizations/{auth_id}/capture", {"final": True}, key="w-1")
    assert (capture.status_code, issue(capture)) == (400, "INVALID_PARAMETER_SYNTAX")
    stored = {"vault_id": "pm_card_visa", "stored_credential": {**MIT, "initiator": "MERCHANT"}}
    made = order(api, payment_source={"card": stored})
    assert made.status_code == 400
    one_time = {
        "vault_id": "pm_card_visa",
        "stored_credential": {**MIT, "payment_type": "ONE_TIME"},
    }
    assert issue(order(api, payment_source={"card": one_time})) == "INCOMPATIBLE_PARAMETER_VALUE"
    partial = {"vault_id": "pm_card_visa", "stored_credential": {"payment_initiator": "MERCHANT"}}
    assert issue(order(api, payment_source={"card": partial})) == "MISSING_REQUIRED_PARAMETER"
    vault = {"vault_id": "pm_card_visa", "attributes": {"vault": {"store": "ON_SUCCESS"}}}
    assert order(api, payment_source={"card": vault}).status_code == 400


def test_request_ids_single_step_orders_need_them_and_another_body_is_refused(
    paypal: PayPalStandIn, api: PayPalHttp
) -> None:
    body = {
        "intent": "CAPTURE",
        "purchase_units": [{"amount": {"currency_code": "EUR", "value": "5.00"}}],
        "payment_source": {"card": {"vault_id": "pm_card_visa"}},
    }
    assert issue(api.post("/v2/checkout/orders", body)) == "PAYPAL_REQUEST_ID_REQUIRED"
    first = api.post("/v2/checkout/orders", body, key="single-1")
    assert (first.status_code, first.json()["status"]) == (201, "COMPLETED")
    assert api.post("/v2/checkout/orders", body, key="single-1").json() == first.json()
    body["purchase_units"][0]["amount"]["value"] = "6.00"
    other = api.post("/v2/checkout/orders", body, key="single-1")
    assert issue(other) == "PAYPAL_REQUEST_ID_PREVIOUSLY_USED"
    assert paypal.conflicts == ["single-1"]


# ---------------------------------------------------------------------------- the vault
def saved(api: PayPalHttp, token: str = "pm_card_visa") -> str:
    card = {
        "vault_id": token,
        "attributes": {"vault": {"store_in_vault": "ON_SUCCESS"}, "customer": {"id": "guest42"}},
    }
    _, body = authorized(api, card)
    vault = body["payment_source"]["card"]["attributes"]["vault"]
    assert (vault["status"], vault["customer"]) == ("VAULTED", {"id": "guest42"})
    return str(vault["id"])


def test_a_card_saved_on_success_is_in_the_vault_and_pays_merchant_initiated(
    api: PayPalHttp,
) -> None:
    token = saved(api)
    shown = api.get(f"/v3/vault/payment-tokens/{token}").json()
    assert shown["payment_source"]["card"]["last_digits"] == "4242"
    listed = api.get("/v3/vault/payment-tokens?customer_id=guest42").json()["payment_tokens"]
    assert [t["id"] for t in listed] == [token]
    paid = order(
        api, "CAPTURE", payment_source={"card": {"vault_id": token, "stored_credential": MIT}}
    )
    capture = paid.json()["purchase_units"][0]["payments"]["captures"][0]
    assert (paid.status_code, capture["status"]) == (201, "COMPLETED")
    held = order(api, payment_source={"card": {"vault_id": token, "stored_credential": MIT}})
    assert held.json()["purchase_units"][0]["payments"]["authorizations"][0]["status"] == "CREATED"
    again = {"vault_id": token, "attributes": {"vault": {"store_in_vault": "ON_SUCCESS"}}}
    assert issue(order(api, payment_source={"card": again})) == "VAULT_INSTRUCTION_DUPLICATED"


def test_a_declined_card_is_not_saved(api: PayPalHttp) -> None:
    card = {
        "vault_id": "pm_card_chargeDeclinedInsufficientFunds",
        "attributes": {"vault": {"store_in_vault": "ON_SUCCESS"}},
    }
    _, body = authorized(api, card)
    assert body["purchase_units"][0]["payments"]["authorizations"][0]["status"] == "DENIED"
    assert "attributes" not in body["payment_source"]["card"]


@pytest.mark.parametrize(
    ("token", "expected"),
    [("pm_card_offSessionAuthRequired", "5650"), ("pm_card_offSessionDeclined", None)],
)
def test_merchant_initiated_charges_the_issuer_refuses(
    api: PayPalHttp, token: str, expected: str | None
) -> None:
    vaulted = saved(api, token)  # on-session: it completes
    reply = order(
        api, "CAPTURE", payment_source={"card": {"vault_id": vaulted, "stored_credential": MIT}}
    )
    if expected is None:
        assert (reply.status_code, issue(reply)) == (422, "INSTRUMENT_DECLINED")
        return
    capture = reply.json()["purchase_units"][0]["payments"]["captures"][0]
    assert capture["status"] == "DECLINED"
    assert capture["processor_response"]["response_code"] == expected


def test_a_deleted_token_is_gone_and_pays_no_more(api: PayPalHttp) -> None:
    token = saved(api)
    deleted = api.delete(f"/v3/vault/payment-tokens/{token}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert api.get(f"/v3/vault/payment-tokens/{token}").status_code == 404
    assert api.delete(f"/v3/vault/payment-tokens/{token}").status_code == 404
    paid = order(
        api, "CAPTURE", payment_source={"card": {"vault_id": token, "stored_credential": MIT}}
    )
    assert paid.status_code == 422
