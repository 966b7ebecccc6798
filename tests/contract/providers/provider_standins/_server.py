"""A loopback HTTP server that stands in for a payment provider, recording every request.

Each stand-in subclasses :class:`StandIn` and implements :meth:`StandIn.handle` with the
provider's documented wire format. The base class adds what every provider shares:

- every request is recorded (method, path, query, headers, raw body, parsed params, status);
- injected faults, drawn from a seeded RNG: ``429`` with ``Retry-After`` and ``5xx`` *before*
  the operation runs, a timeout *after* it ran (the client never hears that it happened), and a
  ``5xx`` that the idempotency layer keeps for its key, as Stripe keeps the result of a request
  whose endpoint began executing, 500s included;
- a response may ask to "hang": the server waits past the client's timeout, then closes the
  connection without answering; or to be late (``delay``): it answers after a pause;
- idempotency-key storage helpers (a stored answer is replayed for the same key; the same key
  with another request is refused and recorded in ``conflicts``, which the contract suite
  checks stays empty: a retry under one key must be the very same request);
- a settable clock (:class:`Clock`: the real time plus an offset a test moves with
  :meth:`StandIn.advance`), by which holds expire and evidence falls due;
- webhooks the provider sends of itself (a dispute opened, a hold expired): each is signed as
  the provider signs it, kept in :attr:`StandIn.sent` for a test to post, and, when a test set
  :attr:`StandIn.webhook_url`, posted there by a delivery thread (never under the lock, so the
  receiver may call the stand-in back, as PayPal's receiver fetches its certificate).

The server runs in a daemon thread; requests are handled one at a time under a lock (state is
simple and races are not what these tests are about), hangs happen outside the lock.
"""

from __future__ import annotations

import json
import queue
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

__all__ = ["Clock", "Faults", "Recorded", "Response", "Sent", "StandIn"]


@dataclass
class Recorded:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    params: Any = None
    status: int | None = None
    fault: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Do the work, then never answer (the client times out).
    hang: bool = False
    raw: bytes | None = None
    #: Seconds to wait before answering (outside the stand-in's lock).
    delay: float = 0.0


