"""The operator console at ``/console``: pages for the people who run payments.

Served by the API's own process from this package alone: Jinja templates, a stylesheet, a
small script that only enhances (the pages work without it), charts drawn as SVG on the
server; nothing from a CDN and no build step. It has its own sign-in (a session cookie made
from an API key, :mod:`._session`) and is left alone by the API's bearer authentication; its
actions go through the use cases and the idempotency store the API uses (:mod:`._actions`).

``create_app`` adds :func:`console_router` to its routes and :data:`TEMPLATES` as its
template configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from payment_adapters.bootstrap import Runtime
from payment_http.console._charts import percent
from payment_http.console._disputes import ConsoleDisputes
from payment_http.console._guard import PUBLIC, ConsoleHeaders, require_session
from payment_http.console._holds import ConsoleHolds
from payment_http.console._plans import ConsolePlans
from payment_http.console._repairs import ConsoleRepairs
from payment_http.console._state import Console, build_console
from payment_http.console._views import ago, badge, money, when
from payment_http.console.forms import ConsoleForms
from payment_http.console.pages import ConsolePages
from payment_http.console.signin import ConsoleFallback, ConsoleSignIn

__all__ = ["STATIC_DIR", "TEMPLATES", "TEMPLATE_DIR", "Console", "build_console", "console_router"]

TEMPLATE_DIR: Final = Path(__file__).parent / "templates"
STATIC_DIR: Final = Path(__file__).parent / "static"
#: The console is not the API: the API's bearer authentication leaves it to its own sign-in
#: (``public`` is what the API's middleware reads, ``exclude_from_auth`` Litestar's own key).
_NOT_THE_API: Final = {"public": True, "exclude_from_auth": True}


def _filters(engine: JinjaTemplateEngine) -> None:
    env = engine.engine
    env.filters.update({"money": money, "when": when, "badge": badge, "percent": percent})
    env.globals["ago"] = ago
    env.trim_blocks = True
    env.lstrip_blocks = True


TEMPLATES: Final = TemplateConfig(
    directory=TEMPLATE_DIR, engine=JinjaTemplateEngine, engine_callback=_filters
)


def console_router(runtime: Runtime, *, console: Console | None = None) -> Router:
    """The console's routes over ``runtime`` (its services, storage, settings)."""
    console = console or build_console(runtime)

    def provide_console() -> Console:
        return console

    assets = create_static_files_router(
        path="/static",
        directories=[STATIC_DIR],
        name="console-static",
        cache_control=CacheControlHeader(max_age=3600, public=True),
        include_in_schema=False,
        opt={PUBLIC: True},
    )
    handlers: list[Any] = [
        ConsoleSignIn,
        ConsolePages,
        ConsoleForms,
        ConsoleRepairs,
        ConsoleFallback,
    ]
    if console.capabilities.holds:
        handlers.insert(4, ConsoleHolds)
    if console.capabilities.plans:
        handlers.insert(4, ConsolePlans)
    if console.capabilities.disputes:
        handlers.insert(4, ConsoleDisputes)
    return Router(
        "/",
        route_handlers=[*handlers, Router("/console", route_handlers=[assets])],
        dependencies={"console": Provide(provide_console, sync_to_thread=False, use_cache=True)},
        before_request=require_session(console),
        middleware=[DefineMiddleware(ConsoleHeaders)],  # type: ignore[arg-type]
        include_in_schema=False,
        opt=dict(_NOT_THE_API),
    )
