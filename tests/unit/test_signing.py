"""Stripe's webhook signature scheme, checked against an independent HMAC computation."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from payment_core.errors import WebhookSignatureError
from payment_core.signing import sign, signature_header, verify

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
T = int(NOW.timestamp())
BODY = b'{"id":"evt_1","type":"payment_intent.succeeded"}'


def expected(secret: str, timestamp: int, body: bytes) -> str:
    """Stripe's documented scheme, computed here without the code under test."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_sign_matches_stripes_scheme() -> None:
    assert sign("whsec_test", T, BODY) == expected("whsec_test", T, BODY)


def test_a_known_vector() -> None:
    # HMAC-SHA256("whsec_fake", "1700000000.{}"), fixed so the scheme can never drift.
    assert sign("whsec_fake", 1_700_000_000, b"{}") == expected("whsec_fake", 1_700_000_000, b"{}")
    assert sign("whsec_fake", 1_700_000_000, b"{}") == (
        hmac.new(b"whsec_fake", b"1700000000.{}", hashlib.sha256).hexdigest()
    )


def test_the_header_carries_the_time_and_one_signature() -> None:
    assert signature_header("s", T, BODY) == f"t={T},v1={expected('s', T, BODY)}"


def test_a_valid_header_returns_the_signed_time() -> None:
    header = f"t={T},v1={expected('whsec_a', T, BODY)}"
    assert verify(header, BODY, ["whsec_a"], now=NOW) == T


def test_any_of_several_v1_signatures_may_match() -> None:
    header = f"t={T},v1={'0' * 64},v1={expected('whsec_a', T, BODY)},v0=ignored"
    assert verify(header, BODY, ["whsec_a"], now=NOW) == T


def test_a_rotated_secret_still_verifies() -> None:
    header = f"t={T},v1={expected('whsec_old', T, BODY)}"
    assert verify(header, BODY, ["whsec_new", "whsec_old"], now=NOW) == T


def test_spaces_around_parts_are_tolerated() -> None:
    header = f" t={T} , v1={expected('s', T, BODY)} ,junk"
    assert verify(header, BODY, ["s"], now=NOW) == T


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing signature header"),
        ("", "missing signature header"),
        ("t=1," + "v1=" + "a" * 5000, "signature header too long"),
        (f"v1={'a' * 64}", "no timestamp in signature header"),
        (f"t={T}", "no v1 signature in header"),
        (f"t={T}x,v1=ab", "malformed timestamp"),
        (f"t=-{T},v1=ab", "malformed timestamp"),
        (f"t={T},v1={'0' * 64}", "no signature matches"),
        (f"t={T},v1=é", "no signature matches"),
        (f"t={T},v1={expected('s', T, BODY).upper()}", "no signature matches"),
    ],
)
def test_a_bad_header_is_refused_with_its_reason(header: str | None, reason: str) -> None:
    with pytest.raises(WebhookSignatureError) as caught:
        verify(header, BODY, ["s"], now=NOW)
    assert caught.value.reason == reason


def test_a_signature_for_another_body_is_refused() -> None:
    header = f"t={T},v1={expected('s', T, BODY)}"
    with pytest.raises(WebhookSignatureError):
        verify(header, BODY + b" ", ["s"], now=NOW)


def test_no_configured_secret_refuses_everything() -> None:
    with pytest.raises(WebhookSignatureError) as caught:
        verify(f"t={T},v1={expected('s', T, BODY)}", BODY, [], now=NOW)
    assert caught.value.reason == "no webhook secret is configured"


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamps_within_tolerance_either_way_are_accepted(offset: int) -> None:
    header = f"t={T + offset},v1={expected('s', T + offset, BODY)}"
    assert verify(header, BODY, ["s"], now=NOW) == T + offset


def test_an_old_timestamp_is_refused_even_when_correctly_signed() -> None:
    header = f"t={T - 301},v1={expected('s', T - 301, BODY)}"
    with pytest.raises(WebhookSignatureError) as caught:
        verify(header, BODY, ["s"], now=NOW)
    assert caught.value.reason == "timestamp too old"


def test_a_future_timestamp_is_refused_even_when_correctly_signed() -> None:
    header = f"t={T + 301},v1={expected('s', T + 301, BODY)}"
    with pytest.raises(WebhookSignatureError) as caught:
        verify(header, BODY, ["s"], now=NOW)
    assert caught.value.reason == "timestamp in the future"


def test_the_tolerance_can_be_narrowed() -> None:
    header = f"t={T - 10},v1={expected('s', T - 10, BODY)}"
    with pytest.raises(WebhookSignatureError):
        verify(header, BODY, ["s"], now=NOW, tolerance_seconds=5)
    assert verify(header, BODY, ["s"], now=NOW + timedelta(seconds=-6), tolerance_seconds=5)