class Clock:
    """The stand-in's idea of now: the real time plus an offset that only moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def timestamp(self) -> int:
        return int(self.now().timestamp())


@dataclass
class Sent:
    """A webhook the stand-in sent of itself (or holds for the test to post)."""

    event_type: str
    body: bytes
    headers: dict[str, str]
    #: What the receiver answered (``None`` before delivery or without a URL).
    status: int | None = None
    error: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)


class Faults:
    """Seeded fault injection: each request draws at most one fault."""

    def __init__(
        self,
        *,
        timeout: float = 0.0,
        rate_limited: float = 0.0,
        server_error: float = 0.0,
        stored_server_error: float = 0.0,
        retry_after: int = 1,
        seed: int = 0,
        applies: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.timeout = timeout
        self.rate_limited = rate_limited
        self.server_error = server_error
        self.stored_server_error = stored_server_error
        self.retry_after = retry_after
        self.applies = applies or (lambda method, path: True)
        self._rng = random.Random(seed)
        self.injected: dict[str, int] = {"timeout": 0, "429": 0, "5xx": 0, "5xx-stored": 0}

    def draw(self, method: str, path: str) -> str | None:
        if not self.applies(method, path):
            return None
        roll = self._rng.random()
        if roll < self.timeout:
            kind = "timeout"
        elif roll < self.timeout + self.rate_limited:
            kind = "429"
        elif roll < self.timeout + self.rate_limited + self.server_error:
            kind = "5xx"
        elif roll < (
            self.timeout + self.rate_limited + self.server_error + self.stored_server_error
        ):
            kind = "5xx-stored"
        else:
            return None
        self.injected[kind] += 1
        return kind


class StandIn:
    """Base of the provider stand-ins; subclasses implement :meth:`handle`."""

    name = "standin"
    #: How long a hung request waits before the connection is dropped (seconds).
    hang_seconds = 2.0

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.faults: Faults | None = None
        self.lock = threading.RLock()
        self._stopping = threading.Event()
        self._idempotency: dict[str, tuple[Any, Response]] = {}
        self._fault: str | None = None
        #: Requests refused for reusing a key with other parameters (see :meth:`idempotent`).
        self.conflicts: list[str] = []
        self.clock = Clock()
        self.webhook_url: str | None = None
        self.sent: list[Sent] = []
        self._deliveries: queue.Queue[Sent] = queue.Queue()
        self._pending = 0
        self._delivered = threading.Condition()
        threading.Thread(target=self._deliver, name=f"{self.name}-webhooks", daemon=True).start()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"{self.name}-standin", daemon=True
        )
        self._thread.start()
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        """Forget every request, object and stored answer (between tests)."""
        with self.lock:
            self.requests = []
            self.faults = None
            self._idempotency = {}
            self.conflicts = []
            self.clock.offset = timedelta(0)
            self.webhook_url = None
            self.sent = []
            self.reset_state()

    def advance(self, delta: timedelta | float) -> None:
        """Move the clock forward; what fell due meanwhile happens (holds expire, ...)."""
        with self.lock:
            self.clock.offset += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
            self.on_clock()

    def on_clock(self) -> None:
        """Subclasses apply what falls due by the clock (expiries), emitting their webhooks."""

    # ------------------------------------------------------------------ webhooks
    def emit(self, event_type: str, body: bytes, headers: dict[str, str]) -> Sent:
        """Keep a signed webhook and, with a :attr:`webhook_url`, have it posted there."""
        sent = Sent(event_type, body, headers)
        self.sent.append(sent)
        if self.webhook_url is not None:
            with self._delivered:
                self._pending += 1
            self._deliveries.put(sent)
        return sent

    def sent_of(self, prefix: str) -> list[Sent]:
        """The webhooks sent so far whose event type starts with ``prefix``."""
        with self.lock:
            return [s for s in self.sent if s.event_type.startswith(prefix)]

    def wait_for_deliveries(self, timeout: float = 5.0) -> bool:
        """Wait until every queued webhook was posted; ``False`` on timeout."""
        with self._delivered:
            return self._delivered.wait_for(lambda: self._pending == 0, timeout)

    def _deliver(self) -> None:
        with httpx.Client(timeout=10.0) as client:
            while True:
                sent = self._deliveries.get()
                url = self.webhook_url
                try:
                    if url is not None:
                        reply = client.post(url, content=sent.body, headers=sent.headers)
                        sent.status = reply.status_code
                except httpx.HTTPError as exc:
                    sent.error = repr(exc)
                with self._delivered:
                    self._pending -= 1
                    self._delivered.notify_all()

    def reset_state(self) -> None:  # pragma: no cover - overridden
        """Subclasses clear their objects here."""

    # ------------------------------------------------------------------ for subclasses
    def handle(self, request: Recorded) -> Response:  # pragma: no cover - overridden
        raise NotImplementedError

    def parse(self, request: Recorded) -> Any:
        """Parse the body (JSON by default)."""
        if not request.body:
            return None
        try:
            return json.loads(request.body)
        except ValueError:
            return None

    def fault_response(self, kind: str, retry_after: int) -> Response:  # pragma: no cover
        raise NotImplementedError

    def idempotent(
        self,
        key: str | None,
        fingerprint: Any,
        run: Callable[[], Response],
        conflict: Callable[[], Response] | None = None,
    ) -> Response:
        """Replay the answer stored for ``key``; otherwise run and store (unless a 5xx).

        The same key with another ``fingerprint`` gets ``conflict()`` and is recorded.
        """
        if key is None:
            return run()
        stored = self._idempotency.get(key)
        if stored is not None:
            if conflict is not None and stored[0] != fingerprint:
                self.conflicts.append(key)
                return conflict()
            return stored[1]
        if self._fault == "5xx-stored":
            # The endpoint began and failed: the provider keeps that answer for the key.
            response = self.fault_response("5xx", 1)
            self._idempotency[key] = (fingerprint, response)
            return response
        response = run()
        if response.status < 500:
            self._idempotency[key] = (fingerprint, response)
        return response

    # ------------------------------------------------------------------ recorded traffic
    def find(self, method: str | None = None, path_prefix: str = "") -> list[Recorded]:
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and r.path.startswith(path_prefix)
            ]

    # ------------------------------------------------------------------ plumbing
    def _dispatch(self, request: Recorded) -> Response:
        with self.lock:
            self.requests.append(request)
            request.params = self.parse(request)
            fault = self.faults.draw(request.method, request.path) if self.faults else None
            request.fault = fault
            if fault in ("429", "5xx"):
                assert self.faults is not None
                response = self.fault_response(fault, self.faults.retry_after)
            else:
                self._fault = fault
                try:
                    response = self.handle(request)
                finally:
                    self._fault = None
                if fault == "timeout":
                    response = Response(response.status, response.body, response.headers, True)
            request.status = None if response.hang else response.status
            return response

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=parse_qsl(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                try:
                    response = standin._dispatch(request)
                except Exception as exc:  # a bug in a stand-in: answer 599 and say so
                    response = Response(599, {"standin_error": repr(exc)})
                if response.hang:
                    standin._stopping.wait(standin.hang_seconds)
                    self.close_connection = True
                    return
                if response.delay:
                    standin._stopping.wait(response.delay)
                raw = response.raw
                if raw is None:
                    raw = b"" if response.body is None else json.dumps(response.body).encode()
                self.send_response(response.status)
                headers = {"Content-Type": "application/json", **response.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = _serve
            do_POST = _serve
            do_DELETE = _serve
            do_PATCH = _serve
            do_PUT = _serve

        return Handler
