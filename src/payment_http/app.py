"""``create_app(runtime)``: the Litestar application over a ready :class:`Runtime`.

Layers of a request, outermost first:

1. Litestar's routing and error handling (every error becomes a problem document,
   :mod:`payment_http.errors`), with :class:`~payment_http.context.RequestContext`'s
   ``before_send`` hook: the ``X-Request-Id`` header, the access log and the latency metric of
   every response, the router's 404s and 405s included;
2. :class:`~payment_http.context.RequestContext`: the request id, bound to every log line of
   the request, and its clock;
3. :class:`~payment_http.auth.ApiKeyAuthentication`: bearer keys, before anything reads the body;
4. :class:`StartupGate`: 503 while the process still waits for its database at start;
5. :class:`~payment_http.idempotency.RequestPipelineMiddleware`: body limits and strict
   validation (the decoded body is what the handler takes), then the ``Idempotency-Key``
   claim, replay and record;
6. the controllers, thin: a use case of :class:`~payment_core.services.Services` each.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme, Tag
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_204_NO_CONTENT

from payment_adapters.bootstrap import Runtime
from payment_core.services import Services
from payment_http._asgi import ASGIApp, Receive, Scope, Send
from payment_http.auth import ApiKeyAuthentication
from payment_http.console import TEMPLATES, console_router
from payment_http.context import RequestContext
from payment_http.controllers import CONTROLLERS
from payment_http.docs_ui import PinnedScalarRenderPlugin, docs_router
from payment_http.errors import HttpProblem, exception_handlers
from payment_http.idempotency import RequestPipelineMiddleware
from payment_http.metrics import Metrics, PrometheusObserver
from payment_http.openapi import publish
from payment_http.query import DeclaredQuery

__all__ = ["StartupGate", "create_app", "metrics_for"]

logger = logging.getLogger(__name__)

_DOCS_PATH = "/schema"

_DESCRIPTION = """\
Payments, refunds, invoices and a tamper-evident audit trail for bookings.

Money is always an integer `amount` of minor units with an upper-case ISO 4217 `currency`.
Integers are written as integers: `12.0`, `1e3` or `"12"` where an integer is due is 422.
No field may carry anything that looks like a card number (422 `raw_card_data_forbidden`).
Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `code`.
Every `POST` and `PATCH` accepts an `Idempotency-Key`. Authenticate with
`Authorization: Bearer <key>`; the reference reads, `/health/*`, `/metrics` and the provider
webhooks are public.
"""


def _version() -> str:
    try:
        return version("payment-service")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


def metrics_for(runtime: Runtime) -> Metrics:
    """The runtime's metrics when it was built with a Prometheus observer, else new ones."""
    observer = runtime.observer
    if isinstance(observer, PrometheusObserver):
        return observer.metrics
    return Metrics()


class StartupGate:
    """503 for the API while the process still waits for its database at start.

    ``serve`` answers HTTP at once so that ``/health/ready`` can say what it waits for; the
    API's own routes would only fail on a database that is down or not yet migrated, so they
    say "not yet" instead (``Retry-After``), and nothing is accepted. Health, metrics and the
    documents under ``/schema`` are served as ever.
    """

    _ALWAYS: Final = ("/health/", "/metrics", "/schema")

    def __init__(self, app: ASGIApp, *, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and not self.runtime.ready
            and not str(scope.get("path", "")).startswith(self._ALWAYS)
        ):
            raise HttpProblem(
                503,
                "service_unavailable",
                f"starting: waiting for the {self.runtime.waiting_for}; retry shortly",
                headers={"Retry-After": "1"},
            )
        await self.app(scope, receive, send)


class _OptionsAnswer:
    """``OPTIONS`` answered with every method of the path; any other method's query checked.

    Litestar 2 builds a path's ``OPTIONS`` answer when the path's first handler is registered
    and never updates it, so ``OPTIONS /api/v1/invoices/{invoice_id}`` left ``PATCH`` out of
    ``Allow`` (fixed upstream in Litestar 3). The methods are read from the finished routes.
    """

    def __init__(self, query: DeclaredQuery) -> None:
        self.allow: dict[str, str] = {}
        self.query = query

    def learn(self, app: Litestar) -> None:
        self.allow = {
            route.path_format: ", ".join(sorted(route.methods))
            for route in app.routes
            if isinstance(route, HTTPRoute)
        }

    async def __call__(self, request: Request[Any, Any, Any]) -> Response[None] | None:
        if request.method != "OPTIONS":
            self.query.check(request)
            return None
        allow = self.allow.get(str(request.scope.get("path_template", "")))
        if allow is None:
            return None
        return Response(None, status_code=HTTP_204_NO_CONTENT, headers={"Allow": allow})


def create_app(runtime: Runtime, *, metrics: Metrics | None = None) -> Litestar:
    """The HTTP API over ``runtime`` (its services, idempotency store, settings)."""
    metrics = metrics or metrics_for(runtime)
    settings = runtime.settings
    if not settings.api_keys:
        logger.warning("API_KEYS is unset: the API is open to anyone who can reach it")
    services: Services = runtime.services

    def provide_services() -> Services:
        return services

    def provide_metrics() -> Metrics:
        return metrics

    query = DeclaredQuery()
    options = _OptionsAnswer(query)
    context = RequestContext(metrics)
    app = Litestar(
        route_handlers=[*CONTROLLERS, console_router(runtime)],
        template_config=TEMPLATES,
        before_request=options,
        before_send=[context.before_send],
        dependencies={
            "services": Provide(provide_services, sync_to_thread=False, use_cache=True),
            "metrics": Provide(provide_metrics, sync_to_thread=False, use_cache=True),
        },
        middleware=[
            context,
            DefineMiddleware(ApiKeyAuthentication, keys=settings.api_keys),
            DefineMiddleware(StartupGate, runtime=runtime),  # type: ignore[arg-type]
            DefineMiddleware(
                RequestPipelineMiddleware,  # type: ignore[arg-type]
                runtime=runtime,
                metrics=metrics,
            ),
        ],
        exception_handlers=exception_handlers(),
        openapi_config=OpenAPIConfig(
            title="Payment & Billing Service",
            version=_version(),
            description=_DESCRIPTION,
            path=_DOCS_PATH,
            # The browsable reference is shipped in the package: nothing is loaded from elsewhere.
            render_plugins=[PinnedScalarRenderPlugin(path="/")],
            openapi_router=docs_router(_DOCS_PATH),
            components=Components(
                security_schemes={
                    "BearerAuth": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="An API key from `API_KEYS`.",
                    )
                }
            ),
            tags=[
                Tag(name="payments"),
                Tag(name="refunds"),
                Tag(name="invoices"),
                Tag(name="credit notes"),
                Tag(name="documents"),
                Tag(name="billing"),
                Tag(name="webhooks"),
                Tag(name="health"),
            ],
            use_handler_docstrings=False,
        ),
        logging_config=None,
        request_max_body_size=settings.max_body_bytes,
        state=State({"runtime": runtime, "metrics": metrics}),
        debug=False,
    )
    options.learn(app)
    query.learn(app, publish(app, services.deps.providers.names))
    metrics.set_outbox_probe(runtime.outbox_backlog)
    return app
