"""PayPal's webhook signing certificates: fetched only from an allow-listed PayPal origin over
HTTPS, without blocking the event loop (with a timeout; one fetch per URL at a time), and cached
per URL until they expire; nothing else is trusted."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

import httpx
from cryptography import x509

from payment_core.errors import WebhookSignatureError

__all__ = ["PAYPAL_CERT_ORIGINS", "CertFetcher", "Certificates"]

logger = logging.getLogger(__name__)

#: Where a webhook's signing certificate may come from (scheme://host[:port], exact match).
PAYPAL_CERT_ORIGINS: Final = (
    "https://api.paypal.com",
    "https://api-m.paypal.com",
    "https://api.sandbox.paypal.com",
    "https://api-m.sandbox.paypal.com",
)

#: Fetches the PEM certificate at a URL (already checked to be a PayPal address).
CertFetcher = Callable[[str], Awaitable[bytes]]

_MAX_CERT_BYTES: Final = 64 * 1024
_MAX_CERTS: Final = 32
_MAX_CERT_LOCKS: Final = 256


class Certificates:
    """The signing certificates of PayPal's webhooks, by URL.

    ``origins`` and ``fetcher`` exist for tests: production keeps the defaults.
    """

    def __init__(
        self,
        *,
        origins: Collection[str] = PAYPAL_CERT_ORIGINS,
        fetcher: CertFetcher | None = None,
        timeout: float = 5.0,
    ) -> None:
        self._origins = frozenset(_origin(o) for o in origins)
        self._fetcher = fetcher or self._download
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._certs: dict[str, x509.Certificate] = {}

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def allowed(self, url: str) -> bool:
        """Whether ``url`` is at an allow-listed PayPal origin (and names a certificate)."""
        parts = urlsplit(url)
        return "@" not in parts.netloc and _origin(url) in self._origins and bool(parts.path)

    def __contains__(self, url: object) -> bool:
        return url in self._certs

    async def fetch(self, url: str) -> None:
        """Fetch and cache the certificate at an allowed ``url``; never raises (a certificate
        that cannot be had is missing from the cache). Callers naming one URL wait for a
        single fetch."""
        lock = self._locks.get(url)
        if lock is None:
            if len(self._locks) >= _MAX_CERT_LOCKS:
                self._locks = {u: k for u, k in self._locks.items() if k.locked()}
            lock = self._locks[url] = asyncio.Lock()
        async with lock:
            if url in self._certs:
                return  # fetched by the caller this one waited for
            try:
                async with asyncio.timeout(self._timeout):
                    pem = await self._fetcher(url)
                cert = x509.load_pem_x509_certificate(pem)
            except (TimeoutError, httpx.HTTPError, OSError, ValueError):
                logger.warning("paypal webhook certificate could not be fetched or read")
                return
            if len(self._certs) >= _MAX_CERTS:
                self._certs.pop(next(iter(self._certs)))
            self._certs[url] = cert

    def get(self, url: str, now: datetime) -> x509.Certificate:
        """The certificate at ``url`` as :meth:`fetch` cached it, valid at ``now``."""
        if not self.allowed(url):
            raise WebhookSignatureError(reason="certificate URL is not a PayPal address")
        cert = self._certs.get(url)
        if cert is None:
            raise WebhookSignatureError(reason="certificate unavailable")
        if not cert.not_valid_before_utc - timedelta(minutes=5) <= now <= cert.not_valid_after_utc:
            raise WebhookSignatureError(reason="certificate expired or not yet valid")
        return cert

    async def _download(self, url: str) -> bytes:
        """GET the PEM certificate, at most ``_MAX_CERT_BYTES`` of it."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
        async with self._client.stream("GET", url) as response:
            if response.status_code != 200:
                raise ValueError("no certificate at that address")
            pem = b""
            async for chunk in response.aiter_bytes():
                pem += chunk
                if len(pem) > _MAX_CERT_BYTES:
                    raise ValueError("certificate too large")
        return pem


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme.lower()}://{host}{port}"
