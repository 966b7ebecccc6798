"""Text from providers and webhooks is screened where it enters the core: no card number, no
control character, nothing longer than it is stored in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_core import Card, PaymentStatus, RefundStatus
from payment_core.card_data import find_raw_card_data
from payment_core.errors import (
    ProviderDeclinedError,
    ProviderRejectedError,
    ProviderUnavailableError,
    ValidationError,
)
from payment_core.money import Money
from payment_core.outside_text import REDACTED, screen_code, screen_text
from payment_core.ports import (
    ConfirmPaymentRequest,
    ProviderPayment,
    ProviderPaymentStatus,
    ProviderRefund,
    ProviderRefundStatus,
    RefundRequest,
    WebhookEvent,
    WebhookKind,
)
from payment_core.testing import FakeProvider, build_in_memory

PAN = "4242424242424242"


@pytest.mark.parametrize(
    ("text", "screened"),
    [
        (f"Card {PAN} declined", f"Card {REDACTED} declined"),
        ("Card 4242 4242 4242 4242 declined", f"Card {REDACTED} declined"),
        ("Card 4242-4242-4242-4242 declined", f"Card {REDACTED} declined"),
        ("Call 0800 123 456 about order 1234", "Call 0800 123 456 about order 1234"),
        (
            "payment 0195f3c2-7b1e-7c3a-9d2f-4e5a6b7c8d9e",
            "payment 0195f3c2-7b1e-7c3a-9d2f-4e5a6b7c8d9e",
        ),
        ("two\n\nlines\tand  spaces ", "two lines and spaces"),
        ("bell\x07 nul\x00 escape\x1b[0m", "bell nul escape[0m"),
        ("lone \ud800 surrogate", "lone surrogate"),
        ("", None),
        (" \n\t ", None),
        ("\x00", None),
    ],
)
def test_screen_text(text: str, screened: str | None) -> None:
    assert screen_text(text) == screened


@pytest.mark.parametrize("value", [None, 42, b"bytes", ["a"], {"a": 1}])
def test_anything_but_a_string_is_no_text(value: object) -> None:
    assert screen_text(value) is None


def test_screened_text_is_cut_to_its_limit() -> None:
    assert screen_text("x" * 10_000) == "x" * 300
    assert screen_text("abcdef", limit=3) == "abc"


@given(st.text(max_size=400))
def test_screened_text_never_holds_what_the_card_detector_flags(text: str) -> None:
    screened = screen_text(text)
    if screened is not None:
        assert find_raw_card_data(screened) is None
        assert screened.isprintable()
        assert len(screened) <= 300


@given(
    st.lists(st.text(alphabet="0123456789", min_size=1, max_size=5), min_size=1, max_size=6),
    st.sampled_from([" ", "-", ""]),
    st.text(max_size=20),
)
def test_a_grouped_card_number_anywhere_in_a_message_is_masked(
    groups: list[str], separator: str, around: str
) -> None:
    text = f"{around} 4000 0566 5566 5556 {separator.join(groups)} {around}"
    screened = screen_text(text) or ""
    assert "5556" not in screened


@pytest.mark.parametrize(
    ("code", "kept"),
    [
        ("card_declined", "card_declined"),
        ("INSTRUMENT_DECLINED", "INSTRUMENT_DECLINED"),
        ("http_400", "http_400"),
        ("x" * 64, "x" * 64),
        ("x" * 65, None),
        (PAN, None),
        ("card declined", None),
        ("", None),
        ("nul\x00", None),
        (7, None),
    ],
)
def test_screen_code(code: object, kept: str | None) -> None:
    assert screen_code(code) == kept


# ---------------------------------------------------------------------------- at the port


def test_the_ports_reply_and_event_types_screen_what_they_are_given() -> None:
    message = f"Card {PAN} was declined"
    reply = ProviderPayment(
        "pi_1",
        status=ProviderPaymentStatus.FAILED,
        amount=Money.of(100, "EUR"),
        failure_code=PAN,
        failure_message=message,
    )
    assert (reply.failure_code, reply.failure_message) == (None, f"Card {REDACTED} was declined")
    event = WebhookEvent(
        id="evt_1",
        type="payment_intent.payment_failed",
        kind=WebhookKind.PAYMENT_FAILED,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        failure_code="x" * 100,
        failure_message=message,
    )
    assert (event.failure_code, event.failure_message) == (None, f"Card {REDACTED} was declined")


def test_provider_errors_screen_their_codes_and_messages() -> None:
    declined = ProviderDeclinedError(decline_code=PAN, message=f"card {PAN}")
    rejected = ProviderRejectedError(reason_code="bad code", message="\x00")
    unavailable = ProviderUnavailableError(message=f"timeout for {PAN}")
    assert (declined.decline_code, declined.message) == ("declined", f"card {REDACTED}")
    assert (rejected.reason_code, rejected.message) == ("provider_rejected", "")
    assert unavailable.message == f"timeout for {REDACTED}"


def test_a_card_from_a_provider_keeps_only_what_fits() -> None:
    card = Card(brand="x" * 40, last4="4242", exp_month=13, exp_year=10**9)
    assert (card.brand, card.exp_month, card.exp_year) == ("unknown", None, None)
    assert Card(brand="visa", last4="4242", exp_month=12, exp_year=2034).exp_year == 2034
    with pytest.raises(ValidationError):
        Card(brand="visa", last4="٤٢٤٢")  # four digits, not ASCII ones


# ---------------------------------------------------------------------------- end to end


class ChattyDeclines(FakeProvider):
    """Declines with a message quoting the card number, as a careless provider might."""

    async def confirm_payment(self, request: ConfirmPaymentRequest) -> ProviderPayment:
        raise ProviderDeclinedError(
            decline_code="card_declined", message=f"Card {PAN} was declined by the issuer."
        )

    async def refund(self, request: RefundRequest) -> ProviderRefund:
        return ProviderRefund(
            f"re_{request.refund_id.hex}",
            ProviderRefundStatus.FAILED,
            request.amount,
            failure_reason=f"card {PAN} is closed",
        )


async def test_a_providers_decline_message_is_screened_before_it_is_stored(make_kit) -> None:
    harness = build_in_memory(provider=ChattyDeclines())
    kit = make_kit(harness)
    payment = await kit.paid()
    assert (payment.status, payment.failure_code, payment.failure_message) == (
        PaymentStatus.FAILED,
        "card_declined",
        f"Card {REDACTED} was declined by the issuer.",
    )


class ChattyRefunds(FakeProvider):
    async def refund(self, request: RefundRequest) -> ProviderRefund:
        return await ChattyDeclines.refund(self, request)  # type: ignore[arg-type]


async def test_a_providers_refund_failure_reason_is_screened_before_it_is_stored(
    make_kit,
) -> None:
    harness = build_in_memory(provider=ChattyRefunds(), randbelow=lambda n: 0)
    kit = make_kit(harness)
    payment = await kit.paid()
    refund = await harness.services.refunds.create(payment.id, 100)
    assert (refund.status, refund.last_error) == (
        RefundStatus.PENDING,
        f"card {REDACTED} is closed",
    )
