"""Console sign-in: API keys in, a signed session cookie out, CSRF tokens, sign-in throttling.

- The cookie holds a random token, the key's *id* (never the key) and the absolute expiry,
  signed with HMAC-SHA256 under a key derived from the first of ``ENCRYPTION_KEYS`` (HKDF, its
  own purpose label), so a forged or altered cookie is refused before any lookup. The session
  itself is kept server-side by the token's SHA-256 (:class:`SessionStore`): signing out
  revokes it there, and the same cookie no longer works in any process. A session ends after
  ``IDLE`` without use or ``ABSOLUTE`` after sign-in, whichever comes first.
- The CSRF token of a session is an HMAC of its token (a synchronizer token bound to the
  session, nothing to store); the sign-in form has its own, bound to a short-lived cookie.
- Sign-in attempts are limited per client address and overall (:class:`SignInLimiter`, in
  this process): too many get 429 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Final

import attrs
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from payment_adapters.console import SessionRecord, SessionStore
from payment_core.ports import Clock
from payment_http.auth import OPEN_KEY_ID, key_id

__all__ = [
    "ABSOLUTE",
    "COOKIE",
    "IDLE",
    "LOGIN_COOKIE",
    "Session",
    "Sessions",
    "SignInLimiter",
    "Signer",
    "derive_secret",
]

COOKIE: Final = "payment_console"
LOGIN_COOKIE: Final = "payment_console_signin"
COOKIE_PATH: Final = "/console"
IDLE: Final = timedelta(hours=8)
ABSOLUTE: Final = timedelta(hours=24)
#: A session's last use is written at most this often (each write is a database write).
TOUCH_EVERY: Final = timedelta(minutes=1)
LOGIN_COOKIE_SECONDS: Final = 30 * 60
_VERSION: Final = "v1"
_PURPOSE: Final = b"payment-service console session v1"


def derive_secret(encryption_keys: str | None) -> bytes:
    """The cookie-signing key: HKDF-SHA256 over the primary encryption key's entry, or a
    random key for this process when there is none (sessions then last as long as it)."""
    primary = (encryption_keys or "").split(",")[0].strip()
    if not primary:
        return secrets.token_bytes(32)
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE)
    return kdf.derive(primary.encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


class Signer:
    """HMAC-SHA256 signatures of short texts, and values derived from them."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def mac(self, purpose: str, text: str) -> str:
        return _b64(hmac.new(self._secret, f"{purpose}\x00{text}".encode(), "sha256").digest())

    def sign(self, text: str) -> str:
        return f"{text}.{self.mac('cookie', text)}"

    def unsign(self, value: str) -> str | None:
        text, _, signature = value.rpartition(".")
        if not text or not hmac.compare_digest(signature, self.mac("cookie", text)):
            return None
        return text


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@attrs.frozen(slots=True)
class Session:
    """A signed-in operator, as the pages see them: never the key, only its id."""

    token_hash: str
    key_id: str
    csrf_token: str
    expires_at: datetime


