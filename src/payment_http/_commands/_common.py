"""What every command shares: exit codes, configuration errors, the runtime, the event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Final

from payment_adapters.settings import Settings, SettingsError
from payment_core.errors import ValidationError

if TYPE_CHECKING:
    from payment_adapters.bootstrap import Runtime
    from payment_core.services import Observer

__all__ = [
    "EXIT_CONFIGURATION",
    "EXIT_FAILURE",
    "EXIT_OK",
    "ConfigurationError",
    "bootstrap",
    "configuration_errors",
    "run_async",
]

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_CONFIGURATION: Final = 2

#: Variables whose problems the adapters report as ``ValueError("VARIABLE...: reason")``.
_VARIABLES: Final = ("DATABASE_URL", "ENCRYPTION_KEYS")


class ConfigurationError(Exception):
    """A setting that cannot work, found while building the runtime."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable
        self.reason = reason


def _as_configuration_error(exc: Exception) -> ConfigurationError | None:
    if isinstance(exc, SettingsError):
        return ConfigurationError(exc.variable, exc.reason)
    if isinstance(exc, ValidationError) and exc.field.isupper():
        # The provider registry names the variable it refuses (STRIPE_API_KEY, ...).
        return ConfigurationError(exc.field, exc.reason)
    text = str(exc)
    for variable in _VARIABLES:
        if text.startswith(variable):
            reason = text[len(variable) :].lstrip(" :") or "invalid"
            return ConfigurationError(variable, reason)
    if isinstance(exc, RuntimeError) and text.startswith("PAYMENT_PROVIDER="):
        return ConfigurationError("PAYMENT_PROVIDER", text.partition(" ")[2] or "invalid")
    return None


@contextlib.contextmanager
def configuration_errors() -> Iterator[None]:
    """Raise a ``ValueError`` or ``RuntimeError`` that names a setting as a
    :class:`ConfigurationError`; anything else as it is."""
    try:
        yield
    except (ValueError, RuntimeError) as exc:
        config = _as_configuration_error(exc)
        if config is not None:
            raise config from None
        raise


async def bootstrap(
    settings: Settings,
    *,
    observer: Observer | None = None,
    migrate: bool | None = None,
    wait: bool = False,
) -> Runtime:
    """:func:`payment_adapters.bootstrap.bootstrap`, its setting errors as configuration errors."""
    from payment_adapters.bootstrap import bootstrap  # noqa: PLC0415

    with configuration_errors():
        return await bootstrap(settings, observer=observer, migrate=migrate, wait=wait)


def run_async(coro: Coroutine[Any, Any, int]) -> int:
    """Run ``coro`` on uvloop when it is installed, else on asyncio's own loop."""
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)
