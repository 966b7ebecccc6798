"""Console actions: once per form, whatever the clicks, through the API's idempotency store.

Every action form carries a key made when the form was rendered (``form_key``). Submitting it
claims that key in the same idempotency store as the API, scoped to the signed-in key's id
exactly as an ``Idempotency-Key`` is (``scoped_key``), and the use case
gets the scoped key as the API's handlers pass it. So a double click, a reload of the result
or a retry after a lost answer runs the use case once: the second request waits for the
first (``idempotency_request_in_progress``) and then answers as it did. What an action did is
stored as a small JSON document (where to go, what to say) and replayed as a redirect.

Each action is logged with the key's id, never the key.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any, Final

import attrs
import structlog
from litestar import Request, Response
from litestar.response import Redirect

from payment_adapters.idempotency import StoredResponse
from payment_core.errors import (
    ConcurrencyError,
    IdempotencyKeyReusedError,
    IdempotencyRequestInProgressError,
    PaymentError,
    ProviderUnavailableError,
)
from payment_http.console._session import Session
from payment_http.console._state import Console
from payment_http.idempotency import fingerprint, scoped_key

__all__ = ["FLASH_COOKIE", "Outcome", "perform", "take_flash", "valid_form_key"]

log = structlog.get_logger("payment_http.console")

FLASH_COOKIE: Final = "payment_console_flash"
CONTENT_TYPE: Final = "application/vnd.payment-service.console-action+json"
_FORM_KEY: Final = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
#: How long a second submission waits for the first to finish before saying so.
_WAIT: Final = 20.0
_POLL: Final = 0.1
#: Errors that say "try again", not "this is the answer": the key is released, not stored.
_RETRYABLE: Final = (ConcurrencyError, ProviderUnavailableError)


@attrs.frozen(slots=True)
class Outcome:
    """What an action did: where to go next and what to tell the operator."""

    location: str
    ok: bool
    message: str
    target: str = ""

    def to_json(self) -> bytes:
        return json.dumps(attrs.asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, body: bytes) -> Outcome:
        data = json.loads(body)
        return cls(str(data["location"]), bool(data["ok"]), str(data["message"]))


def valid_form_key(value: str | None) -> bool:
    return value is not None and _FORM_KEY.fullmatch(value) is not None


def _canonical(form: Mapping[str, str]) -> bytes:
    fields = {k: v for k, v in form.items() if k != "csrf_token"}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def error_message(exc: PaymentError) -> str:
    return f"{exc.describe()} ({exc.code})"


async def perform(
    console: Console,
    request: Request[Any, Any, Any],
    session: Session,
    form: Mapping[str, str],
    *,
    action: str,
    target: str,
    run: Callable[[str], Awaitable[Outcome]],
    on_error: str,
) -> Response[Any]:
    """Run ``run(scoped_key)`` once for this form, and redirect to where its outcome says."""
    runtime = console.runtime
    store = runtime.idempotency
    clock = runtime.services.deps.clock
    settings = runtime.settings
    scoped = scoped_key(session.key_id, f"console:{form['form_key']}")
    print_ = fingerprint("POST", request.url.path, _canonical(form))
    ttl = timedelta(seconds=settings.idempotency_ttl_seconds)
    lock_timeout = timedelta(seconds=settings.idempotency_lock_timeout_seconds)
    waited = 0.0
    while True:
        try:
            claim = await store.claim(
                scoped, print_, now=clock.now(), ttl=ttl, lock_timeout=lock_timeout
            )
            break
        except IdempotencyRequestInProgressError:
            if waited >= _WAIT:
                return _redirect(
                    console,
                    request,
                    Outcome(on_error, False, "That action is still running; reload in a moment."),
                )
            await asyncio.sleep(_POLL)
            waited += _POLL
        except IdempotencyKeyReusedError:
            return _redirect(
                console,
                request,
                Outcome(on_error, False, "This form was already submitted with other values."),
            )
    if claim.replay is not None:
        outcome = Outcome.from_json(claim.replay.body)
        log.info(
            "console action",
            action=action,
            target=target,
            key_id=session.key_id,
            ok=outcome.ok,
            replayed=True,
        )
        return _redirect(console, request, outcome)
    try:
        outcome = await run(scoped)
    except _RETRYABLE as exc:
        await store.release(scoped)
        outcome = Outcome(on_error, False, f"{error_message(exc)}: nothing was done; try again")
        log.warning(
            "console action", action=action, target=target, key_id=session.key_id, error=exc.code
        )
        return _redirect(console, request, outcome)
    except PaymentError as exc:
        outcome = Outcome(on_error, False, error_message(exc))
    except BaseException:
        await store.release(scoped)
        raise
    await store.complete(
        scoped,
        StoredResponse(status=303, body=outcome.to_json(), content_type=CONTENT_TYPE),
        now=clock.now(),
    )
    log.info(
        "console action",
        action=action,
        target=target,
        key_id=session.key_id,
        ok=outcome.ok,
        replayed=False,
    )
    return _redirect(console, request, outcome)


def _redirect(console: Console, request: Request[Any, Any, Any], outcome: Outcome) -> Response[Any]:
    flash = console.sessions.seal(json.dumps([outcome.ok, outcome.message]))
    console.set_cookie(request, console.sessions.cookie(FLASH_COOKIE, flash, 60))
    return Redirect(outcome.location, status_code=303)


def take_flash(console: Console, request: Request[Any, Any, Any]) -> tuple[bool, str] | None:
    """The outcome an action left for the next page (and clear it)."""
    value = request.cookies.get(FLASH_COOKIE)
    if not value:
        return None
    console.set_cookie(request, console.sessions.clear(FLASH_COOKIE))
    text = console.sessions.unseal(value)
    try:
        ok, message = json.loads(text) if text else (None, None)
    except (ValueError, TypeError):
        return None
    if not isinstance(ok, bool) or not isinstance(message, str):
        return None
    return ok, message
