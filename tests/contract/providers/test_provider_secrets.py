"""No API key, client secret, access token, webhook secret or card number ever appears in a log
line (every logger captured at DEBUG, the SDK's and httpx's included) or in an error message,
even when a provider quotes back what it was sent.

(Every other test in this directory makes the same log check at teardown: see ``kit_factory``.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from provider_standins.kits import KNOWN_PANS, Kit, PayPalKit, SquareKit, StripeKit

from payment_adapters.providers.paypal import PayPalProvider
from payment_adapters.providers.square import SquareProvider
from payment_adapters.providers.stripe import StripeProvider
from payment_core.errors import PaymentError, ProviderError, WebhookSignatureError
from payment_core.money import Money
from payment_core.ports import ConfirmPaymentRequest, CreatePaymentRequest, PaymentProvider

PAN = KNOWN_PANS[0]


def texts_of(error: BaseException) -> list[str]:
    texts = [str(error), repr(error), *map(str, error.args)]
    if isinstance(error, PaymentError):
        texts += [str(v) for v in vars(error).values()] if hasattr(error, "__dict__") else []
        texts += [str(getattr(error, f, "")) for f in ("message", "reason", "reason_code")]
    return texts


def assert_clean(texts: list[str], secrets: tuple[str, ...]) -> None:
    for text in texts:
        for needle in (*secrets, *KNOWN_PANS):
            assert needle not in text, f"{needle[:6]}… leaked into {text[:80]!r}"


async def create_then_confirm(provider: PaymentProvider) -> None:
    payment_id = uuid4()
    created = await provider.create_payment(
        CreatePaymentRequest(
            payment_id=payment_id, amount=Money.of(1000, "EUR"), idempotency_key="k-1"
        )
    )
    await provider.confirm_payment(
        ConfirmPaymentRequest(
            payment_id=payment_id,
            provider_payment_id=created.provider_payment_id,
            amount=Money.of(1000, "EUR"),
            payment_method="pm_card_visa",
            idempotency_key="c-1",
        )
    )


def with_wrong_credentials(kit: Kit) -> PaymentProvider:
    assert kit.standin is not None
    base = kit.standin.base_url
    if isinstance(kit, StripeKit):
        return StripeProvider(
            "sk_test_WRONGkey1234567890abcd", api_base=base, timeout=1, backoff=kit.backoff
        )
    if isinstance(kit, PayPalKit):
        return PayPalProvider(
            "wrong-client-id-0001",
            "wrong-client-secret-0001",
            api_base=base,
            timeout=1,
            backoff=kit.backoff,
        )
    assert isinstance(kit, SquareKit)
    return SquareProvider(
        "EAAAwrong-access-token-0001", api_base=base, timeout=1, backoff=kit.backoff
    )


async def confirm_with(kit: Kit, payment_method: str) -> ProviderError:
    payment_id = uuid4()
    created = await kit.provider.create_payment(
        CreatePaymentRequest(
            payment_id=payment_id, amount=Money.of(1000, "EUR"), idempotency_key=f"k-{payment_id}"
        )
    )
    with pytest.raises(ProviderError) as caught:
        await kit.provider.confirm_payment(
            ConfirmPaymentRequest(
                payment_id=payment_id,
                provider_payment_id=created.provider_payment_id,
                amount=Money.of(1000, "EUR"),
                payment_method=payment_method,
                idempotency_key=f"c-{payment_id}",
            )
        )
    return caught.value


@pytest.mark.parametrize("name", ["stripe", "paypal", "square"])
async def test_a_card_number_is_never_sent_to_a_provider(
    name: str, kit_factory: Callable[..., Kit], caplog: pytest.LogCaptureFixture
) -> None:
    kit = kit_factory(name)
    caplog.set_level(logging.DEBUG)

    error = await confirm_with(kit, PAN)

    assert getattr(error, "reason_code", None) == "raw_card_data_forbidden"
    assert kit.standin is not None
    assert not [r for r in kit.standin.requests if PAN in r.body.decode(errors="replace")]
    assert_clean(texts_of(error), kit.secrets)
    assert_clean([r.getMessage() for r in caplog.records], kit.secrets)


@pytest.mark.parametrize("name", ["stripe", "paypal", "square"])
async def test_a_secret_quoted_back_by_the_provider_is_in_no_error_and_no_log(
    name: str, kit_factory: Callable[..., Kit], caplog: pytest.LogCaptureFixture
) -> None:
    kit = kit_factory(name)
    caplog.set_level(logging.DEBUG)
    secret = kit.secrets[0]  # sent where a token belongs: the provider quotes it in its error

    error = await confirm_with(kit, secret)

    assert kit.standin is not None
    assert [r for r in kit.standin.requests if secret in r.body.decode(errors="replace")]
    assert_clean(texts_of(error), kit.secrets)
    assert_clean([r.getMessage() for r in caplog.records], kit.secrets)


@pytest.mark.parametrize("name", ["stripe", "paypal", "square"])
async def test_wrong_credentials_are_reported_without_the_credentials(
    name: str, kit_factory: Callable[..., Kit], caplog: pytest.LogCaptureFixture
) -> None:
    kit = kit_factory(name)
    caplog.set_level(logging.DEBUG)
    provider = with_wrong_credentials(kit)
    wrong = {
        "stripe": ("sk_test_WRONGkey1234567890abcd",),
        "paypal": ("wrong-client-id-0001", "wrong-client-secret-0001"),
        "square": ("EAAAwrong-access-token-0001",),
    }[name]
    try:
        with pytest.raises(ProviderError) as caught:
            await create_then_confirm(provider)
    finally:
        await provider.aclose()  # type: ignore[attr-defined]

    assert getattr(caught.value, "reason_code", None) == "authentication_failed"
    assert_clean(texts_of(caught.value), wrong + kit.secrets)
    assert_clean([r.getMessage() for r in caplog.records], wrong)


@pytest.mark.parametrize("name", ["stripe", "paypal", "square"])
async def test_a_refused_webhook_says_why_without_any_secret(
    name: str, kit_factory: Callable[..., Kit], caplog: pytest.LogCaptureFixture
) -> None:
    kit = kit_factory(name)
    caplog.set_level(logging.DEBUG)
    headers = {
        "Stripe-Signature": "t=1,v1=00",
        "x-square-hmacsha256-signature": "AAAA",
        "PAYPAL-TRANSMISSION-ID": "t",
        "PAYPAL-TRANSMISSION-TIME": "2026-01-01T12:00:00Z",
        "PAYPAL-TRANSMISSION-SIG": "AAAA",
        "PAYPAL-CERT-URL": "https://evil.example/cert.pem",
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    }
    with pytest.raises(WebhookSignatureError) as caught:
        kit.provider.parse_webhook(
            b'{"id": "x"}', headers, now=datetime(2026, 1, 1, 12, tzinfo=UTC)
        )

    assert_clean(texts_of(caught.value), kit.secrets)


async def test_the_stripe_sdk_logs_no_request_or_response_payload(
    kit_factory: Callable[..., Kit], caplog: pytest.LogCaptureFixture
) -> None:
    kit = kit_factory("stripe")
    caplog.set_level(logging.DEBUG)
    payment_id = uuid4()

    created = await kit.provider.create_payment(
        CreatePaymentRequest(
            payment_id=payment_id, amount=Money.of(1000, "EUR"), idempotency_key=f"k-{payment_id}"
        )
    )

    assert created.client_secret
    sdk_lines = [r.getMessage() for r in caplog.records if r.name == "stripe"]
    assert any("Post details" in line for line in sdk_lines)  # the SDK did log, scrubbed
    for line in sdk_lines:
        assert created.client_secret not in line
        assert str(payment_id) not in line
