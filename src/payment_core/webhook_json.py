"""Reading a webhook's body and its ids, whatever a signed body holds.

A valid signature says who sent a body, not that it is sane: a provider's bug, a replayed
test event or a leaked secret can deliver anything. Every provider's translation reads its
body with :func:`read_envelope` (or :func:`load_object`) and its ids with :func:`event_id` and
:func:`provider_id`, so that a body nested thousands deep, a lone surrogate (``"\\ud800"``,
which is no text and which no database stores) or a NUL in an id is a client error before
anything is stored. The :class:`Envelope` it gives builds the translated events, refunds' the
same way for every provider (:meth:`Envelope.refund_event`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, NoReturn

import attrs

from payment_core.errors import MalformedBodyError, ValidationError
from payment_core.money import Money
from payment_core.ports.providers import ProviderRefundStatus, WebhookEvent, WebhookKind

__all__ = [
    "MAX_DEPTH",
    "MAX_ID",
    "Envelope",
    "event_id",
    "load_object",
    "provider_id",
    "read_envelope",
]

#: Deepest nesting of arrays and objects read (providers' events nest about ten deep).
MAX_DEPTH: Final = 64
#: Longest event or provider id kept (the width of the id columns).
MAX_ID: Final = 255

_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_A_BRACKET: Final = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN: Final = frozenset(b"[{")


def load_object(body: bytes) -> dict[str, Any]:
    """The JSON object of ``body``.

    Raises :class:`MalformedBodyError` (``malformed_json``) for a body that is not UTF-8 JSON
    text, nests deeper than :data:`MAX_DEPTH`, uses ``NaN``/``Infinity`` or holds a lone
    surrogate anywhere; :class:`ValidationError` for JSON that is not an object.
    """
    if _depth(body) > MAX_DEPTH:
        _malformed(f"nested deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are both
        _malformed("not UTF-8 JSON text")
    if not isinstance(value, dict):
        raise ValidationError(field="body", reason="not an event object")
    if b"\\u" in body:  # only an escape can spell a lone surrogate
        _refuse_surrogates(value)
    return value


def event_id(value: object, *, field: str = "id") -> str:
    """An event's id: 1 to :data:`MAX_ID` printable characters, else :class:`ValidationError`."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID or not value.isprintable():
        raise ValidationError(
            field=field, reason=f"an event needs an id of 1 to {MAX_ID} printable characters"
        )
    return value


def provider_id(value: object) -> str | None:
    """A provider's id of a payment or refund (printable ASCII, no spaces), or ``None``."""
    if (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID
        and value.isascii()
        and value.isprintable()
        and " " not in value
    ):
        return value
    return None


#: When an event that does not say when it was made is taken to have been made.
_EPOCH: Final = datetime.fromtimestamp(0, UTC)


@attrs.frozen(slots=True)
class Envelope:
    """An event's envelope, checked: its id and type, the object it is about (Stripe's and
    Square's ``data.object``, PayPal's ``resource``) and when it was made."""

    id: str
    type: str
    subject: Mapping[str, Any] = attrs.field(repr=False)
    created_at: datetime

    def event(self, kind: WebhookKind, **facts: Any) -> WebhookEvent:
        """This event, meaning ``kind``, with the ``facts`` read from its subject."""
        return WebhookEvent(
            id=self.id, type=self.type, kind=kind, created_at=self.created_at, **facts
        )

    def ignored(self) -> WebhookEvent:
        """This event, meaning nothing to us."""
        return self.event(WebhookKind.IGNORED)

    def refund_event(
        self,
        status: ProviderRefundStatus | None,
        *,
        refund_ref: object,
        payment_ref: object = None,
        amount: Money | None,
        failure_code: str | None,
    ) -> WebhookEvent | None:
        """A refund's final state (succeeded or failed) as an event; ``None`` for any other.

        ``refund_ref`` and ``payment_ref`` are the provider's ids as the event wrote them.
        """
        if status is ProviderRefundStatus.SUCCEEDED:
            kind = WebhookKind.REFUND_SUCCEEDED
        elif status is ProviderRefundStatus.FAILED:
            kind = WebhookKind.REFUND_FAILED
        else:
            return None
        return self.event(
            kind,
            provider_refund_id=provider_id(refund_ref),
            provider_payment_id=provider_id(payment_ref),
            amount=amount,
            failure_code=failure_code,
        )


def read_envelope(
    body: bytes,
    *,
    id_field: str = "id",
    type_field: str = "type",
    subject_at: tuple[str, ...] = ("data", "object"),
    created_field: str,
    created: Callable[[object], datetime | None],
) -> Envelope:
    """The envelope of an event ``body``: the id at ``id_field`` (see :func:`event_id`), a
    string type at ``type_field`` and an object at ``subject_at``; ``created`` reads the time
    at ``created_field`` (the epoch when it cannot).

    The body is read by :func:`load_object`; a bad envelope is a :class:`ValidationError`.
    """
    event = load_object(body)
    id_ = event_id(event.get(id_field), field=id_field)
    subject: object = event
    for key in subject_at:
        subject = subject.get(key) if isinstance(subject, dict) else None
    type_ = event.get(type_field)
    if not isinstance(type_, str) or not isinstance(subject, dict):
        name = subject_at[-1]
        article = "an" if name[0] in "aeiou" else "a"
        raise ValidationError(
            field=".".join(subject_at), reason=f"an event needs a type and {article} {name}"
        )
    return Envelope(
        id=id_, type=type_, subject=subject, created_at=created(event.get(created_field)) or _EPOCH
    )


def _malformed(reason: str) -> NoReturn:
    raise MalformedBodyError(field="body", reason=reason) from None


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _depth(body: bytes) -> int:
    """How deep arrays and objects nest in ``body`` (brackets inside strings do not count)."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_A_BRACKET)
    depth = deepest = 0
    for byte in brackets:
        if byte in _OPEN:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    break  # deep enough to refuse: no need to read on
        else:
            depth -= 1
    return deepest


def _refuse_surrogates(value: object) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _is_text(item):
                _malformed("holds a lone surrogate")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
