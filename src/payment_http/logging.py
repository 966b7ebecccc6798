"""JSON logs, one object per line on stderr, with the request id of the request being served.

structlog renders our own events and, through :class:`structlog.stdlib.ProcessorFormatter`,
every standard-library record too (``payment_core``, ``payment_adapters``, uvicorn), so the whole
process speaks one format. Two processors guard what reaches a line:

- :func:`redact` masks card numbers (as ``payment_core.card_data`` reads them: Luhn-valid
  13-19 digits, however they are separated) in every string, whoever logged it. Ids are
  never masked, so that the id a problem document asks a user to quote is in the log as it
  was shown: fields named like ids (``request_id``, ``payment_id``, ``reference``, ...) are
  left alone unless they hold nothing but digits, and in free text digits that are part of a
  word (hex ids, references) are not a card number;
- exception information is reduced to the exception's type and where it was raised: no stack
  trace, and no exception text (a driver's message can hold SQL and parameters).
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import MutableMapping
from typing import Any, Final

import structlog

from payment_core.card_data import redact_card_numbers

__all__ = ["configure_logging", "error_location", "get_logger", "redact"]

_MASK: Final = "[REDACTED]"
# Fields that name things by id; event fields are snake_case, stdlib extras may not be.
_ID_FIELD: Final = re.compile(r"(?:^|_)(?:id|ids|reference|references)$", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every card number replaced by ``[REDACTED]`` (ids and words kept)."""
    return redact_card_numbers(text, _MASK)


def _redact_id(value: str) -> str:
    # An id has letters (a UUID, a hex or base32 id, a provider's ``pi_...``) and is never a
    # card number; a value of digits alone, whatever its field, is read like free text.
    if any(c.isalpha() for c in value):
        return value
    return redact(value)


def error_location(exc: BaseException) -> str:
    """``module.py:123 in function`` of the frame that raised ``exc`` (no text, no trace)."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if not frames:
        return "unknown"
    last = frames[-1]
    filename = last.filename.rsplit("/", 1)[-1]
    return f"{filename}:{last.lineno} in {last.name}"


def _redact_values(value: Any, *, ids: bool = False) -> Any:
    if isinstance(value, str):
        return _redact_id(value) if ids else redact(value)
    if isinstance(value, dict):
        return {k: _redact_values(v, ids=_is_id_field(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_values(v, ids=ids) for v in value]
    return value


def _is_id_field(name: object) -> bool:
    return isinstance(name, str) and _ID_FIELD.search(name) is not None


def _scrub(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop stack traces and exception text; mask card numbers everywhere but in ids."""
    exc_info = event_dict.pop("exc_info", None)
    event_dict.pop("stack_info", None)
    event_dict.pop("exception", None)
    exc: BaseException | None = None
    if isinstance(exc_info, BaseException):
        exc = exc_info
    elif isinstance(exc_info, tuple) and len(exc_info) == 3:
        exc = exc_info[1]
    elif exc_info is True:
        exc = sys.exc_info()[1]
    if exc is not None:
        event_dict["error_type"] = type(exc).__name__
        event_dict["error_at"] = error_location(exc)
    for key, value in list(event_dict.items()):
        event_dict[key] = _redact_values(value, ids=_is_id_field(key))
    return event_dict


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record (not at start-up)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class _StderrLogger:
    """structlog's final logger: one line on whatever ``sys.stderr`` is now, named."""

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def factory(cls, *args: Any) -> _StderrLogger:
        return cls(str(args[0]) if args else "payment_http")

    def msg(self, message: str) -> None:
        sys.stderr.write(message + "\n")

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Route every log record of the process to stderr as JSON (or readable text for humans)."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=lambda *_: None)
    )
    # Our own events (the access log above all) go straight to stderr, rendered once; the
    # detour through the standard library's machinery would double their cost.
    structlog.configure(
        processors=[
            *_shared_processors(),  # _StderrLogger has the name add_logger_name reads
            _scrub,
            renderer,
        ],
        logger_factory=_StderrLogger.factory,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _scrub,
            renderer,
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    # A record that fails to format would otherwise be dumped raw (arguments and all) on
    # stderr by logging's last-resort error handler.
    logging.raiseExceptions = False
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Our own access log replaces uvicorn's; its error log keeps flowing through the root.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        log = logging.getLogger(name)
        log.handlers.clear()
        log.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    if root.level > logging.DEBUG:
        # Alembic announces every plugin it loads at INFO: noise on each start.
        logging.getLogger("alembic").setLevel(logging.WARNING)


def get_logger(name: str) -> Any:
    """A structlog logger (key-value events) for the HTTP layer."""
    return structlog.get_logger(name)
