"""PayPal's wire format: the request fields of the official SDK's models, errors, money, ids and
``multipart/form-data`` bodies (the disputes API takes its JSON as a part named ``input``).

Field sets are the models' ``_names`` in paypal/PayPal-Python-Server-SDK (``OrderRequest``,
``PurchaseUnitRequest``, ``CardRequest``, ``CardAttributes``, ``VaultInstructionBase``,
``CardStoredCredential``, ``CaptureRequest``, ``ReauthorizeRequest``, ``RefundRequest`` …); the
disputes API is not in that SDK, so its fields come from PayPal's published OpenAPI document
(paypal/paypal-rest-api-specifications, ``customer_disputes_v1.json``).
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import secrets
import string
from typing import Any

from payment_core.money import Money

from .._server import Response

_COUNTER = itertools.count(1)

ORDER_FIELDS = frozenset(
    {"intent", "purchase_units", "processing_instruction", "payer", "payment_source"}
    | {"application_context"}
)
UNIT_FIELDS = frozenset(
    {"amount", "reference_id", "payee", "payment_instruction", "description", "custom_id"}
    | {"invoice_id", "soft_descriptor", "items", "shipping", "supplementary_data"}
)
CONTEXT_FIELDS = frozenset(
    {"brand_name", "locale", "landing_page", "shipping_preference", "user_action"}
    | {"payment_method", "return_url", "cancel_url", "stored_payment_source"}
)
#: ``OrderCaptureRequest`` and ``OrderAuthorizeRequest`` both hold a payment source only.
ACTION_FIELDS = frozenset({"payment_source"})
SOURCE_FIELDS = frozenset({"card", "token", "paypal", "apple_pay", "google_pay", "venmo"})
CARD_FIELDS = frozenset(
    {"name", "number", "expiry", "security_code", "billing_address", "attributes", "vault_id"}
    | {"single_use_token", "stored_credential", "network_token", "experience_context"}
)
ATTRIBUTES_FIELDS = frozenset({"customer", "vault", "verification"})
VAULT_FIELDS = frozenset({"store_in_vault"})
CUSTOMER_FIELDS = frozenset({"id", "email_address", "phone", "merchant_customer_id"})
STORED_CREDENTIAL_FIELDS = frozenset(
    {"payment_initiator", "payment_type", "usage", "previous_network_transaction_reference"}
)
STORED_CREDENTIAL_VALUES = {
    "payment_initiator": frozenset({"CUSTOMER", "MERCHANT"}),
    "payment_type": frozenset({"ONE_TIME", "RECURRING", "UNSCHEDULED"}),
    "usage": frozenset({"FIRST", "SUBSEQUENT", "DERIVED"}),
}
CAPTURE_FIELDS = frozenset(
    {"amount", "invoice_id", "final_capture", "payment_instruction", "note_to_payer"}
    | {"soft_descriptor"}
)
REAUTHORIZE_FIELDS = frozenset({"amount"})
REFUND_FIELDS = frozenset(
    {"amount", "custom_id", "invoice_id", "note_to_payer", "payment_instruction"}
)
MONEY_FIELDS = frozenset({"currency_code", "value"})
#: "This currency does not support decimals" (PayPal's currency codes).
WHOLE_CURRENCIES = frozenset({"HUF", "JPY", "TWD"})


def new_id() -> str:
    return f"{next(_COUNTER):05d}{secrets.token_hex(6).upper()}"[:17]


def vault_id() -> str:
    """A payment token id as PayPal writes them (``8kk8451t``)."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))


def error(status: int, name: str, message: str, issue: str | None = None) -> Response:
    body: dict[str, Any] = {"name": name, "message": message, "debug_id": secrets.token_hex(6)}
    if issue:
        body["details"] = [{"issue": issue, "description": message}]
    return Response(status, body, {"Paypal-Debug-Id": body["debug_id"]})


def unprocessable(issue: str, message: str) -> Response:
    return error(422, "UNPROCESSABLE_ENTITY", message, issue)


