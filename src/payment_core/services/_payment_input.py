"""What the payment use cases are asked to do, and its checks before anything happens."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Final, NamedTuple
from uuid import UUID

import attrs

from payment_core.card_data import find_raw_card_data
from payment_core.errors import (
    NotSupportedByProviderError,
    PaymentMethodRequiredError,
    RawCardDataError,
    ValidationError,
)
from payment_core.model.payment import SETUP_FUTURE_USAGE, CaptureMethod
from payment_core.money import Currency, Money, check_amount_in_range
from payment_core.services._deps import Dependencies

__all__ = [
    "DEFAULT_PAYMENT_METHOD",
    "CheckedCreate",
    "CreatePayment",
    "check_capabilities",
    "check_confirm",
    "check_create",
    "confirm_key",
    "validate_metadata",
]

DEFAULT_PAYMENT_METHOD: Final = "pm_card_visa"
MAX_METADATA_KEYS: Final = 20
MAX_METADATA_KEY: Final = 40
MAX_METADATA_VALUE: Final = 500
MAX_DESCRIPTION: Final = 1000
MAX_TOKEN: Final = 255
MAX_VERIFICATION_TOKEN: Final = 2048


@attrs.frozen(slots=True)
class CreatePayment:
    """The input of :meth:`PaymentService.create`, validated there."""

    booking_id: UUID
    guest_id: UUID
    amount: int
    currency: str
    provider: str | None = None
    payment_method: str | None = None
    description: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    #: ``manual``: hold the money at confirm, capture it later.
    capture_method: str = CaptureMethod.AUTOMATIC.value
    #: ``off_session``: save the card when the payment succeeds.
    setup_future_usage: str | None = None
    #: Charge this saved payment method (of the same guest) instead of a token.
    payment_method_id: UUID | None = None
    #: Charged without the guest (needs ``payment_method_id`` and ``confirm``).
    off_session: bool = False
    #: Confirm it at once (the result shows the state the provider left it in).
    confirm: bool = False


class CheckedCreate(NamedTuple):
    """A create command's values, checked."""

    amount: Money
    provider: str
    metadata: dict[str, str]


def _check_token(value: str | None, field: str, longest: int = MAX_TOKEN) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= longest:
        raise ValidationError(field=field, reason=f"must be 1 to {longest} characters")
    if not value.isascii() or not value.isprintable() or " " in value:
        raise ValidationError(field=field, reason="must be a provider token (printable ASCII)")
    return value


def confirm_key(payment_id: UUID, payment_method: str, verification_token: str | None) -> str:
    """The provider idempotency key of one confirm attempt.

    The first attempt's is derived from the payment id alone. An attempt with the buyer's
    verification token is another request, so it gets its own key, derived from the payment id
    and the attempt (its token and payment method): a retry of that attempt is the same request
    under the same key, a new attempt never reuses one.
    """
    if verification_token is None:
        return f"payment-{payment_id}-confirm"
    attempt = hashlib.sha256(f"{payment_method}\n{verification_token}".encode()).hexdigest()
    return f"payment-{payment_id}-confirm-verified-{attempt[:32]}"


