"""What every view shares: ids and timestamps as text, and their schema details."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, overload
from uuid import UUID

__all__ = ["Id", "Timestamp", "date_text", "id_text", "rfc3339"]


def _schema(**details: Any) -> object:
    """msgspec's JSON Schema details of a field (the OpenAPI document's); pydantic ignores them.

    msgspec comes with the ``http`` extra; a worker installed without it documents its events
    through pydantic alone and needs none of this.
    """
    try:
        from msgspec import Meta  # noqa: PLC0415
    except ImportError:  # pragma: no cover - installed without the http extra
        return None
    return Meta(**details)


#: A UUID in its canonical text form.
Id = Annotated[str, _schema(extra_json_schema={"format": "uuid"})]
#: ``2026-11-28T10:00:00Z``, microseconds only when there are some.
Timestamp = Annotated[str, _schema(description="RFC 3339, UTC", examples=["2026-11-28T10:00:00Z"])]


@overload
def rfc3339(value: datetime) -> str: ...
@overload
def rfc3339(value: None) -> None: ...
@overload
def rfc3339(value: datetime | None) -> str | None: ...
def rfc3339(value: datetime | None) -> str | None:
    """``2026-11-28T10:00:00Z`` (microseconds only when there are some)."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # isoformat leaves the microseconds out when there are none, as we do; about five times
    # faster than strftime, and this runs three times for every event and every view.
    return value.replace(tzinfo=None).isoformat() + "Z"


def id_text(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def date_text(value: date | None) -> str | None:
    return None if value is None else value.isoformat()
