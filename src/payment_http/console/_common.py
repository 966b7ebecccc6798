"""What every console controller uses: rendering a page, reading a form, parsing ids."""

from __future__ import annotations

from typing import Annotated, Any, Final
from uuid import UUID

from litestar import MediaType, Request
from litestar.params import PathParameter, QueryParameter
from litestar.response import Template

from payment_http.console._actions import take_flash
from payment_http.console._state import Console

__all__ = ["PathText", "QueryText", "form_of", "page", "parse_uuid"]

#: A path segment, checked by the handler (a malformed id is as unknown as a missing one).
PathText = Annotated[str, PathParameter()]
#: A query parameter, read as text and checked by the handler.
QueryText = Annotated[str, QueryParameter(required=False)]
#: Form fields longer than this are cut: no form of the console needs more.
_FIELD_MAX: Final = 500


def page(
    console: Console,
    request: Request[Any, Any, Any],
    template: str,
    *,
    nav: str = "",
    title: str = "",
    status_code: int = 200,
    **context: Any,
) -> Template:
    """A console page, with what the layout needs: who is signed in, the CSRF token for the
    sign-out form, a notice left by the last action."""
    session = console.session(request)
    return Template(
        template_name=template,
        context={
            "key_id": session.key_id,
            "open_mode": console.sessions.open,
            "csrf_token": session.csrf_token,
            "flash": take_flash(console, request),
            "nav": nav,
            "title": title,
            "now": console.services.deps.clock.now(),
            "caps": console.capabilities,
            **context,
        },
        status_code=status_code,
        media_type=MediaType.HTML,
    )


async def form_of(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The submitted form, one value per field (the first), each cut to a sane length."""
    data = await request.form()
    return {str(k): str(v)[:_FIELD_MAX] for k, v in data.items() if isinstance(v, str)}


def parse_uuid(value: str | None) -> UUID | None:
    if not value:
        return None
    try:
        return UUID(value.strip()) if len(value) <= 64 else None
    except ValueError:
        return None
