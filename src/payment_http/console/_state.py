"""The console's collaborators, built once per app, and what its handlers share.

Capabilities that other parts of the service do not have yet (card holds, payment plans,
disputes) are found on :class:`~payment_core.services.Services` by name: their pages say
"not available yet" until the use case is there, and switch on by themselves when it is.
"""

from __future__ import annotations

from typing import Any, Final

import attrs
from litestar import Request
from litestar.di import NamedDependency

from payment_adapters.bootstrap import Runtime
from payment_adapters.console import (
    ConsoleQueries,
    SessionStore,
    console_queries,
    console_sessions,
)
from payment_adapters.crypto import load_or_create_dev_key
from payment_core.services import Services
from payment_http.console._session import (
    COOKIE,
    Session,
    Sessions,
    Signer,
    SignInLimiter,
    derive_secret,
)

__all__ = ["SESSION_STATE", "Capabilities", "Console", "ConsoleDep", "build_console"]

#: Where the guard leaves the request's session (``scope["state"]``).
SESSION_STATE: Final = "console_session"
#: A ``Set-Cookie`` value for the response, left by a handler or the guard.
COOKIE_STATE: Final = "console_set_cookie"


@attrs.frozen(slots=True)
class Capabilities:
    """Which use cases of other parts of the service exist in this build."""

    holds: bool
    plans: bool
    disputes: bool

    @classmethod
    def of(cls, services: Services) -> Capabilities:
        payments = services.payments
        return cls(
            holds=callable(getattr(payments, "capture", None)),
            plans=getattr(services, "plans", None) is not None,
            disputes=getattr(services, "disputes", None) is not None,
        )


class Console:
    """Everything a console handler needs.

    A plain class, not an attrs one: Litestar's signature models would read an attrs class's
    fields (down to the runtime's), and the console is injected as it is.
    """

    def __init__(
        self,
        *,
        runtime: Runtime,
        queries: ConsoleQueries,
        sessions: Sessions,
        limiter: SignInLimiter,
        capabilities: Capabilities,
    ) -> None:
        self.runtime = runtime
        self.queries = queries
        self.sessions = sessions
        self.limiter = limiter
        self.capabilities = capabilities

    @property
    def services(self) -> Services:
        return self.runtime.services

    def session(self, request: Request[Any, Any, Any]) -> Session:
        found = request.scope.get("state", {}).get(SESSION_STATE)
        if not isinstance(found, Session):  # pragma: no cover - the guard always sets it
            raise TypeError("console handler reached without a session")
        return found

    def set_cookie(self, request: Request[Any, Any, Any], value: str) -> None:
        request.scope.setdefault("state", {}).setdefault(COOKIE_STATE, []).append(value)

    def cookie_of(self, request: Request[Any, Any, Any]) -> str | None:
        return request.cookies.get(COOKIE)


#: The console, injected by name (Litestar then leaves the value as it is).
ConsoleDep = NamedDependency[Console]


def _session_secret(runtime: Runtime) -> bytes:
    settings = runtime.settings
    spec = settings.encryption_keys
    if not spec and runtime.database is not None:
        # The development key the database is encrypted with (made at bootstrap).
        spec = load_or_create_dev_key(settings.encryption_key_file)
    return derive_secret(spec)


def build_console(
    runtime: Runtime,
    *,
    store: SessionStore | None = None,
    queries: ConsoleQueries | None = None,
    limiter: SignInLimiter | None = None,
) -> Console:
    settings = runtime.settings
    sessions = Sessions(
        store or console_sessions(runtime),
        Signer(_session_secret(runtime)),
        keys=settings.api_keys,
        clock=runtime.services.deps.clock,
        secure=settings.is_production,
    )
    return Console(
        runtime=runtime,
        queries=queries or console_queries(runtime),
        sessions=sessions,
        limiter=limiter or SignInLimiter(),
        capabilities=Capabilities.of(runtime.services),
    )
