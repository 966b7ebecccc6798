"""Provider webhooks: raw-body signatures, deduplication, never backwards."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from tests.http.conftest import AUTH, Api
from tests.unit import test_provider_webhooks as provider_vectors

from payment_adapters.sqlalchemy.tables import webhooks as webhooks_table
from payment_core import signing
from payment_core.testing import FakeProvider


async def three_ds_payment(api: Api) -> dict:
    payment = await api.create_payment()
    response = await api.client.post(
        f"/api/v1/payments/{payment['id']}/confirm",
        json={"payment_method": "pm_card_authenticationRequired"},
        headers=AUTH,
    )
    assert response.json()["status"] == "PROCESSING"
    return dict(response.json())


def delivery(api: Api, payment: dict, event: str, event_id: str, **when: int) -> tuple[bytes, dict]:
    status = event.rsplit(".", 1)[1]
    obj = api.provider.payment_intent_object(payment["provider_payment_id"], status=status)
    now = datetime.now(UTC) + timedelta(**when)
    return api.provider.build_webhook(event, obj, event_id=event_id, now=now)


async def test_a_signed_success_completes_a_3ds_payment_once(api: Api) -> None:
    payment = await three_ds_payment(api)
    body, headers = delivery(api, payment, "payment_intent.succeeded", "evt_ok_1")
    results = [
        await api.client.post("/api/v1/webhooks/fake", content=body, headers=headers)
        for _ in range(3)
    ]
    assert [r.status_code for r in results] == [200, 200, 200]
    assert [r.json() for r in results] == [
        {"received": True, "duplicate": False},
        {"received": True, "duplicate": True},
        {"received": True, "duplicate": True},
    ]
    got = await api.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert got.json()["status"] == "COMPLETED"
    records = await api.client.get(f"/api/v1/billing/booking/{payment['booking_id']}", headers=AUTH)
    assert [r["type"] for r in records.json()["items"]] == ["CHARGE"]


async def test_a_late_processing_event_does_not_move_it_back(api: Api) -> None:
    payment = await three_ds_payment(api)
    body, headers = delivery(api, payment, "payment_intent.succeeded", "evt_ok_2")
    await api.client.post("/api/v1/webhooks/fake", content=body, headers=headers)
    late, late_headers = delivery(api, payment, "payment_intent.processing", "evt_late_2")
    response = await api.client.post("/api/v1/webhooks/fake", content=late, headers=late_headers)
    assert response.status_code == 200
    got = await api.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert got.json()["status"] == "COMPLETED"


@pytest.mark.parametrize("case", ["forged", "stale", "future", "missing", "tampered", "garbage"])
async def test_a_bad_signature_is_400_and_changes_nothing(api: Api, case: str) -> None:
    payment = await three_ds_payment(api)
    shift = {"stale": -400, "future": 400}.get(case, 0)
    body, headers = delivery(api, payment, "payment_intent.succeeded", f"evt_{case}", seconds=shift)
    if case == "forged":
        t = int(datetime.now(UTC).timestamp())
        headers = {"Fake-Signature": signing.signature_header("whsec_forged", t, body)}
    elif case == "missing":
        headers = {}
    elif case == "tampered":
        body = body.replace(b"succeeded", b"succeeded ", 1)
    elif case == "garbage":
        headers = {"Fake-Signature": "t=abc,v1=zz"}
    response = await api.client.post("/api/v1/webhooks/fake", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    got = await api.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert got.json()["status"] == "PROCESSING"


@pytest.mark.parametrize("provider", ["acme", "stripe", "x" * 300])
async def test_an_unknown_or_unconfigured_provider_is_404(mem: Api, provider: str) -> None:
    response = await mem.client.post(f"/api/v1/webhooks/{provider}", content=b"{}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_a_signed_body_that_is_not_an_event_is_422(mem: Api) -> None:
    body = b'{"hello": "world"}'
    header = signing.signature_header("whsec_fake", int(datetime.now(UTC).timestamp()), body)
    response = await mem.client.post(
        "/api/v1/webhooks/fake", content=body, headers={"Fake-Signature": header}
    )
    assert response.status_code == 422


async def test_the_signature_is_checked_on_the_raw_bytes(mem: Api) -> None:
    """Re-serialising the JSON (spaces) breaks the signature: nothing parses before checking."""
    payment = await three_ds_payment(mem)
    body, headers = delivery(mem, payment, "payment_intent.succeeded", "evt_raw")
    spaced = body.replace(b'","', b'", "')
    response = await mem.client.post("/api/v1/webhooks/fake", content=spaced, headers=headers)
    assert response.status_code == 400


# ---------------------------------------------------------------------------- hostile bodies


async def stored_webhooks(api: Api) -> int:
    if api.runtime.harness is not None:
        return len(api.runtime.harness.store.webhooks)
    assert api.runtime.database is not None
    async with api.runtime.database.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(webhooks_table)) or 0)


def fake_signed(body: bytes) -> dict[str, str]:
    now = int(datetime.now(UTC).timestamp())
    return {"Fake-Signature": signing.signature_header("whsec_fake", now, body)}


def event_text(event_id: str, obj: str = "{}") -> str:
    return f'{{"id":{event_id},"type":"payment_intent.succeeded","data":{{"object":{obj}}}}}'


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (event_text('"evt_deep"', "[" * 5_000 + "]" * 5_000), 400, "malformed_json"),
        (event_text('"evt_\\ud800"'), 400, "malformed_json"),
        (event_text('"evt_1"', '{"note":"\\udc00"}'), 400, "malformed_json"),
        (event_text('"evt\\u0000nul"'), 422, "validation_error"),
        (event_text('"' + "e" * 256 + '"'), 422, "validation_error"),
        (event_text("42"), 422, "validation_error"),
        (event_text('"evt_1"', "[]"), 422, "validation_error"),
    ],
    ids=["deep", "surrogate id", "surrogate value", "nul id", "long id", "number id", "list"],
)
async def test_a_hostile_signed_body_is_a_4xx_problem_and_stores_nothing(
    api: Api, body: str, status: int, code: str
) -> None:
    raw = body.encode()
    response = await api.client.post("/api/v1/webhooks/fake", content=raw, headers=fake_signed(raw))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert await stored_webhooks(api) == 0


# ---------------------------------------------------------------------------- whose payment


async def test_a_fake_signed_event_never_settles_another_providers_payment(mem: Api) -> None:
    mem.runtime.services.deps.providers.register(
        FakeProvider(name="live", webhook_secrets=("whsec_live_endpoint_own",))
    )
    created = await mem.create_payment(provider="live")
    confirmed = await mem.client.post(
        f"/api/v1/payments/{created['id']}/confirm",
        json={"payment_method": "pm_card_authenticationRequired"},
        headers=AUTH,
    )
    payment = confirmed.json()
    for event, status in (
        ("succeeded", "succeeded"),
        ("payment_failed", "requires_payment_method"),
    ):
        obj = {
            "id": "pi_attacker",
            "object": "payment_intent",
            "amount": payment["amount"],
            "currency": payment["currency"].lower(),
            "status": status,
            "metadata": {"payment_id": payment["id"]},
            "last_payment_error": {"code": "card_declined", "message": "Call +1 555 0100"},
        }
        body, headers = mem.provider.build_webhook(
            f"payment_intent.{event}", obj, event_id=f"evt_forged_{event}", now=datetime.now(UTC)
        )
        response = await mem.client.post("/api/v1/webhooks/fake", content=body, headers=headers)
        assert response.status_code == 200
    got = (await mem.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)).json()
    assert (got["status"], got["provider_payment_id"], got["failure_message"]) == (
        "PROCESSING",
        payment["provider_payment_id"],
        None,
    )
    records = await mem.client.get(f"/api/v1/billing/booking/{payment['booking_id']}", headers=AUTH)
    assert records.json()["items"] == []
    metrics = (await mem.client.get("/metrics")).text
    assert 'webhook_mismatches_total{entity="payment",provider="fake"} 2.0' in metrics


async def test_in_production_the_fake_provider_has_no_webhook_route(
    make_api: Callable[..., Any],
) -> None:
    api = await make_api(
        "sqlite",
        environment="production",
        payment_provider="stripe",
        stripe_api_key="sk_test_production_route_0000",
        stripe_webhook_secret="whsec_production_endpoint_own",
    )
    assert "fake" not in api.runtime.services.deps.providers
    body = event_text('"evt_1"', '{"id":"pi_1","amount":1,"currency":"eur"}').encode()
    response = await api.client.post(
        "/api/v1/webhooks/fake", content=body, headers=fake_signed(body)
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# ---------------------------------------------------------------------------- what a webhook says


async def test_a_success_without_an_amount_is_a_counted_mismatch(api: Api) -> None:
    payment = await three_ds_payment(api)
    obj = api.provider.payment_intent_object(payment["provider_payment_id"])
    del obj["amount"], obj["currency"]
    body, headers = api.provider.build_webhook(
        "payment_intent.succeeded", obj, event_id="evt_no_amount", now=datetime.now(UTC)
    )
    response = await api.client.post("/api/v1/webhooks/fake", content=body, headers=headers)
    assert response.status_code == 200
    got = (await api.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)).json()
    assert (got["status"], got["failure_code"]) == ("PROCESSING", "provider_amount_mismatch")
    metrics = (await api.client.get("/metrics")).text
    assert 'provider_amount_mismatches_total{provider="fake"} 1.0' in metrics


async def test_a_card_number_in_a_failure_webhook_never_reaches_the_public_page(
    api: Api, pan: str
) -> None:
    payment = await three_ds_payment(api)
    obj = api.provider.payment_intent_object(
        payment["provider_payment_id"], status="requires_payment_method"
    )
    obj["last_payment_error"] = {"code": "card_declined", "message": f"Card {pan} was declined."}
    body, headers = api.provider.build_webhook(
        "payment_intent.payment_failed", obj, event_id="evt_pan", now=datetime.now(UTC)
    )
    await api.client.post("/api/v1/webhooks/fake", content=body, headers=headers)
    public = await api.client.get(f"/api/v1/payments/reference/{payment['reference']}")
    assert public.json()["failure_message"] == "Card [redacted] was declined."
    full = await api.client.get(f"/api/v1/payments/{payment['id']}", headers=AUTH)
    assert pan not in full.text


# ---------------------------------------------------------------------------- any signed body

# Any text, lone surrogates and control characters included.
_text = st.text(st.characters(exclude_categories=()), max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=16,
)
_ids = _text | st.integers() | st.none()


def _envelope(name: str, event_id: Any, obj: Any) -> dict[str, Any]:
    if name == "paypal":
        return {"id": event_id, "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": obj}
    if name == "square":
        return {"event_id": event_id, "type": "payment.updated", "data": {"object": obj}}
    kind = "payment_intent.succeeded" if name == "fake" else "refund.updated"
    return {"id": event_id, "type": kind, "data": {"object": obj}}


@pytest.fixture
async def every_route(
    make_api: Callable[..., Any],
) -> tuple[Api, dict[str, Callable[[bytes], dict[str, str]]]]:
    """The app on SQLite with all four providers, and how each signs a body now."""
    mem = await make_api("sqlite")
    real_now = datetime.now(UTC)
    key, pem = provider_vectors._key_and_cert(
        real_now - timedelta(days=1), real_now + timedelta(days=1)
    )
    registry = mem.runtime.services.deps.providers
    registry.register(provider_vectors.stripe_provider())
    registry.register(provider_vectors.square_provider())
    registry.register(provider_vectors.paypal_provider(provider_vectors.CertFetcher(pem)))

    def stripe(body: bytes) -> dict[str, str]:
        t = int(datetime.now(UTC).timestamp())
        v1 = provider_vectors.stripe_sig(provider_vectors.STRIPE_SECRET, t, body)
        return {"Stripe-Signature": f"t={t},v1={v1}"}

    signers: dict[str, Callable[[bytes], dict[str, str]]] = {
        "fake": fake_signed,
        "stripe": stripe,
        "square": lambda body: {
            "x-square-hmacsha256-signature": provider_vectors.square_sig(
                provider_vectors.SQUARE_KEY, provider_vectors.SQUARE_URL, body
            )
        },
        "paypal": lambda body: provider_vectors.paypal_headers(
            body, when=datetime.now(UTC), key=key
        ),
    }
    return mem, signers


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(["fake", "paypal", "square", "stripe"]),
    event_id=_ids,
    value=_json,
    raw=st.binary(max_size=300),
    depth=st.integers(min_value=0, max_value=6_000),
)
async def test_no_signed_body_ever_gets_a_5xx_on_any_route(
    every_route: tuple[Api, dict[str, Callable[[bytes], dict[str, str]]]],
    name: str,
    event_id: Any,
    value: Any,
    raw: bytes,
    depth: int,
) -> None:
    """Arbitrary JSON in a provider's envelope, arbitrary JSON, arbitrary bytes, nesting of any
    depth the body limit allows: each signed correctly, each answered 200 or a 4xx problem."""
    api, signers = every_route
    bodies = (
        json.dumps(_envelope(name, event_id, value)).encode(),
        json.dumps(value).encode(),
        raw,
        json.dumps(_envelope(name, "evt_deep", "NESTED"))
        .replace('"NESTED"', "[" * depth + "]" * depth)
        .encode(),
    )
    for body in bodies:
        response = await api.client.post(
            f"/api/v1/webhooks/{name}", content=body, headers=signers[name](body)
        )
        assert response.status_code in (200, 400, 422), response.text


@pytest.mark.parametrize("route", ["fake", "stripe", "paypal", "square"])
@pytest.mark.parametrize("value", [b"\xe9\xff", b"t=1,v1=\xe9", b"x" * 5_000, b" "])
async def test_a_garbage_signature_header_is_400_on_every_route(
    every_route: tuple[Api, dict[str, Callable[[bytes], dict[str, str]]]],
    route: str,
    value: bytes,
) -> None:
    api, signers = every_route
    body = b'{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{}}}'
    headers = dict.fromkeys(signers[route](body), value)
    response = await api.client.post(f"/api/v1/webhooks/{route}", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_signature"
