"""Request bodies and the ``Idempotency-Key`` of every POST and PATCH.

The middleware reads, validates and decodes the body once (:mod:`payment_http.body`; the
handler takes the decoded Struct), then, when the request carries an ``Idempotency-Key``,
claims it in the persistent :class:`IdempotencyStore`:

- the key is 1-255 printable ASCII characters, else 400 ``invalid_idempotency_key``;
- keys are scoped per API key (two clients never share a key space), and a request is known by
  its fingerprint, SHA-256 of method, path and the canonical body (sorted keys, no whitespace);
- the same key and fingerprint replays the first response, status and body, errors included,
  with ``Idempotent-Replayed: true``; the same key with another fingerprint is 422
  ``idempotency_key_reused``; while the first request runs it is 409
  ``idempotency_request_in_progress``, until its lock is older than
  ``IDEMPOTENCY_LOCK_TIMEOUT_SECONDS`` (a crashed request does not block its key forever);
- a response is stored only when it is an answer: a 5xx, a 429 or a 409 that says "try again"
  (``concurrent_modification``) releases the key instead, so a retry can run;
- the handler gets the scoped key (:func:`request_key`) and passes it to its use case, which
  derives from it the id of what it creates, or records it on what it moves, in the same
  transaction. A request run again under its key (after a 5xx, or taking over the key of one
  that crashed between its commit and storing its response) therefore finds what the first
  run did and answers with it: the same refund, never a second one.

The handler's response is buffered and stored *before* it is sent, so a client that has seen
it and retries always gets the replay, never a 409 for its own finished request.

Requests that fail validation before the claim (413, 415, 400, 422 on the body itself) are not
recorded, as Stripe does not record them: the client can fix the body and reuse the key. Webhook
deliveries are not covered (providers retry with their own event ids, deduplicated on those).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

import msgspec

from payment_adapters.bootstrap import Runtime
from payment_adapters.idempotency import StoredResponse
from payment_http._asgi import ASGIApp, Message, Receive, Scope, Send
from payment_http.auth import api_key_id
from payment_http.body import (
    BodySpec,
    ClientDisconnectedError,
    check_content_type,
    decode_body,
    read_body,
)
from payment_http.errors import HttpProblem
from payment_http.metrics import Metrics

__all__ = [
    "IDEMPOTENCY_HEADER",
    "RequestPipelineMiddleware",
    "fingerprint",
    "request_key",
    "scoped_key",
]

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = b"idempotent-replayed"
_KEY_MAX: Final = 255
_RETRYABLE_409: Final = frozenset({b"idempotency_request_in_progress", b"concurrent_modification"})
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
#: Where the claimed, scoped key waits for the handler (``scope["state"]``).
_STATE_KEY: Final = "idempotency_key"


def fingerprint(method: str, path: str, canonical_body: bytes) -> str:
    """SHA-256 over method, path and the canonical body."""
    digest = hashlib.sha256()
    digest.update(method.upper().encode())
    digest.update(b"\n")
    digest.update(path.encode("utf-8", "surrogateescape"))
    digest.update(b"\n")
    digest.update(canonical_body)
    return digest.hexdigest()


def scoped_key(api_key_id: str, key: str) -> str:
    return hashlib.sha256(f"{api_key_id}\x00{key}".encode()).hexdigest()


def request_key(scope: Mapping[str, object]) -> str | None:
    """The scoped ``Idempotency-Key`` the running request claimed, for its use case; ``None``
    without one. Never the client's own key: two API keys' requests must not meet."""
    state = scope.get("state")
    key = state.get(_STATE_KEY) if isinstance(state, dict) else None
    return key if isinstance(key, str) else None


def _idempotency_key(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"idempotency-key":
            raw = bytes(value)
            if not 1 <= len(raw) <= _KEY_MAX or any(b < 0x20 or b > 0x7E for b in raw):
                raise HttpProblem(
                    400,
                    "invalid_idempotency_key",
                    f"{IDEMPOTENCY_HEADER} must be 1 to {_KEY_MAX} printable ASCII characters",
                )
            return raw.decode("ascii")
    return None


def _replaying_receive(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class _Buffer:
    """Collects the handler's response so it can be stored before it is sent."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.status = 500
        self.content_type = "application/json"
        self.body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            for name, value in message.get("headers", ()):
                if bytes(name).lower() == b"content-type":
                    self.content_type = bytes(value).decode("latin-1")
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
        self.messages.append(message)

    @property
    def storable(self) -> bool:
        if self.status >= 500 or self.status == 429:
            return False
        if self.status == 409:
            try:
                code = msgspec.json.decode(bytes(self.body)).get("code", "")
            except (msgspec.DecodeError, AttributeError):
                return True
            return str(code).encode() not in _RETRYABLE_409
        return True