def validate_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """Stripe's limits: at most 20 keys, keys up to 40 characters, string values up to 500."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ValidationError(field="metadata", reason="must be an object")
    if len(metadata) > MAX_METADATA_KEYS:
        raise ValidationError(field="metadata", reason=f"at most {MAX_METADATA_KEYS} keys")
    out: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_METADATA_KEY:
            raise ValidationError(
                field="metadata", reason=f"keys must be 1 to {MAX_METADATA_KEY} characters"
            )
        if not isinstance(value, str) or len(value) > MAX_METADATA_VALUE:
            raise ValidationError(
                field=f"metadata.{key}",
                reason=f"must be a string of at most {MAX_METADATA_VALUE} characters",
            )
        out[key] = value
    return out


def check_create(deps: Dependencies, command: CreatePayment) -> CheckedCreate:
    """Check a create command completely before anything happens."""
    if command.metadata is not None and not isinstance(command.metadata, Mapping):
        raise ValidationError(field="metadata", reason="must be an object")
    found = find_raw_card_data(
        {
            "payment_method": command.payment_method,
            "description": command.description,
            "metadata": command.metadata or {},
        }
    )
    if found is not None:
        raise RawCardDataError(field=found)
    for field in ("booking_id", "guest_id"):
        if not isinstance(getattr(command, field), UUID):
            raise ValidationError(field=field, reason="must be a UUID")
    amount = Money(check_amount_in_range(command.amount), Currency.of(command.currency))
    provider = command.provider or deps.config.default_provider
    deps.providers.get(provider)
    _check_token(command.payment_method, "payment_method")
    if command.description is not None and (
        not isinstance(command.description, str) or len(command.description) > MAX_DESCRIPTION
    ):
        raise ValidationError(field="description", reason=f"at most {MAX_DESCRIPTION} characters")
    capture_method = _check_holds_and_saving(command)
    check_capabilities(
        deps,
        provider,
        capture_method=capture_method,
        setup_future_usage=command.setup_future_usage,
        off_session=command.off_session,
    )
    return CheckedCreate(amount, provider, validate_metadata(command.metadata))


def _check_holds_and_saving(command: CreatePayment) -> CaptureMethod:
    """What a create asks of holds, saved cards and off-session charges, checked."""
    try:
        capture_method = CaptureMethod(command.capture_method)
    except ValueError:
        raise ValidationError(
            field="capture_method", reason="must be automatic or manual"
        ) from None
    if command.setup_future_usage not in (None, SETUP_FUTURE_USAGE):
        raise ValidationError(field="setup_future_usage", reason="must be off_session")
    if command.payment_method_id is not None and not isinstance(command.payment_method_id, UUID):
        raise ValidationError(field="payment_method_id", reason="must be a UUID")
    if command.off_session and command.payment_method_id is None:
        raise PaymentMethodRequiredError(
            field="payment_method_id", reason="an off-session charge needs a saved payment method"
        )
    if command.off_session and not command.confirm:
        raise ValidationError(field="off_session", reason="is only allowed with confirm: true")
    if command.payment_method_id is not None and command.payment_method is not None:
        raise ValidationError(
            field="payment_method", reason="give a token or a saved payment method, not both"
        )
    if command.payment_method_id is not None and command.setup_future_usage is not None:
        raise ValidationError(
            field="setup_future_usage", reason="the payment method is saved already"
        )
    return capture_method


def check_capabilities(
    deps: Dependencies,
    provider: str,
    *,
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC,
    setup_future_usage: str | None = None,
    off_session: bool = False,
) -> None:
    """Refuse (``NotSupportedByProviderError``) what the provider says it cannot do, before
    anything changes or is sent."""
    can = deps.providers.get(provider).capabilities
    for wanted, able, operation in (
        (capture_method is CaptureMethod.MANUAL, can.manual_capture, "capture_method=manual"),
        (setup_future_usage is not None, can.save_payment_method, "setup_future_usage"),
        (off_session, can.off_session, "off_session"),
    ):
        if wanted and not able:
            raise NotSupportedByProviderError.of(provider, operation)


def check_confirm(payment_method: str | None, verification_token: str | None) -> None:
    """Check what a confirm is given before anything happens."""
    # Card data first: a spaced card number is not a valid token either, but it must be
    # refused as what it is (raw_card_data_forbidden), never echoed as a bad token.
    for field, value in (
        ("payment_method", payment_method),
        ("verification_token", verification_token),
    ):
        if isinstance(value, str) and find_raw_card_data(value) is not None:
            raise RawCardDataError(field=field)
    _check_token(payment_method, "payment_method")
    _check_token(verification_token, "verification_token", MAX_VERIFICATION_TOKEN)
