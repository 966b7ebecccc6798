"""Plain HTTP clients for the stand-ins' own tests, and a receiver for the webhooks they send.

The stand-ins' tests speak to them the way the providers' documentation shows (form bodies for
Stripe, JSON and multipart for PayPal, JSON for Square), with ``httpx`` and nothing of ours, so
that what they assert is the stand-in's behaviour, not an adapter's.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import httpx

from .paypal import PayPalStandIn
from .square import SquareStandIn
from .stripe import API_VERSION, StripeStandIn, parse_stripe_form
from .stripe._wire import flat


def _pairs(params: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for key, value in flat(params):
        out.append((key, {"True": "true", "False": "false"}.get(value, value)))
    return out


class StripeHttp:
    def __init__(self, standin: StripeStandIn) -> None:
        self.http = httpx.Client(
            base_url=standin.base_url,
            headers={"Authorization": f"Bearer {standin.api_key}", "Stripe-Version": API_VERSION},
            timeout=5.0,
        )

    def post(self, path: str, params: dict[str, Any] | None = None, key: str | None = None) -> Any:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.http.post(path, content=urlencode(_pairs(params or {})), headers=headers)

    def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.get(path, params=_pairs(params or {}))


class PayPalHttp:
    def __init__(self, standin: PayPalStandIn) -> None:
        self.http = httpx.Client(base_url=standin.base_url, timeout=5.0)
        basic = base64.b64encode(f"{standin.client_id}:{standin.client_secret}".encode()).decode()
        token = self.http.post(
            "/v1/oauth2/token",
            content="grant_type=client_credentials",
            headers={
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        ).json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def post(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            sent["PayPal-Request-Id"] = key
        return self.http.post(path, content=b"" if body is None else json.dumps(body), headers=sent)

    def multipart(self, path: str, parts: dict[str, Any]) -> httpx.Response:
        """A ``multipart/form-data`` request; a dict part is sent as JSON."""
        files = {
            name: (
                f"{name}.json" if isinstance(value, dict) else name,
                json.dumps(value) if isinstance(value, dict) else value,
                "application/json" if isinstance(value, dict) else "application/octet-stream",
            )
            for name, value in parts.items()
        }
        return self.http.post(path, files=files)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def delete(self, path: str) -> httpx.Response:
        return self.http.delete(path)


class SquareHttp:
    def __init__(self, standin: SquareStandIn) -> None:
        self.http = httpx.Client(
            base_url=standin.base_url,
            headers={
                "Authorization": f"Bearer {standin.access_token}",
                "Square-Version": "2026-08-19",
                "Content-Type": "application/json",
            },
            timeout=5.0,
        )

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(path, content=b"" if body is None else json.dumps(body))

    def put(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.put(path, content=json.dumps(body))

    def get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        return self.http.get(path, params=params)


# ---------------------------------------------------------------------------- webhooks
@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A loopback endpoint that answers 200 to every POST and keeps what it got."""

    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hooks"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def receiver() -> Iterator[Receiver]:
    made = Receiver()
    try:
        yield made
    finally:
        made.close()


__all__ = ["PayPalHttp", "Receiver", "SquareHttp", "StripeHttp", "parse_stripe_form", "receiver"]
