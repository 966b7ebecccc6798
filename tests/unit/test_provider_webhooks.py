"""Webhook verification of the provider adapters, with known vectors.

Signatures are computed here independently of the code under test (``hmac``, ``zlib`` and
``cryptography`` directly), and two are pinned as literals so that a change of scheme shows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import zlib
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from payment_adapters.providers.paypal import PayPalProvider
from payment_adapters.providers.square import SquareProvider
from payment_adapters.providers.stripe import StripeProvider
from payment_core.errors import ValidationError, WebhookSignatureError
from payment_core.money import Money
from payment_core.ports import PaymentProvider, WebhookEvent, WebhookKind
from payment_core.testing import SettableClock, build_in_memory

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
OUR_ID = UUID("6f1c2b1e-8a7d-4e3f-9b2a-0c5d4e3f2a1b")

# ---------------------------------------------------------------------------- Stripe

STRIPE_SECRET = "whsec_vector_secret"
STRIPE_BODY = (
    b'{"id":"evt_1Vector","object":"event","type":"payment_intent.succeeded",'
    b'"created":1767268800,"data":{"object":{"id":"pi_1Vector","object":"payment_intent",'
    b'"amount":12500,"currency":"eur","status":"succeeded",'
    b'"metadata":{"payment_id":"6f1c2b1e-8a7d-4e3f-9b2a-0c5d4e3f2a1b"}}}}'
)
STRIPE_VECTOR = "cda6b1267af79441beed167905b6b28f653b0679fde09cf3fb3aa0fd07b85abd"


def stripe_sig(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def stripe_provider(*secrets: str) -> StripeProvider:
    return StripeProvider(
        "sk_test_unit_never_used_0000", webhook_secrets=secrets or (STRIPE_SECRET,)
    )


def test_the_stripe_vector_is_hmac_sha256_of_timestamp_dot_body() -> None:
    assert stripe_sig(STRIPE_SECRET, T, STRIPE_BODY) == STRIPE_VECTOR


def test_stripe_accepts_its_known_vector_and_translates_the_event() -> None:
    event = stripe_provider().parse_webhook(
        STRIPE_BODY, {"Stripe-Signature": f"t={T},v1={STRIPE_VECTOR}"}, now=NOW
    )

    assert event.id == "evt_1Vector"
    assert event.kind is WebhookKind.PAYMENT_SUCCEEDED
    assert event.provider_payment_id == "pi_1Vector"
    assert event.payment_id == OUR_ID
    assert event.amount == Money.of(12500, "EUR")


def test_stripe_header_name_is_case_insensitive() -> None:
    event = stripe_provider().parse_webhook(
        STRIPE_BODY, {"stripe-signature": f"t={T},v1={STRIPE_VECTOR}"}, now=NOW
    )
    assert event.id == "evt_1Vector"


def test_stripe_accepts_any_matching_v1_among_several() -> None:
    header = f"t={T},v1={'0' * 64},v1={STRIPE_VECTOR}"
    assert stripe_provider().parse_webhook(STRIPE_BODY, {"Stripe-Signature": header}, now=NOW)


def test_stripe_accepts_the_old_secret_while_it_rotates() -> None:
    old_sig = stripe_sig("whsec_old_one", T, STRIPE_BODY)
    provider = stripe_provider("whsec_new_one", "whsec_old_one")
    assert provider.parse_webhook(STRIPE_BODY, {"Stripe-Signature": f"t={T},v1={old_sig}"}, now=NOW)


@pytest.mark.parametrize("offset", [-300, 300])
def test_stripe_accepts_a_timestamp_at_the_edge_of_the_tolerance(offset: int) -> None:
    sig = stripe_sig(STRIPE_SECRET, T + offset, STRIPE_BODY)
    header = {"Stripe-Signature": f"t={T + offset},v1={sig}"}
    assert stripe_provider().parse_webhook(STRIPE_BODY, header, now=NOW)


@pytest.mark.parametrize(
    ("case", "header", "body"),
    [
        ("one byte changed", f"t={T},v1={STRIPE_VECTOR}", STRIPE_BODY.replace(b"12500", b"12501")),
        ("one byte added", f"t={T},v1={STRIPE_VECTOR}", STRIPE_BODY + b" "),
        ("wrong secret", f"t={T},v1={stripe_sig('whsec_wrong', T, STRIPE_BODY)}", STRIPE_BODY),
        ("stale", f"t={T - 301},v1={stripe_sig(STRIPE_SECRET, T - 301, STRIPE_BODY)}", STRIPE_BODY),
        (
            "future",
            f"t={T + 301},v1={stripe_sig(STRIPE_SECRET, T + 301, STRIPE_BODY)}",
            STRIPE_BODY,
        ),
        ("other timestamp", f"t={T + 1},v1={STRIPE_VECTOR}", STRIPE_BODY),
        ("no v1", f"t={T}", STRIPE_BODY),
        ("v0 only", f"t={T},v0={STRIPE_VECTOR}", STRIPE_BODY),
        ("garbage", "nonsense", STRIPE_BODY),
    ],
)
def test_stripe_refuses_a_bad_signature(case: str, header: str, body: bytes) -> None:
    with pytest.raises(WebhookSignatureError):
        stripe_provider().parse_webhook(body, {"Stripe-Signature": header}, now=NOW)


def test_stripe_refuses_a_missing_header_and_an_unconfigured_secret() -> None:
    with pytest.raises(WebhookSignatureError):
        stripe_provider().parse_webhook(STRIPE_BODY, {}, now=NOW)
    unconfigured = StripeProvider("sk_test_unit_never_used_0000")
    with pytest.raises(WebhookSignatureError):
        unconfigured.parse_webhook(
            STRIPE_BODY, {"Stripe-Signature": f"t={T},v1={STRIPE_VECTOR}"}, now=NOW
        )


def _stripe_event(event_type: str, obj: dict[str, object]) -> bytes:
    return json.dumps(
        {"id": "evt_x", "type": event_type, "created": T, "data": {"object": obj}}
    ).encode()


@pytest.mark.parametrize(
    ("event_type", "obj", "kind", "code"),
    [
        (
            "payment_intent.payment_failed",
            {
                "id": "pi_1",
                "amount": 100,
                "currency": "eur",
                "status": "requires_payment_method",
                "last_payment_error": {"code": "card_declined", "decline_code": "generic_decline"},
            },
            WebhookKind.PAYMENT_FAILED,
            "card_declined",
        ),
        (
            "payment_intent.payment_failed",
            {
                "id": "pi_1",
                "amount": 100,
                "currency": "eur",
                "last_payment_error": {
                    "code": "card_declined",
                    "decline_code": "insufficient_funds",
                },
            },
            WebhookKind.PAYMENT_FAILED,
            "insufficient_funds",
        ),
        (
            "charge.refund.updated",
            {
                "id": "re_1",
                "object": "refund",
                "amount": 100,
                "currency": "eur",
                "status": "succeeded",
                "payment_intent": "pi_1",
            },
            WebhookKind.REFUND_SUCCEEDED,
            None,
        ),
        (
            "refund.failed",
            {
                "id": "re_1",
                "object": "refund",
                "amount": 100,
                "currency": "eur",
                "status": "failed",
                "failure_reason": "expired_or_canceled_card",
                "payment_intent": "pi_1",
            },
            WebhookKind.REFUND_FAILED,
            "expired_or_canceled_card",
        ),
        (
            "refund.updated",
            {
                "id": "re_1",
                "object": "refund",
                "amount": 100,
                "currency": "eur",
                "status": "canceled",
                "payment_intent": "pi_1",
            },
            WebhookKind.REFUND_FAILED,
            "canceled",
        ),
        ("customer.created", {"id": "cus_1"}, WebhookKind.IGNORED, None),
    ],
)
def test_stripe_events_translate_to_our_kinds(
    event_type: str, obj: dict[str, object], kind: WebhookKind, code: str | None
) -> None:
    event = stripe_provider().translate_webhook(_stripe_event(event_type, obj))
    assert event.kind is kind
    assert event.failure_code == code


def test_stripe_translate_refuses_a_body_that_is_not_an_event() -> None:
    with pytest.raises(ValidationError):
        stripe_provider().translate_webhook(b"[1, 2]")


# ---------------------------------------------------------------------------- Square

SQUARE_KEY = "sq-vector-signature-key"
SQUARE_URL = "https://payments.example.test/api/v1/webhooks/square"
SQUARE_BODY = (
    b'{"merchant_id":"MLVECTOR","type":"payment.updated",'
    b'"event_id":"2f1a6c3e-0b7d-4c1a-9e8f-5d4c3b2a1f0e","created_at":"2026-01-01T12:00:00Z",'
    b'"data":{"type":"payment","id":"sqVector1","object":{"payment":{"id":"sqVector1",'
    b'"status":"COMPLETED","amount_money":{"amount":12500,"currency":"EUR"},'
    b'"reference_id":"6f1c2b1e-8a7d-4e3f-9b2a-0c5d4e3f2a1b"}}}}'
)
SQUARE_VECTOR = "IfZ7SeV1k5R3AO0qYMwjCKUOubtm/eIIQSewHTV4ST0="


def square_sig(key: str, url: str, body: bytes) -> str:
    return base64.b64encode(
        hmac.new(key.encode(), url.encode() + body, hashlib.sha256).digest()
    ).decode()


def square_provider(*keys: str, url: str = SQUARE_URL) -> SquareProvider:
    return SquareProvider(
        "EAAAunit-never-used", webhook_signature_keys=keys or (SQUARE_KEY,), notification_url=url
    )


def test_the_square_vector_is_base64_hmac_sha256_of_url_plus_body() -> None:
    assert square_sig(SQUARE_KEY, SQUARE_URL, SQUARE_BODY) == SQUARE_VECTOR


def test_square_accepts_its_known_vector_and_translates_the_event() -> None:
    event = square_provider().parse_webhook(
        SQUARE_BODY, {"x-square-hmacsha256-signature": SQUARE_VECTOR}, now=NOW
    )

    assert event.id == "2f1a6c3e-0b7d-4c1a-9e8f-5d4c3b2a1f0e"
    assert event.kind is WebhookKind.PAYMENT_SUCCEEDED
    assert event.payment_id == OUR_ID
    assert event.provider_payment_id == "sqVector1"
    assert event.amount == Money.of(12500, "EUR")


def test_square_accepts_the_old_key_while_it_rotates() -> None:
    provider = square_provider("sq-new-key", SQUARE_KEY)
    assert provider.parse_webhook(
        SQUARE_BODY, {"X-Square-HmacSha256-Signature": SQUARE_VECTOR}, now=NOW
    )


@pytest.mark.parametrize(
    ("case", "signature", "body", "url"),
    [
        ("one byte changed", SQUARE_VECTOR, SQUARE_BODY.replace(b"12500", b"12501"), SQUARE_URL),
        ("one byte added", SQUARE_VECTOR, SQUARE_BODY + b"\n", SQUARE_URL),
        ("wrong key", square_sig("sq-wrong", SQUARE_URL, SQUARE_BODY), SQUARE_BODY, SQUARE_URL),
        ("other URL", SQUARE_VECTOR, SQUARE_BODY, SQUARE_URL + "/"),
        ("empty", "", SQUARE_BODY, SQUARE_URL),
        ("not ASCII", "é" + SQUARE_VECTOR[1:], SQUARE_BODY, SQUARE_URL),
    ],
)
def test_square_refuses_a_bad_signature(case: str, signature: str, body: bytes, url: str) -> None:
    with pytest.raises(WebhookSignatureError):
        square_provider(url=url).parse_webhook(
            body, {"x-square-hmacsha256-signature": signature}, now=NOW
        )


def test_square_refuses_webhooks_when_no_key_is_configured() -> None:
    with pytest.raises(WebhookSignatureError):
        SquareProvider("EAAAunit").parse_webhook(
            SQUARE_BODY, {"x-square-hmacsha256-signature": SQUARE_VECTOR}, now=NOW
        )


def _square_event(event_type: str, obj_type: str, obj: dict[str, object]) -> bytes:
    return json.dumps(
        {
            "type": event_type,
            "event_id": "e-1",
            "created_at": "2026-01-01T12:00:00Z",
            "data": {"type": obj_type, "id": "x", "object": {obj_type: obj}},
        }
    ).encode()


@pytest.mark.parametrize(
    ("event_type", "obj_type", "obj", "kind"),
    [
        (
            "payment.updated",
            "payment",
            {
                "id": "p",
                "status": "FAILED",
                "card_details": {"errors": [{"code": "GENERIC_DECLINE"}]},
            },
            WebhookKind.PAYMENT_FAILED,
        ),
        (
            "payment.updated",
            "payment",
            {
                "id": "p",
                "status": "FAILED",
                "card_details": {"errors": [{"code": "CARD_DECLINED_VERIFICATION_REQUIRED"}]},
            },
            WebhookKind.PAYMENT_REQUIRES_ACTION,
        ),
        (
            "payment.updated",
            "payment",
            {"id": "p", "status": "APPROVED"},
            WebhookKind.PAYMENT_PROCESSING,
        ),
        (
            "payment.updated",
            "payment",
            {"id": "p", "status": "CANCELED"},
            WebhookKind.PAYMENT_CANCELED,
        ),
        (
            "refund.updated",
            "refund",
            {"id": "r", "status": "COMPLETED", "amount_money": {"amount": 5, "currency": "EUR"}},
            WebhookKind.REFUND_SUCCEEDED,
        ),
        ("refund.updated", "refund", {"id": "r", "status": "REJECTED"}, WebhookKind.REFUND_FAILED),
        ("refund.updated", "refund", {"id": "r", "status": "PENDING"}, WebhookKind.IGNORED),
        ("dispute.created", "dispute", {"id": "d"}, WebhookKind.IGNORED),
    ],
)
def test_square_events_translate_to_our_kinds(
    event_type: str, obj_type: str, obj: dict[str, object], kind: WebhookKind
) -> None:
    assert (
        square_provider().translate_webhook(_square_event(event_type, obj_type, obj)).kind is kind
    )


# ---------------------------------------------------------------------------- PayPal

CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-unit"
WEBHOOK_ID = "1JE4291016473214C"


def _key_and_cert(
    not_before: datetime | None = None, not_after: datetime | None = None
) -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.unit")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - timedelta(days=30))
        .not_valid_after(not_after or NOW + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


KEY, PEM = _key_and_cert()

PAYPAL_BODY = json.dumps(
    {
        "id": "WH-58D329510W468432D-8HN650336L201105X",
        "event_version": "1.0",
        "create_time": "2026-01-01T12:00:00.000Z",
        "resource_type": "capture",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "resource": {
            "id": "42311647XV020574X",
            "status": "COMPLETED",
            "amount": {"currency_code": "EUR", "value": "125.00"},
            "custom_id": str(OUR_ID),
            "supplementary_data": {"related_ids": {"order_id": "5O190127TN364715T"}},
        },
    },
    separators=(",", ":"),
).encode()


def paypal_headers(
    body: bytes,
    *,
    when: datetime = NOW,
    webhook_id: str = WEBHOOK_ID,
    key: rsa.RSAPrivateKey = KEY,
    cert_url: str = CERT_URL,
    transmission_id: str = "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
) -> dict[str, str]:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    message = f"{transmission_id}|{stamp}|{webhook_id}|{zlib.crc32(body)}".encode()
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return {
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-TIME": stamp,
        "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    }


class CertFetcher:
    def __init__(self, pem: bytes = PEM) -> None:
        self.pem = pem
        self.fetched: list[str] = []

    async def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        return self.pem


@pytest.fixture
def fetcher() -> CertFetcher:
    return CertFetcher()


def paypal_provider(fetcher: CertFetcher, webhook_id: str | None = WEBHOOK_ID) -> PayPalProvider:
    return PayPalProvider(
        "client-id-unit", "client-secret-unit", webhook_id=webhook_id, cert_fetcher=fetcher
    )


async def verified(
    provider: PayPalProvider, body: bytes, headers: dict[str, str], now: datetime = NOW
) -> WebhookEvent:
    """What the webhook service does: fetch what is needed, then verify and translate."""
    await provider.prepare_webhook(headers, now=now)
    return provider.parse_webhook(body, headers, now=now)


async def test_paypal_accepts_a_crc32_signature_and_translates_the_capture(
    fetcher: CertFetcher,
) -> None:
    event = await verified(paypal_provider(fetcher), PAYPAL_BODY, paypal_headers(PAYPAL_BODY))

    assert event.kind is WebhookKind.PAYMENT_SUCCEEDED
    assert event.provider_payment_id == "5O190127TN364715T"
    assert event.payment_id == OUR_ID
    assert event.amount == Money.of(12500, "EUR")
    assert fetcher.fetched == [CERT_URL]


async def test_paypal_fetches_a_certificate_once(fetcher: CertFetcher) -> None:
    provider = paypal_provider(fetcher)
    await verified(provider, PAYPAL_BODY, paypal_headers(PAYPAL_BODY))
    await verified(provider, PAYPAL_BODY, paypal_headers(PAYPAL_BODY, transmission_id="t-2"))
    assert fetcher.fetched == [CERT_URL]


async def test_paypal_accepts_a_redelivery_that_keeps_its_first_transmission_time(
    fetcher: CertFetcher,
) -> None:
    """PayPal retries a delivery for up to three days; its signed time may be the first one."""
    headers = paypal_headers(PAYPAL_BODY, when=NOW - timedelta(days=3, hours=12))
    event = await verified(paypal_provider(fetcher), PAYPAL_BODY, headers)
    assert event.kind is WebhookKind.PAYMENT_SUCCEEDED


@pytest.mark.parametrize(
    ("case", "body", "headers"),
    [
        (
            "one byte changed",
            PAYPAL_BODY.replace(b"125.00", b"125.01"),
            paypal_headers(PAYPAL_BODY),
        ),
        ("one byte added", PAYPAL_BODY + b" ", paypal_headers(PAYPAL_BODY)),
        ("another webhook id", PAYPAL_BODY, paypal_headers(PAYPAL_BODY, webhook_id="WH0THER")),
        ("another key", PAYPAL_BODY, paypal_headers(PAYPAL_BODY, key=_key_and_cert()[0])),
        (
            "older than PayPal's redeliveries",
            PAYPAL_BODY,
            paypal_headers(PAYPAL_BODY, when=NOW - timedelta(days=4, seconds=1)),
        ),
        ("future", PAYPAL_BODY, paypal_headers(PAYPAL_BODY, when=NOW + timedelta(seconds=301))),
        (
            "other algorithm",
            PAYPAL_BODY,
            {**paypal_headers(PAYPAL_BODY), "PAYPAL-AUTH-ALGO": "SHA1withRSA"},
        ),
        (
            "no signature",
            PAYPAL_BODY,
            {
                k: v
                for k, v in paypal_headers(PAYPAL_BODY).items()
                if k != "PAYPAL-TRANSMISSION-SIG"
            },
        ),
        (
            "signature not base64",
            PAYPAL_BODY,
            {**paypal_headers(PAYPAL_BODY), "PAYPAL-TRANSMISSION-SIG": "@@@"},
        ),
    ],
)
async def test_paypal_refuses_a_bad_delivery(
    fetcher: CertFetcher, case: str, body: bytes, headers: dict[str, str]
) -> None:
    with pytest.raises(WebhookSignatureError):
        await verified(paypal_provider(fetcher), body, headers)


@pytest.mark.parametrize(
    "cert_url",
    [
        "https://evil.example/v1/notifications/certs/CERT-1",
        "http://api.paypal.com/v1/notifications/certs/CERT-1",
        "https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1",
        "https://user@api.paypal.com/v1/notifications/certs/CERT-1",
        "https://api.paypal.com:8443/v1/notifications/certs/CERT-1",
    ],
)
async def test_paypal_never_fetches_a_certificate_from_elsewhere(
    fetcher: CertFetcher, cert_url: str
) -> None:
    headers = paypal_headers(PAYPAL_BODY, cert_url=cert_url)
    with pytest.raises(WebhookSignatureError):
        await verified(paypal_provider(fetcher), PAYPAL_BODY, headers)
    assert fetcher.fetched == []


@pytest.mark.parametrize(
    "headers",
    [
        paypal_headers(PAYPAL_BODY, when=NOW - timedelta(days=5)),
        paypal_headers(PAYPAL_BODY, when=NOW + timedelta(minutes=10)),
        {**paypal_headers(PAYPAL_BODY), "PAYPAL-AUTH-ALGO": "SHA1withRSA"},
    ],
    ids=["too old", "from the future", "other algorithm"],
)
async def test_paypal_fetches_no_certificate_for_a_delivery_it_refuses_anyway(
    fetcher: CertFetcher, headers: dict[str, str]
) -> None:
    with pytest.raises(WebhookSignatureError):
        await verified(paypal_provider(fetcher), PAYPAL_BODY, headers)
    assert fetcher.fetched == []


async def test_paypal_refuses_an_expired_certificate() -> None:
    key, pem = _key_and_cert(NOW - timedelta(days=400), NOW - timedelta(days=1))
    provider = paypal_provider(CertFetcher(pem))
    with pytest.raises(WebhookSignatureError):
        await verified(provider, PAYPAL_BODY, paypal_headers(PAYPAL_BODY, key=key))


async def test_paypal_refuses_webhooks_without_a_webhook_id(fetcher: CertFetcher) -> None:
    with pytest.raises(WebhookSignatureError):
        await verified(
            paypal_provider(fetcher, webhook_id=None), PAYPAL_BODY, paypal_headers(PAYPAL_BODY)
        )


def _paypal_event(event_type: str, resource: dict[str, object]) -> bytes:
    return json.dumps(
        {
            "id": "WH-1",
            "event_type": event_type,
            "create_time": "2026-01-01T12:00:00Z",
            "resource": resource,
        }
    ).encode()


@pytest.mark.parametrize(
    ("event_type", "resource", "kind"),
    [
        ("PAYMENT.CAPTURE.DENIED", {"id": "c", "status": "DECLINED"}, WebhookKind.PAYMENT_FAILED),
        ("PAYMENT.CAPTURE.DECLINED", {"id": "c", "status": "DECLINED"}, WebhookKind.PAYMENT_FAILED),
        (
            "PAYMENT.CAPTURE.PENDING",
            {"id": "c", "status": "PENDING"},
            WebhookKind.PAYMENT_PROCESSING,
        ),
        (
            "PAYMENT.CAPTURE.REFUNDED",
            {"id": "r", "status": "COMPLETED", "amount": {"currency_code": "EUR", "value": "1.00"}},
            WebhookKind.REFUND_SUCCEEDED,
        ),
        ("PAYMENT.CAPTURE.REFUNDED", {"id": "r", "status": "FAILED"}, WebhookKind.REFUND_FAILED),
        ("PAYMENT.CAPTURE.REVERSED", {"id": "r", "status": "COMPLETED"}, WebhookKind.IGNORED),
        ("CHECKOUT.ORDER.APPROVED", {"id": "o"}, WebhookKind.IGNORED),
    ],
)
def test_paypal_events_translate_to_our_kinds(
    fetcher: CertFetcher, event_type: str, resource: dict[str, object], kind: WebhookKind
) -> None:
    assert (
        paypal_provider(fetcher).translate_webhook(_paypal_event(event_type, resource)).kind is kind
    )


# ---------------------------------------------------------------------------- replays


@pytest.fixture
def providers(
    fetcher: CertFetcher,
) -> dict[str, tuple[PaymentProvider, bytes, dict[str, str]]]:
    return {
        "stripe": (
            stripe_provider(),
            STRIPE_BODY,
            {"Stripe-Signature": f"t={T},v1={STRIPE_VECTOR}"},
        ),
        "square": (
            square_provider(),
            SQUARE_BODY,
            {"x-square-hmacsha256-signature": SQUARE_VECTOR},
        ),
        "paypal": (paypal_provider(fetcher), PAYPAL_BODY, paypal_headers(PAYPAL_BODY)),
    }


@pytest.mark.parametrize("name", ["stripe", "paypal", "square"])
async def test_a_replayed_event_id_is_a_duplicate_the_second_time(
    providers: dict[str, tuple[PaymentProvider, bytes, dict[str, str]]], name: str
) -> None:
    provider, body, headers = providers[name]
    harness = build_in_memory(provider=provider, clock=SettableClock(NOW))  # type: ignore[arg-type]

    first = await harness.services.webhooks.receive(name, body, headers)
    second = await harness.services.webhooks.receive(name, body, headers)

    assert not first.duplicate
    assert second.duplicate
    assert second.event_id == first.event_id
    assert second.webhook_id == first.webhook_id