class RequestPipelineMiddleware:
    """Body limits and validation for every body-carrying route; idempotency for the JSON ones."""

    def __init__(self, app: ASGIApp, *, runtime: Runtime, metrics: Metrics) -> None:
        self.app = app
        self.runtime = runtime
        self.metrics = metrics
        settings = runtime.settings
        self.limit = settings.max_body_bytes
        self.ttl = timedelta(seconds=settings.idempotency_ttl_seconds)
        self.lock_timeout = timedelta(seconds=settings.idempotency_lock_timeout_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(scope, receive, self.limit)
        except ClientDisconnectedError:
            return
        handler = scope["route_handler"]
        spec: BodySpec | None = handler.opt.get("body")
        if spec is None:  # raw-body endpoints (webhooks): size limit only
            await self.app(scope, _replaying_receive(body, receive), send)
            return
        if body.strip():
            check_content_type(scope)
        key = _idempotency_key(scope)
        # Decoded and validated strictly here, once: the handler takes this very Struct.
        decoded = decode_body(body, spec, self.runtime.services)
        decoded.hand_over(scope)
        # The body stays readable (a handler that reads it gets the same bytes).
        receive = _replaying_receive(body, receive)
        if key is None:
            await self.app(scope, receive, send)
            return
        await self._idempotent(scope, receive, send, key=key, canonical=decoded.canonical())

    async def _idempotent(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        key: str,
        canonical: bytes,
    ) -> None:
        store = self.runtime.idempotency
        clock = self.runtime.services.deps.clock
        scoped = scoped_key(api_key_id(scope), key)
        print_ = fingerprint(scope["method"], scope["path"], canonical)
        claim = await store.claim(
            scoped, print_, now=clock.now(), ttl=self.ttl, lock_timeout=self.lock_timeout
        )
        if claim.replay is not None:
            route = scope.get("path_template", "unmatched")
            self.metrics.idempotent_replays.labels(route).inc()
            stored = claim.replay
            await send(
                {
                    "type": "http.response.start",
                    "status": stored.status,
                    "headers": [
                        (b"content-type", stored.content_type.encode("latin-1")),
                        (b"content-length", str(len(stored.body)).encode()),
                        (REPLAYED_HEADER, b"true"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": stored.body, "more_body": False})
            return
        buffer = _Buffer()
        scope.setdefault("state", {})[_STATE_KEY] = scoped
        # If the process dies here (a crash) the key stays locked and is taken over after the
        # lock timeout: the handler runs again and, by the same key, finds what this run did.
        await self.app(scope, receive, buffer.send)
        try:
            if buffer.storable:
                await store.complete(
                    scoped,
                    StoredResponse(
                        status=buffer.status,
                        body=bytes(buffer.body),
                        content_type=buffer.content_type,
                    ),
                    now=clock.now(),
                )
            else:
                await store.release(scoped)
        except Exception as exc:
            logger.warning("could not record the idempotent response: %s", type(exc).__name__)
        for message in buffer.messages:
            await send(message)
