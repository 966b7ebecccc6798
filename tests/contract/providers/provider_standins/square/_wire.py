"""Square's wire format: the request fields of the official SDK's clients, errors, ids, times
and RFC 3339 durations.

Field sets are the JSON bodies the SDK's raw clients send (square/square-python-sdk,
``src/square/{payments,refunds,customers,cards,disputes}/raw_client.py``) and its ``Card`` and
``Payment`` request types.
"""

from __future__ import annotations

import itertools
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from .._server import Response

_COUNTER = itertools.count(1)

CREATE_PAYMENT = frozenset(
    {"source_id", "idempotency_key", "amount_money", "tip_money", "app_fee_money"}
    | {"app_fee_allocations", "delay_duration", "delay_action", "autocomplete", "order_id"}
    | {"customer_id", "location_id", "team_member_id", "reference_id", "verification_token"}
    | {"accept_partial_authorization", "buyer_email_address", "buyer_phone_number"}
    | {"billing_address", "shipping_address", "note", "statement_description_identifier"}
    | {"cash_details", "external_details", "customer_details", "offline_payment_details"}
)
#: ``UpdatePayment``: the body, and the payment fields Square lets it change (docs:
#: "You can update only the delay_action, amount_money, app_fee_money and tip_money").
UPDATE_PAYMENT = frozenset({"payment", "idempotency_key"})
UPDATABLE = frozenset({"amount_money", "tip_money", "app_fee_money", "delay_action"})
PAYMENT_FIELDS = frozenset(
    {"id", "created_at", "updated_at", "amount_money", "tip_money", "total_money"}
    | {"app_fee_money", "approved_money", "processing_fee", "refunded_money", "status"}
    | {"delay_duration", "delay_action", "delayed_until", "source_type", "card_details"}
    | {"location_id", "order_id", "reference_id", "customer_id", "note", "version_token"}
    | {"capabilities", "receipt_number", "refund_ids", "risk_evaluation", "buyer_email_address"}
)
REFUND = frozenset(
    {"idempotency_key", "amount_money", "app_fee_money", "app_fee_allocations", "payment_id"}
    | {"destination_id", "unlinked", "location_id", "customer_id", "reason"}
    | {"payment_version_token", "team_member_id", "cash_details", "external_details"}
)
COMPLETE = frozenset({"version_token"})
CREATE_CUSTOMER = frozenset(
    {"idempotency_key", "given_name", "family_name", "company_name", "nickname"}
    | {"email_address", "address", "phone_number", "reference_id", "note", "birthday", "tax_ids"}
)
CREATE_CARD = frozenset({"idempotency_key", "source_id", "verification_token", "card"})
CARD_FIELDS = frozenset(
    {"id", "card_brand", "last_4", "exp_month", "exp_year", "cardholder_name"}
    | {"billing_address", "fingerprint", "customer_id", "merchant_id", "reference_id"}
    | {"enabled", "card_type", "prepaid_type", "bin", "created_at", "disabled_at", "version"}
    | {"card_co_brand", "issuer_alert", "issuer_alert_at", "hsa_fsa"}
)
EVIDENCE_TEXT = frozenset({"idempotency_key", "evidence_type", "evidence_text"})
EVIDENCE_TYPES = frozenset(
    {"GENERIC_EVIDENCE", "ONLINE_OR_APP_ACCESS_LOG", "AUTHORIZATION_DOCUMENTATION"}
    | {"CANCELLATION_OR_REFUND_DOCUMENTATION", "CARDHOLDER_COMMUNICATION"}
    | {"CARDHOLDER_INFORMATION", "PURCHASE_ACKNOWLEDGEMENT", "DUPLICATE_CHARGE_DOCUMENTATION"}
    | {"PRODUCT_OR_SERVICE_DESCRIPTION", "RECEIPT", "SERVICE_RECEIVED_DOCUMENTATION"}
    | {"PROOF_OF_DELIVERY_DOCUMENTATION", "RELATED_TRANSACTION_DOCUMENTATION"}
    | {"REBUTTAL_EXPLANATION", "TRACKING_NUMBER"}
)
MONEY_FIELDS = frozenset({"amount", "currency"})
NO_BODY = frozenset[str]()
#: Delayed capture of a card-not-present payment: at least a minute, at most (and by default)
#: seven days (docs: payments-api/take-payments/card-payments/delayed-capture).
DELAY_DEFAULT = "P7D"
DELAY_MIN = timedelta(minutes=1)
DELAY_MAX = timedelta(days=7)


def new_id(prefix: str = "") -> str:
    return f"{prefix}{next(_COUNTER):06d}{secrets.token_hex(10)}"


def error(
    status: int, category: str, code: str, detail: str, field: str | None = None, **extra: Any
) -> Response:
    """Square's errors: ``field`` inside the error, anything else (``payment``) beside them."""
    item = {"category": category, "code": code, "detail": detail}
    if field is not None:
        item["field"] = field
    return Response(status, {"errors": [item], **extra})


def bad_request(code: str, detail: str, **extra: Any) -> Response:
    return error(400, "INVALID_REQUEST_ERROR", code, detail, **extra)


def not_found(what: str = "Resource") -> Response:
    return error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", f"{what} not found.")


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


_DURATION = re.compile(
    r"^P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


def duration(text: Any) -> timedelta | None:
    """An RFC 3339 (ISO 8601) duration such as ``P7D`` or ``PT36H``; ``None`` if it is not one."""
    match = _DURATION.match(text) if isinstance(text, str) and text not in ("P", "PT") else None
    if match is None or text.endswith("T"):
        return None
    return timedelta(**{k: int(v) for k, v in match.groupdict().items() if v})


def unknown_field(body: dict[str, Any], fields: frozenset[str]) -> Response | None:
    extra = set(body) - fields
    money = body.get("amount_money")
    if isinstance(money, dict):
        extra |= {f"amount_money.{name}" for name in set(money) - MONEY_FIELDS}
    if not extra:
        return None
    name = min(extra)
    return bad_request("BAD_REQUEST", f"Unrecognized field `{name}`.", field=name)
