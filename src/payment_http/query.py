"""Query parameters an operation does not declare are refused, as Stripe refuses them.

A misspelt ``?limt=10`` answered with the default page would look like success to the client
that sent it; a name the operation does not know (also the empty name of ``?=x``) is a 422
``validation_error`` naming it. What an operation declares is read from the published OpenAPI
document, so the check and the document cannot disagree. Webhooks are left alone: the URL a
provider calls is configured by hand, and a webhook is judged by its signature.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qsl

from litestar import Litestar, Request
from litestar.openapi.spec import OpenAPI, Operation
from litestar.routes import HTTPRoute

from payment_core.errors import ValidationError

__all__ = ["DeclaredQuery"]

_NOT_CHECKED: Final = frozenset({"handleWebhook"})
_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class DeclaredQuery:
    """The query parameters each published operation declares, checked before its handler."""

    def __init__(self) -> None:
        self.allowed: dict[tuple[str, str], frozenset[str]] = {}

    def learn(self, app: Litestar, document: OpenAPI) -> None:
        paths = document.paths or {}
        for route in app.routes:
            if not isinstance(route, HTTPRoute) or route.path_format not in paths:
                continue
            item = paths[route.path_format]
            for method in _METHODS:
                operation = getattr(item, method, None)
                if not isinstance(operation, Operation):
                    continue
                if operation.operation_id in _NOT_CHECKED:
                    continue
                names = frozenset(
                    getattr(p, "name", "")
                    for p in operation.parameters or ()
                    if getattr(p, "param_in", None) == "query"
                )
                self.allowed[(route.path_format, method.upper())] = names

    def check(self, request: Request[Any, Any, Any]) -> None:
        raw = request.scope.get("query_string", b"")
        if not raw:
            return  # most requests (every create) carry no query: nothing to look up
        template = str(request.scope.get("path_template", ""))
        allowed = self.allowed.get((template, request.method))
        if allowed is None:
            return
        # Read from the raw query: Litestar's parsed one drops a pair with an empty name and
        # value (``?cursor=&=``), which is no parameter of any operation either.
        for name, _ in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
            if name not in allowed:
                raise ValidationError(name or "query", "not a parameter of this operation")