class Sessions:
    """Sign in, recognise, sign out; CSRF tokens; the cookie's attributes."""

    def __init__(
        self,
        store: SessionStore,
        signer: Signer,
        *,
        keys: Sequence[str],
        clock: Clock,
        secure: bool,
    ) -> None:
        self._store = store
        self._signer = signer
        self._keys = tuple((hashlib.sha256(k.encode()).digest(), key_id(k)) for k in keys)
        self._clock = clock
        self.secure = secure

    @property
    def open(self) -> bool:
        """No ``API_KEYS``: the console is open, as the API is."""
        return not self._keys

    def match(self, candidate: str) -> str | None:
        """The id of the configured key equal to ``candidate`` (each compared, in constant
        time, without stopping at a match)."""
        digest = hashlib.sha256(candidate.encode("utf-8", "surrogateescape")).digest()
        found: str | None = None
        for known, ident in self._keys:
            if hmac.compare_digest(known, digest):
                found = ident
        return found

    def _session(self, token: str, record: SessionRecord) -> Session:
        return Session(
            token_hash=record.token_hash,
            key_id=record.key_id,
            csrf_token=self._signer.mac("csrf", token),
            expires_at=record.expires_at,
        )

    async def sign_in(self, ident: str) -> tuple[str, Session]:
        """A new session for the key ``ident``; its cookie value and the session."""
        now = self._clock.now()
        token = secrets.token_urlsafe(32)
        record = SessionRecord(
            token_hash=token_hash(token),
            key_id=ident,
            created_at=now,
            last_seen_at=now,
            expires_at=now + ABSOLUTE,
        )
        await self._store.purge_expired(now, 100)
        await self._store.add(record)
        expires = int(record.expires_at.timestamp())
        cookie = self._signer.sign(f"{_VERSION}.{token}.{ident}.{expires}")
        return cookie, self._session(token, record)

    async def open_session(self) -> tuple[str, Session]:
        return await self.sign_in(OPEN_KEY_ID)

    async def current(self, cookie: str | None) -> Session | None:
        """The live session the cookie names, or ``None`` (unsigned, altered, expired, idle
        too long, signed out, or signed in with a key that is no longer configured)."""
        text = self._signer.unsign(cookie) if cookie else None
        parts = text.split(".") if text else []
        if len(parts) != 4 or parts[0] != _VERSION:
            return None
        _, token, ident, expires = parts
        now = self._clock.now()
        if not expires.isdigit() or int(expires) <= now.timestamp():
            return None
        record = await self._store.get(token_hash(token))
        if (
            record is None
            or record.key_id != ident
            or record.revoked_at is not None
            or record.expires_at <= now
            or now - record.last_seen_at >= IDLE
        ):
            return None
        if ident != OPEN_KEY_ID and all(known != ident for _, known in self._keys):
            return None  # its key was taken out of API_KEYS
        if ident == OPEN_KEY_ID and not self.open:
            return None
        if now - record.last_seen_at >= TOUCH_EVERY:
            await self._store.touch(record.token_hash, now)
        return self._session(token, record)

    async def sign_out(self, session: Session) -> None:
        await self._store.revoke(session.token_hash, self._clock.now())

    def seal(self, text: str) -> str:
        """``text`` signed, in characters a cookie may hold."""
        return self._signer.sign(_b64(text.encode()))

    def unseal(self, value: str) -> str | None:
        raw = self._signer.unsign(value)
        if raw is None:
            return None
        try:
            return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None

    @staticmethod
    def check_login_csrf(expected: str, submitted: str) -> bool:
        return bool(submitted) and hmac.compare_digest(expected, submitted)

    def check_csrf(self, session: Session, submitted: str | None) -> bool:
        return bool(submitted) and hmac.compare_digest(session.csrf_token, str(submitted))

    # ------------------------------------------------------------------ the sign-in form
    def new_login_nonce(self) -> str:
        return self._signer.sign(f"login.{secrets.token_urlsafe(16)}.{int(time.time())}")

    def login_csrf(self, nonce_cookie: str | None) -> str | None:
        """The sign-in form's token, bound to its cookie (``None`` when the cookie is bad)."""
        text = self._signer.unsign(nonce_cookie) if nonce_cookie else None
        parts = text.split(".") if text else []
        if len(parts) != 3 or parts[0] != "login" or not parts[2].isdigit():
            return None
        if time.time() - int(parts[2]) > LOGIN_COOKIE_SECONDS:
            return None
        return self._signer.mac("login-csrf", parts[1])

    def cookie(self, name: str, value: str, max_age: int) -> str:
        """A ``Set-Cookie`` value: HttpOnly, SameSite=Strict, Secure in production."""
        secure = "; Secure" if self.secure else ""
        return (
            f"{name}={value}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly; "
            f"SameSite=Strict{secure}"
        )

    def session_cookie(self, value: str, session: Session) -> str:
        max_age = max(0, int((session.expires_at - self._clock.now()).total_seconds()))
        return self.cookie(COOKIE, value, max_age)

    def clear(self, name: str) -> str:
        return self.cookie(name, "", 0)


class SignInLimiter:
    """Sign-in attempts per client address and overall, in a sliding window (this process).

    ``check`` records an attempt and returns ``None``, or the seconds to wait when the limit
    is reached (the attempt is not recorded: waiting is enough to be let in again).
    """

    def __init__(
        self,
        *,
        per_address: int = 5,
        overall: int = 30,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_address = per_address
        self.overall = overall
        self.window = window
        self._clock = clock
        self._by_address: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def _trim(self, log: deque[float], now: float) -> None:
        while log and now - log[0] >= self.window:
            log.popleft()

    def check(self, address: str) -> float | None:
        now = self._clock()
        self._trim(self._all, now)
        log = self._by_address.setdefault(address, deque())
        self._trim(log, now)
        if len(self._by_address) > 10_000:  # forget idle addresses, so memory stays bounded
            for idle in [a for a, entries in self._by_address.items() if not entries]:
                del self._by_address[idle]
            log = self._by_address.setdefault(address, deque())
        waits = [
            self.window - (now - entries[0])
            for entries, limit in ((log, self.per_address), (self._all, self.overall))
            if len(entries) >= limit
        ]
        if waits:
            return max(1.0, *waits)
        log.append(now)
        self._all.append(now)
        return None
