"""Request and response bodies of the HTTP API.

Requests are msgspec Structs decoded *strictly* (``12.0`` is not an integer, ``"12"`` is not a
number, ``true`` is not ``1``) and they forbid unknown fields, as Stripe's API does. The
resources' views are the ones the events carry, declared once in :mod:`payment_adapters.wire`
and re-exported here; the pages of them, the problems and the other HTTP-only answers are the
Structs below.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Final, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from payment_adapters.wire import (
    BillingRecordView,
    CardSafeView,
    CreditNoteView,
    InvoiceView,
    PaymentMethodView,
    PaymentSafeView,
    PaymentView,
    RefundSafeView,
    RefundView,
)
from payment_core.country_table import ISO_3166_ALPHA2, USER_ASSIGNED
from payment_core.money import MAX_AMOUNT, Currency

__all__ = [
    "CURRENCY_CODES",
    "CURSOR_PATTERN",
    "IDEMPOTENCY_KEY_PATTERN",
    "UNSET",
    "AddressRequest",
    "BillingRecordList",
    "BillingRecordView",
    "CapturePaymentRequest",
    "CardSafeView",
    "ConfirmPaymentRequest",
    "CreateCreditNoteRequest",
    "CreateInvoiceRequest",
    "CreatePaymentRequest",
    "CreateRefundRequest",
    "CreditNoteList",
    "CreditNoteView",
    "CustomerRequest",
    "EmptyRequest",
    "FieldError",
    "Health",
    "IncrementAuthorizationRequest",
    "InvoiceList",
    "InvoiceView",
    "LineItemRequest",
    "PaymentList",
    "PaymentMethodList",
    "PaymentMethodView",
    "PaymentSafeView",
    "PaymentView",
    "Problem",
    "ReadinessProblem",
    "RefundList",
    "RefundSafeView",
    "RefundView",
    "UpdateInvoiceRequest",
    "VerifyView",
    "WebhookReceived",
]

#: Every code ``Currency.of`` accepts: ISO 4217 List One, the codes that have a minor unit.
CURRENCY_CODES: Final = tuple(currency.code for currency in Currency.all())
#: What a cursor is made of: the characters a URL query carries unescaped. Only a cursor this
#: API returned in ``next_cursor`` is valid; anything else is 422 ``validation_error``.
CURSOR_PATTERN: Final = r"^[A-Za-z0-9_.~-]*$"
#: 1-255 printable ASCII characters; HTTP drops spaces at either end of a header value, so a key
#: neither starts nor ends with one.
IDEMPOTENCY_KEY_PATTERN: Final = r"^[!-~](?:[ -~]{0,253}[!-~])?$"

# ---------------------------------------------------------------------------- field types

#: Printable text with something in it: no control character, not only spaces (as the
#: customer's fields are checked in the core).
_TEXT: Final = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"

if TYPE_CHECKING:
    CurrencyCode = str
    CountryCode = str
else:
    # An enum in the schema, and the same set the decoder accepts.
    CurrencyCode = Literal[CURRENCY_CODES]
    CountryCode = Literal[tuple(sorted(ISO_3166_ALPHA2 | USER_ASSIGNED))]

Amount = Annotated[
    int,
    Meta(
        ge=1,
        le=MAX_AMOUNT,
        description="An integer of minor units (EUR 12.34 -> 1234); never a float or a string.",
        examples=[12500],
    ),
]
CurrencyField = Annotated[
    CurrencyCode,
    Meta(
        description="An upper-case ISO 4217 code that has a minor unit (List One less XAU, XDR, "
        "XXX and the like); anything else is 422 `unknown_currency`.",
        examples=["EUR"],
    ),
]
Token = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=255,
        pattern="^[!-~]+$",
        description="A provider payment-method token (never a card number).",
        examples=["pm_card_visa"],
    ),
]
VerificationToken = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=2048,
        pattern="^[!-~]+$",
        description="The buyer's verification token from the provider's browser SDK (Square's "
        "`verifyBuyer`), for a provider with Strong Customer Authentication by token.",
        examples=["verf:CBASEGx7kC9Aw3C2Q1Q6bF9Yh8c"],
    ),
]
MetadataKey = Annotated[str, Meta(min_length=1, max_length=40)]
MetadataValue = Annotated[str, Meta(max_length=500)]
Metadata = Annotated[
    dict[MetadataKey, MetadataValue],
    Meta(max_length=20, description="At most 20 keys; string values of at most 500 characters."),
]
NextCursor = Annotated[
    str,
    Meta(
        pattern=CURSOR_PATTERN,
        description="Pass it as `cursor` for the next page; `null` on the last page.",
    ),
]
Description = Annotated[str, Meta(max_length=1000)]
Notes = Annotated[str, Meta(max_length=5000)]
Reason = Annotated[str, Meta(min_length=1, max_length=200, examples=["requested_by_customer"])]

# ---------------------------------------------------------------------------- requests


class EmptyRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """An operation that takes no fields (an empty body or ``{}``)."""


class CreatePaymentRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    booking_id: UUID
    guest_id: UUID
    amount: Amount
    currency: CurrencyField
    provider: Annotated[str, Meta(min_length=1, max_length=40, examples=["fake"])] | None = None
    payment_method: Token | None = None
    description: Description | None = None
    metadata: Metadata | None = None
    capture_method: Annotated[
        Literal["automatic", "manual"],
        Meta(
            description="`manual`: a confirm holds the money (`AUTHORIZED`); capture it later. "
            "A provider that cannot hold gets 422 `not_supported_by_provider`."
        ),
    ] = "automatic"
    confirm: Annotated[
        bool, Meta(description="Confirm at once; the response shows what the provider did.")
    ] = False
    setup_future_usage: (
        Annotated[
            Literal["off_session"],
            Meta(
                description="Save the card for charges without the guest once the payment succeeds."
            ),
        ]
        | None
    ) = None
    payment_method_id: (
        Annotated[
            UUID,
            Meta(
                description="Charge this saved payment method of the same guest (no token): "
                "another guest's is 422 `payment_method_guest_mismatch`, an unknown one 422 "
                "`validation_error`, a detached one 409 `payment_method_detached`."
            ),
        ]
        | None
    ) = None
    off_session: Annotated[
        bool,
        Meta(
            description="Charge the saved method without the guest (merchant-initiated): needs "
            "`payment_method_id` (else 422 `payment_method_required`) and `confirm: true`."
        ),
    ] = False


class CapturePaymentRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """Capture an ``AUTHORIZED`` payment: all of ``amount_capturable``, or ``amount`` of it."""

    amount: Amount | None = None


class IncrementAuthorizationRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """Raise an ``AUTHORIZED`` payment's hold to ``amount``, the new total."""

    amount: Amount


class ConfirmPaymentRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    payment_method: Token | None = None
    verification_token: VerificationToken | None = None


class CreateRefundRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    payment_id: UUID
    amount: Amount | None = None
    reason: Reason | None = None


class LineItemRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    description: Annotated[str, Meta(min_length=1, max_length=500)]
    quantity: Annotated[int, Meta(ge=1, le=1_000_000)]
    unit_amount: Annotated[int, Meta(ge=0, le=MAX_AMOUNT)]
    tax_rate_bps: Annotated[int, Meta(ge=0, le=10_000)] = 0


LineItems = Annotated[list[LineItemRequest], Meta(max_length=250)]


AddressLine = Annotated[
    str, Meta(min_length=1, max_length=200, pattern=_TEXT, examples=["Calle de Alcalá 42"])
]
City = Annotated[str, Meta(min_length=1, max_length=100, pattern=_TEXT, examples=["Madrid"])]
PostalCode = Annotated[str, Meta(min_length=1, max_length=20, pattern=_TEXT, examples=["28014"])]
Country = Annotated[
    CountryCode,
    Meta(description="An ISO 3166-1 alpha-2 code, upper case (`XK` too).", examples=["ES"]),
]
PersonName = Annotated[
    str, Meta(min_length=1, max_length=200, pattern=_TEXT, examples=["Zoë Ñúñez"])
]
Email = Annotated[
    str,
    Meta(
        min_length=3,
        max_length=254,
        # The shape the core checks (payment_core.model.customer).
        pattern=r"^[^@\s\x00-\x1f\x7f-\x9f]{1,64}@[^@\s.\x00-\x1f\x7f-\x9f]+(?:\.[^@\s.\x00-\x1f\x7f-\x9f]+)+$",
        description="An e-mail address.",
        examples=["zoe@example.org"],
    ),
]
TaxId = Annotated[str, Meta(min_length=1, max_length=64, pattern=_TEXT, examples=["ES-X1234567L"])]


class AddressRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    line1: AddressLine | None = None
    line2: AddressLine | None = None
    city: City | None = None
    postal_code: PostalCode | None = None
    country: Country | None = None


class CustomerRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """Who the invoice is made out to; every field is optional (personal data: stored
    encrypted)."""

    name: PersonName | None = None
    email: Email | None = None
    tax_id: TaxId | None = None
    address: AddressRequest | None = None


class CreateInvoiceRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    booking_id: UUID
    guest_id: UUID
    currency: CurrencyField
    due_date: date | None = None
    line_items: LineItems = msgspec.field(default_factory=list)
    payment_id: UUID | None = None
    notes: Notes | None = None
    customer: CustomerRequest | None = None


class CreateCreditNoteRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    amount: Amount
    reason: (
        Literal[
            "duplicate",
            "fraudulent",
            "order_change",
            "product_unsatisfactory",
            "requested_by_customer",
            "booking_cancelled",
            "other",
        ]
        | None
    ) = None
    memo: Annotated[str, Meta(max_length=1000)] | None = None
    refund_id: UUID | None = None


class UpdateInvoiceRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """A PATCH: absent fields stay as they are; ``null`` clears a nullable field."""

    line_items: LineItems | UnsetType = UNSET
    due_date: date | UnsetType | None = UNSET
    notes: Notes | UnsetType | None = UNSET
    payment_id: UUID | UnsetType | None = UNSET
    customer: CustomerRequest | UnsetType | None = UNSET
    status: Literal["OPEN", "VOID", "PAID", "UNCOLLECTIBLE"] | UnsetType = UNSET


# ---------------------------------------------------------------------------- responses


class PaymentList(Struct):
    items: list[PaymentView]
    next_cursor: NextCursor | None


class PaymentMethodList(Struct):
    items: list[PaymentMethodView]
    next_cursor: NextCursor | None


class RefundList(Struct):
    items: list[RefundView]
    next_cursor: NextCursor | None


class InvoiceList(Struct):
    items: list[InvoiceView]
    next_cursor: NextCursor | None


class CreditNoteList(Struct):
    items: list[CreditNoteView]
    next_cursor: str | None


class BillingRecordList(Struct):
    items: list[BillingRecordView]
    next_cursor: NextCursor | None


class VerifyView(Struct, omit_defaults=True):
    ok: bool
    records: int
    broken_record_id: UUID | None = None
    booking_id: UUID | None = None
    reason: str | None = None


class WebhookReceived(Struct):
    received: bool
    duplicate: bool


class Health(Struct):
    status: str
    checks: dict[str, str] = msgspec.field(default_factory=dict)


class FieldError(Struct):
    field: str
    reason: str


class Problem(Struct, omit_defaults=True):
    """An RFC 9457 problem; ``code`` is the stable, machine-readable part."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] | None = None
    request_id: str | None = None


class ReadinessProblem(Struct, omit_defaults=True):
    """``/health/ready`` when a dependency is down: ``checks`` names which."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    checks: dict[str, str] = msgspec.field(default_factory=dict)
    request_id: str | None = None