def malformed(message: str, issue: str = "INVALID_PARAMETER_SYNTAX") -> Response:
    return error(400, "INVALID_REQUEST", message, issue)


def not_found() -> Response:
    return error(
        404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.", "INVALID_RESOURCE_ID"
    )


def value(amount: int, currency: str) -> dict[str, str]:
    text = Money.of(amount, currency).format()
    if currency in WHOLE_CURRENCIES:
        text = text.split(".")[0]  # PayPal writes these without decimals
    return {"currency_code": currency, "value": text}


def money(amount: Any) -> Money | None:
    try:
        return Money.parse(amount["value"], amount["currency_code"])
    except (KeyError, TypeError, ValueError):
        return None


def unknown_fields(checks: list[tuple[Any, frozenset[str]]]) -> Response | None:
    for obj, fields in checks:
        unknown = sorted(set(obj) - fields) if isinstance(obj, dict) else []
        if unknown:
            return malformed(f"Request is not well-formed: unknown field {unknown[0]}.")
    return None


def decimals_refused(amounts: list[Any]) -> Response | None:
    for amount in amounts:
        if (
            isinstance(amount, dict)
            and amount.get("currency_code") in WHOLE_CURRENCIES
            and "." in str(amount.get("value"))
        ):
            return unprocessable(
                "DECIMAL_PRECISION",
                "The value of the field should not have decimals for this currency.",
            )
    return None


def card_checks(card: Any) -> list[tuple[Any, frozenset[str]]]:
    """The field checks of a ``payment_source.card`` (a ``CardRequest``) and what it holds."""
    if not isinstance(card, dict):
        return []
    attributes = card.get("attributes") or {}
    checks = [(card, CARD_FIELDS), (attributes, ATTRIBUTES_FIELDS)]
    if isinstance(attributes, dict):
        checks += [(attributes.get("vault") or {}, VAULT_FIELDS)]
        checks += [(attributes.get("customer") or {}, CUSTOMER_FIELDS)]
    checks.append((card.get("stored_credential") or {}, STORED_CREDENTIAL_FIELDS))
    return checks


def stored_credential_refused(card: Any) -> Response | None:
    """PayPal's rules for ``stored_credential`` (the ``card_stored_credential`` schema)."""
    stored = card.get("stored_credential") if isinstance(card, dict) else None
    if not isinstance(stored, dict):
        return None
    for name in ("payment_initiator", "payment_type"):
        if name not in stored:
            return malformed(f"stored_credential.{name} is required.", "MISSING_REQUIRED_PARAMETER")
    for name, allowed in STORED_CREDENTIAL_VALUES.items():
        if name in stored and stored[name] not in allowed:
            return malformed(
                f"stored_credential.{name} is not one of {sorted(allowed)}.",
                "INVALID_PARAMETER_VALUE",
            )
    merchant = stored["payment_initiator"] == "MERCHANT"
    if merchant and (stored["payment_type"] == "ONE_TIME" or stored.get("usage") == "FIRST"):
        return unprocessable(
            "INCOMPATIBLE_PARAMETER_VALUE",
            "payment_type=ONE_TIME and usage=FIRST are compatible only with "
            "payment_initiator=CUSTOMER.",
        )
    if merchant and card.get("security_code"):
        return unprocessable(
            "MERCHANT_INITIATED_WITH_SECURITY_CODE",
            "A merchant-initiated payment cannot carry a security code.",
        )
    if not merchant and "previous_network_transaction_reference" in stored:
        return unprocessable(
            "INCOMPATIBLE_PARAMETER_VALUE",
            "previous_network_transaction_reference is compatible only with "
            "payment_initiator=MERCHANT.",
        )
    return None


def multipart(content_type: str, body: bytes) -> dict[str, bytes] | None:
    """The parts of a ``multipart/form-data`` body by name, or ``None`` if it is not one."""
    if not content_type.startswith("multipart/"):
        return None
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            parts[name] = payload if isinstance(payload, bytes) else b""
    return parts


def json_part(parts: dict[str, bytes], name: str) -> Any:
    try:
        return json.loads(parts[name])
    except (KeyError, ValueError):
        return None
