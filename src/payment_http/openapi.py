"""The published OpenAPI document: Litestar's operations, msgspec's schemas.

Litestar describes the paths, parameters and responses from the route handlers. The bodies
are described by what validates them: each JSON operation's :class:`~payment_http.body.BodySpec`
(its Struct and whether a body is required) and msgspec's own JSON Schema of the Structs in
:mod:`payment_http.schemas`, the very types the request decoder converts with (and of the views
of :mod:`payment_adapters.wire` the responses are). So what the document promises and what the
service enforces come from one declaration (Litestar's own
translation of msgspec constraints drops some: a dict's size, its keys' and values' lengths,
``additionalProperties: false``, and it offers ``null`` for an optional body).

Links say where a response leads (the payment just created can be confirmed, refunded, read by
its reference, ...), for readers, clients and stateful tests alike. What only the running
service knows is filled in last: the providers it is configured with
(the ``provider`` a payment may name, the ``{provider}`` a webhook is sent to).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterator, Sequence
from typing import Any, Final, cast

import msgspec
from litestar import Litestar
from litestar.openapi.spec import (
    Link,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
)
from litestar.routes import HTTPRoute
from typing_extensions import is_typeddict

from payment_http import _dispute_schemas, plan_schemas, schemas
from payment_http.body import BodySpec

__all__ = ["WIRE_TYPES", "publish"]

_REF_TEMPLATE: Final = "#/components/schemas/{name}"
_JSON: Final = "application/json"

#: Every body the API reads or writes: the request and HTTP-only Structs, and the resources'
#: views (TypedDicts shared with the events).
WIRE_TYPES: Final[tuple[type, ...]] = tuple(
    value
    for module in (schemas, plan_schemas, _dispute_schemas)
    for name in module.__all__
    if inspect.isclass(value := getattr(module, name))
    and (is_typeddict(value) or issubclass(value, msgspec.Struct))
)
_COMPONENTS: Final[dict[str, dict[str, Any]]] = msgspec.json.schema_components(
    WIRE_TYPES, ref_template=_REF_TEMPLATE
)[1]


def _operations(document: OpenAPI, route: HTTPRoute) -> Iterator[tuple[Operation, BodySpec]]:
    item = (document.paths or {}).get(route.path_format)
    if item is None:
        return
    for handler in route.route_handlers:
        spec = handler.opt.get("body")
        if not isinstance(spec, BodySpec):
            continue
        for method in handler.http_methods:
            operation = getattr(item, method.lower(), None)
            if isinstance(operation, Operation):
                yield operation, spec


def _declare_bodies(app: Litestar, document: OpenAPI) -> None:
    """Each JSON operation's body: its Struct, optional when the operation takes none."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for operation, spec in _operations(document, route):
            operation.request_body = RequestBody(
                content={
                    _JSON: OpenAPIMediaType(
                        schema=Reference(ref=_REF_TEMPLATE.format(name=spec.type.__name__))
                    )
                },
                required=spec.required,
                description=None if spec.required else "May be left out.",
            )


def _body(pointer: str) -> str:
    return f"$response.body#/{pointer}"


_PAYMENT: Final = {
    "getPayment": {"payment_id": _body("id")},
    "getPaymentByReference": {"reference": _body("reference")},
    "confirmPayment": {"payment_id": _body("id")},
    "cancelPayment": {"payment_id": _body("id")},
    "listBookingPayments": {"booking_id": _body("booking_id")},
    "listPaymentRefunds": {"payment_id": _body("id")},
    "listBookingBillingRecords": {"booking_id": _body("booking_id")},
}
_REFUND: Final = {
    "getRefund": {"refund_id": _body("id")},
    "getRefundByReference": {"reference": _body("reference")},
    "processRefund": {"refund_id": _body("id")},
    "getPayment": {"payment_id": _body("payment_id")},
    "listPaymentRefunds": {"payment_id": _body("payment_id")},
}
_INVOICE: Final = {
    "getInvoice": {"invoice_id": _body("id")},
    "updateInvoice": {"invoice_id": _body("id")},
    "listBookingInvoices": {"booking_id": _body("booking_id")},
}
#: operation id -> status -> linked operation id -> its parameters (and, for a body, "body").
_LINKS: Final[dict[str, dict[str, dict[str, dict[str, Any]]]]] = {
    "createPayment": {
        "201": {**_PAYMENT, "createRefund": {"body": {"payment_id": _body("id")}}},
    },
    "confirmPayment": {
        "200": {**_PAYMENT, "createRefund": {"body": {"payment_id": _body("id")}}},
    },
    "cancelPayment": {"200": _PAYMENT},
    "getPayment": {"200": _PAYMENT},
    "createRefund": {"201": _REFUND},
    "processRefund": {"200": _REFUND},
    "getRefund": {"200": _REFUND},
    "createInvoice": {"201": _INVOICE},
    "updateInvoice": {
        "200": {**_INVOICE, "getInvoiceByNumber": {"number": _body("number")}},
    },
    "getInvoice": {"200": _INVOICE},
}


def _declare_links(document: OpenAPI) -> None:
    for item in (document.paths or {}).values():
        for method in ("get", "post", "patch"):
            operation = getattr(item, method)
            if operation is None or operation.operation_id not in _LINKS:
                continue
            for status, targets in _LINKS[operation.operation_id].items():
                response = (operation.responses or {}).get(status)
                if not isinstance(response, OpenAPIResponse):
                    continue
                links: dict[str, Link | Reference] = {}
                for target, values in targets.items():
                    parameters = {k: v for k, v in values.items() if k != "body"}
                    links[target] = Link(
                        operation_id=target,
                        parameters=parameters or None,
                        request_body=values.get("body"),
                    )
                response.links = links


def _narrow_provider(components: dict[str, Any], providers: Sequence[str]) -> None:
    choices = components["CreatePaymentRequest"]["properties"]["provider"]["anyOf"]
    choices[0] = {
        **choices[0],
        "enum": list(providers),
        "description": "A provider this deployment is configured with (default: "
        "`PAYMENT_PROVIDER`); any other name is 422 `unknown_provider`.",
    }


def _narrow_webhook_provider(document: OpenAPI, providers: Sequence[str]) -> None:
    for item in (document.paths or {}).values():
        operation = item.post
        if operation is None or operation.operation_id != "handleWebhook":
            continue
        for parameter in operation.parameters or ():
            if isinstance(parameter, Parameter) and parameter.name == "provider":
                schema = parameter.schema if isinstance(parameter.schema, Schema) else Schema()
                schema.enum = list(providers)
                parameter.schema = schema


def publish(app: Litestar, providers: Sequence[str]) -> OpenAPI:
    """Complete ``app``'s OpenAPI document (Litestar builds it now, once) and return it."""
    document = app.openapi_schema
    if document.components is None:  # pragma: no cover - Litestar always makes them
        raise RuntimeError("the OpenAPI document has no components")
    exact = copy.deepcopy(_COMPONENTS)  # this deployment's copy, narrowed below
    _narrow_provider(exact, providers)
    # Plain dicts serialise as they are (``to_schema`` walks them), so msgspec's schemas go in.
    cast("dict[str, Any]", document.components.schemas).update(exact)
    _declare_bodies(app, document)
    _declare_links(document)
    _narrow_webhook_provider(document, providers)
    return document
