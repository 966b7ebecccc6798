"""Reading and validating request bodies, before anything is stored or logged.

The order is deliberate:

1. the raw stream is read up to the limit (64 KiB by default), chunked bodies included: one byte
   more is a 413 ``payload_too_large``;
2. a JSON endpoint wants ``application/json`` (415 ``unsupported_media_type``);
3. the bytes must be JSON (400 ``malformed_json``), an object, not absurdly nested;
4. anything that looks like raw card data, in any value or key at any depth, is a 422
   ``raw_card_data_forbidden``: the request goes no further, so the body is never stored (not
   even as an idempotency record) nor logged;
5. the object is converted *strictly* into the operation's Struct: a float, a numeric string or
   a bool is never an integer, and unknown fields are refused (422, with ``errors``);
6. the operation's own cheap checks (a known currency, a configured provider, ...).

Only then does the idempotency key get claimed and the handler run. The handler takes the
Struct decoded here (:func:`body_of`): a body is read, parsed and converted once. (It is read
from the request's state rather than injected: a second dependency would have Litestar resolve
a handler's dependencies in a task group on every request.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final, TypeVar

import attrs
import msgspec
from litestar import Request

from payment_core.card_data import ASCII_DIGIT_RUN, FORBIDDEN_FIELDS, find_raw_card_data
from payment_core.errors import (
    InvalidAmountError,
    MalformedBodyError,
    RawCardDataError,
    UnknownCurrencyError,
    ValidationError,
)
from payment_core.services import Services
from payment_http.errors import HttpProblem

__all__ = [
    "MAX_DEPTH",
    "BodySpec",
    "ClientDisconnectedError",
    "DecodedBody",
    "body_of",
    "check_content_type",
    "decode_body",
    "json_body",
    "read_body",
]

MAX_DEPTH: Final = 16
_AMOUNT_FIELDS: Final = frozenset({"amount", "unit_amount"})
_MSGSPEC_PATH: Final = re.compile(
    r"^(?P<reason>.*?)(?: - at (?P<key>`key` in )?`\$(?P<path>[^`]*)`)?$", re.DOTALL
)
# A quick look at the raw bytes before the structural scan: a body of ASCII without escapes
# (a \u0034 or a \t could spell a digit or a separator), without a run of 13 digits (as
# card_data joins them) and without a field named like card data cannot hold card data, and
# most bodies are like that. Anything else (non-ASCII text: other scripts' digits and
# spaces) gets the full scan.
_DIGIT_RUN: Final = re.compile(ASCII_DIGIT_RUN)
_CARD_FIELD_NAME: Final = re.compile(
    b'"(?:'
    + b"|".join(re.escape(n.encode()) for n in sorted(FORBIDDEN_FIELDS - {"number"}))
    + b')"',
    re.IGNORECASE,
)
_MISSING: Final = re.compile(r"^Object missing required field `(?P<name>[^`]*)`$")
_UNKNOWN: Final = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`$")
#: Where the decoded body waits for the handler (``scope["state"]``).
_PAYLOAD: Final = "payload"

Check = Callable[[Services, Any], None]
S = TypeVar("S", bound=msgspec.Struct)


@attrs.frozen(slots=True)
class BodySpec:
    """What a JSON endpoint accepts: a Struct type, whether a body is required, extra checks."""

    type: type[msgspec.Struct]
    required: bool = True
    check: Check | None = None


def json_body(
    struct: type[msgspec.Struct], *, required: bool = True, check: Check | None = None
) -> dict[str, Any]:
    """The route ``opt`` marking a JSON endpoint (``@post(..., opt=json_body(T))``)."""
    return {"body": BodySpec(struct, required, check)}


class ClientDisconnectedError(Exception):
    """The client went away while sending its body."""


def _header(scope: Any, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _too_large(limit: int) -> HttpProblem:
    return HttpProblem(413, "payload_too_large", f"the request body is larger than {limit} bytes")


async def read_body(scope: Any, receive: Any, limit: int) -> bytes:
    """The whole body, refused as soon as it passes ``limit`` bytes (declared or streamed)."""
    declared = _header(scope, b"content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnectedError
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def check_content_type(scope: Any) -> None:
    """A JSON body must say it is JSON (``application/json`` or ``application/*+json``)."""
    value = _header(scope, b"content-type")
    if value is None:
        raise HttpProblem(
            415, "unsupported_media_type", "send the body as Content-Type: application/json"
        )
    media, _, params = value.partition(";")
    media = media.strip().lower()
    is_json = media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )
    charset_ok = True
    for param in params.split(";"):
        name, _, val = param.strip().partition("=")
        if name.strip().lower() == "charset":
            charset_ok = val.strip().strip('"').lower() in ("utf-8", "utf8")
    if not is_json or not charset_ok:
        raise HttpProblem(
            415,
            "unsupported_media_type",
            "this endpoint accepts only application/json in UTF-8",
        )


def _depth_ok(value: Any, body: bytes) -> bool:
    if body.count(b"{") + body.count(b"[") <= MAX_DEPTH:
        return True  # too few brackets to nest that deep
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def _may_hold_card_data(body: bytes) -> bool:
    return bool(
        not body.isascii()
        or b"\\" in body
        or _DIGIT_RUN.search(body)
        or _CARD_FIELD_NAME.search(body)
    )


def _card_data_in_keys(value: Any, path: str = "") -> str | None:
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, sub in item.items():
                if find_raw_card_data(str(key)) is not None:
                    return f"{where}.<key>" if where else "<key>"
                stack.append((sub, f"{where}.{key}" if where else str(key)))
        elif isinstance(item, list):
            stack.extend((sub, f"{where}[{i}]") for i, sub in enumerate(item))
    return None


def _field_of(path: str | None, message: str) -> str:
    field = (path or "").lstrip(".")
    for pattern in (_MISSING, _UNKNOWN):
        match = pattern.match(message)
        if match:
            name = match.group("name")
            return f"{field}.{name}" if field else name
    return field or "body"


def _leaf(field: str) -> str:
    return re.split(r"[.\[]", field)[-1].rstrip("]")


def _validation_problem(exc: msgspec.ValidationError) -> HttpProblem:
    text = str(exc)
    match = _MSGSPEC_PATH.match(text)
    reason = match.group("reason") if match else text
    path = match.group("path") if match else None
    if match and match.group("key"):
        reason = f"a key: {reason}"
    field = _field_of(path, reason)
    leaf = _leaf(field)
    missing = _MISSING.match(reason) is not None
    unknown = _UNKNOWN.match(reason) is not None
    code = ValidationError.code
    if not missing and not unknown:
        if leaf in _AMOUNT_FIELDS:
            code = InvalidAmountError.code
        elif leaf == "currency":
            code = UnknownCurrencyError.code
    if unknown:
        reason = "unknown field"
    elif missing:
        reason = "required"
    return HttpProblem.refused(code, f"{field}: {reason}", errors=[(field, reason)])


def _invalid(detail: str, reason: str) -> HttpProblem:
    return HttpProblem.refused(ValidationError.code, detail, errors=[("body", reason)])


@attrs.frozen(slots=True)
class DecodedBody:
    """A validated body: the operation's Struct, and the JSON document it was converted from."""

    value: msgspec.Struct
    document: Any

    def canonical(self) -> bytes:
        """The document's canonical bytes (sorted keys, no whitespace), for fingerprints."""
        return msgspec.json.encode(self.document, order="sorted")

    def hand_over(self, scope: Any) -> None:
        """Keep the Struct for the handler (:func:`body_of`)."""
        scope["state"][_PAYLOAD] = self.value


def body_of(request: Request[Any, Any, Any], kind: type[S]) -> S:
    """The body of ``request`` as :func:`decode_body` decoded and validated it (a ``kind``)."""
    value = request.scope["state"][_PAYLOAD]
    if not isinstance(value, kind):  # pragma: no cover - a route whose opt names another type
        raise TypeError(f"the body was decoded as {type(value).__name__}, not {kind.__name__}")
    return value


def decode_body(body: bytes, spec: BodySpec, services: Services) -> DecodedBody:
    """Steps 3 to 6 of the module docstring."""
    if not body.strip():
        if spec.required:
            raise _invalid("a JSON object body is required", "required")
        value: Any = {}
    else:
        try:
            value = msgspec.json.decode(body)
        except (msgspec.DecodeError, RecursionError):
            raise HttpProblem.refused(
                MalformedBodyError.code, "the body is not valid JSON"
            ) from None
        if not isinstance(value, dict):
            raise _invalid("the body must be a JSON object", "must be an object")
        if not _depth_ok(value, body):
            raise _invalid(
                f"the body is nested deeper than {MAX_DEPTH} levels", "too deeply nested"
            )
        if _may_hold_card_data(body):
            found = find_raw_card_data(value) or _card_data_in_keys(value)
            if found is not None:
                raise RawCardDataError(field=found)
    try:
        struct = msgspec.convert(value, spec.type, strict=True)
    except msgspec.ValidationError as exc:
        raise _validation_problem(exc) from None
    if spec.check is not None:
        spec.check(services, struct)
    return DecodedBody(struct, value)
