"""One autocommit statement straight to asyncpg, for the hottest writes on PostgreSQL.

Used for single autocommit statements whose answer is at most one row (creating a payment;
claiming or completing an idempotency key): SQLAlchemy compiles the statement and processes
its values, and the pooled connection's asyncpg connection runs it. Errors come out as
SQLAlchemy's, and a broken connection is invalidated. While anything listens to SQLAlchemy's
statement events (``echo``, the ``sqlalchemy.engine`` logger at INFO, a tracer) statements go
the usual way (``driver_path_open``). Why: docs/design-notes.md; figures: bench/README.md.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import greenlet_spawn

__all__ = ["DriverStatement", "driver_path_open", "fetchrow"]

_ENGINE_LOGGER: Final = logging.getLogger("sqlalchemy.engine.Engine")
_REQUIRED: Final = object()

#: PEP 249 exception class by SQLSTATE class (the first two characters).
_BY_CLASS: Final[dict[str, type[sa_exc.DBAPIError]]] = {
    "08": sa_exc.OperationalError,  # connection exception
    "0A": sa_exc.NotSupportedError,
    "22": sa_exc.DataError,
    "23": sa_exc.IntegrityError,
    "25": sa_exc.InternalError,  # invalid transaction state
    "40": sa_exc.OperationalError,  # serialization failure, deadlock
    "42": sa_exc.ProgrammingError,
    "53": sa_exc.OperationalError,  # insufficient resources
    "54": sa_exc.OperationalError,  # program limit exceeded
    "55": sa_exc.OperationalError,  # object not in prerequisite state
    "57": sa_exc.OperationalError,  # operator intervention (shutdown, cancel)
    "58": sa_exc.OperationalError,  # system error
    "XX": sa_exc.InternalError,
}


@attrs.frozen
class DriverStatement:
    """A statement compiled for asyncpg: its SQL and how to turn parameters into arguments."""

    sql: str
    #: Per ``$n`` in order: the parameter name, the type's bind processor, a literal value.
    binds: tuple[tuple[str, Callable[[Any], Any] | None, Any], ...]

    @classmethod
    def compile(cls, statement: ClauseElement, dialect: Dialect) -> DriverStatement:
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler):  # pragma: no cover - DDL is not sent here
            raise TypeError(f"not a SQL statement: {statement!r}")
        if compiled.positiontup is None:  # pragma: no cover - asyncpg's style is positional
            raise TypeError(f"{dialect.name} does not compile to positional parameters")
        # The processors SQLAlchemy's own execute applies (DefaultExecutionContext).
        processors = compiled._bind_processors
        literals = {k: b.value for k, b in compiled.binds.items() if not b.required}
        binds = []
        for name in compiled.positiontup:
            process = processors.get(name)
            if process is not None and not callable(process):  # pragma: no cover - tuple types
                raise TypeError(f"parameter {name!r} needs the usual execute path")
            binds.append((name, process, literals.get(name, _REQUIRED)))
        return cls(compiled.string, tuple(binds))

    def arguments(self, parameters: Mapping[str, Any]) -> list[Any]:
        """The values for ``$1, $2, ...``, processed by their column types."""
        arguments = []
        for name, process, literal in self.binds:
            value = parameters[name] if literal is _REQUIRED else literal
            arguments.append(value if process is None else process(value))
        return arguments


@functools.lru_cache(maxsize=256)
def _compiled(statement: ClauseElement, dialect: Dialect) -> DriverStatement:
    # Keyed by identity: callers pass statements they build once and keep.
    return DriverStatement.compile(statement, dialect)


def driver_path_open(engine: AsyncEngine) -> bool:
    """Whether statements may go straight to asyncpg: PostgreSQL, and nobody watching."""
    return (
        engine.dialect.name == "postgresql"
        and not engine.echo
        and not engine.sync_engine.dispatch.before_cursor_execute
        and not engine.sync_engine.dispatch.after_cursor_execute
        and not _ENGINE_LOGGER.isEnabledFor(logging.INFO)
    )


async def fetchrow(
    engine: AsyncEngine, statement: ClauseElement, parameters: Mapping[str, Any]
) -> Any:
    """Run ``statement`` on its own (autocommit) and return its first row, or ``None``.

    ``statement`` must be built once and reused: its compiled form is cached by identity.
    """
    prepared = _compiled(statement, engine.dialect)
    arguments = prepared.arguments(parameters)
    pooled = await engine.raw_connection()
    try:
        driver = pooled.driver_connection
        if driver is None:  # pragma: no cover - a pooled connection always has one
            raise sa_exc.InterfaceError(prepared.sql, None, RuntimeError("no driver connection"))
        try:
            return await driver.fetchrow(prepared.sql, *arguments)
        except BaseException as error:
            sqlstate = getattr(error, "sqlstate", None)
            # A server error leaves the connection as it was; anything else (the connection
            # broke, the task was cancelled mid-statement) leaves it in a state we cannot know.
            broken = not isinstance(error, Exception) or sqlstate is None or driver.is_closed()
            if broken:
                await greenlet_spawn(
                    pooled.invalidate, error if isinstance(error, Exception) else None
                )
            if not isinstance(error, Exception):
                raise
            raise _translate(error, prepared.sql, sqlstate, invalidated=broken) from error
    finally:
        await greenlet_spawn(pooled.close)


def _translate(
    error: Exception, sql: str, sqlstate: str | None, *, invalidated: bool
) -> sa_exc.DBAPIError:
    # No SQLSTATE: the driver or the network failed, not the statement.
    kind = (
        sa_exc.OperationalError
        if sqlstate is None
        else _BY_CLASS.get(sqlstate[:2], sa_exc.DatabaseError)
    )
    # hide_parameters: the arguments hold sealed secrets and personal data.
    return kind(sql, None, error, hide_parameters=True, connection_invalidated=invalidated)
