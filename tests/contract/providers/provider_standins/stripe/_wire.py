"""Stripe's wire format: form-encoded parameters checked against the official SDK's types,
errors as Stripe writes them, ids, and its amount steps per currency.

A parameter an endpoint does not have is 400 ``parameter_unknown`` (Stripe names the path,
``evidence[foo]``); the endpoint's parameters and their nested objects are read from the SDK's
``TypedDict`` definitions (``stripe.params``), so the stand-in knows exactly what the SDK lets a
caller send. A value outside a parameter's documented choices (``capture_method=later``), a
``bool`` that is not ``true``/``false`` or an ``int`` that is not digits is refused the way
Stripe refuses it.
"""

from __future__ import annotations

import itertools
import re
import secrets
import sys
from typing import Any

from stripe._request_options import RequestOptions

from .._server import Response

_COUNTER = itertools.count(1)
_REQUEST_OPTIONS = frozenset(RequestOptions.__annotations__)
#: Parameters younger than the API: the first version that has each.
SINCE_VERSION = {"allowed_payment_method_types": "2026-07-29"}
#: Stripe's amount steps in its own unit (docs.stripe.com/currencies, special cases).
AMOUNT_STEPS = {"isk": 100, "ugx": 100, "bhd": 10, "jod": 10, "kwd": 10, "omr": 10, "tnd": 10}


def new_id(prefix: str) -> str:
    return f"{prefix}_{next(_COUNTER):06d}{secrets.token_hex(6)}"


def error(status: int, type_: str, message: str, **extra: Any) -> Response:
    return Response(
        status,
        {"error": {"type": type_, "message": message, **extra}},
        {"Request-Id": new_id("req")},
    )


def invalid(message: str, **extra: Any) -> Response:
    return error(400, "invalid_request_error", message, **extra)


def missing(kind: str, ident: str, param: str = "id") -> Response:
    return invalid(f"No such {kind}: '{ident}'", code="resource_missing", param=param)


def unexpected_state(message: str, **extra: Any) -> Response:
    return invalid(message, code="payment_intent_unexpected_state", **extra)


def bad_amount(amount: int, currency: str, param: str = "amount") -> Response | None:
    step = AMOUNT_STEPS.get(currency, 1)
    if amount % step == 0:
        return None
    return invalid(
        f"Invalid amount. Currency {currency.upper()} charged amounts must be evenly "
        f"divisible by {step}. See https://stripe.com/docs/currencies#special-cases",
        code="invalid_charge_amount_no_decimal_compatible",
        param=param,
    )


def parse_stripe_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``a[b][0]=x`` pairs -> nested dicts and lists, as Stripe reads them."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def lists(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: lists(v) for k, v in node.items()}
            if node and all(k.isdigit() for k in node):
                return [node[k] for k in sorted(node, key=int)]
        return node

    return lists(root)


def flat(params: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(params, dict):
        out: list[tuple[str, str]] = []
        for key, value in params.items():
            out += flat(value, f"{prefix}[{key}]" if prefix else key)
        return out
    if isinstance(params, list):
        out = []
        for i, value in enumerate(params):
            out += flat(value, f"{prefix}[{i}]")
        return out
    return [(prefix, str(params))]


def integer(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    return int(value) if isinstance(value, str) and value.isdigit() else None


# ---------------------------------------------------------------------------- typed parameters
def _fields(params_type: type) -> dict[str, Any]:
    return {
        name: annotation
        for name, annotation in params_type.__annotations__.items()
        if name not in _REQUEST_OPTIONS
    }


def _nested(params_type: type, name: str, annotation: Any) -> type | None:
    """The SDK names a nested object's type after its parent and field (``…ParamsEvidence``)."""
    module = sys.modules[params_type.__module__]
    for ident in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", repr(annotation)):
        found = getattr(module, ident, None)
        if ident.startswith(params_type.__name__) and isinstance(found, type):
            return found
    return None


def _value_problem(path: str, annotation: Any, value: str) -> Response | None:
    text = repr(annotation)
    literals = " ".join(re.findall(r"Literal\[([^\]]*)\]", text))
    choices = [c for c in re.findall(r"'([^']*)'", literals) if c]
    if any(t in text for t in ("Dict[", "List[", "UntypedStripeObject")):
        return None
    if choices:
        allowed = choices + (["true", "false"] if "bool" in text else [])
        if value not in allowed:
            listed = ", ".join(allowed[:-1]) + f", or {allowed[-1]}" if len(allowed) > 1 else ""
            return invalid(f"Invalid {path}: must be one of {listed or allowed[0]}", param=path)
        return None
    if re.search(r"\bbool\b", text) and value not in ("true", "false"):
        return invalid(f"Invalid boolean: {value}", param=path)
    if re.search(r"\bint\b", text) and not (value.isdigit() or (value == "" and "''" in literals)):
        return invalid(f"Invalid integer: {value}", code="parameter_invalid_integer", param=path)
    return None


def check_params(params: dict[str, Any], params_type: type, prefix: str = "") -> Response | None:
    """400 for a parameter ``params_type`` lacks (at any depth) or a value it cannot take."""
    fields = _fields(params_type)
    for name, value in params.items():
        path = f"{prefix}[{name}]" if prefix else name
        if name not in fields:
            return invalid(
                f"Received unknown parameter: {path}", code="parameter_unknown", param=path
            )
        nested = _nested(params_type, name, fields[name])
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict) and nested is not None:
                problem = check_params(item, nested, path)
            elif isinstance(item, str) and nested is not None and item != "":
                problem = invalid(f"Invalid hash: {path}", param=path)
            elif isinstance(item, str) and nested is None:
                problem = _value_problem(path, fields[name], item)
            else:
                problem = None
            if problem is not None:
                return problem
    return None
